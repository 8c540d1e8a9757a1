package portreserve

import (
	"strconv"
	"time"
)

// phaseClock times the daemon's start-up, phase by phase, for the debug
// log (portreserve -d): "start-up: signals 0.021 ms, pidfile 0.048 ms, ...".
// make bench reads the line to say where the time between exec and
// readiness goes. A nil *phaseClock times nothing.
type phaseClock struct {
	last time.Time
	line []byte
}

func newPhaseClock() *phaseClock {
	return &phaseClock{last: time.Now(), line: []byte("start-up:")}
}

// mark ends the phase called name: the time since the last mark is its.
func (c *phaseClock) mark(name string) {
	if c == nil {
		return
	}
	now := time.Now()
	if len(c.line) > len("start-up:") {
		c.line = append(c.line, ',')
	}
	c.line = append(c.line, ' ')
	c.line = append(c.line, name...)
	c.line = append(c.line, ' ')
	c.line = strconv.AppendFloat(c.line, float64(now.Sub(c.last).Nanoseconds())/1e6, 'f', 3, 64)
	c.line = append(c.line, " ms"...)
	c.last = now
}

// String is the line: every phase marked, in order.
func (c *phaseClock) String() string { return string(c.line) }
