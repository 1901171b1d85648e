#!/bin/bash
# SIGTERM commits what ps-bronze holds and exits 0; an idle input still
# gets committed (and emitted) within the flush interval while the writer
# keeps the pipe open.
. "$(dirname "$0")/bronze_lib.inc"

gen 2000 >"$tmp/in"
bytes=$(wc -c <"$tmp/in")

# --- SIGTERM: long interval, so only the signal can make it commit.
mkfifo "$tmp/fifo"
"$BRONZE" -L "$tmp/lake" --flush-interval 3600 --flush-records 1000000 \
	<"$tmp/fifo" >"$tmp/out" 2>"$tmp/err" &
pid=$!
pids="$pids $pid"
exec 3>"$tmp/fifo"
cat "$tmp/in" >&3
# Wait until ps-bronze has read (at least nearly) everything written.
while [ "$(awk '/^rchar/ {print $2}' /proc/$pid/io 2>/dev/null || echo 0)" -lt "$bytes" ]; do
	sleep 0.05
done
check "nothing committed before the signal" \
	test -z "$(find "$tmp/lake/bronze" -name 'part-*' | head -1)"
kill -TERM "$pid"
wait "$pid"
st=$?
exec 3>&-
check "SIGTERM: exit status 0" test "$st" -eq 0
n=$(lake_set "$tmp/lake" | wc -l)
check "SIGTERM: records were committed ($n)" test "$n" -gt 0
check "SIGTERM: emitted exactly what was committed" \
	test "$(wc -l <"$tmp/out")" -eq "$n"
check "SIGTERM: checkpoint is the last landed position" \
	test "$(jq '.sources["stdin:admissions"].position' "$tmp/lake/_state/ps-bronze/admissions.json")" -eq $((n - 1))
check "SIGTERM: the landed records are the first $n lines" \
	cmp -s <(head -n "$n" "$tmp/in") \
	<(lake_set "$tmp/lake" | sort -t "$(printf '\t')" -k2,2n | cut -f3)
check "SIGTERM: logged the stop" grep -q 'stop requested' "$tmp/err"

# --- idle input: the file appears while the writer is still open.
rm -f "$tmp/fifo"
mkfifo "$tmp/fifo"
"$BRONZE" -L "$tmp/idle" --flush-interval 0.2 <"$tmp/fifo" \
	>"$tmp/idle.out" 2>"$tmp/idle.err" &
pid=$!
pids="$pids $pid"
exec 3>"$tmp/fifo"
head -5 "$tmp/in" >&3
# No timing assertion: wait (up to a generous minute) for the commit.
i=0
while [ -z "$(find "$tmp/idle/bronze" -name 'part-*' 2>/dev/null | head -1)" ] && [ $i -lt 1200 ]; do
	sleep 0.05
	i=$((i + 1))
done
check "idle: a file was committed while the input stayed open" \
	test -n "$(find "$tmp/idle/bronze" -name 'part-*' | head -1)"
check "idle: ps-bronze is still running" kill -0 "$pid"
i=0
while [ "$(wc -l <"$tmp/idle.out")" -lt 5 ] && [ $i -lt 1200 ]; do
	sleep 0.05
	i=$((i + 1))
done
check "idle: the 5 envelopes were emitted before end of input" \
	test "$(wc -l <"$tmp/idle.out")" -eq 5
head -8 "$tmp/in" | tail -3 >&3
exec 3>&-
wait "$pid"
check "idle: exit 0 at end of input" test $? -eq 0
check "idle: all 8 records landed" test "$(lake_set "$tmp/idle" | wc -l)" -eq 8

# --- the reader of stdout goes away: data stays committed, quiet exit 0.
gen 50000 | "$BRONZE" -L "$tmp/pipe" --flush-records 1000 2>"$tmp/pipe.err" | head -1 >/dev/null
st=${PIPESTATUS[1]}
check "EPIPE: exit status 0" test "$st" -eq 0
check "EPIPE: no error logged" test -z "$(grep 'level=error' "$tmp/pipe.err")"
n=$(lake_set "$tmp/pipe" | wc -l)
check "EPIPE: committed records are consistent ($n)" \
	test "$(jq '.sources["stdin:admissions"].position' "$tmp/pipe/_state/ps-bronze/admissions.json")" -eq $((n - 1))
finish
