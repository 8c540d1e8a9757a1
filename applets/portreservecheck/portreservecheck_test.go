package portreservecheck

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"portreserve/applets"
	"portreserve/internal/inetaddr"
	"portreserve/internal/ipctest"
	"portreserve/ipc"
)

// fixture is a configuration, a services file, a blacklist and a procfs
// tree in a temporary directory.
type fixture struct {
	conf, services, blacklist, proc string
}

func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{conf: filepath.Join(dir, "conf"), services: filepath.Join(dir, "services"),
		blacklist: filepath.Join(dir, "blacklist"), proc: filepath.Join(dir, "proc")}
	write := func(path, text string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	write(f.services, "ipp 631/tcp\nnfs 2049/tcp\nnfs 2049/udp\n", 0o644)
	write(f.blacklist, "# ports bindresvport skips\n631\n", 0o644)
	write(filepath.Join(f.proc, "sys/net/ipv4/ip_local_port_range"), "32768\t60999\n", 0o644)
	// nfsd (pid 7) listens on 2049/tcp.
	write(filepath.Join(f.proc, "net/tcp"), "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
		"   0: 00000000:0801 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n", 0o644)
	write(filepath.Join(f.proc, "7/comm"), "nfsd\n", 0o644)
	if err := os.MkdirAll(filepath.Join(f.proc, "7/fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("socket:[777]", filepath.Join(f.proc, "7/fd/3")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(f.conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		write(filepath.Join(f.conf, name), text, 0o644)
	}
	return f
}

// check runs the applet in-process against the fixture and the daemon's
// socket at sock.
func (f *fixture) check(t *testing.T, sock string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &applets.Env{Stdout: &out, Stderr: &errOut}
	argv := append([]string{"portreserve-check", "-c", f.conf, "-S", f.services, "-b", f.blacklist, "-s", sock, "--no-probe"}, args...)
	status = run(argv, env, f.proc)
	return status, out.String(), errOut.String()
}

func noDaemon(t *testing.T) string { return filepath.Join(t.TempDir(), "socket") }

func TestCheckWithoutDaemon(t *testing.T) {
	f := newFixture(t, map[string]string{"cups": "ipp\n631/udp\n", "nfs": "2049\n", "cups~": "999\n"})
	status, out, errOut := f.check(t, noDaemon(t))
	want := "NAME  PORT  PROTO  SERVICE  STATE   OWNER\n" +
		"cups  631   tcp    ipp      free    -\n" +
		"cups  631   udp    -        free    -\n" +
		"nfs   2049  tcp    nfs      in-use  7/nfsd\n" +
		"nfs   2049  udp    nfs      free    -\n"
	if status != 0 || out != want {
		t.Errorf("portreserve-check = %d, stdout\n%s; want 0,\n%s", status, out, want)
	}
	for _, w := range []string{
		"/cups:1: warning: port 631/tcp is listed in " + f.blacklist,
		"/cups:2: warning: port 631/udp is listed in",
		"/nfs:1: warning: ports 2049/tcp and 1 more are outside 512-1023 and the ephemeral range 32768-60999",
		"portreserve-check: note: no daemon answered on ",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("portreserve-check stderr = %q; want %q in it", errOut, w)
		}
	}
	if strings.Contains(errOut, "cups~") {
		t.Errorf("portreserve-check stderr = %q; want cups~ skipped silently without -v", errOut)
	}
	if _, _, errOut := f.check(t, noDaemon(t), "-v"); !strings.Contains(errOut, "cups~") {
		t.Errorf("portreserve-check -v stderr = %q; want the skipped cups~ named", errOut)
	}
}

func TestCheckDaemonStates(t *testing.T) {
	f := newFixture(t, map[string]string{"cups": "ipp\n631/udp\n", "nfs": "2049/tcp\n", "ldap": "636/tcp\n"})
	d := ipctest.Start(t, ipctest.List([]ipc.Entry{
		{Name: "cups", Endpoint: inetaddr.Endpoint{Port: 631, Proto: inetaddr.TCP}, State: ipc.Held},
		{Name: "cups", Endpoint: inetaddr.Endpoint{Port: 631, Proto: inetaddr.UDP}, State: ipc.Released},
		{Name: "nfs", Endpoint: inetaddr.Endpoint{Port: 2049, Proto: inetaddr.TCP}, State: ipc.Failed, Errno: uint32(syscall.EADDRINUSE)},
		{Name: "ldap", Endpoint: inetaddr.Endpoint{Port: 636, Proto: inetaddr.TCP}, State: ipc.HandedOff},
		// No longer configured, still held: listed after the rest.
		{Name: "old", Endpoint: inetaddr.Endpoint{Port: 999, Proto: inetaddr.TCP}, State: ipc.Held},
	}))
	status, out, _ := f.check(t, d.Path, "-n")
	want := "cups  631   tcp  ipp  held        -\n" +
		"cups  631   udp  -    released    -\n" +
		"ldap  636   tcp  -    handed-off  -\n" +
		"nfs   2049  tcp  nfs  failed      7/nfsd\n" +
		"old   999   tcp  -    held        -\n"
	if status != 1 || out != want {
		t.Errorf("portreserve-check -n = %d, stdout\n%s; want 1 (a failed hold),\n%s", status, out, want)
	}
	status, out, _ = f.check(t, d.Path, "-n", "cups")
	if want := "cups  631  tcp  ipp  held      -\ncups  631  udp  -    released  -\n"; status != 0 || out != want {
		t.Errorf("portreserve-check -n cups = %d, stdout\n%s; want 0,\n%s", status, out, want)
	}
}

// TestCheckPagedList reads more reservations than one reply carries.
func TestCheckPagedList(t *testing.T) {
	f := newFixture(t, map[string]string{"range": "40000-40099/udp\n"})
	var entries []ipc.Entry
	for p := uint16(40000); p < 40100; p++ {
		entries = append(entries, ipc.Entry{Name: "range", Endpoint: inetaddr.Endpoint{Port: p, Proto: inetaddr.UDP}, State: ipc.Held})
	}
	d := ipctest.Start(t, ipctest.List(entries))
	status, out, _ := f.check(t, d.Path, "-n")
	if n := strings.Count(out, " held "); status != 0 || n != 100 {
		t.Errorf("portreserve-check with 100 held = %d, %d lines held; want 0, 100", status, n)
	}
	if n := len(d.Requests()); n != 4 {
		t.Errorf("list requests = %d; want 4 pages of up to %d", n, ipc.PageEntries)
	}
}

// TestCheckOlderDaemon: a daemon from before addresses refuses version 2;
// the list goes again as version 1, and its pages as well.
func TestCheckOlderDaemon(t *testing.T) {
	f := newFixture(t, map[string]string{"range": "40000-40039/udp\n"})
	var entries []ipc.Entry
	for p := uint16(40000); p < 40040; p++ {
		entries = append(entries, ipc.Entry{Name: "range", Endpoint: inetaddr.Endpoint{Port: p, Proto: inetaddr.UDP}, State: ipc.Held})
	}
	list := ipctest.List(entries)
	d := ipctest.Start(t, func(req ipc.Request) []ipctest.Reply {
		if req.Version != ipc.Version1 {
			return ipctest.Status(ipc.StatusBadVersion)(req)
		}
		r := list(req)
		r[0].Version = ipc.Version1
		return r
	})
	status, out, errOut := f.check(t, d.Path, "-n")
	if n := strings.Count(out, " held "); status != 0 || n != 40 {
		t.Errorf("portreserve-check against a version 1 daemon = %d, %d lines held, stderr %q; want 0, 40", status, n, errOut)
	}
	var versions []uint8
	for _, r := range d.Requests() {
		versions = append(versions, r.Version)
	}
	if want := []uint8{2, 1, 1}; !reflect.DeepEqual(versions, want) {
		t.Errorf("request versions = %v; want %v (refused, then two pages as version 1)", versions, want)
	}
}

func TestCheckProblems(t *testing.T) {
	f := newFixture(t, map[string]string{"cups": "ipp\n", "bad": "70000\nipp\n"})
	if err := os.Chmod(filepath.Join(f.conf, "cups"), 0o666); err != nil {
		t.Fatal(err)
	}
	status, out, errOut := f.check(t, noDaemon(t))
	if status != 1 || !strings.Contains(errOut, "/bad:1: ") || !strings.Contains(errOut, "/cups: warning: writable by every user") {
		t.Errorf("portreserve-check = %d, stderr %q; want 1, bad:1 reported, cups writable by every user", status, errOut)
	}
	// bad's good line still counts.
	if !strings.Contains(out, "bad   631   tcp") {
		t.Errorf("portreserve-check stdout = %q; want bad's second line in the table", out)
	}
	status, out, errOut = f.check(t, noDaemon(t), "-q")
	if status != 1 || out != "" || errOut != "" {
		t.Errorf("portreserve-check -q = %d, %q, %q; want 1 and nothing printed", status, out, errOut)
	}
	status, _, errOut = f.check(t, noDaemon(t), "cups", "nosuch")
	if status != 1 || !strings.Contains(errOut, "no configuration file for nosuch") || strings.Contains(errOut, "/bad:1") {
		t.Errorf("portreserve-check cups nosuch = %d, stderr %q; want 1, nosuch reported, bad's problems not", status, errOut)
	}
	status, _, errOut = f.check(t, noDaemon(t), "bad.name")
	if status != 2 || !strings.Contains(errOut, `bad release name "bad.name"`) {
		t.Errorf("portreserve-check bad.name = %d, stderr %q; want 2, bad release name", status, errOut)
	}
}

func TestCheckDaemonErrors(t *testing.T) {
	f := newFixture(t, map[string]string{"cups": "ipp\n"})
	d := ipctest.Start(t, ipctest.Status(ipc.StatusDenied))
	if status, out, errOut := f.check(t, d.Path); status != 2 || out != "" || !strings.Contains(errOut, "list: permission denied") {
		t.Errorf("portreserve-check, list refused = %d, %q, %q; want 2, no table, the refusal", status, out, errOut)
	}
	silent := ipctest.Start(t, func(ipc.Request) []ipctest.Reply { return nil })
	if status, _, errOut := f.check(t, silent.Path, "-t", "0.2"); status != 2 || !strings.Contains(errOut, ipc.ErrTimeout.Error()) {
		t.Errorf("portreserve-check, no answer = %d, %q; want 2, %v", status, errOut, ipc.ErrTimeout)
	}
}

type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func TestCheckWriteError(t *testing.T) {
	f := newFixture(t, map[string]string{"cups": "ipp\n"})
	var errOut bytes.Buffer
	env := &applets.Env{Stdout: fullWriter{}, Stderr: &errOut}
	status := run([]string{"portreserve-check", "-c", f.conf, "-S", f.services, "-s", noDaemon(t), "--no-probe"}, env, f.proc)
	if status != 2 || !strings.Contains(errOut.String(), "portreserve-check: the table: "+syscall.ENOSPC.Error()) {
		t.Errorf("portreserve-check > a full disk = %d, stderr %q; want 2 and the write error", status, errOut)
	}
}

// TestCheckEphemeralRange: a line holding ports of the ephemeral range
// is warned about, with the range and how many.
func TestCheckEphemeralRange(t *testing.T) {
	f := newFixture(t, map[string]string{"high": "40000-40009\n", "one": "50000/tcp\n"})
	_, _, errOut := f.check(t, noDaemon(t))
	if !strings.Contains(errOut, "/high:1: warning: 10 ports of this line are in the ephemeral range 32768-60999") || strings.Contains(errOut, "/one:1: warning: ") {
		t.Errorf("portreserve-check stderr %q; want the range of high warned about, one's single port not", errOut)
	}
}
