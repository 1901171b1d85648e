#!/bin/sh
# Benchmark ps-bronze on simulated events, with `gzip -1` on the same input
# in the same run as the anchor (ratio = bronze events/s over gzip's).
# Peak RSS (/usr/bin/time -f %M) for 1M and 10M events shows memory does
# not grow with the input.  Usage: bench/bronze.sh [COUNT...]
# (default: 1000000 10000000).  Best of 3 runs per figure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export LC_ALL=C PS_LOG_TS=0
unset PS_LAKE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (Debian package time)" >&2; exit 1; }
counts=${*:-1000000 10000000}

gen() {
	if [ -x "$top/bin/ps-simulate" ]; then
		"$top/bin/ps-simulate" --seed 7 --count "$1"
	else
		echo "bench: bin/ps-simulate missing (make)" >&2
		exit 1
	fi
}

# best SECONDS-FILE: smallest of the recorded wall times
best() { sort -n "$1" | head -1; }

for n in $counts; do
	gen "$n" >"$tmp/in"
	: >"$tmp/b.t"; : >"$tmp/g.t"; : >"$tmp/rss"
	for i in 1 2 3; do
		rm -rf "$tmp/lake"
		/usr/bin/time -f "%e %M" -o "$tmp/one" \
			"$top/bin/ps-bronze" -q -L "$tmp/lake" <"$tmp/in" >/dev/null
		cut -d' ' -f1 "$tmp/one" >>"$tmp/b.t"
		cut -d' ' -f2 "$tmp/one" >>"$tmp/rss"
		/usr/bin/time -f "%e" -o "$tmp/one" gzip -1 -c <"$tmp/in" >/dev/null
		cat "$tmp/one" >>"$tmp/g.t"
		[ "$n" -gt 1000000 ] && break	# one round is enough for 10M
	done
	bt=$(best "$tmp/b.t"); gt=$(best "$tmp/g.t")
	rss=$(sort -n "$tmp/rss" | tail -1)
	landed=$(find "$tmp/lake/bronze" -name 'part-*' -exec zcat {} + | wc -l)
	[ "$landed" -eq "$n" ] || { echo "bench: landed $landed of $n" >&2; exit 1; }
	awk -v n="$n" -v bt="$bt" -v gt="$gt" -v rss="$rss" -v mb="$(wc -c <"$tmp/in")" 'BEGIN {
		be = n / bt; ge = n / gt
		printf "ps-bronze %d events: %.2f s, %d events/s, %.1f MB/s in, peak RSS %.1f MiB\n", n, bt, be, mb / bt / 1e6, rss / 1024
		printf "gzip -1   %d events: %.2f s, %d events/s (anchor)\n", n, gt, ge
		printf "ratio ps-bronze/gzip-1: %.2f (target >= 400000/565000 = 0.71; RSS target <= 64 MiB)\n", be / ge
	}'
done
