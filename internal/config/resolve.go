package config

import (
	"strconv"

	"portreserve/internal/inetaddr"
	"portreserve/services"
)

// addrsOf returns the addresses l's reservations are held on: every
// address, the one written out, or those HostsFile gives l's host name
// (named). msg says why there are none.
func (r *reader) addrsOf(l *Line) (addrs []inetaddr.Addr, named bool, msg string) {
	switch {
	case l.Host == "" && l.Addr == inetaddr.Any:
		return []inetaddr.Addr{inetaddr.Any}, false, ""
	case l.Host == "":
		addrs = []inetaddr.Addr{l.Addr}
	default:
		if addrs, msg = r.lookupHost(l.Host); msg != "" {
			return nil, false, msg
		}
		named = true
	}
	if msg = r.noteAddrs(addrs); msg != "" {
		return nil, false, msg
	}
	return addrs, named, ""
}

// hostLookup is what HostsFile gave a host name.
type hostLookup struct {
	addrs []inetaddr.Addr
	err   error
}

// lookupHost returns the addresses HostsFile gives host, looking each name
// up once a Read: every line naming localhost would read the file again.
func (r *reader) lookupHost(host string) (addrs []inetaddr.Addr, msg string) {
	found, ok := r.hosts[host]
	if !ok {
		found.addrs, found.err = inetaddr.Lookup(HostsFile, host, MaxAddresses)
		if r.hosts == nil {
			r.hosts = map[string]hostLookup{}
		}
		r.hosts[host] = found
	}
	switch {
	case found.err == inetaddr.ErrNoHost:
		return nil, "unknown host " + host + ": not in " + HostsFile
	case found.err != nil:
		return nil, "unknown host " + host + ": " + HostsFile + ": " + ErrText(found.err)
	}
	for _, a := range found.addrs {
		if a.IsUnspecified() {
			return nil, everyAddress(host)
		}
	}
	return found.addrs, ""
}

// addService adds, through add, the port of l's service for each protocol
// the services database lists it for (of those l asks for), or reports
// that it lists none.
func (r *reader) addService(l *Line, path string, line int, add func(uint16, inetaddr.Proto)) {
	spec := l.Service
	var held []inetaddr.Proto
	port := 0
	for _, proto := range l.protos() {
		if p, ok := r.services().Port(spec, proto.String()); ok {
			if p == 0 {
				r.lineProblem(path, line, false, func() string { return "service " + spec + " is port 0 in " + r.source() + "; port 0 cannot be held" })
				continue
			}
			add(uint16(p), proto)
			held = append(held, proto)
			port = p
		}
	}
	if len(held) == 1 && l.Proto == 0 {
		// ipp and ldaps are tcp only in Debian's /etc/services: the
		// name holds 631/tcp, and bindresvport can still take
		// 631/udp.
		other := inetaddr.UDP
		if held[0] == inetaddr.UDP {
			other = inetaddr.TCP
		}
		p := strconv.Itoa(port)
		r.lineProblem(path, line, true, func() string {
			return "service " + spec + " is " + held[0].String() + " only in " + r.source() + ": " + p + "/" + other.String() +
				" stays open to bindresvport; write " + p + " to hold both, or " + spec + "/" + held[0].String() + " to say one is meant"
		})
	}
	if len(held) > 0 {
		return
	}
	msg := "unknown service " + strconv.Quote(spec)
	if l.Proto != 0 {
		msg += " for " + l.Proto.String()
	}
	msg += " (not in " + r.source() + ")"
	if r.dbErr != nil {
		msg += ": " + r.dbErr.Error()
	} else if !r.knownService(spec) {
		if near := r.services().Nearest(spec); near != "" {
			msg += "; did you mean " + near + "?"
		}
	}
	r.lineProblem(path, line, false, func() string { return msg })
}

// knownService reports whether spec names a service for either protocol:
// then a typo is not what is wrong.
func (r *reader) knownService(spec string) bool {
	_, tcp := r.services().Port(spec, "tcp")
	_, udp := r.services().Port(spec, "udp")
	return tcp || udp
}

// services is the services database, loaded on the first call.
func (r *reader) services() *services.DB {
	if r.db == nil {
		if r.load != nil {
			r.db, r.dbErr = r.load()
		}
		if r.db == nil {
			r.db = &services.DB{}
		}
	}
	return r.db
}

// source names the services database for messages.
func (r *reader) source() string {
	if r.services().Source == "" {
		return "the services database"
	}
	return r.db.Source
}
