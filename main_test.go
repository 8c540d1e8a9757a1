package main

import (
	"bytes"
	"strings"
	"testing"

	"portreserve/applets"
)

// TestRegistry checks the binary's own applet list: the daemon first (the
// name the binary is installed under), each applet reached by its name
// and as "BINARY APPLET". The tests that run the built binary are in
// integration/.
func TestRegistry(t *testing.T) {
	var out, errOut bytes.Buffer
	env := &applets.Env{Stdout: &out, Stderr: &errOut}
	if got := registry.Main([]string{"portreserve", "--list"}, env); got != 0 {
		t.Fatalf("portreserve --list = %d (%q); want 0", got, errOut.String())
	}
	if want := "portreserve\nportrelease\nportreserve-check\n"; out.String() != want {
		t.Errorf("portreserve --list printed %q; want %q", out.String(), want)
	}
	for _, argv := range [][]string{
		{"portreserve", "--version"},
		{"/usr/sbin/portrelease", "--version"},
		{"portreserve-check", "--version"},
		{"multi", "portrelease", "--version"},
	} {
		out.Reset()
		errOut.Reset()
		name := argv[len(argv)-2]
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		if got := registry.Main(argv, env); got != 0 || !strings.HasPrefix(out.String(), name+" ") {
			t.Errorf("Main(%q) = %d, printed %q; want 0 and %q", argv, got, out.String(), name+" VERSION")
		}
	}
}
