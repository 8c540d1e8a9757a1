package ipc

import (
	"bytes"
	"testing"

	"portreserve/internal/inetaddr"
)

// FuzzParseRequest checks that decoding never panics, that what decodes
// encodes back to the same bytes, and that a legacy name is never also a
// request.
func FuzzParseRequest(f *testing.F) {
	f.Add((&Request{Op: OpRelease, ID: 1, Name: "cups"}).Marshal())
	f.Add((&Request{Op: OpList, ID: 2, Arg: 64}).Marshal())
	f.Add((&Request{Op: OpReleaseAll}).Marshal())
	f.Add([]byte("cups"))
	f.Add([]byte("*\x00"))
	f.Add([]byte{})
	f.Add(make([]byte, RequestSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b)
		if err == nil {
			if got := req.Marshal(); !bytes.Equal(got, b) {
				t.Fatalf("Marshal(ParseRequest(%x)) = %x; want the same bytes", b, got)
			}
			if CheckName(req.Name) != nil && req.Op == OpRelease {
				t.Fatalf("request with bad name %q accepted", req.Name)
			}
		}
		if name, ok := ParseLegacy(b); ok {
			if err == nil {
				t.Fatalf("%x is both a request and a legacy name", b)
			}
			if name != AllNames && CheckName(name) != nil {
				t.Fatalf("legacy name %q breaks the name rules", name)
			}
		}
		_ = StatusOf(err)
		// The daemon's decoder agrees with both.
		dreq, derr := ParseDatagram(b, false)
		switch legacy, ok := ParseLegacy(b); {
		case err == nil && (derr != nil || dreq != req):
			t.Fatalf("ParseDatagram(%x) = %+v, %v; want the request %+v", b, dreq, derr, req)
		case ok && (derr != nil || !dreq.Legacy || (dreq.Name != legacy && legacy != AllNames)):
			t.Fatalf("ParseDatagram(%x) = %+v, %v; want the legacy name %q", b, dreq, derr, legacy)
		case derr == nil && err != nil && !ok:
			t.Fatalf("ParseDatagram(%x) = %+v; want an error", b, dreq)
		}
	})
}

// FuzzParseReply checks that reply decoding never panics and round-trips.
func FuzzParseReply(f *testing.F) {
	f.Add((&Reply{Op: OpRelease, Status: StatusOK, ID: 1, Count: 1, Total: 1, Name: "cups"}).Marshal())
	f.Add((&Reply{Op: OpList, Count: 1, Total: 1, Entries: []Entry{{Name: "a", Endpoint: inetaddr.Endpoint{Port: 1, Proto: inetaddr.TCP}, State: Held}}}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			return
		}
		if got := r.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("Marshal(ParseReply(%x)) = %x; want the same bytes", b, got)
		}
	})
}
