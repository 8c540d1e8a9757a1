package portreserve

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"portreserve/applets"
	"portreserve/ipc"
)

// testDaemon is a daemon with the fake holder's table, logging to a
// buffer, as newDaemon makes it, without sockets or a pidfile.
func testDaemon(t *testing.T) (*daemon, *bytes.Buffer) {
	var log bytes.Buffer
	d := newDaemon(options{}, -1, &applets.Env{Stderr: &log})
	d.tab = newTable(newFake(t).hold)
	return d, &log
}

// request returns the datagram a client sends for req, as uid, with a
// reply channel whose other end is returned.
func request(t *testing.T, req ipc.Request, uid uint32) (*ipc.Datagram, int) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(pair[1]) })
	return &ipc.Datagram{Data: req.Marshal(), Cred: &unix.Ucred{Pid: 1, Uid: uid}, Reply: pair[0]}, pair[1]
}

// TestListStartFromTheWire: the start index of a list request comes from
// anyone; from 2^31 on it is negative as an int on 32-bit builds (armv7,
// 386, mipsle), where converting it first crashed the daemon with an index
// out of range. make cross-test runs this on those builds under qemu-user.
func TestListStartFromTheWire(t *testing.T) {
	d, _ := testDaemon(t)
	var ports []int
	for p := 1000; p < 1070; p++ {
		ports = append(ports, p)
	}
	d.tab.load(cfg("range", ports))
	d.tab.bindAll()
	for _, tt := range []struct {
		start uint32
		count int
	}{{0, ipc.PageEntries}, {64, 6}, {70, 0}, {1 << 31, 0}, {1<<31 + 5, 0}, {1<<32 - 1, 0}} {
		dg, _ := request(t, ipc.Request{Op: ipc.OpList, Arg: tt.start}, 65534)
		r, send := d.handle(dg)
		if !send || r.Status != ipc.StatusOK || len(r.Entries) != tt.count || r.Count != uint32(tt.count) || r.Total != 70 {
			t.Errorf("list from %d: reply %+v; want %d entries of 70", tt.start, r, tt.count)
		}
		dg.Done()
	}
}

// TestRequestWithoutChannel: a request that came without a reply channel
// cannot be answered and is not acted on; the log says why, within the
// limit.
func TestRequestWithoutChannel(t *testing.T) {
	d, log := testDaemon(t)
	d.tab.load(cfg("cups", []int{631}))
	d.tab.bindAll()
	for i := 0; i < 100; i++ {
		dg := &ipc.Datagram{Data: (&ipc.Request{Op: ipc.OpRelease, Name: "cups"}).Marshal(), Cred: &unix.Ucred{Pid: 1, Uid: 0}, Reply: -1}
		if r, send := d.handle(dg); send {
			t.Fatalf("handle(release without a channel) = %+v; want no reply", r)
		}
	}
	if d.tab.held() != 1 {
		t.Errorf("held %d after a release without a reply channel; want 1 (not acted on)", d.tab.held())
	}
	if n := strings.Count(log.String(), "release cups from pid 1 uid 0 ignored: no reply channel passed"); n != adminPerSecond {
		t.Errorf("log has %d lines about the ignored request; want %d (the limit)\n%s", n, adminPerSecond, log)
	}
}

// TestRefusalsAllocateNothing: another user's refused requests (with and
// without a reply channel), legacy names, and malformed datagrams of
// every kind cost the daemon no allocation, answer included, once the
// log limit is reached: 20,000 of them took its RssAnon from 800 kB to
// 5.8 MB, for good, when each allocated.
func TestRefusalsAllocateNothing(t *testing.T) {
	d, _ := testDaemon(t)
	d.tab.load(cfg("cups", []int{631}))
	d.tab.bindAll()
	valid := func(op ipc.Op, name string) []byte { return (&ipc.Request{Op: op, Name: name}).Marshal() }
	badVersion := valid(ipc.OpList, "")
	badVersion[4] = 99
	badFlags := valid(ipc.OpList, "")
	badFlags[7] = 1
	for _, tt := range []struct {
		what      string
		data      []byte
		truncated bool
		channel   bool
	}{
		{"release", valid(ipc.OpRelease, "cups"), false, true},
		{"release without a channel", valid(ipc.OpRelease, "cups"), false, false},
		{"hold again", valid(ipc.OpHold, "cups"), false, true},
		{"hand-off", valid(ipc.OpHandoff, "cups"), false, true},
		{"reload", valid(ipc.OpReload, ""), false, true},
		{"release all", valid(ipc.OpReleaseAll, ""), false, true},
		{"legacy name", []byte("cups\n"), false, false},
		{"legacy all", []byte("*"), false, true},
		{"garbage", []byte("\x01\x02garbage\xff"), false, true},
		{"short", []byte(ipc.Magic + "\x02"), false, true},
		{"truncated", append(valid(ipc.OpList, ""), 0), true, true},
		{"bad version", badVersion, false, true},
		{"bad flags", badFlags, false, true},
		{"bad op", valid(ipc.Op(99), ""), false, true},
		{"bad name", valid(ipc.OpRelease, "a/b"), false, true},
	} {
		cred := &unix.Ucred{Pid: 1, Uid: 65534}
		out := make([]byte, 0, ipc.ReplyHeaderSize)
		once := func() {
			dg := ipc.Datagram{Data: tt.data, Truncated: tt.truncated, Cred: cred, Reply: -1}
			var pair [2]int
			if tt.channel {
				pair, _ = unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
				dg.Reply = pair[0]
			}
			reply, send := d.handle(&dg)
			out = d.answer(&dg, &reply, send, out)
			if tt.channel {
				unix.Close(pair[1])
			}
		}
		for i := 0; i < 2*othersPerSecond; i++ {
			once() // past the log limit
		}
		if n := testing.AllocsPerRun(1000, once); n != 0 {
			t.Errorf("%s from uid 65534: %v allocations; want 0", tt.what, n)
		}
	}
	if d.tab.held() != 1 {
		t.Errorf("held %d after the refusals; want 1", d.tab.held())
	}
}
