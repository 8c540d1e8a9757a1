#!/bin/sh
# mkimage.sh INIT BASE OUT.img BINDIR SCRIPTS
# Builds the disk image that make e2e boots under qemu with INIT as PID 1:
# a copy of the Debian root BASE (mkbase.sh) with the portreserve binary
# from BINDIR and its applet links, the project's init scripts from
# SCRIPTS, an example configuration, and the boot test of this directory,
# which prints the verdict on the serial console. No network needed.
set -eu
init=$1 base=$2 out=$3 bindir=$4 scripts=$5
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp -a "$base/." "$root/"
install -m 0755 "$bindir/portreserve" "$root/usr/sbin/portreserve"
ln -s portreserve "$root/usr/sbin/portrelease"
ln -s portreserve "$root/usr/sbin/portreserve-check"
mkdir -p "$root/etc/portreserve"
printf '631\n' > "$root/etc/portreserve/cups"
# Most of bindresvport's range, all but 700-710: rpc.statd must land there
# (or below 600).
printf '600-630\n632-699\n711-1023\n' > "$root/etc/portreserve/guard"
case $init in
systemd)
	wants="$root/etc/systemd/system/multi-user.target.wants"
	mkdir -p "$wants"
	install -m 0644 "$scripts/systemd/portreserve.service" "$root/etc/systemd/system/"
	ln -s ../portreserve.service "$wants/portreserve.service"
	ln -s /lib/systemd/system/rpc-statd.service "$wants/rpc-statd.service"
	install -m 0755 "$here/boot-check" "$root/usr/local/sbin/boottest"
	install -m 0644 "$here/boottest.service" "$root/etc/systemd/system/"
	ln -s ../boottest.service "$wants/boottest.service"
	;;
sysvinit)
	install -m 0755 "$scripts/sysvinit/portreserve" "$root/etc/init.d/portreserve"
	install -m 0755 "$here/boot-check" "$root/usr/local/sbin/boottest"
	install -m 0755 "$here/boottest.init" "$root/etc/init.d/boottest"
	chroot "$root" update-rc.d portreserve defaults
	chroot "$root" update-rc.d boottest defaults
	;;
openrc)
	# Debian's OpenRC starts rpcbind and nfs-common in sysinit.
	install -m 0755 "$scripts/openrc/portreserve" "$root/etc/init.d/portreserve"
	chroot "$root" rc-update add portreserve sysinit
	install -m 0755 "$here/boot-check" "$root/usr/local/sbin/boottest"
	printf '#!/bin/sh\n/usr/local/sbin/boottest openrc\n' > "$root/etc/rc.local"
	chmod 0755 "$root/etc/rc.local"
	;;
esac
rm -f "$out"
mke2fs -q -t ext4 -d "$root" "$out" 1G
