package services

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every skipped line number
// is a real line, and that lookups agree with the entries parsed: the
// answer is the first entry, in file order, that has the name (or alias)
// and protocol.
func FuzzParse(f *testing.F) {
	for _, path := range []string{debianFile, trickyFile} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("ipp 631/tcp\r\nipp 632/tcp # dup\n\n# c\nx 0x10/tcp\n"))
	f.Add([]byte("a 1/tcp b c\na 2/tcp\nb 3/tcp"))
	f.Fuzz(func(t *testing.T, data []byte) {
		db := Parse(data)
		lines := strings.Count(string(data), "\n") + 1
		last := 0
		for _, n := range db.Malformed {
			if n < 1 || n > lines || n <= last {
				t.Fatalf("Malformed line %d out of order or range (file has %d lines)", n, lines)
			}
			last = n
		}
		for _, e := range db.Entries {
			if e.Port < 0 || e.Port > 65535 || e.Proto == "" || e.Name == "" {
				t.Fatalf("bad entry %+v", e)
			}
			for _, name := range append([]string{e.Name}, e.Aliases...) {
				var first *Entry
				for i := range db.Entries {
					c := &db.Entries[i]
					if c.Proto != e.Proto {
						continue
					}
					if c.Name == name || contains(c.Aliases, name) {
						first = c
						break
					}
				}
				port, ok := db.Port(name, e.Proto)
				if !ok || port != first.Port {
					t.Fatalf("Port(%q, %q) = %d, %v; want %d from line %d", name, e.Proto, port, ok, first.Port, first.Line)
				}
			}
			name, ok := db.Name(e.Port, e.Proto)
			if !ok {
				t.Fatalf("Name(%d, %q) not found", e.Port, e.Proto)
			}
			for i := range db.Entries {
				c := &db.Entries[i]
				if c.Port == e.Port && c.Proto == e.Proto {
					if c.Name != name {
						t.Fatalf("Name(%d, %q) = %q; want %q (line %d)", e.Port, e.Proto, name, c.Name, c.Line)
					}
					break
				}
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
