// Package dirent lists directories with getdents(2) directly.
//
// os.ReadDir and friends return os.FileInfo values, and with them bring
// time formatting and time zone loading into the binary (about 100 kB of a
// 1.5 MB binary); the applets only ever need the names.
package dirent

import "golang.org/x/sys/unix"

// Names returns the names in dir, without "." and "..", in the order the
// file system gives them.
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
