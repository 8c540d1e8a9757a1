package portreserve

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"portreserve/ipc"
)

// catchSignals starts taking TERM, INT and HUP (see onSignal).
func (d *daemon) catchSignals() {
	d.sigs = make(chan os.Signal, 8)
	signal.Notify(d.sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range d.sigs {
			d.onSignal(s)
		}
	}()
}

// stopSignals stops taking signals, once the daemon is done, if it took
// them.
func (d *daemon) stopSignals() {
	if d.sigs != nil {
		signal.Stop(d.sigs)
		close(d.sigs)
		d.sigs = nil
	}
}

// onSignal acts on a signal: HUP reads the configuration again (and stops
// serving if nothing is left to hold), TERM and INT release every port and
// stop serving; the serve loop then answers what is queued and returns.
// Signals that come before the daemon serves wait for the start-up, and
// are ignored if it ends short of serving.
func (d *daemon) onSignal(s os.Signal) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started || d.exiting {
		return
	}
	if s == syscall.SIGHUP {
		d.log.Info("SIGHUP: reading the configuration again")
		d.reload()
		if d.idle() {
			d.stopServing()
		}
		return
	}
	d.log.Info(s.String() + ": releasing every port")
	d.tab.releaseAll()
	d.stopServing()
}

// reload reads the configuration again and holds what is new. It returns
// how many sockets it bound and whether the configuration could be read.
func (d *daemon) reload() (int, bool) {
	cfg, _, err := d.readConfig(nil)
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
	d.log.Info("reload: holding " + strconv.Itoa(d.tab.held()) + " ports (" + strconv.Itoa(added) + " new, " + strconv.Itoa(before-kept) + " let go)")
	return added, true
}

// idle reports whether the daemon should exit: nothing is held or
// pending, and it was not asked to keep running. Called with d.mu held.
func (d *daemon) idle() bool {
	return d.tab.held() == 0 && d.tab.pending() == 0 && !d.exiting && !d.o.keepRunning
}

// stopServing removes the socket and the pidfile and stops new requests:
// clients that still have the socket get EPIPE (the daemon is gone, and
// nothing is held). Requests already queued can still be read: the serve
// loop answers them, then returns. Called with d.mu held.
func (d *daemon) stopServing() {
	d.exiting = true
	os.Remove(d.o.socket)
	os.Remove(ipc.AdminPath(d.o.socket))
	unix.Shutdown(d.ctl, unix.SHUT_RD)
	unix.Shutdown(d.admin, unix.SHUT_RD)
	d.pid.remove()
	d.pid = nil
}

// drained reports whether dg is the end of the queue after stopServing:
// nothing read, no sender (a real datagram, even an empty one, carries its
// sender's credentials).
func drained(dg *ipc.Datagram) bool {
	return len(dg.Data) == 0 && dg.Cred == nil && dg.Reply < 0
}

// cleanup closes the sockets and removes them and the pidfile, unless
// stopServing did already: by then a new daemon may own the paths. Once
// serve runs, the public socket is its loop's to close.
func (d *daemon) cleanup() {
	if !d.exiting {
		if d.ctl >= 0 {
			os.Remove(d.o.socket)
		}
		if d.admin >= 0 {
			os.Remove(ipc.AdminPath(d.o.socket))
		}
	}
	if d.ctl >= 0 && !d.serving {
		unix.Close(d.ctl)
		d.ctl = -1
	}
	if d.admin >= 0 {
		unix.Close(d.admin)
		d.admin = -1
	}
	if d.retry != nil {
		d.retry.Stop()
		d.retry = nil
	}
	d.pid.remove()
	d.log.Close()
}
