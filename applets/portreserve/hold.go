package portreserve

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/internal/procnet"
)

// holder binds the sockets that hold ports.
//
// How a held socket must look was measured (see the project brief): bound
// and never listening, without SO_REUSEADDR (a later bind with
// SO_REUSEADDR would succeed next to it and even listen) and without
// SO_REUSEPORT, on [::] with IPV6_V6ONLY off so that one socket holds the
// port for IPv4 and IPv6 alike, or on 0.0.0.0 where the kernel has no IPv6.
// A socket that never listened leaves no TIME_WAIT behind: the port is
// free the moment it is closed. A TCP port blocked by nothing but TIME_WAIT
// connections is bound with SO_REUSEADDR set for the bind only (see
// bindOverTimeWait).
type holder struct {
	family int // unix.AF_INET6, or unix.AF_INET without IPv6
	// proc is /proc/net as read once in the current bind pass, when a
	// bind first needs it; nil until then.
	proc *procnet.Table
}

// newHolder finds out whether the kernel has IPv6.
func newHolder() *holder {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return &holder{family: unix.AF_INET}
	}
	unix.Close(fd)
	return &holder{family: unix.AF_INET6}
}

// newPass forgets what the last bind pass read of /proc/net.
func (h *holder) newPass() { h.proc = nil }

// timeWaitOnly reports whether TCP port is blocked by nothing but
// connections in TIME_WAIT, reading /proc/net at most once a pass: a range
// whose ports are all in use would otherwise read it once a port.
func (h *holder) timeWaitOnly(port uint16) bool {
	if h.proc == nil {
		h.proc = procnet.Read("")
	}
	return h.proc.TimeWaitOnly(port)
}

// hold binds a socket to e (on every address for inetaddr.Any) and
// returns it.
func (h *holder) hold(e inetaddr.Endpoint) (int, error) {
	port := e.Port
	fd, sa, err := h.socket(e)
	if err != nil {
		return -1, err
	}
	err = unix.Bind(fd, sa)
	if err == unix.EADDRINUSE && e.Proto == inetaddr.TCP && h.timeWaitOnly(port) {
		err = bindOverTimeWait(fd, sa)
		if err == nil && !procnet.Read("").TimeWaitOnly(port) {
			// The TIME_WAITs expired between the check and the bind,
			// so the bind may have been the port's first: Linux 6.1
			// (not 6.18) then lets a later SO_REUSEADDR socket bind
			// beside the hold, though not listen (measured under
			// qemu). A plain bind now that the port is free leaves no
			// such trace.
			unix.Close(fd)
			if fd, sa, err = h.socket(e); err != nil {
				return -1, err
			}
			err = unix.Bind(fd, sa)
		}
	}
	if err == errTimeWait {
		unix.Close(fd)
		return -1, errTimeWait
	}
	if err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("bind", err)
	}
	return fd, nil
}

// socket makes the socket that will hold e, and the address to bind it
// to: for inetaddr.Any, [::] dual-stack, or 0.0.0.0 without IPv6; else
// e's address, in its own family.
func (h *holder) socket(e inetaddr.Endpoint) (int, unix.Sockaddr, error) {
	addr, port := e.Addr, e.Port
	typ := unix.SOCK_STREAM
	if e.Proto == inetaddr.UDP {
		typ = unix.SOCK_DGRAM
	}
	// One decision: the family and the address. [::] alone needs
	// IPV6_V6ONLY off, to hold IPv4 too.
	var sa unix.Sockaddr
	family, dualStack := unix.AF_INET6, false
	if addr.Is4() || (addr == inetaddr.Any && h.family == unix.AF_INET) {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: [4]byte(addr[12:])}
	} else {
		sa, dualStack = &unix.SockaddrInet6{Port: int(port), Addr: addr}, addr == inetaddr.Any
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, os.NewSyscallError("socket", err)
	}
	if dualStack {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			unix.Close(fd)
			return -1, nil, os.NewSyscallError("setsockopt IPV6_V6ONLY", err)
		}
	}
	return fd, sa, nil
}

// errTimeWait says a TCP port is blocked by nothing but connections in
// TIME_WAIT that refuse even an SO_REUSEADDR bind: the daemon tries again
// until they expire.
var errTimeWait = errors.New("blocked by connections in TIME_WAIT of a server without SO_REUSEADDR")

// bindOverTimeWait binds fd to sa over the TIME_WAIT connections that a
// server which served clients left on the port (a service restarting, or
// portreserve NAME in its stop action): they linger for a minute and
// refuse a bind without SO_REUSEADDR, though nobody has the port.
//
// SO_REUSEADDR is set for the bind only and cleared right after it: a hold
// that kept it would let another server setting SO_REUSEADDR bind and
// listen beside it. Cleared, the socket refuses later binds as any hold
// does (measured on Linux 6.1 and 6.18; the tests check both). Where the
// server did not set SO_REUSEADDR, its TIME_WAITs refuse this bind too,
// and errTimeWait says so.
func bindOverTimeWait(fd int, sa unix.Sockaddr) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return os.NewSyscallError("setsockopt SO_REUSEADDR", err)
	}
	err := unix.Bind(fd, sa)
	if cerr := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 0); cerr != nil && err == nil {
		return os.NewSyscallError("setsockopt SO_REUSEADDR off", cerr)
	}
	if err == unix.EADDRINUSE {
		return errTimeWait
	}
	return err
}

// fdHeadroom is how many descriptors beyond the held sockets the daemon
// keeps for itself: stdio, the control socket, the pidfile, syslog, and
// the Go runtime's own.
const fdHeadroom = 64

// prepareFds makes room for n more descriptors before the bind loop.
//
// The soft RLIMIT_NOFILE is raised to fit (and the hard one too when the
// daemon may, as root may). Then the descriptor table is grown once, by
// duplicating a descriptor to the highest number needed and closing it:
// the kernel doubles a full table, and in a Go process each doubling of a
// shared table was measured at about 8 ms (it waits for an RCU grace
// period), so 10,000 sockets bound one by one would pay for some fourteen
// doublings at start-up instead of one.
func prepareFds(n int, anyFd int) {
	need := uint64(n + fdHeadroom)
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Cur < need {
		want := rl
		want.Cur = need
		if want.Max < need {
			want.Max = need
		}
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &want) != nil {
			want.Cur, want.Max = rl.Max, rl.Max
			unix.Setrlimit(unix.RLIMIT_NOFILE, &want)
		}
		unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	}
	top := need
	if top > rl.Cur {
		top = rl.Cur
	}
	if fd, err := unix.FcntlInt(uintptr(anyFd), unix.F_DUPFD_CLOEXEC, int(top)-1); err == nil {
		unix.Close(fd)
	}
}
