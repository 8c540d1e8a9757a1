package main

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are the standard packages the binary must not link, each with
// what it costs: the binary is meant for initramfs and container images,
// and its size is held within 1.40 times a Go program that only opens
// sockets (make check-build, make cross). The figures are what each added
// to a static linux/amd64 build, measured.
var forbidden = map[string]string{
	"fmt":           "about 0.2 MB (reflection-driven formatting; strconv and byte appends do)",
	"net":           "about 0.5 MB (the resolver, netpoll; the sockets are x/sys/unix calls)",
	"flag":          "about 0.2 MB with fmt (internal/cmdline parses options)",
	"log":           "fmt with it (internal/logger writes lines)",
	"log/syslog":    "net with it (internal/logger writes to /dev/log itself)",
	"encoding/json": "about 0.8 MB (reflection; the protocol is a fixed binary layout)",
	"os/exec":       "about 0.3 MB (the daemon re-executes itself with syscall.StartProcess)",
	"regexp":        "about 0.3 MB (the parsers are written by hand)",
	"time/tzdata":   "0.45 MB of zone data the daemon never shows",
	"net/http":      "several MB",
}

// allowedModules are the modules besides the standard library the binary
// may import.
var allowedModules = []string{"portreserve/", "golang.org/x/sys/"}

// TestDeps fails when a package linked into the binary imports one that
// is forbidden, or comes from a module other than this one and x/sys, in
// the manner of the Go tree's go/build/deps_test.go.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").Output()
	if err != nil {
		t.Skipf("go list: %v (needs the go command)", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, std, _ := strings.Cut(line, " ")
		if why, ok := forbidden[pkg]; ok && !strings.HasPrefix(pkg, "vendor/") {
			// runtime/debug imports fmt for its own printing, which
			// the linker drops; what counts is what links.
			if pkg == "fmt" && !linked(t, "fmt.") {
				continue
			}
			t.Errorf("the binary imports %s: %s", pkg, why)
		}
		if std == "true" {
			continue
		}
		ok := false
		for _, m := range allowedModules {
			ok = ok || strings.HasPrefix(pkg, m) || pkg == strings.TrimSuffix(m, "/")
		}
		if !ok {
			t.Errorf("the binary imports %s: only the standard library, x/sys and this module are allowed", pkg)
		}
	}
}

// forbiddenSymbols are functions of allowed packages that the binary must
// not link, with what they cost and what links them.
var forbiddenSymbols = map[string]string{
	"time.LoadLocationFromTZData": "60 kB with time.Time's formatting: a channel of time.Time (time.After, time.NewTimer, time.Tick) links them; time.AfterFunc does not",
	"os.(*File).Stat":             "about 100 kB with os.FileInfo and time zones (internal/rawfs opens and reads with x/sys/unix)",
}

// TestSymbols fails when the binary links a function of forbiddenSymbols.
func TestSymbols(t *testing.T) {
	for sym, why := range forbiddenSymbols {
		if linked(t, sym) {
			t.Errorf("the binary links %s: %s", sym, why)
		}
	}
}

// symbols caches the built binary's symbol table for linked.
var symbols []string

// linked reports whether the built binary has a symbol starting with
// prefix.
func linked(t *testing.T, prefix string) bool {
	t.Helper()
	if symbols == nil {
		symbols = binarySymbols(t)
	}
	for _, s := range symbols {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// binarySymbols builds the binary and returns its symbols' names.
func binarySymbols(t *testing.T) []string {
	t.Helper()
	bin := t.TempDir() + "/portreserve"
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			names = append(names, f[2])
		}
	}
	return names
}
