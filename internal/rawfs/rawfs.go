// Package rawfs lists directories and reads files without os.FileInfo.
//
// os.ReadDir, os.Stat and os.ReadFile (which stats the file for a size
// hint) all return or build os.FileInfo values, and with them bring time
// formatting and time zone loading into the binary: about 100 kB of a
// 1.5 MB binary. The applets only ever need names and contents.
package rawfs

import (
	"errors"
	"io"
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

// ReadFile reads the whole of path, refusing more than limit bytes with
// ErrTooLarge (wrapped in an *os.PathError) rather than reading a huge
// file into memory.
func ReadFile(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if len(data) > limit {
		return nil, &os.PathError{Op: "read", Path: path, Err: ErrTooLarge}
	}
	return data, nil
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
