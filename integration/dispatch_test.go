//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runAs runs the binary under the name argv0 (a symlink in a temporary
// directory) and returns what it did.
func runAs(t *testing.T, argv0 string, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	link := filepath.Join(dir, argv0)
	if err := os.Symlink(bin("portreserve"), link); err != nil {
		t.Fatal(err)
	}
	return runCmd(t, exec.Command(link, args...))
}

const appletList = "portreserve\nportrelease\nportreserve-check\n"

func TestBinaryDispatch(t *testing.T) {
	for _, tt := range []struct {
		argv0  string
		args   []string
		code   int
		stdout string // prefix
		stderr string // prefix
	}{
		{"portreserve", []string{"--list"}, 0, appletList, ""},
		{"multi", []string{"--list"}, 0, appletList, ""},
		{"multi", []string{"--help"}, 0, "usage: multi APPLET [ARGS...]", ""},
		{"multi", nil, 2, "", "usage: multi APPLET"},
		{"multi", []string{"nosuch"}, 1, "", "nosuch: applet not found\n"},
		{"multi", []string{"portrelease", "--help"}, 0, "usage: portrelease", ""},
		{"multi", []string{"--help", "portreserve-check"}, 0, "usage: portreserve-check", ""},
		{"portrelease", []string{"--help"}, 0, "usage: portrelease", ""},
		{"-portrelease", []string{"-h"}, 0, "usage: portrelease", ""},
		{"portreserve", []string{"--help"}, 0, "usage: portreserve", ""},
		{"portreserve-check", []string{"--help"}, 0, "usage: portreserve-check", ""},
		{"portrelease", nil, 2, "", "portrelease: no NAME given\nTry 'portrelease --help' for more information.\n"},
		{"portrelease", []string{"--bogus", "x"}, 2, "", "portrelease: unknown option --bogus\nTry 'portrelease --help' for more information.\n"},
		{"portrelease", []string{"cups.conf"}, 2, "", `portrelease: bad release name "cups.conf": '.' is not allowed`},
		{"portreserve", []string{"-x"}, 2, "", "portreserve: unknown option -x\nTry 'portreserve --help' for more information.\n"},
		{"portreserve", []string{"bad.name"}, 2, "", `portreserve: bad release name "bad.name": '.' is not allowed`},
		{"portreserve-check", []string{"-x"}, 2, "", "portreserve-check: unknown option -x"},
		{"portrelease", []string{"-t", "abc", "cups"}, 2, "", "portrelease: option -t \"abc\": want a number of seconds greater than 0\nTry 'portrelease --help' for more information.\n"},
	} {
		r := runAs(t, tt.argv0, tt.args...)
		if r.code != tt.code || !strings.HasPrefix(r.stdout, tt.stdout) || !strings.HasPrefix(r.stderr, tt.stderr) ||
			(tt.stdout == "" && r.stdout != "") || (tt.stderr == "" && r.stderr != "") {
			t.Errorf("%s %q = %d, stdout %q, stderr %q; want %d, stdout %q..., stderr %q...",
				tt.argv0, tt.args, r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
}

func TestBinaryInstall(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, "portreserve", "--install", "-s", dir); r.code != 0 {
		t.Fatalf("--install -s = %d, %q", r.code, r.stderr)
	}
	exe, err := filepath.EvalSymlinks(bin("portreserve"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"portreserve", "portrelease", "portreserve-check"} {
		target, err := os.Readlink(filepath.Join(dir, name))
		if err != nil || target != exe {
			t.Errorf("Readlink(%s) = %q, %v; want %q", name, target, err, exe)
		}
	}
	// The installed links work, and a second install leaves them alone.
	if out, err := exec.Command(filepath.Join(dir, "portrelease"), "--help").Output(); err != nil || !strings.HasPrefix(string(out), "usage: portrelease") {
		t.Errorf("installed portrelease --help = %v, %q", err, out)
	}
	r := run(t, "portreserve", "--install", dir)
	if r.code != 0 || strings.Count(r.stderr, "exists, left alone") != 3 {
		t.Errorf("second --install = %d, %q; want 0 and three entries left alone", r.code, r.stderr)
	}
	// Hard links by default.
	hard := t.TempDir()
	if r := run(t, "portreserve", "--install", hard); r.code != 0 {
		t.Fatalf("--install = %d, %q", r.code, r.stderr)
	}
	fi, err := os.Lstat(filepath.Join(hard, "portrelease"))
	ei, _ := os.Stat(exe)
	if err != nil || !os.SameFile(fi, ei) {
		t.Errorf("--install did not make a hard link: %v", err)
	}
}

// TestBinaryWriteErrors: output that cannot be written is an error, not
// exit 0 (a status table or list lost to a full disk or a closed pipe).
func TestBinaryWriteErrors(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to write to: %v", err)
	}
	defer full.Close()
	s := newSetup(t, map[string]string{"cups": "631/tcp\n"})
	for _, tt := range []struct {
		applet string
		args   []string
		code   int
		stderr string
	}{
		{"portreserve", []string{"--list"}, 1, "portreserve: the applet list: write /dev/stdout: no space left on device"},
		{"portrelease", []string{"--help"}, 1, "portrelease: the help: write /dev/stdout: no space left on device"},
		{"portreserve-check", []string{"-c", s.conf, "-s", s.sock, "--no-probe"}, 2, "portreserve-check: the table: write /dev/stdout: no space left on device"},
	} {
		cmd := exec.Command(bin(tt.applet), tt.args...)
		var errOut strings.Builder
		cmd.Stdout, cmd.Stderr = full, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tt.code || !strings.Contains(errOut.String(), tt.stderr) {
			t.Errorf("%s %q > /dev/full = %d, stderr %q; want %d, %q", tt.applet, tt.args, code, errOut.String(), tt.code, tt.stderr)
		}
	}
}

// TestVersion: every applet prints its name and the same version with
// --version and exits 0, and its --help says so. Built by make, the
// version is git describe's (here the tests' own build says "unknown").
func TestVersion(t *testing.T) {
	var version string
	for _, applet := range []string{"portreserve", "portrelease", "portreserve-check"} {
		r := run(t, applet, "--version")
		name, v, _ := strings.Cut(strings.TrimSuffix(r.stdout, "\n"), " ")
		if r.code != 0 || name != applet || v == "" || r.stderr != "" {
			t.Errorf("%s --version = %d, %q, %q; want 0 and \"%s VERSION\"", applet, r.code, r.stdout, r.stderr, applet)
		}
		if version == "" {
			version = v
		} else if v != version {
			t.Errorf("%s --version says %q; portreserve says %q", applet, v, version)
		}
		if r := run(t, applet, "--help"); !strings.Contains(r.stdout, "--version") {
			t.Errorf("%s --help does not mention --version", applet)
		}
	}
}

// TestMakeVersion: make builds the version in from git describe, and
// from VERSION= where there is no VCS to ask.
func TestMakeVersion(t *testing.T) {
	need(t, "make", "git")
	want, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		t.Skipf("not a git checkout (git describe: %v): make VERSION= is the way there", err)
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, strings.TrimSpace(string(want))},
		{[]string{"VERSION=1.2.3"}, "1.2.3"},
	} {
		args := append([]string{"-s", "build", "BUILD=" + dir}, tt.args...)
		if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
			t.Fatalf("make %q: %v\n%s", args, err, out)
		}
		out, err := exec.Command(filepath.Join(dir, "portrelease"), "--version").Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != "portrelease "+tt.want {
			t.Errorf("after make %q: portrelease --version = %q, %v; want %q", tt.args, got, err, "portrelease "+tt.want)
		}
	}
}

// TestMakeInstallSelinux: make install-selinux puts the policy module
// make selinux builds under PREFIX/share/selinux/packages, where the
// package puts it too; into a staging root (DESTDIR) it loads nothing.
func TestMakeInstallSelinux(t *testing.T) {
	need(t, "make")
	if _, err := os.Stat("/usr/share/selinux/devel/Makefile"); err != nil {
		t.Skip("no /usr/share/selinux/devel/Makefile: install selinux-policy-dev (.ci/run does)")
	}
	build, root := t.TempDir(), t.TempDir()
	if out, err := exec.Command("make", "-s", "install-selinux", "BUILD="+build, "DESTDIR="+root, "PREFIX=/usr").CombinedOutput(); err != nil {
		t.Fatalf("make install-selinux: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(root, "usr/share/selinux/packages/portreserve_extra.pp"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(build, "selinux/portreserve_extra.pp"))
	if err != nil {
		t.Fatal(err)
	}
	// A policy package starts with its magic number, 0xf97cff8f, little-endian.
	if !bytes.Equal(got, want) || len(got) < 4 || !bytes.Equal(got[:4], []byte{0x8f, 0xff, 0x7c, 0xf9}) {
		t.Errorf("installed module: %d bytes, starting % x; want make selinux's %d bytes, a policy package", len(got), got[:min(4, len(got))], len(want))
	}
}
