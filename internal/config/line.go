package config

import (
	"errors"
	"strconv"
	"strings"

	"portreserve/internal/inetaddr"
)

// Line is what one configuration line says, before any name in it is
// looked up: ParseLine makes it.
type Line struct {
	// Host is the host name before the last ':', "" when the line has
	// no address or writes one out (then in Addr).
	Host string
	// Addr is the address written out; inetaddr.Any when there is none.
	Addr inetaddr.Addr
	// Proto is the protocol after '/'; 0 when the line names none.
	Proto inetaddr.Proto
	// Service is the service name; "" when the line gives port numbers.
	Service string
	// Low and High are the port numbers (Low == High for one port); 0
	// with a service name.
	Low, High uint16
}

// protos returns the protocols the line asks for: its own, or tcp and udp.
func (l *Line) protos() []inetaddr.Proto {
	if l.Proto != 0 {
		return []inetaddr.Proto{l.Proto}
	}
	return []inetaddr.Proto{inetaddr.TCP, inetaddr.UDP}
}

// ParseLine reads one non-blank line, its comment and surrounding white
// space removed: [ADDRESS:](PORT|LOW-HIGH|SERVICE)[/PROTO]. It looks
// nothing up; its error says what is wrong with the line as written.
func ParseLine(text string) (Line, error) {
	var l Line
	if strings.ContainsAny(text, " \t\v\f") {
		return l, errors.New("more than one entry on the line: " + strconv.Quote(text) + "; write one per line")
	}
	if hostEnd := strings.LastIndexByte(text, ':'); hostEnd >= 0 {
		var msg string
		if l.Host, l.Addr, msg = parseHost(text[:hostEnd]); msg != "" {
			return l, errors.New(msg + " in " + strconv.Quote(text))
		}
		text = text[hostEnd+1:]
	}
	spec, protoText, hasProto := strings.Cut(text, "/")
	if hasProto {
		switch protoText {
		case "tcp":
			l.Proto = inetaddr.TCP
		case "udp":
			l.Proto = inetaddr.UDP
		default:
			return l, errors.New("unknown protocol " + strconv.Quote(protoText) + " in " + strconv.Quote(text) + ": want tcp or udp")
		}
	}
	if spec == "" {
		return l, errors.New("missing port or service name before '/'")
	}
	low, high, isNum, msg := parseRange(spec)
	switch {
	case !isNum:
		l.Service = spec
	case msg != "":
		return l, errors.New(msg)
	default:
		l.Low, l.High = uint16(low), uint16(high)
	}
	return l, nil
}

// parseHost reads the address part of a line, before the last ':': an
// IPv4 address, an IPv6 address in brackets (addr), or a host name
// (host). msg says what is wrong with it.
func parseHost(text string) (host string, addr inetaddr.Addr, msg string) {
	var ok bool
	switch {
	case text == "":
		return "", addr, "missing address before ':'"
	case text[0] == '[':
		if text[len(text)-1] == ']' {
			addr, ok = inetaddr.Parse(text[1 : len(text)-1])
		}
		if !ok || addr.Is4() {
			return "", addr, "bad IPv6 address " + text
		}
	case strings.IndexByte(text, ':') >= 0:
		return "", addr, "IPv6 address without brackets: write [" + text + "]:PORT"
	case text[0] >= '0' && text[0] <= '9':
		if addr, ok = inetaddr.Parse(text); !ok {
			return "", addr, "bad IPv4 address " + text
		}
	default:
		return text, addr, ""
	}
	if addr.IsUnspecified() {
		return "", addr, everyAddress(text)
	}
	return "", addr, ""
}

// everyAddress is the message for an address line that names 0.0.0.0 or
// [::], or a host name that gives one.
func everyAddress(host string) string {
	return host + " is every address: leave the address out to hold the port on all of them"
}

// parseRange reads "PORT" or "LOW-HIGH". isNum reports whether spec is
// meant as a number (it starts with a digit or a sign) rather than a
// service name; msg is the problem with it, if any.
func parseRange(spec string) (low, high int, isNum bool, msg string) {
	if spec[0] != '+' && spec[0] != '-' && (spec[0] < '0' || spec[0] > '9') {
		return 0, 0, false, ""
	}
	lowText, highText, isRange := strings.Cut(spec, "-")
	if spec[0] == '-' {
		return 0, 0, true, "bad port " + strconv.Quote(spec) + ": no sign allowed"
	}
	low, msg = parsePort(lowText)
	if msg != "" {
		return 0, 0, true, msg
	}
	if !isRange {
		return low, low, true, ""
	}
	high, msg = parsePort(highText)
	if msg != "" {
		return 0, 0, true, msg
	}
	if low > high {
		return 0, 0, true, "bad port range " + strconv.Quote(spec) + ": " + lowText + " is above " + highText
	}
	return low, high, true, ""
}

// parsePort reads a decimal port 1..65535.
func parsePort(s string) (int, string) {
	if s == "" {
		return 0, "missing port number"
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, "bad port " + strconv.Quote(s) + ": decimal digits only"
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, "bad port " + strconv.Quote(s) + ": leading zero"
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, "port " + s + " out of range 1-65535"
	}
	return n, ""
}
