//go:build integration

package integration

// Holds on a service's own addresses (127.0.0.1:631/tcp, [::1]:631/tcp,
// localhost:ipp): as unbreakable as the wildcard holds, and handed over one
// socket per address.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/ipc"
)

// bindWith binds a socket of family and typ to sa with SO_REUSEADDR set or
// not, as a competitor would, and listens on a TCP one; it returns the
// first error.
func bindWith(t *testing.T, family, typ int, sa unix.Sockaddr, reuse bool) error {
	t.Helper()
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
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
	if err == nil && typ == unix.SOCK_STREAM {
		err = unix.Listen(fd, 1)
	}
	return err
}

func TestAddressHolds(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"svc": "127.0.0.1:7641/tcp\n[::1]:7641/tcp\n127.0.0.1:7643/udp\n", "other": "7642/tcp\n"})
	s.mustStart(t)
	loop4 := [4]byte{127, 0, 0, 1}
	loop6 := [16]byte{15: 1}
	const tcp, udp = unix.SOCK_STREAM, unix.SOCK_DGRAM
	for _, tt := range []struct {
		desc   string
		family int
		typ    int
		sa     unix.Sockaddr
		reuse  bool
		free   bool // the bind should succeed: another address
	}{
		{"127.0.0.1:7641/tcp, SO_REUSEADDR", unix.AF_INET, tcp, &unix.SockaddrInet4{Port: 7641, Addr: loop4}, true, false},
		{"127.0.0.1:7641/tcp", unix.AF_INET, tcp, &unix.SockaddrInet4{Port: 7641, Addr: loop4}, false, false},
		{"0.0.0.0:7641/tcp (bindresvport's bind)", unix.AF_INET, tcp, &unix.SockaddrInet4{Port: 7641}, false, false},
		{"0.0.0.0:7641/tcp, SO_REUSEADDR", unix.AF_INET, tcp, &unix.SockaddrInet4{Port: 7641}, true, false},
		{"[::]:7641/tcp dual-stack, SO_REUSEADDR", unix.AF_INET6, tcp, &unix.SockaddrInet6{Port: 7641}, true, false},
		{"[::1]:7641/tcp, SO_REUSEADDR", unix.AF_INET6, tcp, &unix.SockaddrInet6{Port: 7641, Addr: loop6}, true, false},
		{"127.0.0.2:7641/tcp, another address", unix.AF_INET, tcp, &unix.SockaddrInet4{Port: 7641, Addr: [4]byte{127, 0, 0, 2}}, true, true},
		{"127.0.0.1:7643/udp, SO_REUSEADDR", unix.AF_INET, udp, &unix.SockaddrInet4{Port: 7643, Addr: loop4}, true, false},
		{"0.0.0.0:7643/udp (bindresvport's bind)", unix.AF_INET, udp, &unix.SockaddrInet4{Port: 7643}, false, false},
		{"0.0.0.0:7643/udp, SO_REUSEADDR", unix.AF_INET, udp, &unix.SockaddrInet4{Port: 7643}, true, false},
		{"[::]:7643/udp dual-stack, SO_REUSEADDR", unix.AF_INET6, udp, &unix.SockaddrInet6{Port: 7643}, true, false},
	} {
		err := bindWith(t, tt.family, tt.typ, tt.sa, tt.reuse)
		if tt.free && err != nil {
			t.Errorf("bind %s = %v; want success: only 127.0.0.1 and ::1 are held", tt.desc, err)
		}
		if !tt.free && err != unix.EADDRINUSE {
			t.Errorf("bind %s = %v; want EADDRINUSE: the address hold must keep it off", tt.desc, err)
		}
	}
	// portreserve-check shows the address in PORT.
	var ports []string
	for _, row := range table(s.check(t, "-n", "svc").stdout) {
		if len(row) == 6 && row[4] == "held" {
			ports = append(ports, row[1]+"/"+row[2])
		}
	}
	if got, want := strings.Join(ports, " "), "127.0.0.1:7641/tcp [::1]:7641/tcp 127.0.0.1:7643/udp"; got != want {
		t.Errorf("portreserve-check -n svc held %q; want %q", got, want)
	}
	// The hand-off gives one socket per address, in file order.
	line, _ := startActivated(t, "-s", s.sock, "--exec", "svc", "--", bin("activated"))
	if line != "ready 3 svc:svc:svc" {
		t.Fatalf("activated service said %q; want ready 3 svc:svc:svc", line)
	}
	for _, tt := range []struct{ addr, want string }{
		{"127.0.0.1:7641", "tcp 7641"},
		{"[::1]:7641", "tcp 7641"},
	} {
		if got := askTCP(t, tt.addr); got != tt.want {
			t.Errorf("service at %s answered %q; want %q", tt.addr, got, tt.want)
		}
	}
	if got := askUDP(t, "127.0.0.1:7643"); got != "udp 7643" {
		t.Errorf("service at 127.0.0.1:7643/udp answered %q; want udp 7643", got)
	}
	if got := askTCP(t, "127.0.0.2:7641"); !strings.Contains(got, "refused") {
		t.Errorf("127.0.0.2:7641 answered %q; want connection refused: the service has its two addresses only", got)
	}
	mustBeHeld(t, 7642, inetaddr.TCP)
}

// TestVersion1ListAnswered: a client from before addresses (protocol
// version 1) still lists, in version 1's entries, without the address.
func TestVersion1ListAnswered(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"svc": "127.0.0.1:7651/tcp\n7652/udp\n"})
	s.mustStart(t)
	c, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, v := range []uint8{ipc.Version1, ipc.Version} {
		r, err := c.Do(ipc.Request{Version: v, Op: ipc.OpList}, 5*time.Second)
		if err != nil || r.Status != ipc.StatusOK || r.Version != v || len(r.Entries) != 2 {
			t.Fatalf("list in version %d = %+v, %v; want two entries in a version %d reply", v, r, err, v)
		}
		want := inetaddr.Loopback4
		if v == ipc.Version1 {
			want = inetaddr.Any
		}
		if got := r.Entries[0].Addr; got != want || r.Entries[0].Port != 7651 {
			t.Errorf("list in version %d: first entry %v port %d; want %v port 7651", v, got, r.Entries[0].Port, want)
		}
	}
}

// debianHosts is Debian's default /etc/hosts for localhost: 127.0.0.1 and
// ::1, which cupsd's "Listen localhost:631" and the configuration's
// localhost:ipp both resolve.
const debianHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// useHosts bind-mounts a file holding text over /etc/hosts, in the tests'
// private mount namespace, for the rest of the test.
func useHosts(t *testing.T, text string) {
	t.Helper()
	if noMountns != "" {
		t.Skip(noMountns)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(hosts, "/etc/hosts", "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount a hosts file over /etc/hosts: %v", err)
	}
	t.Cleanup(func() { unix.Unmount("/etc/hosts", unix.MNT_DETACH) })
}

// TestAddressAbsent: where the system lacks an address a host name gives
// (::1 for localhost, with IPv6 off, as in many containers), the daemon
// holds the others and lists that one as absent, not failed, as servers
// listening on the name skip it; an address written out is a failure.
func TestAddressAbsent(t *testing.T) {
	needNetns(t)
	useHosts(t, debianHosts)
	s := newSetup(t, map[string]string{"named": "localhost:7661/tcp\n", "literal": "[::1]:7662/tcp\n"})
	// A network namespace of its own, its lo down: 127.0.0.1 can be
	// bound, ::1 cannot.
	cmd := exec.Command(bin("portreserve"), s.args("-f", "-N", "3")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	stderr := startReady(t, cmd)
	entries := s.list(t)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name+" "+e.HostPort()+" "+e.State.String())
	}
	want := "literal [::1]:7662 failed; named 127.0.0.1:7661 held; named [::1]:7661 absent"
	if strings.Join(got, "; ") != want {
		t.Errorf("list = %q; want %q", strings.Join(got, "; "), want)
	}
	b, _ := os.ReadFile(stderr.Name())
	if !strings.Contains(string(b), "named: [::1]:7661/tcp (") || !strings.Contains(string(b), "not held: cannot assign requested address: the system has no such address") {
		t.Errorf("the daemon's log does not say why [::1]:7661 is not held:\n%s", b)
	}
	if !strings.Contains(string(b), "literal: [::1]:7662/tcp ("+filepath.Join(s.conf, "literal")+":1): cannot hold: cannot assign requested address") {
		t.Errorf("the daemon's log does not name the failed literal address:\n%s", b)
	}
}
