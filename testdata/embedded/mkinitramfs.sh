#!/bin/sh
# mkinitramfs.sh OUT.cpio.gz FETCHDIR PORTRESERVE CUPSD: the initramfs of
# a busybox-init boot: FETCHDIR's busybox (as /bin/busybox and /sbin/init),
# libraries and bindresv (from fetch.sh), the portreserve binary of that
# architecture in /usr/sbin with its applet links, the shipped start
# scripts (scripts/busybox/S20portreserve and the cups example
# scripts/cups/busybox/S81cupsd) with the checks of this directory between
# them, run by a Buildroot-style rcS; CUPSD stands in for cupsd (it serves
# $PORTRESERVE_TEST_SERVE).
set -eu
out=$1 fetch=$2 portreserve=$3 cupsd=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$here/../..
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp -a "$fetch/root/." "$root/"
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc/init.d" \
	"$root/etc/default" "$root/etc/portreserve" "$root/proc" "$root/sys" "$root/dev" \
	"$root/run" "$root/tmp" "$root/root"
ln -sfn ../run "$root/var/run" 2>/dev/null || { mkdir -p "$root/var"; ln -s ../run "$root/var/run"; }
cp "$fetch/busybox" "$root/bin/busybox"
for applet in $("$here/applets.sh"); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -sf ../bin/busybox "$root/sbin/init"
ln -sf sbin/init "$root/init"
cp "$portreserve" "$root/usr/sbin/portreserve"
ln -s portreserve "$root/usr/sbin/portrelease"
ln -s portreserve "$root/usr/sbin/portreserve-check"
cp "$cupsd" "$root/usr/sbin/cupsd"
cp "$fetch/bindresv" "$root/usr/bin/bindresv"
cp "$top/scripts/busybox/S20portreserve" "$root/etc/init.d/"
cp "$top/scripts/cups/busybox/S81cupsd" "$root/etc/init.d/"
for f in inittab rcS rcK; do cp "$here/$f" "$root/etc/$f"; done
mv "$root/etc/rcS" "$root/etc/rcK" "$root/etc/init.d/"
cp "$here/S29held" "$here/S30rpc" "$here/S82cups" "$here/check" "$root/etc/init.d/"
# Every port bindresvport takes (512-1023) held but 700: cups holds 631,
# rpc the rest.
printf '631\n' > "$root/etc/portreserve/cups"
printf '512-630\n632-699\n701-1023\n' > "$root/etc/portreserve/rpc"
# cupsd, as the cups example starts it: detached, with a pidfile.
cat > "$root/usr/sbin/cupsd-start" <<'EOS'
#!/bin/sh
PORTRESERVE_TEST_SERVE=631 /usr/sbin/cupsd < /dev/null > /dev/null 2>&1 &
echo $! > /run/cups/cupsd.pid
EOS
chmod 0755 "$root/usr/sbin/cupsd-start" "$root"/etc/init.d/*
printf 'CUPSD=/usr/sbin/cupsd-start\n' > "$root/etc/default/cupsd"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
