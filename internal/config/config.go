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
	"strconv"
	"strings"

	"portreserve/internal/inetaddr"
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
	Name string // release name: the file name
	inetaddr.Endpoint
	Named bool   // Addr is one a host name gave
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
	// or '~' (editor backups, package-manager leftovers); those that are
	// not Leftover get a warning in Problems too.
	Skipped []string
	// Absent says the directory does not exist (an empty
	// configuration, which a daemon that holds nothing may mean to be).
	Absent bool
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

// reader carries the state of one Read.
type reader struct {
	cfg *Config
	// load reads the services database; db and dbErr are what it
	// returned, once a line named a service.
	load  LoadServices
	db    *services.DB
	dbErr error
	// claims and seen map an endpoint to the reservation that claimed
	// it first, an index into cfg.Reservations (so that no FILE:LINE
	// string is built per port of a large range unless a message needs
	// it): in the whole configuration, and in the current file.
	claims map[inetaddr.Endpoint]int
	seen   map[inetaddr.Endpoint]int
	addrs  []inetaddr.Addr       // the addresses met so far, Any first
	hosts  map[string]hostLookup // host names looked up in HostsFile
	// shown and unshown count the current file's line problems, errors
	// [0] and warnings [1]: shown, and past MaxWarnings, only counted.
	shown, unshown [2]int
}

// MaxWarnings is how many line errors, and how many line warnings, one
// file gets; the rest of each are counted in one more. A file of 200,000
// duplicate lines cost 400,000 log lines and hundreds of megabytes of
// messages; a 1 MiB file of bad lines, 262,145 log lines at every read.
const MaxWarnings = 20

// LoadServices returns the services database to resolve names with, and,
// if not nil, why it could not be read (the database may then be nil).
type LoadServices func() (*services.DB, error)

// Loaded is a LoadServices for a database read already.
func Loaded(db *services.DB, err error) LoadServices {
	return func() (*services.DB, error) { return db, err }
}

// Keep narrows c to the release names asked for (portreserve NAME...,
// portreserve-check NAME...): their files, their reservations and the
// problems about their files, and about a skipped file named after one of
// them (cups.conf for cups: likely why cups has no file). It returns the
// names that have no file, in the order asked. No names keeps everything.
func (c *Config) Keep(names []string) (unknown []string) {
	if len(names) == 0 {
		return nil
	}
	asked := map[string]bool{}
	for _, n := range names {
		asked[n] = true
	}
	var files []File
	paths := map[string]bool{}
	for _, f := range c.Files {
		if asked[f.Name] {
			files = append(files, f)
			paths[f.Path] = true
			delete(asked, f.Name)
		}
	}
	for _, n := range names {
		paths[c.Dir+"/"+n] = true
		for _, s := range c.Skipped {
			if strings.HasPrefix(s, c.Dir+"/"+n+".") {
				paths[s] = true
			}
		}
		if asked[n] {
			unknown = append(unknown, n)
			delete(asked, n)
		}
	}
	var res []Reservation
	for _, r := range c.Reservations {
		if paths[r.File] {
			res = append(res, r)
		}
	}
	var problems []Problem
	for _, p := range c.Problems {
		if paths[p.File] {
			problems = append(problems, p)
		}
	}
	c.Files, c.Reservations, c.Problems = files, res, problems
	return unknown
}
