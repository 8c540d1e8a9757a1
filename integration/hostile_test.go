//go:build integration

package integration

// A hostile local user: any uid may send datagrams to the control socket
// (listing is public). These tests play one, as uid 65534, and check that
// root's requests are answered all the same, that replies reach only the
// client that asked, and that the log and the daemon's memory stay bounded.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/integration/internal/rawsock"
	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// nobody is the uid and gid the hostile user runs as.
const nobody = 65534

// asNobody returns testcmd/hostile in mode, as uid 65534.
func asNobody(t *testing.T, mode ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the hostile client as another user")
	}
	cmd := exec.Command(bin("hostile"), mode...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return cmd
}

// openToOthers makes the setup's directories searchable by other users,
// so that the hostile user reaches the socket as any user would.
func (s *setup) openToOthers() {
	for d := s.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
}

// startHostile starts cmd and waits for its first line on stdout, which it
// prints once its attack is in place.
func startHostile(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("hostile client: %v (it said %q)", err, line)
	}
	return strings.TrimSpace(line)
}

// TestHostileUnreadReplies: replies another user leaves unread cost that
// user only. Before reply channels, about 170 unread replies to one
// autobind address filled the daemon's send buffer, and root's release
// then timed out although the daemon had released the port.
func TestHostileUnreadReplies(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7601/tcp\n", "b": "7602/tcp\n7602/udp\n", "c": "7603/tcp\n"})
	s.mustStart(t)
	s.openToOthers()
	if line := startHostile(t, asNobody(t, "unread", s.sock)); line != "sent 2600" {
		t.Fatalf("hostile client said %q; want sent 2600", line)
	}
	// Root's requests, each within a 2 s timeout: release, list, hand-off
	// and hold again.
	if r := s.release(t, "-t", "2", "a"); r.code != 0 {
		t.Errorf("portrelease a with 2,600 unread replies queued = %d, %q; want 0", r.code, r.stderr)
	}
	mustBeFree(t, 7601, inetaddr.TCP)
	if r := s.check(t, "-t", "2", "-n", "c"); r.code != 0 || !strings.Contains(r.stdout, " held ") {
		t.Errorf("portreserve-check c = %d, %q, %q; want it held", r.code, r.stdout, r.stderr)
	}
	if r := s.release(t, "-t", "2", "--exec", "b", "--", "true"); r.code != 0 || r.stderr != "" {
		t.Errorf("portrelease --exec b -- true = %d, %q; want 0 and the sockets handed over", r.code, r.stderr)
	}
	if r := s.start(t, "a"); r.code != 0 {
		t.Errorf("portreserve a (hold again) = %d, %q; want 0", r.code, r.stderr)
	}
	mustBeHeld(t, 7601, inetaddr.TCP)
}

// TestHostileFlood: two processes of another user flood the socket for
// 15 s, one reading its replies and one not, with valid, refused and
// malformed requests mixed. Root's releases meanwhile are all answered;
// the daemon's memory and its log stay bounded.
func TestHostileFlood(t *testing.T) {
	needNetns(t)
	files := map[string]string{"keep": "7800/udp\n"}
	for i := 0; i < 50; i++ {
		files["n"+strconv.Itoa(i)] = strconv.Itoa(7700+i) + "/tcp\n"
	}
	s := newSetup(t, files)
	s.openToOthers()
	// In the foreground, logging to a file whose lines the test counts.
	daemon, logPath, ready := s.foreground(t, nil)
	if _, err := ready.ReadString('\n'); err != nil {
		t.Fatalf("the daemon never got ready: %v", err)
	}
	const flood = 15 * time.Second
	var floods []*exec.Cmd
	for _, mode := range []string{"reader", "silent"} {
		cmd := asNobody(t, "flood", s.sock, mode, flood.String())
		if line := startHostile(t, cmd); line != "flooding" {
			t.Fatalf("flood %s said %q", mode, line)
		}
		floods = append(floods, cmd)
	}
	start := time.Now()
	time.Sleep(2 * time.Second) // warm-up: the heap reaches its size
	before := rss(t, daemon.Process.Pid)
	linesBefore := countLines(t, logPath)
	var took []time.Duration
	for i := 0; i < 50; i++ {
		name := "n" + strconv.Itoa(i)
		if i == 1 {
			continue // the flood asks for n1 itself, refused
		}
		t0 := time.Now()
		c, err := ipc.Dial(s.sock)
		if err != nil {
			t.Fatalf("dial during the flood: %v", err)
		}
		r, err := c.Do(ipc.Request{Op: ipc.OpRelease, Name: name}, 5*time.Second)
		c.Close()
		took = append(took, time.Since(t0))
		if err != nil || r.Status != ipc.StatusOK || r.Count != 1 {
			t.Errorf("release %s during the flood: %+v, %v; want 1 socket closed", name, r, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, cmd := range floods {
		cmd.Wait()
	}
	if time.Since(start) < flood {
		t.Errorf("the flood ended after %v; want %v", time.Since(start), flood)
	}
	after := rss(t, daemon.Process.Pid)
	lines := countLines(t, logPath) - linesBefore
	if after > before+1024 {
		t.Errorf("daemon VmRSS grew from %d kB to %d kB during the flood; want at most 1 MiB of growth", before, after)
	}
	if lines > 400 {
		t.Errorf("the log grew by %d lines during the flood; want a few hundred at most", lines)
	}
	mustBeHeld(t, 7800, inetaddr.UDP)
	slices.Sort(took)
	p99 := took[len(took)*99/100]
	t.Logf("flood: 2 processes of uid %d for %v; %d root releases answered, p50 %v, p99 %v, max %v; VmRSS %d kB -> %d kB; %d log lines",
		nobody, flood, len(took), took[len(took)/2], p99, took[len(took)-1], before, after, lines)
}

// countLines counts the lines of a file.
func countLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// TestReplyAcrossNetworkNamespaces: a client in another network namespace
// that shares the socket path (a container with the host's
// /run/portreserve mounted) gets its replies. Replies to its autobind
// address went to that name in the daemon's namespace instead.
func TestReplyAcrossNetworkNamespaces(t *testing.T) {
	needNetns(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	s := newSetup(t, map[string]string{"a": "7611/tcp\n", "b": "7612/tcp\n"})
	s.mustStart(t)
	r := runCmd(t, exec.Command(unshare, "--net", bin("portrelease"), "-s", s.sock, "-t", "2", "a"))
	if r.code != 0 {
		t.Fatalf("portrelease a from another network namespace = %d, %q; want 0", r.code, r.stderr)
	}
	mustBeFree(t, 7611, inetaddr.TCP)
	r = runCmd(t, exec.Command(unshare, "--net", bin("portreserve-check"), "-s", s.sock, "-c", s.conf, "-t", "2", "-n", "--no-probe", "b"))
	if r.code != 0 || !strings.Contains(r.stdout, " held ") {
		t.Errorf("portreserve-check b from another network namespace = %d, %q, %q; want b held", r.code, r.stdout, r.stderr)
	}
}

// TestNoReplyToAddresses: the daemon answers on the channel passed with a
// request and never sends to the client's address, which another process
// could have bound (abstract names are per network namespace).
func TestNoReplyToAddresses(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7621/tcp\n"})
	s.mustStart(t)
	fd, err := rawsock.DialAutobound(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	list := (&ipc.Request{Op: ipc.OpList, ID: 7}).Marshal()
	// Without a channel: nothing comes back at all.
	if err := unix.Send(fd, list, 0); err != nil {
		t.Fatal(err)
	}
	mine, theirs, err := rawsock.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mine)
	if err := unix.Sendmsg(fd, list, unix.UnixRights(theirs), nil, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(theirs)
	buf := make([]byte, ipc.MaxReplySize+1)
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(mine, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	n, err := unix.Read(mine, buf)
	if r, perr := ipc.ParseReply(buf[:max(n, 0)]); err != nil || perr != nil || r.ID != 7 || r.Total != 1 {
		t.Fatalf("reply on the channel: %d bytes, %v, %v; want the list", n, err, perr)
	}
	if n, err := unix.Read(mine, buf); n != 0 || err != nil {
		t.Errorf("after the reply: %d, %v; want end of file (the daemon closed the channel)", n, err)
	}
	// The channel was answered after the request without one: had the
	// daemon sent anything to the address, it would be queued by now.
	if n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Errorf("at the client's address: %d bytes, %v; want nothing (EAGAIN)", n, err)
	}
}

// TestForeignReplyChannelRefused: another user passes, as its reply
// channel, a connection to a socket of root's: the daemon must not answer
// root's socket on that user's behalf.
func TestForeignReplyChannelRefused(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7631/tcp\n"})
	s.mustStart(t)
	s.openToOthers()
	listener := filepath.Join(s.dir, "root.sock")
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: listener}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(listener, 0o666)
	if err := unix.Listen(lfd, 4); err != nil {
		t.Fatal(err)
	}
	if line := startHostile(t, asNobody(t, "foreign-channel", s.sock, listener)); line != "sent sent" {
		t.Fatalf("hostile client said %q", line)
	}
	conn, _, err := unix.Accept(lfd)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(conn)
	// A list of the daemon's own afterwards: the hostile request, queued
	// before it, has been dealt with by then.
	if r := s.check(t, "-n", "--no-probe"); r.code != 0 {
		t.Fatalf("portreserve-check = %d, %q", r.code, r.stderr)
	}
	buf := make([]byte, ipc.MaxReplySize)
	if n, _, err := unix.Recvfrom(conn, buf, unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Errorf("root's socket received %d bytes, %v; want nothing (EAGAIN)", n, err)
	}
}

// TestHostileRandomMemory: 20,000 random datagrams from another user
// (random bytes, after the magic or not, legacy names, half with a reply
// channel) leave the daemon's anonymous memory where it was: refusing
// them allocates nothing. Each allocated before, and the daemon's RssAnon
// went from 800 kB to 5.8 MB and stayed there.
func TestHostileRandomMemory(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7701/tcp\n"})
	s.mustStart(t)
	s.openToOthers()
	pid := s.daemonPid()
	before := procStatus(t, pid, "RssAnon")
	out, err := asNobody(t, "random", s.sock, "20000").CombinedOutput()
	if err != nil || string(out) != "sent 20000\n" {
		t.Fatalf("hostile random: %v, %q", err, out)
	}
	after := procStatus(t, pid, "RssAnon")
	t.Logf("daemon RssAnon %d kB before 20,000 random datagrams, %d kB after", before, after)
	if after-before > 256 {
		t.Errorf("RssAnon grew by %d kB; want at most 256", after-before)
	}
}
