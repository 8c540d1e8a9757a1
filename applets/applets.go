// Package applets dispatches a multicall binary to its applets, the way
// busybox does.
//
// The applet is chosen by the base name of argv[0], with a leading '-'
// removed (login shells and some init systems prepend one) and symbolic
// links not resolved: the name is the one the binary was called by. Under
// a name that is not an applet, the binary takes the applet's name as its
// first argument ("BINARY APPLET [ARGS]") and also answers:
//
//	BINARY --list               the applets, one per line
//	BINARY --install [-s] [DIR] a hard link (symbolic with -s) to the
//	                            binary for each applet in DIR (default
//	                            /usr/sbin); existing entries are left alone
//	BINARY --help [APPLET]      usage and the applet list, or an applet's
//	                            help
//
// The main applet (the first in the list, whose name the binary is
// installed under) answers --list and --install as its first argument too,
// so that an installed binary can list and install its own links.
//
// Every applet is a function of its inputs, as u-root's commands are: its
// Main takes the arguments and an Env (standard streams and environment)
// and returns the exit status, so that it runs in-process in unit tests
// exactly as it does from main. This package holds the applets and
// nothing else; what they share lives under internal/.
package applets

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Version is the program's version, which every applet's --version
// prints: make sets it at build time from the VCS (git describe, with
// -ldflags -X portreserve/applets.Version=...), or from VERSION= on its
// command line where there is no VCS; a build without make says
// "unknown".
var Version = "unknown"

// Applet is one command of the multicall binary.
type Applet struct {
	Name    string
	Summary string // one line for the applet list
	// Main runs the applet; args[0] is the applet's name. It returns
	// the exit status.
	Main func(args []string, env *Env) int
}

// Env is what an applet runs with besides its arguments: its standard
// streams and its environment. main passes the process's own (OSEnv);
// tests pass buffers, so that an applet runs in-process as it does from
// the command line.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Environ is the environment, "KEY=value" strings as os.Environ
	// returns them.
	Environ []string
}

// OSEnv returns the process's own streams and environment.
func OSEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()}
}

// Getenv returns the value of the variable key, "" when it is not set.
// The first of several entries wins, as in the C library's getenv.
func (e *Env) Getenv(key string) string {
	v, _ := e.LookupEnv(key)
	return v
}

// LookupEnv returns the value of the variable key and whether it is set.
func (e *Env) LookupEnv(key string) (string, bool) {
	for _, kv := range e.Environ {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:], true
		}
	}
	return "", false
}

// Without returns the environment without the variables named in keys.
func (e *Env) Without(keys ...string) []string {
	out := make([]string, 0, len(e.Environ))
next:
	for _, kv := range e.Environ {
		for _, k := range keys {
			if strings.HasPrefix(kv, k+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// Write writes s to w and reports a failure on stderr as "NAME: WHAT:
// error" ("portreserve: the applet list: write /dev/stdout: no space left
// on device"). It returns false when the write failed: output that could
// not be written (a full disk, a closed pipe) must not end in exit status 0.
func (e *Env) Write(name, what string, w io.Writer, s string) bool {
	if _, err := io.WriteString(w, s); err != nil {
		io.WriteString(e.Stderr, name+": "+what+": "+err.Error()+"\n")
		return false
	}
	return true
}

// DefaultInstallDir is where --install puts links when given no directory.
const DefaultInstallDir = "/usr/sbin"

// Multicall is a binary holding several applets.
type Multicall struct {
	Applets []Applet // the first is the main applet
	// Executable returns the path of the running binary, for --install;
	// os.Executable (/proc/self/exe) when nil.
	Executable func() (string, error)
}

// Find returns the applet called name.
func (m *Multicall) Find(name string) *Applet {
	for i := range m.Applets {
		if m.Applets[i].Name == name {
			return &m.Applets[i]
		}
	}
	return nil
}

// AppletName returns the applet name argv0 selects: its base name without
// a leading '-'.
func AppletName(argv0 string) string {
	return strings.TrimPrefix(filepath.Base(argv0), "-")
}

// Main runs the applet argv selects with env and returns the exit status.
func (m *Multicall) Main(argv []string, env *Env) int {
	if len(argv) == 0 {
		argv = []string{""}
	}
	self := AppletName(argv[0])
	if a := m.Find(self); a != nil {
		if len(m.Applets) > 0 && a == &m.Applets[0] && len(argv) > 1 && (argv[1] == "--list" || argv[1] == "--install") {
			return m.builtin(argv[0], argv[1:], env)
		}
		// A copy: argv may be os.Args, whose argv[0] the daemon needs
		// as it was to find itself where /proc is not mounted.
		return a.Main(append([]string{self}, argv[1:]...), env)
	}
	if len(argv) < 2 {
		io.WriteString(env.Stderr, m.usage(self))
		return 2
	}
	if strings.HasPrefix(argv[1], "-") {
		return m.builtin(argv[0], argv[1:], env)
	}
	a := m.Find(argv[1])
	if a == nil {
		io.WriteString(env.Stderr, argv[1]+": applet not found\n")
		return 1
	}
	return a.Main(argv[1:], env)
}

// builtin runs the binary's own options: --list, --install, --help.
func (m *Multicall) builtin(argv0 string, args []string, env *Env) int {
	switch args[0] {
	case "--list":
		if len(args) > 1 {
			break
		}
		var list strings.Builder
		for _, a := range m.Applets {
			list.WriteString(a.Name + "\n")
		}
		if !env.Write(AppletName(argv0), "the applet list", env.Stdout, list.String()) {
			return 1
		}
		return 0
	case "--help", "-h":
		if len(args) == 1 {
			if !env.Write(AppletName(argv0), "the usage", env.Stdout, m.usage(AppletName(argv0))) {
				return 1
			}
			return 0
		}
		if a := m.Find(args[1]); a != nil && len(args) == 2 {
			return a.Main([]string{a.Name, "--help"}, env)
		}
		if len(args) == 2 {
			io.WriteString(env.Stderr, args[1]+": applet not found\n")
			return 1
		}
	case "--install":
		return m.install(args[1:], env)
	}
	io.WriteString(env.Stderr, AppletName(argv0)+": unknown option "+strings.Join(args, " ")+"\n"+m.usage(AppletName(argv0)))
	return 2
}

// usage is the binary's own help text.
func (m *Multicall) usage(self string) string {
	if self == "" {
		self = "portreserve"
	}
	s := "usage: " + self + " APPLET [ARGS...]\n" +
		"       " + self + " --list\n" +
		"       " + self + " --install [-s] [DIR]\n" +
		"       " + self + " --help [APPLET]\n" +
		"\nA multicall binary: called by an applet's name (a link to it), it runs\n" +
		"that applet. --install makes hard links (symbolic with -s) named after the\n" +
		"applets in DIR (default " + DefaultInstallDir + "), leaving existing entries alone.\n" +
		"\nApplets:\n"
	for _, a := range m.Applets {
		s += "  " + a.Name + strings.Repeat(" ", max(1, 20-len(a.Name))) + a.Summary + "\n"
	}
	return s
}

// install implements --install [-s] [DIR].
func (m *Multicall) install(args []string, env *Env) int {
	symlink := false
	var dirs []string
	for _, a := range args {
		switch {
		case a == "-s":
			symlink = true
		case strings.HasPrefix(a, "-"):
			io.WriteString(env.Stderr, "--install: unknown option "+a+"\nusage: --install [-s] [DIR]\n")
			return 2
		default:
			dirs = append(dirs, a)
		}
	}
	if len(dirs) > 1 {
		io.WriteString(env.Stderr, "--install: one directory at most\nusage: --install [-s] [DIR]\n")
		return 2
	}
	dir := DefaultInstallDir
	if len(dirs) == 1 {
		dir = dirs[0]
	}
	exe, err := m.executable()
	if err != nil {
		io.WriteString(env.Stderr, "--install: cannot find the binary's own path: "+err.Error()+"\n")
		return 1
	}
	status := 0
	for _, a := range m.Applets {
		link := filepath.Join(dir, a.Name)
		var st unix.Stat_t
		if unix.Lstat(link, &st) == nil {
			io.WriteString(env.Stderr, link+": exists, left alone\n")
			continue
		}
		op := "link"
		if symlink {
			op, err = "symlink", unix.Symlink(exe, link)
		} else {
			err = unix.Link(exe, link)
		}
		if err != nil {
			io.WriteString(env.Stderr, "--install: "+op+" "+exe+" "+link+": "+err.Error()+"\n")
			status = 1
		}
	}
	return status
}

// executable returns the absolute path of the running binary.
func (m *Multicall) executable() (string, error) {
	if m.Executable != nil {
		return m.Executable()
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(exe) {
		return "", &fs.PathError{Op: "executable", Path: exe, Err: errors.New("not an absolute path")}
	}
	return exe, nil
}
