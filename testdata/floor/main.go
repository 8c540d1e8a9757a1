// Command floor is what portreserve is measured against: the least a Go
// program must do for each figure, through x/sys/unix and built with the
// same flags. The detached start is measured against testdata/floor/detach,
// kept apart so that its fork and exec do not count in the size floor.
//
//	floor hold PORT COUNT   bind COUNT ports from PORT, tcp and udp, the way
//	                        portreserve holds them, write a newline to fd 3,
//	                        then sit in recvmsg
//	floor ask SOCKET        one list request to the daemon, with its reply
//	                        channel, and the reply
package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 3 {
		os.Exit(2)
	}
	switch os.Args[1] {
	case "hold":
		port, _ := strconv.Atoi(os.Args[2])
		count, _ := strconv.Atoi(os.Args[3])
		// Grow the descriptor table once, as portreserve does: in a
		// process with threads, each doubling of it waits for an RCU
		// grace period.
		if fd, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 2*count+64); err == nil {
			unix.Close(fd)
		}
		for p := port; p < port+count; p++ {
			for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
				fd, err := unix.Socket(unix.AF_INET6, typ|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					os.Exit(1)
				}
				unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
				if unix.Bind(fd, &unix.SockaddrInet6{Port: p}) != nil {
					os.Exit(1)
				}
			}
		}
		unix.Write(3, []byte("\n"))
		fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		buf := make([]byte, 128)
		unix.Recvmsg(fd, buf, nil, 0)
	case "ask":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			os.Exit(1)
		}
		if unix.Connect(fd, &unix.SockaddrUnix{Name: os.Args[2]}) != nil {
			os.Exit(1)
		}
		// The reply channel: a socket pair, one end passed along.
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			os.Exit(1)
		}
		// A list request, version 1, id 1, laid out by hand.
		req := make([]byte, 80)
		copy(req, "\x7fPRS\x01\x03\x00\x00\x00\x00\x00\x01")
		unix.Sendmsg(fd, req, unix.UnixRights(pair[1]), nil, 0)
		unix.Close(pair[1])
		buf := make([]byte, 4096)
		if _, err := unix.Read(pair[0], buf); err != nil {
			os.Exit(1)
		}
	}
}
