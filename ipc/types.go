package ipc

import "strconv"

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
	// StatusPending: hold again held what it could, and the rest is
	// pending (see Pending): held within a minute, by the daemon itself.
	StatusPending Status = 9
	// StatusExiting: the daemon is exiting (the last name was released,
	// or a signal came) and will not hold anything more; a client that
	// wants ports held starts a new daemon once this one is gone.
	StatusExiting Status = 10
)

// Advice is what a user can do about the status, as ": what to do", or
// "" when there is nothing to add to String.
func (s Status) Advice() string {
	if s == StatusDenied {
		return ": only root and the user the daemon runs as may change what it holds (run this as root)"
	}
	return ""
}

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
	case StatusExiting:
		return "the daemon is exiting"
	case StatusPending:
		return "pending: blocked by connections in TIME_WAIT, held once they expire"
	}
	return "status " + strconv.Itoa(int(s))
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
	// Pending: blocked by TCP connections in TIME_WAIT that a server
	// without SO_REUSEADDR left; the daemon binds the port as soon as
	// they expire (within a minute).
	Pending State = 6
	// Absent: the address, which a host name in the configuration gave
	// (localhost: 127.0.0.1 and ::1), does not exist on this system (no
	// ::1 where IPv6 is off, as in many containers). Not a failure:
	// servers listening on the name skip it too; tried again on reload.
	Absent State = 7
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
	case Pending:
		return "pending"
	case Absent:
		return "absent"
	}
	return "state" + strconv.Itoa(int(s))
}
