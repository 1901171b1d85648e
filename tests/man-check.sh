#!/bin/sh
# Every tool has a man page that mandoc accepts, and every long option its
# --help lists appears in that page (help and documentation cannot drift).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
fail=0
pass=0
for b in "$top"/bin/ps-*; do
	n=$(basename "$b")
	m="$top/man/$n.1"
	if [ ! -f "$m" ]; then
		echo "FAIL man: $n has no man page" >&2
		fail=$((fail + 1))
		continue
	fi
	if ! out=$(mandoc -Tlint -W warning "$m" 2>&1); then
		echo "FAIL man: mandoc -Tlint $m:" >&2
		echo "$out" >&2
		fail=$((fail + 1))
		continue
	fi
	missing=""
	# Option lines of --help: "  -x, --name ARG  help" or "      --name".
	for o in $("$b" --help | sed -nE 's/^  +(-[[:alnum:]], )?(--[a-z][a-z0-9-]*).*/\2/p' | sort -u); do
		# mdoc writes a long option as "Fl \-name" or "Fl -name".
		name=${o#--}
		grep -qE -- "Fl (\\\\-|-)$name( |\$)" "$m" || missing="$missing $o"
	done
	if [ -n "$missing" ]; then
		echo "FAIL man: $m lacks options from $n --help:$missing" >&2
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
done
for m in "$top"/man/*.7; do
	[ -f "$m" ] || continue
	if ! out=$(mandoc -Tlint -W warning "$m" 2>&1); then
		echo "FAIL man: mandoc -Tlint $m:" >&2
		echo "$out" >&2
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
done
echo "man: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
