#!/bin/sh
# Benchmark ps-silver (parse + validate + dedup + Parquet ZSTD + quarantine)
# on envelopes of simulated events (compat model with its dirty data, as
# ps-bronze emits them), with the anchor measured in the same run: a tiny
# C program that parses the same payloads with yajl's tree parser
# (yajl_tree_parse) and does nothing else.  Ratio = silver events/s over
# the anchor's.  Peak RSS (/usr/bin/time -f %M) at 1M events and at 10M
# (piped from ps-simulate | ps-bronze, so no 10M file is stored) shows
# that memory does not grow with the input.  Best of 3 runs for 1M.
# The lake goes to a tmpfs (/dev/shm) when there is one, so that the
# figure is the stage's own work rather than the disk's fsync latency
# (about 20 fsyncs a commit); BENCH_LAKE=DIR puts it elsewhere.
# The commit cost per batch (ms) is measured on 100,000 of them.
# Usage: bench/silver.sh [COUNT] (default 1000000; BIG=0 skips 10M).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export LC_ALL=C PS_LOG_TS=0
unset PS_LAKE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (Debian package time)" >&2; exit 1; }
for b in ps-simulate ps-bronze ps-silver; do
	[ -x "$top/bin/$b" ] || { echo "bench: bin/$b missing (make)" >&2; exit 1; }
done
n=${1:-1000000}
if [ -z "${BENCH_LAKE:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	BENCH_LAKE=/dev/shm
fi
lakedir=$(mktemp -d "${BENCH_LAKE:-$tmp}/silver-bench.XXXXXX")
trap 'rm -rf "$tmp" "$lakedir"' EXIT
echo "ps-silver bench: lake on $(df -P "$lakedir" | awk 'NR == 2 {print $1}')"
big=${BIG:-10000000}

# The anchor: yajl's tree parser over each payload line.
cat >"$tmp/anchor.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>
int main(void)
{
	char *line = NULL, err[128];
	size_t cap = 0;
	ssize_t len;
	long ok = 0, bad = 0;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		yajl_val v;

		line[len - 1] = '\0';
		v = yajl_tree_parse(line, err, sizeof(err));
		if (v) ok++; else bad++;
		yajl_tree_free(v);
	}
	free(line);
	fprintf(stderr, "anchor: %ld parsed, %ld invalid\n", ok, bad);
	return 0;
}
EOF
cc -O2 -o "$tmp/anchor" "$tmp/anchor.c" $(pkg-config --cflags --libs yajl)

"$top/bin/ps-simulate" -q --seed 7 --count "$n" >"$tmp/events"
"$top/bin/ps-bronze" -q -L "$tmp/bronze" <"$tmp/events" >"$tmp/env"
best() { sort -n "$1" | head -1; }
: >"$tmp/s.t"; : >"$tmp/a.t"; : >"$tmp/rss"; : >"$tmp/s.cpu"; : >"$tmp/a.cpu"
for i in 1 2 3; do
	rm -rf "$lakedir/lake"
	/usr/bin/time -f "%e %M %U %S" -o "$tmp/one" "$top/bin/ps-silver" \
		-q -L "$lakedir/lake" --no-catch-up -n \
		--stats-json "$tmp/stats" <"$tmp/env"
	cut -d' ' -f1 "$tmp/one" >>"$tmp/s.t"
	cut -d' ' -f2 "$tmp/one" >>"$tmp/rss"
	awk '{print $3 + $4}' "$tmp/one" >>"$tmp/s.cpu"
	/usr/bin/time -f "%e %U %S" -o "$tmp/one" "$tmp/anchor" \
		<"$tmp/events" 2>/dev/null
	cut -d' ' -f1 "$tmp/one" >>"$tmp/a.t"
	awk '{print $2 + $3}' "$tmp/one" >>"$tmp/a.cpu"
done
records=$(jq .records "$tmp/stats")
[ "$records" -eq "$n" ] || { echo "bench: $records of $n records" >&2; exit 1; }
st=$(best "$tmp/s.t"); at=$(best "$tmp/a.t")
sc=$(best "$tmp/s.cpu"); ac=$(best "$tmp/a.cpu")
rss=$(sort -n "$tmp/rss" | tail -1)
echo "ps-silver: $(jq -c '{kept, quarantined, duplicates, files}' "$tmp/stats")"
echo "# load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null), $(nproc) CPUs"
awk -v n="$n" -v st="$st" -v at="$at" -v rss="$rss" -v sc="$sc" -v ac="$ac" 'BEGIN {
	se = n / st; ae = n / at
	printf "ps-silver %d events: %.2f s, %d events/s, peak RSS %.1f MiB\n", n, st, se, rss / 1024
	printf "yajl_tree_parse %d events: %.2f s, %d events/s (anchor)\n", n, at, ae
	printf "ratio ps-silver/yajl-tree: %.2f (target >= 500000/760000 = 0.66; RSS target <= 64 MiB)\n", se / ae
	printf "CPU seconds: ps-silver %.2f (two threads), anchor %.2f\n", sc, ac
}'

# Commit cost per batch: the same 100,000 envelopes committed in 100
# batches (--flush-records 1000) and in one; the difference over the 99
# extra batches is what a batch costs (its Parquet files, the dedup window
# and the Delta log version with its add and txn actions, a checkpoint
# every 10 versions), best of 3 each.  The log and its checkpoints are
# the silver table's (lib/stage.h).
head -n 100000 "$tmp/env" >"$tmp/env100k"
: >"$tmp/c1.t"; : >"$tmp/c100.t"
for i in 1 2 3; do
	for b in 100000 1000; do
		rm -rf "$lakedir/lake"
		/usr/bin/time -f "%e" -o "$tmp/one" "$top/bin/ps-silver" -q \
			-L "$lakedir/lake" --no-catch-up -n --flush-records "$b" \
			<"$tmp/env100k"
		cat "$tmp/one" >>"$tmp/c$((100000 / b)).t"
	done
done
versions=$(ls "$lakedir/lake/silver/admissions/_delta_log" 2>/dev/null | grep -c '^0*[0-9]*\.json$' || true)
awk -v t100="$(best "$tmp/c100.t")" -v t1="$(best "$tmp/c1.t")" -v v="$versions" 'BEGIN {
	printf "commit cost per batch: %.1f ms (100k events: %.2f s in 100 batches (%d log versions), %.2f s in 1)\n", (t100 - t1) * 1000 / 99, t100, v, t1
}'

if [ "$big" -gt 0 ]; then
	rm -rf "$lakedir/lake" "$tmp/bronze" "$tmp/env" "$tmp/events"
	"$top/bin/ps-simulate" -q --seed 7 --count "$big" |
		"$top/bin/ps-bronze" -q -L "$tmp/bronze" --gzip-level 1 |
		/usr/bin/time -f "%e %M" -o "$tmp/one" "$top/bin/ps-silver" -q \
			-L "$lakedir/lake" --no-catch-up -n --stats-json "$tmp/stats"
	awk -v n="$big" -v rss="$(cut -d' ' -f2 "$tmp/one")" 'BEGIN {
		printf "ps-silver %d events (piped): peak RSS %.1f MiB\n", n, rss / 1024
	}'
	[ "$(jq .records "$tmp/stats")" -eq "$big" ] ||
		{ echo "bench: 10M run lost records" >&2; exit 1; }
fi
