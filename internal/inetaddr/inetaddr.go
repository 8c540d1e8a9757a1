// Package inetaddr reads and writes the IP addresses that configuration
// lines and list replies carry, and looks host names up in /etc/hosts,
// without the net package (which would add half a megabyte to the binary).
package inetaddr

import (
	"bytes"
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"portreserve/internal/rawfs"
)

// Addr is an IP address in its 16-byte IPv6 form; an IPv4 address is
// IPv4-mapped (::ffff:a.b.c.d). The zero Addr is Any.
type Addr [16]byte

// Any is the zero Addr: every address, IPv4 and IPv6 (the dual-stack
// wildcard a reservation without an address is held on).
var Any Addr

// v4Prefix starts every IPv4-mapped address.
var v4Prefix = [12]byte{10: 0xff, 11: 0xff}

// From4 returns the IPv4 address a.b.c.d.
func From4(a, b, c, d byte) Addr {
	var x Addr
	copy(x[:], v4Prefix[:])
	x[12], x[13], x[14], x[15] = a, b, c, d
	return x
}

// Loopback4 and Loopback6 are 127.0.0.1 and ::1.
var (
	Loopback4 = From4(127, 0, 0, 1)
	Loopback6 = Addr{15: 1}
)

// Is4 reports whether a is an IPv4 address.
func (a Addr) Is4() bool { return [12]byte(a[:12]) == v4Prefix }

// IsUnspecified reports whether a is Any, 0.0.0.0 or ::.
func (a Addr) IsUnspecified() bool { return a == Any || a == From4(0, 0, 0, 0) }

// String returns a as text: "127.0.0.1", "::1" (RFC 5952), "*" for Any.
func (a Addr) String() string {
	if a == Any {
		return "*"
	}
	if a.Is4() {
		return strconv.Itoa(int(a[12])) + "." + strconv.Itoa(int(a[13])) + "." + strconv.Itoa(int(a[14])) + "." + strconv.Itoa(int(a[15]))
	}
	// The longest run of two or more zero groups becomes "::".
	best, bestLen := -1, 1
	for i := 0; i < 8; {
		j := i
		for j < 8 && a[2*j] == 0 && a[2*j+1] == 0 {
			j++
		}
		if j-i > bestLen {
			best, bestLen = i, j-i
		}
		if j == i {
			j++
		}
		i = j
	}
	var b []byte
	for i := 0; i < 8; i++ {
		if i == best {
			b = append(b, "::"...)
			i += bestLen - 1
			continue
		}
		if len(b) > 0 && b[len(b)-1] != ':' {
			b = append(b, ':')
		}
		b = strconv.AppendUint(b, uint64(a[2*i])<<8|uint64(a[2*i+1]), 16)
	}
	return string(b)
}

// Parse reads an IPv4 address in dotted decimal (four parts, no leading
// zeros) or an IPv6 address in the text forms of RFC 4291 (hex groups,
// one "::", an IPv4 tail). Zones ("fe80::1%eth0") are not addresses here.
func Parse(s string) (Addr, bool) {
	if strings.IndexByte(s, ':') < 0 {
		return parse4(s)
	}
	return parse6(s)
}

func parse4(s string) (Addr, bool) {
	var p [4]byte
	for i := 0; i < 4; i++ {
		part := s
		if i < 3 {
			dot := strings.IndexByte(s, '.')
			if dot < 0 {
				return Any, false
			}
			part, s = s[:dot], s[dot+1:]
		}
		if len(part) == 0 || len(part) > 3 || (part[0] == '0' && len(part) > 1) {
			return Any, false
		}
		n := 0
		for j := 0; j < len(part); j++ {
			if part[j] < '0' || part[j] > '9' {
				return Any, false
			}
			n = n*10 + int(part[j]-'0')
		}
		if n > 255 {
			return Any, false
		}
		p[i] = byte(n)
	}
	return From4(p[0], p[1], p[2], p[3]), true
}

func parse6(s string) (Addr, bool) {
	var a Addr
	gap := -1 // group index where "::" stands
	i := 0    // groups filled
	if strings.HasPrefix(s, "::") {
		gap, s = 0, s[2:]
	}
	for s != "" {
		if i == 8 {
			return Any, false
		}
		// An IPv4 tail takes the last two groups.
		if strings.IndexByte(s, '.') >= 0 && strings.IndexByte(s, ':') < 0 {
			v4, ok := parse4(s)
			if !ok || i > 6 {
				return Any, false
			}
			copy(a[2*i:], v4[12:])
			i += 2
			s = ""
			break
		}
		n, j := 0, 0
		for j < len(s) && j < 5 && s[j] != ':' {
			c := s[j]
			switch {
			case c >= '0' && c <= '9':
				n = n<<4 | int(c-'0')
			case c >= 'a' && c <= 'f':
				n = n<<4 | int(c-'a'+10)
			case c >= 'A' && c <= 'F':
				n = n<<4 | int(c-'A'+10)
			default:
				return Any, false
			}
			j++
		}
		if j == 0 || j > 4 {
			return Any, false
		}
		a[2*i], a[2*i+1] = byte(n>>8), byte(n)
		i++
		s = s[j:]
		switch {
		case s == "":
		case strings.HasPrefix(s, "::"):
			if gap >= 0 {
				return Any, false
			}
			gap, s = i, s[2:]
		case s[0] == ':' && len(s) > 1:
			s = s[1:]
		default:
			return Any, false
		}
	}
	switch {
	case gap < 0 && i != 8, gap >= 0 && i == 8:
		return Any, false
	case gap >= 0:
		// Move the groups after the gap to the end.
		n := i - gap
		copy(a[16-2*n:], a[2*gap:2*i])
		for k := 2 * gap; k < 16-2*n; k++ {
			a[k] = 0
		}
	}
	return a, true
}

// DefaultHosts is the hosts file Lookup reads.
const DefaultHosts = "/etc/hosts"

// maxHostsSize bounds how much of a hosts file Lookup reads.
const maxHostsSize = 4 << 20

// ErrNoHost says the hosts file does not list the name.
var ErrNoHost = errors.New("not in the hosts file")

// Lookup returns the addresses the hosts file at path gives name, in file
// order, each once, as glibc's files backend does (names match without
// regard to ASCII case, as its strcasecmp does), and stops reading once it
// has more than max: the caller refuses that many anyway, and the
// look-up stays linear in the file. "localhost" that the file does not
// list, or a missing file, gives 127.0.0.1 and ::1, as systemd's
// nss-myhostname does.
func Lookup(path, name string, max int) ([]Addr, error) {
	data, err := rawfs.ReadFile(path, maxHostsSize)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []Addr
	for len(data) > 0 && len(out) <= max {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		field, rest := nextField(line)
		if field == nil {
			continue
		}
		a, ok := Parse(string(field))
		if !ok {
			continue
		}
		for field, rest = nextField(rest); field != nil; field, rest = nextField(rest) {
			if equalFoldASCII(string(field), name) && !contains(out, a) {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 && equalFoldASCII(name, "localhost") {
		return []Addr{Loopback4, Loopback6}, nil
	}
	if len(out) == 0 {
		return nil, ErrNoHost
	}
	return out, nil
}

// nextField returns the first blank-separated field of line, nil when
// there is none, and what follows it.
func nextField(line []byte) (field, rest []byte) {
	isBlank := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }
	i := 0
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	j := i
	for j < len(line) && !isBlank(line[j]) {
		j++
	}
	if i == j {
		return nil, nil
	}
	return line[i:j], line[j:]
}

// equalFoldASCII is strings.EqualFold for host names, which are ASCII: it
// spares the binary Unicode's case tables.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func contains(as []Addr, a Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}
