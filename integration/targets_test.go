//go:build integration

package integration

// Tests of the places portreserve is meant to run: an empty root (a
// scratch container, an initramfs without /etc, /proc or /dev). The
// initramfs under qemu is an end-to-end test (e2e_test.go).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"portreserve/internal/inetaddr"

	"golang.org/x/sys/unix"
)

// emptyRoot makes a directory holding only the binary, as /portreserve,
// and the configuration files under /etc/portreserve.
func emptyRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chroot into an empty directory")
	}
	root := t.TempDir()
	data, err := os.ReadFile(bin("portreserve"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "portreserve"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "etc", "portreserve")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// inRoot runs the binary in root under the applet name argv0 (as a path,
// the way a shell or a container runtime passes it: without /proc the
// daemon finds itself from argv[0]), with the default paths, which do not
// exist yet in an empty root.
func inRoot(t *testing.T, root, argv0 string, args ...string) result {
	t.Helper()
	cmd := &exec.Cmd{Path: "/portreserve", Args: append([]string{"/" + argv0}, args...), Dir: "/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Env = []string{}
	return runCmd(t, cmd)
}

func TestEmptyRoot(t *testing.T) {
	needNetns(t)
	root := emptyRoot(t, map[string]string{"cups": "ipp\n", "num": "7151\n"})
	pidfile := filepath.Join(root, "run", "portreserve.pid")
	t.Cleanup(func() {
		if data, err := os.ReadFile(pidfile); err == nil {
			var pid int
			for _, c := range strings.TrimSpace(string(data)) {
				pid = pid*10 + int(c-'0')
			}
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	// No /etc/services, no /proc, no /dev/null, no /run.
	for _, p := range []string{"etc/services", "proc", "dev", "run"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Fatalf("%s exists in the empty root", p)
		}
	}
	// Nowhere to log but stderr (no /dev/log, no /dev/kmsg): the
	// detached daemon keeps the stderr it was started with, as a
	// container's log, and writes everything there. A file here: a pipe
	// read to its end would wait for the daemon to exit.
	logFile := stderrFile(t)
	logPath := logFile.Name()
	cmd := &exec.Cmd{Path: "/portreserve", Args: []string{"/portreserve"}, Dir: "/", Env: []string{}, Stderr: logFile,
		SysProcAttr: &syscall.SysProcAttr{Chroot: root}}
	if err := cmd.Run(); err != nil {
		t.Fatalf("portreserve in an empty root: %v\n%s", err, readFile(t, logPath))
	}
	mustBeHeld(t, 631, inetaddr.TCP)
	mustBeHeld(t, 7151, inetaddr.TCP)
	mustBeHeld(t, 7151, inetaddr.UDP)
	r := inRoot(t, root, "portreserve-check", "-n")
	want := "cups 631 tcp ipp held -\nnum 7151 tcp - held -\nnum 7151 udp - held -\n"
	if got := normalize(r.stdout); got != want || r.code != 0 {
		t.Errorf("portreserve-check in an empty root = %d\n%s; want\n%s", r.code, r.stdout, want)
	}
	if r := inRoot(t, root, "portrelease", "cups"); r.code != 0 {
		t.Fatalf("portrelease cups = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 631, inetaddr.TCP)
	mustBeHeld(t, 7151, inetaddr.UDP)
	if r := inRoot(t, root, "portrelease", "*"); r.code != 0 {
		t.Fatalf("portrelease '*' = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 7151, inetaddr.TCP)
	mustBeFree(t, 7151, inetaddr.UDP)
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left in the empty root: %v", err)
	}
	log := readFile(t, logPath)
	for _, want := range []string{"portreserve: holding 3 ports for 2 names\n", "portreserve: released cups (1 port) for pid ",
		"portreserve: every port released; exiting\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("the daemon's stderr in an empty root:\n%s\nwant %q", log, want)
		}
	}
	r = inRoot(t, root, "portreserve-check", "-n")
	want = "cups 631 tcp ipp free -\nnum 7151 tcp - free -\nnum 7151 udp - free -\n"
	if got := normalize(r.stdout); got != want || !strings.Contains(r.stderr, "no daemon answered") {
		t.Errorf("portreserve-check after release = %q, %q; want\n%s", r.stdout, r.stderr, want)
	}
}

// normalize folds runs of spaces, so that tables compare by their cells.
func normalize(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(strings.Join(strings.Fields(line), " ") + "\n")
	}
	return b.String()
}

// image lays out a container image in a temporary directory: the binary as
// /usr/sbin/portreserve with relative applet links (as make image lays
// out its images: scripts/container/mkimage.sh), the static test service as /service, and
// the given files.
func image(t *testing.T, files map[string]string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chroot into an image directory")
	}
	root := t.TempDir()
	copyFile := func(from, to string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(to), 0o755)
		if err := os.WriteFile(to, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(bin("portreserve"), filepath.Join(root, "usr/sbin/portreserve"))
	for _, a := range []string{"portrelease", "portreserve-check"} {
		os.Symlink("portreserve", filepath.Join(root, "usr/sbin", a))
	}
	copyFile(bin("activated"), filepath.Join(root, "service"))
	for name, text := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// container starts argv in root as a container runtime would: chroot,
// working directory /, a minimal environment. It returns the service's
// first line of output.
func container(t *testing.T, root string, env []string, argv ...string) string {
	t.Helper()
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Dir: "/", Env: append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	return startService(t, cmd)
}

func TestContainerScratch(t *testing.T) {
	needNetns(t)
	// The host holds the ports; the image FROM scratch has the binary,
	// the service and the host's socket directory mounted in (here: the
	// daemon's socket is placed inside the image's /run).
	root := image(t, nil)
	s := newSetup(t, map[string]string{"svc": "7401/tcp\n7402/udp\n"})
	s.sock = filepath.Join(root, "run", "portreserve", "socket")
	if r := s.start(t); r.code != 0 {
		t.Fatalf("host portreserve = %d, %q", r.code, r.stderr)
	}
	stop := competitor(t, 7401)
	// ENTRYPOINT ["/usr/sbin/portrelease", "--exec", "svc", "--"] CMD ["/service"]
	line := container(t, root, nil, "/usr/sbin/portrelease", "--exec", "svc", "--", "/service")
	if line != "ready 2 svc:svc" {
		t.Fatalf("service in the scratch image said %q; want ready 2 svc:svc", line)
	}
	if got := askTCP(t, "[::1]:7401"); got != "tcp 7401" {
		t.Errorf("TCP answer %q; want tcp 7401", got)
	}
	if got := askUDP(t, "127.0.0.1:7402"); got != "udp 7402" {
		t.Errorf("UDP answer %q; want udp 7402", got)
	}
	if stop() {
		t.Errorf("the competitor bound 7401 while the container started")
	}
}

func TestContainerEntrypoint(t *testing.T) {
	needNetns(t)
	need(t, "busybox")
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		busybox = "/usr/bin/busybox"
	}
	script, err := os.ReadFile("scripts/container/entrypoint.sh")
	if err != nil {
		t.Fatal(err)
	}
	// An image with a shell (busybox) and no /proc or /run, and of /dev
	// only /dev/null, which every runtime provides (and ash needs for a
	// background job's stdin).
	root := image(t, map[string]string{
		"entrypoint.sh":       string(script),
		"etc/portreserve/svc": "7411/tcp\n7412/udp\n",
		// A helper started while the ports are held (rpc.statd would
		// be one): it tries to take 7411, and must not get it.
		"entrypoint.d/10-helper": "#!/bin/sh\nif nc -l -p 7411 -w 1 2>&-; then echo took > /helper.out; exit 1; fi\necho held > /helper.out\n",
	})
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755)
	os.MkdirAll(filepath.Join(root, "dev"), 0o755)
	if err := syscall.Mknod(filepath.Join(root, "dev/null"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "nc", "true", "mkdir", "mkfifo", "rm"} {
		os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	line := container(t, root, []string{"PORTRESERVE_NAME=svc"}, "/entrypoint.sh", "/service")
	if line != "ready 2 svc:svc" {
		t.Fatalf("service behind entrypoint.sh said %q; want ready 2 svc:svc", line)
	}
	if got := askTCP(t, "127.0.0.1:7411"); got != "tcp 7411" {
		t.Errorf("TCP answer %q; want tcp 7411", got)
	}
	if got := askUDP(t, "[::1]:7412"); got != "udp 7412" {
		t.Errorf("UDP answer %q; want udp 7412", got)
	}
	if out, _ := os.ReadFile(filepath.Join(root, "helper.out")); string(out) != "held\n" {
		t.Errorf("the helper in /entrypoint.d saw 7411 %q; want held", out)
	}
	// The container's own daemon handed off its only name and exited.
	if _, err := os.Stat(filepath.Join(root, "run", "portreserve", "portreserve.pid")); !os.IsNotExist(err) {
		t.Errorf("the container's daemon left its pidfile: %v", err)
	}
}
