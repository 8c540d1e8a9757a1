// Package portrelease is the client applet that asks the portreserve daemon
// to let go of a name's ports, and returns only once they are free.
package portrelease

import (
	"errors"
	"io"
	"strconv"
	"syscall"
	"time"

	"portreserve/applets"
	"portreserve/internal/cmdline"
	"portreserve/ipc"
)

// DefaultTimeout is how long portrelease waits for each reply.
const DefaultTimeout = 5 * time.Second

// Usage is the applet's --help text.
const Usage = `usage: portrelease [-q] [-t SECONDS] [-s PATH] NAME...
       portrelease [-q] [-t SECONDS] [-s PATH] --exec NAME [-k] [--] COMMAND [ARGS...]

Ask the portreserve daemon to release the ports reserved under each NAME
(a file name in /etc/portreserve), and wait until they are free: when
portrelease returns 0, the service can bind its ports. NAME "*" releases
everything.

With --exec, take NAME's sockets over instead and run COMMAND with them, as
systemd socket activation does: the ports stay bound throughout, so nothing
can take them between the release and the service's start. The sockets
are at descriptors 3, 4, ... in the order of NAME's file, TCP ones
listening, with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES set. Without a
daemon, or with nothing held for NAME, COMMAND runs without sockets. With
--keep, the daemon keeps its own copy of each socket (as systemd does): the
ports stay bound while COMMAND is stopped, TCP connections wait in the
listen backlog, and the next --exec gets the very same sockets again; a
plain portrelease NAME closes them for good.

  -e, --exec=NAME        hand NAME's sockets to COMMAND and run it
  -k, --keep             with --exec: the daemon keeps a copy of each socket
  -q, --quiet            print nothing; the exit status still tells
  -t, --timeout=SECONDS  wait this long for each reply (default 5)
  -s, --socket=PATH      control socket (default /run/portreserve/socket)
  -h, --help             show this help
      --version          show the version

Exit status: 0 every NAME is free of portreserve (released now, released
before, or no daemon running); 1 the daemon has no reservation by some
NAME; 2 permission denied, no reply in time, a protocol error or bad usage.
With --exec, COMMAND's status; 127 COMMAND not found, 126 it could not run,
2 the sockets could not be taken over.
`

// Applet is the portrelease applet.
var Applet = applets.Applet{
	Name:    "portrelease",
	Summary: "release a service's reserved ports before it starts",
	Main:    Main,
}

// Main runs the applet with args (args[0] is the applet name) and env, and
// returns the exit status.
func Main(args []string, env *applets.Env) int {
	return run(args, env, syscall.Exec)
}

// execFunc replaces the process with a program, as execve(2):
// syscall.Exec, or a stand-in in tests. It returns only on failure.
type execFunc func(path string, argv, envv []string) error

// run is Main with the exec call as a parameter.
func run(args []string, env *applets.Env, exec execFunc) int {
	var quiet, keep bool
	var execName string
	timeout := DefaultTimeout
	socket := ipc.DefaultSocket
	set := cmdline.New("portrelease", applets.Version, Usage)
	set.Stdout, set.Stderr = env.Stdout, env.Stderr
	set.Flag('q', "quiet", &quiet)
	set.Seconds('t', "timeout", &timeout)
	set.String('s', "socket", &socket)
	set.String('e', "exec", &execName)
	set.Flag('k', "keep", &keep)
	// With --exec, the first operand starts the command and its options.
	set.StopAtOperand = func() bool { return execName != "" }
	names, err := set.Parse(args[1:])
	if err != nil {
		return set.Fail(err)
	}
	note := func(msg string) {
		if !quiet {
			io.WriteString(env.Stderr, "portrelease: "+msg+"\n")
		}
	}
	if execName != "" {
		if err := ipc.CheckName(execName); err != nil {
			return set.Fail(&cmdline.UsageError{Msg: err.Error()})
		}
		if len(names) == 0 {
			return set.Fail(&cmdline.UsageError{Msg: "--exec " + execName + ": no COMMAND given"})
		}
		h := &handoff{socket: socket, name: execName, keep: keep, timeout: timeout, env: env, note: note, exec: exec, firstFd: listenFdsStart}
		return h.run(names)
	}
	if keep {
		return set.Fail(&cmdline.UsageError{Msg: "--keep goes with --exec"})
	}
	if len(names) == 0 {
		return set.Fail(&cmdline.UsageError{Msg: "no NAME given"})
	}
	for _, name := range names {
		if name == ipc.AllNames {
			continue
		}
		if err := ipc.CheckName(name); err != nil {
			return set.Fail(&cmdline.UsageError{Msg: err.Error()})
		}
	}
	return release(socket, names, timeout, note)
}

// release asks the daemon at socket to release each name, and returns the
// exit status.
func release(socket string, names []string, timeout time.Duration, note func(string)) int {
	conn, err := ipc.Dial(socket)
	if errors.Is(err, ipc.ErrNoDaemon) {
		// Nothing is held, so every name is free: what init scripts
		// written for the original rely on. Said all the same, as a
		// wrong -s looks the same.
		note("no portreserve daemon at " + socket + "; nothing to release")
		return 0
	}
	if err != nil {
		note(err.Error())
		return 2
	}
	defer conn.Close()
	status := 0
	for _, name := range names {
		req := ipc.Request{Op: ipc.OpRelease, Name: name}
		if name == ipc.AllNames {
			req = ipc.Request{Op: ipc.OpReleaseAll}
		}
		r, err := conn.Do(req, timeout)
		switch {
		case errors.Is(err, ipc.ErrNoDaemon):
			// The daemon exited (it does once everything is released):
			// nothing is held any more.
			return status
		case errors.Is(err, ipc.ErrTimeout):
			note(name + ": no reply from the daemon within " + millis(timeout))
			status = 2
		case err != nil:
			note(name + ": " + err.Error())
			status = 2
		case r.Status == ipc.StatusOK:
		case r.Status == ipc.StatusNoSuchName:
			note(name + ": " + r.Status.String())
			status = max(status, 1)
		default:
			note(name + ": " + r.Status.String() + r.Status.Advice())
			status = 2
		}
	}
	return status
}

// millis formats d for messages in milliseconds: "5000 ms".
func millis(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}
