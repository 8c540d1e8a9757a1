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

// count says n of noun for the log: "1 port", "11 ports".
func count(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return strconv.Itoa(n) + " " + noun
}

// handle acts on one datagram and returns the reply to send, send false
// for none. Called with d.mu held. What another user may not ask (all but
// a list) is refused before its name is read, and no refusal or error
// reply allocates: a flood of them costs the daemon no memory. Their log
// lines, within the sender's limit, are built only when logged.
func (d *daemon) handle(dg *ipc.Datagram) (reply ipc.Reply, send bool) {
	req, err := ipc.PeekDatagram(dg.Data, dg.Truncated)
	if err != nil {
		return d.malformed(dg, req, err), true
	}
	// named is the request with its name, read only where needed.
	named := func() ipc.Request {
		r, _ := ipc.ParseDatagram(dg.Data, dg.Truncated)
		return r
	}
	admin := allowed(dg.Cred)
	switch {
	case req.Legacy && !admin:
		if l := d.limiter(dg.Cred); l.Allow(logger.Warning) {
			name, _ := ipc.ParseLegacy(dg.Data)
			l.Log.Warn("legacy release " + name + " refused: " + who(dg.Cred) + " is not root or the daemon's user")
		}
		return reply, false
	case req.Legacy:
		req = named()
		d.legacy(req, dg.Cred)
		return reply, false
	case dg.Reply < 0:
		if l := d.limiter(dg.Cred); l.Allow(logger.Warning) {
			why := dg.ReplyProblem
			if why == "" {
				why = "no reply channel passed"
			}
			req = named()
			l.Log.Warn(req.Op.String() + " " + req.Name + " from " + who(dg.Cred) + " ignored: " + why)
		}
		return reply, false
	}
	reply = ipc.Reply{Version: req.Version, Op: req.Op, ID: req.ID, Generation: d.tab.gen}
	if req.Op != ipc.OpList && !admin {
		if l := d.limiter(dg.Cred); l.Allow(logger.Warning) {
			req = named()
			l.Log.Warn(req.Op.String() + " " + req.Name + " refused: " + who(dg.Cred) + " is not root or the daemon's user")
		}
		reply.Status = ipc.StatusDenied
		return reply, true
	}
	req = named()
	reply.Name = req.Name
	if d.exiting && (req.Op == ipc.OpHold || req.Op == ipc.OpReload) {
		// Whatever it bound now, the exit would let go of at once.
		reply.Status = ipc.StatusExiting
		d.log.Debug(req.Op.String() + " " + req.Name + " from " + who(dg.Cred) + ": refused, exiting")
		return reply, true
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
		d.limiter(dg.Cred).Info("released " + req.Name + " (" + count(closed, "port") + ") for " + who(dg.Cred))
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
		d.holdAgain(&reply)
	case ipc.OpReload:
		added, ok := d.reload()
		reply.Count = uint32(added)
		if !ok {
			reply.Status = ipc.StatusFailed
		}
	}
	reply.Generation = d.tab.gen
	return reply, true
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
// bound throughout. It sends its replies itself and returns send false, or
// the reply to send when there is nothing to pass.
func (d *daemon) handoff(dg *ipc.Datagram, reply ipc.Reply, keep bool) (ipc.Reply, bool) {
	h, known := d.tab.beginHandoff(reply.Name, keep)
	if !known {
		reply.Status = ipc.StatusNoSuchName
		return reply, true
	}
	reply.Generation = d.tab.gen
	if len(h.sockets) == 0 {
		return reply, true
	}
	reply.Total = uint32(len(h.sockets))
	err := d.sendSockets(dg, &reply, h.sockets)
	if err == nil {
		err = dg.Confirmed(reply.Name, len(h.sockets), handoffWait)
	}
	if err != nil {
		h.Rollback()
		d.log.Error("hand-off " + reply.Name + " to " + who(dg.Cred) + ": " + err.Error() + "; still holding all " + strconv.Itoa(len(h.sockets)) + " sockets")
		return ipc.Reply{Version: reply.Version, Op: ipc.OpHandoff, ID: reply.ID, Name: reply.Name, Status: ipc.StatusFailed, Generation: d.tab.gen}, true
	}
	h.Commit()
	how := " sockets) to "
	if keep {
		how = " sockets, copies kept) to "
	}
	d.limiter(dg.Cred).Info("handed off " + reply.Name + " (" + strconv.Itoa(len(h.sockets)) + how + who(dg.Cred))
	return reply, false
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
	d.log.Info("holding " + reply.Name + " again: " + count(int(reply.Count), "port") + " newly held, " +
		strconv.Itoa(failed) + " failed, " + strconv.Itoa(pending) + " pending")
}

// legacy acts on a portreserve 0.0.5 release from root or the daemon's
// user: a bare name, no reply.
func (d *daemon) legacy(req ipc.Request, cred *unix.Ucred) {
	name := req.Name
	if req.Op == ipc.OpReleaseAll {
		d.tab.releaseAll()
		d.limiter(cred).Info("released everything (legacy request) for " + who(cred))
		return
	}
	if known, closed, _ := d.tab.release(name); known {
		d.limiter(cred).Info("released " + name + " (" + strconv.Itoa(closed) + " ports, legacy request) for " + who(cred))
	} else if d.log.Verbose {
		d.log.Debug("legacy release " + name + ": no such name")
	}
}

// malformed logs a datagram that is not a valid request, within the
// sender's limit (see limiter), and returns the error reply.
func (d *daemon) malformed(dg *ipc.Datagram, req ipc.Request, err error) ipc.Reply {
	if l := d.limiter(dg.Cred); l.Allow(logger.Warning) {
		size := strconv.Itoa(len(dg.Data))
		if dg.Truncated {
			size = "more than " + size
		}
		l.Log.Warn("malformed datagram (" + size + " bytes) from " + who(dg.Cred) + ": " + err.Error())
	}
	return ipc.Reply{Version: req.Version, Op: req.Op, ID: req.ID, Status: ipc.StatusOf(err), Generation: d.tab.gen}
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
