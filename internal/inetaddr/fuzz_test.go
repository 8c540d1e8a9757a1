package inetaddr

import "testing"

// FuzzParse: Parse never panics, and what it accepts prints as text that
// parses back to the same address.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "fe80::1%lo", "1.2.3", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := Parse(s)
		if !ok || a == Any {
			return
		}
		b, ok := Parse(a.String())
		if !ok || b != a {
			t.Errorf("Parse(%q) = %v, whose text %q parses to %v, %v", s, a, a.String(), b, ok)
		}
	})
}
