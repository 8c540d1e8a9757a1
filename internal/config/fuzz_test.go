package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portreserve/internal/inetaddr"
	"portreserve/services"
)

// FuzzRead checks that any file content is read without a panic, that
// every problem names a line of the file, and that every reservation is a
// real port and protocol from a line that exists.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"ipp\n", "631\n631/udp\n", "600-610/tcp\n", "# c\n\n  ipp  # x\r\n",
		"70000\n0x10\n-1\n+1\n0631\n", "1-65535/tcp\n", "ipp/sctp\n/tcp\n631/\n",
		"a b\n", "sunrpc\nportmapper/udp\n", "\xff\xfe\x00\n", strings.Repeat("x", 5000),
	} {
		f.Add(seed)
	}
	db := services.Default()
	f.Fuzz(func(t *testing.T, text string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "svc"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := Read(dir, Loaded(db, nil))
		if err != nil {
			t.Fatalf("Read = %v", err)
		}
		lines := strings.Count(text, "\n") + 1
		for _, p := range cfg.Problems {
			if p.Line < 1 || p.Line > lines || p.File != filepath.Join(dir, "svc") {
				t.Fatalf("problem %q does not name a line of the file (%d lines)", p.String(), lines)
			}
			if !strings.HasPrefix(p.String(), p.File+":") {
				t.Fatalf("problem %q does not start with FILE:LINE", p.String())
			}
		}
		for _, r := range cfg.Reservations {
			if r.Port == 0 || (r.Proto != inetaddr.TCP && r.Proto != inetaddr.UDP) || r.Line < 1 || r.Line > lines || r.Name != "svc" {
				t.Fatalf("bad reservation %+v", r)
			}
		}
	})
}
