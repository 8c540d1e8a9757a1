package config

import (
	"strconv"

	"portreserve/internal/inetaddr"
)

// add records a reservation unless its name already has the endpoint; an
// endpoint another name has claimed is recorded for both names and
// reported.
func (r *reader) add(res Reservation) {
	k := res.Endpoint
	if i, ok := r.seen[k]; ok {
		r.lineProblem(res.File, res.Line, true, func() string {
			return k.String() + " already listed at " + r.cfg.Reservations[i].Source()
		})
		return
	}
	if c, ok := r.wildcardConflict(k); ok {
		other := &r.cfg.Reservations[c]
		r.lineProblem(res.File, res.Line, false, func() string {
			return k.String() + " conflicts with " + other.Endpoint.String() + " of " + other.Name + " (" + other.Source() +
				"): a port cannot be bound on every address and on one address at once; write one of them"
		})
		return
	}
	i := len(r.cfg.Reservations)
	r.seen[k] = i
	if c, ok := r.claims[k]; ok {
		first := &r.cfg.Reservations[c]
		r.lineProblem(res.File, res.Line, true, func() string {
			return k.String() + " is also claimed by " + first.Name + " (" + first.Source() + "); held once, released by either name"
		})
	} else {
		r.claims[k] = i
	}
	r.cfg.Reservations = append(r.cfg.Reservations, res)
}

// wildcardConflict finds the reservation that e cannot be bound beside:
// the same port and protocol on every address when e names an address, or
// on an address when e is for every address.
func (r *reader) wildcardConflict(e inetaddr.Endpoint) (int, bool) {
	if e.Addr != inetaddr.Any {
		c, ok := r.claims[e.OnAny()]
		return c, ok
	}
	for _, a := range r.addrs[1:] {
		e.Addr = a
		if c, ok := r.claims[e]; ok {
			return c, true
		}
	}
	return 0, false
}

// MaxAddresses is how many addresses, Any among them, a configuration may
// name: more is no real configuration, and the reader keeps them in a short
// list it searches for every line, and for every port on every address.
const MaxAddresses = 255

// noteAddrs adds the addresses of a line to r.addrs, and says what is wrong
// when that would make more than MaxAddresses.
func (r *reader) noteAddrs(addrs []inetaddr.Addr) (msg string) {
next:
	for _, a := range addrs {
		for _, x := range r.addrs {
			if x == a {
				continue next
			}
		}
		if len(r.addrs) == MaxAddresses {
			return "more than " + strconv.Itoa(MaxAddresses) + " addresses in the configuration"
		}
		r.addrs = append(r.addrs, a)
	}
	return ""
}
