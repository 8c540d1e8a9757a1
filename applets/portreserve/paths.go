package portreserve

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"portreserve/internal/pathsafe"
)

// checkSocketDir refuses a socket directory that another user could have
// prepared: a symbolic link (Lstat: never followed), a directory owned by
// another user, or one that others may write to (they could replace the
// socket), unless it is sticky like /tmp; and the same of every directory
// above it (pathsafe: a directory of another user's above it lets that
// user replace the whole tree).
func checkSocketDir(dir string) error {
	if err := checkLeaf(dir); err != nil {
		return err
	}
	if problems := pathsafe.Dirs(filepath.Dir(dir), os.Geteuid()); len(problems) > 0 {
		return &os.PathError{Op: "socket directory", Path: dir, Err: errors.New("above it, " + problems[0].Error() + "; refusing it")}
	}
	return nil
}

// checkLeaf is checkSocketDir for the directory itself.
func checkLeaf(dir string) error {
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
	case int(st.Uid) != os.Geteuid() && st.Uid != 0:
		return refuse("owned by uid " + itoa(int(st.Uid)))
	case st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0:
		return refuse("writable by others")
	}
	return nil
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
