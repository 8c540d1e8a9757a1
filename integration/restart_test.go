//go:build integration

package integration

// Protection across service restarts: portreserve NAME holds a name again
// (from a service's stop action), and portrelease --exec --keep leaves the
// daemon a copy of each socket, the systemd model.

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

func TestHoldAgain(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"cups": "7451/tcp\n", "ldap": "7452/tcp\n", "other": "7453/udp\n"})
	// No daemon: portreserve NAME starts one holding just those names.
	if r := s.start(t, "cups", "other"); r.code != 0 {
		t.Fatalf("portreserve cups other (no daemon) = %d, %q", r.code, r.stderr)
	}
	mustBeHeld(t, 7451, inetaddr.TCP)
	mustBeHeld(t, 7453, inetaddr.UDP)
	mustBeFree(t, 7452, inetaddr.TCP)
	pid := s.daemonPid()

	// A running daemon holds a released name again, and a name it did
	// not hold yet, itself.
	if r := s.release(t, "cups"); r.code != 0 {
		t.Fatalf("portrelease cups = %d", r.code)
	}
	mustBeFree(t, 7451, inetaddr.TCP)
	if r := s.start(t, "cups", "ldap"); r.code != 0 || r.stderr != "" {
		t.Fatalf("portreserve cups ldap (daemon running) = %d, %q; want 0", r.code, r.stderr)
	}
	mustBeHeld(t, 7451, inetaddr.TCP)
	mustBeHeld(t, 7452, inetaddr.TCP)
	if s.daemonPid() != pid {
		t.Errorf("portreserve NAME started a second daemon (%d, was %d)", s.daemonPid(), pid)
	}

	// A port that something else bound meanwhile is reported, not
	// fought over.
	if r := s.release(t, "cups"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	bindHere(t, 7451, inetaddr.TCP)
	r := s.start(t, "cups")
	if want := "cups: 7451/tcp: cannot hold: address already in use"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("portreserve cups with 7451 taken = %d, %q; want 1 and %q", r.code, r.stderr, want)
	}
	// The status is about the names asked for: cups' failed port is not
	// ldap's (cups.service ended failed on every stop for another file's
	// port).
	if r := s.start(t, "ldap"); r.code != 0 || r.stderr != "" {
		t.Errorf("portreserve ldap with cups' 7451 taken = %d, %q; want 0, nothing said", r.code, r.stderr)
	}
	if r := s.start(t, "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "nosuch: the daemon has no configuration file for it") {
		t.Errorf("portreserve nosuch = %d, %q; want 1", r.code, r.stderr)
	}
	if r := s.start(t, "bad.name"); r.code != 2 {
		t.Errorf("portreserve bad.name = %d; want 2", r.code)
	}
}

// timeWaitOn reports whether /proc/net/tcp shows a TIME_WAIT connection on
// a local port.
func timeWaitOn(port int) bool {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) > 3 && strings.HasSuffix(fields[1], ":"+strings.ToUpper(strconv.FormatInt(int64(port), 16))) && fields[3] == "06" {
				return true
			}
		}
	}
	return false
}

// awaitTimeWait reports whether a TIME_WAIT connection on port shows
// within two seconds: the server's side enters it when the client's FIN
// arrives, which may be after the client's close returns (under a slow
// emulated kernel it was).
func awaitTimeWait(port int) bool {
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if timeWaitOn(port) {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

func TestHoldAgainAfterTimeWait(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"svc": "7461/tcp\n", "other": "7462/tcp\n"})
	s.mustStart(t)
	// The service serves a client and stops: its side of the connection
	// is left in TIME_WAIT.
	line, cmd := startActivated(t, "-s", s.sock, "--exec", "svc", "--", bin("activated"))
	if line != "ready 1 svc" {
		t.Fatalf("service said %q", line)
	}
	// Read to the end before closing: the service closes first, so the
	// TIME_WAIT is on its side of the connection, on port 7461.
	c, err := net.Dial("tcp", "127.0.0.1:7461")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, _ := io.ReadAll(c); string(got) != "tcp 7461\n" {
		t.Fatalf("service answered %q", got)
	}
	c.Close()
	cmd.Process.Kill()
	cmd.Wait()
	if !awaitTimeWait(7461) {
		t.Fatalf("no TIME_WAIT on 7461: the test does not test what it means to")
	}
	// The stop action holds it again, despite the TIME_WAIT.
	if r := s.start(t, "svc"); r.code != 0 {
		t.Fatalf("portreserve svc after the service stopped = %d, %q; want 0", r.code, r.stderr)
	}
	// bindresvport and other binds without SO_REUSEADDR cannot take it.
	for _, b := range allBinds() {
		if b.proto == inetaddr.TCP && !b.reuse {
			if err := tryBind(t, 7461, b); err != unix.EADDRINUSE {
				t.Errorf("bind 7461 %v = %v; want EADDRINUSE", b, err)
			}
		}
	}
	// Nor can another user's server with SO_REUSEADDR: the hold set it
	// for its bind only. Kept set, it let such a server bind and listen
	// beside the hold.
	s.openToOthers()
	out, err := asNobody(t, "reuse-listen", "7461").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasSuffix(line, ": address already in use") {
			t.Errorf("as uid %d, SO_REUSEADDR bind and listen on 7461: %s; want address already in use", nobody, line)
		}
	}
	t.Logf("hold over TIME_WAIT, another user's SO_REUSEADDR server: %s", strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "; "))

	// The service starts again while the TIME_WAITs last (a container
	// restarted): the hand-off's listen must not be refused. It was:
	// "listen on 7461/tcp: address already in use".
	if !timeWaitOn(7461) {
		t.Fatalf("the TIME_WAIT on 7461 expired during the test")
	}
	line, cmd = startActivated(t, "-s", s.sock, "--exec", "svc", "--", bin("activated"))
	if line != "ready 1 svc" {
		t.Fatalf("service started again over TIME_WAIT said %q; want ready 1 svc", line)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if got := askTCP(t, "127.0.0.1:7461"); got != "tcp 7461" {
		t.Errorf("service started again over TIME_WAIT answered %q; want tcp 7461", got)
	}
}

// serveOnceWithoutReuse is a server that does not set SO_REUSEADDR: it
// listens on port, answers one client and closes first, so that its side
// of the connection stays in TIME_WAIT on port for a minute.
func serveOnceWithoutReuse(t *testing.T, port int) {
	t.Helper()
	lfd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(lfd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	if err := unix.Bind(lfd, &unix.SockaddrInet6{Port: port}); err != nil {
		t.Fatalf("server without SO_REUSEADDR: bind %d: %v", port, err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := unix.Accept(lfd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(conn, []byte("bye\n"))
	unix.Close(conn) // the server closes first: TIME_WAIT on its side
	unix.Close(lfd)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(c)
	c.Close()
	if !awaitTimeWait(port) {
		t.Fatalf("no TIME_WAIT on %d: the test does not test what it means to", port)
	}
}

// TestTimeWaitPending: after a server without SO_REUSEADDR served a client
// and stopped, its TIME_WAIT connections refuse every bind for a minute,
// SO_REUSEADDR or not. portreserve NAME says the port is pending and exits
// 3; the daemon holds it by itself once they expire. Both ways: a daemon
// started for the name, and a running daemon asked to hold it again.
func TestTimeWaitPending(t *testing.T) {
	needNetns(t)
	t.Parallel() // it waits a minute for TIME_WAIT to expire
	s := newSetup(t, map[string]string{"svc1": "7491/tcp\n", "svc2": "7492/tcp\n"})
	serveOnceWithoutReuse(t, 7491)
	serveOnceWithoutReuse(t, 7492)
	start := time.Now()
	for _, name := range []string{"svc1", "svc2"} {
		// svc1: no daemon runs, one starts for it; svc2: it is asked.
		r := s.start(t, name)
		want := "pending: blocked by connections in TIME_WAIT of a server without SO_REUSEADDR"
		if r.code != 3 || !strings.Contains(r.stderr, want) {
			t.Fatalf("portreserve %s over a server's TIME_WAITs = %d, %q; want 3 and %q", name, r.code, r.stderr, want)
		}
	}
	if r := s.check(t, "-n", "--no-probe"); r.code != 0 || len(table(r.stdout)) != 2 ||
		table(r.stdout)[0][4] != "pending" || table(r.stdout)[1][4] != "pending" {
		t.Errorf("portreserve-check = %d, %q, %q; want both pending", r.code, r.stdout, r.stderr)
	}
	// Held by itself within 70 s: TIME_WAIT lasts 60 s, the daemon tries
	// every second.
	deadline := start.Add(70 * time.Second)
	for {
		c, err := ipc.Dial(s.sock)
		if err != nil {
			t.Fatalf("the daemon went away while ports were pending: %v", err)
		}
		entries, err := c.List(time.Second)
		c.Close()
		held := 0
		for _, e := range entries {
			if e.State == ipc.Held {
				held++
			}
		}
		if err == nil && held == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %+v, %v; want both held", time.Since(start), entries, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("pending: 7491 and 7492 held %v after the servers' TIME_WAITs began", time.Since(start).Round(time.Second))
	mustBeHeld(t, 7491, inetaddr.TCP)
	mustBeHeld(t, 7492, inetaddr.TCP)
}

func TestKeptHandoffRestartLoop(t *testing.T) {
	needNetns(t)
	const port = 7471
	s := newSetup(t, map[string]string{"svc": strconv.Itoa(port) + "/tcp\n"})
	s.mustStart(t)
	stopCompetitor := competitor(t, port)
	// The first instance makes the socket listen; from then on the
	// daemon's copy keeps it listening, between instances too.
	first, firstCmd := startActivated(t, "-s", s.sock, "--exec", "svc", "--keep", "--", bin("activated"))
	if first != "ready 1 svc" {
		t.Fatalf("first start: service said %q", first)
	}

	// A client keeps connecting the whole time.
	var refused, served, other atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 10*time.Second)
			if errors.Is(err, syscall.ECONNREFUSED) {
				refused.Add(1)
				continue
			}
			if err != nil {
				other.Add(1)
				continue
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 32)
			if n, _ := c.Read(buf); strings.HasPrefix(string(buf[:n]), "tcp ") {
				served.Add(1)
			} else {
				other.Add(1) // accepted by an instance killed before it answered
			}
			c.Close()
		}
	}()

	waitFor(t, "a client to be served", func() bool { return served.Load() > 0 })
	firstCmd.Process.Signal(syscall.SIGKILL)
	firstCmd.Wait()
	const restarts = 20
	for i := 0; i < restarts; i++ {
		line, cmd := startActivated(t, "-s", s.sock, "--exec", "svc", "--keep", "--", bin("activated"))
		if line != "ready 1 svc" {
			t.Fatalf("restart %d: service said %q", i, line)
		}
		before := served.Load()
		waitFor(t, "a client to be served", func() bool { return served.Load() > before })
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if i == restarts/2 {
			// While it is down, the daemon keeps the port, listening.
			r := s.check(t, "-n", "svc")
			if rows := table(r.stdout); len(rows) != 1 || rows[0][4] != "kept" {
				t.Errorf("portreserve-check while the service is down: %v; want kept", rows)
			}
		}
	}
	// Connections made while the last instance is down wait in the
	// backlog, and the next instance serves them.
	line, cmd := startActivated(t, "-s", s.sock, "--exec", "svc", "--keep", "--", bin("activated"))
	if line != "ready 1 svc" {
		t.Fatalf("final start: %q", line)
	}
	before := served.Load()
	waitFor(t, "a client to be served", func() bool { return served.Load() > before })
	done.Store(true)
	wg.Wait()
	if refused.Load() != 0 {
		t.Errorf("%d client connections were refused across %d restarts; want none", refused.Load(), restarts)
	}
	if stopCompetitor() {
		t.Errorf("the competitor bound %d during the restarts", port)
	}
	t.Logf("kept hand-off: %d restarts, %d connections served, %d refused, %d cut by a kill; the competitor never bound the port",
		restarts, served.Load(), refused.Load(), other.Load())

	// An ordinary portrelease closes the daemon's copy for good: once the
	// service stops too, the port is free.
	if r := s.release(t, "svc"); r.code != 0 {
		t.Fatalf("portrelease svc = %d, %q", r.code, r.stderr)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for tryBind(t, port, bindOpts{proto: inetaddr.TCP, family: unix.AF_INET, addr: "any", reuse: true}) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("port %d still bound after portrelease and the service's exit", port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
