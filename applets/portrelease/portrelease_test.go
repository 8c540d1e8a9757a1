package portrelease

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"portreserve/applets"
	"portreserve/internal/inetaddr"
	"portreserve/internal/ipctest"
	"portreserve/ipc"
)

// testEnv returns an environment with buffers for the streams.
func testEnv(environ ...string) (*applets.Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &applets.Env{Stdout: &out, Stderr: &errOut, Environ: environ}, &out, &errOut
}

// noExec fails the test if the command would be run.
func noExec(t *testing.T) execFunc {
	return func(path string, argv, envv []string) error {
		t.Errorf("exec(%q, %q) called; want no exec", path, argv)
		return syscall.ENOSYS
	}
}

func TestRelease(t *testing.T) {
	for _, tt := range []struct {
		desc   string
		answer ipctest.Answer
		args   []string
		status int
		stderr string
		want   []ipc.Request
	}{
		{"released", ipctest.OK, []string{"cups"}, 0, "", []ipc.Request{{Op: ipc.OpRelease, Name: "cups"}}},
		{"two names", ipctest.OK, []string{"cups", "ldap"}, 0, "",
			[]ipc.Request{{Op: ipc.OpRelease, Name: "cups"}, {Op: ipc.OpRelease, Name: "ldap"}}},
		{"everything", ipctest.OK, []string{"*"}, 0, "", []ipc.Request{{Op: ipc.OpReleaseAll}}},
		{"no such name", ipctest.Status(ipc.StatusNoSuchName), []string{"cupz"}, 1,
			"portrelease: cupz: no reservation by that name\n", []ipc.Request{{Op: ipc.OpRelease, Name: "cupz"}}},
		{"denied", ipctest.Status(ipc.StatusDenied), []string{"cups"}, 2,
			"portrelease: cups: permission denied: only root and the user the daemon runs as may change what it holds (run this as root)\n", []ipc.Request{{Op: ipc.OpRelease, Name: "cups"}}},
		{"quiet", ipctest.Status(ipc.StatusDenied), []string{"-q", "cups"}, 2, "", []ipc.Request{{Op: ipc.OpRelease, Name: "cups"}}},
		{"no reply", func(ipc.Request) []ipctest.Reply { return nil }, []string{"-t", "0.2", "cups"}, 2,
			"portrelease: cups: no reply from the daemon within 200 ms\n", []ipc.Request{{Op: ipc.OpRelease, Name: "cups"}}},
		{"worst status wins", func(r ipc.Request) []ipctest.Reply {
			if r.Name == "cupz" {
				return ipctest.Status(ipc.StatusNoSuchName)(r)
			}
			return ipctest.Status(ipc.StatusFailed)(r)
		}, []string{"cupz", "cups"}, 2, "portrelease: cupz: no reservation by that name\nportrelease: cups: failed\n",
			[]ipc.Request{{Op: ipc.OpRelease, Name: "cupz"}, {Op: ipc.OpRelease, Name: "cups"}}},
	} {
		d := ipctest.Start(t, tt.answer)
		env, out, errOut := testEnv()
		status := run(append([]string{"portrelease", "-s", d.Path}, tt.args...), env, noExec(t))
		got := d.Requests()
		for i := range got {
			// Version 1: a daemon from before addresses understands
			// a release.
			if got[i].Version != ipc.Version1 {
				t.Errorf("%s: request %+v sent as version %d; want %d", tt.desc, got[i], got[i].Version, ipc.Version1)
			}
			got[i].ID, got[i].Version = 0, 0
		}
		if status != tt.status || errOut.String() != tt.stderr || out.Len() != 0 || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: portrelease %q = %d, stderr %q, requests %+v; want %d, %q, %+v",
				tt.desc, tt.args, status, errOut, got, tt.status, tt.stderr, tt.want)
		}
	}
}

// TestReleaseNoDaemon: without a daemon nothing is held, so portrelease
// exits 0, as init scripts written for the original rely on; it says so
// (a wrong -s looks the same), unless -q.
func TestReleaseNoDaemon(t *testing.T) {
	env, _, errOut := testEnv()
	sock := filepath.Join(t.TempDir(), "socket")
	if status := run([]string{"portrelease", "-s", sock, "cups"}, env, noExec(t)); status != 0 ||
		errOut.String() != "portrelease: no portreserve daemon at "+sock+"; nothing to release\n" {
		t.Errorf("portrelease cups without a daemon = %d, stderr %q; want 0 and the note", status, errOut)
	}
	errOut.Reset()
	if status := run([]string{"portrelease", "-q", "-s", sock, "cups"}, env, noExec(t)); status != 0 || errOut.Len() != 0 {
		t.Errorf("portrelease -q cups without a daemon = %d, stderr %q; want 0 and nothing said", status, errOut)
	}
	// A socket path nobody serves is the same: the daemon died.
	os.WriteFile(sock, nil, 0o644)
	if status := run([]string{"portrelease", "-s", sock, "cups"}, env, noExec(t)); status != 0 {
		t.Errorf("portrelease cups with a dead socket path = %d, stderr %q; want 0", status, errOut)
	}
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		status int
		stderr string
	}{
		{nil, 2, "portrelease: no NAME given\n"},
		{[]string{"cups.conf"}, 2, `portrelease: bad release name "cups.conf": '.' is not allowed` + "\n"},
		{[]string{"-k", "cups"}, 2, "portrelease: --keep goes with --exec\n"},
		{[]string{"--exec", "cups"}, 2, "portrelease: --exec cups: no COMMAND given\n"},
		{[]string{"--exec", "a:b", "true"}, 2, `portrelease: bad release name "a:b": ':' is not allowed`},
		{[]string{"-t", "x", "cups"}, 2, "portrelease: "},
		{[]string{"--help"}, 0, ""},
	} {
		env, out, errOut := testEnv()
		status := run(append([]string{"portrelease"}, tt.args...), env, noExec(t))
		if status != tt.status || !strings.HasPrefix(errOut.String(), tt.stderr) {
			t.Errorf("portrelease %q = %d, stderr %q; want %d, %q...", tt.args, status, errOut, tt.status, tt.stderr)
		}
		if tt.status == 0 && !strings.HasPrefix(out.String(), "usage: portrelease") {
			t.Errorf("portrelease %q stdout = %q; want the usage", tt.args, out)
		}
	}
}

// execRecorder stands in for execve and records what it was asked to run.
type execRecorder struct {
	path       string
	argv, envv []string
	err        error
}

func (r *execRecorder) exec(path string, argv, envv []string) error {
	r.path, r.argv, r.envv = path, argv, envv
	if r.err != nil {
		return r.err
	}
	return errors.New("exec recorded")
}

// TestExecWithoutSockets: without a daemon, or a name it lacks or holds
// nothing for, the command runs anyway, without LISTEN_* variables, and a
// note says why.
func TestExecWithoutSockets(t *testing.T) {
	none := filepath.Join(t.TempDir(), "socket")
	for _, tt := range []struct {
		desc   string
		socket string
		note   string
	}{
		{"no daemon", none, "portrelease: no portreserve daemon at " + none + "; starting true without sockets\n"},
		{"no such name", ipctest.Start(t, ipctest.Status(ipc.StatusNoSuchName)).Path,
			"portrelease: cups: no reservation by that name; starting true without sockets\n"},
		{"nothing held", ipctest.Start(t, ipctest.OK).Path, "portrelease: cups: nothing held; starting true without sockets\n"},
	} {
		env, _, errOut := testEnv("PATH=/usr/bin:/bin", "LISTEN_FDS=9", "LISTEN_PID=1", "LISTEN_FDNAMES=x", "HOME=/root")
		rec := &execRecorder{}
		status := run([]string{"portrelease", "-s", tt.socket, "--exec", "cups", "--", "true", "-f"}, env, rec.exec)
		if status != 126 || !strings.HasPrefix(errOut.String(), tt.note) {
			t.Errorf("%s: portrelease --exec = %d, stderr %q; want 126 (the stand-in exec fails), %q", tt.desc, status, errOut, tt.note)
		}
		if want := []string{"PATH=/usr/bin:/bin", "HOME=/root"}; !reflect.DeepEqual(rec.envv, want) || !reflect.DeepEqual(rec.argv, []string{"true", "-f"}) ||
			filepath.Base(rec.path) != "true" {
			t.Errorf("%s: exec(%q, %q, %q); want .../true, [true -f], %q", tt.desc, rec.path, rec.argv, rec.envv, want)
		}
	}
}

func TestExecErrors(t *testing.T) {
	env, _, errOut := testEnv("PATH=" + t.TempDir())
	if status := run([]string{"portrelease", "--exec", "cups", "no-such-command"}, env, noExec(t)); status != 127 ||
		!strings.Contains(errOut.String(), "no-such-command: not found in $PATH") {
		t.Errorf("portrelease --exec cups no-such-command = %d, stderr %q; want 127, not found", status, errOut)
	}
	d := ipctest.Start(t, ipctest.Status(ipc.StatusDenied))
	env, _, errOut = testEnv("PATH=/usr/bin:/bin")
	if status := run([]string{"portrelease", "-s", d.Path, "--exec", "cups", "true"}, env, noExec(t)); status != 2 ||
		errOut.String() != "portrelease: cups: hand-off cups: permission denied: only root and the user the daemon runs as may change what it holds (run this as root)\n" {
		t.Errorf("portrelease --exec refused = %d, stderr %q; want 2, permission denied", status, errOut)
	}
}

// boundSocket returns a loopback socket bound to an ephemeral port, and
// the port.
func boundSocket(t *testing.T, typ int) (int, uint16) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	return fd, uint16(sa.(*unix.SockaddrInet4).Port)
}

// TestExecHandoff: the sockets the daemon passes end up in order at the
// first descriptors, without close-on-exec, TCP ones listening, with
// LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES set.
func TestExecHandoff(t *testing.T) {
	tcp, tcpPort := boundSocket(t, unix.SOCK_STREAM)
	udp, udpPort := boundSocket(t, unix.SOCK_DGRAM)
	entries := []ipc.Entry{{Name: "cups", Endpoint: inetaddr.Endpoint{Port: tcpPort, Proto: inetaddr.TCP}, State: ipc.HandedOff}, {Name: "cups", Endpoint: inetaddr.Endpoint{Port: udpPort, Proto: inetaddr.UDP}, State: ipc.HandedOff}}
	d := ipctest.Start(t, func(req ipc.Request) []ipctest.Reply {
		if req.Op != ipc.OpHandoff || req.Name != "cups" || req.Arg != ipc.ArgKeep {
			return ipctest.Status(ipc.StatusBadRequest)(req)
		}
		return []ipctest.Reply{{Reply: ipc.Reply{Name: "cups", Count: 2, Total: 2, Entries: entries}, Fds: []int{tcp, udp}}}
	})
	unixClose := func() { unix.Close(tcp); unix.Close(udp) }
	defer unixClose()
	// Descriptors 500 and 501 stand for 3 and 4, which the test process
	// uses itself.
	const first = 500
	defer unix.Close(first)
	defer unix.Close(first + 1)
	env, _, errOut := testEnv("PATH=/usr/bin:/bin", "LISTEN_FDS=7")
	rec := &execRecorder{}
	h := &handoff{socket: d.Path, name: "cups", keep: true, timeout: DefaultTimeout, env: env,
		note: func(s string) { errOut.WriteString(s + "\n") }, exec: rec.exec, firstFd: first}
	if status := h.run([]string{"true"}); status != 126 || errOut.String() != "exec "+rec.path+": exec recorded\n" {
		t.Fatalf("handoff.run = %d, stderr %q; want 126 from the stand-in exec and nothing else", status, errOut)
	}
	want := []string{"PATH=/usr/bin:/bin", "LISTEN_FDS=2", "LISTEN_PID=" + strconv.Itoa(os.Getpid()), "LISTEN_FDNAMES=cups:cups"}
	if !reflect.DeepEqual(rec.envv, want) {
		t.Errorf("exec environment = %q; want %q", rec.envv, want)
	}
	for i, e := range entries {
		fd := first + i
		sa, err := unix.Getsockname(fd)
		if err != nil || uint16(sa.(*unix.SockaddrInet4).Port) != e.Port {
			t.Errorf("descriptor %d: getsockname = %v, %v; want port %d", fd, sa, err, e.Port)
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC != 0 {
			t.Errorf("descriptor %d: flags %#x, %v; want close-on-exec cleared", fd, flags, err)
		}
		listening, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		if want := e.Proto == inetaddr.TCP; (listening == 1) != want {
			t.Errorf("descriptor %d (%v): listening %v; want %v", fd, e.Proto, listening == 1, want)
		}
	}
}

// TestExecHandoffOlderDaemon: a daemon from before addresses refuses the
// version 2 hand-off, acting on nothing; it goes again as version 1.
func TestExecHandoffOlderDaemon(t *testing.T) {
	tcp, tcpPort := boundSocket(t, unix.SOCK_STREAM)
	defer unix.Close(tcp)
	d := ipctest.Start(t, func(req ipc.Request) []ipctest.Reply {
		if req.Version != ipc.Version1 {
			return ipctest.Status(ipc.StatusBadVersion)(req)
		}
		e := ipc.Entry{Name: "cups", Endpoint: inetaddr.Endpoint{Port: tcpPort, Proto: inetaddr.TCP}, State: ipc.HandedOff}
		return []ipctest.Reply{{Reply: ipc.Reply{Version: ipc.Version1, Name: "cups", Count: 1, Total: 1, Entries: []ipc.Entry{e}}, Fds: []int{tcp}}}
	})
	const first = 502
	defer unix.Close(first)
	env, _, errOut := testEnv("PATH=/usr/bin:/bin")
	rec := &execRecorder{}
	h := &handoff{socket: d.Path, name: "cups", timeout: DefaultTimeout, env: env,
		note: func(s string) { errOut.WriteString(s + "\n") }, exec: rec.exec, firstFd: first}
	if status := h.run([]string{"true"}); status != 126 || errOut.String() != "exec "+rec.path+": exec recorded\n" {
		t.Fatalf("handoff.run = %d, stderr %q; want 126 from the stand-in exec and nothing else", status, errOut)
	}
	if sa, err := unix.Getsockname(first); err != nil || uint16(sa.(*unix.SockaddrInet4).Port) != tcpPort {
		t.Errorf("descriptor %d: getsockname = %v, %v; want port %d", first, sa, err, tcpPort)
	}
	var versions []uint8
	for _, r := range d.Requests() {
		versions = append(versions, r.Version)
	}
	if len(versions) < 2 || versions[0] != ipc.Version || versions[1] != ipc.Version1 {
		t.Errorf("request versions = %v; want %d refused, then %d", versions, ipc.Version, ipc.Version1)
	}
}

func TestActivationEnv(t *testing.T) {
	env := []string{"A=1", "LISTEN_FDS=3", "LISTEN_PIDX=4", "LISTEN_FDNAMES=a"}
	if got, want := activationEnv(env, nil, "cups", 0), []string{"A=1", "LISTEN_PIDX=4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("activationEnv(%q, nil, cups, 0) = %q; want %q", env, got, want)
	}
	got := activationEnv(env, nil, "cups", 1)
	pid := "LISTEN_PID=" + strconv.Itoa(os.Getpid())
	if want := []string{"A=1", "LISTEN_PIDX=4", "LISTEN_FDS=1", pid, "LISTEN_FDNAMES=cups"}; !reflect.DeepEqual(got, want) {
		t.Errorf("activationEnv(%q, nil, cups, 1) = %q; want %q", env, got, want)
	}
	got = activationEnv(env, []string{"cups.socket"}, "cups", 2)
	if want := []string{"A=1", "LISTEN_PIDX=4", "LISTEN_FDS=3", pid, "LISTEN_FDNAMES=cups.socket:cups:cups"}; !reflect.DeepEqual(got, want) {
		t.Errorf("activationEnv(%q, [cups.socket], cups, 2) = %q; want %q", env, got, want)
	}
}

// TestInheritedSockets: the sockets systemd passed to this process are
// kept, named; variables meant for another process are not.
func TestInheritedSockets(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, tt := range []struct {
		env  []string
		want []string
	}{
		{[]string{"LISTEN_FDS=1", "LISTEN_PID=" + pid, "LISTEN_FDNAMES=cups.socket"}, []string{"cups.socket"}},
		{[]string{"LISTEN_FDS=2", "LISTEN_PID=" + pid}, []string{"unknown", "unknown"}},
		{[]string{"LISTEN_FDS=2", "LISTEN_PID=" + pid, "LISTEN_FDNAMES=a"}, []string{"unknown", "unknown"}},
		{[]string{"LISTEN_FDS=1", "LISTEN_PID=1", "LISTEN_FDNAMES=x"}, nil},
		{[]string{"LISTEN_FDS=1"}, nil},
		{[]string{"LISTEN_FDS=x", "LISTEN_PID=" + pid}, nil},
		{[]string{"LISTEN_FDS=100000", "LISTEN_PID=" + pid}, nil},
	} {
		if got := inheritedSockets(&applets.Env{Environ: tt.env}); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("inheritedSockets(%q) = %q; want %q", tt.env, got, tt.want)
		}
	}
}

// TestPlaceFds: sockets already sitting in the target range, in the wrong
// order, end up in order, each the socket it was.
func TestPlaceFds(t *testing.T) {
	const first = 600
	var want []uint16
	var fds []int
	// Three sockets at first+2, first and first+7 (out of the range of
	// three), in that order of the list.
	for _, at := range []int{first + 2, first, first + 7} {
		fd, port := boundSocket(t, unix.SOCK_DGRAM)
		if err := unix.Dup3(fd, at, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		t.Cleanup(func() { unix.Close(at) })
		fds, want = append(fds, at), append(want, port)
	}
	if err := placeFds(fds, first); err != nil {
		t.Fatal(err)
	}
	for i, port := range want {
		fd := first + i
		sa, err := unix.Getsockname(fd)
		if err != nil || uint16(sa.(*unix.SockaddrInet4).Port) != port {
			t.Errorf("descriptor %d: %v, %v; want the socket on port %d", fd, sa, err, port)
		}
		if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC != 0 {
			t.Errorf("descriptor %d keeps close-on-exec", fd)
		}
	}
	if _, err := unix.FcntlInt(first+7, unix.F_GETFD, 0); err == nil {
		t.Errorf("descriptor %d still open; want it moved into place", first+7)
	}
}
