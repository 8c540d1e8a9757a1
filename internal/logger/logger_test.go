package logger

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

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
