package ipc

import (
	"errors"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultSocket is where the daemon listens unless told otherwise.
const DefaultSocket = "/run/portreserve/socket"

// AdminPath is the path of the daemon's admin socket beside its socket at
// path: path with ".admin" added. The admin socket is mode 0600, so that
// only the daemon's user and root (who may write any file) can send to
// it: no other user's datagram, and none of the descriptors that come
// with one, ever reaches the loop that serves it. The socket at path is
// mode 0666, for everyone's lists and for older clients.
func AdminPath(path string) string { return path + ".admin" }

// ErrInUse means another process is serving on the socket path.
var ErrInUse = errors.New("socket is in use by a running daemon")

// sockaddr checks that path fits in sun_path.
func sockaddr(path string) (*unix.SockaddrUnix, error) {
	// sun_path is 108 bytes including the terminating NUL.
	if len(path) > 107 {
		return nil, &os.PathError{Op: "socket", Path: path, Err: errors.New("path longer than 107 bytes (sun_path)")}
	}
	return &unix.SockaddrUnix{Name: path}, nil
}

// Listen binds a daemon socket at path with the file mode mode: 0666 for
// the socket at DefaultSocket, so that anyone may list (the daemon checks
// credentials on every request that changes state), 0600 for the one at
// AdminPath, from the moment it exists. SO_PASSCRED is on, so that every
// datagram arrives with the sender's kernel-verified credentials. A socket
// file left behind by a daemon that died is detected (nobody answers a
// connect) and replaced; one that a live process serves makes Listen fail
// with ErrInUse. The caller creates the directory.
func Listen(path string, mode uint32) (int, error) {
	sa, err := sockaddr(path)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	// Before bind: the kernel attaches credentials to a datagram as it is
	// sent, and only if the receiving socket has SO_PASSCRED by then. One
	// sent between bind and setsockopt would arrive as from pid 0, uid
	// 65534, and its sender be refused as another user.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	err = bindMode(fd, sa, mode)
	if err == unix.EADDRINUSE && stale(sa) {
		// Remove the dead daemon's socket, and nothing else: Lstat
		// makes sure it is a socket, not a file someone put there.
		var st unix.Stat_t
		if unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			unix.Unlink(path)
		}
		err = bindMode(fd, sa, mode)
	}
	if err != nil {
		unix.Close(fd)
		if err == unix.EADDRINUSE {
			return -1, &os.PathError{Op: "bind", Path: path, Err: ErrInUse}
		}
		return -1, &os.PathError{Op: "bind", Path: path, Err: err}
	}
	return fd, nil
}

// bindMode binds fd to sa with the process's umask set so that the
// socket file is created with mode (a socket's mode is 0777 less the
// umask): no client finds it with another mode between bind and chmod.
// The umask is the process's, restored at once; the daemon creates no
// other file meanwhile.
func bindMode(fd int, sa *unix.SockaddrUnix, mode uint32) error {
	old := unix.Umask(int(^mode & 0o777))
	err := unix.Bind(fd, sa)
	unix.Umask(old)
	return err
}

// stale reports whether the socket at sa is left over: connecting to it is
// refused because no process has it open.
func stale(sa *unix.SockaddrUnix) bool {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Connect(fd, sa) == unix.ECONNREFUSED
}

// Datagram is one datagram received by the daemon.
type Datagram struct {
	Data []byte
	// Cred holds the sender's credentials as the kernel reports them,
	// nil if the kernel attached none. Like Data, it is the Receiver's:
	// the next datagram overwrites it.
	Cred *unix.Ucred
	// Truncated reports a datagram larger than the buffer.
	Truncated bool
	// Reply is the reply channel the client passed with the datagram
	// (see the package comment), checked to be the client's own; -1
	// when there is none. Done closes it.
	Reply int
	// ReplyProblem says why the descriptors the client passed were
	// refused as a reply channel; "" when there were none or one was
	// taken.
	ReplyProblem string
}

// OOBSize is the room a Receiver needs for a datagram's credentials and
// its reply channel, and one descriptor more, so that two are seen as two
// and refused. Descriptors beyond that do not fit: the kernel closes them
// and flags the datagram (MSG_CTRUNC), and the channel is refused too.
// (qemu-user does not pass MSG_CTRUNC on: with room for two, a second
// descriptor is refused there too.)
var OOBSize = unix.CmsgSpace(unix.SizeofUcred) + unix.CmsgSpace(2*4)

// Receiver reads the datagrams of one daemon socket into buffers it keeps
// from one datagram to the next, so that receiving a datagram, and
// refusing the descriptors that come with it, allocates nothing: a flood
// of garbage leaves the daemon's memory where it was.
type Receiver struct {
	fd   int
	buf  []byte // one byte larger than any request: larger ones come truncated and flagged
	oob  []byte
	msg  unix.Msghdr
	iov  unix.Iovec
	cred unix.Ucred // the last datagram's sender
	peer unix.Ucred // a reply channel's peer
}

// NewReceiver returns a Receiver for fd, a socket from Listen.
func NewReceiver(fd int) *Receiver {
	return &Receiver{fd: fd, buf: make([]byte, RequestSize+1), oob: make([]byte, OOBSize)}
}

// Receive blocks until a datagram arrives (with flags MSG_DONTWAIT, it
// does not wait) and fills in d, whose Data and Cred are the Receiver's
// until the next Receive. The daemon calls nothing else while idle: one
// blocking recvmsg, no timers, no polling.
func (r *Receiver) Receive(d *Datagram, flags int) error {
	for {
		r.iov.Base = &r.buf[0]
		r.iov.SetLen(len(r.buf))
		r.msg = unix.Msghdr{Iov: &r.iov, Control: &r.oob[0]}
		r.msg.SetIovlen(1)
		r.msg.SetControllen(len(r.oob))
		n, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.msg)), uintptr(flags|unix.MSG_CMSG_CLOEXEC))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		*d = Datagram{Data: r.buf[:n], Truncated: r.msg.Flags&unix.MSG_TRUNC != 0, Reply: -1}
		var fds [2]int
		nfds, extra := 0, r.msg.Flags&unix.MSG_CTRUNC != 0
		oob := r.oob[:r.msg.Controllen]
		for len(oob) >= unix.CmsgLen(0) {
			h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
			size := int(h.Len)
			if size < unix.CmsgLen(0) || size > len(oob) {
				break
			}
			data := oob[unix.CmsgLen(0):size]
			switch {
			case h.Level != unix.SOL_SOCKET:
			case h.Type == unix.SCM_CREDENTIALS && len(data) >= unix.SizeofUcred:
				r.cred = *(*unix.Ucred)(unsafe.Pointer(&data[0]))
				d.Cred = &r.cred
			case h.Type == unix.SCM_RIGHTS:
				for ; len(data) >= 4; data = data[4:] {
					fd := int(*(*int32)(unsafe.Pointer(&data[0])))
					if nfds < len(fds) {
						fds[nfds] = fd
						nfds++
					} else {
						unix.Close(fd)
						extra = true
					}
				}
			}
			if next := unix.CmsgSpace(size - unix.CmsgLen(0)); next < len(oob) {
				oob = oob[next:]
			} else {
				break
			}
		}
		switch {
		case extra && nfds == 0:
			// Room for two, and none came: the kernel refused them.
			d.ReplyProblem = "the kernel passed none of the descriptors sent (the daemon is out of descriptors, or a security module such as SELinux refused them)"
		case extra || nfds > 1:
			closeAll(fds[:nfds])
			d.ReplyProblem = "more than one descriptor passed"
		case nfds == 1:
			if why := r.replyChannel(fds[0], d.Cred); why != "" {
				unix.Close(fds[0])
				d.ReplyProblem = why
			} else {
				d.Reply = fds[0]
			}
		}
		return nil
	}
}

// replyChannel checks that fd, passed by the sender cred, is a reply
// channel of the sender's own: an AF_UNIX SOCK_SEQPACKET socket connected
// to a socket the sender's user created (one end of its socketpair). A
// socket connected elsewhere would make the daemon answer a third party.
// It returns why not, or "".
func (r *Receiver) replyChannel(fd int, cred *unix.Ucred) string {
	domain, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err1 != nil || err2 != nil || domain != unix.AF_UNIX || typ != unix.SOCK_SEQPACKET {
		return "the descriptor passed is not an AF_UNIX SOCK_SEQPACKET socket"
	}
	// unix.GetsockoptUcred would allocate the result.
	r.peer = unix.Ucred{}
	size := uint32(unix.SizeofUcred)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERCRED,
		uintptr(unsafe.Pointer(&r.peer)), uintptr(unsafe.Pointer(&size)), 0)
	if e != 0 || r.peer.Pid == 0 {
		return "the socket passed is not connected"
	}
	if cred == nil || r.peer.Uid != cred.Uid {
		return "the socket passed is connected to another user's socket"
	}
	return ""
}

// Answer sends b on the datagram's reply channel, with fds passed along
// (SCM_RIGHTS) when there are any; the receiver gets its own copies and
// the caller still owns fds. With wait 0 it never blocks: a client that
// does not read loses its reply, and costs the daemon nothing. A positive
// wait lets a full channel block the daemon that long, for a client
// trusted to read (a hand-off of thousands of sockets to root's
// portrelease).
func (d *Datagram) Answer(b []byte, fds []int, wait time.Duration) error {
	if d.Reply < 0 {
		return errNoChannel
	}
	flags := unix.MSG_NOSIGNAL | unix.MSG_DONTWAIT
	if wait > 0 {
		tv := unix.NsecToTimeval(wait.Nanoseconds())
		if err := unix.SetsockoptTimeval(d.Reply, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			return os.NewSyscallError("setsockopt SO_SNDTIMEO", err)
		}
		flags = unix.MSG_NOSIGNAL
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		err := unix.Sendmsg(d.Reply, b, oob, nil, flags)
		if err != unix.EINTR {
			return err
		}
	}
}

// Confirmed waits up to wait for the client's confirmation of a hand-off of
// n sockets of name on the reply channel: a hand-off request for name
// whose argument is n (see the package comment). It returns nil once it
// has it.
func (d *Datagram) Confirmed(name string, n int, wait time.Duration) error {
	if d.Reply < 0 {
		return errNoChannel
	}
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	if err := unix.SetsockoptTimeval(d.Reply, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return os.NewSyscallError("setsockopt SO_RCVTIMEO", err)
	}
	buf := make([]byte, RequestSize+1)
	for {
		m, _, _, _, err := unix.Recvmsg(d.Reply, buf, nil, unix.MSG_CMSG_CLOEXEC)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return errors.New("no confirmation within " + strconv.FormatInt(wait.Milliseconds(), 10) + " ms")
		case err != nil:
			return err
		case m == 0:
			return errors.New("the client closed the channel without confirming")
		}
		r, err := ParseRequest(buf[:m])
		if err != nil || r.Op != OpHandoff || r.Arg != uint32(n) || r.Name != name {
			return errors.New("not a confirmation of " + strconv.Itoa(n) + " sockets of " + name)
		}
		return nil
	}
}

// errNoChannel is Answer's error for a datagram without a reply channel.
var errNoChannel = errors.New("no reply channel")

// Done closes the reply channel, if any: the client sees the end of the
// replies. Replies already sent stay readable.
func (d *Datagram) Done() {
	if d.Reply >= 0 {
		unix.Close(d.Reply)
		d.Reply = -1
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
