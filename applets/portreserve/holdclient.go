package portreserve

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"time"

	"portreserve/applets"
	"portreserve/internal/logger"
	"portreserve/internal/rawfs"
	"portreserve/ipc"
)

// holdTimeout bounds each request of portreserve NAME... to a running
// daemon.
const holdTimeout = 5 * time.Second

// clientLog is the logger of portreserve NAME asking a daemon: stderr,
// with sd-daemon priority prefixes when that is the journal (a unit's
// ExecStopPost), so that journalctl -p warning finds a failed hold.
func clientLog(env *applets.Env) *logger.Logger {
	log := logger.New("portreserve")
	log.Stderr = env.Stderr
	log.Journal = logger.IsJournal(2, env.Getenv("JOURNAL_STREAM"))
	return log
}

// holdRunning asks a running daemon to hold o.only again and returns the
// exit status. asked is false when no daemon runs: then one must start.
func holdRunning(o options, log *logger.Logger) (code int, asked bool) {
	conn, err := ipc.Dial(o.socket)
	if errors.Is(err, ipc.ErrNoDaemon) {
		return 0, false
	}
	fail := log.Error
	if err != nil {
		fail(err.Error())
		return 2, true
	}
	defer conn.Close()
	for _, name := range o.only {
		r, err := conn.Do(ipc.Request{Op: ipc.OpHold, Name: name}, holdTimeout)
		switch {
		case errors.Is(err, ipc.ErrNoDaemon):
			// It exited meanwhile, having released everything: start
			// one for the names.
			return 0, false
		case err == nil && r.Status == ipc.StatusExiting:
			// It is exiting (the last release came first, or a
			// signal) and lets go of everything: once it is gone,
			// start one for the names.
			waitExit(conn.DaemonPid(), holdTimeout)
			return 0, false
		case err != nil:
			fail(name + ": " + err.Error())
			code = worse(code, 2)
		case r.Status == ipc.StatusOK:
		case r.Status == ipc.StatusNoSuchName:
			fail(name + ": the daemon has no configuration file for it")
			code = worse(code, 1)
		case r.Status == ipc.StatusFailed:
			reportFailed(conn, name, fail)
			code = worse(code, 1)
		case r.Status == ipc.StatusPending:
			reportFailed(conn, name, fail)
			code = worse(code, statusPending)
		default:
			fail(name + ": " + r.Status.String())
			code = worse(code, 2)
		}
	}
	return code, true
}

// waitExit waits, for at most wait, until process pid has exited (a
// zombie counts as still there: it waits its full time).
func waitExit(pid int, wait time.Duration) {
	if pid <= 0 {
		return
	}
	for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			return
		}
	}
}

// joinWait bounds how long portreserve NAME waits for a daemon that
// another portreserve started a moment before to serve its socket.
const joinWait = 10 * time.Second

// joinRunning is portreserve NAME when another daemon took the pidfile
// first (several services stopping at once, each running portreserve
// NAME with no daemon yet): it waits for that daemon to serve, asks it to
// hold the names, and returns the exit status, so that every name ends up
// held by one daemon.
func (d *daemon) joinRunning() int {
	deadline := time.Now().Add(joinWait)
	log := clientLog(d.env)
	for time.Now().Before(deadline) {
		if code, asked := holdRunning(d.o, log); asked {
			return code
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.log.Error("another portreserve holds " + d.o.pidfile + " but nothing answers on " + d.o.socket + " after " + strconv.Itoa(int(joinWait/time.Second)) + " s")
	return 2
}

// reportFailed names the ports of name that the daemon could not hold, or
// holds only once TIME_WAIT connections expire.
func reportFailed(conn *ipc.Conn, name string, fail func(string)) {
	entries, err := conn.List(holdTimeout)
	if err != nil {
		fail(name + ": some ports could not be held (" + err.Error() + ")")
		return
	}
	for _, e := range entries {
		port := name + ": " + e.Endpoint.String()
		switch {
		case e.Name != name:
		case e.State == ipc.Failed:
			fail(port + ": cannot hold: " + bindErrText(syscall.Errno(e.Errno)))
		case e.State == ipc.Pending:
			fail(port + ": pending: " + errTimeWait.Error() + "; the daemon holds it as soon as they expire (within a minute)")
		}
	}
}

// bindErrText is the message of a failed bind's errno, with what to do
// where that is known.
func bindErrText(errno syscall.Errno) string {
	switch errno {
	case syscall.EACCES:
		return errno.Error() + ": ports below 1024 need root or CAP_NET_BIND_SERVICE (run portreserve as root)"
	case syscall.EADDRINUSE:
		return errno.Error() + ": another program has it (portreserve-check shows which)"
	}
	return errno.Error()
}

// serviceUnit returns the systemd service unit that this process runs in
// ("cups.service"), or "" when it runs in none: systemd sets
// $INVOCATION_ID for the processes of a unit, and /proc/self/cgroup names
// its cgroup (the unified hierarchy's "0::" line, or the name=systemd
// one).
func serviceUnit(env *applets.Env) string {
	if env.Getenv("INVOCATION_ID") == "" {
		return ""
	}
	unit := "a systemd unit"
	b, err := rawfs.ReadFile("/proc/self/cgroup", 1<<16)
	if err != nil {
		return unit
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "0::") && !strings.Contains(line, ":name=systemd:") {
			continue
		}
		last := line[strings.LastIndexByte(line, '/')+1:]
		if strings.HasSuffix(last, ".service") {
			return last
		}
	}
	return unit
}

// refuseInUnit is portreserve NAME with no daemon running, from inside
// another service unit (cups.service's ExecStopPost=portreserve cups once
// portreserve.service was stopped): a daemon started there would live in
// that unit's cgroup, and systemd kills it when the unit stops or with
// it. It says so at warning priority and returns true; the exit status
// is then 0, as portrelease's is with no daemon: the names stay unheld
// because portreserve.service was stopped, which the unit stopping did
// not cause.
func refuseInUnit(o options, env *applets.Env, log *logger.Logger) bool {
	unit := serviceUnit(env)
	if unit == "" || unit == "portreserve.service" {
		return false
	}
	log.Warn(strings.Join(o.only, " ") + ": not held: no portreserve daemon runs (is portreserve.service stopped?), and one started from " + unit + " would live in its cgroup and be killed with it; systemctl start portreserve holds them")
	return true
}
