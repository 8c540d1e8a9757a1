package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/services"
)

// res is a compact reservation for comparisons: "name port/proto line".
func res(c *Config) []string {
	var out []string
	for _, r := range c.Reservations {
		out = append(out, r.Name+" "+r.Endpoint.String()+" "+strconv.Itoa(r.Line))
	}
	return out
}

// problems returns the problems as strings with dir replaced by "D".
func problems(c *Config, dir string) []string {
	var out []string
	for _, p := range c.Problems {
		out = append(out, strings.ReplaceAll(p.String(), dir, "D"))
	}
	return out
}

// writeDir creates a configuration directory holding files.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func debian(t *testing.T) *services.DB {
	t.Helper()
	db, err := services.Load("../../services/testdata/netbase-services")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestLines(t *testing.T) {
	for _, tt := range []struct {
		desc     string
		text     string
		res      []string
		problems []string
	}{
		{"service name, tcp only in Debian's file", "ipp\n", []string{"f 631/tcp 1"}, []string{ippOnly(1)}},
		{"service name in both protocols", "sunrpc", []string{"f 111/tcp 1", "f 111/udp 1"}, nil},
		{"alias", "portmapper/udp", []string{"f 111/udp 1"}, nil},
		{"service with protocol", "ipp/tcp\n", []string{"f 631/tcp 1"}, nil},
		{"port means both", "631\n", []string{"f 631/tcp 1", "f 631/udp 1"}, nil},
		{"port with protocol", "631/udp", []string{"f 631/udp 1"}, nil},
		{"range", "600-602/tcp", []string{"f 600/tcp 1", "f 601/tcp 1", "f 602/tcp 1"}, nil},
		{"range of one", "7-7/udp", []string{"f 7/udp 1"}, nil},
		{"range both", "1-2", []string{"f 1/tcp 1", "f 2/tcp 1", "f 1/udp 1", "f 2/udp 1"}, nil},
		{"limits", "1/tcp\n65535/tcp", []string{"f 1/tcp 1", "f 65535/tcp 2"}, nil},
		{"comments and blanks", "# cups\n\n  ipp/tcp  # printing\n\t\n#x\n", []string{"f 631/tcp 3"}, nil},
		{"CRLF", "ipp/tcp\r\n636/tcp\r\n", []string{"f 631/tcp 1", "f 636/tcp 2"}, nil},
		{"no final newline", "ipp/tcp", []string{"f 631/tcp 1"}, nil},
		{"unknown service", "nosuch\nipp/tcp", []string{"f 631/tcp 2"},
			[]string{`D/f:1: unknown service "nosuch" (not in ../../services/testdata/netbase-services)`}},
		{"no udp entry", "ipp/udp\n", nil,
			[]string{`D/f:1: unknown service "ipp" for udp (not in ../../services/testdata/netbase-services)`}},
		{"case-sensitive", "IPP", nil,
			[]string{`D/f:1: unknown service "IPP" (not in ../../services/testdata/netbase-services)`}},
		{"port 0", "0/tcp\n631/tcp", []string{"f 631/tcp 2"}, []string{"D/f:1: port 0 out of range 1-65535"}},
		{"port 65536", "65536", nil, []string{"D/f:1: port 65536 out of range 1-65535"}},
		{"port 70000 does not wrap", "70000/tcp", nil, []string{"D/f:1: port 70000 out of range 1-65535"}},
		{"huge port", "99999999999999999999999", nil, []string{"D/f:1: port 99999999999999999999999 out of range 1-65535"}},
		{"hex", "0x277", nil, []string{`D/f:1: bad port "0x277": decimal digits only`}},
		{"leading zero", "0631", nil, []string{`D/f:1: bad port "0631": leading zero`}},
		{"plus sign", "+631", nil, []string{`D/f:1: bad port "+631": decimal digits only`}},
		{"minus sign", "-631", nil, []string{`D/f:1: bad port "-631": no sign allowed`}},
		{"reversed range", "610-600", nil, []string{`D/f:1: bad port range "610-600": 610 is above 600`}},
		{"open range", "600-", nil, []string{"D/f:1: missing port number"}},
		{"range out of range", "65530-65536", nil, []string{"D/f:1: port 65536 out of range 1-65535"}},
		{"bad protocol", "631/sctp", nil, []string{`D/f:1: unknown protocol "sctp" in "631/sctp": want tcp or udp`}},
		{"empty protocol", "631/", nil, []string{`D/f:1: unknown protocol "" in "631/": want tcp or udp`}},
		{"upper-case protocol", "631/TCP", nil, []string{`D/f:1: unknown protocol "TCP" in "631/TCP": want tcp or udp`}},
		{"no port", "/tcp", nil, []string{"D/f:1: missing port or service name before '/'"}},
		{"two entries on a line", "ipp 636\n993/tcp", []string{"f 993/tcp 2"},
			[]string{`D/f:1: more than one entry on the line: "ipp 636"; write one per line`}},
		{"duplicate in one file", "ipp/tcp\n631/tcp\n", []string{"f 631/tcp 1"},
			[]string{"D/f:2: warning: 631/tcp already listed at D/f:1"}},
		{"errors keep the other lines", "bad!\nipp/tcp\n70000\nldaps\n", []string{"f 631/tcp 2", "f 636/tcp 4", "f 636/udp 4"},
			[]string{`D/f:1: unknown service "bad!" (not in ../../services/testdata/netbase-services)`, "D/f:3: port 70000 out of range 1-65535"}},
		{"IPv4 address", "127.0.0.1:631/tcp", []string{"f 127.0.0.1:631/tcp 1"}, nil},
		{"IPv6 address", "[::1]:631/tcp", []string{"f [::1]:631/tcp 1"}, nil},
		{"host name", "localhost:ipp", []string{"f 127.0.0.1:631/tcp 1", "f [::1]:631/tcp 1"},
			[]string{ippOnly(1)}},
		{"host name, both protocols", "box:600-601", []string{"f 10.1.2.3:600/tcp 1", "f 10.1.2.3:601/tcp 1", "f 10.1.2.3:600/udp 1", "f 10.1.2.3:601/udp 1"}, nil},
		{"an address, then every address", "127.0.0.1:631/tcp\n631", []string{"f 127.0.0.1:631/tcp 1", "f 631/udp 2"},
			[]string{"D/f:2: 631/tcp conflicts with 127.0.0.1:631/tcp of f (D/f:1): a port cannot be bound on every address and on one address at once; write one of them"}},
		{"every address, then an address", "631/tcp\nlocalhost:631", []string{"f 631/tcp 1", "f 127.0.0.1:631/udp 2", "f [::1]:631/udp 2"},
			[]string{"D/f:2: 127.0.0.1:631/tcp conflicts with 631/tcp of f (D/f:1): a port cannot be bound on every address and on one address at once; write one of them",
				"D/f:2: [::1]:631/tcp conflicts with 631/tcp of f (D/f:1): a port cannot be bound on every address and on one address at once; write one of them"}},
		{"two addresses of one port", "127.0.0.1:631/tcp\n[::1]:631/tcp", []string{"f 127.0.0.1:631/tcp 1", "f [::1]:631/tcp 2"}, nil},
		{"duplicate address", "127.0.0.1:631/tcp\nlocalhost:631/tcp", []string{"f 127.0.0.1:631/tcp 1", "f [::1]:631/tcp 2"},
			[]string{"D/f:2: warning: 127.0.0.1:631/tcp already listed at D/f:1"}},
		{"IPv6 without brackets", "::1:631", nil, []string{`D/f:1: IPv6 address without brackets: write [::1]:PORT in "::1:631"`}},
		{"IPv4 in brackets", "[127.0.0.1]:631", nil, []string{`D/f:1: bad IPv6 address [127.0.0.1] in "[127.0.0.1]:631"`}},
		{"bad IPv4", "1.2.3:631", nil, []string{`D/f:1: bad IPv4 address 1.2.3 in "1.2.3:631"`}},
		{"no address", ":631", nil, []string{`D/f:1: missing address before ':' in ":631"`}},
		{"wildcard address", "0.0.0.0:631", nil, []string{`D/f:1: 0.0.0.0 is every address: leave the address out to hold the port on all of them in "0.0.0.0:631"`}},
		{"unknown host", "nosuch:631\n631/udp", []string{"f 631/udp 2"}, []string{`D/f:1: unknown host nosuch: not in D/.hosts in "nosuch:631"`}},
	} {
		dir := writeDir(t, map[string]string{"f": tt.text, ".hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.1.2.3 box\n"})
		HostsFile = filepath.Join(dir, ".hosts")
		t.Cleanup(func() { HostsFile = inetaddr.DefaultHosts })
		cfg, err := Read(dir, Loaded(debian(t), nil))
		if err != nil {
			t.Fatalf("%s: Read = %v", tt.desc, err)
		}
		if got := res(cfg); !reflect.DeepEqual(got, tt.res) {
			t.Errorf("%s: Read(%q) reservations = %q; want %q", tt.desc, tt.text, got, tt.res)
		}
		if got := problems(cfg, dir); !reflect.DeepEqual(got, tt.problems) {
			t.Errorf("%s: Read(%q) problems = %q; want %q", tt.desc, tt.text, got, tt.problems)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"cups":           "ipp/tcp\n",
		"ldap":           "ldaps/tcp\n",
		"cups.dpkg-old":  "999\n",
		"ldap~":          "998\n",
		".hidden":        "997\n",
		"nfs-server":     "2049/tcp\n",
		"Bad Name":       "996\n",
		"imap":           "imaps\n631/tcp\n",
		"a-64-byte-name": "",
	})
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("cups", filepath.Join(dir, "cupslink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 65)
	if err := os.WriteFile(filepath.Join(dir, long), []byte("995\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Read(dir, Loaded(debian(t), nil))
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"a-64-byte-name", "cups", "cupslink", "imap", "ldap", "nfs-server"}
	if got := cfg.Names(); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("Names() = %q; want %q", got, wantNames)
	}
	wantRes := []string{"cups 631/tcp 1", "cupslink 631/tcp 1", "imap 993/tcp 1", "imap 631/tcp 2",
		"ldap 636/tcp 1", "nfs-server 2049/tcp 1"}
	if got := res(cfg); !reflect.DeepEqual(got, wantRes) {
		t.Errorf("reservations = %q; want %q", got, wantRes)
	}
	wantProblems := []string{
		`D/Bad Name: bad release name "Bad Name": byte 0x20 is not allowed; file skipped`,
		"D/cupslink:1: warning: 631/tcp is also claimed by cups (D/cups:1); held once, released by either name",
		"D/dangling: dangling symbolic link, skipped",
		"D/imap:1: warning: service imaps is tcp only in ../../services/testdata/netbase-services: 993/udp stays open to bindresvport; write 993 to hold both, or imaps/tcp to say one is meant",
		"D/imap:2: warning: 631/tcp is also claimed by cups (D/cups:1); held once, released by either name",
		"D/subdir: warning: not a regular file, skipped",
		`D/` + long + `: bad release name "` + long + `": longer than 64 bytes; file skipped`,
	}
	if got := problems(cfg, dir); !reflect.DeepEqual(got, wantProblems) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantProblems, "\n"))
	}
	if cfg.Errors() != 3 {
		t.Errorf("Errors() = %d; want 3", cfg.Errors())
	}
	wantSkipped := []string{filepath.Join(dir, ".hidden"), filepath.Join(dir, "cups.dpkg-old"), filepath.Join(dir, "ldap~")}
	if !reflect.DeepEqual(cfg.Skipped, wantSkipped) {
		t.Errorf("Skipped = %q; want %q", cfg.Skipped, wantSkipped)
	}
}

func TestSource(t *testing.T) {
	r := Reservation{Name: "cups", Endpoint: inetaddr.Endpoint{Port: 631, Proto: inetaddr.TCP}, File: "/etc/portreserve/cups", Line: 3}
	if got := r.Source(); got != "/etc/portreserve/cups:3" {
		t.Errorf("Source() = %q; want /etc/portreserve/cups:3", got)
	}
}

func TestMissingDirectoryIsEmpty(t *testing.T) {
	cfg, err := Read(filepath.Join(t.TempDir(), "none"), Loaded(debian(t), nil))
	if err != nil || len(cfg.Reservations) != 0 || len(cfg.Problems) != 0 {
		t.Errorf("Read(missing dir) = %+v, %v; want empty, nil", cfg, err)
	}
}

func TestUnreadable(t *testing.T) {
	dir := writeDir(t, map[string]string{"big": strings.Repeat("# padding\n", MaxFileSize/10+1), "ok": "ipp/tcp"})
	if _, err := Read(filepath.Join(dir, "ok"), Loaded(debian(t), nil)); err == nil {
		t.Errorf("Read(a file, not a directory) = nil error; want an error")
	}
	cfg, err := Read(dir, Loaded(debian(t), nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"D/big: larger than 1 MiB, skipped"}
	if got := problems(cfg, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("problems = %q; want %q", got, want)
	}
	if got := res(cfg); !reflect.DeepEqual(got, []string{"ok 631/tcp 1"}) {
		t.Errorf("reservations = %q; want the other file's", got)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(filepath.Join(dir, "big"), 0); err != nil {
			t.Fatal(err)
		}
		cfg, _ := Read(dir, Loaded(debian(t), nil))
		want := []string{"D/big: open: permission denied"}
		if got := problems(cfg, dir); !reflect.DeepEqual(got, want) {
			t.Errorf("problems = %q; want %q", got, want)
		}
	}
}

func TestServicesError(t *testing.T) {
	dir := writeDir(t, map[string]string{"cups": "ipp\n631/tcp\n"})
	cfg, _ := Read(dir, Loaded(nil, os.ErrPermission))
	want := []string{`D/cups:1: unknown service "ipp" (not in the services database): permission denied`}
	if got := problems(cfg, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("problems = %q; want %q", got, want)
	}
	if got := res(cfg); !reflect.DeepEqual(got, []string{"cups 631/tcp 2"}) {
		t.Errorf("reservations = %q; want numeric ports to work without a services database", got)
	}
}

// TestServicesLoadedOnDemand: the services database is read once, and only
// for a configuration that names a service.
func TestServicesLoadedOnDemand(t *testing.T) {
	for _, tt := range []struct {
		files map[string]string
		loads int
	}{
		{map[string]string{"nfs": "892\n875/udp\n", "r": "40000-40100\n"}, 0},
		{map[string]string{"cups": "ipp\n631\n", "ldap": "ldaps/tcp\n"}, 1},
	} {
		loads := 0
		load := func() (*services.DB, error) {
			loads++
			return services.Default(), nil
		}
		if _, err := Read(writeDir(t, tt.files), load); err != nil {
			t.Fatal(err)
		}
		if loads != tt.loads {
			t.Errorf("Read(%q) loaded the services database %d times; want %d", tt.files, loads, tt.loads)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "range"), []byte("20000-29999/tcp\n"), 0o644)
	db := services.Default()
	for i := 0; i < b.N; i++ {
		Read(dir, Loaded(db, nil))
	}
}

// TestManyWarnings: a file of 200,000 duplicate lines (1 MB) gets
// MaxWarnings warnings and one more with the count of the rest.
func TestManyWarnings(t *testing.T) {
	dir := writeDir(t, map[string]string{"dup": strings.Repeat("7000\n", 200000), "ok": "7001/tcp\n"})
	cfg, err := Read(dir, Loaded(debian(t), nil))
	if err != nil {
		t.Fatal(err)
	}
	got := problems(cfg, dir)
	if len(got) != MaxWarnings+1 || got[MaxWarnings] != "D/dup: warning: 399978 more warnings about its lines not shown" {
		t.Errorf("problems: %d, the last %q; want %d and the count of the rest", len(got), got[len(got)-1], MaxWarnings+1)
	}
	if want := []string{"dup 7000/tcp 1", "dup 7000/udp 1", "ok 7001/tcp 1"}; !reflect.DeepEqual(res(cfg), want) {
		t.Errorf("reservations = %q; want %q", res(cfg), want)
	}
}

// TestFIFO: a FIFO where a configuration file should be is skipped; opening
// it never blocks (a FIFO swapped in between a stat and the open hung the
// daemon's start for good).
func TestFIFO(t *testing.T) {
	dir := writeDir(t, map[string]string{"ok": "7001/tcp\n"})
	if err := unix.Mkfifo(filepath.Join(dir, "cups"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Config)
	go func() {
		cfg, _ := Read(dir, Loaded(debian(t), nil))
		done <- cfg
	}()
	select {
	case cfg := <-done:
		if got := problems(cfg, dir); !reflect.DeepEqual(got, []string{"D/cups: warning: not a regular file, skipped"}) {
			t.Errorf("problems = %q; want the FIFO skipped", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read blocked on a FIFO in the configuration directory")
	}
}

// ippOnly is the warning for "ipp" at line n: tcp only in Debian's file.
func ippOnly(n int) string {
	return "D/f:" + strconv.Itoa(n) + ": warning: service ipp is tcp only in ../../services/testdata/netbase-services: 631/udp stays open to bindresvport; write 631 to hold both, or ipp/tcp to say one is meant"
}

// TestKeep: the names asked for keep their files, reservations and
// problems; names without a file come back in the order asked.
func TestKeep(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"a": "7000\n", "b": "7001/tcp\nbad\n", "c": "70000\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Read(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	unknown := cfg.Keep([]string{"zz", "b", "c", "yy"})
	if want := []string{"zz", "yy"}; !reflect.DeepEqual(unknown, want) {
		t.Errorf("Keep: unknown %q; want %q", unknown, want)
	}
	if got := cfg.Names(); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("Keep: names %q; want b c", got)
	}
	if len(cfg.Reservations) != 1 || cfg.Reservations[0].Name != "b" || len(cfg.Problems) != 2 {
		t.Errorf("Keep: reservations %v, problems %v; want b's 7001/tcp and the problems of b and c", cfg.Reservations, cfg.Problems)
	}
	// A skipped file named after an asked name: its warning says why.
	os.WriteFile(filepath.Join(dir, "cups.conf"), []byte("631\n"), 0o644)
	cfg, _ = Read(dir, nil)
	if unknown := cfg.Keep([]string{"cups"}); len(unknown) != 1 || len(cfg.Problems) != 1 || !strings.HasSuffix(cfg.Problems[0].File, "/cups.conf") {
		t.Errorf("Keep(cups) with cups.conf: unknown %q, problems %v; want cups unknown and the warning about cups.conf", unknown, cfg.Problems)
	}
	all, _ := Read(dir, nil)
	if n := len(all.Reservations); all.Keep(nil) != nil || len(all.Reservations) != n {
		t.Errorf("Keep(nil) changed the configuration")
	}
}

// TestManyErrors: a 1 MiB file of bad lines gets MaxWarnings errors and
// one more with the count of the rest (262,145 log lines before); the
// other file still takes effect.
func TestManyErrors(t *testing.T) {
	dir := writeDir(t, map[string]string{"bad": strings.Repeat("x\n", 1<<19), "ok": "7001/tcp\n"})
	cfg, err := Read(dir, Loaded(debian(t), nil))
	if err != nil {
		t.Fatal(err)
	}
	got := problems(cfg, dir)
	if len(got) != MaxWarnings+1 || got[MaxWarnings] != "D/bad: 524268 more errors about its lines not shown" {
		t.Errorf("problems: %d, the last %q; want %d and the count of the rest", len(got), got[len(got)-1], MaxWarnings+1)
	}
	if want := []string{"ok 7001/tcp 1"}; !reflect.DeepEqual(res(cfg), want) {
		t.Errorf("reservations = %q; want %q", res(cfg), want)
	}
}

// hugeHosts writes a 4 MiB hosts file whose every line names localhost,
// 200,000 addresses, and makes it HostsFile for the test.
func hugeHosts(tb testing.TB) {
	var b strings.Builder
	for i := 0; b.Len() < 4<<20-32; i++ {
		b.WriteString("10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255) + "\tlocalhost\n")
	}
	path := filepath.Join(tb.TempDir(), "hosts")
	os.WriteFile(path, []byte(b.String()), 0o644)
	HostsFile = path
	tb.Cleanup(func() { HostsFile = inetaddr.DefaultHosts })
}

// TestHugeHosts: a localhost with 200,000 addresses is refused as more
// than MaxAddresses, the look-up stopping there (it took 7.2 s, at
// every read, when it collected them all first).
func TestHugeHosts(t *testing.T) {
	hugeHosts(t)
	if got, err := inetaddr.Lookup(HostsFile, "localhost", MaxAddresses); len(got) != MaxAddresses+1 || err != nil {
		t.Errorf("Lookup(localhost) = %d addresses, %v; want %d: it stops past the limit", len(got), err, MaxAddresses+1)
	}
	dir := writeDir(t, map[string]string{"lo": "localhost:631/tcp\n", "ok": "7001/tcp\n"})
	cfg, err := Read(dir, Loaded(debian(t), nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := problems(cfg, dir); len(got) != 1 || !strings.Contains(got[0], "more than 255 addresses") {
		t.Errorf("problems = %q; want one: more than 255 addresses", got)
	}
}

// BenchmarkReadHugeHosts reads a configuration naming localhost with
// the 4 MiB hosts file of TestHugeHosts; BenchmarkReadLocalhost is the
// same read with a hosts file of two lines.
func BenchmarkReadHugeHosts(b *testing.B) {
	hugeHosts(b)
	benchmarkReadLocalhost(b)
}

func BenchmarkReadLocalhost(b *testing.B) {
	path := filepath.Join(b.TempDir(), "hosts")
	os.WriteFile(path, []byte("127.0.0.1 localhost\n::1 localhost\n"), 0o644)
	HostsFile = path
	b.Cleanup(func() { HostsFile = inetaddr.DefaultHosts })
	benchmarkReadLocalhost(b)
}

func benchmarkReadLocalhost(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "lo"), []byte("localhost:631/tcp\n"), 0o644)
	db := services.Default()
	for i := 0; i < b.N; i++ {
		Read(dir, Loaded(db, nil))
	}
}

// TestSkippedNames: every file with '.' or '~' in its name is skipped;
// the reader warns about one that looks meant to be read (cups.conf), not
// about editors' and packages' leftovers.
func TestSkippedNames(t *testing.T) {
	dir := writeDir(t, map[string]string{"cups.conf": "631\n", "cups~": "631\n", "cups.dpkg-old": "631\n", ".cups.swp": "x", "ok": "7001/tcp\n"})
	cfg, err := Read(dir, Loaded(debian(t), nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"D/cups.conf: warning: skipped: a file whose name has '.' or '~' is never read (those are editors' and packages' leftovers); name it after the service's release name"}
	if got := problems(cfg, dir); !reflect.DeepEqual(got, want) || len(cfg.Skipped) != 4 {
		t.Errorf("problems = %q, %d skipped; want %q, 4", got, len(cfg.Skipped), want)
	}
}
