# Benchmark helpers: source it.  measure LABEL EVENTS CMD... runs CMD under
# /usr/bin/time and prints events/s and peak RSS; the figures are also left
# in $RATE and $RSS_MB for ratios.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
PATH=$TOP/bin:$PATH
export LC_ALL=C PS_LOG_TS=0 PATH
BENCH_TMP=${BENCH_TMP:-$(mktemp -d)}
N=${BENCH_EVENTS:-1000000}

measure() {
	label=$1 events=$2
	shift 2
	/usr/bin/time -f '%e %M' -o "$BENCH_TMP/.time" sh -c "$*" || {
		echo "bench: '$label' failed" >&2
		return 1
	}
	read -r secs kb <"$BENCH_TMP/.time"
	RATE=$(awk -v n="$events" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n / 0.001) }')
	RSS_MB=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
	printf '%-44s %10s events/s  %7s s  peak RSS %6s MiB\n' "$label" "$RATE" "$secs" "$RSS_MB"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }'
}
