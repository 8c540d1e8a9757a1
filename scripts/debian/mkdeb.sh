#!/bin/sh
# mkdeb.sh ARCH VERSION BINARY OUTDIR SELINUX_MODULE
# Builds portreserve_VERSION_ARCH.deb in OUTDIR with dpkg-deb alone, as
# Debian policy lays a package out: the binary and its applet links in
# /usr/sbin, the man pages compressed, the systemd unit and the LSB script
# (a conffile, with /etc/portreserve/README), the examples and the cups
# integration under /usr/share/doc/portreserve/examples, a changelog and a
# copyright file, the SELinux policy module (make selinux) in
# /usr/share/selinux/packages, and maintainer scripts that load it where
# SELinux is, and enable, start and stop the service as debhelper's would. Reproducible: every timestamp is
# SOURCE_DATE_EPOCH (make deb sets the last commit's time), files are
# owned by root, and gzip stores no name or time.
set -eu
arch=$1 version=$2 binary=$3 out=$4 selinux=$5
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
: "${SOURCE_DATE_EPOCH:=0}"
export SOURCE_DATE_EPOCH
maintainer=${DEB_MAINTAINER:-portreserve developers <portreserve@users.noreply.github.com>}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
umask 022

install -D -m 0755 "$binary" "$root/usr/sbin/portreserve"
ln -s portreserve "$root/usr/sbin/portrelease"
ln -s portreserve "$root/usr/sbin/portreserve-check"
for page in "$src"/doc/*.[58]; do
	section=${page##*.}
	install -D -m 0644 "$page" "$root/usr/share/man/man$section/${page##*/}"
	gzip -9n "$root/usr/share/man/man$section/${page##*/}"
done
install -D -m 0644 "$src/scripts/systemd/portreserve.service" "$root/lib/systemd/system/portreserve.service"
install -D -m 0755 "$src/scripts/sysvinit/portreserve" "$root/etc/init.d/portreserve"
install -D -m 0644 "$here/README.etc" "$root/etc/portreserve/README"
install -D -m 0644 "$selinux" "$root/usr/share/selinux/packages/${selinux##*/}"
doc=$root/usr/share/doc/portreserve
# The copyright file: portreserve's license, and those of what the static
# binary contains (the Go runtime and standard library, golang.org/x/sys),
# in the machine-readable format, with the versions built with; the same
# in Static-Built-Using.
versions=$(sh "$src/scripts/notices.sh" "$tmp/notices")
gover=$(echo "$versions" | sed -n 's/^go //p')
sysver=$(echo "$versions" | sed -n 's|^golang.org/x/sys ||p')
# dep5 FILE: FILE as the text of a License paragraph.
dep5() { sed -e 's/^$/./' -e 's/^/ /' "$1"; }
mkdir -p "$doc"
{
	sed -e "s|@GOVERSION@|$gover|g" -e "s|@SYSVERSION@|$sysver|g" "$here/copyright"
	echo
	echo "License: BSD-3-clause"
	dep5 "$tmp/notices/LICENSE"
	echo
	echo "License: BSD-3-clause-Go"
	dep5 "$tmp/notices/LICENSE.golang"
	echo " ."
	echo " Go's additional IP rights grant (PATENTS):"
	echo " ."
	dep5 "$tmp/notices/PATENTS.golang"
} > "$doc/copyright"
chmod 0644 "$doc/copyright"
sed -e "s|@VERSION@|$version|" -e "s|@MAINTAINER@|$maintainer|" \
	-e "s|@VCS@|$(git -C "$src" describe --tags --always --dirty 2>/dev/null || echo "$version")|" \
	-e "s|@DATE@|$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")|" "$here/changelog.in" > "$doc/changelog"
# A native package (no Debian revision): changelog, not changelog.Debian.
gzip -9n "$doc/changelog"
mkdir -p "$doc/examples/config" "$doc/examples/cups"
install -m 0644 "$src"/scripts/example/* "$doc/examples/config/"
(cd "$src/scripts/cups" && find . -type f) | while read -r f; do
	mode=0644
	[ -x "$src/scripts/cups/$f" ] && mode=0755
	install -D -m "$mode" "$src/scripts/cups/$f" "$doc/examples/cups/$f"
done
install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/portreserve"

mkdir -p "$root/DEBIAN"
for script in postinst prerm postrm; do
	install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done
install -m 0644 "$here/conffiles" "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" -e "s|@SIZE@|$size|" \
	-e "s|@STATIC@|golang-${gover%.*} (= $gover), golang-golang-x-sys (= $sysver)|" \
	"$here/control.in" > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb=$out/portreserve_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
echo "$deb"
