package ipc

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultSocket is where the daemon listens unless told otherwise.
const DefaultSocket = "/run/portreserve/socket"

// ErrNoDaemon means no daemon is listening on the socket: the path does not
// exist, nobody has it open, or the daemon shut down while the request was
// on its way. For a release it means there is nothing to release.
var ErrNoDaemon = errors.New("no portreserve daemon is running")

// ErrTimeout means the daemon did not answer in time.
var ErrTimeout = errors.New("no reply from the daemon")

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

// Listen binds the daemon's socket at path, mode 0666 so that anyone may
// list (the daemon checks credentials on every request that changes
// state), with SO_PASSCRED on so that every datagram arrives with the
// sender's kernel-verified credentials. A socket file left behind by a
// daemon that died is detected (nobody answers a connect) and replaced; one
// that a live process serves makes Listen fail with ErrInUse. The caller
// creates the directory.
func Listen(path string) (int, error) {
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
	if err := unix.Fchmodat(unix.AT_FDCWD, path, 0o666, 0); err != nil {
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
	// From is the sender's address, nil when the sender's socket is not
	// bound (it cannot be answered).
	From unix.Sockaddr
	// Cred holds the sender's credentials as the kernel reports them,
	// nil if the kernel attached none.
	Cred *unix.Ucred
	// Truncated reports a datagram larger than the buffer.
	Truncated bool
}

// OOBSize is the room Receive needs for a datagram's credentials.
var OOBSize = unix.CmsgSpace(unix.SizeofUcred)

// Receive blocks until a datagram arrives on fd (the socket from Listen)
// and returns it, reading into buf and oob (OOBSize bytes), which the
// caller keeps from one datagram to the next. The daemon calls nothing else
// while idle: one blocking recvmsg, no timers, no polling.
func Receive(fd int, buf, oob []byte, flags int) (Datagram, error) {
	for {
		n, oobn, rflags, from, err := unix.Recvmsg(fd, buf, oob, flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Datagram{}, err
		}
		d := Datagram{Data: buf[:n], From: from, Truncated: rflags&unix.MSG_TRUNC != 0}
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for i := range msgs {
				if c, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
					d.Cred = c
				}
			}
		}
		return d, nil
	}
}

// Send answers a datagram's sender without blocking: a client that does
// not read its replies cannot stall the daemon; its reply is dropped.
func Send(fd int, to unix.Sockaddr, b []byte) error {
	return unix.Sendto(fd, b, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, to)
}

// SendRights is Send with descriptors passed along (SCM_RIGHTS). The
// receiver gets its own copies; the caller still owns fds.
func SendRights(fd int, to unix.Sockaddr, b []byte, fds []int) error {
	return unix.Sendmsg(fd, b, unix.UnixRights(fds...), to, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
}

// Conn is a client's connection to the daemon.
type Conn struct {
	fd   int
	id   uint32
	path string
}

// Dial connects to the daemon's socket at path. It returns ErrNoDaemon when
// no daemon is there.
func Dial(path string) (*Conn, error) {
	sa, err := sockaddr(path)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	// Bind to an autobind (abstract) address so the daemon can reply.
	if err := unix.Bind(fd, &unix.SockaddrUnix{}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		if noDaemon(err) {
			return nil, ErrNoDaemon
		}
		return nil, &os.PathError{Op: "connect", Path: path, Err: err}
	}
	// Request ids only tell a late reply from the current one; starting
	// from the pid keeps two clients' ids apart in the daemon's log.
	return &Conn{fd: fd, id: uint32(os.Getpid()) << 12, path: path}, nil
}

// noDaemon reports the errors that mean nobody is serving the socket.
func noDaemon(err error) bool {
	return err == unix.ENOENT || err == unix.ECONNREFUSED || err == unix.EPIPE || err == unix.ENOTDIR
}

// Close closes the connection.
func (c *Conn) Close() error {
	return unix.Close(c.fd)
}

// Do sends req (its ID is set here) and waits up to timeout for the reply
// with the same id. It returns ErrNoDaemon when the daemon goes away before
// it answers (a daemon that exits has released everything), and ErrTimeout
// when it does not answer in time.
func (c *Conn) Do(req Request, timeout time.Duration) (Reply, error) {
	deadline := time.Now().Add(timeout)
	id, err := c.send(req)
	if err != nil {
		return Reply{}, err
	}
	r, _, err := c.receive(id, deadline, nil)
	return r, err
}

// Handoff asks the daemon for the held sockets of name and returns them
// with their entries, in the order of the configuration. The descriptors
// are close-on-exec. A name the daemon has but holds nothing for gives no
// sockets and no error; a name it does not have gives a *StatusError with
// StatusNoSuchName. With keep, the daemon keeps a copy of each socket.
func (c *Conn) Handoff(name string, keep bool, timeout time.Duration) ([]Entry, []int, error) {
	deadline := time.Now().Add(timeout)
	req := Request{Op: OpHandoff, Name: name}
	if keep {
		req.Arg = ArgKeep
	}
	id, err := c.send(req)
	if err != nil {
		return nil, nil, err
	}
	oob := make([]byte, unix.CmsgSpace(PageEntries*4))
	var entries []Entry
	var fds []int
	fail := func(err error) ([]Entry, []int, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, nil, err
	}
	for {
		r, got, err := c.receive(id, deadline, oob)
		fds = append(fds, got...)
		if err != nil {
			return fail(err)
		}
		if r.Status != StatusOK {
			return fail(&StatusError{Op: OpHandoff, Name: name, Status: r.Status})
		}
		entries = append(entries, r.Entries...)
		if len(fds) != len(entries) {
			return fail(&os.PathError{Op: "hand-off", Path: c.path, Err: errors.New("sockets and entries do not match")})
		}
		if len(r.Entries) == 0 || uint32(len(entries)) >= r.Total {
			return entries, fds, nil
		}
	}
}

// send sends req with a new request id and returns the id.
func (c *Conn) send(req Request) (uint32, error) {
	c.id++
	req.ID = c.id
	if err := unix.Send(c.fd, req.Marshal(), unix.MSG_NOSIGNAL); err != nil {
		if noDaemon(err) {
			return 0, ErrNoDaemon
		}
		return 0, &os.PathError{Op: "send", Path: c.path, Err: err}
	}
	return req.ID, nil
}

// receive waits until deadline for the reply to request id, and returns
// it with the descriptors passed along with it, if oob has room for them.
// Replies to other ids are dropped, their descriptors closed.
func (c *Conn) receive(id uint32, deadline time.Time, oob []byte) (Reply, []int, error) {
	buf := make([]byte, MaxReplySize+1)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return Reply{}, nil, ErrTimeout
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return Reply{}, nil, os.NewSyscallError("setsockopt SO_RCVTIMEO", err)
		}
		n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			// The daemon may have shut down with the request
			// unanswered; a datagram to a closed socket is refused.
			if perr := c.probe(); perr != nil {
				return Reply{}, nil, perr
			}
			return Reply{}, nil, ErrTimeout
		case err != nil:
			if noDaemon(err) {
				return Reply{}, nil, ErrNoDaemon
			}
			return Reply{}, nil, &os.PathError{Op: "recv", Path: c.path, Err: err}
		}
		fds := rights(oob[:oobn])
		r, err := ParseReply(buf[:n])
		if err != nil {
			closeAll(fds)
			return Reply{}, nil, &os.PathError{Op: "reply", Path: c.path, Err: err}
		}
		if r.ID == id {
			return r, fds, nil
		}
		closeAll(fds)
	}
}

// rights returns the descriptors an SCM_RIGHTS control message carries.
func rights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// probe checks whether the daemon is still there by connecting a fresh
// socket to its path.
func (c *Conn) probe() error {
	sa, _ := sockaddr(c.path)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil && noDaemon(err) {
		return ErrNoDaemon
	}
	return nil
}

// List reads every reservation from the daemon, page by page. If the
// reservations change while it reads, it starts again, so the result is
// one consistent snapshot.
func (c *Conn) List(timeout time.Duration) ([]Entry, error) {
	for attempt := 0; ; attempt++ {
		var all []Entry
		var gen uint32
		consistent := true
		for {
			r, err := c.Do(Request{Op: OpList, Arg: uint32(len(all))}, timeout)
			if err != nil {
				return nil, err
			}
			if r.Status != StatusOK {
				return nil, &StatusError{Op: OpList, Status: r.Status}
			}
			if len(all) == 0 {
				gen = r.Generation
			} else if r.Generation != gen {
				consistent = false
				break
			}
			all = append(all, r.Entries...)
			if len(r.Entries) == 0 || uint32(len(all)) >= r.Total {
				break
			}
		}
		if consistent || attempt >= 10 {
			return all, nil
		}
	}
}

// StatusError is a reply whose status is not StatusOK.
type StatusError struct {
	Op     Op
	Name   string
	Status Status
}

func (e *StatusError) Error() string {
	s := e.Op.String()
	if e.Name != "" {
		s += " " + e.Name
	}
	return s + ": " + e.Status.String()
}
