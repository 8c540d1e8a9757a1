package ipc

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

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
	if c.v1 {
		req.Version = Version1
	}
	ch, err := c.send(req, deadline)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(ch)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(PageEntries*4))
	var entries []Entry
	var fds []int
	fail := func(err error) ([]Entry, []int, error) {
		closeAll(fds)
		return nil, nil, err
	}
	for {
		r, got, err := c.receive(ch, deadline, oob)
		fds = append(fds, got...)
		if err != nil {
			return fail(err)
		}
		if r.Status != StatusOK && len(entries) == 0 && c.olderDaemon(Request{}, r) {
			// The old daemon acted on nothing; this channel is
			// closed on return, by the defer above.
			return c.Handoff(name, keep, time.Until(deadline))
		}
		if r.Status != StatusOK {
			return fail(&StatusError{Op: OpHandoff, Name: name, Status: r.Status})
		}
		entries = append(entries, r.Entries...)
		if len(fds) != len(entries) {
			return fail(&os.PathError{Op: "hand-off", Path: c.path, Err: errors.New("sockets and entries do not match")})
		}
		if len(r.Entries) == 0 || uint32(len(entries)) >= r.Total {
			break
		}
	}
	if len(fds) == 0 {
		return nil, nil, nil
	}
	// Every socket is here: confirm, and they are this process's. Until
	// the confirmation, the daemon holds them all, so that a client that
	// dies or gives up half-way leaves every port held, never free.
	if err := c.confirm(ch, req, len(fds)); err != nil {
		return fail(err)
	}
	// The sockets are this process's now. Until the deadline, wait for
	// the daemon to close the channel, whatever it says: once it has,
	// a daemon left with nothing to hold has removed its socket, and a
	// caller about to exec (portrelease --exec as a container's PID 1)
	// can reap it.
	if setTimeout(ch, unix.SO_RCVTIMEO, deadline) == nil {
		buf := make([]byte, MaxReplySize)
		for {
			n, err := unix.Read(ch, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				break
			}
		}
	}
	return entries, fds, nil
}

// confirm tells the daemon, on the channel of hand-off req, that all n
// sockets arrived. Once it is sent, the sockets are this process's,
// whatever the daemon does next: it closes its copies (unless it keeps
// them) when it reads the confirmation, and if it gave up waiting for it
// just before, it holds them again as well, which costs no port. The send
// does not wait: the channel has room for one request, and a daemon that
// closed it has taken the sockets back (EPIPE), so the hand-off failed.
func (c *Conn) confirm(ch int, req Request, n int) error {
	req.ID, req.Arg = c.id, uint32(n)
	for {
		err := unix.Sendmsg(ch, req.Marshal(), nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return &os.PathError{Op: "hand-off confirmation", Path: c.path, Err: err}
		}
		return nil
	}
}
