//go:build integration && e2e

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// embeddedBoards are the architectures booted with busybox init: Go's
// settings for the binary, the emulator and its machine, and the serial
// console the kernel writes to.
var embeddedBoards = []struct {
	arch    string   // Debian's name, testdata/embedded/fetch.sh's
	goenv   []string // GOARCH and the rest
	qemu    []string // emulator and machine
	console string
}{
	{"amd64", []string{"GOARCH=amd64"}, []string{"qemu-system-x86_64"}, "ttyS0"},
	{"arm64", []string{"GOARCH=arm64"}, []string{"qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57"}, "ttyAMA0"},
	{"armhf", []string{"GOARCH=arm", "GOARM=7"}, []string{"qemu-system-arm", "-M", "virt", "-cpu", "cortex-a15"}, "ttyAMA0"},
	{"riscv64", []string{"GOARCH=riscv64"}, []string{"qemu-system-riscv64", "-M", "virt", "-bios", "default"}, "ttyS0"},
}

// embeddedChecks are the verdicts each boot must print (testdata/embedded).
var embeddedChecks = []string{"held-before-S30", "rpc-free-port", "cups-release", "cups-stop", "stop", "rpc-without-daemon"}

// TestE2EEmbedded boots, for each architecture, Debian's kernel of that
// architecture (Debian 13's for riscv64) with an initramfs run by busybox
// init: that architecture's busybox and portreserve (built as make cross
// builds it), the shipped scripts/busybox/S20portreserve and the cups
// example S81cupsd run by a Buildroot-style rcS, and libtirpc's
// bindresvport of that architecture (testdata/bindresv.c, built by
// testdata/embedded/fetch.sh with Debian's cross compiler against
// Debian's libtirpc) in the RPC services' slot. Every port bindresvport
// takes is held but 700. Each check prints a verdict on the serial
// console (testdata/embedded): held before S30, bindresvport on 700 only,
// portrelease cups and cupsd on 631, 631 held again after cupsd stops,
// nothing left after the stop script, bindresvport on a held port once
// the daemon is gone; then a clean poweroff.
func TestE2EEmbedded(t *testing.T) {
	root := os.Getenv("PORTRESERVE_TEST_EMBEDDED")
	if root == "" {
		t.Skip("PORTRESERVE_TEST_EMBEDDED is not set: .ci/run fills it with testdata/embedded/fetch.sh ARCH DIR/ARCH for each architecture")
	}
	for _, b := range embeddedBoards {
		t.Run(b.arch, func(t *testing.T) {
			if _, err := exec.LookPath(b.qemu[0]); err != nil {
				t.Skip(b.qemu[0] + " is not installed (qemu-system-x86, qemu-system-arm, qemu-system-misc)")
			}
			fetched := filepath.Join(root, b.arch)
			dir := t.TempDir()
			for _, prog := range []struct{ out, pkg string }{{"portreserve", "."}, {"cupsd", "./integration/testcmd/fakeservice"}} {
				build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", filepath.Join(dir, prog.out), prog.pkg)
				build.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), b.goenv...)
				if out, err := build.CombinedOutput(); err != nil {
					t.Fatalf("go build %s for %s: %v\n%s", prog.pkg, b.arch, err, out)
				}
			}
			initrd := filepath.Join(dir, "initrd.gz")
			if out, err := exec.Command("sh", "testdata/embedded/mkinitramfs.sh", initrd, fetched,
				filepath.Join(dir, "portreserve"), filepath.Join(dir, "cupsd")).CombinedOutput(); err != nil {
				t.Fatalf("mkinitramfs.sh: %v\n%s", err, out)
			}
			args := append([]string{"180"}, b.qemu...)
			args = append(args, "-accel", "tcg", "-smp", "2", "-m", "512", "-nographic", "-no-reboot", "-nic", "none",
				"-kernel", filepath.Join(fetched, "kernel"), "-initrd", initrd,
				"-append", "console="+b.console+" panic=-1 quiet")
			start := time.Now()
			out, err := exec.Command("timeout", args...).CombinedOutput()
			took := time.Since(start)
			log := string(out)
			if err != nil {
				t.Errorf("%s: qemu: %v (a timeout means the machine never powered off)", b.arch, err)
			}
			for _, check := range embeddedChecks {
				v := verdict(log, "EMBEDDED: "+check+" ")
				if !strings.HasPrefix(v, "EMBEDDED: "+check+" PASS") {
					t.Errorf("%s: check %s: %q", b.arch, check, v)
				} else {
					t.Logf("%s: %s", b.arch, strings.TrimPrefix(v, "EMBEDDED: "))
				}
			}
			done := verdict(log, "EMBEDDED: done ")
			if done == "" || !strings.Contains(log, "reboot: Power down") {
				t.Errorf("%s: no clean poweroff (done line %q)", b.arch, done)
			}
			if t.Failed() {
				t.Logf("serial log:\n%s", log)
				return
			}
			t.Logf("embedded %s: PASS %s; qemu ran %v", b.arch, strings.TrimPrefix(done, "EMBEDDED: done "), took.Round(100*time.Millisecond))
		})
	}
}
