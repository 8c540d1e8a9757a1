package applets

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// fake builds a Multicall whose applets record how they were called.
func fake(t *testing.T) (*Multicall, *Env, *[]string, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var called []string
	record := func(args []string, _ *Env) int {
		called = append(called, strings.Join(args, " "))
		return 7
	}
	var out, errOut bytes.Buffer
	exe := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(exe, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := &Multicall{
		Applets: []Applet{
			{Name: "portreserve", Summary: "hold ports", Main: record},
			{Name: "portrelease", Summary: "release ports", Main: record},
			{Name: "portreserve-check", Summary: "check", Main: record},
		},
		Executable: func() (string, error) { return exe, nil },
	}
	env := &Env{Stdout: &out, Stderr: &errOut}
	return m, env, &called, &out, &errOut
}

func TestDispatch(t *testing.T) {
	for _, tt := range []struct {
		argv   []string
		status int
		called []string
		out    string
		errOut string
	}{
		{[]string{"portrelease", "cups"}, 7, []string{"portrelease cups"}, "", ""},
		{[]string{"/usr/sbin/portrelease", "cups"}, 7, []string{"portrelease cups"}, "", ""},
		{[]string{"-portreserve", "-f"}, 7, []string{"portreserve -f"}, "", ""},
		{[]string{"./build/portreserve-check"}, 7, []string{"portreserve-check"}, "", ""},
		{[]string{"multi", "portrelease", "cups", "ldap"}, 7, []string{"portrelease cups ldap"}, "", ""},
		{[]string{"multi", "nosuch"}, 1, nil, "", "nosuch: applet not found\n"},
		{[]string{"multi", "--list"}, 0, nil, "portreserve\nportrelease\nportreserve-check\n", ""},
		{[]string{"portreserve", "--list"}, 0, nil, "portreserve\nportrelease\nportreserve-check\n", ""},
		{[]string{"portrelease", "--list"}, 7, []string{"portrelease --list"}, "", ""},
		{[]string{"multi", "--help", "portrelease"}, 7, []string{"portrelease --help"}, "", ""},
		{[]string{"multi", "--help", "nosuch"}, 1, nil, "", "nosuch: applet not found\n"},
	} {
		m, env, called, out, errOut := fake(t)
		status := m.Main(append([]string(nil), tt.argv...), env)
		if status != tt.status || !reflect.DeepEqual(*called, tt.called) || out.String() != tt.out || errOut.String() != tt.errOut {
			t.Errorf("Main(%q) = %d, called %q, stdout %q, stderr %q; want %d, %q, %q, %q",
				tt.argv, status, *called, out, errOut, tt.status, tt.called, tt.out, tt.errOut)
		}
	}
}

func TestUsage(t *testing.T) {
	m, env, _, out, errOut := fake(t)
	if status := m.Main([]string{"multi", "--help"}, env); status != 0 || !strings.Contains(out.String(), "usage: multi APPLET") ||
		!strings.Contains(out.String(), "  portrelease         release ports\n") {
		t.Errorf("Main(multi --help) = %d, stdout %q; want 0 and the applet list", status, out)
	}
	out.Reset()
	if status := m.Main([]string{"multi"}, env); status != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "usage: multi") {
		t.Errorf("Main(multi) = %d, stderr %q; want 2 and usage on stderr", status, errOut)
	}
	errOut.Reset()
	if status := m.Main([]string{"multi", "--bogus"}, env); status != 2 || !strings.Contains(errOut.String(), "unknown option --bogus") {
		t.Errorf("Main(multi --bogus) = %d, stderr %q; want 2, unknown option", status, errOut)
	}
}

func TestInstall(t *testing.T) {
	for _, symlink := range []bool{false, true} {
		m, env, _, _, errOut := fake(t)
		exe, _ := m.Executable()
		dir := t.TempDir()
		// An entry that exists already is left alone and reported.
		if err := os.WriteFile(filepath.Join(dir, "portrelease"), []byte("other"), 0o755); err != nil {
			t.Fatal(err)
		}
		argv := []string{"multi", "--install", dir}
		if symlink {
			argv = []string{"multi", "--install", "-s", dir}
		}
		if status := m.Main(argv, env); status != 0 {
			t.Fatalf("Main(%q) = %d, stderr %q; want 0", argv, status, errOut)
		}
		if want := filepath.Join(dir, "portrelease") + ": exists, left alone\n"; errOut.String() != want {
			t.Errorf("Main(%q) stderr = %q; want %q", argv, errOut, want)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, "portrelease")); string(data) != "other" {
			t.Errorf("existing portrelease was overwritten: %q", data)
		}
		for _, name := range []string{"portreserve", "portreserve-check"} {
			link := filepath.Join(dir, name)
			if symlink {
				if target, err := os.Readlink(link); err != nil || target != exe {
					t.Errorf("Readlink(%s) = %q, %v; want %q", link, target, err, exe)
				}
				continue
			}
			fi, err := os.Lstat(link)
			ei, _ := os.Stat(exe)
			if err != nil || fi.Mode()&os.ModeSymlink != 0 || !os.SameFile(fi, ei) {
				t.Errorf("%s is not a hard link to %s (%v)", link, exe, err)
			}
		}
	}
}

func TestInstallErrors(t *testing.T) {
	m, env, _, _, errOut := fake(t)
	if status := m.Main([]string{"multi", "--install", filepath.Join(t.TempDir(), "missing")}, env); status != 1 || !strings.Contains(errOut.String(), "no such file") {
		t.Errorf("--install into a missing directory = %d, %q; want 1 and the error", status, errOut)
	}
	errOut.Reset()
	if status := m.Main([]string{"multi", "--install", "-x"}, env); status != 2 {
		t.Errorf("--install -x = %d; want 2", status)
	}
	if status := m.Main([]string{"multi", "--install", "a", "b"}, env); status != 2 {
		t.Errorf("--install a b = %d; want 2", status)
	}
}

func TestAppletName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"portrelease", "portrelease"},
		{"/usr/sbin/portrelease", "portrelease"},
		{"-portreserve", "portreserve"},
		{"../x/portreserve-check", "portreserve-check"},
	} {
		if got := AppletName(tt.in); got != tt.want {
			t.Errorf("AppletName(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestEnv(t *testing.T) {
	e := &Env{Environ: []string{"PATH=/bin", "NOTIFY_SOCKET=@x", "PATH=/other", "EMPTY=", "PATHX=1"}}
	for _, tt := range []struct {
		key, want string
		ok        bool
	}{
		{"PATH", "/bin", true}, // the first wins, as in getenv(3)
		{"NOTIFY_SOCKET", "@x", true},
		{"EMPTY", "", true},
		{"PAT", "", false},
		{"MISSING", "", false},
	} {
		if got, ok := e.LookupEnv(tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("LookupEnv(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
		if got := e.Getenv(tt.key); got != tt.want {
			t.Errorf("Getenv(%q) = %q; want %q", tt.key, got, tt.want)
		}
	}
	if got, want := e.Without("PATH", "EMPTY"), []string{"NOTIFY_SOCKET=@x", "PATHX=1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Without(PATH, EMPTY) = %q; want %q", got, want)
	}
	if len(e.Environ) != 5 {
		t.Errorf("Without changed Environ to %q", e.Environ)
	}
}

// fullWriter fails every write, as /dev/full does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func TestWriteErrors(t *testing.T) {
	for _, argv := range [][]string{{"portreserve", "--list"}, {"multi", "--list"}, {"multi", "--help"}} {
		m, env, _, _, errOut := fake(t)
		env.Stdout = fullWriter{}
		if status := m.Main(argv, env); status != 1 || !strings.Contains(errOut.String(), syscall.ENOSPC.Error()) {
			t.Errorf("Main(%q) > a full disk = %d, stderr %q; want 1 and the write error", argv, status, errOut)
		}
	}
}
