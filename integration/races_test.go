//go:build integration

package integration

// Requests that race the daemon's exit, made deterministic: the daemon is
// stopped (SIGSTOP), the requests are queued on its socket in the order
// wanted, and it is let go (SIGCONT).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/ipc"
)

// waitInRecvmsg waits, for up to five seconds, until one of process pid's
// threads sits in recvmsg: a client of the daemon has sent its request
// and waits for the reply.
func waitInRecvmsg(t *testing.T, pid int) {
	t.Helper()
	want := strconv.Itoa(unix.SYS_RECVMSG) + " "
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		tasks, _ := os.ReadDir(dir)
		for _, task := range tasks {
			if b, err := os.ReadFile(filepath.Join(dir, task.Name(), "syscall")); err == nil && strings.HasPrefix(string(b), want) {
				return
			}
		}
	}
	t.Fatalf("process %d never waited in recvmsg", pid)
}

// TestHoldQueuedBehindLastRelease: a service's stop action (portreserve
// b, hold again) queued behind another service's start releasing the
// last name (portrelease a). The daemon exits after that release, so it
// must not answer the hold "held": portreserve b exits 0 only if b's port
// is held afterwards (by a daemon it starts once the old one is gone).
// Before, the old daemon bound b, answered OK and released it as it
// exited.
func TestHoldQueuedBehindLastRelease(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7951/tcp\n", "b": "7952/tcp\n"})
	s.mustStart(t)
	if r := s.release(t, "b"); r.code != 0 {
		t.Fatalf("portrelease b = %d, %q", r.code, r.stderr)
	}
	pid := s.daemonPid()
	syscall.Kill(pid, syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	release := exec.Command(bin("portrelease"), "-s", s.sock, "-t", "10", "a")
	hold := exec.Command(bin("portreserve"), s.args("b")...)
	var out [2]strings.Builder
	for i, cmd := range []*exec.Cmd{release, hold} {
		cmd.Stdout, cmd.Stderr = &out[i], &out[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitInRecvmsg(t, cmd.Process.Pid)
	}
	syscall.Kill(pid, syscall.SIGCONT)
	stopped = false
	if err := release.Wait(); err != nil {
		t.Errorf("portrelease a: %v, %q; want 0", err, out[0].String())
	}
	err := hold.Wait()
	t.Logf("portreserve b: %v, %q", err, out[1].String())
	if err != nil {
		return // not held, and it says so: allowed
	}
	if s.daemonPid() == 0 {
		t.Fatalf("portreserve b exited 0, but no daemon runs: b is free; want it held")
	}
	var state ipc.State
	for _, e := range s.list(t) {
		if e.Name == "b" {
			state = e.State
		}
	}
	if state != ipc.Held {
		t.Errorf("portreserve b exited 0, but b is %v afterwards; want held", state)
	}
	if s.daemonPid() == pid {
		t.Errorf("the daemon that released the last name still runs")
	}
}
