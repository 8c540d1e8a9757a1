//go:build integration

package integration

// A newcomer's mistakes: each one gets a message on stderr that says what
// is wrong and what to do, and an exit status an init system can act on.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestMistakes(t *testing.T) {
	needNetns(t)
	t.Run("missing configuration directory", func(t *testing.T) {
		s := newSetup(t, nil)
		r := run(t, "portreserve", "-c", filepath.Join(s.dir, "no-such-dir"), "-s", s.sock, "-p", s.pidfile)
		if r.code != 1 || !strings.Contains(r.stderr, "no-such-dir: no such configuration directory: create it") || s.daemonPid() != 0 {
			t.Errorf("portreserve -c /no/such/dir = %d, %q, daemon %d; want 1, what to do, no daemon", r.code, r.stderr, s.daemonPid())
		}
	})
	t.Run("every line bad", func(t *testing.T) {
		s := newSetup(t, map[string]string{"a": "70000\nno-such-service\n"})
		r := s.start(t)
		if r.code != 1 || !strings.Contains(r.stderr, "every line has an error") || s.daemonPid() != 0 {
			t.Errorf("portreserve, every line bad = %d, %q; want 1, every line has an error", r.code, r.stderr)
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		s := newSetup(t, nil)
		if r := s.start(t); r.code != 0 || s.daemonPid() != 0 {
			t.Errorf("portreserve with an empty directory = %d, %q; want 0 and no daemon", r.code, r.stderr)
		}
	})
	t.Run("cups.conf", func(t *testing.T) {
		s := newSetup(t, map[string]string{"cups.conf": "631\n", "cups~": "631\n", "b": "7420/tcp\n"})
		r := s.start(t)
		if r.code != 0 || !strings.Contains(r.stderr, "cups.conf: skipped: a file whose name has '.' or '~' is never read") || strings.Contains(r.stderr, "cups~") {
			t.Errorf("portreserve with cups.conf = %d, %q; want 0 and a warning about cups.conf only", r.code, r.stderr)
		}
		c := s.check(t, "-n")
		if !strings.Contains(c.stderr, "cups.conf: warning: skipped") || strings.Contains(c.stderr, "cups~") {
			t.Errorf("portreserve-check with cups.conf: %q; want the warning about cups.conf, none about cups~", c.stderr)
		}
	})
	t.Run("wrong socket", func(t *testing.T) {
		r := run(t, "portrelease", "-s", "/wrong/path", "cups")
		if r.code != 0 || r.stderr != "portrelease: no portreserve daemon at /wrong/path; nothing to release\n" {
			t.Errorf("portrelease -s /wrong/path cups = %d, %q; want 0 and the note", r.code, r.stderr)
		}
		if r := run(t, "portrelease", "-q", "-s", "/wrong/path", "cups"); r.code != 0 || r.stderr != "" {
			t.Errorf("portrelease -q -s /wrong/path cups = %d, %q; want 0, silent", r.code, r.stderr)
		}
	})
	t.Run("bad timeout", func(t *testing.T) {
		r := run(t, "portrelease", "-t", "abc", "cups")
		if r.code != 2 || r.stderr != "portrelease: option -t \"abc\": want a number of seconds greater than 0\nTry 'portrelease --help' for more information.\n" {
			t.Errorf("portrelease -t abc = %d, %q; want 2, two lines", r.code, r.stderr)
		}
	})
	t.Run("unknown service", func(t *testing.T) {
		s := newSetup(t, map[string]string{"a": "kerberoz\n7421/tcp\n"})
		r := s.start(t)
		if r.code != 0 || !strings.Contains(r.stderr, `unknown service "kerberoz"`) || !strings.Contains(r.stderr, "did you mean kerberos?") {
			t.Errorf("portreserve with kerberoz = %d, %q; want the nearest name", r.code, r.stderr)
		}
	})
	t.Run("release as another user", func(t *testing.T) {
		s := newSetup(t, map[string]string{"a": "7422/tcp\n"})
		s.mustStart(t)
		s.openToOthers()
		cmd := exec.Command(bin("portrelease"), "-s", s.sock, "a")
		cmd.SysProcAttr = asNobody(t).SysProcAttr
		r := runCmd(t, cmd)
		if r.code != 2 || !strings.Contains(r.stderr, "permission denied: only root and the user the daemon runs as may change what it holds (run this as root)") {
			t.Errorf("portrelease a as uid 65534 = %d, %q; want 2 and what to do", r.code, r.stderr)
		}
	})
	t.Run("privileged port as another user", func(t *testing.T) {
		s := newSetup(t, map[string]string{"low": "631/tcp\n"})
		s.openToOthers()
		rundir := filepath.Join(s.dir, "nobody")
		os.Mkdir(rundir, 0o755)
		os.Chown(rundir, nobody, nobody)
		cmd := exec.Command(bin("portreserve"), "-f", "-c", s.conf, "-s", filepath.Join(rundir, "socket"), "-p", filepath.Join(rundir, "pid"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		r := runCmd(t, cmd)
		if r.code != 1 || !strings.Contains(r.stderr, "ports below 1024 need root or CAP_NET_BIND_SERVICE") {
			t.Errorf("portreserve holding 631 as uid 65534 = %d, %q; want 1 and what to do", r.code, r.stderr)
		}
	})
}

// TestDemoUnprivileged: make demo's script, run as an unprivileged user,
// holds and releases the example configuration inside a user and network
// namespace, and prints what README's quick start shows
// (scripts/demo-diff.sh compares them). There "/" and "/tmp" show as owned
// by the overflow uid (65534), which the socket directory check takes for
// root's in a user namespace only: the daemon refused them before.
func TestDemoUnprivileged(t *testing.T) {
	need(t, "unshare", "diff")
	// One file for stdout and stderr, as a terminal shows them: the
	// warnings among the tables.
	out := filepath.Join(t.TempDir(), "demo.out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("sh", "scripts/demo.sh", filepath.Dir(bin("portreserve")))
	cmd.SysProcAttr = asNobody(t).SysProcAttr
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		data, _ := os.ReadFile(out)
		t.Fatalf("demo.sh as uid 65534: %v; want exit 0\n%s", err, data)
	}
	if diff, err := exec.Command("sh", "scripts/demo-diff.sh", "README.md", out).CombinedOutput(); err != nil {
		t.Errorf("make demo as uid 65534 does not print README's quick start (%v):\n%s", err, diff)
	}
}
