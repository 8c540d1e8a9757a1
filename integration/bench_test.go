//go:build integration && bench

package integration

// make bench: the figures that matter for a daemon that starts at every
// boot and sits there all uptime, each against a floor measured in the same
// run (testdata/floor, built with the same flags), so that the ratios hold
// on a noisy machine. It prints one table and fails when a budget does.

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"portreserve/ipc"
	"portreserve/services"
)

// figure is one row of the table. goal and limit are ratios to the floor:
// goal what the figure should reach (the goals of the footprint review of
// November 2026), limit what it must not
// exceed (the ratio that review measured, the baseline, which no change may make worse, or
// for the size the budget, 1.40); 0 for none.
type figure struct {
	name        string
	ours, floor float64
	unit        string
	goal, limit float64
	// budget and ok are an absolute limit, checked by the caller: zero
	// context switches, the baseline's thread count.
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

// buildFloor builds the Go program at dir (testdata/floor or
// testdata/floor/detach) with the release flags.
func buildFloor(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(dir))
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "./"+dir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", dir, err, b)
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

// benchSetup is newSetup with the socket and the pidfile on a tmpfs, as
// /run is wherever the daemon runs for real: on this VM's ext4 /tmp, the
// pidfile's open, lock and write alone took 0.3-0.5 ms, on tmpfs 0.1.
func benchSetup(t *testing.T, files map[string]string) *setup {
	t.Helper()
	if noMountns != "" {
		t.Skip(noMountns)
	}
	s := newSetup(t, files)
	run := filepath.Dir(s.sock)
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", run, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", run, err)
	}
	t.Cleanup(func() { syscall.Unmount(run, syscall.MNT_DETACH) })
	s.pidfile = filepath.Join(run, "portreserve.pid")
	return s
}

// fewestThreads starts argv, which signals readiness on descriptor 3, five
// times, and returns the fewest threads it had once settled: what it needs.
// A Go process can end up with a thread or two more when the machine is
// busy as it starts (the runtime hands a processor blocked in a system
// call to a new thread), the floor as much as the daemon.
func fewestThreads(t *testing.T, argv ...string) int {
	t.Helper()
	var counts []int
	for i := 0; i < 5; i++ {
		cmd := exec.Command(argv[0], argv[1:]...)
		untilReady(t, cmd)
		time.Sleep(300 * time.Millisecond)
		counts = append(counts, status(t, cmd.Process.Pid, "Threads"))
		cmd.Process.Kill()
		cmd.Wait()
	}
	sort.Ints(counts)
	return counts[0]
}

// timeRun returns the median time from exec to exit of n runs of argv.
func timeRun(t *testing.T, n int, argv ...string) time.Duration {
	t.Helper()
	var d []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		exec.Command(argv[0], argv[1:]...).Run() // the floor exits 2
		d = append(d, time.Since(start))
	}
	return median(d)
}

// phases runs the daemon with -d on s n times and returns the median time
// of each start-up phase its debug line names ("start-up: signals 0.021
// ms, pidfile ..."), in milliseconds, and the phase names in order.
func phases(t *testing.T, s *setup, n int) (map[string]float64, []string) {
	t.Helper()
	all := map[string][]float64{}
	var order []string
	for i := 0; i < n; i++ {
		cmd := exec.Command(bin("portreserve"), s.args("-d", "-N", "3")...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		untilReady(t, cmd)
		cmd.Process.Kill()
		cmd.Wait()
		_, line, ok := strings.Cut(stderr.String(), "start-up: ")
		if !ok {
			t.Fatalf("portreserve -d logged no start-up line:\n%s", stderr.String())
		}
		line, _, _ = strings.Cut(line, "\n")
		sum := map[string]float64{}
		for _, ph := range strings.Split(line, ", ") {
			f := strings.Fields(ph) // name ms "ms"
			if len(f) != 3 {
				t.Fatalf("start-up line %q: phase %q", line, ph)
			}
			ms, _ := strconv.ParseFloat(f[1], 64)
			if _, seen := all[f[0]]; !seen && i == 0 {
				order = append(order, f[0])
			}
			sum[f[0]] += ms
		}
		for name, ms := range sum {
			all[name] = append(all[name], ms)
		}
	}
	med := map[string]float64{}
	for name, v := range all {
		sort.Float64s(v)
		med[name] = v[len(v)/2]
	}
	return med, order
}

func TestBenchReport(t *testing.T) {
	needNetns(t)
	floor := buildFloor(t, "testdata/floor")
	floorDetach := buildFloor(t, "testdata/floor/detach")
	var figs []figure
	add := func(f figure) { figs = append(figs, f) }

	// 1. Binary size.
	ours, _ := os.Stat(bin("portreserve"))
	fl, _ := os.Stat(floor)
	add(figure{name: "binary size (" + runtime.GOARCH + ")", ours: float64(ours.Size()), floor: float64(fl.Size()), unit: "B", goal: 1.25, limit: 1.40})

	// 2. Exec to ready in the foreground, median of 7; and the phases.
	goal := map[int]float64{10: 1.20, 1000: 1.20, 10000: 1.15}
	limit := map[int]float64{10: 1.60, 1000: 1.47, 10000: 1.33}
	ready := map[int][2]time.Duration{}
	phase := map[int]map[string]float64{}
	var order []string
	for _, n := range []int{10, 1000, 10000} {
		ports := n / 2
		s := benchSetup(t, map[string]string{"r": "40000-" + strconv.Itoa(40000+ports-1) + "\n"})
		var o, f []time.Duration
		runs := 15
		if n == 10000 {
			runs = 7
		}
		for i := 0; i < runs; i++ {
			cmd := exec.Command(bin("portreserve"), s.args("-f", "-N", "3")...)
			o = append(o, untilReady(t, cmd))
			cmd.Process.Kill()
			cmd.Wait()
			fcmd := exec.Command(floor, "hold", "40000", strconv.Itoa(ports))
			f = append(f, untilReady(t, fcmd))
			fcmd.Process.Kill()
			fcmd.Wait()
		}
		mo, mf := median(o), median(f)
		ready[n] = [2]time.Duration{mo, mf}
		add(figure{name: "exec to ready, " + strconv.Itoa(n) + " reservations", ours: float64(mo.Microseconds()), floor: float64(mf.Microseconds()), unit: "us", goal: goal[n], limit: limit[n]})
		phase[n], order = phases(t, s, 7)
	}

	// 3. The detached start, what init scripts run: exec of portreserve
	// to its return, every port held, against the floor's re-exec.
	for _, n := range []int{10, 1000} {
		ports := n / 2
		s := benchSetup(t, map[string]string{"r": "43000-" + strconv.Itoa(43000+ports-1) + "\n"})
		// Its stderr is a file: with no syslog here (a container),
		// the daemon keeps the stderr it was started with, and a pipe
		// would not reach its end.
		stderr := stderrFile(t)
		var o, f []time.Duration
		runs := 15
		if n == 1000 {
			runs = 7
		}
		for i := 0; i < runs; i++ {
			cmd := exec.Command(bin("portreserve"), s.args()...)
			cmd.Stderr = stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b, _ := os.ReadFile(stderr.Name())
				t.Fatalf("portreserve: %v\n%s", err, b)
			}
			o = append(o, time.Since(start))
			s.kill()
			fcmd := exec.Command(floorDetach, floor, "43000", strconv.Itoa(ports))
			fcmd.Stderr = stderr // not Output's pipe, which the child would keep
			start = time.Now()
			out, err := fcmd.Output()
			f = append(f, time.Since(start))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
			if err != nil || pid <= 0 {
				t.Fatalf("floor detach: %v (%q)", err, out)
			}
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid)
		}
		mo, mf := median(o), median(f)
		add(figure{name: "detached start, exec to return, " + strconv.Itoa(n) + " reservations", ours: float64(mo.Microseconds()), floor: float64(mf.Microseconds()), unit: "us", goal: 1.30})
	}

	// 4. Idle footprint after the holds, 10 s each.
	for _, n := range []int{10, 10000} {
		ports := n / 2
		s := benchSetup(t, map[string]string{"r": "41000-" + strconv.Itoa(41000+ports-1) + "\n"})
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
		rssLimit := map[int]float64{10: 1.67, 10000: 1.53}
		add(figure{name: "idle VmRSS, " + label, ours: float64(status(t, p, "VmRSS")), floor: float64(status(t, q, "VmRSS")), unit: "kB"})
		add(figure{name: "idle RssAnon, " + label, ours: float64(status(t, p, "RssAnon")), floor: float64(status(t, q, "RssAnon")), unit: "kB", goal: 1.25, limit: rssLimit[n]})
		add(figure{name: "context switches in 10 s idle, " + label, ours: float64(s1 - s0), floor: float64(f1 - f0), budget: "0", ok: s1-s0 == 0, noFloorRatio: true})
		cmd.Process.Kill()
		cmd.Wait()
		fcmd.Process.Kill()
		fcmd.Wait()
		// The limit is a count, not a ratio: the floor's count varies from
		// 3 to 5 with scheduling. The baseline had 6; the admin socket's
		// loop, blocked in recvmsg of its own, takes one more.
		threads := fewestThreads(t, append([]string{bin("portreserve")}, s.args("-f", "-N", "3")...)...)
		add(figure{name: "idle threads (fewest of 5 starts), " + label, ours: float64(threads),
			floor: float64(fewestThreads(t, floor, "hold", "51000", strconv.Itoa(ports))), goal: 1.00,
			budget: "<= 7", ok: threads <= 7})
	}

	// 5. Release latency: in-process round trips, and whole processes.
	s := benchSetup(t, map[string]string{"a": "42001/tcp\n"})
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
	// No floor and no budget: an absolute figure says more about the
	// machine than about the daemon; the process figure below has one.
	add(figure{name: "release round trip p50 (in-process)", ours: float64(p50.Nanoseconds()) / 1000, unit: "us", noFloorRatio: true})
	add(figure{name: "release round trip p99 (in-process)", ours: float64(p99.Nanoseconds()) / 1000, unit: "us", noFloorRatio: true})
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
	add(figure{name: "portrelease process, exec to exit", ours: float64(mp.Microseconds()), floor: float64(mf.Microseconds()), unit: "us", goal: 1.50})
	s.kill()

	// 6. services parsing, against splitting the same bytes into lines.
	debian, _ := os.ReadFile("services/testdata/netbase-services")
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
		add(figure{name: in.name, ours: float64(o.NsPerOp()) / 1000, floor: float64(f.NsPerOp()) / 1000, unit: "us"})
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
	add(figure{name: "lookups per second", ours: 1e9 / float64(o.NsPerOp()), floor: 1e9 / float64(f.NsPerOp()), unit: "/s"})

	// The table: a figure worse than the baseline measured fails; one over
	// its goal is named, and the phase table below says where it goes.
	var b strings.Builder
	b.WriteString("\n| figure | portreserve | floor | ratio | goal | limit | |\n|---|---:|---:|---:|---:|---:|---|\n")
	failed := 0
	num := func(v float64) string {
		if v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	for _, f := range figs {
		unit := ""
		if f.unit != "" {
			unit = " " + f.unit
		}
		ratio, floor, goal, limit, verdict := "-", "-", "", "", ""
		if f.floor != 0 {
			floor = num(f.floor) + unit
		}
		r := f.ours / f.floor
		if f.floor != 0 && !f.noFloorRatio {
			ratio = strconv.FormatFloat(r, 'f', 2, 64)
		}
		if f.goal != 0 {
			goal = "<= " + strconv.FormatFloat(f.goal, 'f', 2, 64)
			verdict = "goal met"
			if r > f.goal+0.005 {
				verdict = "over goal"
			}
		}
		if f.limit != 0 {
			limit = strconv.FormatFloat(f.limit, 'f', 2, 64)
			if r > f.limit+0.005 {
				verdict = "**WORSE**"
				failed++
			}
		}
		if f.budget != "" {
			// An absolute limit: checked by the caller, in ok.
			limit = f.budget
			if verdict == "" {
				verdict = "ok"
			}
			if !f.ok {
				verdict = "**FAIL**"
				failed++
			}
		}
		b.WriteString("| " + f.name + " | " + num(f.ours) + unit + " | " + floor + " | " + ratio + " | " + goal + " | " + limit + " | " + verdict + " |\n")
	}

	// Where the start-up goes: the daemon's own phases (portreserve -d),
	// runtime start and exit (portreserve --version against the floor
	// exiting at once), and what neither accounts for.
	rtOurs := timeRun(t, 41, bin("portreserve"), "--version")
	rtFloor := timeRun(t, 41, floor)
	ms := func(d float64) string { return strconv.FormatFloat(d, 'f', 3, 64) }
	b.WriteString("\nStart-up by phase, ms (median of 7; portreserve -d logs its phases):\n\n| phase | 10 | 1,000 | 10,000 | floor 10 | floor 1,000 | floor 10,000 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	counts := []int{10, 1000, 10000}
	row := func(name string, ours func(n int) float64, floor func(n int) float64) {
		b.WriteString("| " + name)
		for _, n := range counts {
			b.WriteString(" | " + ms(ours(n)))
		}
		for _, n := range counts {
			b.WriteString(" | " + ms(floor(n)))
		}
		b.WriteString(" |\n")
	}
	toMs := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	zero := func(int) float64 { return 0 }
	row("runtime start and exit", func(int) float64 { return toMs(rtOurs) }, func(int) float64 { return toMs(rtFloor) })
	for _, name := range order {
		name := name
		floorOf := zero
		if name == "binds" {
			floorOf = func(n int) float64 { return toMs(ready[n][1] - rtFloor) }
		}
		row(name, func(n int) float64 { return phase[n][name] }, floorOf)
	}
	row("rest: arguments, readiness, untimed", func(n int) float64 {
		rest := toMs(ready[n][0] - rtOurs)
		for _, v := range phase[n] {
			rest -= v
		}
		return rest
	}, zero)
	row("exec to ready", func(n int) float64 { return toMs(ready[n][0]) }, func(n int) float64 { return toMs(ready[n][1]) })
	host, _ := os.Hostname()
	b.WriteString("\nmachine: " + host + ", " + strconv.Itoa(numCPU()) + " CPUs, " + kernel() + "\n")
	os.Stdout.WriteString(b.String())
	// make bench puts the tables into doc/performance.md.
	if out := os.Getenv("PORTRESERVE_BENCH_REPORT"); out != "" {
		if err := os.WriteFile(out, []byte(strings.TrimPrefix(b.String(), "\n")), 0o644); err != nil {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d figures are over their limit: worse than the baseline measured, or over the size budget", failed)
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
