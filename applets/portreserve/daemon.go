package portreserve

import (
	"os"
	"sync"
	"time"

	"portreserve/applets"
	"portreserve/internal/logger"
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
	ctl        int // the socket at o.socket: everyone's (see serve)
	admin      int // the admin socket (ipc.AdminPath): root's and the daemon's user's
	holder     *holder
	// clock times start-up for the debug log; nil when not debugging,
	// and once the daemon is ready.
	clock *phaseClock

	// dropPrivileges is called once the daemon is ready (the real one
	// drops every capability but binding ports; tests that run the
	// daemon in-process give it one that does nothing).
	dropPrivileges func() error
	sigs           chan os.Signal

	mu      sync.Mutex // guards everything below; signals and requests take it
	tab     *table
	started bool // start-up went as far as serving
	serving bool // serve runs: the public loop closes d.ctl itself
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
	return &daemon{o: o, env: env, statusFd: statusFd, keepStderr: keepStderr, log: log, ctl: -1, admin: -1, holder: h, tab: newTable(h.hold),
		dropPrivileges: dropPrivileges,
		othersLog:      &logger.Limiter{Log: log, What: "messages about other users' requests", Max: othersPerSecond, Window: time.Second},
		adminLog:       &logger.Limiter{Log: log, What: "messages about root's requests", Max: adminPerSecond, Window: time.Second},
	}
}
