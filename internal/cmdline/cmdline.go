// Package cmdline parses command-line options for the applets, by hand, so
// that the binary does without the flag package.
//
// It accepts what getopt_long users expect: short options ("-f"), grouped
// short options ("-fq"), a short option's argument attached or separate
// ("-t5", "-t 5"), long options with "=" or a separate argument
// ("--timeout=5", "--timeout 5"), options before or after operands (or,
// with StopAtOperand, before them only), and "--" to end the options. A lone "-" is an operand. "-h" and "--help" are
// always known and make Parse return ErrHelp; "--version" is always known
// and makes it return ErrVersion.
package cmdline

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrHelp is returned by Parse when the user asked for --help.
var ErrHelp = errors.New("help requested")

// ErrVersion is returned by Parse when the user asked for --version.
var ErrVersion = errors.New("version requested")

// UsageError is a mistake on the command line.
type UsageError struct {
	Msg string
}

func (e *UsageError) Error() string { return e.Msg }

// Set is the options one applet accepts.
type Set struct {
	Name    string    // the applet's name, for messages
	Version string    // printed by --version after the name
	Usage   string    // the usage text printed by --help and on errors
	Stdout  io.Writer // for --help; os.Stdout when nil
	Stderr  io.Writer // for errors; os.Stderr when nil
	// StopAtOperand, when set and true at the first operand, ends the
	// options there, as for a command to run: "--exec NAME cmd -f"
	// leaves -f to cmd.
	StopAtOperand func() bool
	opts          []*option
}

type option struct {
	short byte
	long  string
	arg   bool                 // takes an argument
	set   func(v string) error // called with the argument ("" for flags)
}

// New returns an empty Set for the applet name, its version and its usage
// text.
func New(name, version, usage string) *Set {
	return &Set{Name: name, Version: version, Usage: usage}
}

// Flag defines a boolean option; short may be 0 and long "" for none.
func (s *Set) Flag(short byte, long string, p *bool) {
	s.opts = append(s.opts, &option{short: short, long: long, set: func(string) error { *p = true; return nil }})
}

// String defines an option with a string argument.
func (s *Set) String(short byte, long string, p *string) {
	s.opts = append(s.opts, &option{short: short, long: long, arg: true, set: func(v string) error { *p = v; return nil }})
}

// Int defines an option with a non-negative decimal integer argument.
func (s *Set) Int(short byte, long string, p *int) {
	s.opts = append(s.opts, &option{short: short, long: long, arg: true, set: func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("want a non-negative whole number")
		}
		*p = n
		return nil
	}})
}

// Seconds defines an option whose argument is a duration in seconds, with
// an optional fraction ("5", "0.5").
func (s *Set) Seconds(short byte, long string, p *time.Duration) {
	s.opts = append(s.opts, &option{short: short, long: long, arg: true, set: func(v string) error {
		d, ok := parseSeconds(v)
		if !ok || d <= 0 {
			return errors.New("want a number of seconds greater than 0")
		}
		*p = d
		return nil
	}})
}

// maxSeconds bounds a Seconds option, far below time.Duration's limit.
const maxSeconds = 1000000

// parseSeconds reads "S" or "S.F" (decimal, up to nanoseconds). It is
// written out because strconv.ParseFloat would add 16 kB to the binary
// for one option.
func parseSeconds(v string) (time.Duration, bool) {
	whole, frac, _ := strings.Cut(v, ".")
	if whole == "" && frac == "" || len(frac) > 9 {
		return 0, false
	}
	var sec, ns int64
	for _, c := range []byte(whole) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if sec = sec*10 + int64(c-'0'); sec > maxSeconds {
			return 0, false
		}
	}
	scale := int64(time.Second)
	for _, c := range []byte(frac) {
		if c < '0' || c > '9' {
			return 0, false
		}
		scale /= 10
		ns += int64(c-'0') * scale
	}
	return time.Duration(sec)*time.Second + time.Duration(ns), true
}

// Parse parses args (without the program name) and returns the operands.
func (s *Set) Parse(args []string) ([]string, error) {
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(operands, args[i+1:]...), nil
		case a == "--help" || a == "-h":
			return nil, ErrHelp
		case a == "--version":
			return nil, ErrVersion
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			o := s.long(name)
			if o == nil {
				return nil, &UsageError{"unknown option --" + name}
			}
			if !o.arg {
				if hasVal {
					return nil, &UsageError{"option --" + name + " takes no argument"}
				}
				o.set("")
				continue
			}
			if !hasVal {
				if i+1 >= len(args) {
					return nil, &UsageError{"option --" + name + " needs an argument"}
				}
				i++
				val = args[i]
			}
			if err := o.set(val); err != nil {
				return nil, &UsageError{"option --" + name + " " + strconv.Quote(val) + ": " + err.Error()}
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				c := a[j]
				if c == 'h' {
					return nil, ErrHelp
				}
				o := s.short(c)
				if o == nil {
					return nil, &UsageError{"unknown option -" + string(c)}
				}
				if !o.arg {
					o.set("")
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, &UsageError{"option -" + string(c) + " needs an argument"}
					}
					i++
					val = args[i]
				}
				if err := o.set(val); err != nil {
					return nil, &UsageError{"option -" + string(c) + " " + strconv.Quote(val) + ": " + err.Error()}
				}
				break
			}
		default:
			if s.StopAtOperand != nil && s.StopAtOperand() {
				return append(operands, args[i:]...), nil
			}
			operands = append(operands, a)
		}
	}
	return operands, nil
}

func (s *Set) long(name string) *option {
	for _, o := range s.opts {
		if o.long != "" && o.long == name {
			return o
		}
	}
	return nil
}

func (s *Set) short(c byte) *option {
	for _, o := range s.opts {
		if o.short != 0 && o.short == c {
			return o
		}
	}
	return nil
}

// Help prints the usage on stdout and returns exit status 0, or 1 when it
// could not be written (a full disk, a closed pipe).
func (s *Set) Help() int {
	return s.print("the help", s.Usage)
}

// PrintVersion prints "NAME VERSION" on stdout and returns exit status 0,
// or 1 when it could not be written.
func (s *Set) PrintVersion() int {
	return s.print("the version", s.Name+" "+s.Version+"\n")
}

// print writes text, what was asked for, on stdout and returns exit
// status 0, or says why it could not and returns 1.
func (s *Set) print(what, text string) int {
	if _, err := io.WriteString(s.stdout(), text); err != nil {
		io.WriteString(s.stderr(), s.Name+": "+what+": "+err.Error()+"\n")
		return 1
	}
	return 0
}

// Fail reports a usage error, and where to read on, and returns exit
// status 2 (the message stays in sight: the full usage would push it off
// the screen); for ErrHelp it prints the help, and for ErrVersion the
// version, and returns 0 instead.
func (s *Set) Fail(err error) int {
	if errors.Is(err, ErrHelp) {
		return s.Help()
	}
	if errors.Is(err, ErrVersion) {
		return s.PrintVersion()
	}
	io.WriteString(s.stderr(), s.Name+": "+err.Error()+"\nTry '"+s.Name+" --help' for more information.\n")
	return 2
}

func (s *Set) stdout() io.Writer {
	if s.Stdout == nil {
		return os.Stdout
	}
	return s.Stdout
}

func (s *Set) stderr() io.Writer {
	if s.Stderr == nil {
		return os.Stderr
	}
	return s.Stderr
}
