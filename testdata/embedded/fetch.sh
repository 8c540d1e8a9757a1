#!/bin/sh
# fetch.sh ARCH DIR: what a busybox-init boot of ARCH needs from Debian's
# archive, unpacked in DIR, never installed: the kernel (DIR/kernel), the
# static busybox (DIR/busybox), libtirpc and the libraries it needs
# (DIR/root, copied into the initramfs as they are), and DIR/bindresv,
# testdata/bindresv.c built with Debian's cross compiler against that
# libtirpc. ARCH: amd64, arm64, armhf (Debian 12) or riscv64 (Debian 13,
# the first release with it). Needs the network and the cross compilers
# (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf, gcc-riscv64-linux-gnu);
# .ci/run calls it once per architecture.
set -eu
arch=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
case $arch in
amd64) suite=bookworm triplet=x86_64-linux-gnu kernel='linux-image-6\.1\.0-[0-9]+-cloud-amd64' ;;
arm64) suite=bookworm triplet=aarch64-linux-gnu kernel='linux-image-6\.1\.0-[0-9]+-cloud-arm64' ;;
armhf) suite=bookworm triplet=arm-linux-gnueabihf kernel='linux-image-6\.1\.0-[0-9]+-armmp' ;;
riscv64) suite=trixie triplet=riscv64-linux-gnu kernel='linux-image-[0-9][^ ]*-riscv64' ;;
*) echo "fetch.sh: unknown architecture $arch" >&2; exit 2 ;;
esac
mkdir -p "$dir/debs" "$dir/root"
dir=$(cd "$dir" && pwd)
# A private apt state: this architecture and suite only.
state=$dir/apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
{
	echo "deb [arch=$arch] http://deb.debian.org/debian $suite main"
	echo "deb [arch=$arch] http://deb.debian.org/debian $suite-updates main"
	echo "deb [arch=$arch] http://deb.debian.org/debian-security $suite-security main"
} > "$state/sources.list"
apt() {
	apt-get -q -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" \
		-o Dir::State::Status=/dev/null -o APT::Architecture="$arch" -o APT::Architectures="$arch" \
		-o Debug::NoLocking=1 "$@" < /dev/null
}
aptcache() {
	apt-cache -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" \
		-o Dir::State::Status=/dev/null -o APT::Architecture="$arch" -o APT::Architectures="$arch" "$@"
}
apt update
kpkg=$(aptcache search --names-only "^$kernel\$" | awk '{print $1}' | sort -V | tail -n 1)
[ -n "$kpkg" ] || { echo "fetch.sh: no kernel package matches $kernel for $arch" >&2; exit 1; }
# libtirpc-dev and every library it needs, down to libc6.
libs=$(aptcache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances --no-pre-depends libtirpc-dev |
	awk '/^[a-z0-9]/ { print $1 }' | grep -v -e '^<' -e '^libc6-dev$' -e '^linux-libc-dev$' \
	-e '^libgcc-' -e '^gcc-' -e '^libcrypt-dev$' -e '^rpcsvc-proto$' -e '^libnsl-dev$' -e '^debconf' -e '^perl' | sort -u)
(cd "$dir/debs" && apt download "$kpkg" busybox-static $libs libgcc-s1)
for deb in "$dir"/debs/*.deb; do
	case $deb in
	*/linux-image-*) dpkg-deb -x "$deb" "$dir/kernel-root" ;;
	*/busybox-static_*) dpkg-deb -x "$deb" "$dir/busybox-root" ;;
	*) dpkg-deb -x "$deb" "$dir/root" ;;
	esac
done
cp "$dir"/kernel-root/boot/vmlinu* "$dir/kernel"
cp "$(find "$dir/busybox-root" -path "*bin/busybox" -type f | head -n 1)" "$dir/busybox"
rm -rf "$dir/kernel-root" "$dir/busybox-root" "$dir/debs" "$state"
# Debian 13 merged /usr: the libraries are under usr/lib, the loader's
# path (/lib/ld-linux-*) goes through the /lib link.
for d in lib lib64; do
	[ -d "$dir/root/usr/$d" ] && [ ! -e "$dir/root/$d" ] && ln -s "usr/$d" "$dir/root/$d"
done
cc=$triplet-gcc
[ "$arch" = amd64 ] && cc=gcc
# Linked against this architecture's libtirpc (the file itself: the
# package's libtirpc.so link is absolute, pointing into the host), whose
# own needs are met at run time by the libraries beside it (they may be
# newer than the cross compiler's libc: --allow-shlib-undefined).
tirpc=$(find "$dir/root/lib/" "$dir/root/usr/lib/" -name 'libtirpc.so.3' | head -n 1)
$cc -Wall -O -I"$dir/root/usr/include/tirpc" -o "$dir/bindresv" "$here/../bindresv.c" "$tirpc" \
	-Wl,-rpath-link,"$dir/root/usr/lib/$triplet:$dir/root/lib/$triplet" -Wl,--allow-shlib-undefined
rm -rf "$dir/root/usr/include" "$dir/root/usr/share"
echo "fetch.sh: $arch: $kpkg, $(ls "$dir/root/usr/lib/$triplet" | wc -l) libraries, bindresv built"
