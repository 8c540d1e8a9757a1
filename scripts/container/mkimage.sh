#!/bin/sh
# mkimage.sh ARCH DIR BUSYBOX
# Builds the two images of make image for ARCH (amd64, arm64) from local
# files only, no registry, with podman (or buildah where podman is not
# installed): localhost/portreserve:ARCH (Containerfile, FROM scratch)
# and localhost/portreserve-hello:ARCH (Containerfile.hello, on top). DIR
# holds the binaries make image built for ARCH (bin/portreserve, bin/hello);
# BUSYBOX is a static busybox for ARCH. It stages the images' files in
# DIR/base and DIR/hello, and writes their sizes to DIR/sizes.
set -eu
arch=$1 dir=$2 busybox=$3
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
if command -v podman > /dev/null; then
	build() { podman build --quiet --arch "$arch" "$@"; }
	size() { podman image inspect --format '{{.Size}}' "$1"; }
else
	build() { buildah bud --quiet --arch "$arch" "$@"; }
	size() { buildah inspect --type image --format '{{.Size}}' "$1" 2> /dev/null || echo '?'; }
fi

rm -rf "$dir/base" "$dir/hello"
base=$dir/base
mkdir -p "$base/usr/sbin" "$base/etc/portreserve" "$base/usr/share/portreserve/example" "$base/run" "$base/tmp"
chmod 1777 "$base/tmp"
install -m 0755 "$dir/bin/portreserve" "$base/usr/sbin/portreserve"
ln -s portreserve "$base/usr/sbin/portrelease"
ln -s portreserve "$base/usr/sbin/portreserve-check"
install -m 0644 "$src"/scripts/example/* "$base/usr/share/portreserve/example/"
# The licenses of what the binary contains.
sh "$src/scripts/notices.sh" "$base/usr/share/doc/portreserve" > /dev/null
cp "$here/Containerfile" "$dir/Containerfile"
build -t "localhost/portreserve:$arch" -f "$dir/Containerfile" "$dir" > /dev/null

hello=$dir/hello
mkdir -p "$hello/bin" "$hello/usr/sbin" "$hello/etc/portreserve" "$hello/entrypoint.d"
install -m 0755 "$busybox" "$hello/bin/busybox"
# The applet links, made here: building needs no RUN, so no emulator for
# another architecture's busybox.
for a in sh ash cat cp echo env id kill ln ls mkdir mkfifo mv nc ps rm sleep test true false uname wget; do
	ln -s busybox "$hello/bin/$a"
done
install -m 0755 "$here/entrypoint.sh" "$hello/entrypoint.sh"
install -m 0755 "$dir/bin/hello" "$hello/usr/sbin/hello"
printf '80/tcp\n' > "$hello/etc/portreserve/hello"
cp "$here/Containerfile.hello" "$dir/Containerfile.hello"
build --build-arg "BASE=localhost/portreserve:$arch" -t "localhost/portreserve-hello:$arch" -f "$dir/Containerfile.hello" "$dir" > /dev/null

{
	echo "localhost/portreserve:$arch $(size "localhost/portreserve:$arch")"
	echo "localhost/portreserve-hello:$arch $(size "localhost/portreserve-hello:$arch")"
} > "$dir/sizes"
cat "$dir/sizes"
