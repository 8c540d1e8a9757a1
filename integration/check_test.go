//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/internal/ipctest"
	"portreserve/ipc"
)

// check runs portreserve-check against the setup, with an empty
// blacklist unless args name one.
func (s *setup) check(t *testing.T, args ...string) result {
	t.Helper()
	blacklist := filepath.Join(s.dir, "blacklist")
	if _, err := os.Stat(blacklist); os.IsNotExist(err) {
		os.WriteFile(blacklist, nil, 0o644)
	}
	return run(t, "portreserve-check", append([]string{"-c", s.conf, "-s", s.sock, "-b", blacklist}, args...)...)
}

// table splits check's output into fields, one slice per line.
func table(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Fields(line))
		}
	}
	return rows
}

// bindHere binds port/proto in the test process (listening, for TCP, so
// that /proc/net/tcp shows it) and returns the socket.
func bindHere(t *testing.T, port int, proto inetaddr.Proto) int {
	t.Helper()
	typ := unix.SOCK_STREAM
	if proto == inetaddr.UDP {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		t.Fatalf("bind %d/%v: %v", port, proto, err)
	}
	if proto == inetaddr.TCP {
		unix.Listen(fd, 1)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// me is this process as the owner column shows it.
func me(t *testing.T) string {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(os.Getpid()) + "/" + strings.TrimSpace(string(comm))
}

func TestCheckStates(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{
		"cups":  "ipp\n",      // held, then released
		"ldap":  "636/tcp\n",  // held
		"taken": "7101/tcp\n", // failed: bound by the test first
		"other": "7102/udp\n", // free, then in use after the daemon lets go
	})
	bindHere(t, 7101, inetaddr.TCP)
	if r := s.start(t); r.code != 1 {
		t.Fatalf("portreserve = %d, %q; want 1 (one port taken)", r.code, r.stderr)
	}
	if r := s.release(t, "cups", "other"); r.code != 0 {
		t.Fatalf("portrelease = %d, %q", r.code, r.stderr)
	}
	bindHere(t, 7102, inetaddr.UDP)
	r := s.check(t)
	want := [][]string{
		{"NAME", "PORT", "PROTO", "SERVICE", "STATE", "OWNER"},
		{"cups", "631", "tcp", "ipp", "released", "-"},
		{"ldap", "636", "tcp", "ldaps", "held", "-"},
		{"other", "7102", "udp", "-", "released", me(t)},
		{"taken", "7101", "tcp", "-", "failed", me(t)},
	}
	if got := table(r.stdout); !reflect.DeepEqual(got, want) || r.code != 1 {
		t.Errorf("portreserve-check = %d\n%s\nstderr %q; want 1 and\n%v", r.code, r.stdout, r.stderr, want)
	}

	// Without a daemon: in-use and free, and a note.
	s.kill()
	r = s.check(t, "-n")
	want = [][]string{
		{"cups", "631", "tcp", "ipp", "free", "-"},
		{"ldap", "636", "tcp", "ldaps", "free", "-"},
		{"other", "7102", "udp", "-", "in-use", me(t)},
		{"taken", "7101", "tcp", "-", "in-use", me(t)},
	}
	if got := table(r.stdout); !reflect.DeepEqual(got, want) || r.code != 0 || !strings.Contains(r.stderr, "no daemon answered") {
		t.Errorf("portreserve-check -n without daemon = %d\n%s\nstderr %q; want 0, a note, and\n%v", r.code, r.stdout, r.stderr, want)
	}
}

func TestCheckBoundNotListening(t *testing.T) {
	needNetns(t)
	// A TCP socket bound but not listening is invisible in /proc/net/tcp;
	// the probe bind still finds the port in use.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: 7111}); err != nil {
		t.Fatal(err)
	}
	s := newSetup(t, map[string]string{"a": "7111/tcp\n"})
	if got := table(s.check(t, "-n").stdout); !reflect.DeepEqual(got, [][]string{{"a", "7111", "tcp", "-", "in-use", "?"}}) {
		t.Errorf("bound, not listening: %v; want in-use with owner ?", got)
	}
	if got := table(s.check(t, "-n", "--no-probe").stdout); !reflect.DeepEqual(got, [][]string{{"a", "7111", "tcp", "-", "free", "-"}}) {
		t.Errorf("--no-probe: %v; want free", got)
	}
}

func TestCheckNamesQuietAndStatus(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7121/tcp\n", "b": "7122/tcp\nnosuchservice\n"})
	s.mustStart(t)
	// NAME restricts the lines and the problems.
	r := s.check(t, "-n", "a")
	if got := table(r.stdout); !reflect.DeepEqual(got, [][]string{{"a", "7121", "tcp", "-", "held", "-"}}) || r.code != 0 ||
		strings.Contains(r.stderr, filepath.Join(s.conf, "b")) {
		t.Errorf("portreserve-check -n a = %d, %v, %q; want 0, a's line only, none of b's problems", r.code, got, r.stderr)
	}
	r = s.check(t, "b")
	if r.code != 1 || !strings.Contains(r.stderr, filepath.Join(s.conf, "b")+`:2: unknown service "nosuchservice"`) {
		t.Errorf("portreserve-check b = %d, %q; want 1 and b's FILE:LINE error", r.code, r.stderr)
	}
	if r := s.check(t, "-q", "b"); r.code != 1 || r.stdout != "" || r.stderr != "" {
		t.Errorf("portreserve-check -q b = %d, %q, %q; want 1 and no output", r.code, r.stdout, r.stderr)
	}
	if r := s.check(t, "-q", "a"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("portreserve-check -q a = %d, %q, %q; want 0 and no output", r.code, r.stdout, r.stderr)
	}
	if r := s.check(t, "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "no configuration file for nosuch") {
		t.Errorf("portreserve-check nosuch = %d, %q; want 1", r.code, r.stderr)
	}
	if r := s.check(t, "-x"); r.code != 2 {
		t.Errorf("portreserve-check -x = %d; want 2", r.code)
	}
	if r := s.check(t, "bad.name"); r.code != 2 {
		t.Errorf("portreserve-check bad.name = %d; want 2", r.code)
	}
}

func TestCheckWarnings(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{
		"cups":      "631/tcp\n",
		"dup":       "631/tcp\n",
		"nfs":       "2049/tcp\n",
		"low":       "100-101/udp\n",
		"eph":       "40000/tcp\n", // in the ephemeral range: no warning
		"loose":     "700/tcp\n",
		"cups~":     "999\n",
		"x.rpmsave": "998\n",
	})
	os.WriteFile(filepath.Join(s.dir, "blacklist"), []byte("# test\n631 # cups\n\n"), 0o644)
	if err := os.Chmod(filepath.Join(s.conf, "loose"), 0o666); err != nil {
		t.Fatal(err)
	}
	r := s.check(t, "-v")
	path := func(name string) string { return filepath.Join(s.conf, name) }
	eph := "32768-60999"
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		eph = strings.Join(strings.Fields(string(data)), "-")
	}
	for _, want := range []string{
		path("dup") + ":1: warning: 631/tcp is also claimed by cups (" + path("cups") + ":1); held once, released by either name",
		path("nfs") + ":1: warning: port 2049/tcp is outside 512-1023 and the ephemeral range " + eph + ": bindresvport never takes it",
		path("low") + ":1: warning: ports 100/udp and 1 more are outside 512-1023",
		path("cups") + ":1: warning: port 631/tcp is listed in " + filepath.Join(s.dir, "blacklist") + ": bindresvport skips it already",
		path("loose") + ": warning: writable by every user, not only root or the directory's owner",
		path("cups~") + ": warning: skipped: the name contains '.' or '~'",
		path("x.rpmsave") + ": warning: skipped: the name contains '.' or '~'",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, path("eph")) {
		t.Errorf("a port in the ephemeral range was warned about:\n%s", r.stderr)
	}
	if r.code != 0 {
		t.Errorf("warnings only: status %d; want 0", r.code)
	}
	// Without -v, skipped files are not mentioned.
	if r := s.check(t); strings.Contains(r.stderr, "skipped") {
		t.Errorf("without -v: %q mentions skipped files", r.stderr)
	}
}

func TestCheckProtocolError(t *testing.T) {
	needNetns(t)
	s := newSetup(t, map[string]string{"a": "7131/tcp\n"})
	// A "daemon" that answers every request with a bad-version status.
	s.sock = ipctest.Start(t, ipctest.Status(ipc.StatusBadVersion)).Path
	if r := s.check(t); r.code != 2 || !strings.Contains(r.stderr, "unsupported protocol version") {
		t.Errorf("portreserve-check against a bad daemon = %d, %q; want 2", r.code, r.stderr)
	}
}

func TestCheckEmptyRoot(t *testing.T) {
	needNetns(t)
	// The binary alone in an otherwise empty root: no /etc/services (the
	// built-in copy resolves ipp), no /proc (owners show as ?), no daemon.
	root := emptyRoot(t, map[string]string{"cups": "ipp\n", "other": "7141/udp\n"})
	bindHere(t, 7141, inetaddr.UDP)
	r := inRoot(t, root, "portreserve-check", "-n")
	want := [][]string{
		{"cups", "631", "tcp", "ipp", "free", "-"},
		{"other", "7141", "udp", "-", "in-use", "?"},
	}
	if got := table(r.stdout); r.code != 0 || !reflect.DeepEqual(got, want) || !strings.Contains(r.stderr, "no daemon answered") {
		t.Errorf("portreserve-check in an empty root = %d\n%s\nstderr %q; want\n%v", r.code, r.stdout, r.stderr, want)
	}
}
