//go:build integration

package integration

// The tests in this package run the real binary. TestMain builds it once,
// with the same flags as make, and then re-executes the test binary in a
// private network and mount namespace (as root; a user namespace too
// otherwise), so that the tests can bind privileged ports and mount over
// /etc and /run without touching the host.

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

const (
	envBin     = "PORTRESERVE_TEST_BIN"         // the built binary's directory
	envNetns   = "PORTRESERVE_TEST_NETNS"       // "1" inside the namespace, else why not
	envServe   = "PORTRESERVE_TEST_SERVE"       // testcmd/fakeservice listens on this TCP port
	envAmbient = "PORTRESERVE_TEST_AMBIENT_FDS" // descriptors inherited from outside the tests
)

// binDir holds portreserve and its applet links.
var binDir string

// noNetns says why the tests could not get a private network namespace.
var noNetns string

// noMountns says why the tests have no private mount namespace (the
// end-to-end tests bind-mount over /etc and mount a tmpfs on /run).
var noMountns string

func TestMain(m *testing.M) {
	if os.Getenv(envAmbient) == "" {
		os.Setenv(envAmbient, ambientFds())
	}
	// The tests run from the repository's root, where the scripts, the
	// manual pages and testdata are (not in the initramfs of the kernel
	// tests, which has none of them).
	if _, err := os.Stat("../go.mod"); err == nil {
		os.Chdir("..")
	}
	if os.Getenv(envNetns) == "" {
		os.Exit(buildAndReexec(m))
	}
	binDir = os.Getenv(envBin)
	if v := os.Getenv(envNetns); v != "1" {
		noNetns, noMountns = v, v
	} else if err := loopbackUp(); err != nil {
		os.Stderr.WriteString("bringing lo up: " + err.Error() + "\n")
		os.Exit(1)
	} else if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		// Nothing mounted here may reach the host's mount table.
		noMountns = "cannot make the private mount namespace's mounts private: " + err.Error()
	}
	os.Exit(m.Run())
}

// ambientFds lists the descriptors above 2 that this process inherited
// without close-on-exec (from whatever started the tests): every child
// inherits them too, through no doing of the code under test.
func ambientFds() string {
	fds := []string{"-"}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, e.Name())
		}
	}
	return strings.Join(fds, ",")
}

// buildAndReexec builds the binary and runs the tests again inside a new
// network namespace; where none can be had, it runs them here and the
// tests that need one skip.
func buildAndReexec(m *testing.M) int {
	dir, err := os.MkdirTemp("", "portreserve-test-")
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	defer os.RemoveAll(dir)
	// Readable by others: one test runs the binary as another user.
	os.Chmod(dir, 0o755)
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", filepath.Join(dir, "portreserve"), ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		os.Stderr.WriteString("go build: " + err.Error() + "\n")
		return 1
	}
	// The helper programs (testcmd/*), static so that they run in an
	// empty root too.
	helpers := exec.Command("go", "build", "-o", dir+"/", "./integration/testcmd/...")
	helpers.Env = append(os.Environ(), "CGO_ENABLED=0")
	helpers.Stdout, helpers.Stderr = os.Stdout, os.Stderr
	if err := helpers.Run(); err != nil {
		os.Stderr.WriteString("go build ./integration/testcmd/...: " + err.Error() + "\n")
		return 1
	}
	for _, name := range []string{"portrelease", "portreserve-check"} {
		if err := os.Symlink("portreserve", filepath.Join(dir, name)); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			return 1
		}
	}
	self, err := os.Executable()
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	run := func(attr *syscall.SysProcAttr, netns string) (int, error) {
		cmd := exec.Command(self, os.Args[1:]...)
		cmd.Env = append(os.Environ(), envBin+"="+dir, envNetns+"="+netns)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = attr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), nil
		}
		if err != nil {
			return 1, err
		}
		return 0, nil
	}
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS}
	if os.Geteuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	code, err := run(attr, "1")
	if err == nil {
		return code
	}
	why := "cannot create a network namespace here (" + err.Error() + ")"
	os.Stderr.WriteString("note: " + why + "; tests that bind ports will skip\n")
	code, err = run(nil, why)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
	}
	return code
}

// loopbackUp brings lo up in the new namespace (it starts down).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// needNetns skips a test that binds ports when there is no private network
// namespace: it must not hold or free ports on the host.
func needNetns(t *testing.T) {
	t.Helper()
	if noNetns != "" {
		t.Skip(noNetns)
	}
}

// startService starts cmd, a service that announces itself with a first
// line on stdout, stopped at the end of the test, and returns that line.
// When the command ends without one, it returns what it wrote on stderr
// instead (read only once it has ended: os/exec writes it meanwhile).
func startService(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Wait()
		line += " (stderr: " + strings.TrimSpace(stderr.String()) + ")"
	}
	return strings.TrimSpace(line)
}

// bin returns the path of an applet link.
func bin(applet string) string {
	return filepath.Join(binDir, applet)
}

// result is what a command did.
type result struct {
	stdout, stderr string
	code           int
}

// run runs an applet to completion.
func run(t *testing.T, applet string, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command(bin(applet), args...))
}

// runCmd runs cmd to completion and returns what it did.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%q: %v", cmd.Args, err)
	}
	return r
}

// setup is a configuration directory and the daemon's paths, all in a
// temporary directory.
type setup struct {
	dir, conf, sock, pidfile string
}

// newSetup writes the configuration files.
func newSetup(t *testing.T, files map[string]string) *setup {
	t.Helper()
	dir := t.TempDir()
	s := &setup{dir: dir, conf: filepath.Join(dir, "conf"), sock: filepath.Join(dir, "run", "socket"), pidfile: filepath.Join(dir, "portreserve.pid")}
	if err := os.Mkdir(s.conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		s.write(t, name, text)
	}
	return s
}

func (s *setup) write(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.conf, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// args are the options pointing an applet at this setup.
func (s *setup) args(extra ...string) []string {
	return append([]string{"-c", s.conf, "-s", s.sock, "-p", s.pidfile}, extra...)
}

// start runs the detaching portreserve and arranges for the daemon to be
// killed when the test ends.
func (s *setup) start(t *testing.T, extra ...string) result {
	t.Helper()
	r := run(t, "portreserve", s.args(extra...)...)
	t.Cleanup(func() { s.kill() })
	return r
}

// mustStart is start for tests that need the daemon running: it fails the
// test unless portreserve exits 0.
func (s *setup) mustStart(t *testing.T) {
	t.Helper()
	if r := s.start(t); r.code != 0 {
		t.Fatalf("portreserve = %d, %q; want 0", r.code, r.stderr)
	}
}

// waitHeld waits, for up to ten seconds, until the daemon lists every entry
// of name as held: after a signal or a supervisor's start, which are
// asynchronous. It asks the daemon, never the ports: a probe bind at the
// moment the daemon binds would take the port from it.
func (s *setup) waitHeld(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var entries []ipc.Entry
		c, err := ipc.Dial(s.sock)
		if err == nil {
			entries, err = c.List(time.Second)
			c.Close()
		}
		held, all := 0, 0
		for _, e := range entries {
			if e.Name == name {
				all++
				if e.State == ipc.Held {
					held++
				}
			}
		}
		if all > 0 && held == all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the daemon to hold %s: %d of %d entries held (%v)", name, held, all, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// daemonPid reads the pidfile; 0 when there is none.
func (s *setup) daemonPid() int {
	data, err := os.ReadFile(s.pidfile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// kill stops the daemon with SIGKILL, if it runs.
func (s *setup) kill() {
	if pid := s.daemonPid(); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid)
	}
}

// list asks this setup's daemon for its reservations.
func (s *setup) list(t *testing.T) []ipc.Entry {
	t.Helper()
	c, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	entries, err := c.List(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// startReady starts cmd, a foreground daemon, with a readiness pipe on
// descriptor 3 (for -N 3) and its stderr in a file, which it returns once
// the daemon is ready; the daemon is killed when the test ends.
func startReady(t *testing.T, cmd *exec.Cmd) *os.File {
	t.Helper()
	stderr := stderrFile(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if n, _ := pr.Read(make([]byte, 1)); n != 1 {
		b, _ := os.ReadFile(stderr.Name())
		t.Fatalf("%s exited before it was ready:\n%s", cmd.Path, b)
	}
	return stderr
}

// release runs portrelease against this setup.
func (s *setup) release(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, "portrelease", append([]string{"-s", s.sock}, args...)...)
}

// waitGone waits for a process to exit (it is not our child: the daemon
// detached), for at most five seconds. A process nobody reaps stays a
// zombie, so that counts too, but only once its last thread is gone: the
// leader of a killed Go process shows state Z while its other threads are
// still exiting, and its descriptors (the held sockets) close only with
// the last of them.
func waitGone(pid int) bool {
	deadline := time.Now().Add(5 * time.Second)
	proc := "/proc/" + strconv.Itoa(pid)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return true
		}
		if data, err := os.ReadFile(proc + "/stat"); err == nil {
			tasks, _ := os.ReadDir(proc + "/task")
			if f := strings.Fields(string(data)); len(f) > 2 && f[2] == "Z" && len(tasks) <= 1 {
				return true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// bindOpts says how a test tries to bind a port, as a competitor would.
type bindOpts struct {
	proto  inetaddr.Proto
	family int    // unix.AF_INET or unix.AF_INET6
	addr   string // "any" or "loopback"
	reuse  bool   // SO_REUSEADDR
}

func (b bindOpts) String() string {
	s := b.proto.String() + " "
	switch {
	case b.family == unix.AF_INET && b.addr == "any":
		s += "0.0.0.0"
	case b.family == unix.AF_INET:
		s += "127.0.0.1"
	case b.addr == "any":
		s += "[::] v6only"
	default:
		s += "[::1]"
	}
	if b.reuse {
		s += " SO_REUSEADDR"
	}
	return s
}

// allBinds are the ways a competitor can try to bind a port.
func allBinds() []bindOpts {
	var all []bindOpts
	for _, proto := range []inetaddr.Proto{inetaddr.TCP, inetaddr.UDP} {
		for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
			for _, addr := range []string{"any", "loopback"} {
				for _, reuse := range []bool{false, true} {
					all = append(all, bindOpts{proto, family, addr, reuse})
				}
			}
		}
	}
	return all
}

// tryBind binds port as b says, closes the socket, and returns the bind's
// error (nil when the port was free).
func tryBind(t *testing.T, port int, b bindOpts) error {
	t.Helper()
	typ := unix.SOCK_STREAM
	if b.proto == inetaddr.UDP {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(b.family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	defer unix.Close(fd)
	if b.reuse {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	var sa unix.Sockaddr
	if b.family == unix.AF_INET {
		sa4 := &unix.SockaddrInet4{Port: port}
		if b.addr == "loopback" {
			sa4.Addr = [4]byte{127, 0, 0, 1}
		}
		sa = sa4
	} else {
		// v6only, so that the test asks about IPv6 alone.
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		sa6 := &unix.SockaddrInet6{Port: port}
		if b.addr == "loopback" {
			sa6.Addr[15] = 1
		}
		sa = sa6
	}
	return unix.Bind(fd, sa)
}

// mustBeHeld fails unless every way of binding port fails with EADDRINUSE.
func mustBeHeld(t *testing.T, port int, proto inetaddr.Proto) {
	t.Helper()
	for _, b := range allBinds() {
		if b.proto != proto {
			continue
		}
		if err := tryBind(t, port, b); err != unix.EADDRINUSE {
			t.Errorf("bind %d %v = %v; want EADDRINUSE (held)", port, b, err)
		}
	}
}

// mustBeFree fails unless every way of binding port succeeds.
func mustBeFree(t *testing.T, port int, proto inetaddr.Proto) {
	t.Helper()
	for _, b := range allBinds() {
		if b.proto != proto {
			continue
		}
		if err := tryBind(t, port, b); err != nil {
			t.Errorf("bind %d %v = %v; want success (free)", port, b, err)
		}
	}
}

// quickHeld reports whether a plain IPv4 bind of port fails with
// EADDRINUSE: the cheap check for tests with thousands of ports.
func quickHeld(t *testing.T, port int, proto inetaddr.Proto) bool {
	t.Helper()
	return tryBind(t, port, bindOpts{proto: proto, family: unix.AF_INET, addr: "any"}) == unix.EADDRINUSE
}
