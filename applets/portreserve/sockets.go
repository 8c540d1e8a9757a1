package portreserve

import "portreserve/internal/inetaddr"

// sockets maps endpoints to the sockets that hold them. The sockets on
// every address, the thousands of a range among them, are in a map keyed
// by port and protocol alone (eight bytes a slot with int32 descriptors,
// where a map keyed by the whole 20-byte endpoint takes 24: 10,000
// reservations, 160 kB more); those on one address, always few, in a map
// keyed by the endpoint.
type sockets struct {
	any  map[portProto]int32
	addr map[inetaddr.Endpoint]int32
}

// portProto is an endpoint on every address, packed (see sockets).
type portProto uint32

func packAny(e inetaddr.Endpoint) portProto { return portProto(e.Port)<<8 | portProto(e.Proto) }

func (p portProto) endpoint() inetaddr.Endpoint {
	return inetaddr.Endpoint{Port: uint16(p >> 8), Proto: inetaddr.Proto(p)}
}

func newSockets() sockets {
	return sockets{any: map[portProto]int32{}, addr: map[inetaddr.Endpoint]int32{}}
}

func (s *sockets) get(e inetaddr.Endpoint) (int, bool) {
	var fd int32
	var ok bool
	if e.Addr == inetaddr.Any {
		fd, ok = s.any[packAny(e)]
	} else {
		fd, ok = s.addr[e]
	}
	return int(fd), ok
}

func (s *sockets) set(e inetaddr.Endpoint, fd int) {
	if e.Addr == inetaddr.Any {
		s.any[packAny(e)] = int32(fd)
	} else {
		s.addr[e] = int32(fd)
	}
}

func (s *sockets) del(e inetaddr.Endpoint) {
	if e.Addr == inetaddr.Any {
		delete(s.any, packAny(e))
	} else {
		delete(s.addr, e)
	}
}

func (s *sockets) len() int { return len(s.any) + len(s.addr) }

// each calls f with every endpoint and socket; f may delete them.
func (s *sockets) each(f func(e inetaddr.Endpoint, fd int)) {
	for p, fd := range s.any {
		f(p.endpoint(), int(fd))
	}
	for e, fd := range s.addr {
		f(e, int(fd))
	}
}
