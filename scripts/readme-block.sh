#!/bin/sh
# readme-block.sh README BLOCK FILE
# Replaces the lines of README between "<!-- BLOCK: ... -->" and
# "<!-- end BLOCK -->" with the contents of FILE: tables that a build
# measures (make image's image sizes, make cross's binary sizes) rather
# than typed ones, which go stale.
set -eu
readme=$1 block=$2 file=$3
new=$(mktemp)
trap 'rm -f "$new"' EXIT
awk -v block="$block" -v file="$file" '
	index($0, "<!-- " block ": ") == 1 {
		print
		while ((getline line < file) > 0) print line
		skip = 1
		found = 1
		next
	}
	$0 == "<!-- end " block " -->" { skip = 0 }
	!skip
	END { if (!found) exit 1 }
' "$readme" > "$new" || { echo "readme-block.sh: no \"<!-- $block: \" line in $readme" >&2; exit 1; }
cat "$new" > "$readme"
