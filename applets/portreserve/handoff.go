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
	name    string
	keep    bool
	sockets []handed // in configuration order
	// What Rollback restores: whether the name was released before,
	// and the states it changed (entry index -> state before).
	wasReleased bool
	states      map[int]ipc.State
}

// beginHandoff takes name's held (or kept) sockets out of the table, in
// configuration order, without closing them, and returns the hand-off;
// with keep, the sockets stay in the table, kept. known is false for a
// name the table lacks. The name counts as released from now on, until a
// rollback.
func (t *table) beginHandoff(name string, keep bool) (h *handoff, known bool) {
	h = &handoff{t: t, name: name, keep: keep, wasReleased: t.released[name], states: map[int]ipc.State{}}
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
	if !known && !t.released[name] {
		return nil, false
	}
	if !keep {
		t.released[name] = true
	}
	for i := range t.entries {
		e := &t.entries[i]
		if !e.holding() || !seen[e.endpoint()] {
			continue
		}
		h.states[i] = e.state
		switch {
		case e.name == name && keep:
			e.state = ipc.Kept
		case e.name == name:
			e.state = ipc.HandedOff
		case !keep:
			e.state = ipc.Released // its socket went with the other name
		}
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
// service: the table holds them again, every entry is as it was before,
// and the name is released only if it was then.
func (h *handoff) Rollback() {
	t := h.t
	for _, s := range h.sockets {
		t.fds.set(s.entry.Endpoint, s.fd)
	}
	for i, state := range h.states {
		t.entries[i].state = state
	}
	if !h.wasReleased {
		delete(t.released, h.name)
	}
	t.gen++
}
