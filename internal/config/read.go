package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"portreserve/internal/inetaddr"
	"portreserve/internal/rawfs"
	"portreserve/ipc"
)

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
		cfg.Absent = true
		return cfg, nil
	}
	if err != nil {
		return cfg, &fs.PathError{Op: "read directory", Path: dir, Err: err}
	}
	sortNames(names)
	r := &reader{cfg: cfg, load: load, claims: map[inetaddr.Endpoint]int{}, addrs: []inetaddr.Addr{inetaddr.Any}}
	for _, name := range names {
		r.readEntry(filepath.Join(dir, name), name)
	}
	return cfg, nil
}

// sortNames sorts a directory's file names, by insertion: a configuration
// directory holds a few files (10,000 sort in a tenth of a second), and
// sort.Strings would add 12 kB to the binary for this one call.
func sortNames(names []string) {
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
}

func (r *reader) problem(file string, line int, warning bool, msg string) {
	r.cfg.Problems = append(r.cfg.Problems, Problem{File: file, Line: line, Msg: msg, Warning: warning})
}

// lineProblem records an error, or a warning, about a line of the current
// file, building its message only if it is among the file's first
// MaxWarnings of its kind.
func (r *reader) lineProblem(file string, line int, warning bool, msg func() string) {
	k := 0
	if warning {
		k = 1
	}
	if r.shown[k] >= MaxWarnings {
		r.unshown[k]++
		return
	}
	r.shown[k]++
	r.problem(file, line, warning, msg())
}

// Leftover reports whether a file name the reader skips is one that
// editors and package managers leave behind (cups~, .cups.swp,
// cups.dpkg-old, cups.rpmnew, cups.orig, cups.bak): skipping it is
// expected. Any other skipped name (cups.conf) is likely a file meant to
// be read, and worth a warning.
func Leftover(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || strings.Contains(name, ".dpkg-") || strings.Contains(name, ".ucf-") {
		return true
	}
	for _, ext := range []string{".rpmnew", ".rpmsave", ".orig", ".bak", ".old", ".swp", ".tmp", ".new", ".save"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// readEntry reads one directory entry, if it is a service file.
func (r *reader) readEntry(path, name string) {
	if strings.ContainsAny(name, ".~") {
		r.cfg.Skipped = append(r.cfg.Skipped, path)
		if !Leftover(name) {
			r.problem(path, 0, true, "skipped: a file whose name has '.' or '~' is never read (those are editors' and packages' leftovers); name it after the service's release name")
		}
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
	r.seen = map[inetaddr.Endpoint]int{}
	r.shown, r.unshown = [2]int{}, [2]int{}
	defer func() {
		if n := r.unshown[0]; n > 0 {
			r.problem(path, 0, false, strconv.Itoa(n)+" more errors about its lines not shown")
		}
		if n := r.unshown[1]; n > 0 {
			r.problem(path, 0, true, strconv.Itoa(n)+" more warnings about its lines not shown")
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
		r.addLine(name, path, lineNo, line)
	}
}

// addLine adds the reservations of one non-blank line, or reports what is
// wrong with it.
func (r *reader) addLine(name, path string, line int, text string) {
	l, err := ParseLine(text)
	if err != nil {
		r.lineProblem(path, line, false, err.Error)
		return
	}
	addrs, named, msg := r.addrsOf(&l)
	if msg != "" {
		r.lineProblem(path, line, false, func() string { return msg + " in " + strconv.Quote(text) })
		return
	}
	add := func(port uint16, proto inetaddr.Proto) {
		for _, a := range addrs {
			r.add(Reservation{Name: name, Endpoint: inetaddr.Endpoint{Addr: a, Port: port, Proto: proto}, Named: named, File: path, Line: line})
		}
	}
	if l.Service != "" {
		r.addService(&l, path, line, add)
		return
	}
	for _, proto := range l.protos() {
		for p := int(l.Low); p <= int(l.High); p++ {
			add(uint16(p), proto)
		}
	}
}
