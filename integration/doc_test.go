//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// helpOption matches an option in --help: "  -f, --foreground" or
// "      --list".
var helpOption = regexp.MustCompile(`(?m)^\s{2,}(?:-([A-Za-z]),\s+)?--([a-z][a-z-]*)`)

// options returns the short and long options the applet's --help lists.
func helpOptions(t *testing.T, applet string) []string {
	t.Helper()
	r := run(t, applet, "--help")
	if r.code != 0 {
		t.Fatalf("%s --help = %d", applet, r.code)
	}
	set := map[string]bool{}
	for _, m := range helpOption.FindAllStringSubmatch(r.stdout, -1) {
		if m[1] != "" {
			set["-"+m[1]] = true
		}
		set["--"+m[2]] = true
	}
	return sorted(set)
}

var (
	manLong  = regexp.MustCompile(`\\-\\-([a-z][a-z\\-]*)`)
	manShort = regexp.MustCompile(`(^|[^-])\\-([A-Za-z])\b`)
)

// manOptions returns the options a man page's OPTIONS section describes:
// the tags of its .TP paragraphs.
func manOptions(t *testing.T, page string) []string {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n.SH OPTIONS\n")
	if !ok {
		t.Fatalf("%s has no OPTIONS section", page)
	}
	section, _, _ = strings.Cut(section, "\n.SH ")
	set := map[string]bool{}
	lines := strings.Split(section, "\n")
	for i, line := range lines {
		if line != ".TP" || i+1 >= len(lines) {
			continue
		}
		tag := lines[i+1]
		for _, m := range manLong.FindAllStringSubmatch(tag, -1) {
			set["--"+strings.ReplaceAll(m[1], `\-`, "-")] = true
		}
		// A short option after --install is install's own, not the
		// applet's.
		if strings.Contains(tag, `\-\-install`) {
			continue
		}
		for _, m := range manShort.FindAllStringSubmatch(tag, -1) {
			set["-"+m[2]] = true
		}
	}
	return sorted(set)
}

func sorted(set map[string]bool) []string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestManPagesMatchHelp(t *testing.T) {
	for _, applet := range []string{"portreserve", "portrelease", "portreserve-check"} {
		help := helpOptions(t, applet)
		man := manOptions(t, filepath.Join("doc", applet+".8"))
		if !reflect.DeepEqual(help, man) {
			t.Errorf("%s: --help lists %q; doc/%s.8 OPTIONS lists %q", applet, help, applet, man)
		}
		if len(help) < 3 {
			t.Errorf("%s: found only %q in --help; the pattern is broken", applet, help)
		}
	}
}

func TestManPagesLint(t *testing.T) {
	pages, _ := filepath.Glob("doc/*.[58]")
	if len(pages) != 4 {
		t.Fatalf("doc/ has %d pages; want 4", len(pages))
	}
	var cmd *exec.Cmd
	if _, err := exec.LookPath("mandoc"); err == nil {
		cmd = exec.Command("mandoc", append([]string{"-Tlint", "-W", "style"}, pages...)...)
	} else if _, err := exec.LookPath("groff"); err == nil {
		cmd = exec.Command("groff", append([]string{"-ww", "-z", "-man"}, pages...)...)
	} else {
		t.Skip("neither mandoc nor groff is installed to lint the manual pages")
	}
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("%v: %v\n%s", cmd.Args, err, out)
	}
}
