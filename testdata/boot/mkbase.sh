#!/bin/sh
# mkbase.sh INIT DIR
# Builds, with mmdebstrap from Debian's packages, the Debian 12 root that
# make e2e boots under qemu with INIT as PID 1: the init system, rpcbind
# and rpc.statd (which call bindresvport at boot), iproute2 for ss. It needs
# the network, so .ci/run builds it once, before the tests, and passes it
# in PORTRESERVE_TEST_ROOT_SYSTEMD (_SYSVINIT, _OPENRC); mkimage.sh adds the
# project to a copy. cups-daemon is the real cupsd, curl asks it for a
# page; ifupdown brings up the loopback interface where systemd does not
# (without it, 127.0.0.1 is unreachable under sysvinit and OpenRC). The
# systemd root has nfs-kernel-server (and kmod, to load its modules): the
# kernel's NFS client, mounting the machine's own export, is an adversary
# too. The selinux root is the systemd one with SELinux (Debian's
# selinux-policy-default, its portreserve module included) and auditd,
# without the NFS server.
set -eu
init=$1 dir=$2
case $init in
systemd) pkgs=systemd,systemd-sysv,udev,kmod,iproute2,rpcbind,nfs-common,nfs-kernel-server,cups-daemon,curl ;;
selinux) pkgs=systemd,systemd-sysv,udev,iproute2,rpcbind,nfs-common,cups-daemon,curl,selinux-basics,selinux-policy-default,auditd ;;
sysvinit) pkgs=sysvinit-core,initscripts,ifupdown,iproute2,rpcbind,nfs-common,cups-daemon,curl ;;
openrc) pkgs=sysvinit-core,openrc,initscripts,ifupdown,iproute2,rpcbind,nfs-common,cups-daemon,curl ;;
*) echo "mkbase.sh: unknown init $init" >&2; exit 2 ;;
esac
mmdebstrap --quiet --variant=apt --include="$pkgs" --mode=root --format=directory \
	bookworm "$dir" http://deb.debian.org/debian
