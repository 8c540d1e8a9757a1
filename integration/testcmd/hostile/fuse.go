package main

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"portreserve/integration/internal/rawsock"
	"portreserve/ipc"
)

// The FUSE requests fuseServe answers (linux/fuse.h).
const (
	fuseLookup  = 1
	fuseGetattr = 3
	fuseOpen    = 14
	fuseRelease = 18
	fuseFlush   = 25
	fuseInit    = 26
	fuseIntr    = 36
	fuseDestroy = 38

	fuseInHeader  = 40
	fuseOutHeader = 16
	fuseAttrSize  = 88
)

// fuseFile makes the daemon's close of a descriptor it is sent block for
// as long as this process lives: a file on a FUSE mount this process
// serves (mounted at mnt with fusermount3, as any user may), whose flush,
// which every close(2) sends, it answers for its own threads' closes and
// never for anyone else's. It sends the file to the daemon as a list request's reply
// channel, which the daemon refuses and closes, says "flushing" and stays
// until killed.
func fuseFile(sock, mnt string) int {
	fail := func(what string, err error) int {
		os.Stdout.WriteString(what + ": " + err.Error() + "\n")
		return 1
	}
	dev, err := fuseMount(mnt)
	if err != nil {
		return fail("mount", err)
	}
	go fuseServe(dev)
	f, err := unix.Open(filepath.Join(mnt, "f"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail("open", err)
	}
	fd, err := rawsock.DialAutobound(sock)
	if err != nil {
		return fail("dial", err)
	}
	if err := rawsock.Sendmsg(fd, (&ipc.Request{Op: ipc.OpList}).Marshal(), f); err != nil {
		return fail("send", err)
	}
	unix.Close(f) // this process's flush is answered
	os.Stdout.WriteString("flushing\n")
	waitForKill()
	return 0
}

// fuseMount mounts a FUSE file system at mnt with fusermount3 and returns
// the /dev/fuse descriptor it passes back on _FUSE_COMMFD.
func fuseMount(mnt string) (int, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	theirs := os.NewFile(uintptr(pair[1]), "commfd")
	cmd := exec.Command("fusermount3", "-o", "nosuid,nodev,fsname=hostile,subtype=hostile", "--", mnt)
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Env = append(os.Environ(), "_FUSE_COMMFD=3")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return -1, err
	}
	theirs.Close()
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(pair[0], buf, oob, 0)
	if err != nil {
		return -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return -1, syscall.EPROTO
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return -1, syscall.EPROTO
	}
	return fds[0], nil
}

// fuseServe serves a root directory (node 1) holding one empty file "f"
// (node 2), and answers the flushes of this process's threads only.
func fuseServe(dev int) {
	le := binary.LittleEndian
	buf := make([]byte, 1<<17)
	reply := func(unique uint64, errno int32, payload []byte) {
		out := make([]byte, fuseOutHeader+len(payload))
		le.PutUint32(out[0:], uint32(len(out)))
		le.PutUint32(out[4:], uint32(errno))
		le.PutUint64(out[8:], unique)
		copy(out[fuseOutHeader:], payload)
		unix.Write(dev, out)
	}
	attr := func(node uint64) []byte {
		a := make([]byte, fuseAttrSize)
		le.PutUint64(a[0:], node) // ino
		mode := uint32(unix.S_IFREG | 0o444)
		if node == 1 {
			mode = unix.S_IFDIR | 0o755
		}
		le.PutUint32(a[60:], mode)
		le.PutUint32(a[64:], 1) // nlink
		le.PutUint32(a[68:], uint32(os.Getuid()))
		le.PutUint32(a[72:], uint32(os.Getgid()))
		le.PutUint32(a[80:], 4096) // blksize
		return a
	}
	for {
		n, err := unix.Read(dev, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < fuseInHeader {
			return
		}
		op, unique, node := le.Uint32(buf[4:]), le.Uint64(buf[8:]), le.Uint64(buf[16:])
		tid := le.Uint32(buf[32:])
		in := buf[fuseInHeader:n]
		switch op {
		case fuseInit:
			out := make([]byte, 64)
			le.PutUint32(out[0:], 7)  // major
			le.PutUint32(out[4:], 31) // minor
			le.PutUint32(out[8:], le.Uint32(in[8:]))
			le.PutUint16(out[16:], 16)   // max_background
			le.PutUint16(out[18:], 12)   // congestion_threshold
			le.PutUint32(out[20:], 4096) // max_write
			le.PutUint32(out[24:], 1)    // time_gran
			reply(unique, 0, out)
		case fuseLookup:
			if string(in) != "f\x00" {
				reply(unique, -int32(unix.ENOENT), nil)
				continue
			}
			out := make([]byte, 40+fuseAttrSize)
			le.PutUint64(out[0:], 2) // nodeid
			copy(out[40:], attr(2))
			reply(unique, 0, out)
		case fuseGetattr:
			out := make([]byte, 16+fuseAttrSize)
			copy(out[16:], attr(node))
			reply(unique, 0, out)
		case fuseOpen:
			reply(unique, 0, make([]byte, 16))
		case fuseFlush:
			var st unix.Stat_t
			if unix.Stat("/proc/self/task/"+strconv.Itoa(int(tid)), &st) == nil {
				reply(unique, 0, nil)
			}
		case fuseRelease:
			reply(unique, 0, nil)
		case fuseIntr, fuseDestroy:
			// no reply
		default:
			reply(unique, -int32(unix.ENOSYS), nil)
		}
	}
}
