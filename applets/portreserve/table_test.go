package portreserve

import (
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"portreserve/internal/config"
	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// fakeHolder stands in for the sockets: it hands out real descriptors
// (unbound unix sockets, each with an inode of its own, so that close works
// and stillOpen can tell a closed one from its number reused) and fails
// the ports it is told to.
type fakeHolder struct {
	t     *testing.T
	fail  map[uint16]syscall.Errno
	open  map[int]string // fd -> "port/proto"
	inode map[int]uint64 // fd -> its socket's inode
	binds int
}

func newFake(t *testing.T) *fakeHolder {
	return &fakeHolder{t: t, fail: map[uint16]syscall.Errno{}, open: map[int]string{}, inode: map[int]uint64{}}
}

func (f *fakeHolder) hold(e inetaddr.Endpoint) (int, error) {
	if errno, ok := f.fail[e.Port]; ok {
		return -1, errno
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	f.binds++
	f.open[fd] = strconv.Itoa(int(e.Port)) + "/" + e.Proto.String()
	f.inode[fd] = st.Ino
	return fd, nil
}

// stillOpen counts the descriptors it handed out that are still open.
func (f *fakeHolder) stillOpen() int {
	n := 0
	for fd, ino := range f.inode {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Ino == ino {
			n++
		}
	}
	return n
}

// cfg builds a configuration: each name with its (port, proto) pairs.
func cfg(names ...any) *config.Config {
	c := &config.Config{}
	for i := 0; i < len(names); i += 2 {
		name := names[i].(string)
		c.Files = append(c.Files, config.File{Name: name, Path: "/etc/portreserve/" + name})
		for j, pp := range names[i+1].([]int) {
			proto := inetaddr.TCP
			if pp < 0 {
				pp, proto = -pp, inetaddr.UDP
			}
			c.Reservations = append(c.Reservations, config.Reservation{Name: name, Endpoint: inetaddr.Endpoint{Port: uint16(pp), Proto: proto}, File: "/etc/portreserve/" + name, Line: j + 1})
		}
	}
	return c
}

// states lists "name port/proto state" for every entry.
func states(tab *table) []string {
	var out []string
	for _, e := range tab.entries {
		out = append(out, e.name+" "+strconv.Itoa(int(e.port))+"/"+e.proto.String()+" "+e.state.String())
	}
	return out
}

func TestTableHoldAndRelease(t *testing.T) {
	f := newFake(t)
	tab := newTable(f.hold)
	f.fail[999] = unix.EADDRINUSE
	tab.load(cfg("cups", []int{631}, "ldap", []int{636, -636}, "bad", []int{999}))
	failed, _ := tab.bindAll()
	if len(failed) != 1 || failed[0].port != 999 || failed[0].errno != unix.EADDRINUSE {
		t.Fatalf("bindAll failed = %v; want 999 with EADDRINUSE", failed)
	}
	want := []string{"cups 631/tcp held", "ldap 636/tcp held", "ldap 636/udp held", "bad 999/tcp failed"}
	if got := states(tab); !reflect.DeepEqual(got, want) {
		t.Errorf("states = %q; want %q", got, want)
	}
	if tab.held() != 3 {
		t.Errorf("held() = %d; want 3", tab.held())
	}
	known, closed, total := tab.release("ldap")
	if !known || closed != 2 || total != 2 {
		t.Errorf("release(ldap) = %v, %d, %d; want true, 2, 2", known, closed, total)
	}
	if known, _, _ := tab.release("nosuch"); known {
		t.Errorf("release(nosuch) known = true; want false")
	}
	if known, closed, _ := tab.release("ldap"); !known || closed != 0 {
		t.Errorf("release(ldap) again = %v, %d; want true, 0", known, closed)
	}
	if known, closed, _ := tab.release("bad"); !known || closed != 0 {
		t.Errorf("release(bad) = %v, %d; want known, nothing closed", known, closed)
	}
	if tab.held() != 1 {
		t.Errorf("held() = %d; want 1", tab.held())
	}
	if n := tab.releaseAll(); n != 1 {
		t.Errorf("releaseAll() = %d names; want 1 (cups)", n)
	}
	if tab.held() != 0 {
		t.Errorf("held() after releaseAll = %d; want 0", tab.held())
	}
}

func TestTableSharedPort(t *testing.T) {
	f := newFake(t)
	tab := newTable(f.hold)
	tab.load(cfg("cups", []int{631}, "imap", []int{631, 993}))
	tab.bindAll()
	if f.binds != 2 || tab.held() != 2 {
		t.Fatalf("binds = %d, held = %d; want 631 bound once, 993 once", f.binds, tab.held())
	}
	// Releasing either name frees the shared port.
	if _, closed, _ := tab.release("imap"); closed != 2 {
		t.Errorf("release(imap) closed %d; want 2", closed)
	}
	want := []string{"cups 631/tcp released", "imap 631/tcp released", "imap 993/tcp released"}
	if got := states(tab); !reflect.DeepEqual(got, want) {
		t.Errorf("states = %q; want %q", got, want)
	}
	if tab.held() != 0 {
		t.Errorf("held() = %d; want 0", tab.held())
	}
}

func TestTableReload(t *testing.T) {
	f := newFake(t)
	tab := newTable(f.hold)
	f.fail[700] = unix.EADDRINUSE
	tab.load(cfg("a", []int{600, 601}, "b", []int{602}, "c", []int{603}, "d", []int{700}))
	tab.bindAll()
	tab.release("b")
	delete(f.fail, 700)
	gen := tab.gen
	// a drops 601 and gains 604; b (released) lists a new port; c's file
	// is gone; e is new; d's failed port is tried again.
	tab.load(cfg("a", []int{600, 604}, "b", []int{602, 605}, "d", []int{700}, "e", []int{606}))
	tab.bindAll()
	want := []string{
		"a 600/tcp held", "a 604/tcp held",
		"b 602/tcp released",
		"d 700/tcp held",
		"e 606/tcp held",
		"c 603/tcp released",
	}
	if got := states(tab); !reflect.DeepEqual(got, want) {
		t.Errorf("states after reload = %q; want %q", got, want)
	}
	if tab.held() != 4 {
		t.Errorf("held() = %d; want 4 (600, 604, 700, 606)", tab.held())
	}
	if released := tab.releasedNames(); !reflect.DeepEqual(released, map[string]bool{"b": true, "c": true}) {
		t.Errorf("releasedNames() = %v; want b and c", released)
	}
	if tab.gen == gen {
		t.Errorf("generation unchanged by a reload")
	}
	// 600 stays the socket it was: not bound twice.
	if f.binds != 7 { // 600 601 602 603, then 604 700 606
		t.Errorf("binds = %d; want 7", f.binds)
	}
}

func TestTablePage(t *testing.T) {
	f := newFake(t)
	tab := newTable(f.hold)
	var ports []int
	for p := 1000; p < 1070; p++ {
		ports = append(ports, p)
	}
	tab.load(cfg("range", ports))
	tab.bindAll()
	var all []ipc.Entry
	for start := uint32(0); ; start += ipc.PageEntries {
		page := tab.page(start)
		if len(page) == 0 {
			break
		}
		if len(page) > ipc.PageEntries {
			t.Fatalf("page(%d) has %d entries; want at most %d", start, len(page), ipc.PageEntries)
		}
		all = append(all, page...)
	}
	if len(all) != 70 || all[69].Port != 1069 || all[0].State != ipc.Held {
		t.Errorf("pages gave %d entries, last %+v; want 70 ending with 1069", len(all), all[len(all)-1])
	}
}

// TestTableHandoffRollback: a hand-off that does not reach the client is undone
// whole: every state as before (a kept name stays kept, a name sharing the
// port is held again), the socket back in the table, the name not
// released.
func TestTableHandoffRollback(t *testing.T) {
	f := newFake(t)
	tab := newTable(f.hold)
	tab.load(cfg("a", []int{1000, 1001}, "b", []int{1000}, "k", []int{2000}))
	tab.bindAll()
	if h, known := tab.beginHandoff("k", true); !known { // k: kept by an earlier hand-off
		t.Fatal("beginHandoff(k) unknown")
	} else {
		h.Commit()
	}
	states := func() map[string]ipc.State {
		m := map[string]ipc.State{}
		for _, e := range tab.entries {
			m[e.name+" "+strconv.Itoa(int(e.port))] = e.state
		}
		return m
	}
	before, held := states(), tab.held()
	for _, keep := range []bool{false, true} {
		for _, name := range []string{"a", "k"} {
			h, _ := tab.beginHandoff(name, keep)
			h.Rollback()
			if got := states(); !reflect.DeepEqual(got, before) || tab.held() != held || tab.releasedNames()[name] {
				t.Errorf("beginHandoff(%s, keep %v) then Rollback: states %v, %d held, released %v; want %v, %d, false",
					name, keep, got, tab.held(), tab.releasedNames()[name], before, held)
			}
		}
	}
}

// TestEntrySize: a daemon keeps an entry per reserved port for its
// lifetime, so an entry stays three words, its configuration line shared.
func TestEntrySize(t *testing.T) {
	if got, want := unsafe.Sizeof(entry{}), 3*unsafe.Sizeof(uintptr(0)); got > want {
		t.Errorf("unsafe.Sizeof(entry{}) = %d; want at most %d", got, want)
	}
	cfg := &config.Config{}
	for p := uint16(1000); p < 1010; p++ {
		cfg.Reservations = append(cfg.Reservations, config.Reservation{Name: "r", Endpoint: inetaddr.Endpoint{Port: p, Proto: inetaddr.TCP}, File: "/etc/portreserve/r", Line: 1})
	}
	tab := newTable(func(inetaddr.Endpoint) (int, error) { return -1, nil })
	tab.load(cfg)
	for _, e := range tab.entries[1:] {
		if e.origin != tab.entries[0].origin {
			t.Fatalf("entries of one line have origins %p and %p; want one shared", e.origin, tab.entries[0].origin)
		}
	}
}

// TestTableAddresses: a port on two addresses is two sockets, each name's
// own; releasing one name closes its socket only.
func TestTableAddresses(t *testing.T) {
	f := newFake(t)
	tab := newTable(f.hold)
	c := &config.Config{Reservations: []config.Reservation{
		{Name: "lo4", Endpoint: inetaddr.Endpoint{Addr: inetaddr.Loopback4, Port: 631, Proto: inetaddr.TCP}, File: "f", Line: 1},
		{Name: "lo6", Endpoint: inetaddr.Endpoint{Addr: inetaddr.Loopback6, Port: 631, Proto: inetaddr.TCP}, File: "g", Line: 1},
		{Name: "any", Endpoint: inetaddr.Endpoint{Port: 7000, Proto: inetaddr.TCP}, File: "h", Line: 1},
	}}
	tab.load(c)
	if failed, _ := tab.bindAll(); len(failed) != 0 || tab.held() != 3 {
		t.Fatalf("bindAll = %v failed, %d held; want none failed, 3 held", failed, tab.held())
	}
	if known, closed, _ := tab.release("lo4"); !known || closed != 1 {
		t.Fatalf("release(lo4) = %v, %d closed; want 1", known, closed)
	}
	want := []string{"lo4 631/tcp released", "lo6 631/tcp held", "any 7000/tcp held"}
	if got := states(tab); !reflect.DeepEqual(got, want) || tab.held() != 2 {
		t.Errorf("after release(lo4): states = %q, %d held; want %q, 2 held", got, tab.held(), want)
	}
	if page := tab.page(0); len(page) != 3 || page[1].Addr != inetaddr.Loopback6 || page[2].Addr != inetaddr.Any {
		t.Errorf("page(0) = %+v; want the entries' addresses", page)
	}
}

// TestTableAbsent: an address a host name gave that the system lacks is
// absent, not failed, and reported once, not at every later pass; the same
// written out is a failure.
func TestTableAbsent(t *testing.T) {
	f := newFake(t)
	f.fail[631] = unix.EADDRNOTAVAIL
	f.fail[632] = unix.EADDRNOTAVAIL
	tab := newTable(f.hold)
	tab.load(&config.Config{Reservations: []config.Reservation{
		{Name: "named", Endpoint: inetaddr.Endpoint{Addr: inetaddr.Loopback6, Port: 631, Proto: inetaddr.TCP}, Named: true, File: "f", Line: 1},
		{Name: "literal", Endpoint: inetaddr.Endpoint{Addr: inetaddr.Loopback6, Port: 632, Proto: inetaddr.TCP}, File: "g", Line: 1},
	}})
	failed, absent := tab.bindAll()
	if len(failed) != 1 || failed[0].name != "literal" || len(absent) != 1 || absent[0].name != "named" {
		t.Fatalf("bindAll = failed %v, absent %v; want literal failed, named absent", failed, absent)
	}
	if _, absent = tab.bindAll(); len(absent) != 0 {
		t.Errorf("second bindAll: absent %v again; want it reported once", absent)
	}
	want := []string{"named 631/tcp absent", "literal 632/tcp failed"}
	if got := states(tab); !reflect.DeepEqual(got, want) {
		t.Errorf("states = %q; want %q", got, want)
	}
}
