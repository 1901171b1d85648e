#!/bin/bash
# A full disk or a file-size limit: ps-bronze fails with one clear error
# line and exit 74, leaves no partial file visible, and does not advance
# the checkpoint past what is committed; a rerun with room completes the
# lake exactly.
. "$(dirname "$0")/bronze_lib.inc"

gen 20000 >"$tmp/in"
"$BRONZE" -q -n -L "$tmp/ref" <"$tmp/in"
lake_set "$tmp/ref" >"$tmp/ref.set"

# --- ulimit -f (always runs): SIGXFSZ is ignored, write() fails EFBIG.
(ulimit -f 64; exec "$BRONZE" -L "$tmp/lim" --flush-records 100000 \
	<"$tmp/in" >"$tmp/lim.out" 2>"$tmp/lim.err")
st=$?
check "ulimit: exit status 74" test "$st" -eq 74
check "ulimit: one error line" test "$(grep -c 'level=error' "$tmp/lim.err")" -eq 1
check "ulimit: the error says why" grep -q 'File too large' "$tmp/lim.err"
check "ulimit: no data file visible" \
	test -z "$(find "$tmp/lim" -name 'part-*' | head -1)"
check "ulimit: no temporary file left" \
	test -z "$(find "$tmp/lim" -name '.*' ! -name '.*.lock' | head -1)"
check "ulimit: no checkpoint written" \
	test ! -e "$tmp/lim/_state/ps-bronze/admissions.json"
check "ulimit: nothing emitted" test ! -s "$tmp/lim.out"
"$BRONZE" -q -n -L "$tmp/lim" <"$tmp/in"
check "ulimit: a rerun with room completes the lake" \
	cmp -s "$tmp/ref.set" <(lake_set "$tmp/lim")

# --- a small tmpfs (needs root and mount): the disk fills after some
# commits.
mkdir -p "$tmp/mnt"
if mount -t tmpfs -o size=200k tmpfs "$tmp/mnt" 2>/dev/null; then
	"$BRONZE" -L "$tmp/mnt/lake" --flush-records 1000 --threads 0 \
		<"$tmp/in" >"$tmp/fs.out" 2>"$tmp/fs.err"
	st=$?
	check "tmpfs: exit status 74" test "$st" -eq 74
	check "tmpfs: the error says why" grep -q 'No space left' "$tmp/fs.err"
	n=$(lake_set "$tmp/mnt/lake" | wc -l)
	check "tmpfs: some commits succeeded ($n records)" test "$n" -gt 0
	check "tmpfs: no temporary file left" \
		test -z "$(find "$tmp/mnt/lake" -name '.*' ! -name '.*.lock' | head -1)"
	cp=$(jq '.sources["stdin:admissions"].position' \
		"$tmp/mnt/lake/_state/ps-bronze/admissions.json")
	check "tmpfs: checkpoint within what is committed" \
		test "$cp" -le $((n - 1))
	check "tmpfs: emitted only committed records" \
		test "$(wc -l <"$tmp/fs.out")" -le "$n"
	check "tmpfs: landed records are a prefix" \
		cmp -s <(head -n "$n" "$tmp/in") \
		<(lake_set "$tmp/mnt/lake" | sort -t "$(printf '\t')" -k2,2n | cut -f3)
	cp -r "$tmp/mnt/lake" "$tmp/big"
	umount "$tmp/mnt"
	"$BRONZE" -q -n -L "$tmp/big" <"$tmp/in"
	check "tmpfs: a rerun with room completes the lake" \
		cmp -s "$tmp/ref.set" <(lake_set "$tmp/big")
else
	echo "# skip tmpfs variant: mount not permitted here"
fi

# --- cannot create the lake: 73.
"$BRONZE" -L /proc/self/lake </dev/null 2>"$tmp/c.err"
check "unwritable lake: exit status 73" test $? -eq 73
finish
