package portreserve

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/applets"
	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// logBuffer is a daemon's log, written by the daemon's goroutines and read
// by the test.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// inProcess is a daemon started inside the test: run in a goroutine, in
// the foreground, on a configuration and paths in a temporary directory,
// with the fake holder (no port is bound) and without dropping the test's
// privileges.
type inProcess struct {
	d       *daemon
	conf    string
	sock    string
	pidfile string
	log     *logBuffer
	status  chan int // run's result
	ended   bool     // run's result has been read
	fake    *fakeHolder
}

// newTestDaemon makes a daemon for the tests: the configuration files
// written to dir/conf, its socket and pidfile under dir/run, the services
// file absent, the fake holder (no port is bound) and no dropping of the
// test's privileges. o gives the rest of the options.
func newTestDaemon(t *testing.T, dir string, o options, files map[string]string) (*daemon, *logBuffer, *fakeHolder) {
	t.Helper()
	o.configDir, o.services = filepath.Join(dir, "conf"), "/nonexistent"
	o.socket, o.pidfile = filepath.Join(dir, "run", "socket"), filepath.Join(dir, "run", "portreserve.pid")
	if err := os.MkdirAll(o.configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(o.configDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log, fake := &logBuffer{}, newFake(t)
	d := newDaemon(o, -1, &applets.Env{Stderr: log})
	d.tab = newTable(fake.hold)
	d.dropPrivileges = func() error { return nil }
	return d, log, fake
}

// startInProcess writes the configuration files and starts the daemon,
// returning once it is ready (its -N descriptor got the newline).
func startInProcess(t *testing.T, files map[string]string, keepRunning bool) *inProcess {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	o := options{foreground: true, keepRunning: keepRunning, notifyFd: int(w.Fd())}
	p := &inProcess{status: make(chan int, 1)}
	p.d, p.log, p.fake = newTestDaemon(t, t.TempDir(), o, files)
	p.conf, p.sock, p.pidfile = p.d.o.configDir, p.d.o.socket, p.d.o.pidfile
	go func() { p.status <- p.d.run() }()
	ready := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(r).ReadString('\n')
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("daemon not ready: %v; log:\n%s", err, p.log)
		}
	case status := <-p.status:
		t.Fatalf("daemon returned %d before it was ready; log:\n%s", status, p.log)
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon not ready after 10 s; log:\n%s", p.log)
	}
	t.Cleanup(func() {
		if !p.ended {
			p.d.onSignal(syscall.SIGTERM)
			p.exited(t)
		}
	})
	return p
}

func (p *inProcess) write(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.conf, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// do sends req and returns the reply.
func (p *inProcess) do(t *testing.T, req ipc.Request) ipc.Reply {
	t.Helper()
	c, err := ipc.Dial(p.sock)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	r, err := c.Do(req, 5*time.Second)
	if err != nil {
		t.Fatalf("%v %s: %v", req.Op, req.Name, err)
	}
	return r
}

// states lists the daemon's entries as "NAME ENDPOINT STATE".
func (p *inProcess) states(t *testing.T) []string {
	t.Helper()
	c, err := ipc.Dial(p.sock)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	entries, err := c.List(5 * time.Second)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.String())
	}
	return out
}

// exited returns run's status, failing the test if it does not return.
func (p *inProcess) exited(t *testing.T) int {
	t.Helper()
	select {
	case status := <-p.status:
		p.ended = true
		return status
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon still running 10 s later; log:\n%s", p.log)
		return -1
	}
}

// gone reports whether the daemon's socket and pidfile are both gone.
func (p *inProcess) gone() bool {
	_, errSock := os.Lstat(p.sock)
	_, errPid := os.Lstat(p.pidfile)
	return os.IsNotExist(errSock) && os.IsNotExist(errPid)
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestDaemonReleaseThenExit: a release closes the name's sockets before
// the reply; the last one ends run with 0, the socket and pidfile removed
// before that reply.
func TestDaemonReleaseThenExit(t *testing.T) {
	p := startInProcess(t, map[string]string{"a": "7000/tcp\n7001/udp\n", "b": "7002/tcp\n"}, false)
	if r := p.do(t, ipc.Request{Op: ipc.OpRelease, Name: "a"}); r.Status != ipc.StatusOK || r.Count != 2 {
		t.Fatalf("release a = %v, %d closed; want ok, 2", r.Status, r.Count)
	}
	if n := p.fake.stillOpen(); n != 1 {
		t.Errorf("after release a: %d sockets open; want 1", n)
	}
	want := []string{"a 7000/tcp released", "a 7001/udp released", "b 7002/tcp held"}
	if got := p.states(t); !equal(got, want) {
		t.Errorf("states = %q; want %q", got, want)
	}
	if r := p.do(t, ipc.Request{Op: ipc.OpRelease, Name: "nosuch"}); r.Status != ipc.StatusNoSuchName {
		t.Errorf("release nosuch = %v; want %v", r.Status, ipc.StatusNoSuchName)
	}
	if r := p.do(t, ipc.Request{Op: ipc.OpRelease, Name: "b"}); r.Status != ipc.StatusOK {
		t.Fatalf("release b = %v; want ok", r.Status)
	}
	if !p.gone() {
		t.Errorf("after the last release's reply: socket or pidfile still there")
	}
	if status := p.exited(t); status != 0 {
		t.Errorf("run = %d; want 0", status)
	}
	if p.fake.stillOpen() != 0 {
		t.Errorf("after exit: %d sockets open; want none", p.fake.stillOpen())
	}
}

// TestDaemonHoldAgain: a released name is held again as its file says
// now; a name without a file is refused.
func TestDaemonHoldAgain(t *testing.T) {
	p := startInProcess(t, map[string]string{"a": "7000/tcp\n", "b": "7002/tcp\n"}, false)
	p.do(t, ipc.Request{Op: ipc.OpRelease, Name: "a"})
	p.write(t, "a", "7000/tcp\n7001/tcp\n")
	p.write(t, "zbad", "no-such-service\n")
	if r := p.do(t, ipc.Request{Op: ipc.OpHold, Name: "a"}); r.Status != ipc.StatusOK || r.Count != 2 || r.Total != 2 {
		t.Errorf("hold a = %v, %d of %d; want ok, 2 of 2", r.Status, r.Count, r.Total)
	}
	if strings.Contains(p.log.String(), "zbad") {
		t.Errorf("hold a logged another file's problem: %q", p.log.String())
	}
	want := []string{"a 7000/tcp held", "a 7001/tcp held", "b 7002/tcp held"}
	if got := p.states(t); !equal(got, want) {
		t.Errorf("states = %q; want %q", got, want)
	}
	if r := p.do(t, ipc.Request{Op: ipc.OpHold, Name: "c"}); r.Status != ipc.StatusNoSuchName {
		t.Errorf("hold c = %v; want %v", r.Status, ipc.StatusNoSuchName)
	}
}

// TestDaemonHandoff: a hand-off passes the name's sockets in
// configuration order and the daemon closes its copies once confirmed;
// with keep it keeps them.
func TestDaemonHandoff(t *testing.T) {
	p := startInProcess(t, map[string]string{"svc": "7000/tcp\n7001/udp\n", "kept": "7002/tcp\n", "other": "7003/tcp\n"}, false)
	for _, tt := range []struct {
		name string
		keep bool
		open int // sockets the daemon has open afterwards
	}{{"svc", false, 2}, {"kept", true, 2}} {
		c, err := ipc.Dial(p.sock)
		if err != nil {
			t.Fatal(err)
		}
		entries, fds, err := c.Handoff(tt.name, tt.keep, 5*time.Second)
		c.Close()
		if err != nil {
			t.Fatalf("hand-off %s: %v", tt.name, err)
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		// The confirmation is the client's last word: the daemon
		// closes its copies as it reads it, before the next request.
		p.states(t)
		if len(fds) != len(entries) || p.fake.stillOpen() != tt.open {
			t.Errorf("hand-off %s (keep %v): %d entries, %d sockets, daemon has %d open; want as many sockets as entries, %d open",
				tt.name, tt.keep, len(entries), len(fds), p.fake.stillOpen(), tt.open)
		}
	}
	want := []string{"kept 7002/tcp kept", "other 7003/tcp held", "svc 7000/tcp handed-off", "svc 7001/udp handed-off"}
	if got := p.states(t); !equal(got, want) {
		t.Errorf("states = %q; want %q", got, want)
	}
}

// TestDaemonReload: HUP holds what a file adds and lets go of what it no
// longer lists; a released name stays released.
func TestDaemonReload(t *testing.T) {
	p := startInProcess(t, map[string]string{"a": "7000/tcp\n7001/tcp\n", "b": "7002/tcp\n", "c": "7003/tcp\n"}, false)
	p.do(t, ipc.Request{Op: ipc.OpRelease, Name: "c"})
	p.write(t, "a", "7001/tcp\n")
	p.write(t, "c", "7004/tcp\n")
	p.write(t, "d", "7005/tcp\n")
	p.d.onSignal(syscall.SIGHUP)
	want := []string{"a 7001/tcp held", "b 7002/tcp held", "c 7003/tcp released", "d 7005/tcp held"}
	if got := p.states(t); !equal(got, want) {
		t.Errorf("after reload: states = %q; want %q", got, want)
	}
	if n := p.fake.stillOpen(); n != 3 {
		t.Errorf("after reload: %d sockets open; want 3", n)
	}
}

// TestDaemonShutdown: TERM releases everything, answers what was queued,
// and run returns 0 with the socket and pidfile gone; with -k the daemon
// stays after the last release until then.
func TestDaemonShutdown(t *testing.T) {
	p := startInProcess(t, map[string]string{"a": "7000/tcp\n"}, true)
	p.do(t, ipc.Request{Op: ipc.OpRelease, Name: "a"})
	select {
	case status := <-p.status:
		p.ended = true
		t.Fatalf("with -k, run returned %d after the last release", status)
	case <-time.After(50 * time.Millisecond):
	}
	p.write(t, "b", "7001/tcp\n")
	p.do(t, ipc.Request{Op: ipc.OpHold, Name: "b"})
	p.d.onSignal(syscall.SIGTERM)
	if status := p.exited(t); status != 0 {
		t.Errorf("run after TERM = %d; want 0", status)
	}
	if !p.gone() || p.fake.stillOpen() != 0 {
		t.Errorf("after TERM: socket or pidfile left (%v), %d sockets open; want neither", !p.gone(), p.fake.stillOpen())
	}
	if !strings.Contains(p.log.String(), "terminated: releasing every port") {
		t.Errorf("log %q; want the TERM line", p.log.String())
	}
}

// TestDaemonStartErrors: start-ups that end short of serving return their
// status and leave nothing behind.
func TestDaemonStartErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		what  string
		o     options
		files map[string]string
		want  int
	}{
		{"nothing configured", options{}, nil, 0},
		{"a NAME without a file", options{only: []string{"nosuch"}}, map[string]string{"a": "7000\n"}, 1},
		{"every bind failed", options{}, map[string]string{"a": "7999/tcp\n"}, 1},
	} {
		o := tt.o
		o.foreground, o.notifyFd = true, -1
		d, log, fake := newTestDaemon(t, filepath.Join(dir, strings.ReplaceAll(tt.what, " ", "-")), o, tt.files)
		fake.fail[7999] = unix.EADDRINUSE
		if got := d.run(); got != tt.want {
			t.Errorf("%s: run = %d; want %d (log %q)", tt.what, got, tt.want, log.String())
		}
		if _, err := os.Lstat(d.o.pidfile); !os.IsNotExist(err) {
			t.Errorf("%s: pidfile left behind", tt.what)
		}
	}
}

// TestDaemonHoldClient: portreserve NAME asks the running daemon; a port
// that cannot be held is named with its error, and the status says so.
func TestDaemonHoldClient(t *testing.T) {
	p := startInProcess(t, map[string]string{"a": "7000/tcp\n", "b": "7002/tcp\n"}, false)
	p.do(t, ipc.Request{Op: ipc.OpRelease, Name: "a"})
	p.write(t, "a", "7000/tcp\n7998/tcp\n")
	p.fake.fail[7998] = unix.EADDRINUSE
	var out logBuffer
	o := p.d.o
	o.only = []string{"a", "nosuch"}
	code, asked := holdRunning(o, clientLog(&applets.Env{Stderr: &out}))
	if !asked || code != statusFailed {
		t.Errorf("holdRunning = %d, asked %v; want %d, true", code, asked, statusFailed)
	}
	for _, want := range []string{"a: 7998/tcp: cannot hold: address already in use", "nosuch: the daemon has no configuration file for it"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("portreserve a nosuch said %q; want %q in it", out.String(), want)
		}
	}
	o.socket = p.sock + ".none"
	if code, asked := holdRunning(o, clientLog(&applets.Env{Stderr: &out})); asked || code != 0 {
		t.Errorf("holdRunning without a daemon = %d, asked %v; want 0, false", code, asked)
	}
}

// TestDaemonLegacyAndMalformed: the original's bare-name datagram
// releases without a reply; a malformed datagram gets an error reply and
// the daemon goes on serving.
func TestDaemonLegacyAndMalformed(t *testing.T) {
	p := startInProcess(t, map[string]string{"a": "7000/tcp\n", "b": "7002/tcp\n"}, false)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, []byte("a"), 0, &unix.SockaddrUnix{Name: p.sock}); err != nil {
		t.Fatal(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	garbage := make([]byte, ipc.RequestSize)
	garbage[0] = 0xff
	if err := unix.Sendmsg(fd, garbage, unix.UnixRights(pair[1]), &unix.SockaddrUnix{Name: p.sock}, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(pair[1])
	buf := make([]byte, ipc.MaxReplySize)
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	unix.SetsockoptTimeval(pair[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	n, err := unix.Read(pair[0], buf)
	if err != nil {
		t.Fatalf("reading the reply to a malformed datagram: %v", err)
	}
	if r, err := ipc.ParseReply(buf[:n]); err != nil || r.Status == ipc.StatusOK {
		t.Errorf("reply to a malformed datagram = %+v, %v; want an error status", r, err)
	}
	want := []string{"a 7000/tcp released", "b 7002/tcp held"}
	if got := p.states(t); !equal(got, want) {
		t.Errorf("after a legacy release of a: states = %q; want %q", got, want)
	}
}

// TestDaemonDebugPhases: -d logs the start-up's phases.
func TestDaemonDebugPhases(t *testing.T) {
	d, log, _ := newTestDaemon(t, t.TempDir(), options{foreground: true, debug: true, notifyFd: -1}, map[string]string{"a": "7000/tcp\n"})
	status := make(chan int, 1)
	go func() { status <- d.run() }()
	for i := 0; i < 1000 && !strings.Contains(log.String(), "holding 1 ports"); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	d.onSignal(syscall.SIGTERM)
	if got := <-status; got != 0 {
		t.Errorf("run = %d; want 0", got)
	}
	for _, phase := range []string{"start-up: signals ", " ms, pidfile ", ", config ", ", socket ", ", table ", ", binds "} {
		if !strings.Contains(log.String(), phase) {
			t.Errorf("debug log %q lacks %q", log.String(), phase)
		}
	}
}

// TestHolderBinds: the real holder binds the endpoint without
// SO_REUSEADDR (port 0 here: the kernel picks a free one).
func TestHolderBinds(t *testing.T) {
	h := newHolder()
	for _, e := range []inetaddr.Endpoint{
		{Addr: inetaddr.Loopback4, Proto: inetaddr.TCP},
		{Addr: inetaddr.Loopback4, Proto: inetaddr.UDP},
		{Proto: inetaddr.TCP},
	} {
		fd, err := h.hold(e)
		if err != nil {
			t.Errorf("hold(%v): %v", e, err)
			continue
		}
		sa, err := unix.Getsockname(fd)
		reuse, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR)
		unix.Close(fd)
		if err != nil || sa == nil || reuse != 0 {
			t.Errorf("hold(%v): bound to %v (%v), SO_REUSEADDR %d; want bound, 0", e, sa, err, reuse)
		}
	}
}

// TestMainUsage: the command line's mistakes are refused before anything
// starts, with status 2 and a message.
func TestMainUsage(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		status int
		out    string // in stdout or stderr
	}{
		{[]string{"portreserve", "--help"}, 0, "usage: portreserve"},
		{[]string{"portreserve", "--no-such-option"}, 2, "no-such-option"},
		{[]string{"portreserve", "-f", "bad/name"}, 2, "bad/name"},
		{[]string{"portreserve", "-f", "-c", ""}, 2, "empty path"},
		{[]string{"portreserve", "-N", "1", "-f", "-c", "/nonexistent"}, 2, "notify-fd 1"},
	} {
		var out logBuffer
		if got := Main(tt.args, &applets.Env{Stdout: &out, Stderr: &out}); got != tt.status || !strings.Contains(out.String(), tt.out) {
			t.Errorf("Main(%q) = %d, %q; want %d and %q", tt.args, got, out.String(), tt.status, tt.out)
		}
	}
}
