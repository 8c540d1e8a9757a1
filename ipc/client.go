package ipc

import (
	"errors"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoDaemon means no daemon is listening on the socket: the path does not
// exist, nobody has it open, or the daemon shut down while the request was
// on its way. For a release it means there is nothing to release.
var ErrNoDaemon = errors.New("no portreserve daemon is running")

// ErrTimeout means the daemon did not answer in time.
var ErrTimeout = errors.New("no reply from the daemon")

// ErrChannelRefused means the daemon that got the request still serves,
// but closed the request's reply channel without an answer: the kernel
// refused to pass the channel to it (a security module's denial, or the
// daemon out of descriptors), so it could not answer and did not act.
var ErrChannelRefused = errors.New("the daemon got the request but not its reply channel: the kernel refused to pass it " +
	"(where SELinux enforces, a denial: ausearch -m avc -c portreserve; the project's policy module allows it, see portreserve(8), SELINUX)")

// Conn is a client's connection to the daemon.
type Conn struct {
	fd    int
	id    uint32
	path  string
	owner uint32 // the socket file's owner: the daemon's user
	dev   uint64 // the socket file's device and inode, to tell
	ino   uint64 // whether the daemon that got a request still serves
	peer  int32  // the daemon's pid, from its last reply's credentials
	// v1 says the daemon speaks version 1 only (it refused a version 2
	// request): it predates addresses, and every request goes as
	// version 1, its entries without them.
	v1 bool
}

// Dial connects to the daemon whose socket is at path: on its admin socket
// (AdminPath), which no other user can reach, when the caller may write
// it (root, the daemon's user), else on the socket at path. It returns
// ErrNoDaemon when no daemon is there.
func Dial(path string) (*Conn, error) {
	if c, err := dial(AdminPath(path)); err == nil {
		return c, nil
	}
	return dial(path)
}

// dial connects to the daemon socket at path.
func dial(path string) (*Conn, error) {
	sa, err := sockaddr(path)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if noDaemon(err) {
			return nil, ErrNoDaemon
		}
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	// No address of its own: replies come back on a channel passed
	// with each request, never to an address another process could
	// have bound.
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		if noDaemon(err) {
			return nil, ErrNoDaemon
		}
		return nil, &os.PathError{Op: "connect", Path: path, Err: err}
	}
	// Request ids only tell requests apart in the daemon's log; starting
	// from the pid keeps two clients' ids apart.
	return &Conn{fd: fd, id: uint32(os.Getpid()) << 12, path: path, owner: st.Uid, dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// serving reports whether the daemon this Conn reached still serves its
// socket: the same socket file is at the path and takes a connection. A
// daemon that exited has removed it (or, killed, left a file nobody
// serves); a new daemon has a new one.
func (c *Conn) serving() bool {
	var st unix.Stat_t
	if unix.Stat(c.path, &st) != nil || uint64(st.Dev) != c.dev || uint64(st.Ino) != c.ino {
		return false
	}
	sa, err := sockaddr(c.path)
	if err != nil {
		return false
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Connect(fd, sa) == nil
}

// noDaemon reports the errors that mean nobody is serving the socket.
func noDaemon(err error) bool {
	return err == unix.ENOENT || err == unix.ECONNREFUSED || err == unix.EPIPE || err == unix.ENOTDIR
}

// Close closes the connection.
func (c *Conn) Close() error {
	return unix.Close(c.fd)
}

// Do sends req (its ID is set here) and waits up to timeout for the reply.
// It returns ErrNoDaemon when the daemon goes away before it answers (a
// daemon that exits has released everything), and ErrTimeout when it does
// not answer in time.
//
// A request whose version is left to Marshal goes as version 1 to a daemon
// that refused version 2 (one from before addresses, until it restarts), so
// that listing it still works.
func (c *Conn) Do(req Request, timeout time.Duration) (Reply, error) {
	deadline := time.Now().Add(timeout)
	ch, err := c.send(req, deadline)
	if err != nil {
		return Reply{}, err
	}
	r, _, err := c.receive(ch, deadline, nil)
	unix.Close(ch)
	if err == nil && c.olderDaemon(req, r) {
		return c.Do(req, time.Until(deadline))
	}
	return r, err
}

// olderDaemon reports whether r refuses req for its version 2, so that it
// should go again as version 1, and remembers that it should.
func (c *Conn) olderDaemon(req Request, r Reply) bool {
	if r.Status != StatusBadVersion || req.Version != 0 || c.v1 {
		return false
	}
	c.v1 = true
	return true
}

// send sends req with a new request id and, with it, one end of a new
// socket pair: the reply channel. It returns the other end, on which the
// replies come, and end of file once the daemon has done with the request.
// Sending waits until deadline at most (the daemon's queue may be full).
func (c *Conn) send(req Request, deadline time.Time) (int, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socketpair", err)
	}
	mine, theirs := pair[0], pair[1]
	defer unix.Close(theirs)
	fail := func(err error) (int, error) {
		unix.Close(mine)
		return -1, err
	}
	// The kernel attaches the sender's credentials to every reply:
	// answers are taken from root or the daemon's user only.
	if err := unix.SetsockoptInt(mine, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return fail(os.NewSyscallError("setsockopt SO_PASSCRED", err))
	}
	if err := setTimeout(c.fd, unix.SO_SNDTIMEO, deadline); err != nil {
		return fail(err)
	}
	c.id++
	req.ID = c.id
	if req.Version == 0 && c.v1 {
		req.Version = Version1
	}
	for {
		err = unix.Sendmsg(c.fd, req.Marshal(), unix.UnixRights(theirs), nil, unix.MSG_NOSIGNAL)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == nil:
		return mine, nil
	case err == unix.EAGAIN:
		return fail(ErrTimeout)
	case noDaemon(err):
		return fail(ErrNoDaemon)
	}
	return fail(&os.PathError{Op: "send", Path: c.path, Err: err})
}

// setTimeout sets the socket option opt (SO_SNDTIMEO, SO_RCVTIMEO) of fd
// to the time left until deadline; ErrTimeout when none is left.
func setTimeout(fd, opt int, deadline time.Time) error {
	left := time.Until(deadline)
	if left <= 0 {
		return ErrTimeout
	}
	tv := unix.NsecToTimeval(left.Nanoseconds())
	if tv.Sec == 0 && tv.Usec == 0 {
		tv.Usec = 1 // zero would mean no timeout at all
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return nil
}

// receive waits until deadline for the next reply on the reply channel ch,
// and returns it with the descriptors passed along with it, if oob has room
// for them. A reply the kernel does not show as sent by root or by the
// daemon's user (the socket file's owner) is refused.
func (c *Conn) receive(ch int, deadline time.Time, oob []byte) (Reply, []int, error) {
	if oob == nil {
		oob = make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	}
	buf := make([]byte, MaxReplySize+1)
	for {
		if err := setTimeout(ch, unix.SO_RCVTIMEO, deadline); err != nil {
			return Reply{}, nil, err
		}
		n, oobn, rflags, _, err := unix.Recvmsg(ch, buf, oob, unix.MSG_CMSG_CLOEXEC)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return Reply{}, nil, ErrTimeout
		case err != nil:
			return Reply{}, nil, &os.PathError{Op: "recv", Path: c.path, Err: err}
		case n == 0 && oobn == 0:
			// The channel closed without an answer: the daemon shut
			// down (having released everything) with the request still
			// queued, or, still serving, never got the channel.
			if c.serving() {
				return Reply{}, nil, ErrChannelRefused
			}
			return Reply{}, nil, ErrNoDaemon
		}
		cred, fds := control(oob[:oobn])
		if err := c.fromDaemon(cred); err != nil {
			closeAll(fds)
			return Reply{}, nil, err
		}
		if rflags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			closeAll(fds)
			return Reply{}, nil, &os.PathError{Op: "reply", Path: c.path, Err: ErrSize}
		}
		r, err := ParseReply(buf[:n])
		if err != nil {
			closeAll(fds)
			return Reply{}, nil, &os.PathError{Op: "reply", Path: c.path, Err: err}
		}
		return r, fds, nil
	}
}

// fromDaemon checks a reply's credentials: sent by root or by the owner of
// the socket file, the daemon's user.
func (c *Conn) fromDaemon(cred *unix.Ucred) error {
	switch {
	case cred == nil:
		return &os.PathError{Op: "reply", Path: c.path, Err: errors.New("no credentials attached")}
	case cred.Uid != 0 && cred.Uid != c.owner:
		return &os.PathError{Op: "reply", Path: c.path, Err: errors.New("sent by uid " +
			strconv.FormatUint(uint64(cred.Uid), 10) + ", neither root nor the socket's owner")}
	}
	c.peer = cred.Pid
	return nil
}

// DaemonPid returns the pid of the daemon that sent the last reply, as the
// kernel gave it (0 before any reply, or from another pid namespace).
func (c *Conn) DaemonPid() int {
	return int(c.peer)
}

// control returns the credentials and the descriptors of a reply's control
// messages.
func control(oob []byte) (*unix.Ucred, []int) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, nil
	}
	var cred *unix.Ucred
	var fds []int
	for i := range msgs {
		if c, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
			cred = c
		}
		if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return cred, fds
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
	return s + ": " + e.Status.String() + e.Status.Advice()
}
