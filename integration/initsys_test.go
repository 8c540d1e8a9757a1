//go:build integration

package integration

// Tests of the init-system integration in scripts/: the LSB script under
// dash and busybox sh, the OpenRC script through a stand-in openrc-run,
// the runit and s6 service directories under Debian's runsv and
// s6-supervise, and the systemd unit with systemd-analyze verify. Each
// also runs the matching cups snippet from scripts/cups, with a fake cupsd
// that binds 631.

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"portreserve/internal/inetaddr"
)

// need skips when a program the test drives is not installed.
func need(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (CI installs it)", p)
		}
	}
}

// waitFor polls cond for up to ten seconds: for supervisors without a
// readiness protocol (runit) and for signals, which are asynchronous.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeCupsd writes a script that starts the fake service on 631 in the
// background, as cupsd does without -f, recording its pid; the test kills
// it at the end.
func fakeCupsd(t *testing.T, dir string) string {
	t.Helper()
	pidfile := filepath.Join(dir, "cupsd.pid")
	script := filepath.Join(dir, "cupsd")
	// The server runs under the name cupsd, as the scripts check in
	// /proc/PID/comm before they signal the pid of a pidfile.
	server := filepath.Join(dir, "sbin", "cupsd")
	os.Mkdir(filepath.Dir(server), 0o755)
	if err := os.Symlink(bin("fakeservice"), server); err != nil {
		t.Fatal(err)
	}
	text := "#!/bin/sh\n" + envServe + "=631 " + server +
		" </dev/null >/dev/null 2>&1 &\necho $! > " + pidfile + "\n"
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if data, err := os.ReadFile(pidfile); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return script
}

// cupsConf is the ./conf of the cups service directories: the kept
// hand-off to the socket-activated test service, and the settings for
// finish's portreserve cups.
func cupsConf(s *setup) string {
	return "PORTRELEASE=" + bin("portrelease") + "\nPORTRELEASE_OPTS='-s " + s.sock + "'\nCUPSD=" + bin("activated") +
		"\nPORTRESERVE=" + bin("portreserve") + "\nPORTRESERVE_OPTS='" + strings.Join(s.args(), " ") + "'\n"
}

// askTCPRetry is askTCP for a service a supervisor is starting: it tries
// for up to ten seconds while the connection is refused.
func askTCPRetry(t *testing.T, addr string) string {
	t.Helper()
	var got string
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = askTCP(t, addr)
		if !strings.Contains(got, "refused") || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertKept checks that port is still bound while its service is down:
// no bind without SO_REUSEADDR gets it, and portreserve-check says kept.
func assertKept(t *testing.T, s *setup, port int) {
	t.Helper()
	if err := tryBind(t, port, bindOpts{proto: inetaddr.TCP, family: 10, addr: "any"}); err == nil {
		t.Errorf("port %d is free while its service is down; want it kept", port)
	}
	r := s.check(t, "-n", "cups")
	if rows := table(r.stdout); len(rows) == 0 || rows[0][4] != "kept" {
		t.Errorf("portreserve-check cups while cups is down = %v; want kept", rows)
	}
}

// cupsServes reports whether the fake cupsd listens on 631: a TCP connect
// succeeds (portreserve's hold never listens). It connects rather than
// binds: a probe bind while cupsd starts would take the port from it.
func cupsServes(t *testing.T) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:631", time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestInitLSB(t *testing.T) {
	needNetns(t)
	for i, shell := range [][]string{{"dash"}, {"busybox", "sh"}} {
		// Each shell's run adds a port of its own on reload.
		newPort := strconv.Itoa(7161 + i)
		t.Run(shell[0], func(t *testing.T) {
			need(t, shell[0])
			s := newSetup(t, map[string]string{"cups": "ipp\n", "nfs": "892\n"})
			t.Cleanup(s.kill)
			defaults := filepath.Join(s.dir, "default")
			os.WriteFile(defaults, []byte("PORTRESERVE="+bin("portreserve")+"\nPORTRELEASE="+bin("portrelease")+
				"\nPIDFILE="+s.pidfile+"\nSOCKET="+s.sock+"\nPORTRESERVE_OPTS='-c "+s.conf+"'\n"), 0o644)
			script := func(action string) result {
				cmd := exec.Command(shell[0], append(shell[1:], "scripts/sysvinit/portreserve", action)...)
				cmd.Env = append(os.Environ(), "PORTRESERVE_DEFAULTS="+defaults)
				return runCmd(t, cmd)
			}
			if r := script("status"); r.code != 3 {
				t.Errorf("status before start = %d, %q; want 3 (not running)", r.code, r.stdout)
			}
			if r := script("start"); r.code != 0 {
				t.Fatalf("start = %d, %q", r.code, r.stderr)
			}
			mustBeHeld(t, 631, inetaddr.TCP)
			mustBeHeld(t, 892, inetaddr.UDP)
			if r := script("start"); r.code != 0 || !strings.Contains(r.stdout, "already running") {
				t.Errorf("start when running = %d, %q; want 0, already running", r.code, r.stdout)
			}
			pid := s.daemonPid()
			if r := script("status"); r.code != 0 || !strings.Contains(r.stdout, "running (pid "+strconv.Itoa(pid)+")") {
				t.Errorf("status = %d, %q; want 0 and pid %d", r.code, r.stdout, pid)
			}
			s.write(t, "new", newPort+"/tcp\n")
			if r := script("reload"); r.code != 0 {
				t.Errorf("reload = %d, %q", r.code, r.stderr)
			}
			port, _ := strconv.Atoi(newPort)
			s.waitHeld(t, "new")
			mustBeHeld(t, port, inetaddr.TCP)
			if r := script("restart"); r.code != 0 || s.daemonPid() == pid {
				t.Errorf("restart = %d, %q, pid %d; want 0 and a new daemon", r.code, r.stderr, s.daemonPid())
			}
			mustBeHeld(t, 631, inetaddr.TCP)
			if r := script("stop"); r.code != 0 {
				t.Errorf("stop = %d, %q", r.code, r.stderr)
			}
			mustBeFree(t, 631, inetaddr.TCP)
			mustBeFree(t, 892, inetaddr.UDP)
			if r := script("status"); r.code != 3 {
				t.Errorf("status after stop = %d; want 3", r.code)
			}
			if r := script("stop"); r.code != 0 {
				t.Errorf("stop when stopped = %d; want 0", r.code)
			}
			if r := script("reload"); r.code != 7 {
				t.Errorf("reload when stopped = %d; want 7", r.code)
			}
			// kill -9: status says dead with a pidfile; start recovers.
			script("start")
			dead := s.daemonPid()
			syscall.Kill(dead, syscall.SIGKILL)
			waitGone(dead)
			if r := script("status"); r.code != 1 {
				t.Errorf("status after kill -9 = %d, %q; want 1", r.code, r.stdout)
			}
			if r := script("start"); r.code != 0 {
				t.Errorf("start after kill -9 = %d, %q", r.code, r.stderr)
			}
			mustBeHeld(t, 892, inetaddr.TCP)
			if r := script("bogus"); r.code != 3 {
				t.Errorf("bogus action = %d; want 3 (LSB: unimplemented)", r.code)
			}

			// cups's own LSB script: portrelease, then cupsd; on stop,
			// portreserve cups once cupsd is gone.
			cupsDefaults := filepath.Join(s.dir, "cups-default")
			os.WriteFile(cupsDefaults, []byte("PORTRELEASE="+bin("portrelease")+"\nPORTRELEASE_OPTS='-s "+s.sock+"'\nCUPSD="+fakeCupsd(t, s.dir)+
				"\nPIDFILE="+filepath.Join(s.dir, "cupsd.pid")+"\nPORTRESERVE="+bin("portreserve")+"\nPORTRESERVE_OPTS='"+strings.Join(s.args(), " ")+"'\n"), 0o644)
			cups := func(action string) result {
				cmd := exec.Command(shell[0], append(shell[1:], "scripts/cups/sysvinit/cups", action)...)
				cmd.Env = append(os.Environ(), "CUPS_DEFAULTS="+cupsDefaults)
				return runCmd(t, cmd)
			}
			if r := cups("status"); r.code != 3 {
				t.Errorf("cups status before start = %d, %q; want 3", r.code, r.stdout)
			}
			if r := cups("start"); r.code != 0 {
				t.Fatalf("cups start = %d, %q", r.code, r.stderr)
			}
			waitFor(t, "the fake cupsd to listen on 631", func() bool { return cupsServes(t) })
			mustBeHeld(t, 892, inetaddr.UDP)
			if r := cups("status"); r.code != 0 || !strings.Contains(r.stdout, "cupsd is running") {
				t.Errorf("cups status = %d, %q; want 0, running", r.code, r.stdout)
			}
			if r := cups("start"); r.code != 0 || !strings.Contains(r.stdout, "already running") {
				t.Errorf("cups start while running = %d, %q; want 0, already running", r.code, r.stdout)
			}
			// restart: cupsd stops, 631 is held again, then released
			// to the new cupsd.
			if r := cups("restart"); r.code != 0 {
				t.Fatalf("cups restart = %d, %q", r.code, r.stderr)
			}
			waitFor(t, "the restarted fake cupsd to listen on 631", func() bool { return cupsServes(t) })
			if r := cups("force-reload"); r.code != 0 {
				t.Errorf("cups force-reload = %d, %q", r.code, r.stderr)
			}
			if r := cups("stop"); r.code != 0 {
				t.Fatalf("cups stop = %d, %q", r.code, r.stderr)
			}
			mustBeHeld(t, 631, inetaddr.TCP) // held again by portreserve
			if r := cups("stop"); r.code != 0 {
				t.Errorf("cups stop when stopped = %d, %q; want 0", r.code, r.stderr)
			}
			if r := cups("status"); r.code != 1 && r.code != 3 {
				t.Errorf("cups status after stop = %d, %q; want 1 (pidfile left) or 3", r.code, r.stdout)
			}
			if r := cups("bogus"); r.code != 3 {
				t.Errorf("cups bogus action = %d; want 3", r.code)
			}
		})
	}
}

func TestInitOpenRC(t *testing.T) {
	needNetns(t)
	for i, shell := range [][]string{{"busybox", "sh"}, {"dash"}} {
		newPort := 7171 + i // each shell's run reloads a port of its own
		t.Run(shell[0], func(t *testing.T) {
			need(t, shell[0])
			s := newSetup(t, map[string]string{"cups": "ipp\n", "nfs": "892/tcp\n"})
			t.Cleanup(s.kill)
			env := append(os.Environ(), "portreserve="+bin("portreserve"), "portrelease="+bin("portrelease"),
				"pidfile="+s.pidfile, "socket="+s.sock, "portreserve_opts=-c "+s.conf)
			rc := func(script, command string, extra ...string) result {
				cmd := exec.Command(shell[0], append(shell[1:], "testdata/openrc-run", script, command)...)
				cmd.Env = append(env, extra...)
				return runCmd(t, cmd)
			}
			r := rc("scripts/openrc/portreserve", "depend")
			for _, want := range []string{"use localmount", "after mountall", "before rpcbind portmap nfs"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("depend() = %q; want %q", r.stdout, want)
				}
			}
			if r := rc("scripts/openrc/portreserve", "start"); r.code != 0 || !strings.Contains(r.stdout, "[ ok ]") {
				t.Fatalf("start = %d, %q %q", r.code, r.stdout, r.stderr)
			}
			mustBeHeld(t, 631, inetaddr.TCP)
			s.write(t, "new", strconv.Itoa(newPort)+"/udp\n")
			if r := rc("scripts/openrc/portreserve", "reload"); r.code != 0 {
				t.Errorf("reload = %d, %q", r.code, r.stderr)
			}
			s.waitHeld(t, "new")
			mustBeHeld(t, newPort, inetaddr.UDP)

			// cupsd's start_pre gives 631 back.
			if r := rc("scripts/cups/openrc/cupsd", "depend"); !strings.Contains(r.stdout, "after mountall portreserve") {
				t.Errorf("cupsd depend() = %q; want after mountall portreserve", r.stdout)
			}
			// openrc-run runs cupsd -f in the background itself: the
			// fake service, under the name cupsd.
			cupsd := filepath.Join(s.dir, "cupsd")
			if err := os.Symlink(bin("fakeservice"), cupsd); err != nil {
				t.Fatal(err)
			}
			cupsEnv := []string{"cupsd=" + cupsd, envServe + "=631", "portrelease_opts=-s " + s.sock,
				"cupsd_pidfile=" + filepath.Join(s.dir, "cupsd.pid"), "cupsd_rundir=" + filepath.Join(s.dir, "cups"),
				"portreserve_opts=" + strings.Join(s.args(), " ")}
			r = rc("scripts/cups/openrc/cupsd", "start", cupsEnv...)
			if r.code != 0 {
				t.Fatalf("cupsd start = %d, %q %q", r.code, r.stdout, r.stderr)
			}
			waitFor(t, "the fake cupsd to listen on 631", func() bool { return cupsServes(t) })
			if r := rc("scripts/cups/openrc/cupsd", "stop", cupsEnv...); r.code != 0 {
				t.Fatalf("cupsd stop = %d, %q %q", r.code, r.stdout, r.stderr)
			}
			// stop_post's portreserve cups returns once 631 is held.
			mustBeHeld(t, 631, inetaddr.TCP)

			if r := rc("scripts/openrc/portreserve", "stop"); r.code != 0 {
				t.Errorf("stop = %d, %q", r.code, r.stderr)
			}
			mustBeFree(t, 892, inetaddr.TCP)
			mustBeFree(t, newPort, inetaddr.UDP)
		})
	}
}

// serviceDir copies a service directory from scripts/ into dir, with a
// ./conf file holding settings.
func serviceDir(t *testing.T, from, dir, conf string) string {
	t.Helper()
	to := filepath.Join(dir, filepath.Base(from))
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := e.Info()
		os.WriteFile(filepath.Join(to, e.Name()), data, info.Mode().Perm())
	}
	os.WriteFile(filepath.Join(to, "conf"), []byte(conf), 0o644)
	return to
}

// supervise starts a supervisor on a service directory, stopped at the
// end of the test.
func supervise(t *testing.T, stop func(), name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		stop()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

func TestInitRunit(t *testing.T) {
	needNetns(t)
	need(t, "runsv", "sv")
	// cups on a port of its own: the connections this test makes leave
	// TIME_WAITs that would change how later tests' daemons hold 631.
	s := newSetup(t, map[string]string{"cups": "7481/tcp\n", "nfs": "892\n"})
	svc := serviceDir(t, "scripts/runit/portreserve", s.dir,
		"PORTRESERVE="+bin("portreserve")+"\nPORTRESERVE_OPTS='"+strings.Join(s.args(), " ")+"'\n")
	sv := func(args ...string) result { return runCmd(t, exec.Command("sv", args...)) }
	supervise(t, func() { sv("exit", svc) }, "runsv", svc)
	// runit has no readiness protocol: wait for the ports.
	s.waitHeld(t, "nfs")
	mustBeHeld(t, 892, inetaddr.UDP)
	mustBeHeld(t, 7481, inetaddr.TCP)
	if r := sv("status", svc); !strings.HasPrefix(r.stdout, "run: ") {
		t.Fatalf("sv status = %q; want run:", r.stdout)
	}

	// cups under runit: a kept hand-off of 631 to a socket-activated
	// cupsd; finish holds the port again.
	cups := serviceDir(t, "scripts/cups/runit/cups", s.dir, cupsConf(s))
	supervise(t, func() { sv("exit", cups) }, "runsv", cups)
	if got := askTCPRetry(t, "127.0.0.1:7481"); got != "tcp 7481" {
		t.Fatalf("cups under runit answered %q; want tcp 7481", got)
	}
	if r := sv("status", svc); !strings.HasPrefix(r.stdout, "run: ") {
		t.Errorf("sv status after cups started = %q; want run:", r.stdout)
	}
	mustBeHeld(t, 892, inetaddr.TCP)
	// cups stops: its port stays bound, kept by portreserve.
	if r := sv("-v", "-w", "10", "down", cups); r.code != 0 {
		t.Errorf("sv down cups = %d, %q", r.code, r.stdout)
	}
	assertKept(t, s, 7481)
	if r := sv("up", cups); r.code != 0 {
		t.Errorf("sv up cups = %d", r.code)
	}
	if got := askTCPRetry(t, "127.0.0.1:7481"); got != "tcp 7481" {
		t.Errorf("cups restarted under runit answered %q; want tcp 7481", got)
	}
	sv("-v", "-w", "10", "down", cups)

	// -v -w: sv returns once the service is down.
	if r := sv("-v", "-w", "10", "down", svc); r.code != 0 {
		t.Errorf("sv down = %d, %q", r.code, r.stdout)
	}
	mustBeFree(t, 892, inetaddr.TCP)
	mustBeFree(t, 892, inetaddr.UDP)
	if r := sv("status", svc); !strings.HasPrefix(r.stdout, "down: ") {
		t.Errorf("sv status after down = %q; want down:", r.stdout)
	}
}

func TestInitS6(t *testing.T) {
	needNetns(t)
	need(t, "s6-supervise", "s6-svwait", "s6-svc")
	// Enough ports that readiness signalled early would be caught.
	s := newSetup(t, map[string]string{"cups": "7482/tcp\n", "range": "23000-23999\n"})
	svc := serviceDir(t, "scripts/s6/portreserve", s.dir,
		"PORTRESERVE="+bin("portreserve")+"\nPORTRESERVE_OPTS='"+strings.Join(s.args(), " ")+"'\n")
	svc6 := func(args ...string) result { return runCmd(t, exec.Command("s6-svc", args...)) }
	supervise(t, func() { svc6("-xd", svc) }, "s6-supervise", svc)
	waitFor(t, "s6-supervise to set up", func() bool {
		_, err := os.Stat(filepath.Join(svc, "supervise", "status"))
		return err == nil
	})
	if r := runCmd(t, exec.Command("s6-svwait", "-U", "-t", "10000", svc)); r.code != 0 {
		t.Fatalf("s6-svwait -U = %d, %q", r.code, r.stderr)
	}
	// s6-svwait -U has returned: every port is held now.
	for port := 23000; port <= 23999; port++ {
		if !quickHeld(t, port, inetaddr.TCP) || !quickHeld(t, port, inetaddr.UDP) {
			t.Fatalf("port %d not held when s6-svwait -U returned", port)
		}
	}
	mustBeHeld(t, 7482, inetaddr.TCP)

	cups := serviceDir(t, "scripts/cups/s6/cups", s.dir, cupsConf(s))
	supervise(t, func() { svc6("-xd", cups) }, "s6-supervise", cups)
	if got := askTCPRetry(t, "127.0.0.1:7482"); got != "tcp 7482" {
		t.Fatalf("cups under s6 answered %q; want tcp 7482", got)
	}
	mustBeHeld(t, 23500, inetaddr.UDP)
	svc6("-d", cups)
	runCmd(t, exec.Command("s6-svwait", "-D", "-t", "10000", cups))
	assertKept(t, s, 7482)

	if r := svc6("-d", svc); r.code != 0 {
		t.Errorf("s6-svc -d = %d, %q", r.code, r.stderr)
	}
	if r := runCmd(t, exec.Command("s6-svwait", "-D", "-t", "10000", svc)); r.code != 0 {
		t.Fatalf("s6-svwait -D = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 23000, inetaddr.TCP)
	mustBeFree(t, 23999, inetaddr.UDP)
}

func TestInitSystemd(t *testing.T) {
	need(t, "systemd-analyze")
	dir := t.TempDir()
	unit, err := os.ReadFile("scripts/systemd/portreserve.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"Type=notify", "Before=rpcbind.service", "network.target", "ExecReload=/bin/sh -c 'kill -HUP $MAINPID'", "Restart=on-failure"} {
		if !strings.Contains(text, want) {
			t.Errorf("portreserve.service lacks %q", want)
		}
	}
	// verify checks that ExecStart exists: point it at the built binary.
	text = strings.ReplaceAll(text, "/usr/sbin/portreserve", bin("portreserve"))
	os.WriteFile(filepath.Join(dir, "portreserve.service"), []byte(text), 0o644)
	// A cups.service with the drop-in from scripts/cups.
	os.WriteFile(filepath.Join(dir, "cups.service"), []byte("[Unit]\nDescription=CUPS\n[Service]\nExecStart="+bin("portreserve")+" --help\n"), 0o644)
	dropin, err := os.ReadFile("scripts/cups/systemd/cups.service.d/portreserve.conf")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "cups.service.d"), 0o755)
	verify := func(portrelease string) (string, error) {
		text := strings.ReplaceAll(string(dropin), "/usr/sbin/portrelease", portrelease)
		text = strings.ReplaceAll(text, "/usr/sbin/portreserve", bin("portreserve"))
		os.WriteFile(filepath.Join(dir, "cups.service.d", "portreserve.conf"), []byte(text), 0o644)
		cmd := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, "portreserve.service"), filepath.Join(dir, "cups.service"))
		cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := verify(bin("portrelease")); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The drop-in is what systemd loads for cups.service: pointed at a
	// missing portrelease, verify says so.
	if out, err := verify("/nonexistent/portrelease"); err == nil || !strings.Contains(out, "/nonexistent/portrelease") {
		t.Errorf("verify with a broken drop-in = %v, %q; want an error naming it (is the drop-in loaded?)", err, out)
	}
}
