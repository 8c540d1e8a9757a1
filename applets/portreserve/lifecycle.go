package portreserve

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/applets"
	"portreserve/internal/config"
	"portreserve/internal/logger"
	"portreserve/ipc"
	"portreserve/services"
)

// maxFailureLines is how many failed binds are named one by one at start;
// past it, a count is logged instead of thousands of lines.
const maxFailureLines = 20

// How many lines a second the requests of other users, and those of root
// and the daemon's user, may make the daemon log (see daemon.limiter).
const (
	othersPerSecond = 10
	adminPerSecond  = 100
)

// daemon is a running portreserve.
type daemon struct {
	o        options
	env      *applets.Env
	statusFd int // detach's pipe, -1 in the foreground
	// keepStderr says the detached daemon logs to the stderr it was
	// started with for good: there is no syslog to log to.
	keepStderr bool
	log        *logger.Logger
	pid        *pidfile
	ctl        int // control socket
	holder     *holder
	// clock times start-up for the debug log; nil when not debugging,
	// and once the daemon is ready.
	clock *phaseClock

	mu      sync.Mutex // guards everything below; signals and requests take it
	tab     *table
	exiting bool
	retry   *time.Timer // armed while ports are pending (see schedulePending)

	// othersLog and adminLog limit the lines requests make the daemon
	// log: those of other users, and those of root and the daemon's
	// user.
	othersLog, adminLog *logger.Limiter
}

func newDaemon(o options, statusFd int, env *applets.Env) *daemon {
	log := logger.New("portreserve")
	log.Stderr = env.Stderr
	log.Journal = statusFd < 0 && logger.IsJournal(2, env.Getenv("JOURNAL_STREAM"))
	log.Verbose = o.debug
	keepStderr := false
	if statusFd >= 0 {
		log.Syslog()
		if log.SyslogReachable() {
			// Detached: the caller's terminal sees problems only,
			// until the daemon is ready; syslog sees everything.
			log.StderrMax = logger.Warning
		} else {
			// Nowhere else to log (a container: no /dev/log, no
			// /dev/kmsg): the stderr it was started with gets
			// everything, and keeps getting it once the daemon is
			// ready, the lines of releases and hand-offs too.
			keepStderr = true
		}
	}
	h := newHolder()
	return &daemon{o: o, env: env, statusFd: statusFd, keepStderr: keepStderr, log: log, ctl: -1, holder: h, tab: newTable(h.hold),
		othersLog: &logger.Limiter{Log: log, What: "messages about other users' requests", Max: othersPerSecond, Window: time.Second},
		adminLog:  &logger.Limiter{Log: log, What: "messages about root's requests", Max: adminPerSecond, Window: time.Second},
	}
}

// run starts the daemon and serves until nothing is held. It returns the
// exit status only when the daemon did not get as far as serving.
func (d *daemon) run() int {
	if d.statusFd >= 0 {
		unix.Chdir("/")
	}
	unix.Umask(0o022)
	// Start-up builds what it needs once and then keeps little: no
	// garbage collection until the daemon is ready (collections of a
	// growing heap add to the start-up of 10,000 reservations), then,
	// for a large configuration, one, and the freed memory goes back to
	// the kernel, so that the idle daemon's resident size is what it
	// keeps (see freeAfterStart).
	gcPercent := debug.SetGCPercent(-1)
	if d.o.debug {
		d.clock = newPhaseClock()
	}
	if d.o.notifyFd >= 0 {
		if err := checkNotifyFd(d.o.notifyFd); err != nil {
			d.log.Error(err.Error())
			return 2
		}
	}
	// Signals are handled under the same lock as requests, from before
	// the first bind: start-up holds the lock until the daemon is ready,
	// so that a SIGHUP meanwhile is acted on then, not fatal (the default
	// action), and the serve loop blocks in recvmsg without it.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	d.mu.Lock()
	go d.handleSignals(sigs)
	d.clock.mark("signals")
	var err error
	if err = mkdirParents(filepath.Dir(d.o.pidfile)); err != nil {
		d.log.Error(err.Error())
		return 2
	}
	if d.pid, err = lockPidfile(d.o.pidfile); err != nil {
		if _, running := err.(*runningError); running && len(d.o.only) > 0 {
			// portreserve NAME raced another one: ask the winner.
			return d.joinRunning()
		}
		d.log.Error(err.Error())
		return 2
	}
	d.clock.mark("pidfile")
	cfg, err := d.readConfig()
	if err != nil {
		d.log.Error(err.Error())
		d.pid.remove()
		return 2
	}
	unknown := 0
	if len(d.o.only) > 0 {
		unknown = onlyNames(cfg, d.o.only, d.log.Error)
	}
	if len(cfg.Reservations) == 0 && unknown > 0 {
		d.pid.remove()
		return 1
	}
	if len(cfg.Reservations) == 0 && !d.o.keep {
		d.log.Info("nothing to reserve in " + d.o.configDir)
		d.pid.remove()
		return 0
	}
	if err := d.listen(); err != nil {
		d.log.Error(err.Error())
		d.pid.remove()
		return 2
	}
	d.clock.mark("socket")
	d.tab.load(cfg)
	prepareFds(len(cfg.Reservations), d.ctl)
	d.clock.mark("table")
	failed := d.bindAll()
	d.clock.mark("binds")
	d.reportFailures(failed)
	pending := d.reportPending()
	status := 0
	switch {
	case len(failed) > 0 || unknown > 0:
		status = 1
	case pending > 0:
		status = statusPending
	}
	if d.tab.held() == 0 && pending == 0 && len(failed) > 0 && !d.o.keep {
		d.log.Error("no port could be held; exiting")
		d.cleanup()
		return 1
	}
	d.log.Info("holding " + itoa(d.tab.held()) + " ports for " + itoa(len(cfg.Files)) + " names")
	collect := len(cfg.Reservations) >= freeAfterStart
	cfg = nil

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
	if err := dropPrivileges(); err != nil {
		d.log.Warn("could not drop privileges: " + err.Error())
	}
	d.mu.Unlock()
	// Readiness first: the collection and the return of memory to the
	// kernel take a few milliseconds nobody needs to wait for.
	debug.SetGCPercent(gcPercent)
	if collect {
		debug.FreeOSMemory()
	}
	d.serve()
	return 0
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
// if a line names a service, logging every problem.
func (d *daemon) readConfig() (*config.Config, error) {
	cfg, err := config.Read(d.o.configDir, func() (*services.DB, error) {
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
		return nil, err
	}
	for _, p := range cfg.Problems {
		if p.Warning {
			d.log.Warn(p.Where() + ": " + p.Msg) // the logger says "warning: "
		} else {
			d.log.Error(p.String())
		}
	}
	return cfg, nil
}

// listen creates the socket's directory where needed and binds the socket.
func (d *daemon) listen() error {
	dir := filepath.Dir(d.o.socket)
	if err := mkdirParents(dir); err != nil {
		return err
	}
	if err := checkSocketDir(dir); err != nil {
		return err
	}
	fd, err := ipc.Listen(d.o.socket)
	if err != nil {
		return err
	}
	d.ctl = fd
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
			d.log.Error(e.String() + ": cannot hold: " + e.errno.Error())
		}
	}
	if len(failed) > maxFailureLines {
		d.log.Error(itoa(len(failed)-maxFailureLines) + " more reservations could not be held")
	}
	if emfile > 0 {
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		d.log.Error(itoa(emfile) + " reservations could not be held: out of file descriptors (RLIMIT_NOFILE is " +
			strconv.FormatUint(rl.Cur, 10) + ")")
	}
	if len(failed) > 0 {
		d.log.Error(itoa(len(failed)) + " of " + itoa(len(d.tab.entries)) + " reservations could not be held")
	}
}

// ready tells whoever waits that every port has been tried.
func (d *daemon) ready(status int) {
	if err := notifySystemd(d.env.Getenv("NOTIFY_SOCKET"), "READY=1\nSTATUS=holding "+itoa(d.tab.held())+" ports\nMAINPID="+itoa(os.Getpid())); err != nil {
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

// handleSignals acts on TERM, INT and HUP.
func (d *daemon) handleSignals(sigs <-chan os.Signal) {
	for s := range sigs {
		d.mu.Lock()
		if s == syscall.SIGHUP {
			d.log.Info("SIGHUP: reading the configuration again")
			d.reload()
			if d.idle() {
				d.shutdown()
			}
		} else {
			d.log.Info(s.String() + ": releasing every port")
			d.tab.releaseAll()
			d.shutdown()
		}
		d.mu.Unlock()
	}
}

// reload reads the configuration again and holds what is new. It returns
// how many sockets it bound and whether the configuration could be read.
func (d *daemon) reload() (int, bool) {
	cfg, err := d.readConfig()
	if err != nil {
		d.log.Error("reload: " + err.Error())
		return 0, false
	}
	before := d.tab.held()
	d.tab.load(cfg)
	kept := d.tab.held()
	failed := d.bindAll()
	d.reportFailures(failed)
	d.reportPending()
	d.schedulePending()
	added := d.tab.held() - kept
	d.log.Info("reload: holding " + itoa(d.tab.held()) + " ports (" + itoa(added) + " new, " + itoa(before-kept) + " let go)")
	return added, true
}

// idle reports whether the daemon should exit: nothing is held or
// pending, and it was not asked to keep running. Called with d.mu held.
func (d *daemon) idle() bool {
	return d.tab.held() == 0 && d.tab.pending() == 0 && !d.exiting && !d.o.keep
}

// shutdown stops serving, answers the requests already queued, and exits
// 0. Called with d.mu held.
func (d *daemon) shutdown() {
	d.stopServing()
	d.finish()
}

// stopServing removes the socket and the pidfile and stops new requests:
// clients that still have the socket get EPIPE (the daemon is gone, and
// nothing is held). Requests already queued can still be read.
func (d *daemon) stopServing() {
	d.exiting = true
	os.Remove(d.o.socket)
	unix.Shutdown(d.ctl, unix.SHUT_RD)
	d.pid.remove()
	d.pid = nil
}

// finish answers what was queued before stopServing, so that no request
// goes unanswered, lets go of everything, and exits 0.
func (d *daemon) finish() {
	buf := make([]byte, ipc.RequestSize+1)
	oob := make([]byte, ipc.OOBSize)
	for {
		dg, err := ipc.Receive(d.ctl, buf, oob, unix.MSG_DONTWAIT)
		if err != nil || (len(dg.Data) == 0 && dg.Cred == nil && dg.Reply < 0) {
			break
		}
		d.answer(&dg, d.handle(&dg))
	}
	d.tab.releaseAll()
	d.cleanup()
	os.Exit(0)
}

// cleanup closes the socket and removes it and the pidfile, unless
// stopServing did already: by then a new daemon may own the paths.
func (d *daemon) cleanup() {
	if d.ctl >= 0 {
		if !d.exiting {
			os.Remove(d.o.socket)
		}
		unix.Close(d.ctl)
		d.ctl = -1
	}
	d.pid.remove()
	d.log.Close()
}

// onlyNames keeps in cfg just the names asked for (portreserve NAME...),
// reports each name without a file through fail, and returns how many.
func onlyNames(cfg *config.Config, names []string, fail func(string)) (unknown int) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var files []config.File
	for _, f := range cfg.Files {
		if want[f.Name] {
			files = append(files, f)
			delete(want, f.Name)
		}
	}
	for _, n := range names {
		if want[n] {
			fail(n + ": no configuration file in " + cfg.Dir)
			unknown++
			delete(want, n)
		}
	}
	var res []config.Reservation
	for _, r := range cfg.Reservations {
		for _, f := range files {
			if r.Name == f.Name {
				res = append(res, r)
				break
			}
		}
	}
	cfg.Files, cfg.Reservations = files, res
	return unknown
}
