// Package rawfs lists directories and reads files without os.FileInfo.
//
// os.ReadDir, os.Stat and os.ReadFile (which stats the file for a size
// hint) all return or build os.FileInfo values, and with them bring time
// formatting and time zone loading into the binary: about 100 kB of a
// 1.5 MB binary. The applets only ever need names and contents.
package rawfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Names returns the names in dir, without "." and "..", in the order the
// file system gives them. It calls getdents(2) directly.
func Names(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// ErrTooLarge is returned by ReadFile for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads the whole of path, a regular file (see OpenRegular),
// refusing more than limit bytes with ErrTooLarge (wrapped in an
// *os.PathError) rather than reading a huge file into memory.
func ReadFile(path string, limit int) ([]byte, error) {
	fd, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return ReadFd(fd, path, limit)
}

// ErrNotRegular is returned by OpenRegular for anything but a regular file
// or a directory (EISDIR).
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading, following symbolic links, and checks
// on the open descriptor (fstat, so that nothing can be swapped in between)
// that it is a regular file. O_NONBLOCK makes a FIFO or a device put there
// fail the check instead of blocking the open: a FIFO swapped in for a
// configuration file hung the daemon's start for good.
func OpenRegular(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return fd, nil
	case unix.S_IFDIR:
		unix.Close(fd)
		return -1, &os.PathError{Op: "read", Path: path, Err: unix.EISDIR}
	}
	unix.Close(fd)
	return -1, &os.PathError{Op: "open", Path: path, Err: ErrNotRegular}
}

// ReadFd reads what is left of the open file fd, refusing more than limit
// bytes with ErrTooLarge; path names it in errors. The caller closes fd.
func ReadFd(fd int, path string, limit int) ([]byte, error) {
	data := make([]byte, 0, min(limit+1, 4096))
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := unix.Read(fd, data[len(data):min(cap(data), limit+1)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return data, nil
		}
		data = data[:len(data)+n]
		if len(data) > limit {
			return nil, &os.PathError{Op: "read", Path: path, Err: ErrTooLarge}
		}
	}
}

// LookPath finds the executable file name would run: name itself when it
// contains a slash, else the first executable name in a directory of
// pathList (the value of $PATH). It is exec.LookPath without the os/exec
// package, which the binary does without.
func LookPath(name, pathList string) (string, error) {
	if strings.Contains(name, "/") {
		if err := unix.Access(name, unix.X_OK); err != nil {
			return "", &os.PathError{Op: "exec", Path: name, Err: err}
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && unix.Access(p, unix.X_OK) == nil {
			return p, nil
		}
	}
	return "", &os.PathError{Op: "exec", Path: name, Err: errors.New("not found in $PATH")}
}
