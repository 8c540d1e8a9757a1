//go:build integration && e2e

package integration

// The real cupsd (Debian's cups-daemon, its own cupsd.conf: Listen
// localhost:631) handed its sockets by portrelease --exec on a
// configuration of localhost:ipp, and libtirpc's bindresvport against the
// address holds.

import (
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"portreserve/internal/inetaddr"

	"golang.org/x/sys/unix"
)

// envOwnNetns marks a test binary that runOwnNetns started.
const envOwnNetns = "PORTRESERVE_TEST_OWN_NETNS"

// runOwnNetns runs the calling test again in network and mount namespaces
// of its own, and reports whether it did: the caller then returns. A test
// whose server leaves TIME_WAIT connections on a port other tests bind
// (cupsd closing HTTP connections on 631) keeps them to itself this way.
func runOwnNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envOwnNetns) != "" {
		return false
	}
	needNetns(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envOwnNetns+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	t.Logf("in a network namespace of its own:\n%s", out)
	if err != nil {
		t.Errorf("%s in its own network namespace: %v", t.Name(), err)
	}
	return true
}

// httpStatus returns the status of GET url, or "refused"/the error.
func httpStatus(url string) string {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		if strings.Contains(err.Error(), "refused") {
			return "refused"
		}
		return err.Error()
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// waitHTTP waits for url to answer, and returns its status.
func waitHTTP(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := httpStatus(url)
		if got != "refused" || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestE2ECupsAddresses(t *testing.T) {
	// cupsd closes HTTP connections itself, leaving TIME_WAITs on 631
	// that would refuse the other tests' binds of it for a minute.
	if runOwnNetns(t) {
		return
	}
	needE2E(t)
	cupsd, err := exec.LookPath("cupsd")
	if err != nil {
		t.Skip("cups-daemon is not installed (no cupsd)")
	}
	lpstat, err := exec.LookPath("lpstat")
	if err != nil {
		t.Skip("cups-client is not installed (no lpstat)")
	}
	client := buildClient(t)
	emptyBlacklist(t)
	useHosts(t, debianHosts)
	os.MkdirAll("/run/cups", 0o755)
	urls := []string{"http://127.0.0.1:631/", "http://[::1]:631/"}
	stopCupsd := func(cmd *exec.Cmd) {
		cmd.Process.Signal(unix.SIGTERM)
		cmd.Wait()
	}

	// cupsd binding itself, as Debian runs it: the status codes to match.
	own := exec.Command(cupsd, "-f")
	if err := own.Start(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, u := range urls {
		want = append(want, waitHTTP(t, u))
	}
	stopCupsd(own)
	if want[0] == "refused" || want[1] == "refused" {
		t.Fatalf("cupsd's own bind: %s answered %v; want both to answer", urls, want)
	}

	// The reservation: 631/tcp on cupsd's addresses, and every other port
	// bindresvport could take held on every address.
	s := newSetup(t, map[string]string{"cups": "localhost:ipp\n", "others": ranges(resvLow, resvHigh, 631)})
	s.mustStart(t)
	var held []string
	for _, row := range table(s.check(t, "-n", "cups").stdout) {
		held = append(held, strings.Join(row, " "))
	}
	if got, want := strings.Join(held, "; "), "cups 127.0.0.1:631 tcp ipp held -; cups [::1]:631 tcp ipp held -"; got != want {
		t.Errorf("portreserve-check -n cups = %q; want %q", got, want)
	}
	// bindresvport never gets 631: the address holds keep its wildcard
	// bind off, and every other port is taken.
	for i := 0; i < 20; i++ {
		if port, msg := runClient(t, client, inetaddr.TCP); port != -1 {
			t.Fatalf("bindresvport tcp got port %d (%s) with 631 held on 127.0.0.1 and ::1; want no port", port, msg)
		}
	}

	// The hand-off: cupsd -l takes the two sockets.
	cmd := exec.Command(bin("portrelease"), "-s", s.sock, "--exec", "cups", "--", cupsd, "-l")
	stderr := stderrFile(t)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stopCupsd(cmd)
	for i, u := range urls {
		if got := waitHTTP(t, u); got != want[i] {
			b, _ := os.ReadFile(stderr.Name())
			t.Errorf("handed-off cupsd: %s answered %s; want %s, as after its own bind\n%s", u, got, want[i], b)
		}
	}
	if got := httpStatus("http://127.0.0.2:631/"); got != "refused" {
		t.Errorf("handed-off cupsd: 127.0.0.2:631 answered %s; want refused (cupsd listens on localhost only)", got)
	}
	out, err := exec.Command(lpstat, "-h", "localhost:631", "-r").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "scheduler is running") {
		t.Errorf("lpstat -h localhost:631 -r = %q, %v; want \"scheduler is running\"", out, err)
	}
	// While cupsd has 631, bindresvport still gets nothing.
	if port, msg := runClient(t, client, inetaddr.TCP); port != -1 {
		t.Errorf("bindresvport tcp got port %d (%s) while cupsd serves 631; want no port", port, msg)
	}
	t.Logf("cupsd's own bind: %s %v; handed off by portrelease --exec on localhost:ipp: the same; 127.0.0.2:631 refused; lpstat: %s",
		urls, want, strings.TrimSpace(string(out)))
}
