// Package services reads the services(5) database: the file that maps
// service names such as "ipp" to a port and protocol such as 631/tcp.
//
// The parser is written by hand so that the binary needs neither cgo nor
// the net package. It follows glibc's nss_files reader where a line is
// well formed:
//
//	name port/protocol [alias...] [# comment]
//
// Fields are separated by any mix of spaces and tabs; everything from '#'
// to the end of the line is a comment; blank lines and CRLF line ends are
// accepted. Names and protocols match case-sensitively, and where the file
// lists a name (or alias) twice for one protocol, the first entry wins, as
// glibc's getservbyname and getservbyport do.
//
// A line that is not well formed is skipped and counted in DB.Malformed; it
// never stops the rest of the file from being read. Well formed means: a
// name, then a decimal port 0..65535 without sign or leading zeros other
// than "0" itself, a '/', and a non-empty protocol. glibc is laxer on
// malformed lines (it reads the port with strtoul in base 0, so 0x277 is
// 631, and truncates 65536 to 0); those lines are rejected here rather than
// guessed at.
//
// When the services file does not exist, as in scratch containers and
// initramfs images, Load falls back to Default: a copy of Debian's netbase
// /etc/services compiled into the binary and parsed by the same code.
package services

import (
	_ "embed"
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"portreserve/internal/rawfs"
)

// DefaultPath is where the services database lives on a Unix system.
const DefaultPath = "/etc/services"

// MaxFileSize bounds how much of a services file Load reads. Real files are
// a few hundred kilobytes at most (nmap's list, the largest in common use,
// is about 2 MB); anything larger is refused rather than read into memory.
const MaxFileSize = 16 << 20

// Entry is one well-formed line of a services file.
type Entry struct {
	Name    string   // official service name, e.g. "ipp"
	Port    int      // 0..65535
	Proto   string   // protocol, e.g. "tcp"
	Aliases []string // further names for the same service
	Line    int      // 1-based line number in the file
}

// key identifies a lookup by name or alias and protocol.
type key struct {
	name, proto string
}

// portKey identifies a lookup by port and protocol.
type portKey struct {
	port  int
	proto string
}

// DB is a parsed services database. The zero value is an empty database.
type DB struct {
	// Source names where the entries came from: a file path, or
	// "(built-in)" for the embedded default.
	Source string
	// Entries holds every well-formed line in file order.
	Entries []Entry
	// Malformed holds the line numbers of the lines that were skipped.
	Malformed []int

	byName map[key]int     // index into Entries, first entry wins
	byPort map[portKey]int // index into Entries, first entry wins
}

// Nearest returns the name or alias of db closest to name, for an "unknown
// service, did you mean" message: within one edit (a letter added,
// dropped, changed, or two swapped) for a name of up to four letters, two
// for a longer one; "" when none is; the first in file order among the
// closest.
func (db *DB) Nearest(name string) string {
	best, bestDist := "", 2
	if len(name) > 4 {
		bestDist = 3
	}
	for i := range db.Entries {
		e := &db.Entries[i]
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			if d := editDistance(name, n, bestDist); d < bestDist && n != name {
				best, bestDist = n, d
			}
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b
// (insertions, deletions, substitutions and swaps of neighbours), or
// limit when it is limit or more.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], limit)
}

// BuiltinSource is the DB.Source of the embedded default database.
const BuiltinSource = "(built-in)"

//go:generate sh -c "sh compact.sh testdata/netbase-services > netbase-services"
//go:embed netbase-services
var netbase []byte

// Default returns the compiled-in database: Debian's netbase 6.4
// /etc/services (testdata/netbase-services) without its comments,
// parsed by Parse. Each call parses afresh, so callers may
// keep the result without sharing it.
func Default() *DB {
	db := Parse(netbase)
	db.Source = BuiltinSource
	return db
}

// Load reads the services database at path. When the file does not exist
// it returns Default, so that names such as "ipp" resolve in an empty root.
// Any other failure (a directory, no permission, a file larger than
// MaxFileSize) is an error: a database that exists but cannot be read is
// never silently replaced.
func Load(path string) (*DB, error) {
	data, err := rawfs.ReadFile(path, MaxFileSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Default(), nil
	case errors.Is(err, rawfs.ErrTooLarge):
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("file larger than " + strconv.Itoa(MaxFileSize>>20) + " MiB")}
	case err != nil:
		return nil, err
	}
	db := Parse(data)
	db.Source = path
	return db, nil
}

// Parse parses the contents of a services file. It never fails: lines that
// are not well formed are recorded in Malformed and skipped.
//
// Parse copies data once into a string that every name, alias and protocol
// is a substring of, and the aliases of all entries share one backing
// array: a daemon that reads the file at start-up allocates a handful of
// times, not several times a line.
func Parse(data []byte) *DB {
	text := string(data)
	lines := strings.Count(text, "\n") + 1
	db := &DB{
		Entries: make([]Entry, 0, lines),
		byName:  make(map[key]int, lines),
		byPort:  make(map[portKey]int, lines),
	}
	var aliases []string
	for n := 1; len(text) > 0; n++ {
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, ""
		}
		e, ok, blank := parseLine(line, &aliases)
		if blank {
			continue
		}
		if !ok {
			db.Malformed = append(db.Malformed, n)
			continue
		}
		e.Line = n
		db.add(e)
	}
	return db
}

// add appends e and indexes its names and port where no earlier entry has
// claimed them.
func (db *DB) add(e Entry) {
	i := len(db.Entries)
	db.Entries = append(db.Entries, e)
	if _, dup := db.byName[key{e.Name, e.Proto}]; !dup {
		db.byName[key{e.Name, e.Proto}] = i
	}
	for _, a := range e.Aliases {
		if _, dup := db.byName[key{a, e.Proto}]; !dup {
			db.byName[key{a, e.Proto}] = i
		}
	}
	if _, dup := db.byPort[portKey{e.Port, e.Proto}]; !dup {
		db.byPort[portKey{e.Port, e.Proto}] = i
	}
}

// Port returns the port of the service called name (its official name or
// an alias) for proto, as getservbyname(name, proto) would.
func (db *DB) Port(name, proto string) (port int, ok bool) {
	i, ok := db.byName[key{name, proto}]
	if !ok {
		return 0, false
	}
	return db.Entries[i].Port, true
}

// Name returns the official name of the service on port/proto, as
// getservbyport would.
func (db *DB) Name(port int, proto string) (name string, ok bool) {
	i, ok := db.byPort[portKey{port, proto}]
	if !ok {
		return "", false
	}
	return db.Entries[i].Name, true
}

// parseLine parses one line. blank reports a line with nothing but white
// space and comment; ok reports a well-formed entry. Aliases are appended
// to *aliases, and e.Aliases is the part of it that is this line's.
func parseLine(line string, aliases *[]string) (e Entry, ok, blank bool) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	name, rest := nextField(line)
	if name == "" {
		return e, false, true
	}
	portProto, rest := nextField(rest)
	slash := strings.IndexByte(portProto, '/')
	if slash < 0 || slash == len(portProto)-1 || strings.IndexByte(portProto[slash+1:], '/') >= 0 {
		return e, false, false
	}
	port, ok := parsePort(portProto[:slash])
	if !ok {
		return e, false, false
	}
	e.Name = name
	e.Port = port
	e.Proto = portProto[slash+1:]
	first := len(*aliases)
	for a, rest := nextField(rest); a != ""; a, rest = nextField(rest) {
		*aliases = append(*aliases, a)
	}
	if len(*aliases) > first {
		e.Aliases = (*aliases)[first:len(*aliases):len(*aliases)]
	}
	return e, true, false
}

// parsePort parses a decimal port number 0..65535 with no sign, no base
// prefix and no leading zeros.
func parsePort(b string) (int, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}

// isSpace reports the bytes glibc's isspace accepts in the C locale; CR is
// among them, which is what makes CRLF files work.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// nextField returns the first run of non-space bytes in s, and what
// follows it; field is empty when s has none.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	return s[i:j], s[j:]
}
