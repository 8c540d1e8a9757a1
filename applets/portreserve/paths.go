package portreserve

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"portreserve/internal/pathsafe"
)

// checkSocketDir refuses a socket directory that another user could have
// prepared: a symbolic link (Lstat: never followed), not a directory, or a
// directory that pathsafe finds another user could replace the socket in,
// or, for a directory above it, the whole tree: owned by another user, or
// writable by others unless sticky like /tmp.
func checkSocketDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	refuse := func(why string) error {
		return &os.PathError{Op: "socket directory", Path: dir, Err: errors.New(why + "; refusing it")}
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return refuse("a symbolic link")
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return refuse("not a directory")
	}
	problems := pathsafe.Dirs(dir, os.Geteuid())
	switch {
	case len(problems) == 0:
		return nil
	case problems[0].Dir == filepath.Clean(dir):
		return refuse(problems[0].Why)
	}
	return refuse("above it, " + problems[0].Error())
}

// mkdirParents creates dir and any missing parent, mode 0755, as an empty
// root or an initramfs without /run needs. Existing directories are left
// as they are.
func mkdirParents(dir string) error {
	var st unix.Stat_t
	if unix.Stat(dir, &st) == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirParents(parent); err != nil {
			return err
		}
	}
	if err := unix.Mkdir(dir, 0o755); err != nil && err != unix.EEXIST {
		return &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}
