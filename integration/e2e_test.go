//go:build integration && e2e

package integration

// End-to-end tests against the real adversary: libtirpc's bindresvport(3)
// (the C client in testdata/bindresv.c) and Debian's rpcbind. They need
// gcc, libtirpc-dev, rpcbind and rpcinfo; .ci/run installs them and
// `make e2e` runs these tests. Each scenario logs one line with the ports
// it saw, so that the log reads as evidence.

import (
	"bufio"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"portreserve/internal/inetaddr"

	"golang.org/x/sys/unix"
)

// The range bindresvport walks: 600-1023 first, then 512-599.
const (
	resvLow  = 512
	resvHigh = 1023
)

// needE2E skips where the machine cannot give the end-to-end tests what
// they need; CI provides all of it.
func needE2E(t *testing.T) {
	t.Helper()
	needNetns(t)
	if noMountns != "" {
		t.Skip(noMountns)
	}
}

// buildClient compiles testdata/bindresv.c against libtirpc.
func buildClient(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	if _, err := os.Stat("/usr/include/tirpc/rpc/rpc.h"); err != nil {
		t.Skip("libtirpc-dev is not installed (no /usr/include/tirpc)")
	}
	out := filepath.Join(t.TempDir(), "bindresv")
	cmd := exec.Command("gcc", "-Wall", "-O", "-I/usr/include/tirpc", "-o", out, "testdata/bindresv.c", "-ltirpc")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc bindresv.c: %v\n%s", err, b)
	}
	return out
}

// emptyBlacklist bind-mounts an empty file over /etc/bindresvport.blacklist
// (in the tests' private mount namespace), so that bindresvport tries every
// port; Debian's list would make it skip 631, 636, 993 and others.
func emptyBlacklist(t *testing.T) {
	t.Helper()
	const path = "/etc/bindresvport.blacklist"
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return // no blacklist: nothing is skipped
	}
	empty := filepath.Join(t.TempDir(), "blacklist")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(empty, path, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount an empty blacklist over %s: %v", path, err)
	}
	t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
}

// client is a running bindresv that keeps its port.
type client struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	port  int
}

// runClient runs bindresv once and returns the port it got, or -1 and the
// error it printed.
func runClient(t *testing.T, bin string, proto inetaddr.Proto) (int, string) {
	t.Helper()
	out, _ := exec.Command(bin, proto.String()).Output()
	line := strings.TrimSpace(string(out))
	if p, ok := strings.CutPrefix(line, "port "); ok {
		port, err := strconv.Atoi(p)
		if err == nil {
			return port, ""
		}
	}
	return -1, line
}

// startClient starts bindresv in a mode that keeps its socket (args
// "wait", or a program and version to register), and returns once it has
// printed its port (and registered).
func startClient(t *testing.T, bin string, proto inetaddr.Proto, args ...string) *client {
	t.Helper()
	cmd := exec.Command(bin, append([]string{proto.String()}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &client{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), port: -1}
	t.Cleanup(c.stop)
	line, _ := c.out.ReadString('\n')
	p, ok := strings.CutPrefix(strings.TrimSpace(line), "port ")
	if !ok {
		t.Fatalf("bindresv %s %q: %q", proto, args, line)
	}
	c.port, _ = strconv.Atoi(p)
	if len(args) == 2 {
		if line, _ := c.out.ReadString('\n'); strings.TrimSpace(line) != "registered" {
			t.Fatalf("bindresv %s %q did not register: %q", proto, args, line)
		}
	}
	return c
}

func (c *client) alive() bool {
	return c.cmd.ProcessState == nil && c.cmd.Process.Signal(syscall.Signal(0)) == nil
}

func (c *client) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.stdin.Close()
	c.cmd.Wait()
}

// ranges writes LOW..HIGH minus the ports in skip as configuration lines.
func ranges(low, high int, skip ...int) string {
	except := map[int]bool{}
	for _, p := range skip {
		except[p] = true
	}
	var b strings.Builder
	start := -1
	for p := low; p <= high+1; p++ {
		if p <= high && !except[p] {
			if start < 0 {
				start = p
			}
			continue
		}
		if start >= 0 {
			b.WriteString(strconv.Itoa(start) + "-" + strconv.Itoa(p-1) + "\n")
			start = -1
		}
	}
	return b.String()
}

func TestE2EExhaustion(t *testing.T) {
	needE2E(t)
	bin := buildClient(t)
	emptyBlacklist(t)
	for _, tt := range []struct {
		free, chosen int
	}{
		{700, 900},
		{555, 1000}, // bindresvport's second range, 512-599
		{1023, 600},
		{512, 631},
	} {
		s := newSetup(t, map[string]string{
			"others": ranges(resvLow, resvHigh, tt.free, tt.chosen),
			"chosen": strconv.Itoa(tt.chosen) + "\n",
		})
		s.mustStart(t)
		got := map[inetaddr.Proto]int{}
		for _, proto := range []inetaddr.Proto{inetaddr.TCP, inetaddr.UDP} {
			port, msg := runClient(t, bin, proto)
			if port != tt.free {
				t.Errorf("free port %d: bindresvport %s got %d (%s); want exactly %d", tt.free, proto, port, msg, tt.free)
			}
			got[proto] = port
		}
		// Keep the free port taken, release the chosen name: the next
		// caller gets the released port.
		holders := []*client{startClient(t, bin, inetaddr.TCP, "wait"), startClient(t, bin, inetaddr.UDP, "wait")}
		if r := s.release(t, "chosen"); r.code != 0 {
			t.Fatalf("portrelease chosen = %d, %q", r.code, r.stderr)
		}
		after := map[inetaddr.Proto]int{}
		for _, proto := range []inetaddr.Proto{inetaddr.TCP, inetaddr.UDP} {
			port, msg := runClient(t, bin, proto)
			if port != tt.chosen {
				t.Errorf("after portrelease: bindresvport %s got %d (%s); want the released %d", proto, port, msg, tt.chosen)
			}
			after[proto] = port
		}
		t.Logf("exhaustion: held 512-1023 except %d; bindresvport got tcp %d udp %d; after portrelease of %d: tcp %d udp %d",
			tt.free, got[inetaddr.TCP], got[inetaddr.UDP], tt.chosen, after[inetaddr.TCP], after[inetaddr.UDP])
		for _, h := range holders {
			h.stop()
		}
		s.kill()
	}
}

// occupy binds every port from low to high except skip, for TCP, as
// other services would, and returns a function that closes them.
func occupy(t *testing.T, low, high int, skip ...int) func() {
	t.Helper()
	except := map[int]bool{}
	for _, p := range skip {
		except[p] = true
	}
	var fds []int
	for p := low; p <= high; p++ {
		if except[p] {
			continue
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: p}); err != nil {
			t.Fatalf("occupy %d: %v", p, err)
		}
		fds = append(fds, fd)
	}
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
		fds = nil
	}
	t.Cleanup(closeAll)
	return closeAll
}

func TestE2ESideBySide(t *testing.T) {
	needE2E(t)
	bin := buildClient(t)
	emptyBlacklist(t)
	// Other services have every port but 631 (cups's) and 700; two RPC
	// programs start before cupsd.
	release := occupy(t, resvLow, resvHigh, 631, 700)

	// Without portreserve, one of the two takes 631.
	first := startClient(t, bin, inetaddr.TCP, "wait")
	second := startClient(t, bin, inetaddr.TCP, "wait")
	without := []int{first.port, second.port}
	if first.port != 631 && second.port != 631 {
		t.Errorf("without portreserve: RPC programs got %v; want one of them on 631 (the failure portreserve prevents)", without)
	}
	first.stop()
	second.stop()

	// With portreserve holding cups's port, neither does.
	s := newSetup(t, map[string]string{"cups": "ipp\n"})
	s.mustStart(t)
	first = startClient(t, bin, inetaddr.TCP, "wait")
	port, msg := runClient(t, bin, inetaddr.TCP)
	if first.port != 700 || port != -1 {
		t.Errorf("with portreserve: RPC programs got %d and %d (%s); want 700 and none", first.port, port, msg)
	}
	if r := s.release(t, "cups"); r.code != 0 {
		t.Fatalf("portrelease cups = %d, %q", r.code, r.stderr)
	}
	// cupsd starts: its port is free.
	if err := tryBind(t, 631, bindOpts{proto: inetaddr.TCP, family: unix.AF_INET6, addr: "any", reuse: true}); err != nil {
		t.Errorf("cupsd's bind of 631 after portrelease = %v; want success", err)
	}
	t.Logf("side by side: without portreserve two bindresvport callers got %v (631 taken); with portreserve they got %d and %q; after portrelease cups, 631 binds", without, first.port, msg)
	release()
}

// rpcinfo returns the (program, proto, port) lines of rpcinfo -p.
func rpcinfo(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("rpcinfo", "-p").CombinedOutput()
	if err != nil {
		return nil
	}
	var lines []string
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 4 {
			lines = append(lines, f[0]+" "+f[2]+" "+f[3])
		}
	}
	return lines
}

func TestE2ERpcbind(t *testing.T) {
	needE2E(t)
	bin := buildClient(t)
	rpcbind, err := exec.LookPath("rpcbind")
	if err != nil {
		rpcbind = "/usr/sbin/rpcbind"
		if _, err := os.Stat(rpcbind); err != nil {
			t.Skip("rpcbind is not installed")
		}
	}
	if _, err := exec.LookPath("rpcinfo"); err != nil {
		if _, err := os.Stat("/usr/sbin/rpcinfo"); err != nil {
			t.Skip("rpcinfo is not installed")
		}
		os.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin")
	}
	emptyBlacklist(t)
	// rpcbind and its clients meet at /run/rpcbind.sock as well as port
	// 111: a private /run keeps them apart from the host's rpcbind.
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on /run: %v", err)
	}
	t.Cleanup(func() { unix.Unmount("/run", unix.MNT_DETACH) })
	os.MkdirAll("/run/rpcbind", 0o755)
	rb := exec.Command(rpcbind, "-f")
	if err := rb.Start(); err != nil {
		t.Fatalf("rpcbind -f: %v", err)
	}
	t.Cleanup(func() { rb.Process.Kill(); rb.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for len(rpcinfo(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("rpcbind did not answer rpcinfo -p within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Hold the well-known ports and the rest of 600-1023 but three, for
	// tcp and udp: Debian's services file lists ipp and ldaps for tcp
	// only, so "ipp" alone would leave 631/udp to bindresvport (this test
	// caught exactly that).
	free := map[int]bool{700: true, 800: true, 900: true}
	s := newSetup(t, map[string]string{
		"cups":   "ipp\n631/udp\n",
		"ldap":   "636\n",
		"mail":   "993\n995\n",
		"others": ranges(600, 1023, 631, 636, 993, 995, 700, 800, 900),
	})
	s.mustStart(t)
	const prog = "536871169" // 0x20000101, in the user-defined range
	c := startClient(t, bin, inetaddr.TCP, prog, "1")
	u := startClient(t, bin, inetaddr.UDP, prog, "1")
	registered := map[string]bool{}
	for _, line := range rpcinfo(t) {
		registered[line] = true
	}
	for _, cl := range []*client{c, u} {
		proto := "tcp"
		if cl == u {
			proto = "udp"
		}
		if !free[cl.port] {
			t.Errorf("RPC program's %s port is %d; want one of the ports not held (700, 800, 900)", proto, cl.port)
		}
		if !registered[prog+" "+proto+" "+strconv.Itoa(cl.port)] {
			t.Errorf("rpcinfo -p does not list %s %s %d: %v", prog, proto, cl.port, registered)
		}
	}
	// The real service starts: its port is free, while the RPC program
	// and rpcbind keep running.
	if r := s.release(t, "cups"); r.code != 0 {
		t.Fatalf("portrelease cups = %d, %q", r.code, r.stderr)
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	if err := unix.Bind(fd, &unix.SockaddrInet6{Port: 631}); err != nil {
		t.Errorf("cupsd's bind of 631 after portrelease = %v; want success", err)
	} else if err := unix.Listen(fd, 8); err != nil {
		t.Errorf("cupsd's listen on 631: %v", err)
	}
	if !c.alive() || !u.alive() || rb.Process.Signal(syscall.Signal(0)) != nil {
		t.Errorf("the RPC program or rpcbind died after portrelease")
	}
	still := false
	for _, line := range rpcinfo(t) {
		if line == prog+" tcp "+strconv.Itoa(c.port) {
			still = true
		}
	}
	if !still {
		t.Errorf("rpcinfo -p lost the RPC program after portrelease")
	}
	t.Logf("rpcbind: held 631 636 993 995 and 600-1023 but 700 800 900; program %s registered on tcp %d udp %d; after portrelease cups, 631 binds and the program is still registered",
		prog, c.port, u.port)
}

// staticBusybox finds a statically linked busybox (Debian's busybox-static):
// the initramfs has no libc.
func staticBusybox(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if f, err := elf.Open(p); err == nil {
			static := true
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP {
					static = false
				}
			}
			f.Close()
			if static {
				return p
			}
		}
	}
	t.Skip("no static busybox (Debian's busybox-static)")
	return ""
}

// needKernel returns the kernel to boot and a static busybox for its
// initramfs, or skips the test where the machine has not got them.
func needKernel(t *testing.T) (kernel, busybox string) {
	t.Helper()
	kernel = os.Getenv("PORTRESERVE_TEST_KERNEL")
	if kernel == "" {
		t.Skip("PORTRESERVE_TEST_KERNEL is not set: .ci/run downloads Debian's linux-image-*-cloud-amd64 and sets it")
	}
	for _, tool := range []string{"qemu-system-x86_64", "cpio", "timeout"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " is not installed")
		}
	}
	return kernel, staticBusybox(t)
}

// boot boots kernel under qemu with the kernel command line cmdline and
// the extra arguments (an -initrd, a disk), and returns the serial log.
// Software emulation only, always under a timeout; QEMU's own exit status
// says nothing about the guest: the serial log does.
func boot(kernel string, seconds, memoryMB int, cmdline string, extra ...string) string {
	args := append([]string{strconv.Itoa(seconds), "qemu-system-x86_64", "-accel", "tcg",
		"-m", strconv.Itoa(memoryMB), "-nographic", "-no-reboot",
		"-kernel", kernel, "-append", cmdline + " console=ttyS0 panic=-1 quiet"}, extra...)
	out, _ := exec.Command("timeout", args...).CombinedOutput()
	return string(out)
}

// verdict returns the last line of a serial log that holds prefix, from
// prefix on ("" for none): a guest's own report of what it found.
func verdict(log, prefix string) string {
	v := ""
	for _, line := range strings.Split(log, "\n") {
		if i := strings.Index(line, prefix); i >= 0 {
			v = strings.TrimSpace(line[i:])
		}
	}
	return v
}

func TestE2EInitramfs(t *testing.T) {
	kernel, busybox := needKernel(t)
	initrd := filepath.Join(t.TempDir(), "initrd.gz")
	if out, err := exec.Command("sh", "scripts/initramfs/mkinitramfs.sh", initrd, bin("portreserve"), busybox).CombinedOutput(); err != nil {
		t.Fatalf("mkinitramfs.sh: %v\n%s", err, out)
	}
	out := boot(kernel, 180, 256, "", "-initrd", initrd)
	v := verdict(out, "PORTRESERVE-INITRAMFS: ")
	if !strings.HasPrefix(v, "PORTRESERVE-INITRAMFS: PASS") {
		t.Fatalf("initramfs verdict %q; serial log:\n%s", v, out)
	}
	t.Logf("initramfs: %s", strings.TrimPrefix(v, "PORTRESERVE-INITRAMFS: "))
}

func TestE2EForeignArch(t *testing.T) {
	needE2E(t)
	foreign := os.Getenv("PORTRESERVE_TEST_FOREIGN")
	if foreign == "" {
		t.Skip("PORTRESERVE_TEST_FOREIGN is not set: .ci/run points it at build/cross/arm64/portreserve")
	}
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		t.Skip("qemu-aarch64-static is not installed (Debian's qemu-user-static)")
	}
	foreign, _ = filepath.Abs(foreign)
	s := newSetup(t, map[string]string{"cups": "ipp\n", "nfs": "892\n"})
	// In the foreground: detaching re-executes /proc/self/exe, which
	// needs binfmt_misc to run an arm64 binary; the readiness fd tells
	// when the ports are held.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command(qemu, "-0", "portreserve", foreign, "-f", "-N", "3", "-c", s.conf, "-s", s.sock, "-p", s.pidfile)
	daemon.ExtraFiles = []*os.File{pw}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	if n, _ := pr.Read(make([]byte, 1)); n != 1 {
		t.Fatalf("the arm64 daemon exited before it was ready")
	}
	mustBeHeld(t, 631, inetaddr.TCP)
	mustBeHeld(t, 892, inetaddr.UDP)
	release := func(name string) result {
		return runCmd(t, exec.Command(qemu, "-0", "portrelease", foreign, "-s", s.sock, name))
	}
	if r := release("cups"); r.code != 0 {
		t.Fatalf("arm64 portrelease cups = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 631, inetaddr.TCP)
	mustBeHeld(t, 892, inetaddr.TCP)
	if r := release("nfs"); r.code != 0 {
		t.Fatalf("arm64 portrelease nfs = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 892, inetaddr.UDP)
	if err := daemon.Wait(); err != nil {
		t.Errorf("arm64 daemon after the last release: %v; want exit 0", err)
	}
	t.Logf("arm64 under qemu-user: held 631/tcp and 892/tcp+udp, released both, the daemon exited 0")
}

func TestE2EHoldAgain(t *testing.T) {
	needE2E(t)
	bin := buildClient(t)
	emptyBlacklist(t)
	// Other services have every port but 631 (cups's) and 700.
	occupy(t, resvLow, resvHigh, 631, 700)
	s := newSetup(t, map[string]string{"cups": "631/tcp\n", "other": "7491/udp\n"})
	// probe runs two bindresvport callers and returns what they got.
	probe := func() (int, string) {
		first := startClient(t, bin, inetaddr.TCP, "wait")
		port, msg := runClient(t, bin, inetaddr.TCP)
		first.stop()
		if first.port == 631 || port == 631 {
			t.Errorf("bindresvport got 631 (%d, %d %s) after portreserve cups", first.port, port, msg)
		}
		return first.port, msg
	}
	for _, running := range []bool{true, false} {
		if running {
			s.mustStart(t)
			if r := s.release(t, "cups"); r.code != 0 {
				t.Fatalf("portrelease cups = %d", r.code)
			}
		}
		// cupsd has stopped: its stop action holds 631 again.
		if r := s.start(t, "cups"); r.code != 0 {
			t.Fatalf("portreserve cups (daemon running: %v) = %d, %q", running, r.code, r.stderr)
		}
		got, second := probe()
		t.Logf("hold again (daemon running before: %v): after portreserve cups, bindresvport got %d, then %q; never 631", running, got, second)
		s.kill()
	}
}

// TestE2EKernel runs the tests whose outcome is the kernel's under
// Debian's 6.1 kernel too: whether a socket that bound with SO_REUSEADDR
// and then cleared it refuses later SO_REUSEADDR binds, and how long a
// server's TIME_WAITs block a port; where a close another user makes
// block blocks, and what recvmsg does with descriptors beyond its control
// buffer (the hostile stalls; not the FUSE one, as the initramfs has no
// fusermount3); the hand-off deadline sweep, the hold queued behind the
// last release, and the daemon's memory under random datagrams.
func TestE2EKernel(t *testing.T) {
	kernel, busybox := needKernel(t)
	dir := t.TempDir()
	testbin := filepath.Join(dir, "portreserve.test")
	build := exec.Command("go", "test", "-c", "-tags", "integration", "-o", testbin, "./integration")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	initrd := filepath.Join(dir, "initrd.gz")
	tests := "^(TestHoldAgainAfterTimeWait|TestTimeWaitPending|TestHostileStall|TestHandoffDeadlineSweep|TestHoldQueuedBehindLastRelease|TestHostileRandomMemory)$/^(refused|extra|queued)$"
	if out, err := exec.Command("sh", "testdata/kerneltest/mkinitramfs.sh", initrd, busybox, binDir, testbin, tests).CombinedOutput(); err != nil {
		t.Fatalf("mkinitramfs.sh: %v\n%s", err, out)
	}
	// Two CPUs, as nearly every machine has: with one, the daemon, woken
	// by a datagram, runs before its sender's next step, and the stall
	// tests' attacker (testcmd/hostile linger) cannot drop its reference
	// first.
	out := boot(kernel, 400, 512, "", "-initrd", initrd, "-smp", "2")
	v := verdict(out, "KERNELTEST: ")
	if !strings.HasPrefix(v, "KERNELTEST: PASS") {
		t.Fatalf("kernel test verdict %q; serial log:\n%s", v, out)
	}
	var logs []string
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "restart_test.go:") || strings.HasPrefix(line, "stall_test.go:") ||
			strings.HasPrefix(line, "handoff_test.go:") || strings.HasPrefix(line, "hostile_test.go:") {
			logs = append(logs, line)
		}
	}
	t.Logf("kernel tests: %s; %s", strings.TrimPrefix(v, "KERNELTEST: "), strings.Join(logs, "; "))
}

// bootDebian boots the Debian 12 root built for init by
// testdata/boot/mkbase.sh (its directory in $PORTRESERVE_TEST_ROOT_<INIT>:
// building it needs the network, which the tests' namespace has not),
// with the project installed by mkimage.sh (make install), under qemu
// with Debian's cloud kernel (NVMe and ext4 are built in: no initramfs).
// It returns the serial log.
func bootDebian(t *testing.T, init string) string {
	t.Helper()
	kernel, _ := needKernel(t)
	env := "PORTRESERVE_TEST_ROOT_" + strings.ToUpper(init)
	base := os.Getenv(env)
	if base == "" {
		t.Skip(env + " is not set: .ci/run builds the Debian root with testdata/boot/mkbase.sh " + init + " DIR and sets it")
	}
	need(t, "mke2fs")
	need(t, "make")
	img := filepath.Join(t.TempDir(), init+".img")
	args := []string{"testdata/boot/mkimage.sh", init, base, img, "."}
	if init != "openrc" {
		// The package goes in too: the boot test installs and purges
		// it once it is done with the make install copy.
		args = append(args, debPackage(t))
	}
	mkimage := exec.Command("sh", args...)
	// The kernel's modules, unpacked beside it (.ci/run): NFS, its server
	// and sunrpc are modules in Debian's cloud kernel.
	mkimage.Env = append(os.Environ(), "MODULES="+filepath.Join(filepath.Dir(kernel), "..", "lib", "modules"))
	cmdline := "root=/dev/nvme0n1 rw"
	if init == "selinux" {
		// Debian's kernel starts AppArmor unless told otherwise.
		cmdline += " security=selinux enforcing=1"
	}
	if out, err := mkimage.CombinedOutput(); err != nil {
		t.Fatalf("mkimage.sh %s: %v\n%s", init, err, out)
	}
	return boot(kernel, 600, 1024, cmdline,
		"-drive", "file="+img+",if=none,id=d0,format=raw", "-device", "nvme,serial=boot,drive=d0")
}

var (
	debOnce         sync.Once
	debPath, debErr string
)

// debPackage builds the amd64 package with make deb, once per run, and
// returns its path.
func debPackage(t *testing.T) string {
	t.Helper()
	need(t, "dpkg-deb")
	debOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portreserve-deb")
		if err != nil {
			debErr = err.Error()
			return
		}
		out, err := exec.Command("make", "-s", "deb", "BUILD="+dir).CombinedOutput()
		if err != nil {
			debErr = "make deb: " + err.Error() + "\n" + string(out)
			return
		}
		debPath = strings.TrimSpace(string(out))
	})
	if debErr != "" {
		t.Fatal(debErr)
	}
	return debPath
}

// TestE2EBootSystemd, TestE2EBootSysvinit and TestE2EBootOpenRC boot
// Debian with the init system as PID 1 and the project installed by make
// install: the shipped portreserve service enabled at boot, rpcbind and
// rpc.statd (which call bindresvport) starting after it, on ports it
// leaves free; the real cupsd started and stopped through the shipped
// cups integration, serving HTTP on 631 and leaving it held again each
// time; reload, restart and stop through the init system's own commands;
// under systemd, the unit's exposure rating, a failed hold in journalctl
// -p warning, and cups' ExecStopPost with portreserve.service stopped.
// testdata/boot/boot-check prints a line per check; each is logged here.
func TestE2EBootSystemd(t *testing.T)  { testBoot(t, "systemd") }
func TestE2EBootSysvinit(t *testing.T) { testBoot(t, "sysvinit") }
func TestE2EBootOpenRC(t *testing.T)   { testBoot(t, "openrc") }

// TestE2EBootSELinux boots Debian with systemd and SELinux enforcing
// (Debian's selinux-policy-default, whose portreserve module confines the
// daemon in portreserve_t) and the project's own module
// (scripts/selinux), the project installed from its package and by make
// install: the systemd checks above, then cupsd handed its sockets by
// portrelease --exec (in cupsd_t), portrelease and portreserve NAME from
// root's shell and from an LSB script, portreserve-check as root and as
// another user, the daemon started by its LSB script and from
// /usr/local/sbin, and no AVC denial that concerns portreserve.
func TestE2EBootSELinux(t *testing.T) { testBoot(t, "selinux") }

func testBoot(t *testing.T, init string) {
	tag := "BOOT-" + strings.ToUpper(init) + ": "
	log := bootDebian(t, init)
	var passed int
	var failed, done bool
	for _, line := range strings.Split(log, "\n") {
		i := strings.Index(line, tag)
		if i < 0 {
			continue
		}
		v := strings.TrimSpace(line[i+len(tag):])
		t.Logf("%s boot: %s", init, v)
		switch {
		case strings.HasPrefix(v, "PASS "):
			passed++
		case strings.HasPrefix(v, "DONE"):
			done = true
		case strings.HasPrefix(v, "INFO "):
		default:
			failed = true
		}
	}
	if failed || !done {
		t.Fatalf("%s boot: %d checks passed, then failure or no end; serial log:\n%s", init, passed, log)
	}
	// What the init system says of the scripts at boot: OpenRC's
	// " * ERROR: portreserve needs service(s) localmount" and dependency
	// loops, systemd's ordering cycles.
	for _, bad := range []string{"ERROR:", "dependency loop", "ordering cycle"} {
		if strings.Contains(log, bad) {
			t.Errorf("%s boot: the serial log says %q:\n%s", init, bad, log)
		}
	}
}
