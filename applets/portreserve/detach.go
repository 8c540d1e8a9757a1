package portreserve

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"portreserve/applets"
	"portreserve/internal/rawfs"
)

// statusFdEnv tells a re-executed daemon which descriptor to report its
// start-up status on. It is removed from the environment as soon as read.
const statusFdEnv = "PORTRESERVE_STATUS_FD"

// detach starts the daemon in the background and waits for it to be ready.
//
// Go cannot fork, so the daemon re-executes its own binary in a new
// session with stdin and stdout on /dev/null, and a pipe on descriptor 3.
// Until it is ready, the child writes its messages to the caller's stderr;
// once every reservation has been tried it moves stderr to /dev/null too and
// writes one status byte ('0' all held, '1' some failed, '3' some pending)
// on the pipe. The
// parent exits with that status, so that the next line of an init script
// can rely on the ports being held, with no sleep anywhere. If the child
// exits before it is ready (nothing to reserve, already running, an error)
// the pipe closes empty and the parent exits with the child's status.
func detach(args []string, env *applets.Env) int {
	exe, err := selfPath(env.Getenv("PATH"))
	if err != nil {
		io.WriteString(env.Stderr, "portreserve: cannot re-execute itself to detach: "+err.Error()+"; use -f to stay in the foreground\n")
		return 2
	}
	// syscall.ForkExec rather than os.StartProcess: the os layer (process
	// handles, pidfds, ProcessState) adds about 100 kB to the binary.
	null, err := nullFd()
	if err != nil {
		io.WriteString(env.Stderr, "portreserve: "+err.Error()+"\n")
		return 2
	}
	defer unix.Close(null)
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		io.WriteString(env.Stderr, "portreserve: pipe: "+err.Error()+"\n")
		return 2
	}
	pid, err := syscall.ForkExec(exe, append([]string{"portreserve"}, args...), &syscall.ProcAttr{
		Env:   append(env.Without(statusFdEnv), statusFdEnv+"=3"),
		Files: []uintptr{uintptr(null), uintptr(null), 2, uintptr(pipe[1])},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	unix.Close(pipe[1])
	if err != nil {
		unix.Close(pipe[0])
		io.WriteString(env.Stderr, "portreserve: exec "+exe+": "+err.Error()+"\n")
		return 2
	}
	status := make([]byte, 1)
	n := 0
	for {
		n, err = unix.Read(pipe[0], status)
		if err != unix.EINTR {
			break
		}
	}
	unix.Close(pipe[0])
	if n == 1 && (status[0] == '0' || status[0] == '1' || status[0] == '0'+statusPending) {
		return int(status[0] - '0')
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	switch {
	case err != nil:
		io.WriteString(env.Stderr, "portreserve: wait: "+err.Error()+"\n")
		return 2
	case ws.Exited():
		return ws.ExitStatus()
	}
	io.WriteString(env.Stderr, "portreserve: daemon died during start-up: "+ws.Signal().String()+"\n")
	return 2
}

// nullFd opens /dev/null for the daemon's standard descriptors. Without
// one (an empty root, an initramfs before devtmpfs) it returns the read end
// of a pipe whose write end is closed: reading it gives end of file, and
// writing it fails with EBADF, which is what the daemon needs. (Leaving the
// descriptors closed is not an option: the Go runtime refuses to start
// without descriptors 0, 1 and 2.)
func nullFd() (int, error) {
	if fd, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		return fd, nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, os.NewSyscallError("pipe", err)
	}
	unix.Close(p[1])
	return p[0], nil
}

// selfPath returns the path of the running binary: /proc/self/exe's
// target, or argv[0] looked up in pathList ($PATH) where /proc is not
// mounted.
func selfPath(pathList string) (string, error) {
	if exe, err := os.Executable(); err == nil {
		return exe, nil
	}
	p, err := rawfs.LookPath(os.Args[0], pathList)
	if err != nil {
		return "", errors.New(err.Error() + ", and /proc/self/exe is unreadable")
	}
	return absPath(p)
}

// statusFd returns the descriptor a detaching parent waits on, or -1 when
// this process was not started by detach.
func statusFd(env *applets.Env) int {
	v, ok := env.LookupEnv(statusFdEnv)
	if !ok {
		return -1
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return -1
	}
	return fd
}

// absPath makes path absolute against the working directory. It is
// filepath.Abs without os.Getwd, whose os.Stat of "." would bring
// os.FileInfo and time formatting into the binary.
func absPath(path string) (string, error) {
	if filepath.IsAbs(path) {
		return filepath.Clean(path), nil
	}
	wd, err := unix.Getwd()
	if err != nil {
		return "", os.NewSyscallError("getwd", err)
	}
	return filepath.Join(wd, path), nil
}
