// Package ipc is the datagram protocol between the portreserve daemon and
// its clients (portrelease, portreserve-check), and the socket calls that
// carry it.
//
// The daemon owns an AF_UNIX SOCK_DGRAM socket, by default
// /run/portreserve/socket (mode 0666: anyone may list), with SO_PASSCRED
// on: every datagram comes with the sender's credentials as the kernel
// knows them. Beside it, the admin socket (AdminPath: the path with
// ".admin") speaks the same protocol, mode 0600: only root and the
// daemon's user can send to it, and the daemon serves it in a loop of its
// own, which nothing another user sends can delay. Clients dial the admin
// socket when they may write it (Dial). A client sends each
// request with its reply channel: one end of a new
// socketpair(AF_UNIX, SOCK_SEQPACKET) passed with SCM_RIGHTS. The daemon
// answers on that channel, and only there, then closes its end, so the
// client reads the reply (or the pages of a list or hand-off) and then end
// of file. The daemon never sends to an address: an address is a name
// another process could have bound (abstract names belong to a network
// namespace, so a reply to one from a client in another namespace reached
// whoever held the name in the daemon's). A reply the client leaves unread
// sits in its own channel, charged to that socket, never to the daemon's.
// The daemon takes a channel only if it is a connected SOCK_SEQPACKET
// socket whose peer belongs to the sender's user (SO_PEERCRED), so that
// nobody can make it answer a third party's socket; requests without a
// usable channel are not acted on. The client takes a reply only if the
// kernel shows it as sent by root or by the owner of the socket file.
//
// All integers are big-endian. Every request is exactly RequestSize (80)
// bytes:
//
//	offset size field
//	     0    4 magic "\x7fPRS" (7f 50 52 53)
//	     4    1 version: 2 for list and hand off, whose reply entries
//	            carry an address; 1 for the rest, which daemons from
//	            before addresses understand too. A version 1 request is
//	            answered in version 1 (entries without the address); a
//	            Conn refused version 2 asks again in version 1.
//	     5    1 operation: 1 release, 2 release all, 3 list, 4 reload,
//	            5 hand off, 6 hold again
//	     6    2 flags, 0
//	     8    4 request id, echoed in the reply (it tells requests
//	            apart in the daemon's log)
//	    12    4 argument: for list, the index of the first entry wanted;
//	            for hand off, 1 to keep a copy (ArgKeep), else 0
//	    16   64 release name, NUL-padded (release, hand off, hold again;
//	            zero otherwise)
//
// A reply is a ReplyHeaderSize (88) byte header followed by Count entries
// of EntrySize (88; 72 in version 1) bytes each (entries only in list and
// hand-off replies,
// at most PageEntries of them):
//
//	offset size field
//	     0    4 magic
//	     4    1 version
//	     5    1 operation of the request, 0 when it could not be read
//	     6    2 status (see Status)
//	     8    4 request id of the request, 0 when it could not be read
//	    12    4 count: release: sockets closed; release all: names
//	            released; reload, hold again: reservations newly held;
//	            list, hand off: entries in this reply
//	    16    4 total: release, hold again: ports of the name; list:
//	            entries in all; hand off: sockets handed off in all
//	    20    4 generation: changes whenever a reservation changes state,
//	            so that a client reading a list in pages can start again
//	    24   64 release name of the request, NUL-padded
//
// A list entry:
//
//	offset size field
//	     0   64 release name, NUL-padded
//	    64    2 port
//	    66    1 protocol: 6 tcp, 17 udp (the IP protocol numbers)
//	    67    1 state: 1 held, 2 released, 3 failed, 4 handed off,
//	            5 kept (handed off, the daemon keeping a copy),
//	            6 pending (blocked by TIME_WAIT connections; the daemon
//	            holds it once they expire), 7 absent (no such
//	            address on this system, one a host name gave)
//	    68    4 errno of the failed bind, 0 otherwise
//	    72   16 address (version 2 only): IPv6, IPv4 as ::ffff:a.b.c.d,
//	            all zero for every address (the dual-stack wildcard)
//
// Hand off: the daemon passes the held sockets of a name to the client
// with SCM_RIGHTS and forgets them, so that the ports never become free
// in between. The reply comes in as many messages as it takes, each with
// up to PageEntries entries and as many descriptors, in the same order
// (the order of the configuration file), Total giving the number in all.
// Once it has them all, the client confirms on the channel: a hand off
// request for the same name whose argument is the number of sockets.
// Sent, the sockets are the client's: the daemon closes its copies as it
// reads the confirmation. Until then the daemon holds them all: a client
// that closes the channel, sends anything else, or nothing within 5 s,
// leaves every socket with the daemon, which answers with StatusFailed.
// With ArgKeep the daemon keeps its own copy of each socket, as systemd
// does for socket-activated services: the port stays bound while the
// service is stopped, connections wait in the listen backlog, and the next
// hand-off passes the very same sockets again. A release closes the copy.
//
// Hold again: the daemon reads the name's configuration file again and
// binds its ports, even if the name was released; a service's stop action
// uses it, so that the port is protected until the service starts again.
//
// Compatibility with portreserve 0.0.5: a datagram that does not start with
// the magic and holds nothing but a release name (or "*"), optionally
// followed by a NUL or a newline, is a legacy release request. The daemon
// acts on it and does not reply (it needs no channel), as the original's
// portrelease expects.
// Since 0x7f may not appear in a release name, the two never collide.
package ipc
