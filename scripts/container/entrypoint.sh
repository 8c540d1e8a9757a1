#!/bin/sh
# Container entrypoint for images with a shell (busybox, alpine, debian):
# hold the ports listed in /etc/portreserve while the container's helpers
# start, then give the service its ports, and exec it: the service is PID
# 1 from then on.
#
#   ENTRYPOINT ["/entrypoint.sh"]
#   CMD ["/usr/sbin/cupsd", "-f", "-l"]
#
# PORTRESERVE_MODE    handoff (the default): the service gets the very
#                     sockets portreserve held, in LISTEN_FDS (the systemd
#                     way), with no moment where the port is free; it must
#                     take them (cupsd -l, or sd_listen_fds). They are bound
#                     where the configuration says: one per address for a
#                     line that names them (localhost:ipp), else the
#                     wildcard address, IPv4 and IPv6.
#                     release: the ports are freed, then the service binds
#                     them itself, to the addresses it is configured for;
#                     for a service that ignores LISTEN_FDS (busybox httpd,
#                     nginx without its systemd support, cupsd -f).
# PORTRESERVE_NAME    the service's release name (default: the command's
#                     base name, "cupsd" above)
# PORTRESERVE_RUNDIR  where the daemon's socket and pidfile go (default
#                     /run/portreserve where /run is writable, else
#                     $TMPDIR/portreserve or /tmp/portreserve: a read-only
#                     root or a user other than root)
# PORTRESERVE_CONFIG  the configuration directory (default /etc/portreserve)
# /entrypoint.d/*     executables run in order while the ports are held:
#                     start rpcbind, rpc.statd and other bindresvport
#                     callers there
#
# The service becomes PID 1, which ignores every signal it has no handler
# for: it must handle SIGTERM, or podman stop waits out its grace period
# (run with --init otherwise). The image needs a POSIX sh with mkdir,
# mkfifo and rm (busybox has them), and /dev/null (every runtime gives it).
set -eu
arg0=${1:-}
name=${PORTRESERVE_NAME:-${arg0##*/}}
mode=${PORTRESERVE_MODE:-handoff}
config=${PORTRESERVE_CONFIG:-/etc/portreserve}
case $mode in
handoff | release) ;;
*)
	echo "entrypoint: PORTRESERVE_MODE=$mode: handoff or release" >&2
	exit 2
	;;
esac
rundir=${PORTRESERVE_RUNDIR:-}
if [ -z "$rundir" ]; then
	rundir=/run/portreserve
	if ! mkdir -p "$rundir" 2>&- || ! [ -w "$rundir" ]; then
		rundir=${TMPDIR:-/tmp}/portreserve
	fi
fi
mkdir -p "$rundir"
socket=$rundir/socket

# Until the service runs, this shell is PID 1, which the kernel spares
# every signal it does not handle: without these, podman stop would wait
# its ten seconds.
trap 'exit 143' TERM
trap 'exit 130' INT

# The daemon stays in the foreground of a background job instead of
# detaching: one Go process at a time rather than two (under a pids
# limit), its messages on the container's stderr, and its pid known here.
# It writes a line on descriptor 3 once every port has been tried: the
# read returns then, or at its exit if it could not start.
ready=$rundir/ready
rm -f "$ready"
mkfifo "$ready"
portreserve -f -N 3 -c "$config" -s "$socket" -p "$rundir/portreserve.pid" 3> "$ready" &
daemon=$!
if ! read -r _ < "$ready"; then
	rm -f "$ready"
	# It exited: 0, nothing to hold; 1, no port could be held (named
	# on stderr), which the service may survive; else worth stopping.
	wait "$daemon" || { status=$?; [ $status -eq 1 ] || exit $status; }
	daemon=
fi
rm -f "$ready"

for helper in /entrypoint.d/*; do
	if [ -f "$helper" ] && [ -x "$helper" ]; then
		# In the background, so that a signal's trap runs at once.
		"$helper" &
		wait $!
	fi
done

if [ "$mode" = handoff ]; then
	# The service gets the very sockets portreserve held (LISTEN_FDS);
	# without a reservation for $name it simply runs. portrelease reaps
	# the daemon if it exits, having nothing left to hold.
	exec portrelease -s "$socket" --exec "$name" -- "$@"
fi
# release: when portrelease returns 0, the ports are free.
portrelease -s "$socket" "$name"
# The daemon exits once it holds nothing (its socket gone): reap it here,
# as the service, PID 1 next, would not.
if [ -n "$daemon" ] && ! [ -e "$socket" ]; then
	wait "$daemon" || true
fi
exec "$@"
