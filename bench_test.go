//go:build bench

package main

// make bench: the figures that matter for a daemon that starts at every
// boot and sits there all uptime, each against a floor measured in the same
// run (testdata/floor, built with the same flags), so that the ratios hold
// on a noisy machine. It prints one table and fails when a budget does.

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"portreserve/ipc"
	"portreserve/services"
)

// figure is one row of the table.
type figure struct {
	name         string
	ours, floor  float64
	unit         string
	budget       string
	ok           bool
	noFloorRatio bool
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

// buildFloor builds testdata/floor with the release flags.
func buildFloor(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "floor")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "./testdata/floor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build floor: %v\n%s", err, b)
	}
	return out
}

// untilReady starts cmd with a pipe on fd 3 and returns the time from
// exec to the newline on it.
func untilReady(t *testing.T, cmd *exec.Cmd) time.Duration {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if n, _ := r.Read(make([]byte, 1)); n != 1 {
		t.Fatalf("%v exited before it was ready", cmd.Args)
	}
	d := time.Since(start)
	r.Close()
	return d
}

// status reads fields of /proc/PID/status.
func status(t *testing.T, pid int, field string) int {
	t.Helper()
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}

// switches sums the context switches of every thread of pid.
func switches(pid int) int {
	tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	sum := 0
	for _, task := range tasks {
		data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/status")
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 2 && strings.HasSuffix(f[0], "ctxt_switches:") {
				n, _ := strconv.Atoi(f[1])
				sum += n
			}
		}
	}
	return sum
}

func TestBenchReport(t *testing.T) {
	needNetns(t)
	floor := buildFloor(t)
	var figs []figure
	add := func(f figure) { figs = append(figs, f) }

	// 1. Binary size.
	ours, _ := os.Stat(bin("portreserve"))
	fl, _ := os.Stat(floor)
	add(figure{name: "binary size", ours: float64(ours.Size()), floor: float64(fl.Size()), unit: "bytes",
		budget: "<= 1,600,000 and <= 1.10x", ok: ours.Size() <= 1600000 && float64(ours.Size()) <= 1.10*float64(fl.Size())})

	// 2. Exec to ready, median of 5.
	for _, n := range []int{10, 1000, 10000} {
		ports := n / 2
		var o, f []time.Duration
		for i := 0; i < 5; i++ {
			s := newSetup(t, map[string]string{"r": "40000-" + strconv.Itoa(40000+ports-1) + "\n"})
			cmd := exec.Command(bin("portreserve"), s.args("-f", "-N", "3")...)
			o = append(o, untilReady(t, cmd))
			cmd.Process.Kill()
			cmd.Wait()
			fcmd := exec.Command(floor, "hold", "40000", strconv.Itoa(ports))
			f = append(f, untilReady(t, fcmd))
			fcmd.Process.Kill()
			fcmd.Wait()
		}
		limit := 1.5
		if n == 10000 {
			limit = 1.25
		}
		mo, mf := median(o), median(f)
		budget := ""
		ok := true
		if n != 1000 {
			budget = "<= " + strconv.FormatFloat(limit, 'f', 2, 64) + "x"
			ok = float64(mo) <= limit*float64(mf)
		}
		add(figure{name: "exec to ready, " + strconv.Itoa(n) + " reservations", ours: float64(mo.Microseconds()), floor: float64(mf.Microseconds()), unit: "us", budget: budget, ok: ok})
	}

	// 3. Idle footprint after the holds, 10 s each.
	for _, n := range []int{10, 10000} {
		ports := n / 2
		s := newSetup(t, map[string]string{"r": "41000-" + strconv.Itoa(41000+ports-1) + "\n"})
		cmd := exec.Command(bin("portreserve"), s.args("-f", "-N", "3")...)
		untilReady(t, cmd)
		fcmd := exec.Command(floor, "hold", "51000", strconv.Itoa(ports))
		untilReady(t, fcmd)
		time.Sleep(500 * time.Millisecond) // let start-up settle
		p, q := cmd.Process.Pid, fcmd.Process.Pid
		s0, f0 := switches(p), switches(q)
		time.Sleep(10 * time.Second)
		s1, f1 := switches(p), switches(q)
		label := strconv.Itoa(n) + " reservations"
		add(figure{name: "idle VmRSS, " + label, ours: float64(status(t, p, "VmRSS")), floor: float64(status(t, q, "VmRSS")), unit: "kB", ok: true})
		rssOK := n != 10000 || status(t, p, "RssAnon") <= 1024
		rb := ""
		if n == 10000 {
			rb = "<= 1024 kB"
		}
		add(figure{name: "idle RssAnon, " + label, ours: float64(status(t, p, "RssAnon")), floor: float64(status(t, q, "RssAnon")), unit: "kB", budget: rb, ok: rssOK})
		add(figure{name: "idle threads, " + label, ours: float64(status(t, p, "Threads")), floor: float64(status(t, q, "Threads")), unit: "", ok: true})
		add(figure{name: "context switches in 10 s idle, " + label, ours: float64(s1 - s0), floor: float64(f1 - f0), unit: "", budget: "0", ok: s1-s0 == 0, noFloorRatio: true})
		cmd.Process.Kill()
		cmd.Wait()
		fcmd.Process.Kill()
		fcmd.Wait()
	}

	// 4. Release latency: in-process round trips, and whole processes.
	s := newSetup(t, map[string]string{"a": "42001/tcp\n"})
	s.mustStart(t)
	conn, err := ipc.Dial(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	var rts []time.Duration
	for i := 0; i < 10000; i++ {
		start := time.Now()
		// A release of a name the daemon lacks: a full request and
		// reply, leaving the daemon as it was.
		if _, err := conn.Do(ipc.Request{Op: ipc.OpRelease, Name: "nosuch"}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		rts = append(rts, time.Since(start))
	}
	conn.Close()
	p50, p99 := percentile(rts, 0.50), percentile(rts, 0.99)
	add(figure{name: "release round trip p50 (in-process)", ours: float64(p50.Nanoseconds()) / 1000, unit: "us", budget: "<= 50 us", ok: p50 <= 50*time.Microsecond, noFloorRatio: true})
	add(figure{name: "release round trip p99 (in-process)", ours: float64(p99.Nanoseconds()) / 1000, unit: "us", ok: true, noFloorRatio: true})
	var pr, fr []time.Duration
	for i := 0; i < 50; i++ {
		start := time.Now()
		if err := exec.Command(bin("portrelease"), "-s", s.sock, "-q", "a-name-it-lacks").Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatal(err)
			}
		}
		pr = append(pr, time.Since(start))
		start = time.Now()
		if err := exec.Command(floor, "ask", s.sock).Run(); err != nil {
			t.Fatal(err)
		}
		fr = append(fr, time.Since(start))
	}
	mp, mf := median(pr), median(fr)
	add(figure{name: "portrelease process, exec to exit", ours: float64(mp.Microseconds()), floor: float64(mf.Microseconds()), unit: "us", budget: "<= 1.50x", ok: float64(mp) <= 1.5*float64(mf)})
	s.kill()

	// 5. services parsing, against splitting the same bytes into lines.
	debian, _ := os.ReadFile("services/netbase-services")
	var synth strings.Builder
	for i := 0; i < 20000; i++ {
		synth.WriteString("svc" + strconv.Itoa(i) + "\t" + strconv.Itoa(1+i%65535) + "/tcp\talias" + strconv.Itoa(i) + " # comment\n")
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{"parse Debian's services", debian}, {"parse 20,000 lines", []byte(synth.String())}} {
		o := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				services.Parse(in.data)
			}
		})
		f := testing.Benchmark(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_ = strings.Split(string(in.data), "\n")
			}
		})
		add(figure{name: in.name, ours: float64(o.NsPerOp()) / 1000, floor: float64(f.NsPerOp()) / 1000, unit: "us", ok: true})
	}
	db := services.Default()
	names := map[string]int{"ipp": 631}
	o := testing.Benchmark(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			db.Port("ipp", "tcp")
		}
	})
	f := testing.Benchmark(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_ = names["ipp"]
		}
	})
	add(figure{name: "lookups per second", ours: 1e9 / float64(o.NsPerOp()), floor: 1e9 / float64(f.NsPerOp()), unit: "/s", ok: true})

	// The table.
	var b strings.Builder
	b.WriteString("\n| figure | portreserve | floor | ratio | budget | |\n|---|---:|---:|---:|---|---|\n")
	failed := 0
	for _, f := range figs {
		ratio := "-"
		floor := "-"
		if f.floor != 0 && !f.noFloorRatio {
			ratio = strconv.FormatFloat(f.ours/f.floor, 'f', 2, 64)
			floor = strconv.FormatFloat(f.floor, 'f', -1, 64) + " " + f.unit
		} else if f.floor != 0 {
			floor = strconv.FormatFloat(f.floor, 'f', -1, 64) + " " + f.unit
		}
		verdict := "ok"
		if !f.ok {
			verdict = "**FAIL**"
			failed++
		}
		if f.budget == "" {
			verdict = ""
		}
		b.WriteString("| " + f.name + " | " + strconv.FormatFloat(f.ours, 'f', 1, 64) + " " + f.unit + " | " + floor + " | " + ratio + " | " + f.budget + " | " + verdict + " |\n")
	}
	host, _ := os.Hostname()
	b.WriteString("\nmachine: " + host + ", " + strconv.Itoa(numCPU()) + " CPUs, " + kernel() + "\n")
	os.Stdout.WriteString(b.String())
	if failed > 0 {
		t.Errorf("%d budgets do not hold", failed)
	}
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

func kernel() string {
	data, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(data))
}
