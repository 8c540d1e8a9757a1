package cmdline

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

type opts struct {
	f, q    bool
	s       string
	n       int
	timeout time.Duration
}

func newSet(o *opts) *Set {
	s := New("t", "1.0", "usage: t [-fq] [-s PATH] [-n N] [-t SECONDS] ARGS\n")
	s.Flag('f', "foreground", &o.f)
	s.Flag('q', "", &o.q)
	s.String('s', "socket", &o.s)
	s.Int('n', "notify-fd", &o.n)
	s.Seconds('t', "timeout", &o.timeout)
	return s
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		want     opts
		operands []string
	}{
		{nil, opts{}, nil},
		{[]string{"-f"}, opts{f: true}, nil},
		{[]string{"-fq", "a"}, opts{f: true, q: true}, []string{"a"}},
		{[]string{"-s", "/x", "a", "b"}, opts{s: "/x"}, []string{"a", "b"}},
		{[]string{"-s/x"}, opts{s: "/x"}, nil},
		{[]string{"-qs/x"}, opts{q: true, s: "/x"}, nil},
		{[]string{"--socket=/x"}, opts{s: "/x"}, nil},
		{[]string{"--socket", "/x"}, opts{s: "/x"}, nil},
		{[]string{"--socket="}, opts{s: ""}, nil},
		{[]string{"a", "-f", "b"}, opts{f: true}, []string{"a", "b"}},
		{[]string{"-n", "3"}, opts{n: 3}, nil},
		{[]string{"-t", "2.5"}, opts{timeout: 2500 * time.Millisecond}, nil},
		{[]string{"--timeout=1"}, opts{timeout: time.Second}, nil},
		{[]string{"-t", ".25"}, opts{timeout: 250 * time.Millisecond}, nil},
		{[]string{"-t", "3."}, opts{timeout: 3 * time.Second}, nil},
		{[]string{"-t", "0.000000001"}, opts{timeout: 1}, nil},
		{[]string{"--", "-f", "--socket"}, opts{}, []string{"-f", "--socket"}},
		{[]string{"-"}, opts{}, []string{"-"}},
		{[]string{"*"}, opts{}, []string{"*"}},
	} {
		var o opts
		operands, err := newSet(&o).Parse(tt.args)
		if err != nil || o != tt.want || !reflect.DeepEqual(operands, tt.operands) {
			t.Errorf("Parse(%q) = %+v, %q, %v; want %+v, %q, nil", tt.args, o, operands, err, tt.want, tt.operands)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-x"}, "unknown option -x"},
		{[]string{"--nope"}, "unknown option --nope"},
		{[]string{"-s"}, "option -s needs an argument"},
		{[]string{"--socket"}, "option --socket needs an argument"},
		{[]string{"--foreground=yes"}, "option --foreground takes no argument"},
		{[]string{"-n", "x"}, `option -n "x": want a non-negative whole number`},
		{[]string{"-n", "-1"}, `option -n "-1": want a non-negative whole number`},
		{[]string{"-t", "0"}, `option -t "0": want a number of seconds greater than 0`},
		{[]string{"--timeout=abc"}, `option --timeout "abc": want a number of seconds greater than 0`},
		{[]string{"-t", "."}, `option -t ".": want a number of seconds greater than 0`},
		{[]string{"-t", "1e3"}, `option -t "1e3": want a number of seconds greater than 0`},
		{[]string{"-t", "-1"}, `option -t "-1": want a number of seconds greater than 0`},
		{[]string{"-t", "0.0000000001"}, `option -t "0.0000000001": want a number of seconds greater than 0`},
		{[]string{"-t", "99999999"}, `option -t "99999999": want a number of seconds greater than 0`},
	} {
		var o opts
		_, err := newSet(&o).Parse(tt.args)
		if err == nil || err.Error() != tt.msg {
			t.Errorf("Parse(%q) = %v; want %q", tt.args, err, tt.msg)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-fh"}, {"a", "--help"}} {
		var o opts
		if _, err := newSet(&o).Parse(args); !errors.Is(err, ErrHelp) {
			t.Errorf("Parse(%q) = %v; want ErrHelp", args, err)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-f", "--version"}, {"a", "--version"}} {
		var o opts
		if _, err := newSet(&o).Parse(args); !errors.Is(err, ErrVersion) {
			t.Errorf("Parse(%q) = %v; want ErrVersion", args, err)
		}
	}
	var o opts
	s := newSet(&o)
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	if code := s.Fail(ErrVersion); code != 0 || out.String() != "t 1.0\n" || errOut.Len() != 0 {
		t.Errorf("Fail(ErrVersion) = %d, stdout %q, stderr %q; want 0, \"t 1.0\\n\"", code, out.String(), errOut.String())
	}
}

func TestFail(t *testing.T) {
	var o opts
	s := newSet(&o)
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	if code := s.Fail(ErrHelp); code != 0 || !strings.HasPrefix(out.String(), "usage: t") || errOut.Len() != 0 {
		t.Errorf("Fail(ErrHelp) = %d, stdout %q, stderr %q; want 0, usage on stdout", code, out.String(), errOut.String())
	}
	out.Reset()
	_, err := s.Parse([]string{"-x"})
	if code := s.Fail(err); code != 2 || out.Len() != 0 || errOut.String() != "t: unknown option -x\nTry 't --help' for more information.\n" {
		t.Errorf("Fail(usage error) = %d, stdout %q, stderr %q; want 2, the message and where to read on", code, out.String(), errOut.String())
	}
}

func TestStopAtOperand(t *testing.T) {
	var o opts
	s := newSet(&o)
	s.StopAtOperand = func() bool { return o.s != "" }
	operands, err := s.Parse([]string{"-q", "-s", "cups", "cupsd", "-f", "--x"})
	if err != nil || !o.q || o.f || !reflect.DeepEqual(operands, []string{"cupsd", "-f", "--x"}) {
		t.Errorf("Parse = %+v, %q, %v; want -q and -s parsed, the rest left to the command", o, operands, err)
	}
	o = opts{}
	operands, _ = s.Parse([]string{"a", "-f", "b"})
	if !o.f || !reflect.DeepEqual(operands, []string{"a", "b"}) {
		t.Errorf("Parse without the condition = %+v, %q; want options anywhere", o, operands)
	}
}
