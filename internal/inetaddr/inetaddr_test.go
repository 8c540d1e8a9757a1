package inetaddr

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseAndString(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want "" for invalid
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"0.0.0.0", "0.0.0.0"},
		{"255.255.255.255", "255.255.255.255"},
		{"::1", "::1"},
		{"::", "*"},
		{"fe80::1:2", "fe80::1:2"},
		{"2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
		{"2001:db8:0:0:0:0:2:1", "2001:db8::2:1"},
		{"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
		{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
		{"1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"64:ff9b::192.0.2.1", "64:ff9b::c000:201"},
		{"", ""},
		{"127.0.0", ""},
		{"127.0.0.1.2", ""},
		{"127.0.0.01", ""},
		{"256.0.0.1", ""},
		{"1.2.3.-4", ""},
		{":::", ""},
		{"1::2::3", ""},
		{"1:2:3:4:5:6:7:8:9", ""},
		{"1:2:3:4:5:6:7", ""},
		{"12345::", ""},
		{"::g", ""},
		{"1:", ""},
		{"fe80::1%eth0", ""},
		{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
		{"::1.2.3.4.5", ""},
	} {
		a, ok := Parse(tt.in)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	for _, tt := range []struct {
		e              Endpoint
		hostPort, text string
	}{
		{Endpoint{Port: 631, Proto: TCP}, "631", "631/tcp"},
		{Endpoint{Addr: Loopback4, Port: 631, Proto: UDP}, "127.0.0.1:631", "127.0.0.1:631/udp"},
		{Endpoint{Addr: Loopback6, Port: 631, Proto: TCP}, "[::1]:631", "[::1]:631/tcp"},
	} {
		if got := tt.e.HostPort(); got != tt.hostPort {
			t.Errorf("%#v.HostPort() = %q; want %q", tt.e, got, tt.hostPort)
		}
		if got := tt.e.String(); got != tt.text {
			t.Errorf("%#v.String() = %q; want %q", tt.e, got, tt.text)
		}
		if got := tt.e.OnAny(); got != (Endpoint{Port: 631, Proto: tt.e.Proto}) {
			t.Errorf("%v.OnAny() = %v; want the port on every address", tt.e, got)
		}
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1\tlocalhost\n127.0.1.1\tbox.example box\n# ::1 box\n"+
		"::1     localhost ip6-localhost ip6-loopback\nbad-address box\n10.0.0.5 Box # a second\n127.0.0.1 LOCALHOST\n"), 0o644)
	for _, tt := range []struct {
		path, name string
		want       []Addr
		err        error
	}{
		{hosts, "localhost", []Addr{Loopback4, Loopback6}, nil},
		{hosts, "box", []Addr{From4(127, 0, 1, 1), From4(10, 0, 0, 5)}, nil},
		{hosts, "ip6-localhost", []Addr{Loopback6}, nil},
		{hosts, "nosuch", nil, ErrNoHost},
		{filepath.Join(dir, "none"), "localhost", []Addr{Loopback4, Loopback6}, nil},
		{filepath.Join(dir, "none"), "box", nil, ErrNoHost},
	} {
		got, err := Lookup(tt.path, tt.name, 255)
		if !reflect.DeepEqual(got, tt.want) || err != tt.err {
			t.Errorf("Lookup(%s, %q) = %v, %v; want %v, %v", filepath.Base(tt.path), tt.name, got, err, tt.want, tt.err)
		}
	}
}
