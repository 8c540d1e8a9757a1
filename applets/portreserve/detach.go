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
//
// The daemon inherits nothing else from its caller, as daemon(7) asks:
// descriptors the caller left open without close-on-exec (a log file, a
// terminal, a secret) are marked close-on-exec first, so that the exec
// closes them. Only -N's descriptor is passed on, at its own number.
func detach(args []string, env *applets.Env, notifyFd int) int {
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
	files, statusAt := childFiles(null, pipe[1], notifyFd)
	closeInherited()
	pid, err := syscall.ForkExec(exe, append([]string{"portreserve"}, args...), &syscall.ProcAttr{
		Env:   append(env.Without(statusFdEnv), statusFdEnv+"="+strconv.Itoa(statusAt)),
		Files: files,
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
	// The daemon closes its end right after the status: wait for that
	// too, so that when this returns it holds nothing of the caller's
	// (a check of its descriptors caught the pipe still open).
	var drain [1]byte
	for n == 1 {
		if m, err := unix.Read(pipe[0], drain[:]); err != unix.EINTR && (m <= 0 || err != nil) {
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

// childFiles lays out the detached daemon's descriptors: /dev/null as
// stdin and stdout, the caller's stderr, the status pipe at 3 (4 when -N
// uses 3) and -N's descriptor, if any, at its own number. It returns them
// for ProcAttr.Files and where the status pipe is.
func childFiles(null, status, notifyFd int) (files []uintptr, statusAt int) {
	files = []uintptr{uintptr(null), uintptr(null), 2}
	put := func(at int, fd uintptr) {
		for len(files) <= at {
			files = append(files, ^uintptr(0)) // closed in the child
		}
		files[at] = fd
	}
	statusAt = 3
	if notifyFd == 3 {
		statusAt = 4
	}
	put(statusAt, uintptr(status))
	if notifyFd >= 3 {
		put(notifyFd, uintptr(notifyFd))
	}
	return files, statusAt
}

// closeInherited marks every descriptor from 3 up close-on-exec, so that
// the re-executed daemon inherits only what ProcAttr.Files passes: with
// close_range(2) (Linux 5.11), else descriptor by descriptor from
// /proc/self/fd, else up to the descriptor limit.
func closeInherited() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	cloexec := func(fd int) { unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC) }
	if names, err := rawfs.Names("/proc/self/fd"); err == nil {
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && fd >= 3 {
				cloexec(fd)
			}
		}
		return
	}
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	for fd := 3; uint64(fd) < min(rl.Cur, 1<<16); fd++ {
		cloexec(fd)
	}
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
