#!/bin/sh
# demo.sh BUILD_DIR: run portreserve on the example configuration in
# scripts/example, inside a private network namespace (a user namespace
# too when not root), so it needs no root and touches no real port.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
if [ "${PORTRESERVE_DEMO_NS:-}" != 1 ]; then
	PORTRESERVE_DEMO_NS=1
	export PORTRESERVE_DEMO_NS
	if [ "$(id -u)" = 0 ]; then
		exec unshare -n sh "$0" "$@"
	fi
	exec unshare -r -n sh "$0" "$@"
fi
bin=$(cd "$build" && pwd)
# From the top of the tree, so that messages name scripts/example/FILE as
# README's copy of this output does.
cd "$here/.."
conf=scripts/example
run=$(mktemp -d)
trap 'kill "$(cat "$run/pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$run"' EXIT
opts="-s $run/socket"

say() { printf '\n$ %s\n' "$*"; }

say portreserve -c scripts/example
"$bin/portreserve" -c "$conf" $opts -p "$run/pid"
echo "(returned $?: every port is held now)"

say portreserve-check -c scripts/example
"$bin/portreserve-check" -c "$conf" $opts || true

say portrelease cups
"$bin/portrelease" $opts cups
echo "(returned $?: 631/tcp is free for cupsd now)"

say portreserve-check -c scripts/example cups ldap
"$bin/portreserve-check" -c "$conf" $opts cups ldap 2>/dev/null || true

say portrelease '*'
"$bin/portrelease" $opts '*'
echo "(returned $?: everything released, so the daemon has exited)"
ls "$run"
