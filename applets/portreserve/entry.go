package portreserve

import (
	"strconv"
	"syscall"

	"portreserve/internal/config"
	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// entry is one reservation and what became of it. Entries are kept small:
// a daemon holding 10,000 ports keeps 10,000 of them for its lifetime, 24
// bytes each, the configuration line and address they come from shared.
type entry struct {
	*origin
	port  uint16
	proto inetaddr.Proto
	state ipc.State
	errno syscall.Errno // why the bind failed
}

// origin is the configuration line an entry comes from, and the address it
// names: every port of a range shares one.
type origin struct {
	name  string
	file  string
	line  int32
	addr  inetaddr.Addr // inetaddr.Any: every address
	named bool          // addr is one a host name gave
}

// newEntry makes the entry of r. It shares *last when r comes from the same
// line and address as the entry before, and leaves r's origin in *last for
// the next.
func newEntry(r *config.Reservation, last **origin) entry {
	if o := *last; o == nil || o.line != int32(r.Line) || o.addr != r.Addr || o.file != r.File || o.name != r.Name {
		*last = &origin{name: r.Name, file: r.File, line: int32(r.Line), addr: r.Addr, named: r.Named}
	}
	return entry{origin: *last, port: r.Port, proto: r.Proto}
}

// endpoint is what the entry's socket is bound to.
func (e *entry) endpoint() inetaddr.Endpoint {
	return inetaddr.Endpoint{Addr: e.addr, Port: e.port, Proto: e.proto}
}

// String describes an entry for messages: "cups: 631/tcp
// (/etc/portreserve/cups:1)", "cups: [::1]:631/tcp (/etc/portreserve/cups:1)".
func (e *entry) String() string {
	return e.name + ": " + e.endpoint().String() + " (" + e.file + ":" + strconv.Itoa(int(e.line)) + ")"
}

// given reports whether the entry's port was given up: released, or its
// socket handed to a service.
func (e *entry) given() bool {
	return e.state == ipc.Released || e.state == ipc.HandedOff
}

// holding reports whether the daemon has a socket for the entry: held, or
// kept while a service has it too.
func (e *entry) holding() bool {
	return e.state == ipc.Held || e.state == ipc.Kept
}
