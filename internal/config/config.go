// Package config reads portreserve's configuration directory, by default
// /etc/portreserve.
//
// Every regular file in the directory (symlinks followed) whose name
// contains neither '.' nor '~' is a service's configuration; its file name
// is the release name that portrelease uses, and must be a valid release
// name (see ipc.CheckName). Files are read in name order. Each line holds
// one entry:
//
//	ipp             a service name from the services database
//	ipp/tcp         the same, for one protocol
//	631             a port number, 1..65535, decimal
//	631/udp
//	600-610         a range of ports, LOW <= HIGH
//	600-610/tcp
//	127.0.0.1:631/tcp   any of the above on one address only
//	[::1]:631/tcp       an IPv6 address, in brackets
//	localhost:ipp       every address the hosts file gives the name
//
// Without an address, a port is held on every address, IPv4 and IPv6 (the
// dual-stack wildcard). With one, it is held on that address only, which
// still keeps bindresvport's wildcard bind off the port; host names are
// looked up in HostsFile, and "localhost" where the file does not list it
// is 127.0.0.1 and ::1.
//
// Leading and trailing white space, blank lines and '#' comments (whole
// line or trailing) are ignored; CRLF line ends are accepted. Without a
// protocol, a port or range means both tcp and udp, and a service name
// means each protocol for which the services database lists it (with
// Debian's file, "ipp" is 631/tcp only). A name that resolves for neither
// protocol is an error.
//
// Errors never stop the reader: a bad line is reported as FILE:LINE and
// every other line still counts. A port listed twice by one name is held
// once (a warning); a port claimed by two names is held once, by whichever
// name comes first, and releasing either name frees it (a warning too). A
// port on every address and the same port on one address cannot both be
// bound: the later line is an error.
package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/internal/rawfs"
	"portreserve/ipc"
	"portreserve/services"
)

// DefaultDir is the configuration directory unless told otherwise.
const DefaultDir = "/etc/portreserve"

// MaxFileSize bounds one configuration file. A real one is a few lines;
// a larger file is reported and skipped instead of being read into memory.
const MaxFileSize = 1 << 20

// HostsFile is where host names in configuration lines are looked up.
var HostsFile = inetaddr.DefaultHosts

// Reservation is one (address, port, protocol) a release name asks to hold.
type Reservation struct {
	Name  string        // release name: the file name
	Addr  inetaddr.Addr // inetaddr.Any: every address
	Named bool          // Addr is one a host name gave
	Port  uint16
	Proto ipc.Proto
	File  string // path of the file
	Line  int    // line in the file
}

// Source returns "FILE:LINE".
func (r *Reservation) Source() string {
	return r.File + ":" + strconv.Itoa(r.Line)
}

// Problem is an error or warning about the configuration.
type Problem struct {
	File    string
	Line    int // 0 when it is about the whole file or directory
	Msg     string
	Warning bool
}

// Where returns "FILE:LINE", or "FILE" for a problem about a whole file.
func (p Problem) Where() string {
	if p.Line > 0 {
		return p.File + ":" + strconv.Itoa(p.Line)
	}
	return p.File
}

// String formats p the way a compiler does: "FILE:LINE: message", with
// "warning: " before the message of a warning.
func (p Problem) String() string {
	s := p.Where() + ": "
	if p.Warning {
		s += "warning: "
	}
	return s + p.Msg
}

// File is one configuration file that was read.
type File struct {
	Name string // release name
	Path string
}

// Config is what Read found.
type Config struct {
	Dir          string
	Files        []File        // service files, in name order
	Reservations []Reservation // in file order, then line order
	Problems     []Problem     // errors and warnings, in the order found
	// Skipped lists the files skipped because their names contain '.'
	// or '~' (editor backups, package-manager leftovers).
	Skipped []string
}

// Errors counts the problems that are errors, not warnings.
func (c *Config) Errors() int {
	n := 0
	for _, p := range c.Problems {
		if !p.Warning {
			n++
		}
	}
	return n
}

// Names returns the release names in order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Files))
	for i, f := range c.Files {
		names[i] = f.Name
	}
	return names
}

// claim records which reservation first claimed a (port, protocol): an
// index into Config.Reservations, so that no FILE:LINE string is built per
// port of a large range unless a message needs it.
type claim = int

// reader carries the state of one Read.
type reader struct {
	cfg *Config
	// load reads the services database; db and dbErr are what it
	// returned, once a line named a service.
	load   LoadServices
	db     *services.DB
	dbErr  error
	claims map[uint64]claim      // see claimKey: the first name to claim it
	seen   map[uint64]claim      // see claimKey: its claim in the current file
	addrs  []inetaddr.Addr       // the addresses met so far, Any first; see claimKey
	hosts  map[string]hostLookup // host names looked up in HostsFile
	// warned and unwarned count the current file's line warnings:
	// shown, and past MaxWarnings, only counted.
	warned, unwarned int
}

// MaxWarnings is how many line warnings one file gets; the rest are
// counted in one more. A file of 200,000 duplicate lines cost 400,000 log
// lines and hundreds of megabytes of messages.
const MaxWarnings = 20

// LoadServices returns the services database to resolve names with, and,
// if not nil, why it could not be read (the database may then be nil).
type LoadServices func() (*services.DB, error)

// Loaded is a LoadServices for a database read already.
func Loaded(db *services.DB, err error) LoadServices {
	return func() (*services.DB, error) { return db, err }
}

// Read reads the configuration directory dir, resolving service names in
// the database load returns. Read calls load once, when a line first names
// a service, and not at all for a configuration of port numbers: the
// daemon then never reads /etc/services. The error load returns is repeated
// in the message of every name that could not be resolved.
// A directory that does not exist is an empty configuration. The error is
// for a directory that exists but cannot be listed; problems with files
// and lines are in Config.Problems.
func Read(dir string, load LoadServices) (*Config, error) {
	cfg := &Config{Dir: dir}
	names, err := rawfs.Names(dir)
	if err == unix.ENOENT {
		return cfg, nil
	}
	if err != nil {
		return cfg, &fs.PathError{Op: "read directory", Path: dir, Err: err}
	}
	sort.Strings(names)
	r := &reader{cfg: cfg, load: load, claims: map[uint64]claim{}, addrs: []inetaddr.Addr{inetaddr.Any}}
	for _, name := range names {
		r.readEntry(filepath.Join(dir, name), name)
	}
	return cfg, nil
}

func (r *reader) problem(file string, line int, warning bool, msg string) {
	r.cfg.Problems = append(r.cfg.Problems, Problem{File: file, Line: line, Msg: msg, Warning: warning})
}

// warn records a warning about a line of the current file, building its
// message only if it is among the file's first MaxWarnings.
func (r *reader) warn(file string, line int, msg func() string) {
	if r.warned >= MaxWarnings {
		r.unwarned++
		return
	}
	r.warned++
	r.problem(file, line, true, msg())
}

// readEntry reads one directory entry, if it is a service file.
func (r *reader) readEntry(path, name string) {
	if strings.ContainsAny(name, ".~") {
		r.cfg.Skipped = append(r.cfg.Skipped, path)
		return
	}
	fd, err := rawfs.OpenRegular(path)
	switch {
	case errors.Is(err, rawfs.ErrNotRegular) || errors.Is(err, unix.EISDIR):
		r.problem(path, 0, true, "not a regular file, skipped")
		return
	case errors.Is(err, unix.ENOENT):
		var lst unix.Stat_t
		if unix.Lstat(path, &lst) == nil {
			r.problem(path, 0, false, "dangling symbolic link, skipped")
			return
		}
		r.problem(path, 0, false, ErrText(err))
		return
	case err != nil:
		r.problem(path, 0, false, ErrText(err))
		return
	}
	defer unix.Close(fd)
	if err := ipc.CheckName(name); err != nil {
		r.problem(path, 0, false, err.Error()+"; file skipped")
		return
	}
	data, err := rawfs.ReadFd(fd, path, MaxFileSize)
	if errors.Is(err, rawfs.ErrTooLarge) {
		r.problem(path, 0, false, "larger than "+strconv.Itoa(MaxFileSize>>20)+" MiB, skipped")
		return
	}
	if err != nil {
		r.problem(path, 0, false, ErrText(err))
		return
	}
	r.cfg.Files = append(r.cfg.Files, File{Name: name, Path: path})
	r.parse(name, path, data)
}

// ErrText is err's message without the path, for a problem that names the
// file already.
func ErrText(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// parse reads the lines of one service file.
func (r *reader) parse(name, path string, data []byte) {
	r.seen = map[uint64]claim{}
	r.warned, r.unwarned = 0, 0
	defer func() {
		if r.unwarned > 0 {
			r.problem(path, 0, true, strconv.Itoa(r.unwarned)+" more warnings about its lines not shown")
		}
	}()
	rest := string(data)
	lineNo := 0
	for len(rest) > 0 {
		lineNo++
		line, after, _ := strings.Cut(rest, "\n")
		rest = after
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.Trim(line, " \t\r\v\f")
		if line == "" {
			continue
		}
		r.parseEntry(name, path, lineNo, line)
	}
}

// parseEntry handles one non-blank line.
func (r *reader) parseEntry(name, path string, line int, text string) {
	if strings.ContainsAny(text, " \t\v\f") {
		r.problem(path, line, false, "more than one entry on the line: "+strconv.Quote(text)+"; write one per line")
		return
	}
	addrs := []inetaddr.Addr{inetaddr.Any}
	named := false
	if hostEnd := strings.LastIndexByte(text, ':'); hostEnd >= 0 {
		var msg string
		if addrs, named, msg = r.hostAddrs(text[:hostEnd]); msg != "" {
			r.problem(path, line, false, msg+" in "+strconv.Quote(text))
			return
		}
		for _, a := range addrs {
			if r.addrIndex(a) < 0 {
				r.problem(path, line, false, "more than "+strconv.Itoa(MaxAddresses)+" addresses in the configuration")
				return
			}
		}
		text = text[hostEnd+1:]
	}
	spec, protoText, hasProto := strings.Cut(text, "/")
	protos := []ipc.Proto{ipc.TCP, ipc.UDP}
	if hasProto {
		switch protoText {
		case "tcp":
			protos = []ipc.Proto{ipc.TCP}
		case "udp":
			protos = []ipc.Proto{ipc.UDP}
		default:
			r.problem(path, line, false, "unknown protocol "+strconv.Quote(protoText)+" in "+strconv.Quote(text)+": want tcp or udp")
			return
		}
	}
	if spec == "" {
		r.problem(path, line, false, "missing port or service name before '/'")
		return
	}
	add := func(port int, proto ipc.Proto) {
		for _, a := range addrs {
			r.add(Reservation{Name: name, Addr: a, Named: named, Port: uint16(port), Proto: proto, File: path, Line: line})
		}
	}
	if low, high, isNum, msg := parseRange(spec); isNum {
		if msg != "" {
			r.problem(path, line, false, msg)
			return
		}
		for _, proto := range protos {
			for p := low; p <= high; p++ {
				add(p, proto)
			}
		}
		return
	}
	var held []ipc.Proto
	port := 0
	for _, proto := range protos {
		if p, ok := r.services().Port(spec, proto.String()); ok {
			if p == 0 {
				r.problem(path, line, false, "service "+spec+" is port 0 in "+r.source()+"; port 0 cannot be held")
				continue
			}
			add(p, proto)
			held = append(held, proto)
			port = p
		}
	}
	if len(held) == 1 && !hasProto {
		// ipp and ldaps are tcp only in Debian's /etc/services: the
		// name holds 631/tcp, and bindresvport can still take
		// 631/udp.
		other := ipc.UDP
		if held[0] == ipc.UDP {
			other = ipc.TCP
		}
		p := strconv.Itoa(port)
		r.warn(path, line, func() string {
			return "service " + spec + " is " + held[0].String() + " only in " + r.source() + ": " + p + "/" + other.String() +
				" stays open to bindresvport; write " + p + " to hold both, or " + spec + "/" + held[0].String() + " to say one is meant"
		})
	}
	if len(held) > 0 {
		return
	}
	msg := "unknown service " + strconv.Quote(spec)
	if hasProto {
		msg += " for " + protoText
	}
	msg += " (not in " + r.source() + ")"
	if r.dbErr != nil {
		msg += ": " + r.dbErr.Error()
	}
	r.problem(path, line, false, msg)
}

// services is the services database, loaded on the first call.
func (r *reader) services() *services.DB {
	if r.db == nil {
		if r.load != nil {
			r.db, r.dbErr = r.load()
		}
		if r.db == nil {
			r.db = &services.DB{}
		}
	}
	return r.db
}

// source names the services database for messages.
func (r *reader) source() string {
	if r.services().Source == "" {
		return "the services database"
	}
	return r.db.Source
}

// parseRange reads "PORT" or "LOW-HIGH". isNum reports whether spec is
// meant as a number (it starts with a digit or a sign) rather than a
// service name; msg is the problem with it, if any.
func parseRange(spec string) (low, high int, isNum bool, msg string) {
	if spec[0] != '+' && spec[0] != '-' && (spec[0] < '0' || spec[0] > '9') {
		return 0, 0, false, ""
	}
	lowText, highText, isRange := strings.Cut(spec, "-")
	if spec[0] == '-' {
		return 0, 0, true, "bad port " + strconv.Quote(spec) + ": no sign allowed"
	}
	low, msg = parsePort(lowText)
	if msg != "" {
		return 0, 0, true, msg
	}
	if !isRange {
		return low, low, true, ""
	}
	high, msg = parsePort(highText)
	if msg != "" {
		return 0, 0, true, msg
	}
	if low > high {
		return 0, 0, true, "bad port range " + strconv.Quote(spec) + ": " + lowText + " is above " + highText
	}
	return low, high, true, ""
}

// parsePort reads a decimal port 1..65535.
func parsePort(s string) (int, string) {
	if s == "" {
		return 0, "missing port number"
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, "bad port " + strconv.Quote(s) + ": decimal digits only"
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, "bad port " + strconv.Quote(s) + ": leading zero"
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, "port " + s + " out of range 1-65535"
	}
	return n, ""
}

// add records a reservation unless its name already has the port; a port
// another name has claimed is recorded for both names and reported.
func (r *reader) add(res Reservation) {
	k := r.claimKey(res)
	if i, ok := r.seen[k]; ok {
		r.warn(res.File, res.Line, func() string {
			return portText(res) + " already listed at " + r.cfg.Reservations[i].Source()
		})
		return
	}
	if c, ok := r.wildcardConflict(res, k); ok {
		other := &r.cfg.Reservations[c]
		r.problem(res.File, res.Line, false, portText(res)+" conflicts with "+portText(*other)+" of "+other.Name+" ("+other.Source()+
			"): a port cannot be bound on every address and on one address at once; write one of them")
		return
	}
	i := len(r.cfg.Reservations)
	r.seen[k] = i
	if c, ok := r.claims[k]; ok {
		first := &r.cfg.Reservations[c]
		r.warn(res.File, res.Line, func() string {
			return portText(res) + " is also claimed by " + first.Name + " (" + first.Source() + "); held once, released by either name"
		})
	} else {
		r.claims[k] = i
	}
	r.cfg.Reservations = append(r.cfg.Reservations, res)
}

// claimKey identifies the socket that holds res: its address's index in
// r.addrs, its port and its protocol. Configurations name few addresses,
// so a key stays an integer even for ranges of thousands of ports.
func (r *reader) claimKey(res Reservation) uint64 {
	return uint64(r.addrIndex(res.Addr))<<32 | uint64(res.Port)<<8 | uint64(res.Proto)
}

// wildcardConflict finds the reservation that res, whose claimKey is k,
// cannot be bound beside: the same port and protocol on every address when
// res names an address, or on an address when res is for every address.
func (r *reader) wildcardConflict(res Reservation, k uint64) (claim, bool) {
	port := k & (1<<32 - 1) // the key of the port on every address (index 0)
	if res.Addr != inetaddr.Any {
		c, ok := r.claims[port]
		return c, ok
	}
	for i := 1; i < len(r.addrs); i++ {
		if c, ok := r.claims[uint64(i)<<32|port]; ok {
			return c, true
		}
	}
	return 0, false
}

// MaxAddresses is how many addresses, Any among them, a configuration may
// name: more is no real configuration, and the reader keeps them in a short
// list it searches for every line and every port on every address.
const MaxAddresses = 255

// addrIndex returns a's index in r.addrs, adding it, or -1 when there are
// MaxAddresses already.
func (r *reader) addrIndex(a inetaddr.Addr) int {
	for i, x := range r.addrs {
		if x == a {
			return i
		}
	}
	if len(r.addrs) == MaxAddresses {
		return -1
	}
	r.addrs = append(r.addrs, a)
	return len(r.addrs) - 1
}

// portText is "631/tcp", or "127.0.0.1:631/tcp".
func portText(res Reservation) string {
	return res.Addr.HostPort(int(res.Port)) + "/" + res.Proto.String()
}

// hostLookup is what HostsFile gave a host name.
type hostLookup struct {
	addrs []inetaddr.Addr
	err   error
}

// hostAddrs reads the address part of a line, before the last ':': an
// IPv4 address, an IPv6 address in brackets, or a host name looked up in
// HostsFile (named). msg says what is wrong with it.
func (r *reader) hostAddrs(host string) (addrs []inetaddr.Addr, named bool, msg string) {
	switch {
	case host == "":
		return nil, false, "missing address before ':'"
	case host[0] == '[':
		a, ok := inetaddr.Any, false
		if host[len(host)-1] == ']' {
			a, ok = inetaddr.Parse(host[1 : len(host)-1])
		}
		if !ok || a.Is4() {
			return nil, false, "bad IPv6 address " + host
		}
		addrs = []inetaddr.Addr{a}
	case strings.IndexByte(host, ':') >= 0:
		return nil, false, "IPv6 address without brackets: write [" + host + "]:PORT"
	case host[0] >= '0' && host[0] <= '9':
		a, ok := inetaddr.Parse(host)
		if !ok {
			return nil, false, "bad IPv4 address " + host
		}
		addrs = []inetaddr.Addr{a}
	default:
		named = true
		found, ok := r.hosts[host]
		if !ok {
			// Once a Read: every line naming localhost would read
			// the file again.
			found.addrs, found.err = inetaddr.Lookup(HostsFile, host)
			if r.hosts == nil {
				r.hosts = map[string]hostLookup{}
			}
			r.hosts[host] = found
		}
		switch {
		case found.err == inetaddr.ErrNoHost:
			return nil, false, "unknown host " + host + ": not in " + HostsFile
		case found.err != nil:
			return nil, false, "unknown host " + host + ": " + HostsFile + ": " + ErrText(found.err)
		}
		addrs = found.addrs
	}
	for _, a := range addrs {
		if a.IsUnspecified() {
			return nil, false, host + " is every address: leave the address out to hold the port on all of them"
		}
	}
	return addrs, named, ""
}
