package main

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

	"portreserve/ipc"
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
	if r := inRoot(t, root, "portreserve"); r.code != 0 {
		t.Fatalf("portreserve in an empty root = %d, %q", r.code, r.stderr)
	}
	mustBeHeld(t, 631, ipc.TCP)
	mustBeHeld(t, 7151, ipc.TCP)
	mustBeHeld(t, 7151, ipc.UDP)
	r := inRoot(t, root, "portreserve-check", "-n")
	want := "cups 631 tcp ipp held -\nnum 7151 tcp - held -\nnum 7151 udp - held -\n"
	if got := normalize(r.stdout); got != want || r.code != 0 {
		t.Errorf("portreserve-check in an empty root = %d\n%s; want\n%s", r.code, r.stdout, want)
	}
	if r := inRoot(t, root, "portrelease", "cups"); r.code != 0 {
		t.Fatalf("portrelease cups = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 631, ipc.TCP)
	mustBeHeld(t, 7151, ipc.UDP)
	if r := inRoot(t, root, "portrelease", "*"); r.code != 0 {
		t.Fatalf("portrelease '*' = %d, %q", r.code, r.stderr)
	}
	mustBeFree(t, 7151, ipc.TCP)
	mustBeFree(t, 7151, ipc.UDP)
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left in the empty root: %v", err)
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
