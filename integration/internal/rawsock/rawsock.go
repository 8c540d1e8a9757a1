// Package rawsock holds the raw control-socket clients that the
// integration tests and their helper programs share: an autobound datagram
// socket, a reply channel, and a send that survives the Go runtime's
// signals. They talk to the daemon below package ipc's client, as a
// hostile or an old client would.
package rawsock

import (
	"time"

	"golang.org/x/sys/unix"
)

// DialAutobound returns a datagram socket connected to the daemon with an
// autobind address of its own: replies sent to addresses (as before reply
// Channels) would reach it.
func DialAutobound(sock string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	tv := unix.NsecToTimeval(int64(10 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrUnix{}); err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		return -1, err
	}
	return fd, nil
}

// Sendmsg is unix.Sendmsg again on EINTR: with SO_SNDTIMEO set, a signal
// (the Go runtime's preemption) interrupts a blocked send for good.
func Sendmsg(fd int, data []byte, fds ...int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		if err := unix.Sendmsg(fd, data, oob, nil, 0); err != unix.EINTR {
			return err
		}
	}
}

// Channel returns a new reply channel: the end to read and the end to pass.
func Channel() (mine, theirs int, err error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	return pair[0], pair[1], err
}

// ErrString is err's text, or "sent" for no error.
func ErrString(err error) string {
	if err == nil {
		return "sent"
	}
	return err.Error()
}
