//go:build integration && e2e

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ERelease: make release refuses a commit that is not an annotated
// release tag; from one (v9.8.7, in a clone), two runs, each into a build
// directory of its own, give identical bytes: the same SHA256SUMS over
// the static binaries of every architecture, the amd64 and arm64
// packages, and the license notices of what the binaries contain, every
// name, the packages' version and --version taken from the tag.
func TestE2ERelease(t *testing.T) {
	need(t, "make", "dpkg-deb", "git")
	clone := filepath.Join(t.TempDir(), "portreserve")
	gitRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.invalid"}, args...)...)
		cmd.Dir = clone
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %q: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command("git", "clone", "-q", ".", clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	release := func(build string) ([]byte, error) {
		cmd := exec.Command("make", "-s", "release", "BUILD="+build)
		cmd.Dir = clone
		return cmd.CombinedOutput()
	}

	// Untagged, and tagged without annotation: refused, nothing built.
	gitRun("tag", "v9.8.6")
	out, err := release(t.TempDir())
	if err == nil || !strings.Contains(string(out), "is not an annotated release tag (vX.Y.Z)") || !strings.Contains(string(out), "git tag -a v1.2.3") {
		t.Errorf("make release on a commit without an annotated tag: %v, %q; want a refusal naming git tag -a", err, out)
	}

	gitRun("tag", "-a", "v9.8.7", "-m", "portreserve 9.8.7")
	var sums []string
	var dir string
	for i := 0; i < 2; i++ {
		dir = t.TempDir()
		if out, err := release(dir); err != nil {
			t.Fatalf("make release (run %d): %v\n%s", i+1, err, out)
		}
		data, err := os.ReadFile(filepath.Join(dir, "release", "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, string(data))
	}
	lines := strings.Split(strings.TrimSpace(sums[0]), "\n")
	if sums[0] != sums[1] {
		t.Fatalf("two make release runs differ:\n%s\n---\n%s", sums[0], sums[1])
	}
	if len(lines) != 13 {
		t.Errorf("SHA256SUMS has %d lines; want 7 binaries, 2 packages and 4 license notices:\n%s", len(lines), sums[0])
	}
	for _, name := range []string{"LICENSE", "LICENSE.golang", "PATENTS.golang", "LICENSE.golang-x-sys",
		"portreserve-v9.8.7-linux-amd64", "portreserve-v9.8.7-linux-arm64", "portreserve_9.8.7_amd64.deb", "portreserve_9.8.7_arm64.deb"} {
		if !strings.Contains(sums[0], "  "+name+"\n") {
			t.Errorf("SHA256SUMS lacks %s:\n%s", name, sums[0])
		}
	}
	// Under a name that is not an applet's, the applet is the first argument.
	got, err := exec.Command(filepath.Join(dir, "release", "portreserve-v9.8.7-linux-amd64"), "portreserve", "--version").Output()
	if strings.TrimSpace(string(got)) != "portreserve v9.8.7" {
		t.Errorf("the released binary's --version = %q, %v; want \"portreserve v9.8.7\"", got, err)
	}
	got, err = exec.Command("dpkg-deb", "-f", filepath.Join(dir, "release", "portreserve_9.8.7_amd64.deb"), "Version").Output()
	if strings.TrimSpace(string(got)) != "9.8.7" {
		t.Errorf("the package's Version = %q, %v; want 9.8.7", got, err)
	}
	t.Logf("release: from tag v9.8.7, two runs, identical SHA256SUMS (%d files):\n%s", len(lines), sums[0])
}
