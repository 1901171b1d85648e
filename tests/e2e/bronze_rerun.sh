#!/bin/sh
# Running a plain-stdin pipeline again on an existing lake: new data is
# never dropped, a replay (the restart after a kill) lands nothing twice,
# input that is neither stops loudly; a producer killed mid-line loses no
# event (issue 9 item 4, issue 10 item 2).
. "$(dirname "$0")/../lib.sh"
cd "$TMPD"

sim() { ps-simulate -q --dirty none --count "$1" --seed "$2"; }
pipe() { ps-bronze -q -L "$1" | ps-silver -q -L "$1" >/dev/null; }
# silver's records as "source position patient_id", sorted
rows() { ps-silver --dump "$1/silver/admissions" |
	jq -r '"\(.source) \(.position) \(.patient_id)"' | sort; }
ids() { jq -r .patient_id "$@" | sort; }
# how many of silver's records came from source $2
from() { rows "$1" | awk -v s="$2" '$1 == s' | wc -l; }

sim 2000 1 >a.ndjson
sim 1500 2 >b.ndjson

check 'the README pipeline run twice with new events lands both' '
	pipe L <a.ndjson && pipe L <b.ndjson &&
	[ "$(rows L | wc -l)" -eq 3500 ] &&
	cat a.ndjson b.ndjson | ids >want && rows L | cut -d" " -f3 | sort >got &&
	cmp want got'

check 'the second run is a source of its own: stdin:admissions.2' '
	jq -e ".sources[\"stdin:admissions\"].position == 1999 and
	       .sources[\"stdin:admissions.2\"].position == 1499" \
		L/_state/ps-bronze/admissions.json'

check 'the same input again is a replay: nothing lands twice' '
	pipe L <a.ndjson && pipe L <b.ndjson && [ "$(rows L | wc -l)" -eq 3500 ] &&
	[ -z "$(rows L | cut -d" " -f1,2 | uniq -d)" ]'

check 'a third run killed after 700 lines, restarted as documented: exactly once' '
	sim 1000 3 >c.ndjson && head -n 700 c.ndjson | pipe L && pipe L <c.ndjson &&
	[ "$(rows L | wc -l)" -eq 4500 ] &&
	[ "$(from L stdin:admissions.3)" -eq 1000 ] &&
	[ -z "$(rows L | cut -d" " -f1,2 | uniq -d)" ]'

check 'an input that starts like a run but differs: exit 65, nothing landed' '
	{ head -n 5 a.ndjson; sed -n 1p b.ndjson; } >d.ndjson &&
	cp L/_state/ps-bronze/admissions.json before.json &&
	! ps-bronze -q -n -L L <d.ndjson 2>err && ps-bronze -q -n -L L <d.ndjson 2>/dev/null;
	[ $? -eq 65 ] && cmp before.json L/_state/ps-bronze/admissions.json &&
	grep -q "input is not a replay of stdin:admissions: line 6 differs" err &&
	grep -q -- "--continue" err'

# (silver drops its first five lines as duplicates of events it holds)
check 'the same with --continue: appended after the checkpoint' '
	ps-bronze -q -L L --continue <d.ndjson | ps-silver -q -L L >/dev/null &&
	jq -e ".sources[\"stdin:admissions\"].position == 2005" \
		L/_state/ps-bronze/admissions.json &&
	[ "$(rows L | awk "\$1 == \"stdin:admissions\" && \$2 == 2005" | wc -l)" -eq 1 ]'

check '--source NAME with other data than NAME landed: exit 65' '
	sim 10 4 | ps-bronze -q -n -L L --source admissions.2 2>err; [ $? -eq 65 ] &&
	grep -q "not a replay of stdin:admissions.2" err'

# A producer killed in the middle of line 4, then the documented restart
# with the whole input: event 4 must reach silver (it was landed as a
# fragment at position 3, and the restart skipped the real one).
for cut in 1 60 $(($(sed -n 4p a.ndjson | wc -c) - 2)); do
	check "producer killed mid-line (line 4 cut after $cut bytes): no event lost" '
		rm -rf K && { head -n 3 a.ndjson; sed -n 4p a.ndjson | head -c '"$cut"'; } |
			ps-bronze -L K 2>err | ps-silver -q -L K >/dev/null &&
		head -n 100 a.ndjson | pipe K &&
		[ "$(rows K | wc -l)" -eq 100 ] &&
		head -n 100 a.ndjson | ids >want && rows K | cut -d" " -f3 | sort >got &&
		cmp want got && [ ! -d K/quarantine ] &&
		grep -q "last line cut short" err'
done

check 'a last line without a newline is a record all the same' '
	rm -rf N && { head -n 2 a.ndjson; sed -n 3p a.ndjson | tr -d "\n"; } | pipe N &&
	[ "$(rows N | wc -l)" -eq 3 ]'

done_testing
