package portreserve

import (
	"errors"
	"io"
	"strconv"
	"syscall"
	"time"

	"portreserve/ipc"
)

// holdTimeout bounds each request of portreserve NAME... to a running
// daemon.
const holdTimeout = 5 * time.Second

// holdRunning asks a running daemon to hold o.only again and returns the
// exit status. asked is false when no daemon runs: then one must start.
func holdRunning(o options, stderr io.Writer) (code int, asked bool) {
	conn, err := ipc.Dial(o.socket)
	if errors.Is(err, ipc.ErrNoDaemon) {
		return 0, false
	}
	fail := func(msg string) {
		io.WriteString(stderr, "portreserve: "+msg+"\n")
	}
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
		case err != nil:
			fail(name + ": " + err.Error())
			code = 2
		case r.Status == ipc.StatusOK:
		case r.Status == ipc.StatusNoSuchName:
			fail(name + ": the daemon has no configuration file for it")
			code = max(code, 1)
		case r.Status == ipc.StatusFailed:
			reportFailed(conn, name, fail)
			code = max(code, 1)
		default:
			fail(name + ": " + r.Status.String())
			code = 2
		}
	}
	return code, true
}

// reportFailed names the ports of name that the daemon could not hold.
func reportFailed(conn *ipc.Conn, name string, fail func(string)) {
	entries, err := conn.List(holdTimeout)
	if err != nil {
		fail(name + ": some ports could not be held (" + err.Error() + ")")
		return
	}
	for _, e := range entries {
		if e.Name == name && e.State == ipc.Failed {
			fail(name + ": " + strconv.Itoa(int(e.Port)) + "/" + e.Proto.String() + ": cannot hold: " + errnoText(e.Errno))
		}
	}
}

// errnoText is the message of an errno the daemon reported.
func errnoText(errno uint32) string {
	return syscall.Errno(errno).Error()
}
