// Package procnet tells whether a port is bound, and by which process,
// from /proc/net/{tcp,tcp6,udp,udp6} and the socket inodes in /proc/*/fd,
// as ss -p and netstat -p do.
//
// /proc/net/tcp lists listening and connected sockets, but not a TCP socket
// that is only bound (which is how portreserve holds ports, and how a
// bindresvport caller sits before it listens). For those, Bound can try a
// bind itself: a socket bound and closed at once, without SO_REUSEADDR, so
// that a bound socket anywhere makes it fail. That probe holds the port for
// a few microseconds; callers ask for it explicitly.
package procnet

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/internal/rawfs"
)

// Owner is a process that has a socket on a port.
type Owner struct {
	Pid     int
	Command string // from /proc/PID/comm
}

// String returns "PID/COMMAND", as netstat -p prints it.
func (o Owner) String() string {
	return strconv.Itoa(o.Pid) + "/" + o.Command
}

// Table is a snapshot of the bound sockets /proc shows.
type Table struct {
	// Root is the procfs mount, "/proc" unless set for tests.
	Root string
	// inodes maps a port and protocol (on any address: the address is
	// left zero) to the inodes of sockets on it.
	inodes map[inetaddr.Endpoint][]uint64
	// owners maps socket inodes to processes, filled on first use.
	owners map[uint64]Owner
	// timeWait counts the TCP connections in TIME_WAIT on a port: they
	// belong to no process, but block a bind without SO_REUSEADDR.
	timeWait map[inetaddr.Endpoint]int
}

// maxProcFile bounds what is read of one /proc/net file (150 bytes a
// socket: enough for hundreds of thousands of sockets).
const maxProcFile = 64 << 20

// Read takes a snapshot of /proc/net under root ("/proc" when empty).
func Read(root string) *Table {
	if root == "" {
		root = "/proc"
	}
	t := &Table{Root: root, inodes: map[inetaddr.Endpoint][]uint64{}, timeWait: map[inetaddr.Endpoint]int{}}
	for _, f := range []struct {
		name  string
		proto inetaddr.Proto
	}{{"tcp", inetaddr.TCP}, {"tcp6", inetaddr.TCP}, {"udp", inetaddr.UDP}, {"udp6", inetaddr.UDP}} {
		data, err := rawfs.ReadFile(root+"/net/"+f.name, maxProcFile)
		if err != nil {
			continue
		}
		t.parse(string(data), f.proto)
	}
	return t
}

// parse reads one /proc/net file: after a header line, each line has
// "sl local_address rem_address st ... uid timeout inode ...", with the
// local address as HEXADDR:HEXPORT.
func (t *Table) parse(data string, proto inetaddr.Proto) {
	lines := strings.Split(data, "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		_, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err1 := strconv.ParseUint(portHex, 16, 16)
		inode, err2 := strconv.ParseUint(f[9], 10, 64)
		if err1 != nil || err2 != nil || port == 0 {
			continue
		}
		k := inetaddr.Endpoint{Port: uint16(port), Proto: proto}
		if proto == inetaddr.TCP && f[3] == tcpTimeWait {
			t.timeWait[k]++
			continue
		}
		t.inodes[k] = append(t.inodes[k], inode)
	}
}

// tcpTimeWait is TCP_TIME_WAIT in the st column of /proc/net/tcp.
const tcpTimeWait = "06"

// TimeWaitOnly reports whether the only TCP sockets /proc/net lists on port
// are connections in TIME_WAIT: what is left for a minute after a server
// that served clients stops.
func (t *Table) TimeWaitOnly(port uint16) bool {
	k := inetaddr.Endpoint{Port: port, Proto: inetaddr.TCP}
	return t.timeWait[k] > 0 && len(t.inodes[k]) == 0
}

// Listed reports whether /proc/net lists a socket on port/proto, other
// than TCP connections in TIME_WAIT.
func (t *Table) Listed(port uint16, proto inetaddr.Proto) bool {
	return len(t.inodes[inetaddr.Endpoint{Port: port, Proto: proto}]) > 0
}

// Owners returns the processes with a socket on port/proto that /proc
// lets this process see.
func (t *Table) Owners(port uint16, proto inetaddr.Proto) []Owner {
	inodes := t.inodes[inetaddr.Endpoint{Port: port, Proto: proto}]
	if len(inodes) == 0 {
		return nil
	}
	if t.owners == nil {
		t.scanFds()
	}
	var out []Owner
	seen := map[int]bool{}
	for _, ino := range inodes {
		if o, ok := t.owners[ino]; ok && !seen[o.Pid] {
			seen[o.Pid] = true
			out = append(out, o)
		}
	}
	return out
}

// scanFds maps every socket inode in /proc/*/fd to its process.
func (t *Table) scanFds() {
	t.owners = map[uint64]Owner{}
	pids, err := rawfs.Names(t.Root)
	if err != nil {
		return
	}
	for _, p := range pids {
		pid, err := strconv.Atoi(p)
		if err != nil {
			continue
		}
		dir := t.Root + "/" + p + "/fd"
		fds, err := rawfs.Names(dir)
		if err != nil {
			continue
		}
		var comm string
		for _, fd := range fds {
			target, err := os.Readlink(dir + "/" + fd)
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(target[len("socket:["):], "]"), 10, 64)
			if err != nil {
				continue
			}
			if comm == "" {
				data, _ := rawfs.ReadFile(t.Root+"/"+p+"/comm", 64)
				comm = strings.TrimSpace(string(data))
				if comm == "" {
					comm = "?"
				}
			}
			if _, dup := t.owners[ino]; !dup {
				t.owners[ino] = Owner{Pid: pid, Command: comm}
			}
		}
	}
}

// ProbeBind reports whether port/proto is bound by anyone, by binding it
// for an instant: on [::] with IPV6_V6ONLY off (or 0.0.0.0 without IPv6),
// without SO_REUSEADDR, so that any socket bound to the port, listening
// or not, makes the bind fail. ok is false when the probe could not tell
// (for example EACCES: a port below 1024 and no privilege).
func ProbeBind(port uint16, proto inetaddr.Proto) (bound, ok bool) {
	typ := unix.SOCK_STREAM
	if proto == inetaddr.UDP {
		typ = unix.SOCK_DGRAM
	}
	family := unix.AF_INET6
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		family = unix.AF_INET
		if fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0); err != nil {
			return false, false
		}
	}
	defer unix.Close(fd)
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(port)}
	if family == unix.AF_INET6 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		sa = &unix.SockaddrInet6{Port: int(port)}
	}
	switch err := unix.Bind(fd, sa); err {
	case nil:
		return false, true
	case unix.EADDRINUSE:
		return true, true
	}
	return false, false
}
