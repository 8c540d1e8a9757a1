//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"portreserve/internal/inetaddr"
)

// busyboxPath returns a directory of links to every busybox applet, for a
// PATH with nothing else on it: the scripts for busybox init must work
// with busybox's sh and tools alone.
func busyboxPath(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox is not installed (CI installs busybox-static)")
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "bin")
	os.Mkdir(dir, 0o755)
	for _, applet := range strings.Fields(string(out)) {
		os.Symlink(bb, filepath.Join(dir, applet))
	}
	return dir
}

// TestInitBusybox: scripts/busybox/S20portreserve and the cups example
// scripts/cups/busybox/S81cupsd, run by busybox sh with only busybox's
// applets on PATH (start-stop-daemon among them), as rcS runs them.
func TestInitBusybox(t *testing.T) {
	needNetns(t)
	path := busyboxPath(t)
	s := newSetup(t, map[string]string{"cups": "ipp\n", "nfs": "892\n"})
	t.Cleanup(s.kill)
	defaults := filepath.Join(s.dir, "default")
	os.WriteFile(defaults, []byte("PORTRESERVE="+bin("portreserve")+"\nPORTRELEASE="+bin("portrelease")+
		"\nPIDFILE="+s.pidfile+"\nSOCKET="+s.sock+"\nPORTRESERVE_ARGS='-c "+s.conf+"'\n"), 0o644)
	run := func(script, defaultsVar, defaults, action string) result {
		cmd := exec.Command(filepath.Join(path, "sh"), script, action)
		cmd.Env = []string{"PATH=" + path, defaultsVar + "=" + defaults}
		return runCmd(t, cmd)
	}
	script := func(action string) result {
		return run("scripts/busybox/S20portreserve", "PORTRESERVE_DEFAULTS", defaults, action)
	}
	if r := script("status"); r.code != 3 {
		t.Errorf("status before start = %d, %q; want 3", r.code, r.stdout)
	}
	if r := script("start"); r.code != 0 || r.stdout != "Starting portreserve: OK\n" {
		t.Fatalf("start = %d, %q, %q; want 0, OK", r.code, r.stdout, r.stderr)
	}
	mustBeHeld(t, 631, inetaddr.TCP)
	mustBeHeld(t, 892, inetaddr.UDP)
	if r := script("start"); r.code != 0 || !strings.Contains(r.stdout, "already running") {
		t.Errorf("start when running = %d, %q; want 0, already running", r.code, r.stdout)
	}
	if r := script("status"); r.code != 0 || !strings.Contains(r.stdout, "portreserve is running") {
		t.Errorf("status = %d, %q; want 0, running", r.code, r.stdout)
	}
	s.write(t, "new", "7171/tcp\n")
	if r := script("reload"); r.code != 0 {
		t.Errorf("reload = %d, %q", r.code, r.stdout)
	}
	s.waitHeld(t, "new")
	pid := s.daemonPid()
	if r := script("restart"); r.code != 0 || s.daemonPid() == pid {
		t.Errorf("restart = %d, %q, pid %d; want 0 and a new daemon", r.code, r.stdout, s.daemonPid())
	}

	// The cups example: portrelease, then cupsd; on stop, portreserve
	// cups once cupsd is gone.
	cupsDefaults := filepath.Join(s.dir, "cups-default")
	os.WriteFile(cupsDefaults, []byte("PORTRELEASE="+bin("portrelease")+"\nPORTRELEASE_ARGS='-s "+s.sock+"'\nCUPSD="+fakeCupsd(t, s.dir)+
		"\nPIDFILE="+filepath.Join(s.dir, "cupsd.pid")+"\nPORTRESERVE="+bin("portreserve")+"\nPORTRESERVE_ARGS='"+strings.Join(s.args(), " ")+"'\n"), 0o644)
	cups := func(action string) result {
		return run("scripts/cups/busybox/S81cupsd", "CUPSD_DEFAULTS", cupsDefaults, action)
	}
	if r := cups("start"); r.code != 0 {
		t.Fatalf("cups start = %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	waitFor(t, "the fake cupsd to listen on 631", func() bool { return cupsServes(t) })
	if r := cups("status"); r.code != 0 {
		t.Errorf("cups status = %d, %q; want 0", r.code, r.stdout)
	}
	if r := cups("stop"); r.code != 0 || r.stdout != "Stopping cupsd: OK\n" {
		t.Fatalf("cups stop = %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	mustBeHeld(t, 631, inetaddr.TCP) // held again by portreserve

	if r := script("stop"); r.code != 0 || r.stdout != "Stopping portreserve: OK\n" {
		t.Errorf("stop = %d, %q", r.code, r.stdout)
	}
	mustBeFree(t, 631, inetaddr.TCP)
	mustBeFree(t, 892, inetaddr.UDP)
	if r := script("status"); r.code != 3 {
		t.Errorf("status after stop = %d; want 3", r.code)
	}
	if r := script("stop"); r.code != 0 {
		t.Errorf("stop when stopped = %d; want 0", r.code)
	}
	if r := script("bogus"); r.code != 1 {
		t.Errorf("bogus action = %d; want 1 (usage)", r.code)
	}
}
