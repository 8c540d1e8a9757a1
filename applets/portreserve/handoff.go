package portreserve

import (
	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// handed is one socket on its way to a service.
type handed struct {
	entry ipc.Entry
	fd    int
}

// handoff is a hand-off under way, as a database/sql.Tx is a transaction:
// the table already counts the name's sockets as passed on (handed off, or
// kept with keep), and the caller, having passed them, either commits
// (the daemon's copies are closed, unless kept) or rolls back (the table
// holds every socket again, as before). The ports stay bound throughout.
type handoff struct {
	t       *table
	keep    bool
	sockets []handed // in configuration order
	// What Rollback restores: the states it changed (entry index ->
	// state before).
	states map[int]ipc.State
}

// beginHandoff takes name's held (or kept) sockets out of the table, in
// configuration order, without closing them, and returns the hand-off;
// with keep, the sockets stay in the table, kept. known is false for a
// name the table lacks. Without keep, the name is released from now on,
// until a rollback: its entries not handed off are Released.
func (t *table) beginHandoff(name string, keep bool) (h *handoff, known bool) {
	h = &handoff{t: t, keep: keep, states: map[int]ipc.State{}}
	seen := map[inetaddr.Endpoint]bool{}
	for i := range t.entries {
		e := &t.entries[i]
		if e.name != name {
			continue
		}
		known = true
		ep := e.endpoint()
		if !e.holding() || seen[ep] {
			continue
		}
		fd, ok := t.fds.get(ep)
		if !ok {
			continue
		}
		seen[ep] = true
		state := ipc.HandedOff
		if keep {
			state = ipc.Kept
		} else {
			t.fds.del(ep)
		}
		h.sockets = append(h.sockets, handed{entry: ipc.Entry{Name: name, Endpoint: ep, State: state}, fd: fd})
	}
	if !known {
		return nil, false
	}
	for i := range t.entries {
		e := &t.entries[i]
		handed := e.holding() && seen[e.endpoint()]
		var state ipc.State
		switch {
		case handed && e.name == name && keep:
			state = ipc.Kept
		case handed && e.name == name:
			state = ipc.HandedOff
		case handed && !keep:
			state = ipc.Released // its socket went with the other name
		case e.name == name && !keep && !e.given():
			state = ipc.Released // failed or pending: no longer wanted
		default:
			continue
		}
		h.states[i] = e.state
		e.state = state
	}
	t.gen++
	return h, true
}

// Commit ends the hand-off once the service has every socket: the
// daemon's copies are closed, unless it keeps them.
func (h *handoff) Commit() {
	if !h.keep {
		for _, s := range h.sockets {
			unix.Close(s.fd)
		}
	}
}

// Rollback undoes the hand-off, whose sockets did not all reach the
// service: the table holds them again and every entry is as it was
// before, the name released only if it was then.
func (h *handoff) Rollback() {
	t := h.t
	for _, s := range h.sockets {
		t.fds.set(s.entry.Endpoint, s.fd)
	}
	for i, state := range h.states {
		t.entries[i].state = state
	}
	t.gen++
}
