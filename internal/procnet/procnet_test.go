package procnet

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"portreserve/internal/inetaddr"

	"golang.org/x/sys/unix"
)

const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// line is one /proc/net/{tcp,udp} line: local port, state and inode.
func line(portHex, state, inode string) string {
	return "   0: 00000000:" + portHex + " 00000000:0000 " + state + " 00000000:00000000 00:00000000 00000000     0        0 " + inode + " 1 0000000000000000 100 0 0 10 0\n"
}

// fakeProc writes a procfs tree: the /proc/net files and, for each pid, its
// comm (none when "") and descriptors.
func fakeProc(t *testing.T, net map[string]string, procs map[string]struct {
	comm string
	fds  map[string]string
}) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(root, "net"), 0o755))
	for name, text := range net {
		must(os.WriteFile(filepath.Join(root, "net", name), []byte(text), 0o644))
	}
	for pid, p := range procs {
		must(os.MkdirAll(filepath.Join(root, pid, "fd"), 0o755))
		if p.comm != "" {
			must(os.WriteFile(filepath.Join(root, pid, "comm"), []byte(p.comm+"\n"), 0o644))
		}
		for fd, target := range p.fds {
			must(os.Symlink(target, filepath.Join(root, pid, "fd", fd)))
		}
	}
	return root
}

func TestRead(t *testing.T) {
	type proc = struct {
		comm string
		fds  map[string]string
	}
	root := fakeProc(t, map[string]string{
		// 631 listening (0A), 873 with TIME_WAIT (06) only, 80 with
		// a TIME_WAIT and a listener, and lines that must be skipped.
		"tcp": header + line("0277", "0A", "1111") + line("0369", "06", "0") + line("0369", "06", "0") +
			line("0050", "06", "0") + line("0050", "0A", "3333") +
			"   1: short line\n" + line("zzzz", "0A", "9") + line("0000", "0A", "9") + line("0016", "0A", "x"),
		"tcp6": header + line("0277", "0A", "4444"),
		"udp":  header + line("0277", "07", "2222"),
		// udp6 missing: a kernel without IPv6.
	}, map[string]proc{
		"42":   {"cupsd", map[string]string{"3": "socket:[1111]", "4": "socket:[4444]", "5": "/dev/null", "6": "socket:[bad]"}},
		"43":   {"", map[string]string{"7": "socket:[2222]"}},
		"44":   {"nginx", map[string]string{"3": "socket:[3333]"}},
		"self": {"x", map[string]string{"1": "socket:[3333]"}},
	})
	tab := Read(root)
	for _, tt := range []struct {
		port     uint16
		proto    inetaddr.Proto
		listed   bool
		timeWait bool
		owners   []Owner
	}{
		{631, inetaddr.TCP, true, false, []Owner{{42, "cupsd"}}},
		{631, inetaddr.UDP, true, false, []Owner{{43, "?"}}},
		{873, inetaddr.TCP, false, true, nil},
		{80, inetaddr.TCP, true, false, []Owner{{44, "nginx"}}},
		{22, inetaddr.TCP, false, false, nil},
		{873, inetaddr.UDP, false, false, nil},
	} {
		if got := tab.Listed(tt.port, tt.proto); got != tt.listed {
			t.Errorf("Listed(%d/%v) = %v; want %v", tt.port, tt.proto, got, tt.listed)
		}
		if tt.proto == inetaddr.TCP {
			if got := tab.TimeWaitOnly(tt.port); got != tt.timeWait {
				t.Errorf("TimeWaitOnly(%d) = %v; want %v", tt.port, got, tt.timeWait)
			}
		}
		got := tab.Owners(tt.port, tt.proto)
		// Owners come in the order of the inodes, then of /proc: sort
		// by pid for the comparison.
		for i := 1; i < len(got); i++ {
			for j := i; j > 0 && got[j].Pid < got[j-1].Pid; j-- {
				got[j], got[j-1] = got[j-1], got[j]
			}
		}
		if !reflect.DeepEqual(got, tt.owners) {
			t.Errorf("Owners(%d/%v) = %v; want %v", tt.port, tt.proto, got, tt.owners)
		}
	}
}

func TestReadMissing(t *testing.T) {
	tab := Read(filepath.Join(t.TempDir(), "no-proc"))
	if tab.Listed(631, inetaddr.TCP) || tab.Owners(631, inetaddr.TCP) != nil || tab.TimeWaitOnly(631) {
		t.Errorf("Read(a missing procfs) shows sockets; want none")
	}
}

func TestOwnerString(t *testing.T) {
	if got, want := (Owner{Pid: 42, Command: "cupsd"}).String(), "42/cupsd"; got != want {
		t.Errorf("Owner.String() = %q; want %q", got, want)
	}
}

// listenLoopback listens on an ephemeral loopback TCP port and returns the
// socket and its port.
func listenLoopback(t *testing.T, listen bool) (int, uint16) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if listen {
		if err := unix.Listen(fd, 1); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, uint16(sa.(*unix.SockaddrInet4).Port)
}

// TestReadReal finds this test's own listening socket in the real /proc.
func TestReadReal(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	_, port := listenLoopback(t, true)
	tab := Read("")
	if !tab.Listed(port, inetaddr.TCP) {
		t.Fatalf("Read(\"\").Listed(%d/tcp) = false; want this test's listening socket", port)
	}
	found := false
	for _, o := range tab.Owners(port, inetaddr.TCP) {
		found = found || o.Pid == os.Getpid()
	}
	if !found {
		t.Errorf("Owners(%d/tcp) = %v; want pid %d among them", port, tab.Owners(port, inetaddr.TCP), os.Getpid())
	}
}

// TestProbeBind sees a socket that is bound and not listening, which
// /proc/net/tcp does not list, and sees the port free once it is closed.
// The port is this test's own ephemeral one: nobody else binds it.
func TestProbeBind(t *testing.T) {
	fd, port := listenLoopback(t, false)
	if bound, ok := ProbeBind(port, inetaddr.TCP); !ok || !bound {
		t.Errorf("ProbeBind(%d/tcp) with a bound socket = %v, %v; want true, true", port, bound, ok)
	}
	unix.Close(fd)
	if bound, ok := ProbeBind(port, inetaddr.TCP); !ok || bound {
		t.Errorf("ProbeBind(%d/tcp) after close = %v, %v; want false, true", port, bound, ok)
	}
}
