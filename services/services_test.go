package services

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// debianFile is Debian's netbase 6.4 /etc/services; the same file is the
// embedded default.
const debianFile = "testdata/netbase-services"

// trickyFile holds lines chosen to trip a parser up.
const trickyFile = "testdata/tricky-services"

func mustLoad(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%q) = %v; want nil error", path, err)
	}
	return db
}

func TestDebianWellKnown(t *testing.T) {
	db := mustLoad(t, debianFile)
	for _, tt := range []struct {
		name, proto string
		port        int
		ok          bool
	}{
		{"ipp", "tcp", 631, true},
		{"ipp", "udp", 0, false}, // netbase 6.4 lists ipp for tcp only
		{"sunrpc", "tcp", 111, true},
		{"sunrpc", "udp", 111, true},
		{"portmapper", "udp", 111, true}, // an alias
		{"ldaps", "tcp", 636, true},
		{"imaps", "tcp", 993, true},
		{"pop3s", "tcp", 995, true},
		{"rsync", "tcp", 873, true},
		{"IPP", "tcp", 0, false}, // names are case-sensitive
		{"nosuchservice", "tcp", 0, false},
	} {
		port, ok := db.Port(tt.name, tt.proto)
		if port != tt.port || ok != tt.ok {
			t.Errorf("Port(%q, %q) = %d, %v; want %d, %v", tt.name, tt.proto, port, ok, tt.port, tt.ok)
		}
	}
	if name, ok := db.Name(631, "tcp"); name != "ipp" || !ok {
		t.Errorf("Name(631, tcp) = %q, %v; want ipp, true", name, ok)
	}
	if len(db.Malformed) != 0 {
		t.Errorf("Debian's file: Malformed = %v; want none", db.Malformed)
	}
}

func TestParseLines(t *testing.T) {
	for _, tt := range []struct {
		line string
		want *Entry // nil: skipped as malformed
	}{
		{"ipp 631/tcp", &Entry{Name: "ipp", Port: 631, Proto: "tcp"}},
		{"\t ipp\t\t631/udp  a  b\t# c", &Entry{Name: "ipp", Port: 631, Proto: "udp", Aliases: []string{"a", "b"}}},
		{"ipp 631/tcp\r", &Entry{Name: "ipp", Port: 631, Proto: "tcp"}},
		{"a/b 1/tcp", &Entry{Name: "a/b", Port: 1, Proto: "tcp"}},
		{"zero 0/tcp", &Entry{Name: "zero", Port: 0, Proto: "tcp"}},
		{"top 65535/sctp", &Entry{Name: "top", Port: 65535, Proto: "sctp"}},
		{"x 1/tcp#c", &Entry{Name: "x", Port: 1, Proto: "tcp"}},
		{"noport", nil},
		{"noproto 10", nil},
		{"emptyproto 10/", nil},
		{"twoslash 10//tcp", nil},
		{"big 65536/tcp", nil},
		{"hex 0x10/tcp", nil},
		{"octal 010/tcp", nil},
		{"signed +10/tcp", nil},
		{"signed -10/tcp", nil},
		{"letters abc/tcp", nil},
		{"slashonly /tcp", nil},
	} {
		db := Parse([]byte(tt.line))
		if tt.want == nil {
			if len(db.Entries) != 0 || !reflect.DeepEqual(db.Malformed, []int{1}) {
				t.Errorf("Parse(%q) = %+v, malformed %v; want skipped as malformed", tt.line, db.Entries, db.Malformed)
			}
			continue
		}
		tt.want.Line = 1
		if len(db.Entries) != 1 || !reflect.DeepEqual(db.Entries[0], *tt.want) {
			t.Errorf("Parse(%q) = %+v; want %+v", tt.line, db.Entries, *tt.want)
		}
	}
}

func TestBlankAndCommentLines(t *testing.T) {
	db := Parse([]byte("\n# comment\n   \n\t# indented\r\n\r\nipp 631/tcp\n"))
	if len(db.Entries) != 1 || db.Entries[0].Line != 6 || len(db.Malformed) != 0 {
		t.Errorf("Parse(blank lines) = %+v, malformed %v; want ipp at line 6, none malformed", db.Entries, db.Malformed)
	}
}

func TestFirstEntryWins(t *testing.T) {
	db := mustLoad(t, trickyFile)
	for _, tt := range []struct {
		name, proto string
		port        int
	}{
		{"dup", "tcp", 800},
		{"first", "tcp", 800}, // alias of the first dup; alias-dup's alias comes later
		{"second", "tcp", 801},
		{"dup", "udp", 802},
		{"after-bad", "tcp", 813},
	} {
		if port, ok := db.Port(tt.name, tt.proto); port != tt.port || !ok {
			t.Errorf("Port(%q, %q) = %d, %v; want %d, true", tt.name, tt.proto, port, ok, tt.port)
		}
	}
	if name, _ := db.Name(800, "tcp"); name != "dup" {
		t.Errorf("Name(800, tcp) = %q; want dup", name)
	}
	want := []int{23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
	if !reflect.DeepEqual(db.Malformed, want) {
		t.Errorf("Malformed = %v; want %v", db.Malformed, want)
	}
}

func TestDefaultWhenMissing(t *testing.T) {
	db := mustLoad(t, filepath.Join(t.TempDir(), "no-such-file"))
	if db.Source != BuiltinSource {
		t.Errorf("Load(missing).Source = %q; want %q", db.Source, BuiltinSource)
	}
	for _, tt := range []struct {
		name string
		port int
	}{{"ipp", 631}, {"sunrpc", 111}, {"ldaps", 636}, {"imaps", 993}} {
		if port, ok := db.Port(tt.name, "tcp"); port != tt.port || !ok {
			t.Errorf("Default().Port(%q, tcp) = %d, %v; want %d, true", tt.name, port, ok, tt.port)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil {
		t.Errorf("Load(directory) = nil error; want an error")
	}
	if os.Geteuid() != 0 {
		unreadable := filepath.Join(dir, "unreadable")
		if err := os.WriteFile(unreadable, []byte("ipp 631/tcp\n"), 0o000); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(unreadable); err == nil {
			t.Errorf("Load(unreadable file) = nil error; want permission denied")
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), big) {
		t.Errorf("Load(oversized file) = %v; want an error naming %s", err, big)
	}
}

// TestUnreadableAsRoot checks the read error where root cannot bypass the
// permission: a file that is a directory entry pointing nowhere readable.
func TestUnreadableAsRoot(t *testing.T) {
	// /proc/self/mem exists but reading it from offset 0 fails with EIO.
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip("no /proc/self/mem to stand in for an unreadable file: /proc is not mounted")
	}
	if _, err := Load("/proc/self/mem"); err == nil {
		t.Errorf("Load(/proc/self/mem) = nil error; want a read error, not the built-in default")
	}
}

// glibcAnswers runs testdata/getserv.c, built with gcc, in a private mount
// namespace where path is bind-mounted over /etc/services, and returns its
// answer to each query.
func glibcAnswers(t *testing.T, path string, queries []string) []string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed: cannot build the glibc reference client")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed: cannot give glibc a private /etc/services")
	}
	bin := filepath.Join(t.TempDir(), "getserv")
	if out, err := exec.Command("gcc", "-O", "-o", bin, "testdata/getserv.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc testdata/getserv.c: %v\n%s", err, out)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-m"}
	if os.Geteuid() != 0 {
		args = []string{"-r", "-m"}
	}
	args = append(args, "sh", "-c", `mount --bind "$1" /etc/services && exec "$2"`, "sh", abs, bin)
	cmd := exec.Command("unshare", args...)
	cmd.Stdin = strings.NewReader(strings.Join(queries, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && strings.Contains(string(ee.Stderr), "Operation not permitted") {
			t.Skipf("cannot create a mount namespace here (%s); the comparison with glibc needs one", strings.TrimSpace(string(ee.Stderr)))
		}
		t.Fatalf("unshare %v: %v", args, err)
	}
	var answers []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		answers = append(answers, sc.Text())
	}
	if len(answers) != len(queries) {
		t.Fatalf("glibc answered %d queries; want %d", len(answers), len(queries))
	}
	return answers
}

// goAnswer answers one getserv query with db.
func goAnswer(db *DB, query string) string {
	f := strings.Fields(query)
	if f[0] == "name" {
		if port, ok := db.Port(f[1], f[2]); ok {
			return strconv.Itoa(port)
		}
		return "-"
	}
	port, _ := strconv.Atoi(f[1])
	if name, ok := db.Name(port, f[2]); ok {
		return name
	}
	return "-"
}

// queriesFor asks, for every word in the first two columns of the file's
// lines and every protocol, the name and port lookups.
func queriesFor(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var queries []string
	add := func(q string) {
		if !seen[q] {
			seen[q] = true
			queries = append(queries, q)
		}
	}
	protos := []string{"tcp", "udp", "sctp", "ddp"}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		for i, w := range f {
			for _, p := range protos {
				if i == 1 {
					if port, _, ok := strings.Cut(w, "/"); ok {
						if n, err := strconv.Atoi(port); err == nil && n >= 0 && n <= 65535 {
							add("port " + port + " " + p)
						}
					}
					continue
				}
				add("name " + w + " " + p)
			}
		}
	}
	add("name nosuchservice tcp")
	add("port 1 nosuchproto")
	return queries
}

// compareWithGlibc checks that the parser answers every query as glibc
// does, except the listed queries, where glibc is known to read a
// malformed line that the parser skips.
func compareWithGlibc(t *testing.T, path string, differ map[string]string) {
	db := mustLoad(t, path)
	queries := queriesFor(t, path)
	glibc := glibcAnswers(t, path, queries)
	for i, q := range queries {
		got := goAnswer(db, q)
		want := glibc[i]
		if g, ok := differ[q]; ok {
			if want != g {
				t.Errorf("glibc %s = %s; the test expected glibc to say %s", q, want, g)
			}
			want = "-"
		}
		if got != want {
			t.Errorf("%s: %s = %s; want %s (glibc)", path, q, got, want)
		}
	}
	t.Logf("%s: %d queries compared with glibc", path, len(queries))
}

func TestAgreesWithGlibcOnDebian(t *testing.T) {
	compareWithGlibc(t, debianFile, nil)
}

func TestAgreesWithGlibcOnTrickyLines(t *testing.T) {
	// glibc reads the port with strtoul(..., 0), so 0x10 is 16; it keeps
	// 16 bits of 65536; it accepts a run of slashes. The parser rejects
	// those lines. Everything else must agree.
	compareWithGlibc(t, trickyFile, map[string]string{
		"name twoslash tcp": "812",
		"port 812 tcp":      "twoslash",
		"name hexport tcp":  "16",
		"name toolarge tcp": "0",
	})
}

func BenchmarkParseDebian(b *testing.B) {
	data, err := os.ReadFile(debianFile)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		Parse(data)
	}
}

func BenchmarkLookup(b *testing.B) {
	db := Default()
	for i := 0; i < b.N; i++ {
		db.Port("ipp", "tcp")
	}
}

func TestNearest(t *testing.T) {
	db := Default()
	for _, tt := range []struct{ name, want string }{
		{"ipps", "ipp"}, // ipp: one edit; the first of the closest in file order
		{"ldsp", "ldap"},
		{"imap", "imap2"}, // imap is not listed in netbase; imap2 is
		{"cusp", ""},      // four letters: one edit at most
		{"kerberoz", "kerberos"},
		{"xyzzy-no-such", ""},
	} {
		if got := db.Nearest(tt.name); got != tt.want {
			t.Errorf("Nearest(%q) = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestBuiltinIsDebians: the embedded database, compacted by compact.sh,
// has exactly the entries of Debian's file, in order; only the line
// numbers differ.
func TestBuiltinIsDebians(t *testing.T) {
	want := mustLoad(t, debianFile)
	got := Default()
	if len(got.Malformed) != 0 || len(got.Entries) != len(want.Entries) {
		t.Fatalf("Default() has %d entries, %d malformed lines; %s has %d entries", len(got.Entries), len(got.Malformed), debianFile, len(want.Entries))
	}
	for i, e := range got.Entries {
		w := want.Entries[i]
		e.Line, w.Line = 0, 0
		if !reflect.DeepEqual(e, w) {
			t.Errorf("Default().Entries[%d] = %+v; %s has %+v", i, e, debianFile, w)
		}
	}
}
