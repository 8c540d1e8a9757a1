package ipc

import (
	"errors"
	"os"
	"strconv"
	"time"

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
// AdminPath. SO_PASSCRED is on, so that every datagram arrives with the
// sender's kernel-verified credentials. A socket file left behind by a
// daemon that died is detected (nobody answers a connect) and replaced; one
// that a live process serves makes Listen fail with ErrInUse. The caller
// creates the directory.
func Listen(path string, mode uint32) (int, error) {
	sa, err := sockaddr(path)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	err = unix.Bind(fd, sa)
	if err == unix.EADDRINUSE && stale(sa) {
		// Remove the dead daemon's socket, and nothing else: Lstat
		// makes sure it is a socket, not a file someone put there.
		var st unix.Stat_t
		if unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			unix.Unlink(path)
		}
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		unix.Close(fd)
		if err == unix.EADDRINUSE {
			return -1, &os.PathError{Op: "bind", Path: path, Err: ErrInUse}
		}
		return -1, &os.PathError{Op: "bind", Path: path, Err: err}
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, path, mode, 0); err != nil {
		unix.Close(fd)
		os.Remove(path)
		return -1, &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fd)
		os.Remove(path)
		return -1, os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	return fd, nil
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
	// nil if the kernel attached none.
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

// OOBSize is the room Receive needs for a datagram's credentials and its
// reply channel, and one descriptor more, so that two are seen as two and
// refused. Descriptors beyond that do not fit: the kernel closes them and
// flags the datagram (MSG_CTRUNC), and Receive refuses the channel too.
// (qemu-user does not pass MSG_CTRUNC on: with room for two, a second
// descriptor is refused there too.)
var OOBSize = unix.CmsgSpace(unix.SizeofUcred) + unix.CmsgSpace(2*4)

// Receive blocks until a datagram arrives on fd (the socket from Listen)
// and returns it, reading into buf and oob (OOBSize bytes), which the
// caller keeps from one datagram to the next. The daemon calls nothing else
// while idle: one blocking recvmsg, no timers, no polling.
func Receive(fd int, buf, oob []byte, flags int) (Datagram, error) {
	for {
		n, oobn, rflags, _, err := unix.Recvmsg(fd, buf, oob, flags|unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Datagram{}, err
		}
		d := Datagram{Data: buf[:n], Truncated: rflags&unix.MSG_TRUNC != 0, Reply: -1}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for i := range msgs {
				if c, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
					d.Cred = c
				}
				if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
					fds = append(fds, got...)
				}
			}
		}
		switch {
		case rflags&unix.MSG_CTRUNC != 0:
			closeAll(fds)
			d.ReplyProblem = "more than one descriptor passed"
		case len(fds) == 1:
			if why := replyChannel(fds[0], d.Cred); why != "" {
				unix.Close(fds[0])
				d.ReplyProblem = why
			} else {
				d.Reply = fds[0]
			}
		case len(fds) > 1:
			closeAll(fds)
			d.ReplyProblem = "more than one descriptor passed"
		}
		return d, nil
	}
}

// replyChannel checks that fd, passed by the sender cred, is a reply
// channel of the sender's own: an AF_UNIX SOCK_SEQPACKET socket connected
// to a socket the sender's user created (one end of its socketpair). A
// socket connected elsewhere would make the daemon answer a third party.
// It returns why not, or "".
func replyChannel(fd int, cred *unix.Ucred) string {
	domain, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err1 != nil || err2 != nil || domain != unix.AF_UNIX || typ != unix.SOCK_SEQPACKET {
		return "the descriptor passed is not an AF_UNIX SOCK_SEQPACKET socket"
	}
	peer, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil || peer.Pid == 0 {
		return "the socket passed is not connected"
	}
	if cred == nil || peer.Uid != cred.Uid {
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
