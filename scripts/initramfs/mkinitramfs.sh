#!/bin/sh
# mkinitramfs.sh OUT.cpio.gz PORTRESERVE BUSYBOX
# Builds a gzip'd newc cpio holding a static busybox, the portreserve
# binary as /usr/sbin/portreserve (its applet links are made at boot by its
# own --install -s), an example /etc/portreserve, and scripts/initramfs/init.
set -eu
out=$1 bin=$2 busybox=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/usr/sbin" "$root/etc/portreserve" "$root/dev"
cp "$busybox" "$root/bin/busybox"
cp "$bin" "$root/usr/sbin/portreserve"
cp "$here/init" "$root/init"
chmod 0755 "$root/init" "$root/bin/busybox" "$root/usr/sbin/portreserve"
printf 'ipp\n' > "$root/etc/portreserve/cups"
printf 'ldaps/tcp\n' > "$root/etc/portreserve/ldap"
printf '892\n4000-4003/tcp\n' > "$root/etc/portreserve/nfs"
# The kernel needs a console before devtmpfs is mounted.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -9 > "$out"
