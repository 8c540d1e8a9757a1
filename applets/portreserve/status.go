package portreserve

// The exit statuses of portreserve (and portreserve NAME), as the man page
// lists them, ranked by worse.
const (
	statusHeld   = 0 // every port held, or nothing configured
	statusFailed = 1 // some ports could not be held, or a NAME has no file
	statusError  = 2 // the daemon could not start, or could not be asked
)

// statusPending is the exit status of portreserve (and portreserve NAME)
// when every port is held or pending, and some are pending: blocked by
// TIME_WAIT connections that a server without SO_REUSEADDR left, which
// expire within a minute; the daemon holds them then by itself.
const statusPending = 3

// worse returns the exit status that says more: 2 (could not ask) over 1
// (some ports not held) over 3 (some pending) over 0.
func worse(a, b int) int {
	rank := func(code int) int {
		switch code {
		case 0:
			return 0
		case statusPending:
			return 1
		}
		return code + 1
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
