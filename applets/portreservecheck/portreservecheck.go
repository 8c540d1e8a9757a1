// Package portreservecheck is the portreserve-check applet: it validates
// the configuration with the daemon's own reader, reporting problems as
// FILE:LINE the way a compiler does, and shows for every reservation
// whether the daemon holds it, released it or failed to bind it, or, where
// the daemon does not hold it, whether someone else has the port (and who).
// It is to portreserve what rpcinfo -p is to portmap and nginx -t to nginx.
package portreservecheck

import (
	"errors"
	"io"
	"strings"
	"time"

	"portreserve/applets"
	"portreserve/internal/cmdline"
	"portreserve/internal/config"
	"portreserve/internal/inetaddr"
	"portreserve/internal/procnet"
	"portreserve/ipc"
	"portreserve/services"
)

// Usage is the applet's --help text.
const Usage = `usage: portreserve-check [-nqv] [-c DIR] [-S FILE] [-s PATH] [-t SECONDS]
                         [-b FILE] [--no-probe] [NAME...]

Validate the portreserve configuration and show what is held. Problems go
to stderr as FILE:LINE: message. Then one line per reservation, in columns:
NAME PORT PROTO SERVICE STATE OWNER, where PORT is ADDRESS:PORT for a
reservation on one address (127.0.0.1:631, [::1]:631), and STATE is held,
released, failed, handed-off, kept, pending or absent (what the running
daemon did; pending: held once TIME_WAIT connections expire; absent: no
such address here, one a host name gave) or, for ports the daemon
does not hold, in-use (bound by someone else: OWNER is PID/COMMAND, or ?
when not visible) or free. NAMEs restrict the report to those release names.

  -n, --no-header        do not print the header line
  -q, --quiet            print nothing; the exit status still tells
  -v, --verbose          also report leftovers skipped for their names (cups~)
  -c, --config-dir=DIR   configuration directory (default /etc/portreserve)
  -S, --services=FILE    services database (default /etc/services; a
                         built-in copy of Debian's when the file is missing)
  -s, --socket=PATH      control socket (default /run/portreserve/socket)
  -t, --timeout=SECONDS  wait this long for the daemon (default 5)
  -b, --blacklist=FILE   bindresvport blacklist
                         (default /etc/bindresvport.blacklist)
      --no-probe         never bind a port to see whether it is in use;
                         TCP ports bound but not listening then show free
  -h, --help             show this help
      --version          show the version

Exit status: 0 the configuration has no errors and nothing shown failed;
1 configuration errors or failed holds; 2 bad usage, the daemon
answered with a protocol error or not in time, or the table could not
be written.
`

// DefaultBlacklist is where libtirpc's bindresvport reads the ports it
// must skip.
const DefaultBlacklist = "/etc/bindresvport.blacklist"

// Applet is the portreserve-check applet.
var Applet = applets.Applet{
	Name:    "portreserve-check",
	Summary: "validate the configuration and show what is held",
	Main:    Main,
}

// options are the applet's command-line settings.
type options struct {
	noHeader, quiet, verbose, noProbe bool
	configDir, services, socket       string
	blacklist                         string
	timeout                           time.Duration
}

// Main runs the applet with args (args[0] is the applet name) and env, and
// returns the exit status.
func Main(args []string, env *applets.Env) int {
	return run(args, env, "/proc")
}

// run is Main with the procfs mount as a parameter.
func run(args []string, env *applets.Env, proc string) int {
	o := options{
		configDir: config.DefaultDir,
		services:  services.DefaultPath,
		socket:    ipc.DefaultSocket,
		blacklist: DefaultBlacklist,
		timeout:   5 * time.Second,
	}
	set := cmdline.New("portreserve-check", applets.Version, Usage)
	set.Stdout, set.Stderr = env.Stdout, env.Stderr
	set.Flag('n', "no-header", &o.noHeader)
	set.Flag('q', "quiet", &o.quiet)
	set.Flag('v', "verbose", &o.verbose)
	set.Flag(0, "no-probe", &o.noProbe)
	set.String('c', "config-dir", &o.configDir)
	set.String('S', "services", &o.services)
	set.String('s', "socket", &o.socket)
	set.String('b', "blacklist", &o.blacklist)
	set.Seconds('t', "timeout", &o.timeout)
	names, err := set.Parse(args[1:])
	if err != nil {
		return set.Fail(err)
	}
	for _, name := range names {
		if err := ipc.CheckName(name); err != nil {
			return set.Fail(&cmdline.UsageError{Msg: err.Error()})
		}
	}
	c := &check{o: o, names: names, env: env, stdout: env.Stdout, stderr: env.Stderr, proc: proc}
	if o.quiet {
		c.stdout, c.stderr = io.Discard, io.Discard
	}
	return c.run()
}

// check is one run of the applet.
type check struct {
	o              options
	names          []string // NAME operands; empty for all
	env            *applets.Env
	stdout, stderr io.Writer // env's, or io.Discard with -q
	proc           string    // the procfs mount, /proc but in tests
	db             *services.DB
	errors         int // configuration errors reported
}

// row is one line of the status table.
type row struct {
	name string
	inetaddr.Endpoint
	service string
	state   string
	owner   string
}

func (c *check) run() int {
	db, dbErr := services.Load(c.o.services)
	if dbErr != nil {
		c.problem(config.Problem{File: c.o.services, Msg: config.ErrText(dbErr)})
		db = &services.DB{}
	}
	c.db = db
	cfg, err := config.Read(c.o.configDir, config.Loaded(db, dbErr))
	if err != nil {
		c.problem(config.Problem{File: c.o.configDir, Msg: err.Error()})
		return 1
	}
	for _, n := range cfg.Keep(c.names) {
		c.problem(config.Problem{File: cfg.Dir, Msg: "no configuration file for " + n})
	}
	for _, p := range cfg.Problems {
		c.problem(p)
	}
	for _, p := range c.warnings(cfg) {
		c.problem(p)
	}
	daemon, status := c.askDaemon()
	if status == 2 {
		return 2
	}
	rows := c.rows(cfg.Reservations, daemon)
	if !c.env.Write("portreserve-check", "the table", c.stdout, c.table(rows)) {
		return 2
	}
	failed := false
	for _, r := range rows {
		if r.state == "failed" {
			failed = true
		}
	}
	if c.errors > 0 || failed {
		return 1
	}
	return 0
}

// problem prints a problem and counts errors.
func (c *check) problem(p config.Problem) {
	if !p.Warning {
		c.errors++
	}
	io.WriteString(c.stderr, p.String()+"\n")
}

// askDaemon lists the daemon's reservations. The map is nil when no daemon
// runs. status is 2 when the daemon could not be asked properly.
func (c *check) askDaemon() (map[nameEndpoint]ipc.Entry, int) {
	conn, err := ipc.Dial(c.o.socket)
	if errors.Is(err, ipc.ErrNoDaemon) {
		io.WriteString(c.stderr, "portreserve-check: note: no daemon answered on "+c.o.socket+"; states show who has each port now\n")
		return nil, 0
	}
	if err != nil {
		io.WriteString(c.stderr, "portreserve-check: "+err.Error()+"\n")
		return nil, 2
	}
	defer conn.Close()
	entries, err := conn.List(c.o.timeout)
	if errors.Is(err, ipc.ErrNoDaemon) {
		io.WriteString(c.stderr, "portreserve-check: note: the daemon exited while answering; states show who has each port now\n")
		return nil, 0
	}
	if err != nil {
		io.WriteString(c.stderr, "portreserve-check: "+c.o.socket+": "+err.Error()+"\n")
		return nil, 2
	}
	m := make(map[nameEndpoint]ipc.Entry, len(entries))
	for _, e := range entries {
		m[nameEndpoint{e.Name, e.Endpoint}] = e
	}
	return m, 0
}

// nameEndpoint is a reservation's key: a name and what it holds.
type nameEndpoint struct {
	name string
	inetaddr.Endpoint
}

// rows works out the state of every reservation asked about, followed by
// what the daemon holds that the configuration no longer lists.
func (c *check) rows(wanted []config.Reservation, daemon map[nameEndpoint]ipc.Entry) []row {
	proc := procnet.Read(c.proc)
	var rows []row
	seen := map[nameEndpoint]bool{}
	add := func(name string, ep inetaddr.Endpoint) {
		k := nameEndpoint{name, ep}
		if seen[k] {
			return
		}
		seen[k] = true
		port, proto := ep.Port, ep.Proto
		r := row{name: name, Endpoint: ep, service: "-", owner: "-"}
		if s, ok := c.db.Name(int(port), proto.String()); ok {
			r.service = s
		}
		if e, ok := daemon[k]; ok && e.State != 0 {
			r.state = e.State.String()
			if e.State != ipc.Held {
				r.owner = c.owner(proc, port, proto)
			}
		} else {
			r.owner = c.owner(proc, port, proto)
			r.state = "free"
			if r.owner != "-" {
				r.state = "in-use"
			}
		}
		rows = append(rows, r)
	}
	for _, r := range wanted {
		add(r.Name, r.Endpoint)
	}
	for _, e := range sortedEntries(daemon) {
		if c.asked(e.Name) {
			add(e.Name, e.Endpoint)
		}
	}
	return rows
}

// asked reports whether name is among the NAMEs asked about (any name
// without NAMEs).
func (c *check) asked(name string) bool {
	for _, n := range c.names {
		if n == name {
			return true
		}
	}
	return len(c.names) == 0
}

// sortedEntries returns the daemon's entries by name, port, protocol and
// address,
// so that the lines it adds come out in a stable order.
func sortedEntries(m map[nameEndpoint]ipc.Entry) []ipc.Entry {
	out := make([]ipc.Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	less := func(a, b ipc.Entry) bool {
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		return string(a.Addr[:]) < string(b.Addr[:])
	}
	// Insertion sort: the entries are few (the daemon's entries that the
	// configuration lost), and slices.SortFunc, instantiated for this one
	// call, was measured at 20 kB of binary.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && less(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// owner names who has port/proto bound: "PID/COMMAND" for each process
// /proc shows, "?" when something has it but the owner is not visible,
// "-" when nobody has it.
func (c *check) owner(proc *procnet.Table, port uint16, proto inetaddr.Proto) string {
	if owners := proc.Owners(port, proto); len(owners) > 0 {
		s := make([]string, len(owners))
		for i, o := range owners {
			s[i] = o.String()
		}
		return strings.Join(s, ",")
	}
	if proc.Listed(port, proto) {
		return "?"
	}
	if !c.o.noProbe {
		if bound, ok := procnet.ProbeBind(port, proto); ok && bound {
			return "?"
		}
	}
	return "-"
}

// table formats the rows, columns padded to line up.
func (c *check) table(rows []row) string {
	cells := [][]string{}
	if !c.o.noHeader {
		cells = append(cells, []string{"NAME", "PORT", "PROTO", "SERVICE", "STATE", "OWNER"})
	}
	for _, r := range rows {
		cells = append(cells, []string{r.name, r.HostPort(), r.Proto.String(), r.service, r.state, r.owner})
	}
	width := make([]int, 6)
	for _, line := range cells {
		for i, cell := range line {
			width[i] = max(width[i], len(cell))
		}
	}
	var b strings.Builder
	for _, line := range cells {
		for i, cell := range line {
			b.WriteString(cell)
			if i < len(line)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-len(cell)+2))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
