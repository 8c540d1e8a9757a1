package inetaddr

import "strconv"

// Proto is a transport protocol, numbered as in IP.
type Proto uint8

// The protocols a port can be held for.
const (
	TCP Proto = 6
	UDP Proto = 17
)

// String returns "tcp" or "udp".
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "proto" + strconv.Itoa(int(p))
}

// Endpoint is what one socket is bound to: an address (Any for every
// address), a port and a protocol. Like net/netip.AddrPort it is a small
// comparable value: the configuration, the daemon's table, the list
// replies and portreserve-check all key sockets by it and print it with
// String.
type Endpoint struct {
	Addr  Addr
	Port  uint16
	Proto Proto
}

// HostPort returns "631" for every address, "127.0.0.1:631" or "[::1]:631"
// for one.
func (e Endpoint) HostPort() string {
	port := strconv.Itoa(int(e.Port))
	switch {
	case e.Addr == Any:
		return port
	case e.Addr.Is4():
		return e.Addr.String() + ":" + port
	}
	return "[" + e.Addr.String() + "]:" + port
}

// String returns "631/tcp", "127.0.0.1:631/tcp" or "[::1]:631/tcp".
func (e Endpoint) String() string { return e.HostPort() + "/" + e.Proto.String() }

// OnAny returns e's port and protocol on every address.
func (e Endpoint) OnAny() Endpoint { return Endpoint{Port: e.Port, Proto: e.Proto} }
