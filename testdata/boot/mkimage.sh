#!/bin/sh
# mkimage.sh INIT BASE OUT.img SRC [DEB]
# Builds the disk image that make e2e boots under qemu with INIT as PID 1
# (selinux: systemd, with SELinux enforcing; the project installed from
# DEB, and by make install, then every file labelled):
# a copy of the Debian root BASE (mkbase.sh) with the project of the
# source tree SRC installed as a user installs it, by make install and
# make install-INIT with the default PREFIX (/usr/local: the installed
# scripts name /usr/local/sbin), the shipped cups integration for INIT put
# in place from what make install copied to /usr/local/share/portreserve,
# an example configuration, and the boot test of this directory, which
# prints its checks on the serial console; with DEB, the package (make
# deb) as /root/portreserve.deb, which the boot test installs and purges
# once it is done with the make install copy; with $MODULES, a directory
# of the booted kernel's modules (lib/modules, from its package), those
# modules, for the systemd root's NFS server and client. No network
# needed.
set -eu
init=$1 base=$2 out=$3 src=$4 deb=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
cp -a "$base/." "$root/"
if [ "$init" = selinux ]; then
	# The package, as a distribution installs it (/usr/sbin, which the
	# distribution's file contexts label), and make install's copy
	# beside it in /usr/local, where the project's module labels it.
	printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	cp "$deb" "$root/root/portreserve.deb"
	chroot "$root" dpkg -i /root/portreserve.deb > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; exit 1; }
	rm -f "$root/usr/sbin/policy-rc.d" "$root/root/portreserve.deb"
	# Installed already: the boot test has no package to install.
	deb=
	make -s -C "$src" BUILD="$tmp/build" DESTDIR="$root" install > "$tmp/make.log" 2>&1 ||
		{ cat "$tmp/make.log" >&2; exit 1; }
	share=$root/usr/share/doc/portreserve/examples
	# cupsd listens on localhost:631/tcp (Debian's cupsd.conf): hold
	# that, and hand cupsd that socket alone (it takes no UDP socket).
	printf '127.0.0.1:631/tcp\n' > "$root/etc/portreserve/cups"
else
	make -s -C "$src" BUILD="$tmp/build" DESTDIR="$root" install "install-$init" > "$tmp/make.log" 2>&1 ||
		{ cat "$tmp/make.log" >&2; exit 1; }
	share=$root/usr/local/share/portreserve
	printf '631\n' > "$root/etc/portreserve/cups"
fi
# Most of bindresvport's range, all but 700-710: rpc.statd must land there
# (or below 600).
printf '600-630\n632-699\n711-1023\n' > "$root/etc/portreserve/guard"
install -m 0755 "$here/boot-check" "$root/usr/local/sbin/boottest"
[ -z "$deb" ] || install -m 0644 "$deb" "$root/root/portreserve.deb"
case $init in
selinux)
	mkdir -p "$root/etc/systemd/system/cups.service.d"
	install -m 0644 "$share/cups/systemd/cups.service.d/portreserve.conf" "$root/etc/systemd/system/cups.service.d/"
	ln -s /lib/systemd/system/rpc-statd.service "$root/etc/systemd/system/multi-user.target.wants/rpc-statd.service"
	# The checks run as root's login shell does: unconfined_t.
	sed 's|^ExecStart=.*|ExecStart=/usr/local/sbin/boottest selinux\nSELinuxContext=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023|' \
		"$here/boottest.service" > "$root/etc/systemd/system/boottest.service"
	chroot "$root" systemctl enable boottest.service
	# An LSB script that calls portrelease and portreserve, as a
	# service's own init script does (systemd runs it in initrc_t).
	install -m 0755 "$here/selinux-initscript" "$root/etc/init.d/portreserve-client"
	# The package's postinst loaded the project's policy module;
	# SELINUX_BASE_ONLY=1 takes it out again, to see what the
	# distribution's portreserve module alone denies.
	chroot "$root" semodule -l | grep -qx portreserve_extra || { echo "mkimage.sh: the package did not load portreserve_extra" >&2; exit 1; }
	[ "${SELINUX_BASE_ONLY:-}" != 1 ] || chroot "$root" semodule -X 200 -r portreserve_extra
	# SELINUX_AUDIT_ALL=1: the policy without its dontaudit rules, which
	# hide denials from the log (and from permissive mode's list).
	[ "${SELINUX_AUDIT_ALL:-}" != 1 ] || chroot "$root" semodule -DB
	sed -i 's/^SELINUX=.*/SELINUX=enforcing/' "$root/etc/selinux/config"
	# Every file labelled as the policy says, before the image is made
	# (mke2fs -d copies the security.selinux attributes).
	setfiles -mF -r "$root" -c "$(ls "$root"/etc/selinux/default/policy/policy.* | tail -n 1)" \
		"$root/etc/selinux/default/contexts/files/file_contexts" "$root" > "$tmp/setfiles.log" 2>&1 ||
		{ cat "$tmp/setfiles.log" >&2; exit 1; }
	;;
systemd)
	# The machine's own export, which the boot test mounts over NFS,
	# with the kernel's NFS and sunrpc modules.
	if [ -n "${MODULES:-}" ] && [ -d "$MODULES" ]; then
		mkdir -p "$root/lib/modules"
		cp -a "$MODULES/." "$root/lib/modules/"
		for v in "$MODULES"/*; do chroot "$root" depmod "${v##*/}"; done
	fi
	mkdir -p "$root/srv/nfs"
	echo ok > "$root/srv/nfs/file"
	printf '/srv/nfs 127.0.0.1(rw,sync,no_subtree_check,no_root_squash)\n' > "$root/etc/exports"
	chroot "$root" systemctl enable nfs-server.service
	chroot "$root" systemctl enable portreserve.service
	mkdir -p "$root/etc/systemd/system/cups.service.d"
	install -m 0644 "$share/cups/systemd/cups.service.d/portreserve.conf" "$root/etc/systemd/system/cups.service.d/"
	ln -s /lib/systemd/system/rpc-statd.service "$root/etc/systemd/system/multi-user.target.wants/rpc-statd.service"
	install -m 0644 "$here/boottest.service" "$root/etc/systemd/system/"
	chroot "$root" systemctl enable boottest.service
	;;
sysvinit)
	chroot "$root" update-rc.d portreserve defaults
	# The cups integration replaces Debian's /etc/init.d/cups; its
	# dependencies (portreserve) order it anew.
	chroot "$root" update-rc.d -f cups remove
	install -m 0755 "$share/cups/sysvinit/cups" "$root/etc/init.d/cups"
	chroot "$root" update-rc.d cups defaults
	install -m 0755 "$here/boottest.init" "$root/etc/init.d/boottest"
	chroot "$root" update-rc.d boottest defaults
	;;
openrc)
	# Debian's OpenRC starts rpcbind and nfs-common in sysinit.
	chroot "$root" rc-update add portreserve sysinit
	# On Debian the service is called cups: ours replaces its LSB script.
	install -m 0755 "$share/cups/openrc/cupsd" "$root/etc/init.d/cups"
	[ -e "$root/etc/runlevels/default/cups" ] || chroot "$root" rc-update add cups default
	printf '#!/bin/sh\n/usr/local/sbin/boottest openrc\n' > "$root/etc/rc.local"
	chmod 0755 "$root/etc/rc.local"
	;;
esac
rm -f "$out"
mke2fs -q -t ext4 -d "$root" "$out" 1G
