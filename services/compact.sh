#!/bin/sh
# compact.sh DEBIAN_FILE: prints the services file the binary embeds
# (go generate writes it to netbase-services): Debian's netbase
# /etc/services with its comments and blank lines left out and one space
# between fields, so that the same parser reads the same entries from
# 6 kB instead of 13 (TestBuiltinIsDebians compares them).
set -eu
printf '# Debian netbase 6.4 /etc/services, comments and blank lines left out (services/compact.sh)\n'
awk '{ sub(/#.*/, ""); if (NF == 0) next; line = $1; for (i = 2; i <= NF; i++) line = line " " $i; print line }' "$1"
