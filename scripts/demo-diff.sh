#!/bin/sh
# demo-diff.sh README OUTPUT: compares what make demo printed (OUTPUT) with
# the quick start's copy in README (the fenced block after "It prints"),
# from the demo's first command on;
# prints a unified diff and exits 1 when they differ. The daemon's own
# lines (holding, released, exiting) go to syslog or the kernel log where
# it can reach one and to stderr where it cannot, so they are left out of
# both sides, as README says.
set -eu
readme=$1 out=$2
daemon='^portreserve: (holding [0-9]+ ports? for [0-9]+ names?|released .* \([0-9]+ ports?\) for pid [0-9]+ uid [0-9]+|released everything for pid [0-9]+ uid [0-9]+|every port released; exiting)$'
want=$(mktemp) got=$(mktemp)
trap 'rm -f "$want" "$got"' EXIT
awk '
	/It prints/ { armed = 1 }
	armed && !inside && /^```/ { inside = 1; next }
	inside && /^```/ { exit }
	inside { print }
' "$readme" | grep -Ev "$daemon" > "$want" || true
# make's own lines (the build) come before the demo's first "$ " line.
sed -n '/^\$ /,$p' "$out" | grep -Ev "$daemon" > "$got" || true
[ -s "$want" ] || { echo "demo-diff.sh: no block after \"It prints\" in $readme" >&2; exit 2; }
diff -u --label "$readme (quick start)" --label "make demo" "$want" "$got"
