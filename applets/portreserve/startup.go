package portreserve

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"

	"golang.org/x/sys/unix"

	"portreserve/internal/config"
	"portreserve/ipc"
	"portreserve/services"
)

// run starts the daemon, serves until nothing is held or a signal ends it,
// and returns the exit status: the start-up's when it did not get as far
// as serving, else 0.
func (d *daemon) run() int {
	// Start-up builds what it needs once and then keeps little: no
	// garbage collection until the daemon is ready (collections of a
	// growing heap add to the start-up of 10,000 reservations), then,
	// for a large configuration, one, and the freed memory goes back to
	// the kernel, so that the idle daemon's resident size is what it
	// keeps (see freeAfterStart).
	gcPercent := debug.SetGCPercent(-1)
	status, reservations := d.start()
	debug.SetGCPercent(gcPercent)
	if !d.started {
		d.stopSignals()
		return status
	}
	// Readiness first: the collection and the return of memory to the
	// kernel take a few milliseconds nobody needs to wait for.
	if reservations >= freeAfterStart {
		debug.FreeOSMemory()
	}
	d.serve()
	d.stopSignals()
	return 0
}

// start takes the daemon from its options to serving: the pidfile, the
// configuration, the control socket, the binds, readiness. It returns the
// status to report (and exit with, when start-up ends short of serving:
// then d.started stays false) and the number of reservations.
func (d *daemon) start() (status, reservations int) {
	unix.Umask(0o022)
	if d.o.debug {
		d.clock = newPhaseClock()
	}
	if d.o.notifyFd >= 0 {
		if err := checkNotifyFd(d.o.notifyFd); err != nil {
			d.log.Error(err.Error())
			return statusError, 0
		}
	}
	// Signals are handled under the same lock as requests, from before
	// the first bind: start-up holds the lock until the daemon is ready,
	// so that a SIGHUP meanwhile is acted on then, not fatal (the default
	// action), and the serve loop blocks in recvmsg without it.
	d.catchSignals()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clock.mark("signals")
	if status, ok := d.lockPidfile(); !ok {
		return status, 0
	}
	d.clock.mark("pidfile")
	cfg, status, ok := d.loadConfig()
	if !ok {
		d.pid.remove()
		return status, 0
	}
	if abs, err := absPath(d.o.configDir); err == nil {
		d.o.configDir = abs
	}
	if d.statusFd >= 0 {
		// Detached: keep no directory of the caller's busy.
		unix.Chdir("/")
	}
	if err := d.listen(); err != nil {
		d.log.Error(err.Error())
		d.pid.remove()
		return statusError, 0
	}
	d.clock.mark("socket")
	if status, ok = d.holdAll(cfg, status); !ok {
		return status, 0
	}
	d.becomeReady(status)
	return status, len(cfg.Reservations)
}

// lockPidfile creates the pidfile's directory and locks the pidfile. A
// portreserve NAME that finds another daemon there asks that one instead.
func (d *daemon) lockPidfile() (status int, ok bool) {
	var err error
	if err = mkdirParents(filepath.Dir(d.o.pidfile)); err != nil {
		d.log.Error(err.Error())
		return statusError, false
	}
	if d.pid, err = lockPidfile(d.o.pidfile); err != nil {
		if _, running := err.(*runningError); running && len(d.o.only) > 0 {
			// portreserve NAME raced another one: ask the winner.
			return d.joinRunning(), false
		}
		d.log.Error(err.Error())
		return statusError, false
	}
	return statusHeld, true
}

// loadConfig reads the configuration, keeps the names asked for, and
// decides whether there is anything to hold: ok is false when the daemon
// is to exit with status instead.
func (d *daemon) loadConfig() (cfg *config.Config, status int, ok bool) {
	cfg, unknown, err := d.readConfig(d.o.only)
	if err != nil {
		d.log.Error(err.Error())
		return nil, statusError, false
	}
	for _, n := range unknown {
		d.log.Error(n + ": no configuration file in " + cfg.Dir)
	}
	if cfg.Absent && d.o.keepRunning {
		d.log.Warn(cfg.Dir + ": no such configuration directory; holding nothing until it exists and the daemon reloads")
	}
	switch {
	case len(cfg.Reservations) == 0 && len(unknown) > 0:
		return nil, statusFailed, false
	case len(cfg.Reservations) == 0 && cfg.Absent && !d.o.keepRunning:
		d.log.Error(cfg.Dir + ": no such configuration directory: create it with a file for each service (portreserve.conf(5)), or give the right one with -c")
		return nil, statusFailed, false
	case len(cfg.Reservations) == 0 && cfg.Errors() > 0 && !d.o.keepRunning:
		d.log.Error("nothing to reserve in " + cfg.Dir + ": every line has an error (above)")
		return nil, statusFailed, false
	case len(cfg.Reservations) == 0 && !d.o.keepRunning:
		d.log.Info("nothing to reserve in " + cfg.Dir)
		return nil, statusHeld, false
	case len(unknown) > 0:
		status = statusFailed
	}
	return cfg, status, true
}

// holdAll binds every reservation of cfg and reports what failed or waits.
// It returns the start-up's status (status, made worse by what failed), and
// ok false when nothing could be held and the daemon is to exit.
func (d *daemon) holdAll(cfg *config.Config, status int) (int, bool) {
	d.tab.load(cfg)
	prepareFds(len(cfg.Reservations), d.ctl)
	d.clock.mark("table")
	failed := d.bindAll()
	d.clock.mark("binds")
	d.reportFailures(failed)
	pending := d.reportPending()
	switch {
	case len(failed) > 0:
		status = worse(status, statusFailed)
	case pending > 0:
		status = worse(status, statusPending)
	}
	if d.tab.held() == 0 && pending == 0 && len(failed) > 0 && !d.o.keepRunning {
		d.log.Error("no port could be held; exiting")
		d.cleanup()
		return statusFailed, false
	}
	d.log.Info("holding " + count(d.tab.held(), "port") + " for " + count(len(cfg.Files), "name"))
	return status, true
}

// becomeReady says so to whoever waits and drops what the daemon no longer
// needs. Called with d.mu held; requests and signals wait for it.
func (d *daemon) becomeReady(status int) {
	d.schedulePending()
	if d.clock != nil {
		d.log.Debug(d.clock.String())
		d.clock = nil
	}
	d.ready(status)
	// The ports are held: from now on the daemon needs no privilege but
	// binding ports below 1024 again. The drop comes after readiness (it
	// stops every thread some forty times, about 9 ms nobody needs to
	// wait for) and before the first request or signal is acted on: they
	// wait for the lock.
	if err := d.dropPrivileges(); err != nil {
		d.log.Warn("could not drop privileges: " + err.Error())
	}
	d.started = true
}

// freeAfterStart is the configuration size from which the daemon collects
// its start-up garbage once ready and returns it to the kernel. A
// collection has a resident cost of its own (the collector's buffers):
// measured idle RssAnon, 200 reservations: 1,016 kB with it, 928 kB
// without; 1,000: 1,044 kB with it, 1,260 kB without; 10,000: 1.5 MB
// with it, 6 MB without. Below it, the start-up garbage waits for the
// first collection the heap's growth brings, as in any Go program.
const freeAfterStart = 500

// readConfig reads the configuration directory, and the services database
// if a line names a service, keeps the names in only (all without any; see
// config.Keep, which returns those without a file as unknown) and logs
// their problems: a hold-again of one name reports that name's.
func (d *daemon) readConfig(only []string) (cfg *config.Config, unknown []string, err error) {
	cfg, err = config.Read(d.o.configDir, func() (*services.DB, error) {
		d.clock.mark("config")
		db, err := services.Load(d.o.services)
		if err != nil {
			d.log.Error(err.Error())
		}
		d.clock.mark("services")
		return db, err
	})
	d.clock.mark("config")
	if err != nil {
		return nil, nil, err
	}
	unknown = cfg.Keep(only)
	for _, p := range cfg.Problems {
		if p.Warning {
			d.log.Warn(p.Where() + ": " + p.Msg) // the logger says "warning: "
		} else {
			d.log.Error(p.String())
		}
	}
	return cfg, unknown, nil
}

// listen creates the socket's directory where needed and binds the
// sockets: the one at o.socket for everyone, the admin socket beside it
// for root and the daemon's user.
func (d *daemon) listen() error {
	dir := filepath.Dir(d.o.socket)
	if err := mkdirParents(dir); err != nil {
		return err
	}
	if err := checkSocketDir(dir); err != nil {
		return err
	}
	fd, err := ipc.Listen(d.o.socket, 0o666)
	if err != nil {
		return err
	}
	d.ctl = fd
	if d.admin, err = ipc.Listen(ipc.AdminPath(d.o.socket), 0o600); err != nil {
		return err
	}
	return nil
}

// fdReserve is how many descriptors the bind loop leaves free: when the
// limit runs out, the daemon still needs some, to detach from the caller's
// stderr (/dev/null), to reach syslog, to answer requests.
const fdReserve = 8

// bindAll binds what the table wants held, keeping fdReserve descriptors
// free for the daemon itself: they are taken before the loop and given
// back after it, so that a limit too low for every reservation costs
// reservations, never the daemon's own work.
func (d *daemon) bindAll() []*entry {
	var reserve []int
	for i := 0; i < fdReserve; i++ {
		if fd, err := unix.FcntlInt(uintptr(d.ctl), unix.F_DUPFD_CLOEXEC, 0); err == nil {
			reserve = append(reserve, fd)
		}
	}
	d.holder.newPass()
	failed, absent := d.tab.bindAll()
	for _, fd := range reserve {
		unix.Close(fd)
	}
	for _, e := range absent {
		d.log.Info(e.String() + ": not held: " + e.errno.Error() + ": the system has no such address, one the host name gives; servers listening on the name skip it too")
	}
	return failed
}

// reportFailures names the binds that failed.
func (d *daemon) reportFailures(failed []*entry) {
	emfile := 0
	for i, e := range failed {
		if e.errno == unix.EMFILE || e.errno == unix.ENFILE {
			emfile++
		}
		if i < maxFailureLines {
			d.log.Error(e.String() + ": cannot hold: " + bindErrText(e.errno))
		}
	}
	if len(failed) > maxFailureLines {
		d.log.Error(strconv.Itoa(len(failed)-maxFailureLines) + " more reservations could not be held")
	}
	if emfile > 0 {
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		d.log.Error(strconv.Itoa(emfile) + " reservations could not be held: out of file descriptors (RLIMIT_NOFILE is " +
			strconv.FormatUint(rl.Cur, 10) + "): raise it, with LimitNOFILE= in a systemd unit, ulimit -n in an init script")
	}
	if len(failed) > 0 {
		d.log.Error(strconv.Itoa(len(failed)) + " of " + strconv.Itoa(len(d.tab.entries)) + " reservations could not be held")
	}
}

// ready tells whoever waits that every port has been tried.
func (d *daemon) ready(status int) {
	if err := notifySystemd(d.env.Getenv("NOTIFY_SOCKET"), "READY=1\nSTATUS=holding "+strconv.Itoa(d.tab.held())+" ports\nMAINPID="+strconv.Itoa(os.Getpid())); err != nil {
		d.log.Error(err.Error())
	}
	if d.o.notifyFd >= 0 {
		if err := notifyFd(d.o.notifyFd); err != nil {
			d.log.Error(err.Error())
		}
	}
	if d.statusFd >= 0 {
		if !d.keepStderr {
			// Detached: from now on messages go to syslog only.
			// Let go of the caller's stderr, so that a caller
			// reading it (a pipe, $(...)) sees it close.
			if null, err := nullFd(); err == nil {
				unix.Dup3(null, 2, 0)
				unix.Close(null)
			}
			d.log.Stderr = nil
		}
		unix.Write(d.statusFd, []byte{byte('0' + status)})
		unix.Close(d.statusFd)
		d.statusFd = -1
	}
}
