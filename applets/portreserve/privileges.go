package portreserve

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// keptCapability is the one capability the daemon keeps once its ports are
// held: it binds ports below 1024 again for portreserve NAME and reload.
// Everything else it does afterwards needs none: it answers on sockets it
// has, removes its own pidfile and socket, reads world-readable files.
const keptCapability = unix.CAP_NET_BIND_SERVICE

// dropPrivileges leaves the daemon only keptCapability, in its bounding,
// permitted and effective sets (none inheritable or ambient), and sets
// no_new_privs, on every thread of the process: capabilities belong to
// threads, and the Go runtime runs several (syscall.AllThreadsSyscall
// needs a binary without cgo, which this one is). In an initramfs or a
// container nobody else drops them. A daemon started without root but
// with CAP_NET_BIND_SERVICE cannot change its bounding set (that needs
// CAP_SETPCAP) and leaves it; no_new_privs still keeps anything it might
// exec from gaining privileges.
func dropPrivileges() error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		return os.NewSyscallError("prctl PR_SET_NO_NEW_PRIVS", e)
	}
	for c := uintptr(0); c < 64; c++ {
		if c == keptCapability {
			continue
		}
		_, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0)
		if e == unix.EINVAL {
			break // past the kernel's last capability
		}
		if e == unix.EPERM {
			break // no CAP_SETPCAP: not root
		}
		if e != 0 {
			return os.NewSyscallError("prctl PR_CAPBSET_DROP", e)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capget", err)
	}
	keep := data[0].Permitted & (1 << keptCapability)
	if data[0].Permitted == keep && data[0].Effective == keep && data[0].Inheritable == 0 && data[1] == (unix.CapUserData{}) {
		return nil // nothing more to drop: a service manager did it
	}
	data[0] = unix.CapUserData{Effective: keep, Permitted: keep}
	data[1] = unix.CapUserData{}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return os.NewSyscallError("capset", e)
	}
	return nil
}
