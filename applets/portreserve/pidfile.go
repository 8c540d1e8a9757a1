package portreserve

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultPidfile is the daemon's pidfile unless told otherwise.
const DefaultPidfile = "/run/portreserve.pid"

// pidfile is a pidfile the daemon holds an flock(2) on for its lifetime.
// The lock, not the file's existence, says whether a daemon runs: after a
// kill -9 the kernel drops the lock, and the next daemon takes the file
// over without guessing from the pid in it.
type pidfile struct {
	path string
	fd   int
}

// runningError says another daemon holds the pidfile.
type runningError struct {
	path string
	pid  int // 0 when the file holds no pid yet
}

func (e *runningError) Error() string {
	if e.pid == 0 {
		return "already running (" + e.path + " is locked)"
	}
	return "already running (pid " + strconv.Itoa(e.pid) + ")"
}

// lockPidfile opens and locks path and writes this process's pid into it.
// It refuses to follow a symbolic link, and a file another user owns.
func lockPidfile(path string) (*pidfile, error) {
	for attempt := 0; attempt < 3; attempt++ {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			pid := readPid(fd)
			unix.Close(fd)
			if err == unix.EWOULDBLOCK {
				return nil, &runningError{path: path, pid: pid}
			}
			return nil, &os.PathError{Op: "lock", Path: path, Err: err}
		}
		// The previous owner may have removed the file between our open
		// and our lock; then the lock is on a file nobody else will
		// see, so start again.
		var st, pst unix.Stat_t
		if unix.Fstat(fd, &st) != nil || unix.Lstat(path, &pst) != nil || st.Ino != pst.Ino || st.Dev != pst.Dev {
			unix.Close(fd)
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
		}
		// A hard link to another file would have that file overwritten.
		if st.Nlink != 1 {
			unix.Close(fd)
			return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("has " + strconv.Itoa(int(st.Nlink)) + " links (a hard link to another file?); refusing it")}
		}
		// A pidfile someone else owns was put there by someone else:
		// refuse it rather than write into it.
		if int(st.Uid) != os.Geteuid() {
			unix.Close(fd)
			return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("owned by uid " + strconv.Itoa(int(st.Uid)) + ", not by this user; refusing it")}
		}
		p := &pidfile{path: path, fd: fd}
		pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
		if err := unix.Ftruncate(fd, 0); err != nil {
			p.remove()
			return nil, &os.PathError{Op: "truncate", Path: path, Err: err}
		}
		// A full file system: no empty, unlocked pidfile is left behind.
		if n, err := unix.Pwrite(fd, pid, 0); err != nil || n != len(pid) {
			p.remove()
			if err == nil {
				err = unix.ENOSPC
			}
			return nil, &os.PathError{Op: "write", Path: path, Err: err}
		}
		return p, nil
	}
	return nil, &os.PathError{Op: "lock", Path: path, Err: errors.New("file keeps being replaced")}
}

// readPid reads the pid a pidfile holds, 0 if none.
func readPid(fd int) int {
	buf := make([]byte, 32)
	n, _ := unix.Pread(fd, buf, 0)
	if n <= 0 {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}

// remove deletes the pidfile and then drops the lock, so that a daemon
// starting meanwhile never locks a file that is about to vanish.
func (p *pidfile) remove() {
	if p == nil {
		return
	}
	os.Remove(p.path)
	unix.Close(p.fd)
}
