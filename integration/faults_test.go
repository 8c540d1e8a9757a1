//go:build integration

package integration

// Faults a real machine produces during start-up: signals while the ports
// are being bound, a notification descriptor that is not there,
// descriptors left open by the caller, too few descriptors on reload.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"portreserve/integration/internal/rawsock"
	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// foreground starts portreserve -f -N 3 with extra arguments, logging to
// a file, and returns it with the log's path and the readiness pipe.
func (s *setup) foreground(t *testing.T, wrap []string, extra ...string) (*exec.Cmd, string, *bufio.Reader) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	ready, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append(wrap, bin("portreserve")), s.args(append([]string{"-f", "-N", "3"}, extra...)...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logFile
	cmd.ExtraFiles = []*os.File{readyW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readyW.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		ready.Close()
	})
	return cmd, logPath, bufio.NewReader(ready)
}

// TestHupDuringStartup: a SIGHUP while 10,000 ports are being bound is
// acted on once the daemon is ready. Before signals were set up first, it
// killed the daemon (exit status 129) every time. The signal goes once the
// pidfile names the daemon (written after signals are set up, before the
// configuration is read): a fixed delay from exec alone also hit the Go
// runtime's own start on a busy machine, before any program can take a
// signal.
func TestHupDuringStartup(t *testing.T) {
	needNetns(t)
	for _, delay := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond} {
		s := newSetup(t, map[string]string{"big": "30000-34999\n"})
		cmd, logPath, ready := s.foreground(t, nil)
		pid := strconv.Itoa(cmd.Process.Pid) + "\n"
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Microsecond) {
			if b, _ := os.ReadFile(s.pidfile); string(b) == pid {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pidfile never named the daemon; log:\n%s", readFile(t, logPath))
			}
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGHUP)
		if _, err := ready.ReadString('\n'); err != nil {
			state, _ := cmd.Process.Wait()
			t.Fatalf("SIGHUP %v after start: no readiness (%v); the daemon ended: %v", delay, err, state)
		}
		s.waitHeld(t, "big")
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(readFile(t, logPath), "SIGHUP: reading the configuration again") {
			if time.Now().After(deadline) {
				t.Fatalf("SIGHUP %v after start was never acted on; log:\n%s", delay, readFile(t, logPath))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("SIGHUP %v after start: the daemon is gone", delay)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// readFile returns a file's contents, "" when it cannot be read.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, _ := os.ReadFile(path)
	return string(data)
}

// stderrFile creates a file, closed when the test ends, to be a
// command's stderr where a pipe will not do: a detached daemon with no
// syslog keeps the stderr it was started with, and a pipe read to its end
// would wait for the daemon to exit.
func stderrFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestNotifyFdChecked: -N names a descriptor the daemon must have been
// given. Unchecked, -N 3 without a descriptor 3 wrote the newline into the
// pidfile, which had got number 3, and closed it, dropping its lock.
func TestNotifyFdChecked(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7641/tcp\n"})
	for _, tt := range []struct {
		fd   string
		want string
	}{
		{"3", "portreserve: notify-fd 3: not an open descriptor"},
		{"1", "portreserve: notify-fd 1: standard input, output and error cannot be the notification descriptor"},
	} {
		r := run(t, "portreserve", s.args("-f", "-N", tt.fd)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("portreserve -f -N %s without it = %d, %q; want 2 and %q", tt.fd, r.code, r.stderr, tt.want)
		}
		if _, err := os.Stat(s.pidfile); err == nil {
			t.Errorf("portreserve -f -N %s left a pidfile", tt.fd)
		}
	}
	// Detached, the descriptor goes with the daemon, at its number.
	ready, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer ready.Close()
	cmd := exec.Command(bin("portreserve"), s.args("-N", "3")...)
	cmd.ExtraFiles = []*os.File{readyW}
	r := runCmd(t, cmd)
	readyW.Close()
	t.Cleanup(s.kill)
	if r.code != 0 {
		t.Fatalf("portreserve -N 3 (detached) = %d, %q; want 0", r.code, r.stderr)
	}
	if line, err := bufio.NewReader(ready).ReadString('\n'); line != "\n" || err != nil {
		t.Errorf("readiness on -N 3, detached: %q, %v; want a newline", line, err)
	}
	mustBeHeld(t, 7641, inetaddr.TCP)
}

// TestDetachedDescriptors: the detached daemon keeps nothing its caller
// left open without close-on-exec. It kept every such descriptor: a log
// file, even an open /etc/shadow.
func TestDetachedDescriptors(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7651/tcp\n"})
	secret := filepath.Join(s.dir, "secret")
	if err := os.WriteFile(secret, []byte("password"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin("portreserve"), s.args()...)
	cmd.ExtraFiles = []*os.File{f, f, f} // 3, 4 and 5, without close-on-exec
	r := runCmd(t, cmd)
	t.Cleanup(s.kill)
	if r.code != 0 {
		t.Fatalf("portreserve = %d, %q", r.code, r.stderr)
	}
	pid := s.daemonPid()
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name()); target == secret {
			t.Errorf("the daemon has descriptor %s open on %s, which its caller left open", fd.Name(), secret)
		}
	}
}

// TestReloadOutOfDescriptors: a reload that runs out of descriptors says
// what the limit is. It said "(RLIMIT_NOFILE is 0)".
func TestReloadOutOfDescriptors(t *testing.T) {
	needNetns(t)
	need(t, "prlimit", "setpriv")
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop CAP_SYS_RESOURCE with setpriv")
	}
	s := newSetup(t, map[string]string{"small": "26600-26609/udp\n"})
	cmd, logPath, ready := s.foreground(t, []string{"prlimit", "--nofile=300:300", "setpriv", "--bounding-set=-sys_resource", "--inh-caps=-sys_resource"})
	if _, err := ready.ReadString('\n'); err != nil {
		t.Fatalf("no readiness: %v\n%s", err, readFile(t, logPath))
	}
	s.write(t, "big", "26000-26499/udp\n") // 500 more sockets than the limit allows
	cmd.Process.Signal(syscall.SIGHUP)
	want := "could not be held: out of file descriptors (RLIMIT_NOFILE is 300)"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readFile(t, logPath), want) {
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP, the log says\n%s\nwant %q", readFile(t, logPath), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPidfileFaults: a pidfile that is a hard link to another file is
// refused (it was overwritten), and a full file system leaves no empty,
// unlocked pidfile behind (it did).
func TestPidfileFaults(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7661/tcp\n"})
	other := filepath.Join(s.dir, "other")
	if err := os.WriteFile(other, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(other, s.pidfile); err != nil {
		t.Fatal(err)
	}
	r := s.start(t)
	if r.code != 2 || !strings.Contains(r.stderr, "has 2 links") {
		t.Errorf("portreserve with the pidfile a hard link = %d, %q; want 2, refused", r.code, r.stderr)
	}
	if got := readFile(t, other); got != "keep me\n" {
		t.Errorf("the linked file now holds %q; want it untouched", got)
	}
	os.Remove(s.pidfile)

	if noMountns != "" {
		t.Skip(noMountns)
	}
	full := filepath.Join(s.dir, "full")
	os.Mkdir(full, 0o755)
	if err := syscall.Mount("tmpfs", full, "tmpfs", 0, "size=8k"); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v", err)
	}
	defer syscall.Unmount(full, syscall.MNT_DETACH)
	os.WriteFile(filepath.Join(full, "filler"), make([]byte, 64<<10), 0o644) // fails part-way: full
	pidfile := filepath.Join(full, "portreserve.pid")
	r = run(t, "portreserve", "-c", s.conf, "-s", s.sock, "-p", pidfile)
	t.Cleanup(s.kill)
	if r.code != 2 || !strings.Contains(r.stderr, "no space left on device") {
		t.Errorf("portreserve with a full /run = %d, %q; want 2, no space", r.code, r.stderr)
	}
	if _, err := os.Stat(pidfile); err == nil {
		t.Errorf("a pidfile is left behind on the full file system")
	}
}

// TestConcurrentHoldAgain: eight portreserve NAME at once, with no daemon
// running: all exit 0, every name is held, by one daemon. The losers of
// the race for the pidfile exited 2, "already running", their names free.
func TestConcurrentHoldAgain(t *testing.T) {
	needNetns(t)
	files := map[string]string{}
	for i := 0; i < 8; i++ {
		files["s"+strconv.Itoa(i)] = strconv.Itoa(7670+i) + "/tcp\n"
	}
	s := newSetup(t, files)
	t.Cleanup(s.kill)
	results := make(chan result, 8)
	for i := 0; i < 8; i++ {
		go func(name string) {
			cmd := exec.Command(bin("portreserve"), s.args(name)...)
			var out, errOut strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			r := result{stdout: out.String(), stderr: errOut.String()}
			if ee, ok := err.(*exec.ExitError); ok {
				r.code = ee.ExitCode()
			}
			results <- r
		}("s" + strconv.Itoa(i))
	}
	for i := 0; i < 8; i++ {
		if r := <-results; r.code != 0 {
			t.Errorf("one of eight concurrent portreserve NAME = %d, %q; want 0", r.code, r.stderr)
		}
	}
	for i := 0; i < 8; i++ {
		mustBeHeld(t, 7670+i, inetaddr.TCP)
	}
	// The daemons: processes whose command line names this setup's
	// configuration directory.
	var daemons []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline := readFile(t, "/proc/"+p.Name()+"/cmdline")
		if strings.HasPrefix(cmdline, "portreserve\x00") && strings.Contains(cmdline, "\x00"+s.conf+"\x00") {
			daemons = append(daemons, p.Name())
		}
	}
	if len(daemons) != 1 {
		t.Errorf("daemons running: pids %q; want one", daemons)
	}
}

// capabilities returns the Cap* and NoNewPrivs lines of a process's status.
func capabilities(t *testing.T, pid int) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(readFile(t, "/proc/"+strconv.Itoa(pid)+"/status"), "\n") {
		if f := strings.Fields(line); len(f) == 2 && (strings.HasPrefix(f[0], "Cap") || f[0] == "NoNewPrivs:") {
			got[strings.TrimSuffix(f[0], ":")] = f[1]
		}
	}
	return got
}

// TestLeastPrivilege: once its ports are held, the daemon keeps only
// CAP_NET_BIND_SERVICE and sets no_new_privs; it still holds a port below
// 1024 again. It kept every capability root has. A daemon started by
// another user with only that capability works the same.
func TestLeastPrivilege(t *testing.T) {
	needNetns(t)
	need(t, "setpriv")
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test is about what root's daemon keeps")
	}
	s := newSetup(t, map[string]string{"cups": "631/tcp\n", "rsync": "873/tcp\n"})
	s.mustStart(t)
	// The daemon drops its privileges right after readiness, before it
	// acts on any request: once a list is answered, they are gone.
	s.waitHeld(t, "cups")
	want := map[string]string{"CapEff": "0000000000000400", "CapPrm": "0000000000000400", "CapBnd": "0000000000000400",
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1"}
	got := capabilities(t, s.daemonPid())
	for k, v := range want {
		if got[k] != v {
			t.Errorf("root's daemon: %s %s; want %s", k, got[k], v)
		}
	}
	if r := s.release(t, "cups"); r.code != 0 {
		t.Fatalf("portrelease cups = %d, %q", r.code, r.stderr)
	}
	if r := s.start(t, "cups"); r.code != 0 {
		t.Errorf("portreserve cups (hold 631 again, with only CAP_NET_BIND_SERVICE) = %d, %q; want 0", r.code, r.stderr)
	}
	mustBeHeld(t, 631, inetaddr.TCP)
	s.kill()

	// Another user with CAP_NET_BIND_SERVICE only.
	u := newSetup(t, map[string]string{"ldap": "636/tcp\n"})
	for _, d := range []string{u.dir, u.conf} {
		os.Chown(d, nobody, nobody)
	}
	u.openToOthers()
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all,+net_bind_service", "--ambient-caps=+net_bind_service", bin("portreserve"))
	cmd.Args = append(cmd.Args, u.args()...)
	// No syslog here for uid 65534 (no /dev/log, /dev/kmsg is root's):
	// the detached daemon keeps the stderr it was started with, so a
	// file, which nobody reads to its end.
	errFile := stderrFile(t)
	cmd.Stderr = errFile
	err := cmd.Run()
	t.Cleanup(u.kill)
	if err != nil {
		t.Fatalf("portreserve as uid %d with CAP_NET_BIND_SERVICE: %v, %q; want 0", nobody, err, readFile(t, errFile.Name()))
	}
	mustBeHeld(t, 636, inetaddr.TCP)
	u.waitHeld(t, "ldap")
	got = capabilities(t, u.daemonPid())
	if got["CapEff"] != "0000000000000400" || got["CapPrm"] != "0000000000000400" || got["NoNewPrivs"] != "1" {
		t.Errorf("uid %d's daemon: %v; want CapEff and CapPrm 400, NoNewPrivs 1", nobody, got)
	}
}

// TestStrictModes: a directory of another user's above the configuration
// or the socket lets that user replace them. portreserve-check warns about
// the configuration's (it was silent), and the daemon refuses the
// socket's (it looked at the last component only).
func TestStrictModes(t *testing.T) {
	needNetns(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	s := newSetup(t, map[string]string{"a": "7681/tcp\n"})
	if err := os.Chown(s.dir, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	r := s.check(t, "-n", "--no-probe")
	if want := s.dir + ": warning: directory above the configuration owned by uid 1000: that user can replace the configuration"; !strings.Contains(r.stderr, want) {
		t.Errorf("portreserve-check stderr %q; want %q", r.stderr, want)
	}
	r = s.start(t)
	if want := "above it, " + s.dir + ": owned by uid 1000; refusing it"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("portreserve with the socket under uid 1000's directory = %d, %q; want 2 and %q", r.code, r.stderr, want)
	}
}

// TestTimeoutOnSend: -t bounds sending too. With the daemon stopped and
// its queue full, portrelease -t 1 waited in send (only receiving had a
// timeout) for as long as the daemon stayed stopped.
func TestTimeoutOnSend(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7691/tcp\n"})
	s.mustStart(t)
	pid := s.daemonPid()
	syscall.Kill(pid, syscall.SIGSTOP)
	defer syscall.Kill(pid, syscall.SIGCONT)
	// Fill the daemon's queue.
	fd, err := rawsock.DialAutobound(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	list := (&ipc.Request{Op: ipc.OpList}).Marshal()
	for i := 0; i < 100000; i++ {
		if err := syscall.Sendto(fd, list, syscall.MSG_DONTWAIT, nil); err != nil {
			break
		}
	}
	cmd := exec.Command(bin("portrelease"), "-s", s.sock, "-t", "1", "a")
	done := make(chan result, 1)
	go func() { done <- runCmd(t, cmd) }()
	select {
	case r := <-done:
		if r.code != 2 || !strings.Contains(r.stderr, "no reply from the daemon within 1000 ms") {
			t.Errorf("portrelease -t 1 to a stopped daemon with a full queue = %d, %q; want 2, no reply", r.code, r.stderr)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("portrelease -t 1 was still waiting after 20 s")
	}
}

// TestHandoffWithoutChannelKeepsRelease: a hand-off request the daemon
// cannot answer leaves a released name released. It cleared the mark, so
// the next SIGHUP held the name's ports again.
func TestHandoffWithoutChannelKeepsRelease(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7695/tcp\n", "b": "7696/tcp\n"})
	s.mustStart(t)
	if r := s.release(t, "a"); r.code != 0 {
		t.Fatalf("portrelease a = %d, %q", r.code, r.stderr)
	}
	// From an unbound socket, without a channel: nobody can be answered.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Sendto(fd, (&ipc.Request{Op: ipc.OpHandoff, Name: "a"}).Marshal(), 0, &syscall.SockaddrUnix{Name: s.sock})
	syscall.Close(fd)
	// A list on the same (public) socket: once it is answered, the
	// request before it has been served. Then a reload, as SIGHUP does.
	sendRaw(t, s.sock, (&ipc.Request{Op: ipc.OpList}).Marshal())
	c, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Do(ipc.Request{Op: ipc.OpReload}, 5*time.Second); err != nil || r.Status != ipc.StatusOK {
		t.Fatalf("reload: %+v, %v", r, err)
	}
	entries, err := c.List(5 * time.Second)
	for _, e := range entries {
		if e.Name == "a" && e.State != ipc.Released {
			t.Errorf("after a hand-off request without a channel and a reload: a is %v (%v); want released", e.State, err)
		}
	}
	mustBeFree(t, 7695, inetaddr.TCP)
}

// TestJournalPriorities: when stderr is systemd's journal ($JOURNAL_STREAM
// names it), lines carry the sd-daemon priority prefix and no doubled
// "portreserve:" (the journal names the program already), so that
// journalctl -p warning shows a failed hold. They went to the journal at
// priority info.
func TestJournalPriorities(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7701/tcp\n", "b": "7702/tcp\n"})
	taken := bindHere(t, 7701, inetaddr.TCP)
	defer syscall.Close(taken)
	logFile, journalStream := journalFile(t)
	ready, readyW, _ := os.Pipe()
	defer ready.Close()
	cmd := exec.Command(bin("portreserve"), s.args("-f", "-N", "3")...)
	cmd.Env = append(os.Environ(), journalStream)
	cmd.Stderr = logFile
	cmd.ExtraFiles = []*os.File{readyW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readyW.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if _, err := bufio.NewReader(ready).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	log := readFile(t, logFile.Name())
	if !strings.Contains(log, "<3>a: 7701/tcp ("+s.conf+"/a:1): cannot hold: address already in use: another program has it (portreserve-check shows which)\n") ||
		!strings.Contains(log, "<6>holding 1 port for 2 names\n") || strings.Contains(log, "portreserve:") {
		t.Errorf("journal stream:\n%s\nwant <3> before the failed hold, <6> before the rest, no \"portreserve:\"", log)
	}
	// portreserve NAME from a unit's ExecStopPost: its stderr is that
	// unit's journal stream.
	code, out := journalRun(t, nil, s.args("a")...)
	if want := "<3>a: 7701/tcp: cannot hold: address already in use: another program has it (portreserve-check shows which)\n"; code != 1 || out != want {
		t.Errorf("portreserve a into the journal: exit %d, %q; want 1, %q", code, out, want)
	}
}

// journalFile creates a file to stand for the journal's stream and
// returns it with the JOURNAL_STREAM=DEVICE:INODE setting naming it, as
// systemd sets it for a service whose stderr is the journal.
func journalFile(t *testing.T) (*os.File, string) {
	t.Helper()
	f := stderrFile(t)
	var st syscall.Stat_t
	syscall.Fstat(int(f.Fd()), &st)
	return f, "JOURNAL_STREAM=" + strconv.FormatUint(st.Dev, 10) + ":" + strconv.FormatUint(st.Ino, 10)
}

// journalRun runs portreserve with args, its stderr a file that
// $JOURNAL_STREAM names as the journal's stream, and the variables env
// added; it returns the exit status and what it wrote there.
func journalRun(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	f, journalStream := journalFile(t)
	cmd := exec.Command(bin("portreserve"), args...)
	cmd.Env = append(append(os.Environ(), journalStream), env...)
	cmd.Stderr = f
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, readFile(t, f.Name())
}

// TestHoldFromOtherUnit: cups.service's ExecStopPost=portreserve cups
// with portreserve.service stopped started a daemon in cups' cgroup, which
// systemd killed, leaving 631 unguarded without a word. Inside a unit
// ($INVOCATION_ID) with no daemon running, portreserve NAME now starts
// none: it says so at warning priority and exits 0, as portrelease does
// with no daemon. Outside a unit it still starts one.
func TestHoldFromOtherUnit(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"cups": "7711/tcp\n"})
	code, out := journalRun(t, []string{"INVOCATION_ID=0123456789abcdef0123456789abcdef"}, s.args("cups")...)
	if code != 0 || !strings.HasPrefix(out, "<4>cups: not held: no portreserve daemon runs") || !strings.Contains(out, "systemctl start portreserve") {
		t.Errorf("portreserve cups in a unit, no daemon: exit %d, %q; want 0 and a <4> line saying why and what to do", code, out)
	}
	if _, err := os.Stat(s.pidfile); !os.IsNotExist(err) {
		t.Errorf("portreserve cups in a unit left a daemon (pidfile: %v)", err)
	}
	if r := run(t, "portreserve", s.args("cups")...); r.code != 0 {
		t.Fatalf("portreserve cups outside a unit: %v", r)
	}
	t.Cleanup(func() { s.kill() })
	if r := s.check(t, "-n", "--no-probe"); !strings.Contains(r.stdout, "7711") || !strings.Contains(r.stdout, "held") {
		t.Errorf("portreserve cups outside a unit held nothing:\n%s", r.stdout)
	}
}
