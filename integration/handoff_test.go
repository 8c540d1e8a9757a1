//go:build integration

package integration

import (
	"bufio"
	"net"
	"os/exec"
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

// competitor spins on bind() of port with SO_REUSEADDR, as another
// server starting at the same moment would, and once a bind succeeds it
// listens, taking the port for good. stop ends it and reports whether it
// ever got the port.
func competitor(t *testing.T, port int) (stop func() bool) {
	t.Helper()
	var won, done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				continue
			}
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
			if unix.Bind(fd, &unix.SockaddrInet6{Port: port}) == nil && unix.Listen(fd, 1) == nil {
				won.Store(true)
				t.Cleanup(func() { unix.Close(fd) })
				return
			}
			unix.Close(fd)
		}
	}()
	return func() bool {
		done.Store(true)
		wg.Wait()
		return won.Load()
	}
}

// startActivated runs portrelease with args (an --exec of the activated
// test service) and returns the service's first line.
func startActivated(t *testing.T, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin("portrelease"), args...)
	return startService(t, cmd), cmd
}

// askTCP connects to addr and returns the service's greeting.
func askTCP(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// askUDP sends a datagram to addr and returns the reply.
func askUDP(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hello"))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "read: " + err.Error()
	}
	return string(buf[:n])
}

func TestHandoffServes(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"svc": "7301/tcp\n7302/udp\n7303/tcp\n", "other": "7304/tcp\n"})
	s.mustStart(t)
	// A competitor spins on the first port during the whole hand-off.
	stop := competitor(t, 7301)
	line, _ := startActivated(t, "-s", s.sock, "--exec", "svc", "--", bin("activated"))
	if line != "ready 3 svc:svc:svc" {
		t.Fatalf("activated service said %q; want ready 3 svc:svc:svc", line)
	}
	// The service serves every handed-over socket, over IPv4 and IPv6.
	for _, tt := range []struct{ got, want string }{
		{askTCP(t, "127.0.0.1:7301"), "tcp 7301"},
		{askTCP(t, "[::1]:7301"), "tcp 7301"},
		{askTCP(t, "127.0.0.1:7303"), "tcp 7303"},
		{askTCP(t, "[::1]:7303"), "tcp 7303"},
		{askUDP(t, "127.0.0.1:7302"), "udp 7302"},
		{askUDP(t, "[::1]:7302"), "udp 7302"},
	} {
		if tt.got != tt.want {
			t.Errorf("service answered %q; want %q", tt.got, tt.want)
		}
	}
	if stop() {
		t.Errorf("the competitor bound 7301 during the hand-off")
	}
	// The daemon keeps the other name, and lists svc as handed off.
	mustBeHeld(t, 7304, inetaddr.TCP)
	for _, e := range s.list(t) {
		want := ipc.HandedOff
		if e.Name == "other" {
			want = ipc.Held
		}
		if e.State != want {
			t.Errorf("after hand-off: %s %d/%v is %v; want %v", e.Name, e.Port, e.Proto, e.State, want)
		}
	}
	// portreserve-check shows them as handed off, to the service.
	r := s.check(t, "-n", "svc")
	for _, row := range table(r.stdout) {
		if len(row) != 6 || row[4] != "handed-off" || !strings.HasSuffix(row[5], "/activated") {
			t.Errorf("portreserve-check -n svc row %q; want handed-off to the activated service", row)
		}
	}
	t.Logf("hand-off: svc's 7301/tcp, 7302/udp, 7303/tcp served over IPv4 and IPv6; the competitor never bound 7301")
}

func TestHandoffRaceAgainstPlainRelease(t *testing.T) {
	needNetns(t)
	// With a plain "portrelease NAME; exec COMMAND", the port is free for
	// a moment, and a competitor spinning on bind() takes it.
	lost := 0
	tries := 0
	for ; tries < 20 && lost == 0; tries++ {
		s := newSetup(t, map[string]string{"svc": "7311/tcp\n"})
		s.mustStart(t)
		stop := competitor(t, 7311)
		cmd := exec.Command("sh", "-c", `"$1" -s "$2" svc && exec env `+envServe+`=7311 "$3"`,
			"sh", bin("portrelease"), s.sock, bin("fakeservice"))
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			// The service exited: its bind failed.
			lost++
		case <-time.After(500 * time.Millisecond):
			cmd.Process.Kill()
			<-done
		}
		if won := stop(); won != (lost > 0) {
			t.Errorf("try %d: competitor won %v, service lost %v; want both or neither", tries, won, lost > 0)
		}
		s.kill()
	}
	if lost == 0 {
		t.Fatalf("plain portrelease never lost the race in %d tries; the test cannot tell the hand-off apart", tries)
	}
	// The same, handed off: the competitor never wins. Each round has a
	// port of its own: the connection a round's service closed leaves a
	// TIME_WAIT on its port, which a bind without SO_REUSEADDR (the
	// daemon's) is refused for a while.
	for i := 0; i < 5; i++ {
		port := 7340 + i
		s := newSetup(t, map[string]string{"svc": strconv.Itoa(port) + "/tcp\n"})
		s.mustStart(t)
		stop := competitor(t, port)
		line, cmd := startActivated(t, "-s", s.sock, "--exec", "svc", "--", bin("activated"))
		if line != "ready 1 svc" {
			t.Fatalf("activated service said %q", line)
		}
		if got, want := askTCP(t, "127.0.0.1:"+strconv.Itoa(port)), "tcp "+strconv.Itoa(port); got != want {
			t.Errorf("service answered %q; want %q", got, want)
		}
		if stop() {
			t.Fatalf("hand-off %d: the competitor bound %d", i, port)
		}
		cmd.Process.Kill()
		cmd.Wait()
		s.kill()
	}
	t.Logf("race: plain portrelease lost 7311 to the competitor after %d tries; 5 hand-offs (7340-7344) never did", tries)
}

func TestHandoffWithoutDaemonOrName(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"svc": "7321/tcp\n"})
	activated := bin("activated")
	// No daemon: the command runs without sockets, and a note says so.
	r := run(t, "portrelease", "-s", s.sock, "--exec", "svc", "--", activated)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "ready 0 without sockets" || !strings.Contains(r.stderr, "no portreserve daemon at "+s.sock) {
		t.Errorf("--exec without a daemon = %d, %q, %q; want the command run without sockets and a note", r.code, r.stdout, r.stderr)
	}
	s.mustStart(t)
	// A name the daemon does not have: the same.
	r = run(t, "portrelease", "-s", s.sock, "--exec", "nosuch", activated)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "ready 0 without sockets" || !strings.Contains(r.stderr, "nosuch: no reservation by that name") {
		t.Errorf("--exec nosuch = %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	// -q silences the note; a missing command fails before any socket
	// is taken.
	if r := run(t, "portrelease", "-q", "-s", s.sock, "--exec", "svc", "/nonexistent/cmd"); r.code != 127 || r.stderr != "" {
		t.Errorf("--exec with a missing command = %d, %q; want 127, silent", r.code, r.stderr)
	}
	mustBeHeld(t, 7321, inetaddr.TCP)
	// The command's own exit status comes back.
	if r := run(t, "portrelease", "-s", s.sock, "--exec", "svc", "--", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("--exec svc -- sh -c 'exit 7' = %d; want 7", r.code)
	}
	if r := run(t, "portrelease", "--exec", "svc"); r.code != 2 || !strings.Contains(r.stderr, "no COMMAND given") {
		t.Errorf("--exec without a command = %d, %q; want 2", r.code, r.stderr)
	}
}

// TestHandoffTenThousand: a hand-off of 10,000 sockets reaches the
// service whole (it counts them), and one whose client dies half-way
// leaves every port held by the daemon, never free and listed handed-off.
func TestHandoffTenThousand(t *testing.T) {
	needNetns(t)
	// Below the ephemeral range, where no client connection of another
	// test left a TIME_WAIT: 5,000 and 3,000 ports x tcp, udp.
	s := newSetup(t, map[string]string{"big": "10000-14999\n", "half": "15000-17999\n"})
	s.mustStart(t)
	line, _ := startActivated(t, "-s", s.sock, "-t", "30", "--exec", "big", "--", bin("activated"))
	if !strings.HasPrefix(line, "ready 10000 big:") {
		t.Fatalf("the service started by portrelease --exec big said %.80q; want ready 10000", line)
	}
	// A client that takes 100 pages of "half" (3,200 sockets) and is
	// killed before it has them all.
	victim := exec.Command(bin("hostile"), "partial-handoff", s.sock, "half", "100")
	out, _ := victim.CombinedOutput()
	if !strings.HasPrefix(string(out), "took 3200 sockets") {
		t.Fatalf("the half-way client said %q; want took 3200 sockets", out)
	}
	c, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := c.List(10 * time.Second)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]map[ipc.State]int{}
	for _, e := range entries {
		if states[e.Name] == nil {
			states[e.Name] = map[ipc.State]int{}
		}
		states[e.Name][e.State]++
	}
	if states["half"][ipc.Held] != 6000 || states["big"][ipc.HandedOff] != 10000 {
		t.Errorf("states after the hand-offs: %v; want big 10000 handed-off, half 6000 held", states)
	}
	free := 0
	for p := 15000; p < 18000; p++ {
		for _, proto := range []inetaddr.Proto{inetaddr.TCP, inetaddr.UDP} {
			if !quickHeld(t, p, proto) {
				free++
			}
		}
	}
	if free > 0 {
		t.Errorf("%d of half's 6,000 ports are free after its client died half-way; want none", free)
	}
}

// TestHandoffDeadlineSweep: portrelease --exec of 10,000 sockets with
// every deadline from 1 ms to 1 s, and then in 2 ms steps around the
// shortest one that got the sockets across, where the deadline ends
// between the confirmation and the daemon's answer; and then with the
// daemon stopped (SIGSTOP) at each 2 ms of that hand-off until the
// client's deadline has passed, which widens any window to the whole
// deadline. Whenever it ends, either the service runs with all of them or
// the daemon still holds all of them; never neither. (Before the confirmation was the client's last
// word, a deadline ending after it left the client without its sockets
// and the daemon without its copies: the port free for anyone.)
func TestHandoffDeadlineSweep(t *testing.T) {
	needNetns(t)
	// "stay" keeps the daemon running while big is handed off.
	s := newSetup(t, map[string]string{"big": "20000-24999\n", "stay": "25000/udp\n"})
	s.mustStart(t)
	var outcomes []string
	// try hands big off with a deadline of ms and reports whether the
	// service got the sockets; with stopAt > 0, the daemon is stopped
	// that many ms into the hand-off until the client has given up or
	// run the service.
	try := func(ms, stopAt int) bool {
		deadline := strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
		var r result
		if stopAt == 0 {
			r = s.release(t, "-t", deadline, "--exec", "big", "--", "sh", "-c", "echo ran $LISTEN_FDS")
		} else {
			var out strings.Builder
			cmd := exec.Command(bin("portrelease"), "-s", s.sock, "-t", deadline, "--exec", "big", "--", "sh", "-c", "echo ran $LISTEN_FDS")
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(stopAt) * time.Millisecond)
			pid := s.daemonPid()
			syscall.Kill(pid, syscall.SIGSTOP)
			cmd.Wait()
			syscall.Kill(pid, syscall.SIGCONT)
			r.stdout, r.code = out.String(), cmd.ProcessState.ExitCode()
			deadline += " stopped at " + strconv.Itoa(stopAt) + " ms"
		}
		ran := strings.HasPrefix(r.stdout, "ran ")
		if ran && r.stdout != "ran 10000\n" {
			t.Fatalf("-t %s: the service said %q; want ran 10000", deadline, r.stdout)
		}
		states := map[ipc.State]int{}
		for _, e := range s.list(t) {
			if e.Name == "big" {
				states[e.State]++
			}
		}
		switch {
		case ran && states[ipc.HandedOff] == 10000:
			outcomes = append(outcomes, deadline+" handed off")
		case ran && states[ipc.Held] == 10000:
			outcomes = append(outcomes, deadline+" both")
		case !ran && states[ipc.Held] == 10000:
			outcomes = append(outcomes, deadline+" kept")
			return false
		default:
			t.Fatalf("-t %s: portrelease = %d, %q, service ran %v; the daemon lists %v; want the service to run with all 10,000 or the daemon to hold them all",
				deadline, r.code, r.stderr, ran, states)
		}
		if r := run(t, "portreserve", s.args("big")...); r.code != 0 {
			t.Fatalf("portreserve big (hold again) after -t %s = %d, %q", deadline, r.code, r.stderr)
		}
		return true
	}
	first := 0
	for _, ms := range []int{1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 100, 120, 150, 200, 300, 500, 1000} {
		if try(ms, 0) && first == 0 {
			first = ms
		}
	}
	if first > 0 {
		for ms := max(1, first-40); ms <= first+10; ms += 2 {
			try(ms, 0)
		}
		for at := max(1, first-40); at <= first+10; at += 2 {
			try(2*first+100, at)
		}
	}
	t.Logf("deadline and outcome: %s", strings.Join(outcomes, ", "))
}
