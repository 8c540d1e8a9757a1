//go:build integration

package integration

// A local user makes the daemon's close of a descriptor block: a TCP
// connection lingering until its peer reads, which it never does
// (testcmd/hostile linger). Whichever loop closes it is stuck there until
// the user lets go; these tests check that it is never the one that
// serves root.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/integration/internal/rawsock"
	"portreserve/ipc"
)

// threadsAndFds returns how many threads and open descriptors process pid
// has.
func threadsAndFds(t *testing.T, pid int) (threads, fds int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return procStatus(t, pid, "Threads"), len(ents)
}

// publicAnswers reports whether a list sent to the public socket at sock,
// bypassing the admin socket, is answered within wait.
func publicAnswers(t *testing.T, sock string, wait time.Duration) bool {
	t.Helper()
	fd, err := rawsock.DialAutobound(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	mine, theirs, err := rawsock.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mine)
	// A full queue (nobody reads it) is no answer either.
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	err = rawsock.Sendmsg(fd, (&ipc.Request{Version: 1, Op: ipc.OpList}).Marshal(), theirs)
	unix.Close(theirs)
	if err == unix.EAGAIN {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptTimeval(mine, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	n, err := unix.Read(mine, make([]byte, ipc.MaxReplySize))
	return err == nil && n > 0
}

// fuseMountpoint returns a directory uid 65534 may mount a FUSE file
// system on, unmounted when the test ends, after the attacker is killed.
func fuseMountpoint(t *testing.T, s *setup) string {
	t.Helper()
	if st, err := os.Stat("/dev/fuse"); err != nil || st.Mode().Perm()&0o006 != 0o006 {
		t.Skip("unprivileged FUSE mounts need /dev/fuse, mode 0666 as Debian's udev rule makes it (.ci/run sets that mode)")
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		t.Skip("fusermount3 not found: .ci/run installs fuse3")
	}
	mnt := filepath.Join(s.dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(mnt, nobody, nobody)
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	return mnt
}

// TestHostileStall: another user's lingering connection reaches the
// daemon three ways (testcmd/hostile linger): refused as a reply channel,
// dropped as a descriptor beyond the control buffer, and queued inside a
// valid reply channel; and a file on a FUSE mount that user serves, whose
// flush it never answers (testcmd/hostile fuse), is refused as a reply
// channel. While each holds, root's release, hold-again,
// hand-off and list are each answered within their normal time, 20 of 20,
// and the daemon's threads and descriptors stay bounded. Before the admin
// socket, each way stopped all serving until the attacker let go.
func TestHostileStall(t *testing.T) {
	needNetns(t)
	for _, how := range []string{"refused", "extra", "queued", "fuse"} {
		t.Run(how, func(t *testing.T) {
			s := newSetup(t, map[string]string{"a": "7901/tcp\n", "b": "7902/tcp\n", "keep": "7903/udp\n"})
			s.mustStart(t)
			s.openToOthers()
			pid := s.daemonPid()
			threads0, fds0 := threadsAndFds(t, pid)
			attack, ready := []string{"linger", s.sock, how}, "lingering"
			if how == "fuse" {
				attack, ready = []string{"fuse", s.sock, fuseMountpoint(t, s)}, "flushing"
			}
			if line := startHostile(t, asNobody(t, attack...)); line != ready {
				t.Fatalf("hostile %q said %q; want %s", attack, line, ready)
			}
			// The attack holds: the public socket's loop is stuck in the
			// close, and answers nobody.
			if publicAnswers(t, s.sock, 500*time.Millisecond) {
				t.Errorf("a list on the public socket was answered: the lingering close did not block, so this test proves nothing")
			}
			ops := []struct {
				what string
				run  func() result
			}{
				{"portrelease a", func() result { return s.release(t, "-t", "1", "a") }},
				{"portreserve a (hold again)", func() result { return run(t, "portreserve", s.args("a")...) }},
				{"portrelease --exec b", func() result { return s.release(t, "-t", "1", "--exec", "b", "--", "true") }},
				{"portreserve b (hold again)", func() result { return run(t, "portreserve", s.args("b")...) }},
				{"portreserve-check", func() result { return s.check(t, "-t", "1", "-n") }},
			}
			var slowest time.Duration
			for i := 0; i < 20; i++ {
				for _, op := range ops {
					start := time.Now()
					r := op.run()
					took := time.Since(start)
					slowest = max(slowest, took)
					if r.code != 0 || took > time.Second {
						t.Fatalf("round %d: %s = %d after %v, %q; want 0 within 1 s", i+1, op.what, r.code, took, r.stderr)
					}
				}
			}
			threads, fds := threadsAndFds(t, pid)
			t.Logf("%s: 20 rounds of release, hold again, hand-off, hold again, list: slowest %v; daemon threads %d -> %d, descriptors %d -> %d",
				how, slowest.Round(time.Millisecond), threads0, threads, fds0, fds)
			// The stuck loop's thread and what it received (at most two
			// descriptors, and the channel of a list it answered), and
			// the threads the Go runtime starts for blocking calls,
			// which vary with timing.
			if threads > threads0+4 || fds > fds0+4 {
				ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
				var links []string
				for _, e := range ents {
					l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + e.Name())
					links = append(links, e.Name()+"="+l)
				}
				t.Errorf("daemon threads %d -> %d, descriptors %d -> %d; want at most 4 more of each; descriptors: %s", threads0, threads, fds0, fds, strings.Join(links, " "))
			}
		})
	}
}
