package portreserve

import (
	"errors"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/internal/logger"
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
	select {
	case <-publicDone:
	case <-time.After(publicGrace):
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
	// A buffer one byte larger than any request: larger datagrams come
	// back truncated and flagged, and are refused by size without the
	// daemon ever allocating for them.
	buf := make([]byte, ipc.RequestSize+1)
	oob := make([]byte, ipc.OOBSize)
	flags := 0
	for {
		// Idle, the daemon sits here: one blocking recvmsg per socket,
		// no timers, no polling, so it costs no wake-ups at all. Once
		// it stops serving, it reads what is left without waiting.
		dg, err := ipc.Receive(fd, buf, oob, flags)
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
		reply := d.handle(&dg)
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
		d.answer(&dg, reply)
	}
}

// allowed reports whether cred may change state: root and the daemon's own
// user may. The credentials are the kernel's (SCM_CREDENTIALS with
// SO_PASSCRED), never anything the client wrote in the datagram.
func allowed(cred *unix.Ucred) bool {
	return cred != nil && (cred.Uid == 0 || int(cred.Uid) == os.Getuid())
}

// who describes a sender for the log.
func who(cred *unix.Ucred) string {
	if cred == nil {
		return "unknown sender"
	}
	return "pid " + strconv.Itoa(int(cred.Pid)) + " uid " + strconv.Itoa(int(cred.Uid))
}

// handle acts on one datagram and returns the reply to send, nil for
// none. Called with d.mu held.
func (d *daemon) handle(dg *ipc.Datagram) *ipc.Reply {
	req, err := ipc.ParseDatagram(dg.Data, dg.Truncated)
	if err != nil {
		return d.malformed(dg, req, ipc.StatusOf(err), err.Error())
	}
	if req.Legacy {
		d.legacy(req, dg.Cred)
		return nil
	}
	if dg.Reply < 0 {
		why := dg.ReplyProblem
		if why == "" {
			why = "no reply channel passed"
		}
		d.limiter(dg.Cred).Warn(req.Op.String() + " " + req.Name + " from " + who(dg.Cred) + " ignored: " + why)
		return nil
	}
	reply := &ipc.Reply{Version: req.Version, Op: req.Op, ID: req.ID, Name: req.Name, Generation: d.tab.gen}
	if req.Op != ipc.OpList && !allowed(dg.Cred) {
		d.limiter(dg.Cred).Warn(req.Op.String() + " " + req.Name + " refused: " + who(dg.Cred) + " is not root or the daemon's user")
		reply.Status = ipc.StatusDenied
		return reply
	}
	if d.exiting && (req.Op == ipc.OpHold || req.Op == ipc.OpReload) {
		// Whatever it bound now, the exit would let go of at once.
		reply.Status = ipc.StatusExiting
		d.log.Debug(req.Op.String() + " " + req.Name + " from " + who(dg.Cred) + ": refused, exiting")
		return reply
	}
	switch req.Op {
	case ipc.OpRelease:
		known, closed, total := d.tab.release(req.Name)
		if !known {
			reply.Status = ipc.StatusNoSuchName
			d.log.Debug("release " + req.Name + " from " + who(dg.Cred) + ": no such name")
			break
		}
		reply.Count, reply.Total = uint32(closed), uint32(total)
		d.limiter(dg.Cred).Info("released " + req.Name + " (" + strconv.Itoa(closed) + " ports) for " + who(dg.Cred))
	case ipc.OpReleaseAll:
		reply.Count = uint32(d.tab.releaseAll())
		d.limiter(dg.Cred).Info("released everything for " + who(dg.Cred))
	case ipc.OpList:
		reply.Entries = d.tab.page(req.Arg)
		reply.Count = uint32(len(reply.Entries))
		reply.Total = uint32(len(d.tab.entries))
	case ipc.OpHandoff:
		return d.handoff(dg, reply, req.Arg&ipc.ArgKeep != 0)
	case ipc.OpHold:
		d.holdAgain(reply)
	case ipc.OpReload:
		added, ok := d.reload()
		reply.Count = uint32(added)
		if !ok {
			reply.Status = ipc.StatusFailed
		}
	}
	reply.Generation = d.tab.gen
	return reply
}

// handoffWait bounds how long one page of a hand-off may wait for root's
// portrelease to read the one before (the channel holds some 200 kB, a
// hand-off of 10,000 sockets needs about 750 kB), and how long the daemon
// waits for its confirmation.
const handoffWait = 5 * time.Second

// handoff passes the held sockets of reply.Name to the sender with
// SCM_RIGHTS, a page at a time, on the request's reply channel. It is all
// or nothing: the daemon keeps its copies until the client confirms that
// every socket arrived, and only then closes them (with keep, it keeps
// them anyway); a page that cannot be sent or a confirmation that does not
// come leaves every socket held, as before the request. The ports stay
// bound throughout. It sends its replies itself and returns nil, or the
// reply to send when there is nothing to pass.
func (d *daemon) handoff(dg *ipc.Datagram, reply *ipc.Reply, keep bool) *ipc.Reply {
	h, known := d.tab.beginHandoff(reply.Name, keep)
	if !known {
		reply.Status = ipc.StatusNoSuchName
		return reply
	}
	reply.Generation = d.tab.gen
	if len(h.sockets) == 0 {
		return reply
	}
	reply.Total = uint32(len(h.sockets))
	err := d.sendSockets(dg, reply, h.sockets)
	if err == nil {
		err = dg.Confirmed(reply.Name, len(h.sockets), handoffWait)
	}
	if err != nil {
		h.Rollback()
		d.log.Error("hand-off " + reply.Name + " to " + who(dg.Cred) + ": " + err.Error() + "; still holding all " + strconv.Itoa(len(h.sockets)) + " sockets")
		return &ipc.Reply{Version: reply.Version, Op: ipc.OpHandoff, ID: reply.ID, Name: reply.Name, Status: ipc.StatusFailed, Generation: d.tab.gen}
	}
	h.Commit()
	how := " sockets) to "
	if keep {
		how = " sockets, copies kept) to "
	}
	d.limiter(dg.Cred).Info("handed off " + reply.Name + " (" + strconv.Itoa(len(h.sockets)) + how + who(dg.Cred))
	return nil
}

// sendSockets sends hs on the datagram's channel, a page of entries and
// their sockets at a time.
func (d *daemon) sendSockets(dg *ipc.Datagram, reply *ipc.Reply, hs []handed) error {
	fds := make([]int, 0, ipc.PageEntries)
	for start := 0; start < len(hs); start += ipc.PageEntries {
		page := hs[start:min(start+ipc.PageEntries, len(hs))]
		reply.Entries, fds = reply.Entries[:0], fds[:0]
		for _, h := range page {
			reply.Entries = append(reply.Entries, h.entry)
			fds = append(fds, h.fd)
		}
		reply.Count = uint32(len(page))
		if err := dg.Answer(reply.Marshal(), fds, handoffWait); err != nil {
			return errors.New("sending sockets " + strconv.Itoa(start+1) + "-" + strconv.Itoa(start+len(page)) + ": " + err.Error())
		}
	}
	return nil
}

// holdAgain binds reply.Name's ports again from its configuration file as
// it is now, and fills in the reply: Count newly held, Total the name's
// ports, StatusFailed when some of the name's ports could not be held (a
// port something else bound meanwhile is reported, not fought over),
// StatusPending when the rest wait for TIME_WAIT connections to expire.
// Other names' failures, also reported, do not change the status.
func (d *daemon) holdAgain(reply *ipc.Reply) {
	cfg, _, err := d.readConfig([]string{reply.Name})
	if err != nil {
		d.log.Error("hold " + reply.Name + ": " + err.Error())
		reply.Status = ipc.StatusFailed
		return
	}
	before := d.tab.held()
	if !d.tab.holdAgain(reply.Name, cfg) {
		reply.Status = ipc.StatusNoSuchName
		return
	}
	d.reportFailures(d.bindAll())
	d.reportPending()
	d.schedulePending()
	failed, pending := 0, 0
	for _, e := range d.tab.entries {
		if e.name != reply.Name {
			continue
		}
		reply.Total++
		switch e.state {
		case ipc.Failed:
			failed++
		case ipc.Pending:
			pending++
		}
	}
	reply.Count = uint32(max(0, d.tab.held()-before))
	switch {
	case failed > 0:
		reply.Status = ipc.StatusFailed
	case pending > 0:
		reply.Status = ipc.StatusPending
	}
	d.log.Info("holding " + reply.Name + " again: " + strconv.Itoa(int(reply.Count)) + " ports newly held, " +
		strconv.Itoa(failed) + " failed, " + strconv.Itoa(pending) + " pending")
}

// legacy acts on a portreserve 0.0.5 release: a bare name, no reply.
func (d *daemon) legacy(req ipc.Request, cred *unix.Ucred) {
	name := req.Name
	if req.Op == ipc.OpReleaseAll {
		name = ipc.AllNames
	}
	if !allowed(cred) {
		d.limiter(cred).Warn("legacy release " + name + " refused: " + who(cred) + " is not root or the daemon's user")
		return
	}
	if req.Op == ipc.OpReleaseAll {
		d.tab.releaseAll()
		d.limiter(cred).Info("released everything (legacy request) for " + who(cred))
		return
	}
	if known, closed, _ := d.tab.release(name); known {
		d.limiter(cred).Info("released " + name + " (" + strconv.Itoa(closed) + " ports, legacy request) for " + who(cred))
	} else {
		d.log.Debug("legacy release " + name + ": no such name")
	}
}

// malformed logs a datagram that is not a valid request, within the
// sender's limit (see limiter), and returns the error reply.
func (d *daemon) malformed(dg *ipc.Datagram, req ipc.Request, status ipc.Status, why string) *ipc.Reply {
	size := strconv.Itoa(len(dg.Data))
	if dg.Truncated {
		size = "more than " + size
	}
	d.limiter(dg.Cred).Warn("malformed datagram (" + size + " bytes) from " + who(dg.Cred) + ": " + why)
	return &ipc.Reply{Version: req.Version, Op: req.Op, ID: req.ID, Status: status, Generation: d.tab.gen}
}

// answer sends r, if any, on the datagram's reply channel, if it has one,
// without waiting (a client that does not read loses its reply), and
// closes the channel.
func (d *daemon) answer(dg *ipc.Datagram, r *ipc.Reply) {
	if r != nil && dg.Reply >= 0 {
		if err := dg.Answer(r.Marshal(), nil, 0); err != nil {
			d.log.Debug("reply to " + who(dg.Cred) + ": " + err.Error())
		}
	}
	dg.Done()
}

// limiter returns the log limit for what cred's requests make the daemon
// say: other users' requests (refused, malformed) share one, root's and
// the daemon's user's another, so that a flood by one user can neither
// fill the log nor silence the lines about root's releases.
func (d *daemon) limiter(cred *unix.Ucred) *logger.Limiter {
	if allowed(cred) {
		return d.adminLog
	}
	return d.othersLog
}
