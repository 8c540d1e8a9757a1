#!/bin/sh
# notices.sh DIR: writes into DIR the license notices every binary
# distribution of portreserve carries, since the static binary contains
# more than this project's code: LICENSE (portreserve's), LICENSE.golang and
# PATENTS.golang (the Go runtime and standard library, from the Go tree that
# builds it), LICENSE.golang-x-sys (golang.org/x/sys, from the module
# cache). (No name ends in .go: go vet ./... would read a copy under
# build/ as Go source.) It prints what it took them from, as "go VERSION" and
# "golang.org/x/sys VERSION" lines. make deb, make release and make image
# call it.
set -eu
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
GO=${GO:-go}
goroot=$($GO env GOROOT)
sysdir=$(cd "$src" && $GO list -m -f '{{.Dir}}' golang.org/x/sys)
sysver=$(cd "$src" && $GO list -m -f '{{.Version}}' golang.org/x/sys)
[ -n "$sysdir" ] && [ -r "$sysdir/LICENSE" ] || { echo "notices.sh: golang.org/x/sys is not in the module cache (go mod download)" >&2; exit 1; }
mkdir -p "$dir"
install -m 0644 "$src/LICENSE" "$dir/LICENSE"
install -m 0644 "$goroot/LICENSE" "$dir/LICENSE.golang"
install -m 0644 "$goroot/PATENTS" "$dir/PATENTS.golang"
install -m 0644 "$sysdir/LICENSE" "$dir/LICENSE.golang-x-sys"
echo "go $($GO env GOVERSION | sed 's/^go//')"
echo "golang.org/x/sys ${sysver#v}"
