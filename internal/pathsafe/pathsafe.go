// Package pathsafe tells whether another user could replace what a path
// leads to, the way sshd's StrictModes judges a user's files: every
// directory on the way must be owned by root or by the user itself and
// writable by nobody else, unless it is sticky (like /tmp: there, others
// cannot rename or remove what they do not own).
//
// In a user namespace other than the initial one (an unprivileged
// `unshare -r`, a rootless container), the owners the namespace does not
// map, root among them, all show as the overflow uid (65534): there, a
// directory owned by it counts as root's, as "/" and "/tmp" are, provided
// nobody else may write it. A daemon run as root on the host is in the
// initial namespace and judged without this.
package pathsafe

import (
	"os"
	"path/filepath"
	"portreserve/internal/rawfs"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Problem is a directory on a path that another user could use to replace
// what lies below it.
type Problem struct {
	Dir string
	Why string // "owned by uid 1000", "writable by group 100", "writable by every user"
}

func (p *Problem) Error() string {
	return p.Dir + ": " + p.Why
}

// Dirs checks dir and every directory above it, following symbolic links,
// for a user uid (the daemon's or the checker's effective uid), and
// returns the problems, nearest first.
func Dirs(dir string, uid int) []*Problem {
	var out []*Problem
	dir = filepath.Clean(dir)
	for {
		if p := check(dir, uid); p != nil {
			out = append(out, p)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return out
		}
		dir = parent
	}
}

// check judges one directory.
func check(dir string, uid int) *Problem {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		if err == unix.ENOENT {
			return nil // nothing there for anyone to replace yet
		}
		return &Problem{Dir: dir, Why: (&os.PathError{Op: "stat", Path: dir, Err: err}).Err.Error()}
	}
	sticky := st.Mode&unix.S_ISVTX != 0
	switch {
	case st.Uid != 0 && int(st.Uid) != uid && !(st.Uid == unmappedUID() && (st.Mode&0o022 == 0 || sticky)):
		return &Problem{Dir: dir, Why: "owned by uid " + strconv.Itoa(int(st.Uid))}
	case st.Mode&0o002 != 0 && !sticky:
		return &Problem{Dir: dir, Why: "writable by every user"}
	case st.Mode&0o020 != 0 && !sticky:
		return &Problem{Dir: dir, Why: "writable by group " + strconv.Itoa(int(st.Gid))}
	}
	return nil
}

// unmappedUID returns the uid that the owners this process's user
// namespace does not map show as, when it is not the initial namespace;
// otherwise (uid_t)-1, which no file has.
var unmappedUID = sync.OnceValue(func() uint32 {
	m, err := rawfs.ReadFile("/proc/self/uid_map", 4096)
	if err != nil || initialUIDMap(string(m)) {
		return 1<<32 - 1
	}
	o, err := rawfs.ReadFile("/proc/sys/kernel/overflowuid", 64)
	if err != nil {
		return 1<<32 - 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(o)))
	if err != nil {
		return 1<<32 - 1
	}
	return uint32(n)
})

// initialUIDMap reports whether uid_map is the initial user namespace's:
// every uid mapped to itself ("0 0 4294967295").
func initialUIDMap(m string) bool {
	f := strings.Fields(m)
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}
