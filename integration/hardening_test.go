//go:build integration

package integration

// Faults and hostile input: kills at the worst moment, unwritable and
// read-only paths, too few descriptors, broken configuration, floods of
// garbage, signal storms, and the security properties of the socket,
// the pidfile and the credentials.

import (
	"crypto/rand"
	"math/big"
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

// procStatus returns the number of a field of process pid's
// /proc/PID/status: procStatus(t, pid, "VmRSS") is its VmRSS in kB.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// rss returns a process's VmRSS in kB.
func rss(t *testing.T, pid int) int { return procStatus(t, pid, "VmRSS") }

func TestKill9DuringStartup(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"big": "24000-25999\n", "cups": "ipp\n"})
	for i := 0; i < 8; i++ {
		// Kill the foreground daemon at a random moment of its start-up:
		// between binds, or before readiness.
		delay, _ := rand.Int(rand.Reader, big.NewInt(30))
		cmd := exec.Command(bin("portreserve"), s.args("-f")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(delay.Int64()) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// A fresh start is clean and holds everything.
		if r := s.start(t); r.code != 0 {
			t.Fatalf("start after kill -9 at %d ms = %d, %q", delay, r.code, r.stderr)
		}
		for port := 24000; port <= 25999; port += 199 {
			if !quickHeld(t, port, inetaddr.TCP) || !quickHeld(t, port, inetaddr.UDP) {
				t.Fatalf("after kill -9 at %d ms and a restart, %d not held", delay, port)
			}
		}
		mustBeHeld(t, 631, inetaddr.TCP)
		s.kill()
	}
}

func TestUnwritablePaths(t *testing.T) {
	needNetns(t)
	if noMountns != "" {
		t.Skip(noMountns)
	}
	s := newSetup(t, map[string]string{"a": "7501/tcp\n"})
	ro := filepath.Join(s.dir, "ro")
	os.MkdirAll(filepath.Join(ro, "run"), 0o755)
	// A read-only mount (in the tests' private mount namespace): root's
	// permissions do not help there.
	if err := unix.Mount(ro, ro, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
	if err := unix.Mount("", ro, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		desc string
		args []string
		want string
	}{
		{"pidfile on a read-only mount", []string{"-c", s.conf, "-s", s.sock, "-p", filepath.Join(ro, "portreserve.pid")}, "read-only file system"},
		{"socket directory on a read-only mount", []string{"-c", s.conf, "-s", filepath.Join(ro, "run", "sub", "socket"), "-p", s.pidfile}, "read-only file system"},
		{"socket path longer than sun_path", []string{"-c", s.conf, "-s", "/tmp/" + strings.Repeat("x", 120), "-p", s.pidfile}, "path longer than 107 bytes"},
	} {
		r := run(t, "portreserve", tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: portreserve = %d, %q; want 2 and %q", tt.desc, r.code, r.stderr, tt.want)
		}
		// No half-started daemon holds anything.
		mustBeFree(t, 7501, inetaddr.TCP)
	}
}

func TestFewerDescriptorsThanReservations(t *testing.T) {
	needNetns(t)
	need(t, "prlimit", "setpriv")
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop CAP_SYS_RESOURCE with setpriv")
	}
	s := newSetup(t, map[string]string{"big": "26000-26499\n"}) // 1,000 sockets
	// A hard limit of 300, and no CAP_SYS_RESOURCE to raise it.
	cmd := exec.Command("prlimit", "--nofile=300:300", "setpriv", "--bounding-set=-sys_resource", "--inh-caps=-sys_resource",
		bin("portreserve"))
	cmd.Args = append(cmd.Args, s.args()...)
	r := runCmd(t, cmd)
	t.Cleanup(s.kill)
	if r.code != 1 || !strings.Contains(r.stderr, "could not be held: out of file descriptors (RLIMIT_NOFILE is 300)") {
		t.Fatalf("portreserve with 300 descriptors for 1,000 sockets = %d, %q; want 1 and how many could not be held", r.code, r.stderr)
	}
	// The rest are held.
	entries := s.list(t)
	held, failed := 0, 0
	for _, e := range entries {
		switch e.State {
		case ipc.Held:
			held++
			if !quickHeld(t, int(e.Port), e.Proto) {
				t.Errorf("%d/%v listed held but free", e.Port, e.Proto)
			}
		case ipc.Failed:
			failed++
		}
	}
	want := strconv.Itoa(failed) + " reservations could not be held: out of file descriptors"
	if held < 200 || failed == 0 || held+failed != 1000 || !strings.Contains(r.stderr, want) {
		t.Errorf("held %d, failed %d of 1000; stderr %q; want most of 300 held, the rest failed and counted", held, failed, r.stderr)
	}
}

func TestBrokenConfiguration(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{
		"good":   "7511/tcp\n",
		"binary": "\x00\x01\x02\xff\xfe\n7512/tcp\x00\n",
		"long":   strings.Repeat("9", 100000) + "\n7513/tcp\n",
	})
	// 100 MB, sparse: reported without being read.
	huge, err := os.Create(filepath.Join(s.conf, "huge"))
	if err != nil {
		t.Fatal(err)
	}
	huge.Truncate(100 << 20)
	huge.Close()
	os.Mkdir(filepath.Join(s.conf, "adir"), 0o755)
	os.Symlink("nowhere", filepath.Join(s.conf, "dangling"))
	// Unreadable even for root: reading /proc/self/mem at offset 0 fails.
	os.Symlink("/proc/self/mem", filepath.Join(s.conf, "unreadable"))
	garbage := filepath.Join(s.dir, "services")
	junk := make([]byte, 4096)
	rand.Read(junk)
	os.WriteFile(garbage, junk, 0o644)
	s.write(t, "named", "ipp\n")
	r := s.start(t, "-S", garbage)
	if r.code != 0 {
		t.Fatalf("portreserve = %d, %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"huge: larger than 1 MiB, skipped",
		"adir: not a regular file, skipped",
		"dangling: dangling symbolic link, skipped",
		"unreadable: read: ",
		"long:1: port " + strings.Repeat("9", 100000) + " out of range",
		"binary:1: ",
		`named:1: unknown service "ipp" (not in ` + garbage + `)`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want[:min(len(want), 80)])
		}
	}
	mustBeHeld(t, 7511, inetaddr.TCP)
	mustBeHeld(t, 7513, inetaddr.TCP)
	s.kill()
	// A services "file" that cannot be read is an error for the names,
	// not for the ports.
	r = s.start(t, "-S", s.conf)
	if r.code != 0 || !strings.Contains(r.stderr, "is a directory") {
		t.Errorf("portreserve -S DIR = %d, %q; want 0 and the read error", r.code, r.stderr)
	}
	mustBeHeld(t, 7511, inetaddr.TCP)
}

func TestGarbageFlood(t *testing.T) {
	needNetns(t)
	files := map[string]string{}
	for i := 0; i < 50; i++ {
		files["n"+strconv.Itoa(i)] = strconv.Itoa(27000+i) + "/tcp\n"
	}
	files["keep"] = "27100/udp\n"
	s := newSetup(t, files)
	s.mustStart(t)
	pid := s.daemonPid()
	// Warm up until the Go heap has reached its steady size, then
	// measure: what must not happen is growth with the number of
	// datagrams.
	for i := 0; i < 30000; i++ {
		sendGarbage(s.sock, i)
	}
	before := rss(t, pid)
	var wg sync.WaitGroup
	const senders, each = 4, 25000
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				sendGarbage(s.sock, g*each+i)
			}
		}(g)
	}
	// Valid releases go on meanwhile; every one is answered.
	for i := 0; i < 50; i++ {
		if r := s.release(t, "-t", "30", "n"+strconv.Itoa(i)); r.code != 0 {
			t.Errorf("portrelease n%d during the flood = %d, %q", i, r.code, r.stderr)
		}
		if quickHeld(t, 27000+i, inetaddr.TCP) {
			t.Errorf("port %d still held after its release", 27000+i)
		}
	}
	wg.Wait()
	after := rss(t, pid)
	if syscall.Kill(pid, 0) != nil {
		t.Fatalf("the daemon died under the flood")
	}
	if after > before+1024 {
		t.Errorf("VmRSS grew from %d kB to %d kB over %d garbage datagrams; want under 1 MiB of growth", before, after, senders*each)
	}
	mustBeHeld(t, 27100, inetaddr.UDP)
	t.Logf("flood: %d garbage datagrams from %d senders; 50 releases answered; VmRSS %d kB -> %d kB", senders*each, senders, before, after)
}

// sendGarbage sends one malformed datagram of a size and kind that depend
// on i, without waiting for an answer.
func sendGarbage(sock string, i int) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if i%2 == 0 {
		unix.Bind(fd, &unix.SockaddrUnix{}) // answerable: gets an error reply
	}
	var b []byte
	switch i % 4 {
	case 0:
		b = make([]byte, i%3000)
		rand.Read(b)
	case 1:
		b = append([]byte(ipc.Magic), byte(i))
	case 2:
		b = (&ipc.Request{Op: ipc.Op(200), ID: uint32(i)}).Marshal()
	case 3:
		b = []byte("no such name!")
	}
	unix.Sendto(fd, b, 0, &unix.SockaddrUnix{Name: sock})
}

func TestSignalStorm(t *testing.T) {
	needNetns(t)
	files := map[string]string{}
	for i := 0; i < 40; i++ {
		files["n"+strconv.Itoa(i)] = strconv.Itoa(27200+i) + "\n"
	}
	s := newSetup(t, files)
	s.mustStart(t)
	pid := s.daemonPid()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			syscall.Kill(pid, syscall.SIGHUP)
		}
	}()
	// Release the even names while the HUPs come in.
	for i := 0; i < 40; i += 2 {
		if r := s.release(t, "n"+strconv.Itoa(i)); r.code != 0 {
			t.Errorf("portrelease n%d = %d, %q", i, r.code, r.stderr)
		}
	}
	wg.Wait()
	// Whatever the interleaving: released names stay released (a reload
	// never takes them again), the others stay held, and the list agrees
	// with the ports.
	c, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Wait for the last HUPs to be handled: a reload request is served
	// after them.
	c.Do(ipc.Request{Op: ipc.OpReload}, 5*time.Second)
	entries, err := c.List(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 80 {
		t.Fatalf("list has %d entries; want 80", len(entries))
	}
	for _, e := range entries {
		i, _ := strconv.Atoi(strings.TrimPrefix(e.Name, "n"))
		want := ipc.Held
		if i%2 == 0 {
			want = ipc.Released
		}
		if e.State != want || quickHeld(t, int(e.Port), e.Proto) != (want == ipc.Held) {
			t.Errorf("%s %d/%v is %v (bound by the daemon: %v); want %v", e.Name, e.Port, e.Proto, e.State, quickHeld(t, int(e.Port), e.Proto), want)
		}
	}
}

func TestSocketAndPidfileSecurity(t *testing.T) {
	needNetns(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to prepare files owned by another user")
	}
	s := newSetup(t, map[string]string{"a": "7521/tcp\n"})
	s.mustStart(t)
	// The socket: 0666 (anyone may list; credentials decide the rest) in
	// a 0755 directory owned by the daemon's user.
	var st unix.Stat_t
	unix.Lstat(s.sock, &st)
	if st.Mode&0o777 != 0o666 || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		t.Errorf("socket mode %o; want a socket, 0666", st.Mode)
	}
	// The admin socket: 0600, root's and the daemon's user's only; another
	// user cannot even send to it.
	unix.Lstat(ipc.AdminPath(s.sock), &st)
	if st.Mode&0o777 != 0o600 || st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Uid != 0 {
		t.Errorf("admin socket mode %o uid %d; want a socket, 0600, root", st.Mode, st.Uid)
	}
	s.openToOthers()
	if out, err := asNobody(t, "forge", ipc.AdminPath(s.sock)).CombinedOutput(); err == nil || !strings.Contains(string(out), "dial: connect "+ipc.AdminPath(s.sock)+": permission denied") {
		t.Errorf("another user sending to the admin socket: %v, %q; want permission denied", err, out)
	}
	unix.Lstat(filepath.Dir(s.sock), &st)
	if st.Mode&0o777 != 0o755 || st.Uid != 0 {
		t.Errorf("socket directory mode %o uid %d; want 0755, root", st.Mode&0o777, st.Uid)
	}
	unix.Lstat(s.pidfile, &st)
	if st.Mode&0o777 != 0o644 || st.Uid != 0 {
		t.Errorf("pidfile mode %o uid %d; want 0644, root", st.Mode&0o777, st.Uid)
	}
	// No descriptor leaked into the re-executed daemon: stdio, the
	// control socket, the pidfile and the held socket only.
	fds, _ := os.ReadDir("/proc/" + strconv.Itoa(s.daemonPid()) + "/fd")
	var kinds []string
	ambient := "," + os.Getenv(envAmbient) + ","
	for _, fd := range fds {
		if strings.Contains(ambient, ","+fd.Name()+",") {
			continue
		}
		target, _ := os.Readlink("/proc/" + strconv.Itoa(s.daemonPid()) + "/fd/" + fd.Name())
		kind := target
		if strings.HasPrefix(target, "socket:") {
			kind = "socket"
		}
		kinds = append(kinds, kind)
	}
	// Allowed: stdio on /dev/null, the control and the held socket (and a
	// syslog connection), the pidfile, the kernel log, and the Go
	// runtime's own poller. Nothing from the parent: no pipe, no
	// configuration file.
	sockets := 0
	for _, k := range kinds {
		switch k {
		case "/dev/null", s.pidfile, "/dev/kmsg", "anon_inode:[eventpoll]", "anon_inode:[eventfd]":
		case "socket":
			sockets++
		default:
			t.Errorf("the daemon has a descriptor for %s, which it should not", k)
		}
	}
	if sockets < 2 || sockets > 3 {
		t.Errorf("the daemon has %d sockets (%v); want the control socket, the held one and at most a syslog connection", sockets, kinds)
	}
	s.kill()

	// Prepared by someone else: refused, never followed.
	other := newSetup(t, map[string]string{"a": "7522/tcp\n"})
	for _, tt := range []struct {
		desc    string
		prepare func()
		want    string
	}{
		{"pidfile is a symlink", func() {
			os.Symlink(filepath.Join(other.dir, "target"), other.pidfile)
		}, "too many levels of symbolic links"},
		{"pidfile owned by another user", func() {
			os.WriteFile(other.pidfile, nil, 0o644)
			os.Chown(other.pidfile, 65534, 65534)
		}, "owned by uid 65534"},
		{"socket directory is a symlink", func() {
			os.Mkdir(filepath.Join(other.dir, "elsewhere"), 0o755)
			os.Symlink(filepath.Join(other.dir, "elsewhere"), filepath.Dir(other.sock))
		}, "a symbolic link; refusing it"},
		{"socket directory owned by another user", func() {
			os.Mkdir(filepath.Dir(other.sock), 0o755)
			os.Chown(filepath.Dir(other.sock), 65534, 65534)
		}, "owned by uid 65534; refusing it"},
		{"socket directory writable by others", func() {
			os.Mkdir(filepath.Dir(other.sock), 0o777)
			os.Chmod(filepath.Dir(other.sock), 0o777)
		}, "writable by every user; refusing it"},
	} {
		os.Remove(other.pidfile)
		os.RemoveAll(filepath.Dir(other.sock))
		tt.prepare()
		r := other.start(t)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: portreserve = %d, %q; want 2 and %q", tt.desc, r.code, r.stderr, tt.want)
		}
		mustBeFree(t, 7522, inetaddr.TCP)
		if _, err := os.Stat(filepath.Join(other.dir, "target")); err == nil {
			t.Errorf("%s: the symlink was followed", tt.desc)
		}
	}
}

func TestCredentials(t *testing.T) {
	needNetns(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	s := newSetup(t, map[string]string{"a": "7531/tcp\n", "b": "7532/tcp\n"})
	for d := s.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	s.mustStart(t)
	other := exec.Command(bin("hostile"), "forge", s.sock)
	other.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := other.CombinedOutput()
	want := "forge: EPERM\nrelease: permission denied\nrelease-all: permission denied\nreload: permission denied\nhand-off: permission denied\nhold: permission denied\nlist: ok\n"
	if err != nil || string(out) != want {
		t.Errorf("as nobody: %v\n%s\nwant\n%s", err, out, want)
	}
	mustBeHeld(t, 7531, inetaddr.TCP)
	mustBeHeld(t, 7532, inetaddr.TCP)
}
