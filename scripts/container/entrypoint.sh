#!/bin/sh
# Container entrypoint for images with a shell (busybox, alpine, debian):
# hold the ports listed in /etc/portreserve while the container's helpers
# start, then hand the service its sockets with no gap at all.
#
#   ENTRYPOINT ["/entrypoint.sh"]
#   CMD ["/usr/sbin/cupsd", "-f"]
#
# PORTRESERVE_NAME  the service's release name (default: the command's
#                   base name, "cupsd" above)
# /entrypoint.d/*   executables run in order while the ports are held:
#                   start rpcbind, rpc.statd and other bindresvport
#                   callers there
set -e
name=${PORTRESERVE_NAME:-${1##*/}}
# Returns once every port is held; 1 means some could not be (named on
# stderr), which is worth a warning, not a failed container.
portreserve || [ $? -eq 1 ]
for helper in /entrypoint.d/*; do
	if [ -f "$helper" ] && [ -x "$helper" ]; then
		"$helper"
	fi
done
# The service gets the very sockets portreserve held (LISTEN_FDS); without
# a reservation for $name it simply runs.
exec portrelease --exec "$name" -- "$@"
