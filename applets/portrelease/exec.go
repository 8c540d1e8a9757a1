package portrelease

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/applets"
	"portreserve/internal/inetaddr"
	"portreserve/internal/rawfs"
	"portreserve/ipc"
)

// listenFdsStart is the first descriptor of socket activation, as
// sd_listen_fds(3) defines it (SD_LISTEN_FDS_START).
const listenFdsStart = 3

// handoff is one portrelease --exec: the daemon at socket, the release
// name, whether the daemon keeps copies, and what runs the command.
type handoff struct {
	socket  string
	name    string
	keep    bool
	timeout time.Duration
	env     *applets.Env
	note    func(string)
	exec    execFunc
	// firstFd is where the sockets go: listenFdsStart, except in
	// tests, whose own process has descriptors 3, 4, ... in use.
	firstFd int
}

// run takes over the held sockets of h.name and runs argv with them, the
// way systemd's socket activation starts a service: the sockets at
// descriptors 3, 4, ... in the order of the configuration file, TCP ones
// listening, close-on-exec cleared on them only, and LISTEN_FDS,
// LISTEN_PID (this process's pid, which exec keeps) and LISTEN_FDNAMES
// set. The daemon passes the very sockets it holds, so the ports are bound
// throughout: no other process can take them between the release and the
// service's start. Without a daemon, or with nothing held for the name,
// argv runs without sockets, and a note says so. It returns only on
// failure.
func (h *handoff) run(argv []string) int {
	name, note := h.name, h.note
	// Find the command first: sockets taken from the daemon would be
	// lost if it could not run.
	path, err := rawfs.LookPath(argv[0], h.env.Getenv("PATH"))
	if err != nil {
		note(err.Error())
		return 127
	}
	var entries []ipc.Entry
	var fds []int
	daemon := 0
	conn, err := ipc.Dial(h.socket)
	if err == nil {
		entries, fds, err = conn.Handoff(name, h.keep, h.timeout)
		daemon = conn.DaemonPid()
		conn.Close()
	}
	var se *ipc.StatusError
	switch {
	case errors.Is(err, ipc.ErrNoDaemon):
		note("no portreserve daemon at " + h.socket + "; starting " + argv[0] + " without sockets")
	case asStatus(err, &se) && se.Status == ipc.StatusNoSuchName:
		note(name + ": no reservation by that name; starting " + argv[0] + " without sockets")
	case err != nil:
		note(name + ": " + err.Error())
		return 2
	case len(fds) == 0:
		note(name + ": nothing held; starting " + argv[0] + " without sockets")
	}
	for i, e := range entries {
		if e.Proto != inetaddr.TCP {
			continue
		}
		// The listen backlog systemd uses by default: SOMAXCONN.
		err := unix.Listen(fds[i], unix.SOMAXCONN)
		if err == unix.EADDRINUSE {
			// The daemon held the port over the TIME_WAIT
			// connections of the service's last run (SO_REUSEADDR
			// for its bind only), and listen checks the port
			// again: with them still there it refuses without
			// the option, which the socket gets a line below
			// anyway. Only here is it set before listen.
			unix.SetsockoptInt(fds[i], unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			err = unix.Listen(fds[i], unix.SOMAXCONN)
		}
		if err != nil {
			note(name + ": listen on " + e.Endpoint.String() + ": " + err.Error())
			return 2
		}
		// SO_REUSEADDR, as systemd sets on the stream sockets it
		// listens on, and only now: before listen, another socket
		// with SO_REUSEADDR could bind beside this one; a listening
		// socket refuses it. It matters when the service stops: the
		// connections it accepted inherit the option, and those left
		// in TIME_WAIT would otherwise refuse every bind of the port
		// for a minute, portreserve NAME's included.
		unix.SetsockoptInt(fds[i], unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	// Sockets systemd passed to this process (a unit with a socket
	// unit, as cups.service has cups.socket) stay where they are, first;
	// the held ones follow them.
	inherited := inheritedSockets(h.env)
	if err := placeFds(fds, h.firstFd+len(inherited)); err != nil {
		note(err.Error())
		return 2
	}
	if err == nil {
		reapDaemon(daemon, h.socket)
	}
	env := activationEnv(h.env.Environ, inherited, name, len(fds))
	err = h.exec(path, argv, env)
	note("exec " + path + ": " + err.Error())
	return 126
}

// asStatus is errors.As for *ipc.StatusError, without the reflection
// errors.As brings.
func asStatus(err error, se **ipc.StatusError) bool {
	e, ok := err.(*ipc.StatusError)
	if ok {
		*se = e
	}
	return ok
}

// placeFds moves fds to first, first+1, ... (3, 4, ...) in order, without
// close-on-exec; every other descriptor this process opened keeps
// close-on-exec. It moves them in place, one at a time, so that it never
// needs more than one descriptor beyond them: 10,000 sockets fit under a
// limit of 10,004 descriptors. A socket sitting where another goes first
// moves to the lowest free descriptor.
func placeFds(fds []int, first int) error {
	at := make(map[int]int, len(fds)) // descriptor -> index in fds
	for i, fd := range fds {
		at[fd] = i
	}
	for i := range fds {
		target := first + i
		if fds[i] == target {
			if _, err := unix.FcntlInt(uintptr(target), unix.F_SETFD, 0); err != nil {
				return os.NewSyscallError("fcntl F_SETFD", err)
			}
			continue
		}
		if j, ok := at[target]; ok {
			moved, err := unix.FcntlInt(uintptr(target), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				return os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
			}
			unix.Close(target)
			fds[j], at[moved] = moved, j
		}
		if err := unix.Dup3(fds[i], target, 0); err != nil {
			return os.NewSyscallError("dup3", err)
		}
		unix.Close(fds[i])
		delete(at, fds[i])
		fds[i], at[target] = target, i
	}
	return nil
}

// maxInherited bounds the sockets taken as passed by systemd: more in
// LISTEN_FDS is not systemd's doing.
const maxInherited = 1024

// inheritedSockets returns the names of the sockets systemd passed to
// this very process (LISTEN_PID is its pid), at 3, 4, ...: LISTEN_FDNAMES,
// or "unknown" each, as sd_listen_fds_with_names(3) says, where it does
// not name them all. None when LISTEN_PID names another process: the
// variables were meant for a parent.
func inheritedSockets(env *applets.Env) []string {
	n, err := strconv.Atoi(env.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 || n > maxInherited || env.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return nil
	}
	names := strings.Split(env.Getenv("LISTEN_FDNAMES"), ":")
	if len(names) != n {
		names = make([]string, n)
		for i := range names {
			names[i] = "unknown"
		}
	}
	return names
}

// activationEnv returns env without inherited LISTEN_* variables and, when
// there are sockets, with those of sd_listen_fds(3): LISTEN_FDS=n,
// LISTEN_PID=this process's pid, LISTEN_FDNAMES=name:name:... The
// sockets systemd passed (inherited, their names) come first; each held
// socket is named after the release name, as systemd names each socket
// of a socket unit after the unit.
func activationEnv(env, inherited []string, name string, n int) []string {
	out := env[:0:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, "LISTEN_FDS=") || strings.HasPrefix(kv, "LISTEN_PID=") || strings.HasPrefix(kv, "LISTEN_FDNAMES=") {
			continue
		}
		out = append(out, kv)
	}
	if n+len(inherited) == 0 {
		return out
	}
	names := append([]string(nil), inherited...)
	for i := 0; i < n; i++ {
		names = append(names, name)
	}
	return append(out,
		"LISTEN_FDS="+strconv.Itoa(len(names)),
		"LISTEN_PID="+strconv.Itoa(os.Getpid()),
		"LISTEN_FDNAMES="+strings.Join(names, ":"))
}

// reapWait bounds how long portrelease --exec waits for an exiting daemon
// it has to reap.
const reapWait = 2 * time.Second

// reapDaemon waits for the daemon with the given pid when it is this
// process's child and is exiting. That is a container's case: the
// entrypoint started the daemon and then exec'd portrelease, which is PID
// 1 from then on and execs the service next; a daemon exiting after the
// hand-off would stay a zombie under the service for the container's
// life, as a service does not reap children it did not start. The daemon
// removes its socket before it answers the request that leaves it nothing
// to hold, so a socket still there means it goes on running: nothing to
// wait for. Elsewhere the daemon is not this process's child (ECHILD) and
// nothing waits either.
func reapDaemon(pid int, socket string) {
	if pid <= 0 {
		return
	}
	var st unix.Stat_t
	if unix.Lstat(socket, &st) == nil {
		return
	}
	deadline := time.Now().Add(reapWait)
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || got == pid {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
