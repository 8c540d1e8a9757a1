package ipc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"portreserve/internal/inetaddr"
)

func TestRequestLayout(t *testing.T) {
	r := Request{Version: Version1, Op: OpRelease, ID: 0x01020304, Arg: 0x0a0b0c0d, Name: "cups"}
	b := r.Marshal()
	want := "7f505253" + "01" + "01" + "0000" + "01020304" + "0a0b0c0d" +
		hex.EncodeToString([]byte("cups")) + strings.Repeat("00", 60)
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("Marshal(%+v) =\n%s; want\n%s", r, got, want)
	}
	got, err := ParseRequest(b)
	if err != nil || got != r {
		t.Errorf("ParseRequest(Marshal(%+v)) = %+v, %v; want the same request", r, got, err)
	}
}

func TestRequestFields(t *testing.T) {
	// Requests whose replies carry entries go as version 2, the others
	// as version 1, which a daemon from before addresses understands.
	for _, r := range []Request{
		{Version: 1, Op: OpRelease, ID: 1, Name: "a"},
		{Version: 1, Op: OpRelease, ID: 0xffffffff, Name: strings.Repeat("x", NameSize)},
		{Version: 1, Op: OpReleaseAll, ID: 7},
		{Version: 2, Op: OpList, ID: 8, Arg: 12345},
		{Version: 1, Op: OpList, ID: 8, Arg: 12345},
		{Version: 1, Op: OpReload, ID: 9},
		{Version: 2, Op: OpHandoff, ID: 10, Name: "cups"},
		{Version: 2, Op: OpHandoff, ID: 11, Arg: ArgKeep, Name: "cups"},
		{Version: 1, Op: OpHold, ID: 12, Name: "cups"},
	} {
		if r.Version == Version1 && r.Op != OpList {
			r.Version = 0 // Marshal's choice
		}
		want := r
		if want.Version == 0 {
			want.Version = Version1
		}
		got, err := ParseRequest(r.Marshal())
		if err != nil || got != want {
			t.Errorf("ParseRequest(Marshal(%+v)) = %+v, %v; want %+v", r, got, err, want)
		}
	}
}

func TestParseRequestErrors(t *testing.T) {
	valid := (&Request{Op: OpRelease, ID: 5, Name: "cups"}).Marshal()
	mod := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), valid...))
	}
	for _, tt := range []struct {
		desc string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrMagic},
		{"no magic", []byte("cups"), ErrMagic},
		{"truncated", valid[:40], ErrSize},
		{"too long", append(append([]byte(nil), valid...), 0), ErrSize},
		{"version 3", mod(func(b []byte) []byte { b[4] = 3; return b }), ErrVersion},
		{"version 0", mod(func(b []byte) []byte { b[4] = 0; return b }), ErrVersion},
		{"op 0", mod(func(b []byte) []byte { b[5] = 0; return b }), ErrOp},
		{"op 99", mod(func(b []byte) []byte { b[5] = 99; return b }), ErrOp},
		{"flags", mod(func(b []byte) []byte { b[7] = 1; return b }), ErrFlags},
		{"empty name", mod(func(b []byte) []byte { copy(b[16:], "\x00\x00\x00\x00"); return b }), ErrName},
		{"name with dot", mod(func(b []byte) []byte { b[17] = '.'; return b }), ErrName},
		{"bytes after NUL", mod(func(b []byte) []byte { b[30] = 'x'; return b }), ErrName},
		{"name on release-all", mod(func(b []byte) []byte { b[5] = byte(OpReleaseAll); return b }), ErrName},
	} {
		r, err := ParseRequest(tt.b)
		if !errors.Is(err, tt.err) {
			t.Errorf("ParseRequest(%s) = %v; want %v", tt.desc, err, tt.err)
		}
		if len(tt.b) >= 12 && string(tt.b[:4]) == Magic && r.ID != 5 {
			t.Errorf("ParseRequest(%s).ID = %d; want 5 echoed for the error reply", tt.desc, r.ID)
		}
	}
}

func TestStatusOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want Status
	}{
		{nil, StatusOK}, {ErrSize, StatusBadSize}, {ErrVersion, StatusBadVersion},
		{ErrOp, StatusBadOp}, {ErrName, StatusBadName}, {ErrFlags, StatusBadRequest},
		{ErrMagic, StatusBadRequest},
	} {
		if got := StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}

func TestReplyLayout(t *testing.T) {
	for _, tt := range []struct {
		version uint8
		addr    inetaddr.Addr
		tail    string // the entry's address field
	}{
		{Version, inetaddr.Loopback4, "00000000000000000000ffff7f000001"},
		{Version, inetaddr.Any, strings.Repeat("00", 16)},
		{Version1, inetaddr.Any, ""}, // version 1: no address field
	} {
		r := Reply{Version: tt.version, Op: OpList, Status: StatusDenied, ID: 0x11223344, Count: 1, Total: 0x0102, Generation: 0x0a0b,
			Name: "x", Entries: []Entry{{Name: "cups", Endpoint: inetaddr.Endpoint{Addr: tt.addr, Port: 631, Proto: inetaddr.TCP}, State: Failed, Errno: 98}}}
		b := r.Marshal()
		want := "7f505253" + "0" + strconv.Itoa(int(tt.version)) + "03" + "0002" + "11223344" + "00000001" + "00000102" + "00000a0b" +
			"78" + strings.Repeat("00", 63) +
			hex.EncodeToString([]byte("cups")) + strings.Repeat("00", 60) + "0277" + "06" + "03" + "00000062" + tt.tail
		if got := hex.EncodeToString(b); got != want {
			t.Errorf("Marshal(%+v) =\n%s; want\n%s", r, got, want)
		}
		got, err := ParseReply(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("ParseReply(Marshal(%+v)) = %+v, %v; want the same reply", r, got, err)
		}
	}
}

func TestReplyFullPage(t *testing.T) {
	r := Reply{Version: Version, Op: OpList, Count: PageEntries, Total: 100}
	for i := 0; i < PageEntries; i++ {
		r.Entries = append(r.Entries, Entry{Name: "n", Endpoint: inetaddr.Endpoint{Port: uint16(600 + i), Proto: inetaddr.UDP}, State: Held})
	}
	b := r.Marshal()
	if len(b) != MaxReplySize {
		t.Errorf("len(Marshal(full page)) = %d; want %d", len(b), MaxReplySize)
	}
	got, err := ParseReply(b)
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("ParseReply(full page) = %v; want the same reply", err)
	}
}

func TestParseReplyErrors(t *testing.T) {
	valid := (&Reply{Op: OpList, Count: 1, Entries: []Entry{{Name: "a", Endpoint: inetaddr.Endpoint{Port: 1, Proto: inetaddr.TCP}, State: Held}}}).Marshal()
	for _, tt := range []struct {
		desc string
		b    []byte
		err  error
	}{
		{"short", valid[:20], ErrSize},
		{"partial entry", valid[:len(valid)-1], ErrSize},
		{"no magic", append([]byte("XXXX"), valid[4:]...), ErrMagic},
		{"version", append(append([]byte(Magic), 9), valid[5:]...), ErrVersion},
		{"count mismatch", append(append([]byte(nil), valid[:12]...), append([]byte{0, 0, 0, 2}, valid[16:]...)...), ErrCount},
	} {
		if _, err := ParseReply(tt.b); !errors.Is(err, tt.err) {
			t.Errorf("ParseReply(%s) = %v; want %v", tt.desc, err, tt.err)
		}
	}
}

func TestParseLegacy(t *testing.T) {
	for _, tt := range []struct {
		b    string
		name string
		ok   bool
	}{
		{"cups", "cups", true},
		{"cups\x00", "cups", true},
		{"cups\n", "cups", true},
		{"*", "*", true},
		{"*\x00", "*", true},
		{"", "", false},
		{"\x00", "", false},
		{"cups\x00\x00", "", false},
		{"cu ps", "", false},
		{"cups.conf", "", false},
		{"**", "", false},
		{Magic + "cups", "", false},
		{strings.Repeat("a", 65), "", false},
	} {
		name, ok := ParseLegacy([]byte(tt.b))
		if name != tt.name || ok != tt.ok {
			t.Errorf("ParseLegacy(%q) = %q, %v; want %q, %v", tt.b, name, ok, tt.name, tt.ok)
		}
	}
}

func TestParseDatagram(t *testing.T) {
	release := (&Request{Op: OpRelease, ID: 7, Name: "cups"}).Marshal()
	for _, tt := range []struct {
		desc      string
		b         []byte
		truncated bool
		want      Request
		err       error
	}{
		{"request", release, false, Request{Version: Version1, Op: OpRelease, ID: 7, Name: "cups"}, nil},
		{"truncated request", release, true, Request{Op: OpRelease, ID: 7}, ErrSize},
		{"short request", release[:20], false, Request{Op: OpRelease, ID: 7}, ErrSize},
		{"legacy name", []byte("cups\n"), false, Request{Op: OpRelease, Name: "cups", Legacy: true}, nil},
		{"legacy all", []byte("*\x00"), false, Request{Op: OpReleaseAll, Legacy: true}, nil},
		{"truncated legacy", []byte("cups"), true, Request{}, ErrNotRequest},
		{"garbage", []byte("cu ps"), false, Request{}, ErrNotRequest},
		{"empty", nil, false, Request{}, ErrNotRequest},
	} {
		got, err := ParseDatagram(tt.b, tt.truncated)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseDatagram(%s, %v) = %+v, %v; want %+v, %v", tt.desc, tt.truncated, got, err, tt.want, tt.err)
		}
	}
	if got := StatusOf(ErrNotRequest); got != StatusBadRequest {
		t.Errorf("StatusOf(ErrNotRequest) = %v; want %v", got, StatusBadRequest)
	}
}

func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
		why  string
	}{
		{"cups", true, ""},
		{"nfs-server", true, ""},
		{"A_b+c@d,f=g0", true, ""},
		{"cups:ipp", false, "':' is not allowed"}, // it separates LISTEN_FDNAMES
		{strings.Repeat("a", 64), true, ""},
		{strings.Repeat("a", 65), false, "longer than 64 bytes"},
		{"", false, "empty"},
		{"-x", false, "starts with '-'"},
		{"cups.rpmsave", false, "'.' is not allowed"},
		{"cups~", false, "'~' is not allowed"},
		{"*", false, "'*' is not allowed"},
		{"a b", false, "byte 0x20 is not allowed"},
		{"a/b", false, "'/' is not allowed"},
		{"caf\xc3\xa9", false, "byte 0xc3 is not allowed"},
		{"a\x00", false, "byte 0x00 is not allowed"},
	} {
		err := CheckName(tt.name)
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), tt.why)) {
			t.Errorf("CheckName(%q) = %v; want ok=%v (%s)", tt.name, err, tt.ok, tt.why)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{inetaddr.TCP.String(), "tcp"}, {inetaddr.UDP.String(), "udp"},
		{Held.String(), "held"}, {Released.String(), "released"}, {Failed.String(), "failed"},
		{HandedOff.String(), "handed-off"}, {OpHandoff.String(), "hand-off"},
		{Kept.String(), "kept"}, {OpHold.String(), "hold"},
		{OpRelease.String(), "release"}, {OpList.String(), "list"},
		{StatusDenied.String(), "permission denied"},
	} {
		if tt.got != tt.want {
			t.Errorf("String() = %q; want %q", tt.got, tt.want)
		}
	}
	if !bytes.HasPrefix((&Request{}).Marshal(), []byte(Magic)) {
		t.Errorf("Marshal does not start with the magic")
	}
}
