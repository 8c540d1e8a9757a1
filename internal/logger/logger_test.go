package logger

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestStderr(t *testing.T) {
	var buf bytes.Buffer
	l := &Logger{Tag: "portreserve", Stderr: &buf}
	l.Error("cups: 631/tcp: address in use")
	l.Warn("w")
	l.Debug("hidden")
	l.Verbose = true
	l.Debug("shown")
	l.StderrMax = Warning
	l.Info("not on stderr")
	want := "portreserve: cups: 631/tcp: address in use\nportreserve: warning: w\nportreserve: shown\n"
	if buf.String() != want {
		t.Errorf("stderr = %q; want %q", buf.String(), want)
	}
}

func TestSyslogDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	l := &Logger{Tag: "portreserve", SyslogPath: path, KmsgPath: "/nonexistent"}
	l.Syslog()
	l.Error("hello")
	defer l.Close()
	buf := make([]byte, 512)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatal(err)
	}
	// <27> is LOG_DAEMON|LOG_ERR.
	re := regexp.MustCompile(`^<27>portreserve\[` + strconv.Itoa(os.Getpid()) + `\]: hello$`)
	if !re.Match(buf[:n]) {
		t.Errorf("syslog datagram = %q; want it to match %s", buf[:n], re)
	}
}

func TestKmsgFallback(t *testing.T) {
	kmsg := filepath.Join(t.TempDir(), "kmsg")
	if err := os.WriteFile(kmsg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l := &Logger{Tag: "portreserve", SyslogPath: filepath.Join(t.TempDir(), "nolog"), KmsgPath: kmsg}
	l.Syslog()
	l.Log(Info, "held 3 ports")
	l.Close()
	got, _ := os.ReadFile(kmsg)
	want := "<30>portreserve[" + strconv.Itoa(os.Getpid()) + "]: held 3 ports\n"
	if string(got) != want {
		t.Errorf("kmsg = %q; want %q", got, want)
	}
}

func TestNowhere(t *testing.T) {
	l := &Logger{Tag: "portreserve", SyslogPath: "/nonexistent/log", KmsgPath: "/nonexistent/kmsg"}
	l.Syslog()
	l.Error("dropped") // must not panic or block
}

// syncBuffer is a bytes.Buffer that a limiter's timer may write to while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func TestLimiter(t *testing.T) {
	var out syncBuffer
	log := &Logger{Tag: "t", Stderr: &out}
	r := &Limiter{Log: log, What: "messages from others", Max: 3, Window: 200 * time.Millisecond}
	for i := 0; i < 100; i++ {
		r.Warn("refused " + strconv.Itoa(i))
	}
	if got, want := out.String(), "t: warning: refused 0\nt: warning: refused 1\nt: warning: refused 2\n"; got != want {
		t.Errorf("after 100 messages in a window of 3: %q; want %q", got, want)
	}
	// The window ends with nothing more logged: the count comes anyway.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "97 more") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasSuffix(out.String(), "t: warning: 97 more messages from others not logged\n") {
		t.Errorf("after the window: %q; want the count of the 97 held back", out.String())
	}
	// A new window lets messages through again.
	out.Reset()
	r.Info("next")
	if got := out.String(); got != "t: next\n" {
		t.Errorf("in a new window: %q; want the message", got)
	}
}

func TestJournal(t *testing.T) {
	var out bytes.Buffer
	l := &Logger{Tag: "portreserve", Stderr: &out, Journal: true}
	l.Error("cups: 631/tcp: cannot hold: address already in use")
	l.Warn("w")
	l.Info("i")
	if got, want := out.String(), "<3>cups: 631/tcp: cannot hold: address already in use\n<4>w\n<6>i\n"; got != want {
		t.Errorf("journal lines %q; want %q", got, want)
	}
}

func TestIsJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Stat_t
	unix.Fstat(int(f.Fd()), &st)
	stream := strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(st.Ino, 10)
	for _, tt := range []struct {
		value string
		want  bool
	}{{stream, true}, {"", false}, {"1:2", false}, {"garbage", false}} {
		if got := IsJournal(int(f.Fd()), tt.value); got != tt.want {
			t.Errorf("IsJournal(fd, %q) = %v; want %v", tt.value, got, tt.want)
		}
	}
}
