package portreserve

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"

	"portreserve/internal/config"
	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// table is the daemon's state: every reservation in configuration order
// and the sockets that hold them. A (port, protocol) claimed by two names
// is held by one socket; releasing either name closes it.
//
// The entries are the one record of what was released: a name is released
// when every entry of it is Released or HandedOff (see given), and such a
// name is never bound again until it is held again.
type table struct {
	entries []entry
	fds     sockets // held sockets
	gen     uint32  // changes whenever an entry changes state
	// hold binds a port and returns the socket (holder.hold, or a fake
	// in tests).
	hold func(inetaddr.Endpoint) (int, error)
}

func newTable(hold func(inetaddr.Endpoint) (int, error)) *table {
	return &table{fds: newSockets(), hold: hold}
}

// releasedNames is the set of names released: every entry of each given.
func (t *table) releasedNames() map[string]bool {
	out := map[string]bool{}
	for i := range t.entries {
		e := &t.entries[i]
		if r, seen := out[e.name]; !seen || r {
			out[e.name] = e.given()
		}
	}
	for name, r := range out {
		if !r {
			delete(out, name)
		}
	}
	return out
}

// held is the number of sockets held.
func (t *table) held() int { return t.fds.len() }

// load replaces the entries with the configuration's, keeping what is
// already held or released; bindAll then binds what is new.
//
// A name released before stays released whatever its file says now. A name
// still held gets the ports its file lists now: new ones are bound, those
// no longer listed are let go. A held name whose file is gone is released.
// Failed binds of names not released are tried again. Entries stay in
// configuration order, names no longer configured last.
func (t *table) load(cfg *config.Config) {
	type nameKey struct {
		name string
		inetaddr.Endpoint
	}
	released := t.releasedNames()
	wasHeld := map[nameKey]ipc.State{}
	old := map[string][]entry{}
	var oldNames []string
	for _, e := range t.entries {
		if e.holding() {
			wasHeld[nameKey{e.name, e.endpoint()}] = e.state
		}
		if _, seen := old[e.name]; !seen {
			oldNames = append(oldNames, e.name)
		}
		old[e.name] = append(old[e.name], e)
	}
	entries := make([]entry, 0, len(cfg.Reservations))
	placed := map[string]bool{}
	var last *origin
	for i := range cfg.Reservations {
		r := &cfg.Reservations[i]
		if released[r.Name] {
			if !placed[r.Name] {
				entries = append(entries, old[r.Name]...)
			}
			placed[r.Name] = true
			continue
		}
		placed[r.Name] = true
		e := newEntry(r, &last)
		e.state = wasHeld[nameKey{r.Name, e.endpoint()}]
		entries = append(entries, e)
	}
	for _, name := range oldNames {
		if placed[name] {
			continue
		}
		// No longer configured: released, and listed as such.
		for _, e := range old[name] {
			if !e.given() {
				e.state = ipc.Released
			}
			entries = append(entries, e)
		}
	}
	t.entries = entries
	t.closeUnwanted()
	t.gen++
}

// closeUnwanted lets go of the sockets that no entry holds any more.
func (t *table) closeUnwanted() {
	wanted := map[inetaddr.Endpoint]bool{}
	for _, e := range t.entries {
		if e.holding() {
			wanted[e.endpoint()] = true
		}
	}
	t.fds.each(func(k inetaddr.Endpoint, fd int) {
		if !wanted[k] {
			unix.Close(fd)
			t.fds.del(k)
		}
	})
}

// holdAgain makes name held again as its configuration file says now,
// whether or not it was released: a service's stop action asks for it, so
// that its ports are protected until it starts again. Ports already held
// (or kept) stay as they are; bindAll binds the others. known is false
// when the configuration has no file for name.
func (t *table) holdAgain(name string, cfg *config.Config) (known bool) {
	for _, f := range cfg.Files {
		if f.Name == name {
			known = true
		}
	}
	if !known {
		return false
	}
	holding := map[inetaddr.Endpoint]ipc.State{}
	at := -1
	var rest []entry
	for i, e := range t.entries {
		if e.name != name {
			rest = append(rest, e)
			continue
		}
		if at < 0 {
			at = i
		}
		if e.holding() {
			holding[e.endpoint()] = e.state
		}
	}
	var fresh []entry
	var last *origin
	for i := range cfg.Reservations {
		if r := &cfg.Reservations[i]; r.Name == name {
			e := newEntry(r, &last)
			e.state = holding[e.endpoint()]
			fresh = append(fresh, e)
		}
	}
	if at < 0 || at > len(rest) {
		at = len(rest)
	}
	t.entries = append(append(append([]entry(nil), rest[:at]...), fresh...), rest[at:]...)
	t.closeUnwanted()
	t.gen++
	return true
}

// bindAll binds every entry not yet bound, failed, absent or pending (an
// entry of a released name is none of these), and returns the entries that failed now, and those
// found absent now that were not before (not failures: see ipc.Absent).
// Those blocked by TIME_WAIT connections become Pending: retryPending binds
// them later.
func (t *table) bindAll() (failed, absent []*entry) {
	for i := range t.entries {
		e := &t.entries[i]
		if e.holding() || e.given() {
			continue
		}
		was := e.state
		if t.bind(e) {
			continue
		}
		switch {
		case e.state == ipc.Failed:
			failed = append(failed, e)
		case e.state == ipc.Absent && was != ipc.Absent:
			absent = append(absent, e)
		}
	}
	t.gen++
	return failed, absent
}

// bind binds one entry, or shares the socket another name holds for its
// port, and reports whether it is held now.
func (t *table) bind(e *entry) bool {
	if _, ok := t.fds.get(e.endpoint()); ok {
		e.state, e.errno = ipc.Held, 0
		return true
	}
	fd, err := t.hold(e.endpoint())
	switch {
	case errors.Is(err, errTimeWait):
		e.state, e.errno = ipc.Pending, syscall.EADDRINUSE
		return false
	case err != nil:
		e.state, e.errno = ipc.Failed, errnoOf(err)
		if e.named && (e.errno == unix.EADDRNOTAVAIL || e.errno == unix.EAFNOSUPPORT) {
			e.state = ipc.Absent
		}
		return false
	}
	t.fds.set(e.endpoint(), fd)
	e.state, e.errno = ipc.Held, 0
	return true
}

// retryPending tries the pending entries again and returns those held now
// and how many are still pending.
func (t *table) retryPending() (held []*entry, pending int) {
	for i := range t.entries {
		e := &t.entries[i]
		if e.state != ipc.Pending {
			continue
		}
		if t.bind(e) {
			held = append(held, e)
		} else if e.state == ipc.Pending {
			pending++
		}
	}
	if len(held) > 0 {
		t.gen++
	}
	return held, pending
}

// pending is the number of entries waiting for TIME_WAIT connections to
// expire.
func (t *table) pending() int {
	n := 0
	for i := range t.entries {
		if t.entries[i].state == ipc.Pending {
			n++
		}
	}
	return n
}

// errnoOf digs the errno out of err.
func errnoOf(err error) syscall.Errno {
	for err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return e
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			break
		}
		err = u.Unwrap()
	}
	return syscall.EINVAL
}

// release lets go of name's ports: the sockets are closed before release
// returns, and every entry of the name not handed off is Released (one
// that failed, or was pending, is no longer wanted). It reports whether
// the name is known, how many sockets were closed and how many entries
// the name has.
func (t *table) release(name string) (known bool, closed, total int) {
	for i := range t.entries {
		e := &t.entries[i]
		if e.name != name {
			continue
		}
		known = true
		total++
		if e.holding() {
			if fd, ok := t.fds.get(e.endpoint()); ok {
				unix.Close(fd)
				t.fds.del(e.endpoint())
				closed++
			}
		}
		if e.state != ipc.HandedOff {
			e.state = ipc.Released
		}
	}
	if !known {
		return false, 0, 0
	}
	// Entries of other names that shared a closed socket are released
	// with it.
	for i := range t.entries {
		e := &t.entries[i]
		if e.holding() {
			if _, ok := t.fds.get(e.endpoint()); !ok {
				e.state = ipc.Released
			}
		}
	}
	t.gen++
	return true, closed, total
}

// releaseAll lets go of every port and returns how many names were
// released.
func (t *table) releaseAll() (names int) {
	released := t.releasedNames()
	for i := range t.entries {
		e := &t.entries[i]
		if !released[e.name] {
			released[e.name] = true
			names++
		}
		if !e.given() {
			e.state = ipc.Released
		}
	}
	t.fds.each(func(k inetaddr.Endpoint, fd int) {
		unix.Close(fd)
		t.fds.del(k)
	})
	t.gen++
	return names
}

// page returns up to ipc.PageEntries entries from index start on. start
// comes from the wire, from anyone: it is compared before any conversion,
// since int(start) is negative on a 32-bit build from 2^31 on.
func (t *table) page(start uint32) []ipc.Entry {
	if uint64(start) >= uint64(len(t.entries)) {
		return nil
	}
	var out []ipc.Entry
	for i := int(start); i < len(t.entries) && len(out) < ipc.PageEntries; i++ {
		e := &t.entries[i]
		out = append(out, ipc.Entry{Name: e.name, Endpoint: e.endpoint(), State: e.state, Errno: uint32(e.errno)})
	}
	return out
}
