package portreserve

import (
	"time"

	"golang.org/x/sys/unix"

	"portreserve/ipc"
)

// publicGrace bounds how long serve waits at the end for the public
// loop to answer what was queued on its socket and close it.
const publicGrace = 100 * time.Millisecond

// serve answers requests until nothing is held or a signal ends the
// daemon, then answers what was queued, lets go of everything and
// returns.
//
// Each socket has a loop of its own. Anyone may send to the public one,
// and with a datagram come descriptors (its reply channel, or anything
// else), which the loop that reads them may have to close: a close can
// block for as long as their sender likes (a TCP socket lingering until
// its peer reads, a file on a FUSE mount the sender serves), and so can
// the recvmsg that drops descriptors beyond its control buffer. Whatever
// the public loop is stuck in, the admin loop, which only root and the
// daemon's user can reach, goes on serving releases, hand-offs and
// hold-agains; the two share the table under d.mu, which neither holds
// while it receives, answers or closes.
func (d *daemon) serve() {
	d.serving = true
	publicDone := make(chan struct{})
	go func() {
		d.loop(d.ctl, "public socket")
		unix.Close(d.ctl)
		close(publicDone)
	}()
	d.loop(d.admin, "admin socket")
	// Whatever was queued before the daemon stopped serving has been
	// answered: let go of everything.
	d.mu.Lock()
	d.tab.releaseAll()
	d.mu.Unlock()
	// time.AfterFunc, not time.After: a channel of time.Time links
	// the time formatting and zone loading in, 60 kB.
	late := make(chan struct{})
	timer := time.AfterFunc(publicGrace, func() { close(late) })
	select {
	case <-publicDone:
		timer.Stop()
	case <-late:
		// Stuck in a close another user made block: the socket is
		// gone from the file system, and the process's exit ends it.
	}
	d.mu.Lock()
	d.cleanup()
	d.mu.Unlock()
}

// loop answers the datagrams that arrive on fd until the daemon stops
// serving and the queue is drained.
func (d *daemon) loop(fd int, what string) {
	// The receive buffer is one byte larger than any request: larger
	// datagrams come back truncated and flagged, and are refused by
	// size without the daemon ever allocating for them. Replies are
	// encoded into out.
	rc := ipc.NewReceiver(fd)
	out := make([]byte, 0, ipc.ReplyHeaderSize)
	var dg ipc.Datagram
	flags := 0
	for {
		// Idle, the daemon sits here: one blocking recvmsg per socket,
		// no timers, no polling, so it costs no wake-ups at all. Once
		// it stops serving, it reads what is left without waiting.
		err := rc.Receive(&dg, flags)
		d.mu.Lock()
		if d.exiting && (err != nil || drained(&dg)) {
			d.mu.Unlock()
			return
		}
		if err != nil {
			d.mu.Unlock()
			d.log.Error("receive on the " + what + ": " + err.Error())
			if err == unix.EBADF || err == unix.ENOTSOCK {
				return
			}
			continue
		}
		reply, send := d.handle(&dg)
		if d.idle() {
			// The last release: stop serving before answering it,
			// so that when portrelease returns, the socket and the
			// pidfile are gone too.
			d.log.Info("every port released; exiting")
			d.stopServing()
		}
		if d.exiting {
			flags = unix.MSG_DONTWAIT
		}
		d.mu.Unlock()
		out = d.answer(&dg, &reply, send, out)
	}
}

// answer sends r, if send, on the datagram's reply channel, if it has
// one, without waiting (a client that does not read loses its reply), and
// closes the channel. It encodes the reply into out and returns it, to be
// used again. A refusal echoes the request's name from its bytes: the
// daemon never made it a string.
func (d *daemon) answer(dg *ipc.Datagram, r *ipc.Reply, send bool, out []byte) []byte {
	if send && dg.Reply >= 0 {
		out = r.MarshalTo(out)
		if r.Status == ipc.StatusDenied {
			ipc.EchoName(out, dg.Data)
		}
		if err := dg.Answer(out, nil, 0); err != nil && d.log.Verbose {
			d.log.Debug("reply to " + who(dg.Cred) + ": " + err.Error())
		}
	}
	dg.Done()
	return out
}
