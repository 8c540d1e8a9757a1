// Package pathsafe tells whether another user could replace what a path
// leads to, the way sshd's StrictModes judges a user's files: every
// directory on the way must be owned by root or by the user itself and
// writable by nobody else, unless it is sticky (like /tmp: there, others
// cannot rename or remove what they do not own).
package pathsafe

import (
	"os"
	"path/filepath"
	"strconv"

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
	case st.Uid != 0 && int(st.Uid) != uid:
		return &Problem{Dir: dir, Why: "owned by uid " + strconv.Itoa(int(st.Uid))}
	case st.Mode&0o002 != 0 && !sticky:
		return &Problem{Dir: dir, Why: "writable by every user"}
	case st.Mode&0o020 != 0 && !sticky:
		return &Problem{Dir: dir, Why: "writable by group " + strconv.Itoa(int(st.Gid))}
	}
	return nil
}
