// Package ipc is the datagram protocol between the portreserve daemon and
// its clients (portrelease, portreserve-check), and the socket calls that
// carry it.
//
// The daemon owns an AF_UNIX SOCK_DGRAM socket, by default
// /run/portreserve/socket. A client binds its own socket to an
// autobind (abstract) address so that it can be answered, sends one request
// and waits for one reply carrying the same request id. All integers are
// big-endian. Every request is exactly RequestSize (80) bytes:
//
//	offset size field
//	     0    4 magic "\x7fPRS" (7f 50 52 53)
//	     4    1 version, 1
//	     5    1 operation: 1 release, 2 release all, 3 list, 4 reload,
//	            5 hand off, 6 hold again
//	     6    2 flags, 0
//	     8    4 request id, echoed in the reply
//	    12    4 argument: for list, the index of the first entry wanted;
//	            for hand off, 1 to keep a copy (ArgKeep), else 0
//	    16   64 release name, NUL-padded (release, hand off, hold again;
//	            zero otherwise)
//
// A reply is a ReplyHeaderSize (88) byte header followed by Count entries
// of EntrySize (72) bytes each (entries only in list and hand-off replies,
// at most PageEntries of them):
//
//	offset size field
//	     0    4 magic
//	     4    1 version
//	     5    1 operation of the request, 0 when it could not be read
//	     6    2 status (see Status)
//	     8    4 request id of the request, 0 when it could not be read
//	    12    4 count: release: sockets closed; release all: names
//	            released; reload, hold again: reservations newly held;
//	            list, hand off: entries in this reply
//	    16    4 total: release, hold again: ports of the name; list:
//	            entries in all; hand off: sockets handed off in all
//	    20    4 generation: changes whenever a reservation changes state,
//	            so that a client reading a list in pages can start again
//	    24   64 release name of the request, NUL-padded
//
// A list entry:
//
//	offset size field
//	     0   64 release name, NUL-padded
//	    64    2 port
//	    66    1 protocol: 6 tcp, 17 udp (the IP protocol numbers)
//	    67    1 state: 1 held, 2 released, 3 failed, 4 handed off,
//	            5 kept (handed off, the daemon keeping a copy)
//	    68    4 errno of the failed bind, 0 otherwise
//
// Hand off: the daemon passes the held sockets of a name to the client
// with SCM_RIGHTS and forgets them, so that the ports never become free
// in between. The reply comes in as many datagrams as it takes, each with
// up to PageEntries entries and as many descriptors, in the same order
// (the order of the configuration file), Total giving the number in all.
// With ArgKeep the daemon keeps its own copy of each socket, as systemd
// does for socket-activated services: the port stays bound while the
// service is stopped, connections wait in the listen backlog, and the next
// hand-off passes the very same sockets again. A release closes the copy.
//
// Hold again: the daemon reads the name's configuration file again and
// binds its ports, even if the name was released; a service's stop action
// uses it, so that the port is protected until the service starts again.
//
// Compatibility with portreserve 0.0.5: a datagram that does not start with
// the magic and holds nothing but a release name (or "*"), optionally
// followed by a NUL or a newline, is a legacy release request. The daemon
// acts on it and does not reply, as the original's portrelease expects.
// Since 0x7f may not appear in a release name, the two never collide.
package ipc

import (
	"errors"
	"strconv"
)

// Magic starts every request and reply.
const Magic = "\x7fPRS"

// Version is the protocol version this package speaks.
const Version = 1

// Sizes of the fixed parts of the protocol, in bytes.
const (
	RequestSize     = 80
	ReplyHeaderSize = 88
	EntrySize       = 72
	NameSize        = 64 // the name field; also MaxNameLen
	// PageEntries is the most entries one list reply carries.
	PageEntries = 32
	// MaxReplySize is the size of the largest reply.
	MaxReplySize = ReplyHeaderSize + PageEntries*EntrySize
)

// Op is a request's operation.
type Op uint8

// The operations.
const (
	OpRelease    Op = 1 // release the ports of Name
	OpReleaseAll Op = 2 // release every port
	OpList       Op = 3 // list reservations from index Arg on
	OpReload     Op = 4 // read the configuration again
	OpHandoff    Op = 5 // pass the sockets of Name to the client
	OpHold       Op = 6 // hold the ports of Name again
)

// ArgKeep in a hand-off request's argument asks the daemon to keep a copy
// of each socket it passes.
const ArgKeep = 1

// String returns the operation's name, as logged.
func (o Op) String() string {
	switch o {
	case OpRelease:
		return "release"
	case OpReleaseAll:
		return "release-all"
	case OpList:
		return "list"
	case OpReload:
		return "reload"
	case OpHandoff:
		return "hand-off"
	case OpHold:
		return "hold"
	}
	return "op " + strconv.Itoa(int(o))
}

// Status is a reply's outcome.
type Status uint16

// The statuses.
const (
	StatusOK         Status = 0 // done
	StatusNoSuchName Status = 1 // the daemon has no reservation by that name
	StatusDenied     Status = 2 // the sender's credentials do not allow it
	StatusBadSize    Status = 3 // the datagram is not RequestSize bytes
	StatusBadVersion Status = 4 // the version is not one the daemon speaks
	StatusBadOp      Status = 5 // unknown operation
	StatusBadName    Status = 6 // the name field breaks the name rules
	StatusBadRequest Status = 7 // anything else wrong with the datagram
	StatusFailed     Status = 8 // the daemon tried and failed (e.g. reload)
)

// String returns the status as a message for the user.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusNoSuchName:
		return "no reservation by that name"
	case StatusDenied:
		return "permission denied"
	case StatusBadSize:
		return "malformed request: wrong size"
	case StatusBadVersion:
		return "malformed request: unsupported protocol version"
	case StatusBadOp:
		return "malformed request: unknown operation"
	case StatusBadName:
		return "malformed request: bad release name"
	case StatusBadRequest:
		return "malformed request"
	case StatusFailed:
		return "failed"
	}
	return "status " + strconv.Itoa(int(s))
}

// Proto is a transport protocol, numbered as in IP.
type Proto uint8

// The protocols a port can be held for.
const (
	TCP Proto = 6
	UDP Proto = 17
)

// String returns "tcp" or "udp".
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "proto" + strconv.Itoa(int(p))
}

// State is what the daemon did with one reservation.
type State uint8

// The states of a reservation.
const (
	Held      State = 1 // the daemon holds the port
	Released  State = 2 // the daemon held it and let it go
	Failed    State = 3 // the daemon could not bind it
	HandedOff State = 4 // the daemon passed its socket to a service
	Kept      State = 5 // passed to a service, and the daemon keeps a copy
)

// String returns "held", "released" or "failed".
func (s State) String() string {
	switch s {
	case Held:
		return "held"
	case Released:
		return "released"
	case Failed:
		return "failed"
	case HandedOff:
		return "handed-off"
	case Kept:
		return "kept"
	}
	return "state" + strconv.Itoa(int(s))
}

// Request is a decoded request.
type Request struct {
	Op   Op
	ID   uint32
	Arg  uint32 // OpList: index of the first entry wanted
	Name string // OpRelease: the release name
	// Legacy marks a portreserve 0.0.5 release (see ParseDatagram):
	// OpRelease or OpReleaseAll, never answered.
	Legacy bool
}

// Reply is a decoded reply.
type Reply struct {
	Op         Op
	Status     Status
	ID         uint32
	Count      uint32
	Total      uint32
	Generation uint32
	Name       string
	Entries    []Entry // list replies only
}

// Entry is one reservation in a list reply.
type Entry struct {
	Name  string
	Port  uint16
	Proto Proto
	State State
	Errno uint32
}

// Errors from decoding. ParseRequest's errors map to a Status with
// StatusOf.
var (
	ErrSize    = errors.New("wrong size")
	ErrMagic   = errors.New("no magic")
	ErrVersion = errors.New("unsupported protocol version")
	ErrOp      = errors.New("unknown operation")
	ErrName    = errors.New("bad release name")
	ErrFlags   = errors.New("reserved field not zero")
	ErrCount   = errors.New("entry count does not match size")
	// ErrNotRequest is a datagram that is neither a request nor a
	// legacy release.
	ErrNotRequest = errors.New("not a request")
)

// StatusOf returns the reply status for an error from ParseRequest.
func StatusOf(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, ErrSize):
		return StatusBadSize
	case errors.Is(err, ErrVersion):
		return StatusBadVersion
	case errors.Is(err, ErrOp):
		return StatusBadOp
	case errors.Is(err, ErrName):
		return StatusBadName
	}
	return StatusBadRequest
}

// be reads and writes big-endian integers. It stands in for
// encoding/binary, which would bring the reflect package into the binary
// for four one-line functions.
var be bigEndian

type bigEndian struct{}

func (bigEndian) Uint16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func (bigEndian) Uint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (bigEndian) PutUint16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

func (bigEndian) PutUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// Marshal encodes r. A name longer than the name field is cut; callers
// check names with CheckName first.
func (r *Request) Marshal() []byte {
	b := make([]byte, RequestSize)
	copy(b, Magic)
	b[4] = Version
	b[5] = byte(r.Op)
	be.PutUint32(b[8:], r.ID)
	be.PutUint32(b[12:], r.Arg)
	putName(b[16:16+NameSize], r.Name)
	return b
}

// ParseRequest decodes a request. On error the returned Request holds the
// operation and id where they could be read, so that the error reply can
// echo them.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) < 4 || string(b[:4]) != Magic {
		return r, ErrMagic
	}
	if len(b) >= 12 {
		r.Op = Op(b[5])
		r.ID = be.Uint32(b[8:])
	}
	if len(b) != RequestSize {
		return r, ErrSize
	}
	if b[4] != Version {
		return r, ErrVersion
	}
	if be.Uint16(b[6:]) != 0 {
		return r, ErrFlags
	}
	r.Arg = be.Uint32(b[12:])
	name, ok := getName(b[16 : 16+NameSize])
	if !ok {
		return r, ErrName
	}
	switch r.Op {
	case OpRelease, OpHandoff, OpHold:
		if CheckName(name) != nil {
			return r, ErrName
		}
		r.Name = name
	case OpReleaseAll, OpList, OpReload:
		if name != "" {
			return r, ErrName
		}
	default:
		return r, ErrOp
	}
	return r, nil
}

// ParseDatagram decodes what a client sent the daemon. It is the one place
// that tells a request (it starts with Magic) from portreserve 0.0.5's
// bare-name release: the latter comes back with Legacy set, as OpRelease
// with its Name or, for "*", OpReleaseAll. truncated reports a datagram
// larger than the buffer it was read into; it is refused by size. Errors
// are those of ParseRequest, or ErrNotRequest; StatusOf maps them to the
// error reply's status.
func ParseDatagram(b []byte, truncated bool) (Request, error) {
	if len(b) < 4 || string(b[:4]) != Magic {
		name, ok := ParseLegacy(b)
		switch {
		case !ok || truncated:
			return Request{}, ErrNotRequest
		case name == AllNames:
			return Request{Op: OpReleaseAll, Legacy: true}, nil
		}
		return Request{Op: OpRelease, Name: name, Legacy: true}, nil
	}
	r, err := ParseRequest(b)
	if truncated {
		return Request{Op: r.Op, ID: r.ID}, ErrSize
	}
	return r, err
}

// ParseLegacy recognises a portreserve 0.0.5 release request: a bare
// release name or "*", optionally followed by one NUL or newline.
func ParseLegacy(b []byte) (name string, ok bool) {
	if n := len(b); n > 0 && (b[n-1] == 0 || b[n-1] == '\n') {
		b = b[:n-1]
	}
	s := string(b)
	if s == AllNames || CheckName(s) == nil {
		return s, true
	}
	return "", false
}

// Marshal encodes r with its entries.
func (r *Reply) Marshal() []byte {
	b := make([]byte, ReplyHeaderSize+len(r.Entries)*EntrySize)
	copy(b, Magic)
	b[4] = Version
	b[5] = byte(r.Op)
	be.PutUint16(b[6:], uint16(r.Status))
	be.PutUint32(b[8:], r.ID)
	be.PutUint32(b[12:], r.Count)
	be.PutUint32(b[16:], r.Total)
	be.PutUint32(b[20:], r.Generation)
	putName(b[24:24+NameSize], r.Name)
	for i, e := range r.Entries {
		p := b[ReplyHeaderSize+i*EntrySize:]
		putName(p[:NameSize], e.Name)
		be.PutUint16(p[64:], e.Port)
		p[66] = byte(e.Proto)
		p[67] = byte(e.State)
		be.PutUint32(p[68:], e.Errno)
	}
	return b
}

// ParseReply decodes a reply. For a list reply, Count must match the
// number of entries the datagram carries.
func ParseReply(b []byte) (Reply, error) {
	var r Reply
	if len(b) < ReplyHeaderSize || (len(b)-ReplyHeaderSize)%EntrySize != 0 {
		return r, ErrSize
	}
	if string(b[:4]) != Magic {
		return r, ErrMagic
	}
	if b[4] != Version {
		return r, ErrVersion
	}
	r.Op = Op(b[5])
	r.Status = Status(be.Uint16(b[6:]))
	r.ID = be.Uint32(b[8:])
	r.Count = be.Uint32(b[12:])
	r.Total = be.Uint32(b[16:])
	r.Generation = be.Uint32(b[20:])
	var ok bool
	if r.Name, ok = getName(b[24 : 24+NameSize]); !ok {
		return r, ErrName
	}
	n := (len(b) - ReplyHeaderSize) / EntrySize
	if n > 0 && ((r.Op != OpList && r.Op != OpHandoff) || uint32(n) != r.Count) {
		return r, ErrCount
	}
	for i := 0; i < n; i++ {
		p := b[ReplyHeaderSize+i*EntrySize:]
		var e Entry
		if e.Name, ok = getName(p[:NameSize]); !ok {
			return r, ErrName
		}
		e.Port = be.Uint16(p[64:])
		e.Proto = Proto(p[66])
		e.State = State(p[67])
		e.Errno = be.Uint32(p[68:])
		r.Entries = append(r.Entries, e)
	}
	return r, nil
}

// putName writes name NUL-padded into field.
func putName(field []byte, name string) {
	copy(field, name)
}

// getName reads a NUL-padded name field: the bytes before the first NUL,
// with only NULs after them.
func getName(field []byte) (string, bool) {
	n := 0
	for n < len(field) && field[n] != 0 {
		n++
	}
	for _, c := range field[n:] {
		if c != 0 {
			return "", false
		}
	}
	return string(field[:n]), true
}
