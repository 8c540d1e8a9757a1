package portreservecheck

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"portreserve/internal/config"
	"portreserve/internal/pathsafe"
	"portreserve/internal/rawfs"
)

// bindresvport(3) takes ports from 512 to 1023 (600-1023 first).
const (
	resvLow  = 512
	resvHigh = 1023
)

// warnings returns the warnings beyond the reader's own: ports that
// bindresvport never takes or skips anyway, ranges in the ephemeral range,
// configuration files others can write, files skipped for names that look
// meant to be read (cups.conf), and with -v every file skipped.
func (c *check) warnings(cfg *config.Config) []config.Problem {
	var out []config.Problem
	ephLow, ephHigh := ephemeralRange(c.proc)
	black := readBlacklist(c.o.blacklist)
	// One warning per line and kind, however many ports a range covers.
	type lineKey struct {
		file string
		line int
	}
	outside := map[lineKey][]string{}
	listed := map[lineKey][]string{}
	// The lowest and highest ports of a line in the ephemeral range: a
	// line's ports are one port or a range, so these say how many.
	ephemeral := map[lineKey][2]int{}
	last := map[lineKey]string{} // a line's last port: one per address
	var order []lineKey
	for _, r := range cfg.Reservations {
		k := lineKey{r.File, r.Line}
		if _, ok := outside[k]; !ok {
			if _, ok := listed[k]; !ok {
				if _, ok := ephemeral[k]; !ok {
					order = append(order, k)
				}
			}
		}
		p := int(r.Port)
		pp := strconv.Itoa(p) + "/" + r.Proto.String()
		if last[k] == pp {
			continue // the same port on the line's next address
		}
		last[k] = pp
		if (p < resvLow || p > resvHigh) && (p < ephLow || p > ephHigh) {
			outside[k] = append(outside[k], pp)
		}
		if black[p] {
			listed[k] = append(listed[k], pp)
		}
		if p >= ephLow && p <= ephHigh {
			if r, ok := ephemeral[k]; ok {
				ephemeral[k] = [2]int{min(r[0], p), max(r[1], p)}
			} else {
				ephemeral[k] = [2]int{p, p}
			}
		}
	}
	for _, k := range order {
		if ports := outside[k]; len(ports) > 0 {
			subject, it := portList(ports)
			out = append(out, config.Problem{File: k.file, Line: k.line, Warning: true,
				Msg: subject + " outside " + strconv.Itoa(resvLow) + "-" + strconv.Itoa(resvHigh) +
					" and the ephemeral range " + strconv.Itoa(ephLow) + "-" + strconv.Itoa(ephHigh) +
					": bindresvport never takes " + it + ", so the reservation only guards against other explicit binds"})
		}
		if r, ok := ephemeral[k]; ok && r[1] > r[0] {
			n := r[1] - r[0] + 1
			out = append(out, config.Problem{File: k.file, Line: k.line, Warning: true,
				Msg: strconv.Itoa(n) + " ports of this line are in the ephemeral range " + strconv.Itoa(ephLow) + "-" + strconv.Itoa(ephHigh) +
					" (net.ipv4.ip_local_port_range): each one held is one fewer for outgoing connections; hold a range outside it, or narrow the range"})
		}
		if ports := listed[k]; len(ports) > 0 {
			subject, it := portList(ports)
			out = append(out, config.Problem{File: k.file, Line: k.line, Warning: true,
				Msg: subject + " listed in " + c.o.blacklist + ": bindresvport skips " + it + " already"})
		}
	}
	out = append(out, c.permissionWarnings(cfg)...)
	if c.o.verbose {
		// The others were warned about by the reader.
		for _, path := range cfg.Skipped {
			if config.Leftover(filepath.Base(path)) {
				out = append(out, config.Problem{File: path, Warning: true, Msg: "skipped: the name contains '.' or '~'"})
			}
		}
	}
	return out
}

// portList names the first port and how many more there are, as the
// subject of a sentence, and the pronoun that stands for it.
func portList(ports []string) (subject, it string) {
	if len(ports) == 1 {
		return "port " + ports[0] + " is", "it"
	}
	return "ports " + ports[0] + " and " + strconv.Itoa(len(ports)-1) + " more are", "them"
}

// permissionWarnings reports configuration files that a user other than
// root or the directory's owner can write: whoever can write them chooses
// which ports root holds and frees.
func (c *check) permissionWarnings(cfg *config.Config) []config.Problem {
	var out []config.Problem
	var dir unix.Stat_t
	if unix.Stat(cfg.Dir, &dir) != nil {
		return nil
	}
	trusted := func(uid uint32) bool { return uid == 0 || uid == dir.Uid }
	// The directory and every one above it, as sshd's StrictModes: a
	// user who can replace any of them chooses the configuration.
	for _, p := range pathsafe.Dirs(cfg.Dir, os.Geteuid()) {
		what := "directory"
		if p.Dir != filepath.Clean(cfg.Dir) {
			what = "directory above the configuration"
		}
		out = append(out, config.Problem{File: p.Dir, Warning: true, Msg: what + " " + p.Why + ": that user can replace the configuration"})
	}
	for _, f := range cfg.Files {
		var st unix.Stat_t
		if unix.Stat(f.Path, &st) != nil {
			continue
		}
		var who []string
		if !trusted(st.Uid) {
			who = append(who, "its owner (uid "+strconv.Itoa(int(st.Uid))+")")
		}
		if st.Mode&0o020 != 0 && st.Gid != 0 {
			who = append(who, "group "+strconv.Itoa(int(st.Gid)))
		}
		if st.Mode&0o002 != 0 {
			who = append(who, "every user")
		}
		if len(who) > 0 {
			out = append(out, config.Problem{File: f.Path, Warning: true,
				Msg: "writable by " + strings.Join(who, ", ") + ", not only root or the directory's owner"})
		}
	}
	return out
}

// ephemeralRange reads the kernel's automatic port range from the procfs
// mount proc.
func ephemeralRange(proc string) (low, high int) {
	low, high = 32768, 60999
	data, err := rawfs.ReadFile(proc+"/sys/net/ipv4/ip_local_port_range", 64)
	if err != nil {
		return low, high
	}
	f := strings.Fields(string(data))
	if len(f) == 2 {
		l, err1 := strconv.Atoi(f[0])
		h, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && l <= h {
			return l, h
		}
	}
	return low, high
}

// readBlacklist reads /etc/bindresvport.blacklist: one port a line, '#'
// comments.
func readBlacklist(path string) map[int]bool {
	ports := map[int]bool{}
	data, err := rawfs.ReadFile(path, 1<<20)
	if err != nil {
		return ports
	}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if p, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && p > 0 && p < 65536 {
			ports[p] = true
		}
	}
	return ports
}
