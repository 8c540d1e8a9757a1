package main

// Holds on a service's own addresses (127.0.0.1:631/tcp, [::1]:631/tcp,
// localhost:ipp): as unbreakable as the wildcard holds, and handed over one
// socket per address.

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"portreserve/ipc"
)

// bindWith binds a socket of family to addr:port with SO_REUSEADDR set or
// not, as a competitor would, and returns the bind's error.
func bindWith(t *testing.T, family int, sa unix.Sockaddr, reuse bool) error {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if reuse {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if family == unix.AF_INET6 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	err = unix.Bind(fd, sa)
	if err == nil {
		err = unix.Listen(fd, 1)
	}
	return err
}

func TestAddressHolds(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"svc": "127.0.0.1:7641/tcp\n[::1]:7641/tcp\n", "other": "7642/tcp\n"})
	s.mustStart(t)
	loop4 := [4]byte{127, 0, 0, 1}
	loop6 := [16]byte{15: 1}
	for _, tt := range []struct {
		desc   string
		family int
		sa     unix.Sockaddr
		reuse  bool
		free   bool // the bind should succeed: another address
	}{
		{"127.0.0.1, SO_REUSEADDR", unix.AF_INET, &unix.SockaddrInet4{Port: 7641, Addr: loop4}, true, false},
		{"127.0.0.1", unix.AF_INET, &unix.SockaddrInet4{Port: 7641, Addr: loop4}, false, false},
		{"0.0.0.0 (bindresvport's bind)", unix.AF_INET, &unix.SockaddrInet4{Port: 7641}, false, false},
		{"0.0.0.0, SO_REUSEADDR", unix.AF_INET, &unix.SockaddrInet4{Port: 7641}, true, false},
		{"[::] dual-stack, SO_REUSEADDR", unix.AF_INET6, &unix.SockaddrInet6{Port: 7641}, true, false},
		{"[::1], SO_REUSEADDR", unix.AF_INET6, &unix.SockaddrInet6{Port: 7641, Addr: loop6}, true, false},
		{"127.0.0.2, another address", unix.AF_INET, &unix.SockaddrInet4{Port: 7641, Addr: [4]byte{127, 0, 0, 2}}, true, true},
	} {
		err := bindWith(t, tt.family, tt.sa, tt.reuse)
		if tt.free && err != nil {
			t.Errorf("bind %s:7641 = %v; want success: only 127.0.0.1 and ::1 are held", tt.desc, err)
		}
		if !tt.free && err != unix.EADDRINUSE {
			t.Errorf("bind %s:7641 = %v; want EADDRINUSE: the address hold must keep it off", tt.desc, err)
		}
	}
	// portreserve-check shows the address in PORT.
	var ports []string
	for _, row := range table(s.check(t, "-n", "svc").stdout) {
		if len(row) == 6 && row[4] == "held" {
			ports = append(ports, row[1]+"/"+row[2])
		}
	}
	if got, want := strings.Join(ports, " "), "127.0.0.1:7641/tcp [::1]:7641/tcp"; got != want {
		t.Errorf("portreserve-check -n svc held %q; want %q", got, want)
	}
	// The hand-off gives one socket per address, in file order.
	line, _ := startActivated(t, "-s", s.sock, "--exec", "svc", "--", bin("activated"))
	if line != "ready 2 svc:svc" {
		t.Fatalf("activated service said %q; want ready 2 svc:svc", line)
	}
	for _, tt := range []struct{ addr, want string }{
		{"127.0.0.1:7641", "tcp 7641"},
		{"[::1]:7641", "tcp 7641"},
	} {
		if got := askTCP(t, tt.addr); got != tt.want {
			t.Errorf("service at %s answered %q; want %q", tt.addr, got, tt.want)
		}
	}
	if got := askTCP(t, "127.0.0.2:7641"); !strings.Contains(got, "refused") {
		t.Errorf("127.0.0.2:7641 answered %q; want connection refused: the service has its two addresses only", got)
	}
	mustBeHeld(t, 7642, ipc.TCP)
}
