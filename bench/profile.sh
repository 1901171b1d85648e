#!/bin/sh
# Profiles for a missed target of bench/targets.sh, so that each miss is
# printed with where its time goes (Debian's linux-perf).
#   profile.sh cpu LABEL TOP CMD    CMD (a shell command, its children
#       followed) sampled on CPU: each program and library with 1 % of the
#       samples or more, then the TOP hottest symbols, each line with its
#       share of all samples and its CPU-s
#   profile.sh sys LABEL TOP PROG DIV CMD    the system calls of program PROG
#       in CMD by the time spent in them, summed over its threads (perf
#       trace -s), leaving
#       out the calls that wait for input or work: the TOP largest,
#       each with its count and milliseconds divided by DIV (e.g. commits;
#       DIV is a file to read the number from once CMD is done, or a number)
# Lines start with "LABEL profile:".  Without perf (or without permission
# to use it) one line says so and the exit status is 0: a profile explains
# a figure, it is not one.
set -u
mode=$1 label=$2 top=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say() { printf '%s profile: %s\n' "$label" "$*"; }

if ! command -v perf >/dev/null 2>&1; then
	say "no perf on PATH (scripts/deps.sh installs linux-perf)"
	exit 0
fi
case $mode in
cpu)
	# -F 999: about a thousand samples a CPU-second, enough for the top
	# entries and cheap enough not to move them
	if ! perf record -q -F 999 -o "$tmp/p.data" -- sh -c "$*" \
		>/dev/null 2>"$tmp/err"; then
		say "perf record failed: $(tail -1 "$tmp/err")"
		exit 0
	fi
	# where the CPU goes by program and library, then the hottest
	# symbols; perf samples at 999 Hz a CPU: samples / 999 = CPU-s
	perf report -i "$tmp/p.data" --no-children --stdio \
		-F overhead,sample,comm,dso 2>/dev/null | awk -v l="$label" '
		/^#/ || NF < 4 { next }
		$1 + 0 >= 1 {
			printf "%s profile: %5.1f%% %6.2f CPU-s  %-10s %s\n", l, $1, $2 / 999, $3, $4
		}'
	perf report -i "$tmp/p.data" --no-children --stdio \
		-F overhead,sample,comm,dso,sym 2>/dev/null | awk -v l="$label" -v top="$top" '
		/^#/ || NF < 6 { next }
		{
			sym = ""
			for (i = 5; i <= NF; i++)
				if ($i ~ /^\[.\]$/) break
			for (i++; i <= NF; i++) sym = sym (sym == "" ? "" : " ") $i
			if (++k > top) exit
			printf "%s profile: %5.1f%% %6.2f CPU-s  %-10s %-18s %s\n", l, $1, $2 / 999, $3, $4, sym
		}'
	;;
sys)
	prog=$1 div=$2
	shift 2
	if ! perf trace -s -o "$tmp/t.txt" -- sh -c "$*" >/dev/null 2>"$tmp/err"; then
		say "perf trace failed: $(tail -1 "$tmp/err")"
		exit 0
	fi
	[ -f "$div" ] && div=$(cat "$div")
	# per-thread tables: " name (tid), N events" then rows
	# "syscall calls errors total min avg max stddev"
	awk -v prog="$prog" '
		/^ [^ ].* \([0-9]+\), [0-9]+ events/ { keep = (index($1, prog) == 1); next }
		# waiting for input or for work (ppoll, poll, futex, read of a
		# pipe) is left out: only the calls a commit waits on count
		$1 ~ /^(ppoll|poll|pselect6|epoll_wait|futex|read|wait4|clock_nanosleep)$/ { next }
		keep && NF == 8 && $2 ~ /^[0-9]+$/ { calls[$1] += $2; ms[$1] += $4 }
		END {
			for (s in ms) printf "%.3f %s %d\n", ms[s], s, calls[s]
		}' "$tmp/t.txt" | sort -rn | head -n "$top" | awk -v l="$label" -v div="$div" '{
		if (div < 1) div = 1
		printf "%s profile: %-12s %8.1f ms in %6d calls, per commit %6.2f ms in %.1f calls\n", l, $2, $1, $3, $1 / div, $3 / div
	}'
	;;
*)
	echo "profile.sh: unknown mode '$mode'" >&2
	exit 2
	;;
esac
exit 0
