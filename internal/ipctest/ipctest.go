// Package ipctest is a stand-in for the portreserve daemon's control
// socket, for the unit tests of its clients (portrelease,
// portreserve-check, portreserve NAME): it speaks the protocol through
// package ipc and answers each request with what the test says. The
// integration tests run the real daemon.
package ipctest

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/ipc"
)

// Reply is one datagram of an answer, with the descriptors it carries.
type Reply struct {
	ipc.Reply
	Fds []int
}

// Answer returns the replies to req. Each reply gets the request's
// operation and id unless it sets its own. With none, the request stays
// unanswered and its reply channel open until the test ends, as with a
// daemon that hangs.
type Answer func(req ipc.Request) []Reply

// Daemon is a stand-in daemon serving a socket in a temporary directory.
type Daemon struct {
	// Path is the socket's path, for the clients' -s option.
	Path string

	mu       sync.Mutex
	requests []ipc.Request
}

// Start serves a socket in a new temporary directory until the test ends.
func Start(t *testing.T, answer Answer) *Daemon {
	t.Helper()
	d := &Daemon{Path: filepath.Join(t.TempDir(), "socket")}
	fd, err := ipc.Listen(d.Path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var kept []int // reply channels of requests left unanswered
	go func() {
		defer close(done)
		rc := ipc.NewReceiver(fd)
		for {
			var dg ipc.Datagram
			err := rc.Receive(&dg, 0)
			if err != nil || (len(dg.Data) == 0 && dg.Cred == nil) {
				return // shut down
			}
			req, err := ipc.ParseDatagram(dg.Data, dg.Truncated)
			if err != nil {
				t.Errorf("stand-in daemon: ParseDatagram(%x) = %v", dg.Data, err)
				dg.Done()
				continue
			}
			d.mu.Lock()
			d.requests = append(d.requests, req)
			d.mu.Unlock()
			if dg.Reply < 0 {
				t.Errorf("stand-in daemon: %v request without a reply channel: %s", req.Op, dg.ReplyProblem)
				continue
			}
			replies := answer(req)
			if len(replies) == 0 {
				kept = append(kept, dg.Reply)
				continue
			}
			passed := 0
			for _, r := range replies {
				if r.Op == 0 {
					r.Op = req.Op
				}
				if r.ID == 0 {
					r.ID = req.ID
				}
				if err := dg.Answer(r.Marshal(), r.Fds, time.Second); err != nil {
					t.Errorf("stand-in daemon: answer: %v", err)
				}
				passed += len(r.Fds)
			}
			// A hand-off ends with the client's confirmation.
			if passed > 0 {
				if err := dg.Confirmed(req.Name, passed, 5*time.Second); err != nil {
					t.Errorf("stand-in daemon: hand-off of %d sockets: %v", passed, err)
				}
			}
			dg.Done()
		}
	}()
	t.Cleanup(func() {
		// SHUT_RD wakes the blocked recvmsg; close alone would not.
		unix.Shutdown(fd, unix.SHUT_RD)
		<-done
		unix.Close(fd)
		for _, ch := range kept {
			unix.Close(ch)
		}
	})
	return d
}

// Requests returns the requests received so far.
func (d *Daemon) Requests() []ipc.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ipc.Request(nil), d.requests...)
}

// OK answers every request with StatusOK.
func OK(ipc.Request) []Reply { return []Reply{{}} }

// Status answers every request with status s.
func Status(s ipc.Status) Answer {
	return func(ipc.Request) []Reply { return []Reply{{Reply: ipc.Reply{Status: s}}} }
}

// List answers list requests with entries, a page at a time, and every
// other request with StatusOK.
func List(entries []ipc.Entry) Answer {
	return func(req ipc.Request) []Reply {
		if req.Op != ipc.OpList {
			return OK(req)
		}
		start := min(int(req.Arg), len(entries))
		page := entries[start:min(start+ipc.PageEntries, len(entries))]
		return []Reply{{Reply: ipc.Reply{Count: uint32(len(page)), Total: uint32(len(entries)), Entries: page}}}
	}
}
