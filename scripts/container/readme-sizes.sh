#!/bin/sh
# readme-sizes.sh README SIZES...
# Rewrites the image sizes table of README, between the lines
# "<!-- image sizes: make image writes this -->" and "<!-- end image
# sizes -->", from the sizes files mkimage.sh wrote (IMAGE BYTES lines).
set -eu
readme=$1
shift
table=$(mktemp)
trap 'rm -f "$table" "$table.new"' EXIT
{
	echo '| image | size (podman image inspect) |'
	echo '|---|---|'
	cat "$@" | while read -r image bytes; do
		echo "| \`$image\` | $bytes bytes |"
	done
} > "$table"
awk -v table="$table" '
	/^<!-- image sizes: make image writes this -->$/ {
		print
		while ((getline line < table) > 0) print line
		skip = 1
		next
	}
	/^<!-- end image sizes -->$/ { skip = 0 }
	!skip
' "$readme" > "$table.new"
grep -q '^<!-- image sizes: make image writes this -->$' "$table.new" || { echo "readme-sizes.sh: no image sizes markers in $readme" >&2; exit 1; }
cat "$table.new" > "$readme"
