// Command hostile plays another local user against a running daemon, as
// the integration tests run it (as uid 65534): hostile MODE ARGS... It
// prints one line once its attack is in place (or its results), and some
// modes stay until they are killed, keeping everything open.
//
//	hostile unread SOCKET
//	hostile flood SOCKET reader|silent DURATION
//	hostile foreign-channel SOCKET LISTENER
//	hostile reuse-listen PORT
//	hostile partial-handoff SOCKET NAME PAGES
//	hostile forge SOCKET
//	hostile release-all SOCKET
//	hostile linger SOCKET refused|extra|queued
//	hostile random SOCKET COUNT
//	hostile fuse SOCKET MOUNTPOINT
package main

import (
	"crypto/rand"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/integration/internal/rawsock"
	"portreserve/ipc"
)

func main() {
	if len(os.Args) < 3 {
		os.Stdout.WriteString("usage: hostile MODE ARGS...\n")
		os.Exit(2)
	}
	os.Exit(hostile(os.Args[1:]))
}

// hostile runs one mode.
func hostile(args []string) int {
	switch args[0] {
	case "unread":
		return hostileUnread(args[1])
	case "flood":
		d, _ := time.ParseDuration(args[3])
		return hostileFlood(args[1], args[2] == "reader", d)
	case "foreign-channel":
		return hostileForeignChannel(args[1], args[2])
	case "reuse-listen":
		return reuseListen(args[1])
	case "forge":
		return forge(args[1])
	case "release-all":
		return releaseAll(args[1])
	case "linger":
		return linger(args[1], args[2])
	case "fuse":
		return fuseFile(args[1], args[2])
	case "random":
		n, _ := strconv.Atoi(args[2])
		return random(args[1], n)
	case "partial-handoff":
		pages, _ := strconv.Atoi(args[3])
		return partialHandoff(args[1], args[2], pages)
	}
	os.Stdout.WriteString("unknown mode " + args[0] + "\n")
	return 2
}

// hostileUnread leaves replies unread: 2,000 list requests on one
// connected socket, all with one reply channel, then 50 sockets with 12
// requests each, each with a channel of its own; it reads nothing, keeps
// everything open, and says "sent N" once the requests are out.
func hostileUnread(sock string) int {
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	rl.Cur = rl.Max
	unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	list := (&ipc.Request{Op: ipc.OpList}).Marshal()
	sent := 0
	var firstErr error
	note := func(err error) {
		if err == nil {
			sent++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	fd, err := rawsock.DialAutobound(sock)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error() + "\n")
		return 1
	}
	_, theirs, err := rawsock.Channel() // its reading end stays open, unread
	if err != nil {
		os.Stdout.WriteString("socketpair: " + err.Error() + "\n")
		return 1
	}
	for i := 0; i < 2000; i++ {
		note(rawsock.Sendmsg(fd, list, theirs))
	}
	for s := 0; s < 50; s++ {
		fd, err := rawsock.DialAutobound(sock)
		if err != nil {
			note(err)
			continue
		}
		for i := 0; i < 12; i++ {
			_, theirs, err := rawsock.Channel()
			if err == nil {
				err = rawsock.Sendmsg(fd, list, theirs)
			}
			note(err)
		}
	}
	if firstErr != nil {
		os.Stdout.WriteString("sent " + strconv.Itoa(sent) + ", first error: " + firstErr.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString("sent " + strconv.Itoa(sent) + "\n")
	waitForKill()
	return 0
}

// waitForKill keeps the process, and everything it has open, until the
// test kills it.
func waitForKill() {
	for {
		time.Sleep(time.Hour)
	}
}

// hostileFlood sends, until d has passed, a mix of valid list requests,
// refused state-changing requests, legacy names, malformed datagrams and
// requests whose channel is not a socket pair, as fast as it can; a reader
// reads its replies, the other never does. It says "flooding" first and
// "sent N" at the end.
func hostileFlood(sock string, reader bool, d time.Duration) int {
	fd, err := rawsock.DialAutobound(sock)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString("flooding\n")
	junk := make([]byte, 300)
	buf := make([]byte, ipc.MaxReplySize)
	kept := 0
	sent := 0
	for end := time.Now().Add(d); time.Now().Before(end); sent++ {
		var data []byte
		switch sent % 6 {
		case 0:
			data = (&ipc.Request{Op: ipc.OpList, Arg: uint32(sent)}).Marshal()
		case 1:
			data = (&ipc.Request{Op: ipc.OpRelease, Name: "n1"}).Marshal()
		case 2:
			data = []byte("*")
		case 3:
			rand.Read(junk)
			data = junk[:sent%len(junk)]
		case 4:
			data = (&ipc.Request{Op: ipc.Op(99), ID: uint32(sent)}).Marshal()
		case 5:
			data = (&ipc.Request{Op: ipc.OpReleaseAll}).Marshal()
		}
		if sent%12 == 11 {
			// A request with no channel at all.
			rawsock.Sendmsg(fd, data)
			continue
		}
		mine, theirs, err := rawsock.Channel()
		if err != nil {
			continue
		}
		rawsock.Sendmsg(fd, data, theirs)
		unix.Close(theirs)
		if reader {
			tv := unix.NsecToTimeval(int64(time.Second))
			unix.SetsockoptTimeval(mine, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
			for {
				if n, err := unix.Read(mine, buf); err != nil || n == 0 {
					break
				}
			}
			unix.Close(mine)
		} else if kept < 500 {
			kept++ // never read, never closed
		} else {
			unix.Close(mine)
		}
	}
	os.Stdout.WriteString("sent " + strconv.Itoa(sent) + "\n")
	return 0
}

// hostileForeignChannel connects to root's SEQPACKET socket at listener
// and passes that connection as its reply channel with a list request: a
// daemon that took it would answer root's socket on this user's behalf.
func hostileForeignChannel(sock, listener string) int {
	conn, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		err = unix.Connect(conn, &unix.SockaddrUnix{Name: listener})
	}
	if err != nil {
		os.Stdout.WriteString("connect: " + err.Error() + "\n")
		return 1
	}
	fd, err := rawsock.DialAutobound(sock)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error() + "\n")
		return 1
	}
	err = rawsock.Sendmsg(fd, (&ipc.Request{Op: ipc.OpList}).Marshal(), conn)
	os.Stdout.WriteString("sent " + rawsock.ErrString(err) + "\n")
	waitForKill()
	return 0
}

// reuseListen tries what another user's server would do on port: set
// SO_REUSEADDR, bind, listen, on [::] (dual stack), 0.0.0.0 and
// 127.0.0.1, and prints one line each: "ADDR ok" or "ADDR bind: ERR" or
// "ADDR listen: ERR".
func reuseListen(port string) int {
	p, _ := strconv.Atoi(port)
	for _, addr := range []string{"[::]", "0.0.0.0", "127.0.0.1"} {
		family := unix.AF_INET
		var sa unix.Sockaddr = &unix.SockaddrInet4{Port: p}
		switch addr {
		case "[::]":
			family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: p}
		case "127.0.0.1":
			sa = &unix.SockaddrInet4{Port: p, Addr: [4]byte{127, 0, 0, 1}}
		}
		fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			os.Stdout.WriteString(addr + " socket: " + err.Error() + "\n")
			continue
		}
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if family == unix.AF_INET6 {
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		}
		if err := unix.Bind(fd, sa); err != nil {
			os.Stdout.WriteString(addr + " bind: " + err.Error() + "\n")
		} else if err := unix.Listen(fd, 1); err != nil {
			os.Stdout.WriteString(addr + " listen: " + err.Error() + "\n")
		} else {
			os.Stdout.WriteString(addr + " ok\n")
		}
		unix.Close(fd)
	}
	return 0
}

// partialHandoff asks for name's sockets, takes pages of them, prints
// how many sockets it took, and dies by SIGKILL without confirming.
func partialHandoff(sock, name string, pages int) int {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: sock})
	}
	mine, theirs, err2 := rawsock.Channel()
	if err != nil || err2 != nil {
		os.Stdout.WriteString("dial: " + rawsock.ErrString(err) + rawsock.ErrString(err2) + "\n")
		return 1
	}
	if err := rawsock.Sendmsg(fd, (&ipc.Request{Op: ipc.OpHandoff, Name: name}).Marshal(), theirs); err != nil {
		os.Stdout.WriteString("send: " + err.Error() + "\n")
		return 1
	}
	unix.Close(theirs)
	buf := make([]byte, ipc.MaxReplySize)
	oob := make([]byte, unix.CmsgSpace(ipc.PageEntries*4)+unix.CmsgSpace(unix.SizeofUcred))
	took := 0
	for i := 0; i < pages; i++ {
		_, oobn, _, _, err := unix.Recvmsg(mine, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil {
			break
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for j := range msgs {
			if fds, err := unix.ParseUnixRights(&msgs[j]); err == nil {
				took += len(fds)
			}
		}
	}
	os.Stdout.WriteString("took " + strconv.Itoa(took) + " sockets\n")
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	return 1
}

// forge tries every state-changing request and a datagram with forged
// credentials; it reports, one line
// each, what the kernel and the daemon said.
func forge(sock string) int {
	var out strings.Builder
	// Claim to be root in the credentials: the kernel refuses to send.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid()), Uid: 0, Gid: 0})
		req := (&ipc.Request{Op: ipc.OpReleaseAll}).Marshal()
		err = unix.Sendmsg(fd, req, cred, &unix.SockaddrUnix{Name: sock}, 0)
		if err == unix.EPERM {
			out.WriteString("forge: EPERM\n")
		} else {
			out.WriteString("forge: " + rawsock.ErrString(err) + "\n")
		}
		unix.Close(fd)
	}
	c, err := ipc.Dial(sock)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error() + "\n")
		return 1
	}
	for _, req := range []ipc.Request{
		{Op: ipc.OpRelease, Name: "a"}, {Op: ipc.OpReleaseAll}, {Op: ipc.OpReload},
		{Op: ipc.OpHandoff, Name: "a"}, {Op: ipc.OpHold, Name: "b"},
	} {
		r, err := c.Do(req, 5*time.Second)
		if err != nil {
			out.WriteString(req.Op.String() + ": " + err.Error() + "\n")
			continue
		}
		out.WriteString(req.Op.String() + ": " + r.Status.String() + "\n")
	}
	if _, err := c.List(5 * time.Second); err == nil {
		out.WriteString("list: ok\n")
	} else {
		out.WriteString("list: " + err.Error() + "\n")
	}
	os.Stdout.WriteString(out.String())
	return 0
}

// releaseAll sends a legacy release of every name ("*") to the daemon at
// sock, then lists it and prints "N held" or the error: another user
// who tries the original protocol.
func releaseAll(sock string) int {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		os.Stdout.WriteString("socket: " + err.Error() + "\n")
		return 1
	}
	if err := unix.Sendto(fd, []byte("*"), 0, &unix.SockaddrUnix{Name: sock}); err != nil {
		os.Stdout.WriteString("legacy send: " + err.Error() + "\n")
		return 1
	}
	unix.Close(fd)
	c, err := ipc.Dial(sock)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error() + "\n")
		return 1
	}
	entries, err := c.List(5 * time.Second)
	if err != nil {
		os.Stdout.WriteString("list: " + err.Error() + "\n")
		return 1
	}
	held := 0
	for _, e := range entries {
		if e.State == ipc.Held {
			held++
		}
	}
	os.Stdout.WriteString(strconv.Itoa(held) + " held\n")
	return 0
}

// linger makes the daemon's close of a descriptor it sends block: a TCP
// connection on 127.0.0.1 with SO_LINGER set to 2^31-1 seconds and its
// send queue full of data that the peer (kept open here, never read)
// does not take, so that a close waits until the peer reads, which it
// never does. It sends the connection to the daemon one of three ways and
// drops its own reference, so that the daemon's close is the last:
//
//	refused  as the only descriptor of a list request: not a reply
//	         channel, the daemon refuses and closes it
//	extra    as the third of three descriptors: beyond the daemon's
//	         control buffer, the kernel drops it inside its recvmsg
//	queued   queued in a valid reply channel (a list request): closing
//	         the channel after the reply purges its queue
//
// Whose close is the last is a race, which this process wins by sending
// while the daemon's queue is full: another socket floods it with list
// requests, so that the send of the connection waits for room, its
// datagram (and the references to what it carries) already made; this
// process drops its own meanwhile. Should the send go through at once,
// it drops them after it, and if that close blocks (the daemon was
// quicker), it lets its peer read, so that the close ends, and tries
// again. It says "lingering" once the daemon has the last reference, then
// stays until killed.
func linger(sock, how string) int {
	fd, err := rawsock.DialAutobound(sock)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error() + "\n")
		return 1
	}
	flood, err := rawsock.DialAutobound(sock)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error() + "\n")
		return 1
	}
	list := (&ipc.Request{Op: ipc.OpList}).Marshal()
	var stop atomic.Bool
	go func() {
		for !stop.Load() {
			if mine, theirs, err := rawsock.Channel(); err == nil {
				rawsock.Sendmsg(flood, list, theirs)
				unix.Close(theirs)
				unix.Close(mine)
			}
		}
	}()
	defer stop.Store(true)
	time.Sleep(50 * time.Millisecond) // the queue fills
	for try := 0; try < 10; try++ {
		conn, peer, err := lingering()
		if err != nil {
			os.Stdout.WriteString("lingering connection: " + err.Error() + "\n")
			return 1
		}
		var refs []int // this process's references, the last one last
		var send func() error
		switch how {
		case "refused":
			refs = []int{conn}
			send = func() error { return rawsock.Sendmsg(fd, list, conn) }
		case "extra":
			a, _ := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			b, _ := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			refs = []int{a, b, conn}
			send = func() error { return rawsock.Sendmsg(fd, list, a, b, conn) }
		case "queued":
			mine, theirs, cerr := rawsock.Channel()
			if cerr != nil {
				os.Stdout.WriteString("socketpair: " + cerr.Error() + "\n")
				return 1
			}
			// Queued for the end the daemon gets: mine sends to theirs;
			// the queue holds a reference, so this close is not the last.
			if err := rawsock.Sendmsg(mine, []byte("x"), conn); err != nil {
				os.Stdout.WriteString("send: " + err.Error() + "\n")
				return 1
			}
			unix.Close(conn)
			refs = []int{theirs}
			send = func() error { return rawsock.Sendmsg(fd, list, theirs) }
		default:
			os.Stdout.WriteString("unknown way " + how + "\n")
			return 2
		}
		sent := make(chan error, 1)
		go func() { sent <- send() }()
		select {
		case err := <-sent:
			if err != nil {
				os.Stdout.WriteString("send: " + err.Error() + "\n")
				return 1
			}
		case <-time.After(100 * time.Millisecond):
			// Waiting for room: the datagram holds references of its
			// own, so these closes are not the last.
			closeAll(refs)
			if err := <-sent; err != nil {
				os.Stdout.WriteString("send: " + err.Error() + "\n")
				return 1
			}
			os.Stdout.WriteString("lingering\n")
			waitForKill()
		}
		closed := make(chan struct{})
		go func() { closeAll(refs); close(closed) }()
		select {
		case <-closed:
			os.Stdout.WriteString("lingering\n")
			waitForKill()
		case <-time.After(500 * time.Millisecond):
			// This close was the last: read, so that it ends.
			buf := make([]byte, 1<<16)
			for done := false; !done; {
				unix.Read(peer, buf)
				select {
				case <-closed:
					done = true
				default:
				}
			}
			unix.Close(peer)
		}
	}
	os.Stdout.WriteString("the daemon closed first every time\n")
	return 1
}

// boundSocket returns a TCP socket bound to a free port of 127.0.0.1 in
// 61000-61999 (SO_REUSEADDR: over TIME_WAITs of earlier runs).
func boundSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	for port := 61000; port < 62000; port++ {
		if err = unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err == nil {
			return fd, nil
		}
	}
	unix.Close(fd)
	return -1, err
}

// closeAll closes fds.
func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// lingering returns a TCP connection on 127.0.0.1 whose close blocks for
// good (SO_LINGER 2^31-1 seconds, its send queue full) as long as its
// peer, also returned, does not read. Both ends are bound in 61000-61999,
// above the ephemeral range, where no test holds ports: the TIME_WAITs
// its closes leave must not block another test's holds.
func lingering() (conn, peer int, err error) {
	ln, err := boundSocket()
	if err != nil {
		return -1, -1, err
	}
	defer unix.Close(ln)
	unix.Listen(ln, 1)
	sa, _ := unix.Getsockname(ln)
	if conn, err = boundSocket(); err != nil {
		return -1, -1, err
	}
	// Small buffers fill fast.
	unix.SetsockoptInt(conn, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	if err := unix.Connect(conn, sa); err != nil {
		return -1, -1, err
	}
	peer, _, err = unix.Accept(ln)
	if err != nil {
		return -1, -1, err
	}
	unix.SetsockoptInt(peer, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	unix.SetNonblock(conn, true)
	junk := make([]byte, 65536)
	for {
		if _, err := unix.Write(conn, junk); err != nil {
			break // EAGAIN: both buffers full
		}
	}
	unix.SetsockoptLinger(conn, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 1<<31 - 1})
	return conn, peer, nil
}

// random sends n random datagrams: random bytes, some after the magic,
// some legacy names, half of them with a reply channel it never reads.
// Then it asks for a list and waits for the reply, so that the daemon has
// read everything before it, and says "sent N".
func random(sock string, n int) int {
	fd, err := rawsock.DialAutobound(sock)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error() + "\n")
		return 1
	}
	buf := make([]byte, 100)
	var size [1]byte
	for i := 0; i < n; i++ {
		rand.Read(size[:])
		b := buf[:int(size[0])%len(buf)]
		rand.Read(b)
		switch i % 5 {
		case 1:
			b = append([]byte(ipc.Magic), b...)
		case 2:
			for j := range b {
				b[j] = 'a' + b[j]%26 // a legacy release name
			}
		}
		if i%2 == 0 {
			rawsock.Sendmsg(fd, b)
			continue
		}
		mine, theirs, err := rawsock.Channel()
		if err != nil {
			continue
		}
		rawsock.Sendmsg(fd, b, theirs)
		unix.Close(theirs)
		unix.Close(mine)
	}
	mine, theirs, err := rawsock.Channel()
	if err == nil {
		err = rawsock.Sendmsg(fd, (&ipc.Request{Op: ipc.OpList}).Marshal(), theirs)
	}
	if err == nil {
		tv := unix.NsecToTimeval(int64(30 * time.Second))
		unix.SetsockoptTimeval(mine, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		_, err = unix.Read(mine, make([]byte, ipc.MaxReplySize))
	}
	if err != nil {
		os.Stdout.WriteString("list after the datagrams: " + err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString("sent " + strconv.Itoa(n) + "\n")
	return 0
}
