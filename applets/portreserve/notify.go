package portreserve

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// notifySystemd sends state (for example "READY=1") to the service
// manager's socket at path, the value of $NOTIFY_SOCKET, as sd_notify(3)
// does: one datagram, a leading '@' meaning the abstract namespace.
// Without a path it does nothing.
func notifySystemd(path, state string) error {
	if path == "" {
		return nil
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	// x/sys turns a leading '@' into the abstract namespace's NUL.
	if err := unix.Sendto(fd, []byte(state), unix.MSG_NOSIGNAL, &unix.SockaddrUnix{Name: path}); err != nil {
		return &os.PathError{Op: "notify", Path: path, Err: err}
	}
	return nil
}

// notifyFd signals readiness the s6 way: a newline written to fd, which is
// then closed.
func notifyFd(fd int) error {
	_, err := unix.Write(fd, []byte("\n"))
	unix.Close(fd)
	if err != nil {
		return os.NewSyscallError("write notification fd "+strconv.Itoa(fd), err)
	}
	return nil
}

// checkNotifyFd checks, before the daemon opens anything, that fd (-N) is
// a descriptor it was given: open, and not standard input, output or
// error. Otherwise the pidfile or the control socket could get that number
// and the readiness newline would go into it, and closing it would drop
// the pidfile's lock. The descriptor becomes close-on-exec.
func checkNotifyFd(fd int) error {
	if fd < 3 {
		return errors.New("notify-fd " + strconv.Itoa(fd) + ": standard input, output and error cannot be the notification descriptor; use 3 or more")
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return errors.New("notify-fd " + strconv.Itoa(fd) + ": not an open descriptor (" + err.Error() + "); the supervisor's notification-fd must match -N")
	}
	return nil
}
