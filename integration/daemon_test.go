//go:build integration

package integration

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// The ports below stay clear of each other so that a failing test cannot
// disturb the next; each test runs its own daemon with its own socket.

func TestHoldThenReleaseSynchronously(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{
		"cups": "ipp\n",          // 631/tcp only, from the services database
		"ldap": "636\n",          // tcp and udp
		"imap": "993/tcp\n995\n", // one protocol, then both
	})
	if r := s.start(t); r.code != 0 {
		t.Fatalf("portreserve = %d, stderr %q; want 0", r.code, r.stderr)
	}
	held := []struct {
		port  int
		proto inetaddr.Proto
	}{{631, inetaddr.TCP}, {636, inetaddr.TCP}, {636, inetaddr.UDP}, {993, inetaddr.TCP}, {995, inetaddr.TCP}, {995, inetaddr.UDP}}
	for _, h := range held {
		mustBeHeld(t, h.port, h.proto)
	}
	// ipp has no udp entry in Debian's file: 631/udp is not reserved.
	mustBeFree(t, 631, inetaddr.UDP)

	// Immediately after portrelease returns, with no sleep and no retry,
	// the ports are free, and the other names' ports are not.
	if r := s.release(t, "cups", "ldap"); r.code != 0 || r.stderr != "" {
		t.Fatalf("portrelease cups ldap = %d, %q; want 0, no output", r.code, r.stderr)
	}
	mustBeFree(t, 631, inetaddr.TCP)
	mustBeFree(t, 636, inetaddr.TCP)
	mustBeFree(t, 636, inetaddr.UDP)
	mustBeHeld(t, 993, inetaddr.TCP)
	mustBeHeld(t, 995, inetaddr.UDP)

	// Released before: still 0. Unknown: 1.
	if r := s.release(t, "cups"); r.code != 0 {
		t.Errorf("portrelease cups (again) = %d, %q; want 0", r.code, r.stderr)
	}
	if r := s.release(t, "cpus"); r.code != 1 || !strings.Contains(r.stderr, "cpus: no reservation by that name") {
		t.Errorf("portrelease cpus = %d, %q; want 1 and the name", r.code, r.stderr)
	}
	if r := s.release(t, "-q", "cpus"); r.code != 1 || r.stderr != "" {
		t.Errorf("portrelease -q cpus = %d, %q; want 1 and no output", r.code, r.stderr)
	}
}

func TestExitAfterLastRelease(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7001/tcp\n", "b": "7002/udp\n"})
	s.mustStart(t)
	pid := s.daemonPid()
	if pid == 0 {
		t.Fatalf("no pidfile after portreserve returned")
	}
	for _, p := range []string{s.sock, s.pidfile} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("while running: %v", err)
		}
	}
	if r := s.release(t, "a"); r.code != 0 {
		t.Fatalf("portrelease a = %d, %q", r.code, r.stderr)
	}
	if syscall.Kill(pid, 0) != nil {
		t.Fatalf("daemon exited with b still held")
	}
	if r := s.release(t, "b"); r.code != 0 {
		t.Fatalf("portrelease b = %d, %q", r.code, r.stderr)
	}
	// When the last portrelease returns, the socket and pidfile are gone
	// already; the process exits right after.
	for _, p := range []string{s.sock, s.pidfile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("after the last release: Stat(%s) = %v; want it removed", p, err)
		}
	}
	if !waitGone(pid) {
		t.Fatalf("daemon %d still running after the last release", pid)
	}
	// No daemon: portrelease succeeds, there is nothing to release.
	if r := s.release(t, "a", "nosuch"); r.code != 0 {
		t.Errorf("portrelease with no daemon = %d, %q; want 0", r.code, r.stderr)
	}
}

func TestReleaseAll(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7011\n", "b": "7012/tcp\n"})
	s.mustStart(t)
	pid := s.daemonPid()
	if r := s.release(t, "*"); r.code != 0 {
		t.Fatalf("portrelease '*' = %d, %q; want 0", r.code, r.stderr)
	}
	mustBeFree(t, 7011, inetaddr.TCP)
	mustBeFree(t, 7011, inetaddr.UDP)
	mustBeFree(t, 7012, inetaddr.TCP)
	if !waitGone(pid) {
		t.Errorf("daemon still running after releasing everything")
	}
}

func TestNothingConfigured(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"empty": "# nothing here\n", "backup~": "7021\n"})
	if r := s.start(t); r.code != 0 || r.stderr != "" {
		t.Errorf("portreserve with nothing to hold = %d, %q; want 0, silent", r.code, r.stderr)
	}
	if _, err := os.Stat(s.sock); !os.IsNotExist(err) {
		t.Errorf("socket exists with nothing configured: %v", err)
	}
	if pid := s.daemonPid(); pid != 0 {
		t.Errorf("pidfile names %d with nothing configured", pid)
	}
	mustBeFree(t, 7021, inetaddr.TCP)
}

func TestPartialFailure(t *testing.T) {
	needNetns(t)
	// Somebody else holds 7031/tcp first.
	bindHere(t, 7031, inetaddr.TCP)
	s := newSetup(t, map[string]string{"a": "7031/tcp\n7032/tcp\nnosuchservice\n"})
	r := s.start(t)
	if r.code != 1 {
		t.Fatalf("portreserve with one port taken = %d, %q; want 1", r.code, r.stderr)
	}
	for _, want := range []string{
		"a: 7031/tcp (" + filepath.Join(s.conf, "a") + ":1): cannot hold: address already in use",
		filepath.Join(s.conf, "a") + `:3: unknown service "nosuchservice"`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr = %q; want it to contain %q", r.stderr, want)
		}
	}
	mustBeHeld(t, 7032, inetaddr.TCP)
}

func TestAllFail(t *testing.T) {
	needNetns(t)
	bindHere(t, 7041, inetaddr.UDP)
	s := newSetup(t, map[string]string{"a": "7041/udp\n"})
	if r := s.start(t); r.code != 1 || !strings.Contains(r.stderr, "no port could be held") {
		t.Errorf("portreserve with every port taken = %d, %q; want 1", r.code, r.stderr)
	}
	if s.daemonPid() != 0 {
		t.Errorf("a daemon with nothing held was left running")
	}
}

func TestSecondDaemonAndKill9(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7051\n"})
	s.mustStart(t)
	pid := s.daemonPid()
	r := s.start(t)
	if want := "already running (pid " + strconv.Itoa(pid) + ")"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("second portreserve = %d, %q; want 2 and %q", r.code, r.stderr, want)
	}
	// kill -9 leaves the socket and pidfile behind.
	syscall.Kill(pid, syscall.SIGKILL)
	if !waitGone(pid) {
		t.Fatalf("daemon survived SIGKILL")
	}
	if _, err := os.Stat(s.sock); err != nil {
		t.Fatalf("expected a stale socket after kill -9: %v", err)
	}
	if r := s.start(t); r.code != 0 {
		t.Fatalf("portreserve after kill -9 = %d, %q; want 0", r.code, r.stderr)
	}
	if np := s.daemonPid(); np == pid || np == 0 {
		t.Errorf("pidfile = %d after restart; want the new daemon's pid", np)
	}
	mustBeHeld(t, 7051, inetaddr.TCP)
	mustBeHeld(t, 7051, inetaddr.UDP)
	if r := s.release(t, "a"); r.code != 0 {
		t.Errorf("portrelease after restart = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 7051, inetaddr.TCP)
}

func TestOtherUserRefused(t *testing.T) {
	needNetns(t)
	if os.Geteuid() != 0 || noNetns != "" {
		t.Skip("needs root to run a client as another user")
	}
	s := newSetup(t, map[string]string{"a": "7061/tcp\n"})
	// Let user nobody reach the socket through the test's directories.
	for d := s.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	s.mustStart(t)
	asNobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd := exec.Command(bin("portrelease"), "-s", s.sock, "a")
	cmd.SysProcAttr = asNobody
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "a: permission denied") {
		t.Errorf("portrelease a as nobody = %v, %q; want exit 2 and permission denied", err, out)
	}
	mustBeHeld(t, 7061, inetaddr.TCP)

	// A legacy bare-name release from nobody is refused too, and
	// listing is allowed to anyone.
	other := exec.Command(bin("hostile"), "release-all", s.sock)
	other.SysProcAttr = asNobody
	out, err = other.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1 held" {
		t.Errorf("legacy release then list as nobody = %v, %q; want 1 held", err, out)
	}
	mustBeHeld(t, 7061, inetaddr.TCP)
}

func TestThousandConcurrentReleases(t *testing.T) {
	needNetns(t)
	const n = 1000
	files := map[string]string{}
	for i := 0; i < n; i++ {
		files["n"+strconv.Itoa(i)] = strconv.Itoa(20000+i) + "/tcp\n"
	}
	s := newSetup(t, files)
	s.mustStart(t)
	pid := s.daemonPid()
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmds[i] = exec.Command(bin("portrelease"), "-s", s.sock, "-t", "30", "n"+strconv.Itoa(i))
	}
	// Start them all before waiting for any.
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([][]byte, n)
	for i, c := range cmds {
		wg.Add(1)
		go func(i int, c *exec.Cmd) {
			defer wg.Done()
			outs[i], errs[i] = c.CombinedOutput()
		}(i, c)
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("portrelease n%d = %v, %q; want exit 0", i, err, outs[i])
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d portrelease processes failed", failed, n)
	}
	stillHeld := 0
	for i := 0; i < n; i++ {
		if quickHeld(t, 20000+i, inetaddr.TCP) {
			stillHeld++
		}
	}
	if stillHeld > 0 {
		t.Errorf("%d ports still held after every release returned", stillHeld)
	}
	if !waitGone(pid) {
		t.Errorf("daemon still running after %d releases", n)
	}
}

// sendRaw sends one datagram with a reply channel, as clients do, and
// returns the reply, or nil when none comes within a second.
func sendRaw(t *testing.T, sock string, data []byte) []byte {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	err = unix.Sendmsg(fd, data, unix.UnixRights(pair[1]), &unix.SockaddrUnix{Name: sock}, 0)
	unix.Close(pair[1])
	if err != nil {
		t.Fatalf("send %d bytes: %v", len(data), err)
	}
	tv := unix.NsecToTimeval(int64(time.Second))
	unix.SetsockoptTimeval(pair[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, ipc.MaxReplySize)
	n, err := unix.Read(pair[0], buf)
	if err != nil || n == 0 {
		return nil
	}
	return buf[:n]
}

func TestMalformedDatagrams(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7071/tcp\n", "b": "7072/tcp\n", "c": "7073/tcp\n"})
	s.mustStart(t)
	valid := (&ipc.Request{Op: ipc.OpRelease, ID: 42, Name: "a"}).Marshal()
	random := make([]byte, 200)
	rand.Read(random)
	random[0] = 0xff // not a plausible name
	for _, tt := range []struct {
		desc   string
		data   []byte
		status ipc.Status
		id     uint32
	}{
		{"empty", nil, ipc.StatusBadRequest, 0},
		{"64 KiB", make([]byte, 64<<10), ipc.StatusBadRequest, 0},
		{"64 KiB with the magic", append([]byte(ipc.Magic), make([]byte, 64<<10)...), ipc.StatusBadSize, 0},
		{"truncated", valid[:50], ipc.StatusBadSize, 42},
		{"wrong version", append(append(append([]byte(nil), valid[:4]...), 9), valid[5:]...), ipc.StatusBadVersion, 42},
		{"unknown operation", append(append(append([]byte(nil), valid[:5]...), 200), valid[6:]...), ipc.StatusBadOp, 42},
		{"bad name", append(append(append([]byte(nil), valid[:16]...), "a.b"...), valid[19:]...), ipc.StatusBadName, 42},
		{"random", random, ipc.StatusBadRequest, 0},
	} {
		reply := sendRaw(t, s.sock, tt.data)
		r, err := ipc.ParseReply(reply)
		if err != nil || r.Status != tt.status || r.ID != tt.id {
			t.Errorf("%s: reply %+v, %v; want status %v (%d), id %d", tt.desc, r, err, tt.status, tt.status, tt.id)
		}
		mustBeHeld(t, 7071, inetaddr.TCP)
	}
	// The daemon still serves: a valid release works.
	if r := s.release(t, "a"); r.code != 0 {
		t.Fatalf("portrelease a after garbage = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 7071, inetaddr.TCP)

	// A legacy bare name, from an unbound socket as the original's
	// portrelease sends it, releases without a reply.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendto(fd, []byte("b"), 0, &unix.SockaddrUnix{Name: s.sock}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	// Each socket's requests are served in order: once a list sent to
	// the public socket is answered, the legacy datagram before it has
	// been acted on.
	sendRaw(t, s.sock, (&ipc.Request{Op: ipc.OpList}).Marshal())
	entries := s.list(t)
	states := map[string]ipc.State{}
	for _, e := range entries {
		states[e.Name] = e.State
	}
	if states["b"] != ipc.Released || states["c"] != ipc.Held {
		t.Errorf("after legacy release of b: states %v; want b released, c held", states)
	}
	mustBeFree(t, 7072, inetaddr.TCP)
	mustBeHeld(t, 7073, inetaddr.TCP)
}

func TestSignals(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7081\n", "b": "7082/tcp\n"})
	s.mustStart(t)
	pid := s.daemonPid()
	// SIGHUP after a new file is added: the new name is held, the
	// released one is not taken again.
	if r := s.release(t, "b"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	s.write(t, "c", "7083/udp\n")
	syscall.Kill(pid, syscall.SIGHUP)
	s.waitHeld(t, "c")
	mustBeHeld(t, 7083, inetaddr.UDP)
	mustBeFree(t, 7082, inetaddr.TCP)
	mustBeHeld(t, 7081, inetaddr.UDP)

	// The reload request does the same, and answers once done.
	s.write(t, "d", "7084/tcp\n")
	c, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Do(ipc.Request{Op: ipc.OpReload}, 5*time.Second)
	c.Close()
	if err != nil || r.Status != ipc.StatusOK || r.Count != 1 {
		t.Errorf("reload = %+v, %v; want ok, 1 new", r, err)
	}
	mustBeHeld(t, 7084, inetaddr.TCP)

	// SIGTERM frees every port and cleans up.
	syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(pid) {
		t.Fatalf("daemon survived SIGTERM")
	}
	for _, port := range []int{7081, 7083, 7084} {
		mustBeFree(t, port, inetaddr.TCP)
		mustBeFree(t, port, inetaddr.UDP)
	}
	for _, sock := range []string{s.sock, ipc.AdminPath(s.sock)} {
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("socket %s left after SIGTERM: %v", sock, err)
		}
	}
	if _, err := os.Stat(s.pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left after SIGTERM: %v", err)
	}
}

func TestReadiness(t *testing.T) {
	needNetns(t)
	// Enough ports that an early READY=1 would be caught with some unheld.
	s := newSetup(t, map[string]string{"r": "21000-21999\n"})
	notify := filepath.Join(s.dir, "notify")
	nfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nfd)
	if err := unix.Bind(nfd, &unix.SockaddrUnix{Name: notify}); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin("portreserve"), s.args("-f", "-N", "3")...)
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	// The notification fd gets its newline only when every port is held.
	line := make([]byte, 2)
	n, _ := pr.Read(line)
	if n != 1 || line[0] != '\n' {
		t.Fatalf("notification fd gave %q; want one newline", line[:n])
	}
	// READY=1 was sent before the newline; it is waiting for us.
	buf := make([]byte, 256)
	n, err = unix.Read(nfd, buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "READY=1\n") {
		t.Fatalf("NOTIFY_SOCKET got %q, %v; want READY=1", buf[:n], err)
	}
	for port := 21000; port <= 21999; port++ {
		if !quickHeld(t, port, inetaddr.TCP) || !quickHeld(t, port, inetaddr.UDP) {
			t.Fatalf("port %d not held when readiness was signalled", port)
		}
	}
	// The abstract namespace (a leading @) works as well.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("portreserve -f after SIGTERM: %v; want exit 0", err)
	}
	afd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(afd)
	abstract := "@portreserve-test-" + strconv.Itoa(os.Getpid())
	if err := unix.Bind(afd, &unix.SockaddrUnix{Name: abstract}); err != nil {
		t.Fatal(err)
	}
	cmd2 := exec.Command(bin("portreserve"), s.args("-f")...)
	cmd2.Env = append(os.Environ(), "NOTIFY_SOCKET="+abstract)
	if err := cmd2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd2.Process.Kill(); cmd2.Wait() }()
	n, err = unix.Read(afd, buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "READY=1\n") {
		t.Fatalf("abstract NOTIFY_SOCKET got %q, %v; want READY=1", buf[:n], err)
	}
	if !quickHeld(t, 21999, inetaddr.TCP) {
		t.Errorf("port 21999 not held at READY=1")
	}
}

// TestDebugStartupPhases: portreserve -d logs how long each start-up phase
// took, in order, before it is ready (make bench reads the line), and a
// configuration of port numbers never reads the services file.
func TestDebugStartupPhases(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"r": "21000-21009\n"})
	// A services file that cannot be read: reading it would be an error.
	stderr := startReady(t, exec.Command(bin("portreserve"), s.args("-d", "-N", "3", "-S", s.dir)...))
	b, _ := os.ReadFile(stderr.Name())
	_, line, ok := strings.Cut(string(b), "start-up: ")
	line, _, _ = strings.Cut(line, "\n")
	var names []string
	for _, ph := range strings.Split(line, ", ") {
		f := strings.Fields(ph)
		if len(f) != 3 || f[2] != "ms" {
			t.Fatalf("start-up line %q: phase %q; want NAME MS ms", line, ph)
		}
		names = append(names, f[0])
	}
	if want := "signals pidfile config socket table binds"; !ok || strings.Join(names, " ") != want {
		t.Errorf("portreserve -d logged phases %q; want %q\n%s", names, want, b)
	}
}

func TestDetachedParentWaitsForHolds(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"r": "22000-22999\n"})
	r := s.start(t)
	if r.code != 0 {
		t.Fatalf("portreserve = %d, %q", r.code, r.stderr)
	}
	// The command has returned: every port must be held now.
	for port := 22000; port <= 22999; port++ {
		if !quickHeld(t, port, inetaddr.TCP) || !quickHeld(t, port, inetaddr.UDP) {
			t.Fatalf("port %d not held when portreserve returned", port)
		}
	}
	// The daemon is in a session of its own, with stdin and stdout on
	// /dev/null.
	pid := s.daemonPid()
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Errorf("daemon session = %d; want its own (%d)", sid, pid)
	}
	for _, fd := range []string{"0", "1", "2"} {
		if target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd); target != "/dev/null" {
			t.Errorf("daemon fd %s -> %q; want /dev/null", fd, target)
		}
	}
}

func TestTenThousandReservations(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"big": "30000-34999\n"}) // 5,000 ports x tcp, udp
	r := s.start(t)
	if r.code != 0 {
		t.Fatalf("portreserve with 10,000 reservations = %d, %q", r.code, r.stderr)
	}
	c, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := c.List(5 * time.Second)
	c.Close()
	if err != nil || len(entries) != 10000 {
		t.Fatalf("list = %d entries, %v; want 10000", len(entries), err)
	}
	for _, e := range entries {
		if e.State != ipc.Held {
			t.Fatalf("entry %+v not held", e)
		}
	}
	for port := 30000; port <= 34999; port += 97 {
		mustBeHeld(t, port, inetaddr.TCP)
		mustBeHeld(t, port, inetaddr.UDP)
	}
	pid := s.daemonPid()
	if r := s.release(t, "big"); r.code != 0 {
		t.Fatalf("portrelease big = %d, %q", r.code, r.stderr)
	}
	for port := 30000; port <= 34999; port++ {
		if quickHeld(t, port, inetaddr.TCP) || quickHeld(t, port, inetaddr.UDP) {
			t.Fatalf("port %d still held after portrelease returned", port)
		}
	}
	if !waitGone(pid) {
		t.Errorf("daemon still running")
	}
}

func TestKeepRunning(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7091/tcp\n"})
	if r := s.start(t, "-k"); r.code != 0 {
		t.Fatalf("portreserve -k = %d, %q", r.code, r.stderr)
	}
	pid := s.daemonPid()
	if r := s.release(t, "a"); r.code != 0 {
		t.Fatalf("portrelease a = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 7091, inetaddr.TCP)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("portreserve -k exited after the last release: %v", err)
	}
	// A name added later is held on SIGHUP, by the same daemon.
	s.write(t, "b", "7092/tcp\n")
	c, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Do(ipc.Request{Op: ipc.OpReload}, 5*time.Second)
	c.Close()
	if err != nil || r.Count != 1 {
		t.Fatalf("reload = %+v, %v; want 1 new", r, err)
	}
	mustBeHeld(t, 7092, inetaddr.TCP)
	syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(pid) {
		t.Errorf("portreserve -k survived SIGTERM")
	}
	mustBeFree(t, 7092, inetaddr.TCP)

	// With nothing configured, -k still runs (a supervisor would
	// otherwise restart it in a loop).
	empty := newSetup(t, nil)
	if r := empty.start(t, "-k"); r.code != 0 || empty.daemonPid() == 0 {
		t.Errorf("portreserve -k with nothing configured = %d, pid %d; want 0 and a running daemon", r.code, empty.daemonPid())
	}
}
