//go:build integration && e2e

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ERelease: two make release runs, each into a build directory of
// its own, give identical bytes: the same SHA256SUMS over the static
// binaries of every architecture, the amd64 and arm64 packages, and the
// license notices of what the binaries contain.
func TestE2ERelease(t *testing.T) {
	need(t, "make", "dpkg-deb", "git")
	var sums []string
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		if out, err := exec.Command("make", "-s", "release", "BUILD="+dir).CombinedOutput(); err != nil {
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
	for _, notice := range []string{"LICENSE", "LICENSE.golang", "PATENTS.golang", "LICENSE.golang-x-sys"} {
		if !strings.Contains(sums[0], "  "+notice+"\n") {
			t.Errorf("SHA256SUMS lacks %s:\n%s", notice, sums[0])
		}
	}
	t.Logf("release: two runs, identical SHA256SUMS (%d files):\n%s", len(lines), sums[0])
}
