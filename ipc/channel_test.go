package ipc

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFromDaemon(t *testing.T) {
	c := &Conn{path: "/run/portreserve/socket", owner: 1000}
	for _, tt := range []struct {
		cred *unix.Ucred
		ok   bool
	}{
		{&unix.Ucred{Pid: 1, Uid: 0}, true},
		{&unix.Ucred{Pid: 1, Uid: 1000}, true},
		{&unix.Ucred{Pid: 1, Uid: 65534}, false},
		{nil, false},
	} {
		if err := c.fromDaemon(tt.cred); (err == nil) != tt.ok {
			t.Errorf("fromDaemon(%+v) with the socket owned by 1000 = %v; want ok %v", tt.cred, err, tt.ok)
		}
	}
}

// receiveOne sends data to the listening socket at path with the given
// descriptors passed along, and returns what Receive made of it.
func receiveOne(t *testing.T, lfd int, path string, data []byte, fds ...int) Datagram {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fd, data, oob, &unix.SockaddrUnix{Name: path}, 0); err != nil {
		t.Fatal(err)
	}
	// The receiver has its own copies now, as with a real client.
	for _, fd := range fds {
		unix.Close(fd)
	}
	var dg Datagram
	if err := NewReceiver(lfd).Receive(&dg, 0); err != nil {
		t.Fatal(err)
	}
	return dg
}

func TestReceiveReplyChannel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socket")
	lfd, err := Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	req := (&Request{Op: OpList}).Marshal()
	// mine is the client's end of the last socket pair made.
	var mine int
	pairOf := func(typ int) int {
		pair, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		mine = pair[0]
		t.Cleanup(func() { unix.Close(pair[0]) })
		return pair[1]
	}
	lone := func() int {
		fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		return fd
	}
	null := func() int {
		fd, _ := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return fd
	}
	for _, tt := range []struct {
		desc    string
		fds     func() []int
		channel bool
		problem string
	}{
		{"none", func() []int { return nil }, false, ""},
		{"a socket pair's end", func() []int { return []int{pairOf(unix.SOCK_SEQPACKET)} }, true, ""},
		{"a datagram socket", func() []int { return []int{pairOf(unix.SOCK_DGRAM)} }, false, "the descriptor passed is not an AF_UNIX SOCK_SEQPACKET socket"},
		{"a file", func() []int { return []int{null()} }, false, "the descriptor passed is not an AF_UNIX SOCK_SEQPACKET socket"},
		{"an unconnected socket", func() []int { return []int{lone()} }, false, "the socket passed is not connected"},
		{"two", func() []int { return []int{pairOf(unix.SOCK_SEQPACKET), lone()} }, false, "more than one descriptor passed"},
	} {
		dg := receiveOne(t, lfd, path, req, tt.fds()...)
		if (dg.Reply >= 0) != tt.channel || dg.ReplyProblem != tt.problem || dg.Cred == nil || dg.Cred.Pid != int32(os.Getpid()) {
			t.Errorf("Receive(%s) = reply %d, problem %q, cred %+v; want a channel %v, problem %q, this process's credentials",
				tt.desc, dg.Reply, dg.ReplyProblem, dg.Cred, tt.channel, tt.problem)
		}
		if tt.channel {
			reply := (&Reply{Op: OpList, Total: 3}).Marshal()
			if err := dg.Answer(reply, nil, 0); err != nil {
				t.Errorf("Answer: %v", err)
			}
			dg.Done()
			buf := make([]byte, MaxReplySize)
			if n, _ := unix.Read(mine, buf); n != len(reply) {
				t.Errorf("the client read %d bytes; want the %d of the reply", n, len(reply))
			}
			if n, err := unix.Read(mine, buf); n != 0 || err != nil {
				t.Errorf("after Done the client read %d, %v; want end of file", n, err)
			}
		}
		dg.Done()
	}
}

// TestAnswerUnread: a client that does not read loses replies once its
// channel is full; the daemon is never blocked.
func TestAnswerUnread(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	dg := Datagram{Reply: pair[1]}
	defer dg.Done()
	reply := (&Reply{Op: OpList, Entries: make([]Entry, PageEntries), Count: PageEntries}).Marshal()
	var err2 error
	for i := 0; i < 10000 && err2 == nil; i++ {
		err2 = dg.Answer(reply, nil, 0)
	}
	if err2 != unix.EAGAIN {
		t.Errorf("Answer to a channel nobody reads, 10,000 times = %v; want EAGAIN once it is full", err2)
	}
	if err := dg.Answer(reply, nil, 100*time.Millisecond); err != unix.EAGAIN {
		t.Errorf("Answer with a wait to a full channel = %v; want EAGAIN after the wait", err)
	}
}

// TestReceiveAllocatesNothing: receiving a datagram allocates nothing,
// whatever comes with it: no descriptor, one refused (a pipe), three
// (one more than there is room for), or a reply channel.
func TestReceiveAllocatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socket")
	lfd, err := Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	var pipe [2]int
	unix.Pipe2(pipe[:], unix.O_CLOEXEC)
	pair, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	defer closeAll(append(pipe[:], pair[:]...))
	rc := NewReceiver(lfd)
	data := (&Request{Op: OpList}).Marshal()
	for _, tt := range []struct {
		what string
		oob  []byte
	}{
		{"no descriptor", nil},
		{"a pipe", unix.UnixRights(pipe[0])},
		{"three descriptors", unix.UnixRights(pipe[0], pipe[1], pair[1])},
		{"a reply channel", unix.UnixRights(pair[1])},
	} {
		var dg Datagram
		once := func() {
			if err := unix.Sendmsg(fd, data, tt.oob, nil, 0); err != nil {
				t.Fatal(err)
			}
			if err := rc.Receive(&dg, 0); err != nil {
				t.Fatal(err)
			}
			dg.Done()
		}
		if n := testing.AllocsPerRun(1000, once); n != 0 {
			t.Errorf("Receive with %s: %v allocations; want 0", tt.what, n)
		}
		if dg.Cred == nil || int(dg.Cred.Pid) != os.Getpid() {
			t.Errorf("Receive with %s: credentials %+v; want this process's", tt.what, dg.Cred)
		}
	}
}

// TestChannelRefused: a daemon that receives a request without its reply
// channel (the kernel dropped it: here, no room for it; under SELinux, a
// denial) and goes on serving gives the client ErrChannelRefused at once,
// not a timeout; once the socket is gone, ErrNoDaemon.
func TestChannelRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socket")
	lfd, err := Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	got := make(chan int, 1)
	go func() {
		// No room for descriptors: the kernel closes the channel and
		// flags the datagram, as when a security module refuses it.
		buf := make([]byte, RequestSize+1)
		_, _, flags, _, err := unix.Recvmsg(lfd, buf, nil, 0)
		if err != nil {
			flags = -1
		}
		got <- flags
	}()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Do(Request{Op: OpList}, 5*time.Second)
	if err != ErrChannelRefused {
		t.Errorf("Do with the channel dropped by the kernel = %v; want ErrChannelRefused", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ErrChannelRefused came after %v; want it at once, not at the deadline", d)
	}
	if flags := <-got; flags < 0 || flags&unix.MSG_CTRUNC == 0 {
		t.Errorf("the server's recvmsg flags = %#x; want MSG_CTRUNC", flags)
	}

	// A daemon on its way out has removed its socket file and closes
	// what is queued: no daemon.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, RequestSize+1)
		unix.Recvmsg(lfd, buf, nil, 0)
	}()
	_, err = c.Do(Request{Op: OpList}, 5*time.Second)
	if err != ErrNoDaemon {
		t.Errorf("Do with the channel dropped and the socket file removed = %v; want ErrNoDaemon", err)
	}
}

// TestListenMode: the socket file has its mode, whatever the umask, and
// Listen leaves the umask as it was.
func TestListenMode(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	for _, mode := range []uint32{0o666, 0o600} {
		path := filepath.Join(t.TempDir(), "socket")
		fd, err := Listen(path, mode)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		if got := st.Mode & 0o777; got != mode {
			t.Errorf("Listen(%q, %#o): the file's mode is %#o", path, mode, got)
		}
		if now := unix.Umask(0o077); now != 0o077 {
			t.Errorf("after Listen the umask is %#o; want 0o77", now)
		}
	}
}
