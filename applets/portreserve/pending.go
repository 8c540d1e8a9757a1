package portreserve

import (
	"strconv"
	"time"

	"portreserve/ipc"
)

// pendingRetry is how often the daemon tries pending ports again: a port is
// held at most this long after its last TIME_WAIT connection expires
// (TIME_WAIT lasts 60 s on Linux).
const pendingRetry = time.Second

// reportPending logs the entries that wait for TIME_WAIT connections to
// expire, and returns how many there are. Called with d.mu held.
func (d *daemon) reportPending() int {
	n := 0
	for i := range d.tab.entries {
		e := &d.tab.entries[i]
		if e.state != ipc.Pending {
			continue
		}
		if n < maxFailureLines {
			d.log.Warn(e.String() + ": pending: " + errTimeWait.Error() + "; holding it as soon as they expire (within a minute)")
		}
		n++
	}
	if n > maxFailureLines {
		d.log.Warn(strconv.Itoa(n-maxFailureLines) + " more reservations pending")
	}
	return n
}

// schedulePending arms the retry of the pending entries, if there are any
// and it is not armed yet: only then does the daemon wake up by itself.
// Called with d.mu held.
func (d *daemon) schedulePending() {
	if d.retry == nil && d.tab.pending() > 0 {
		d.retry = time.AfterFunc(pendingRetry, d.retryPending)
	}
}

// retryPending binds what is pending, if it can now, and arms the next
// try while anything is still pending.
func (d *daemon) retryPending() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.retry = nil
	if d.exiting {
		return
	}
	d.holder.newPass()
	held, _ := d.tab.retryPending()
	for _, e := range held {
		d.log.Info(e.String() + ": held, the TIME_WAIT connections having expired")
	}
	d.schedulePending()
}
