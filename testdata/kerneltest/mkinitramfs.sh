#!/bin/sh
# mkinitramfs.sh OUT.cpio.gz BUSYBOX BINDIR TESTBIN TESTS
# The initramfs of the kernel tests: a static busybox, ./init, and in /t
# the portreserve binary with its applet links and the helper programs
# (integration/testcmd) from BINDIR, the static test binary TESTBIN, and
# the -test.run pattern TESTS.
set -eu
out=$1 busybox=$2 bindir=$3 testbin=$4 tests=$5
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/t" "$root/etc" "$root/dev"
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
cp -P "$bindir"/* "$root/t/"
cp "$testbin" "$root/t/portreserve.test"
printf '%s\n' "$tests" > "$root/t/run"
chmod 0755 "$root" "$root/t" "$root/init" "$root/bin/busybox" "$root/t/portreserve.test"
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
