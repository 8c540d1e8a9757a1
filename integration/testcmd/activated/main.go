// Command activated is a service written the way systemd's socket
// activation expects, with the standard library only (no go-systemd). The
// tests build it statically and start it through portrelease --exec, in
// the test's root and in an empty root, as a container would.
package main

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run())
}

// run takes its sockets from LISTEN_FDS, checks LISTEN_PID, and serves each.
// It prints one line first, "ready N NAMES", or "error: ..." and exits 1:
//
//	ready 3 svc:svc:svc
//
// A TCP client gets "tcp PORT\n"; a UDP datagram gets "udp PORT" back.
// It also reports descriptors it inherited that it should not have: only
// 0, 1, 2 and the sockets may survive the exec (and whatever the tests
// themselves inherited without close-on-exec, listed in
// $PORTRESERVE_TEST_AMBIENT_FDS).
func run() int {
	fail := func(format string, args ...any) int {
		fmt.Printf("error: "+format+"\n", args...)
		return 1
	}
	// Before anything else opens a file.
	fds, _ := os.ReadDir("/proc/self/fd")
	if _, ok := os.LookupEnv("LISTEN_FDS"); !ok {
		fmt.Println("ready 0 without sockets")
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil {
		return fail("LISTEN_FDS=%q", os.Getenv("LISTEN_FDS"))
	}
	if pid := os.Getenv("LISTEN_PID"); pid != strconv.Itoa(os.Getpid()) {
		return fail("LISTEN_PID=%s; my pid is %d", pid, os.Getpid())
	}
	var extra []string
	ambient := "," + os.Getenv("PORTRESERVE_TEST_AMBIENT_FDS") + ","
	for _, fd := range fds {
		v, _ := strconv.Atoi(fd.Name())
		if v > 2+n && !strings.Contains(ambient, ","+fd.Name()+",") {
			if target, _ := os.Readlink("/proc/self/fd/" + fd.Name()); target != "" && !strings.HasPrefix(target, "/proc/") {
				extra = append(extra, fd.Name()+"->"+target)
			}
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fail("inherited descriptors beyond the sockets: %v", extra)
	}
	for i := 0; i < n; i++ {
		f := os.NewFile(uintptr(3+i), "activated")
		if l, err := net.FileListener(f); err == nil {
			port := l.Addr().(*net.TCPAddr).Port
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					fmt.Fprintf(c, "tcp %d\n", port)
					c.Close()
				}
			}()
			continue
		}
		pc, err := net.FilePacketConn(f)
		if err != nil {
			return fail("descriptor %d is neither a listening TCP socket nor a UDP socket: %v", 3+i, err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		go func() {
			buf := make([]byte, 64)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo([]byte("udp "+strconv.Itoa(port)), from)
			}
		}()
	}
	fmt.Printf("ready %d %s\n", n, os.Getenv("LISTEN_FDNAMES"))
	select {}
}
