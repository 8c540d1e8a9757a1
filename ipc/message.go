package ipc

import (
	"errors"

	"portreserve/internal/inetaddr"
)

// Magic starts every request and reply.
const Magic = "\x7fPRS"

// Version is the protocol version this package speaks: 2, whose list and
// hand-off reply entries carry an address. Version1 requests are answered
// in version 1's layout, without it; see Request.Version.
const (
	Version  = 2
	Version1 = 1
)

// Sizes of the fixed parts of the protocol, in bytes.
const (
	RequestSize     = 80
	ReplyHeaderSize = 88
	EntrySize       = 88 // version 2; version 1's are EntrySizeV1
	EntrySizeV1     = 72
	NameSize        = 64 // the name field; also MaxNameLen
	// PageEntries is the most entries one list reply carries.
	PageEntries = 32
	// MaxReplySize is the size of the largest reply.
	MaxReplySize = ReplyHeaderSize + PageEntries*EntrySize
)

// Request is a decoded request.
type Request struct {
	// Version is the protocol version the request is sent in, and its
	// reply comes in. Marshal with 0 sends Version for OpList and
	// OpHandoff, whose replies carry entries, and Version1 for the rest,
	// which a daemon from before version 2 also understands.
	Version uint8
	Op      Op
	ID      uint32
	Arg     uint32 // OpList: index of the first entry wanted
	Name    string // OpRelease: the release name
	// Legacy marks a portreserve 0.0.5 release (see ParseDatagram):
	// OpRelease or OpReleaseAll, never answered.
	Legacy bool
}

// Reply is a decoded reply.
type Reply struct {
	Version    uint8 // the request's; 0 is Version
	Op         Op
	Status     Status
	ID         uint32
	Count      uint32
	Total      uint32
	Generation uint32
	Name       string
	Entries    []Entry // list replies only
}

// Entry is one reservation in a list reply. Its address is always
// inetaddr.Any in version 1.
type Entry struct {
	Name string
	inetaddr.Endpoint
	State State
	Errno uint32
}

// String returns "cups 127.0.0.1:631/tcp held", as tests and logs show an
// entry.
func (e Entry) String() string {
	return e.Name + " " + e.Endpoint.String() + " " + e.State.String()
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
	b[4] = r.Version
	if b[4] == 0 {
		b[4] = Version1
		if r.Op == OpList || r.Op == OpHandoff {
			b[4] = Version
		}
	}
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
	return parseRequest(b, true)
}

func parseRequest(b []byte, withName bool) (Request, error) {
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
	if entrySize(b[4]) == 0 {
		return r, ErrVersion
	}
	r.Version = b[4]
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
		if !validName(name) {
			return r, ErrName
		}
		if withName {
			r.Name = string(name)
		}
	case OpReleaseAll, OpList, OpReload:
		if len(name) != 0 {
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
	return parseDatagram(b, truncated, true)
}

// PeekDatagram checks b as ParseDatagram does, and returns the request
// without its name, the one part that costs an allocation: the daemon
// refuses another user's release before it reads the name, so that a
// flood of them allocates nothing.
func PeekDatagram(b []byte, truncated bool) (Request, error) {
	return parseDatagram(b, truncated, false)
}

func parseDatagram(b []byte, truncated, withName bool) (Request, error) {
	if len(b) < 4 || string(b[:4]) != Magic {
		name, ok := legacyName(b)
		switch {
		case !ok || truncated:
			return Request{}, ErrNotRequest
		case string(name) == AllNames:
			return Request{Op: OpReleaseAll, Legacy: true}, nil
		}
		r := Request{Op: OpRelease, Legacy: true}
		if withName {
			r.Name = string(name)
		}
		return r, nil
	}
	r, err := parseRequest(b, withName)
	if truncated {
		return Request{Op: r.Op, ID: r.ID}, ErrSize
	}
	return r, err
}

// ParseLegacy recognises a portreserve 0.0.5 release request: a bare
// release name or "*", optionally followed by one NUL or newline.
func ParseLegacy(b []byte) (name string, ok bool) {
	n, ok := legacyName(b)
	return string(n), ok
}

// legacyName is ParseLegacy without the string.
func legacyName(b []byte) ([]byte, bool) {
	if n := len(b); n > 0 && (b[n-1] == 0 || b[n-1] == '\n') {
		b = b[:n-1]
	}
	if string(b) == AllNames || validName(b) {
		return b, true
	}
	return nil, false
}

// entrySize is the size of a list entry in protocol version v, 0 for a
// version this package does not speak.
func entrySize(v uint8) int {
	switch v {
	case Version:
		return EntrySize
	case Version1:
		return EntrySizeV1
	}
	return 0
}

// Marshal encodes r with its entries.
func (r *Reply) Marshal() []byte { return r.MarshalTo(nil) }

// MarshalTo encodes r with its entries into buf, when it has room, or
// else into a new slice, and returns the encoding: the daemon answers
// every datagram from one buffer.
func (r *Reply) MarshalTo(buf []byte) []byte {
	v := r.Version
	if entrySize(v) == 0 {
		v = Version
	}
	size := entrySize(v)
	n := ReplyHeaderSize + len(r.Entries)*size
	var b []byte
	if cap(buf) >= n {
		b = buf[:n]
		clear(b)
	} else {
		b = make([]byte, n)
	}
	copy(b, Magic)
	b[4] = v
	b[5] = byte(r.Op)
	be.PutUint16(b[6:], uint16(r.Status))
	be.PutUint32(b[8:], r.ID)
	be.PutUint32(b[12:], r.Count)
	be.PutUint32(b[16:], r.Total)
	be.PutUint32(b[20:], r.Generation)
	putName(b[24:24+NameSize], r.Name)
	for i, e := range r.Entries {
		p := b[ReplyHeaderSize+i*size:]
		putName(p[:NameSize], e.Name)
		be.PutUint16(p[64:], e.Port)
		p[66] = byte(e.Proto)
		p[67] = byte(e.State)
		be.PutUint32(p[68:], e.Errno)
		if size == EntrySize {
			copy(p[72:88], e.Addr[:])
		}
	}
	return b
}

// ParseReply decodes a reply. For a list reply, Count must match the
// number of entries the datagram carries.
func ParseReply(b []byte) (Reply, error) {
	var r Reply
	if len(b) < ReplyHeaderSize {
		return r, ErrSize
	}
	if string(b[:4]) != Magic {
		return r, ErrMagic
	}
	size := entrySize(b[4])
	if size == 0 {
		return r, ErrVersion
	}
	if (len(b)-ReplyHeaderSize)%size != 0 {
		return r, ErrSize
	}
	r.Version = b[4]
	r.Op = Op(b[5])
	r.Status = Status(be.Uint16(b[6:]))
	r.ID = be.Uint32(b[8:])
	r.Count = be.Uint32(b[12:])
	r.Total = be.Uint32(b[16:])
	r.Generation = be.Uint32(b[20:])
	name, ok := getName(b[24 : 24+NameSize])
	if !ok {
		return r, ErrName
	}
	r.Name = string(name)
	n := (len(b) - ReplyHeaderSize) / size
	if n > 0 && ((r.Op != OpList && r.Op != OpHandoff) || uint32(n) != r.Count) {
		return r, ErrCount
	}
	for i := 0; i < n; i++ {
		p := b[ReplyHeaderSize+i*size:]
		var e Entry
		name, ok := getName(p[:NameSize])
		if !ok {
			return r, ErrName
		}
		e.Name = string(name)
		e.Port = be.Uint16(p[64:])
		e.Proto = inetaddr.Proto(p[66])
		e.State = State(p[67])
		e.Errno = be.Uint32(p[68:])
		if size == EntrySize {
			copy(e.Addr[:], p[72:88])
		}
		r.Entries = append(r.Entries, e)
	}
	return r, nil
}

// EchoName copies the name field of req, a request, into b, a reply
// encoded by MarshalTo: the daemon refuses another user's request without
// making its name a string, and its reply still names it.
func EchoName(b, req []byte) {
	if len(b) >= ReplyHeaderSize && len(req) == RequestSize {
		copy(b[24:24+NameSize], req[16:16+NameSize])
	}
}

// putName writes name NUL-padded into field.
func putName(field []byte, name string) {
	copy(field, name)
}

// getName reads a NUL-padded name field: the bytes before the first NUL,
// and false when something other than NULs follows them.
func getName(field []byte) ([]byte, bool) {
	n := 0
	for n < len(field) && field[n] != 0 {
		n++
	}
	for _, c := range field[n:] {
		if c != 0 {
			return nil, false
		}
	}
	return field[:n], true
}
