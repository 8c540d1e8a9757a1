// Command fakeservice stands in for a real service such as cupsd in the
// integration tests: run with PORTRESERVE_TEST_SERVE=PORT, under any name
// (the init-script tests link it as cupsd), it binds PORT on [::] for IPv4
// and IPv6 with SO_REUSEADDR, as servers do, listens, and runs until
// killed. It exits 1 at once if the bind fails.
package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(fakeService(os.Getenv("PORTRESERVE_TEST_SERVE")))
}

// fakeService serves port until killed.
func fakeService(port string) int {
	p, err := strconv.Atoi(port)
	if err != nil {
		return 2
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM, 0)
	if err != nil {
		return 1
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	if err := unix.Bind(fd, &unix.SockaddrInet6{Port: p}); err != nil {
		os.Stderr.WriteString("fake service: bind " + port + ": " + err.Error() + "\n")
		return 1
	}
	if err := unix.Listen(fd, 8); err != nil {
		return 1
	}
	for {
		unix.Ppoll(nil, nil, nil) // until a signal ends the process
	}
}
