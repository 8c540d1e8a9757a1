// Package portreserve is the daemon applet: it binds the ports listed in
// the configuration directory so that bindresvport(3) callers (rpc.statd,
// rpc.mountd, ypbind...) cannot take them at boot, and lets each name's
// ports go when portrelease asks, replying only once they are free. It
// exits when nothing is held any more.
package portreserve

import (
	"portreserve/applets"
	"portreserve/internal/cmdline"
	"portreserve/internal/config"
	"portreserve/ipc"
	"portreserve/services"
)

// Usage is the applet's --help text.
const Usage = `usage: portreserve [-f|-d] [-k] [-N FD] [-c DIR] [-S FILE] [-s PATH] [-p FILE] [NAME...]
       portreserve --list | --install [-s] [DIR]

Hold the ports listed in the configuration directory until portrelease
lets them go; exit once nothing is held. Without -f or -d the daemon
detaches, and this command returns only when every port has been tried.

With NAMEs, hold just those names' ports, as their files say now, even if
they were released: a running daemon is asked to (a service's stop action
runs "portreserve cups" after cupsd exits); without one, a daemon starts
holding only those names, except inside another systemd unit
($INVOCATION_ID): systemd would kill it with that unit, so it warns that
portreserve.service is not running and exits 0. A port something else has
bound is reported.

  -f, --foreground       stay in the foreground and log to stderr
  -d, --debug            like -f, and log every request and the time each
                         start-up phase took
  -k, --keep-running     do not exit when nothing is held (for supervisors
                         that restart a service that exits: runit, s6)
  -N, --notify-fd=FD     write a newline to FD once every port is held
                         (s6 notification-fd); $NOTIFY_SOCKET gets READY=1
  -c, --config-dir=DIR   configuration directory (default /etc/portreserve)
  -S, --services=FILE    services database (default /etc/services; a
                         built-in copy of Debian's when the file is missing),
                         read only if a line names a service
  -s, --socket=PATH      control socket (default /run/portreserve/socket)
  -p, --pidfile=FILE     pidfile (default /run/portreserve.pid)
  -h, --help             show this help
      --version          show the version
      --list             list the applets of this binary
      --install [-s] [DIR]  link the applets into DIR (default /usr/sbin)

Exit status: 0 every port held, or nothing configured; 1 the daemon runs
but some ports could not be held (each is named), or a NAME has no file;
2 it could not start, or the daemon refused or did not answer; 3 some
ports are pending: TIME_WAIT connections of a server without SO_REUSEADDR
block them, and the daemon holds them once they expire (within a minute).
Signals: TERM and INT release everything and exit; HUP reads the
configuration again and holds names that are new.
`

// Applet is the portreserve applet.
var Applet = applets.Applet{
	Name:    "portreserve",
	Summary: "hold ports until their services start (the daemon)",
	Main:    Main,
}

// options are the daemon's command-line settings.
type options struct {
	foreground  bool
	debug       bool
	keepRunning bool     // keep running when nothing is held
	only        []string // hold just these names (portreserve NAME...)
	notifyFd    int
	configDir   string
	services    string
	socket      string
	pidfile     string
}

// Main runs the applet with args (args[0] is the applet name) and env, and
// returns the exit status.
func Main(args []string, env *applets.Env) int {
	o := options{
		notifyFd:  -1,
		configDir: config.DefaultDir,
		services:  services.DefaultPath,
		socket:    ipc.DefaultSocket,
		pidfile:   DefaultPidfile,
	}
	set := cmdline.New("portreserve", applets.Version, Usage)
	set.Stdout, set.Stderr = env.Stdout, env.Stderr
	set.Flag('f', "foreground", &o.foreground)
	set.Flag('d', "debug", &o.debug)
	set.Flag('k', "keep-running", &o.keepRunning)
	set.Int('N', "notify-fd", &o.notifyFd)
	set.String('c', "config-dir", &o.configDir)
	set.String('S', "services", &o.services)
	set.String('s', "socket", &o.socket)
	set.String('p', "pidfile", &o.pidfile)
	operands, err := set.Parse(args[1:])
	if err != nil {
		return set.Fail(err)
	}
	for _, name := range operands {
		if err := ipc.CheckName(name); err != nil {
			return set.Fail(&cmdline.UsageError{Msg: err.Error()})
		}
	}
	o.only = operands
	if o.configDir == "" {
		return set.Fail(&cmdline.UsageError{Msg: "empty path"})
	}
	// The daemon changes to / when detached; keep paths usable. The
	// configuration directory stays as given until it has been read
	// (start makes it absolute), so that the start's messages name its
	// files as the user wrote them.
	for _, p := range []*string{&o.services, &o.socket, &o.pidfile} {
		if *p == "" {
			return set.Fail(&cmdline.UsageError{Msg: "empty path"})
		}
		if abs, err := absPath(*p); err == nil {
			*p = abs
		}
	}
	if o.debug {
		o.foreground = true
	}
	status := statusFd(env)
	if len(o.only) > 0 && status < 0 {
		// A daemon that runs already holds the names again itself.
		log := clientLog(env)
		if code, asked := holdRunning(o, log); asked {
			return code
		}
		if !o.foreground && refuseInUnit(o, env, log) {
			return 0
		}
	}
	if !o.foreground && status < 0 {
		return detach(args[1:], env, o.notifyFd)
	}
	return newDaemon(o, status, env).run()
}
