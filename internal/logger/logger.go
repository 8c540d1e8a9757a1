// Package logger writes the daemon's messages: to stderr in the
// foreground, and when detached to syslog by writing RFC 3164 lines to
// /dev/log itself (the log/syslog package would cost the binary the net
// package), else to /dev/kmsg (an initramfs has a kernel log but no syslog
// daemon), else nowhere.
//
// The lines are "<PRI>TAG[PID]: MSG", without the optional TIMESTAMP and
// HOSTNAME header fields: RFC 3164 (section 4.3) has the receiving syslogd
// add them, as rsyslog, syslog-ng, busybox syslogd and journald do, and the
// time a local syslogd receives a line is the time it was sent. Formatting a
// local time here would cost the binary time zone loading and formatting,
// about 57 kB.
package logger

import (
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Severities, as in syslog(3).
const (
	Err     = 3
	Warning = 4
	Notice  = 5
	Info    = 6
	Debug   = 7
)

// facilityDaemon is LOG_DAEMON.
const facilityDaemon = 3 << 3

// Logger writes messages to stderr, to syslog, or both. The zero value
// writes nowhere until Stderr is set or Syslog called.
type Logger struct {
	Tag     string    // program name, e.g. "portreserve"
	Stderr  io.Writer // nil for none
	Verbose bool      // write Debug messages too
	// StderrMax is the least severe level written to Stderr (Debug,
	// the zero value, writes everything); syslog gets every level.
	StderrMax int
	// Journal says Stderr is systemd's journal: lines then start with
	// the sd-daemon(3) priority prefix ("<3>", "<4>", "<6>"), so that
	// journalctl -p warning finds them, and without the tag, which the
	// journal shows already.
	Journal bool

	// SyslogPath and KmsgPath are where syslog and the kernel log are;
	// Syslog uses them when set, "/dev/log" and "/dev/kmsg" by default.
	SyslogPath, KmsgPath string

	mu     sync.Mutex
	syslog bool
	open   bool // fd is a connected /dev/log socket or /dev/kmsg
	fd     int
	kmsg   bool // fd is /dev/kmsg
	stream bool // fd is a SOCK_STREAM socket
}

// New returns a logger that writes to stderr.
func New(tag string) *Logger {
	return &Logger{Tag: tag, Stderr: os.Stderr}
}

// Syslog makes l write to syslog (or the kernel log) as well.
func (l *Logger) Syslog() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.syslog = true
}

// SyslogReachable reports whether syslog (or the kernel log) can be
// written to now, connecting if need be.
func (l *Logger) SyslogReachable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open || l.connect()
}

// Close closes the connection to syslog, if any.
func (l *Logger) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open {
		unix.Close(l.fd)
		l.open = false
	}
}

// Log writes msg with the given severity.
func (l *Logger) Log(severity int, msg string) {
	if severity == Debug && !l.Verbose {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Stderr != nil && (l.StderrMax == 0 || severity <= l.StderrMax) {
		prefix := l.Tag + ": "
		switch {
		case l.Journal:
			prefix = "<" + strconv.Itoa(severity) + ">"
		case severity == Warning:
			prefix += "warning: "
		}
		io.WriteString(l.Stderr, prefix+msg+"\n")
	}
	if l.syslog {
		l.writeSyslog(severity, msg)
	}
}

// Error logs msg at LOG_ERR.
func (l *Logger) Error(msg string) { l.Log(Err, msg) }

// Warn logs msg at LOG_WARNING.
func (l *Logger) Warn(msg string) { l.Log(Warning, msg) }

// Info logs msg at LOG_INFO.
func (l *Logger) Info(msg string) { l.Log(Info, msg) }

// Debug logs msg at LOG_DEBUG when l.Verbose is set.
func (l *Logger) Debug(msg string) { l.Log(Debug, msg) }

// writeSyslog sends one message, connecting (again) where needed.
func (l *Logger) writeSyslog(severity int, msg string) {
	for attempt := 0; attempt < 2; attempt++ {
		if !l.open && !l.connect() {
			return
		}
		pri := "<" + strconv.Itoa(facilityDaemon|severity) + ">"
		tag := l.Tag + "[" + strconv.Itoa(os.Getpid()) + "]: "
		line := pri + tag + msg
		if l.kmsg || l.stream {
			line += "\n"
		}
		if _, err := unix.Write(l.fd, []byte(line)); err == nil {
			return
		}
		// syslogd restarted, or the socket went away: reconnect once.
		unix.Close(l.fd)
		l.open = false
	}
}

// connect opens syslog's socket, or the kernel log.
func (l *Logger) connect() bool {
	path := l.SyslogPath
	if path == "" {
		path = "/dev/log"
	}
	for _, typ := range []int{unix.SOCK_DGRAM, unix.SOCK_STREAM} {
		fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			unix.Close(fd)
			continue
		}
		l.open, l.fd, l.kmsg, l.stream = true, fd, false, typ == unix.SOCK_STREAM
		return true
	}
	kmsg := l.KmsgPath
	if kmsg == "" {
		kmsg = "/dev/kmsg"
	}
	fd, err := unix.Open(kmsg, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	l.open, l.fd, l.kmsg, l.stream = true, fd, true, false
	return true
}

// IsJournal reports whether descriptor fd is the stream that systemd
// connected to its journal, as $JOURNAL_STREAM ("DEVICE:INODE", the value
// given) says: systemd sets it for a service whose output goes to the
// journal, and the descriptor must still be that stream (a redirection in
// between makes it something else).
func IsJournal(fd int, journalStream string) bool {
	dev, ino, ok := strings.Cut(journalStream, ":")
	if !ok {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	return dev == strconv.FormatUint(uint64(st.Dev), 10) && ino == strconv.FormatUint(st.Ino, 10)
}
