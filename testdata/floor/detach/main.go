// Command detach is the floor of portreserve's detached start: the
// cheapest way a Go program can start a daemon and return once it is ready.
// Go cannot fork, so it starts the floor's hold in a new session with a
// pipe on descriptor 3 and /dev/null as stdin and stdout, as portreserve
// re-executes itself, and exits when
// the newline arrives, having written the daemon's pid to stdout.
//
//	detach FLOOR PORT COUNT
package main

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 4 {
		os.Exit(2)
	}
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Exit(1)
	}
	var pipe [2]int
	if unix.Pipe2(pipe[:], unix.O_CLOEXEC) != nil {
		os.Exit(1)
	}
	pid, err := syscall.ForkExec(os.Args[1], []string{os.Args[1], "hold", os.Args[2], os.Args[3]}, &syscall.ProcAttr{
		Files: []uintptr{uintptr(null), uintptr(null), 2, uintptr(pipe[1])},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		os.Exit(1)
	}
	unix.Close(pipe[1])
	if n, _ := unix.Read(pipe[0], make([]byte, 1)); n != 1 {
		os.Exit(1)
	}
	unix.Write(1, []byte(strconv.Itoa(pid)+"\n"))
}
