package logger

import (
	"strconv"
	"sync"
	"time"
)

// Limiter passes at most Max messages per Window to its Logger and counts
// the rest. The count is logged, with the limiter's description, when the
// window in which messages were held back ends ("120 more messages about
// requests from other users not logged"): a flood costs at most Max+1
// lines a window, and the log still says how big it was. Lines that any
// local user can trigger go through one, so that nobody can fill the disk
// through the daemon. Idle, a Limiter has no timer running.
type Limiter struct {
	Log    *Logger
	What   string // "messages about requests from other users"
	Max    int
	Window time.Duration

	mu     sync.Mutex
	start  time.Time // of the current window
	passed int       // messages logged in it
	held   int       // messages held back in it
	timer  *time.Timer
}

// Warn logs msg at LOG_WARNING, within the limit.
func (r *Limiter) Warn(msg string) { r.Logf(Warning, msg) }

// Info logs msg at LOG_INFO, within the limit.
func (r *Limiter) Info(msg string) { r.Logf(Info, msg) }

// Logf logs msg with the given severity, or counts it when the window's
// share is used up.
func (r *Limiter) Logf(severity int, msg string) {
	if r.Allow(severity) {
		r.Log.Log(severity, msg)
	}
}

// Allow counts a message of the given severity and reports whether it may
// be logged now, for a caller that builds the message only then (a flood
// of refusals then costs no allocation at all).
func (r *Limiter) Allow(severity int) bool {
	if severity == Debug && !r.Log.Verbose {
		return false
	}
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.start) >= r.Window {
		r.flushLocked()
		r.start, r.passed = now, 0
	}
	if r.passed >= r.Max {
		if r.held == 0 {
			// Report the count when the window ends, even if the
			// flood stops now.
			r.timer = time.AfterFunc(r.Window-now.Sub(r.start), r.flush)
		}
		r.held++
		r.mu.Unlock()
		return false
	}
	r.passed++
	r.mu.Unlock()
	return true
}

// flush logs how many messages were held back, if any.
func (r *Limiter) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushLocked()
}

func (r *Limiter) flushLocked() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if r.held > 0 {
		r.Log.Log(Warning, strconv.Itoa(r.held)+" more "+r.What+" not logged")
		r.held = 0
	}
}
