#!/bin/sh
# ps-gold's tables are Delta tables (lib/stage.h, numbered commits; pulsestream(7),
# "Gold's Delta tables"), read by deltalake and DuckDB's delta extension
# (scripts/pyenv.sh delta).  A test build of ps-gold (build/test-bin,
# PS_TEST_STOP) is killed with SIGKILL between its data files and the
# first log commit, between two tables' log commits, and between the
# tables and its state; every table then opens at its latest version, and
# a restart gives tables equal row for row to an uninterrupted run, with
# no file left that no version references.
. "$(dirname "$0")/../lib.sh"
PY=$("$TOP/scripts/pyenv.sh" delta) || { echo "FAIL - no Python venv with deltalake"; exit 1; }
G="$PY $TOP/tests/e2e/gold_delta.py"
T=2026-06-01T00:00:00Z
NOW=2026-03-01T12:00:00Z
cd "$TMPD" || exit 1
need_test_builds ps-gold

ps-simulate -m realistic --count 8000 --seed 4 --start 2026-01-01T00:00:00Z 2>/dev/null |
	ps-bronze -L S --ingest-time $T 2>/dev/null |
	ps-silver -L S >clean.ndjson 2>/dev/null
# gold in four commits (the records carry silver's positions)
gold() { l=$1; shift; ps-gold -L "$l" --now $NOW --no-catch-up --commit-records 2000 "$@"; }

check 'an uninterrupted run: every table a Delta table, one version per gold commit' '
	gold R <clean.ndjson >/dev/null 2>r.err &&
	grep -q "commits=4 " r.err &&
	gold_snapshot R ref.snap &&
	$G readable R >r.tables &&
	[ $(wc -l <r.tables) -ge 13 ] &&
	awk "\$2 != 3 || \$3 != 4 { exit 1 }" r.tables'

check 'deltalake and DuckDB read the tables row for row as ps-silver --dump does' '
	$G same R R &&
	for t in dim_patient fact_patient_flow kpi_occupancy; do
		n=$(ps-silver --dump R/gold/$t | wc -l) &&
		m=$($G rows R/gold/$t) &&
		[ "$n" -eq "$m" ] && [ "$n" -gt 0 ] || exit 1
	done'

check 'a rewritten table: each version removes the previous file and adds its new one' '
	v=R/gold/dim_patient/_delta_log/00000000000000000003.json &&
	[ $(grep -c "\"remove\"" $v) -eq 1 ] && [ $(grep -c "\"add\"" $v) -eq 1 ] &&
	grep -q "\"txn\":{\"appId\":\"ps-gold/admissions\",\"version\":4" $v &&
	[ $(ls R/gold/dim_patient/*.parquet | wc -l) -eq 4 ]'

check 'the fact: a version replaces only the partitions that changed' '
	jq -c "select(.admission_time < \"2026-01-02\") | del(.source, .position)" clean.ndjson >early.ndjson &&
	jq -c "select(.admission_time >= \"2026-01-02\") | del(.source, .position)" clean.ndjson >late.ndjson &&
	gold F --commit-records 100000 <early.ndjson >/dev/null 2>f1.err &&
	gold F --commit-records 100000 <late.ndjson >/dev/null 2>f2.err &&
	v=F/gold/fact_patient_flow/_delta_log/00000000000000000001.json &&
	! grep -q "\"remove\"" $v &&
	jq -r ".add.path // empty" $v >added && [ -s added ] &&
	! grep -v "^admission_date=2026-01-02/" added &&
	[ $(ps-silver --dump F/gold/fact_patient_flow | wc -l) -eq \
	  $(ps-silver --dump R/gold/fact_patient_flow | wc -l) ]'

# Points of the second commit (13 tables a commit): data:2 before any
# log; logs:2 with every table's log entry written and durable, none
# linked; table:14 after dim_department, table:16 after the fact,
# table:26 after the last KPI table (the state not saved yet); state:2
# with every entry linked, their directories not yet synced (they are
# with the state's files); sealed:2 with the alert levels, the file
# ranges and the checkpoint written and durable with the log
# directories, none in place; commit:2 after the state.  At each the files
# made ahead after the first commit are there; a restart (the same
# input, whose positions say what to skip) leaves no hidden temporary.
for point in data:2 logs:2 table:14 table:16 table:26 state:2 sealed:2 commit:2; do
	check "SIGKILL at $point: every table opens, a restart equals the uninterrupted run" '
		rm -rf L &&
		PS_TEST_STOP=ps-gold:$point "$TB/ps-gold" -L L --now $NOW \
			--no-catch-up --commit-records 2000 <clean.ndjson \
			>/dev/null 2>k.err &
		gp=$!
		wait_stopped $gp || { kill -9 $gp; exit 1; }
		# the entries (version 1) of every table, staged together
		# before the first is linked
		ls -a L/gold/*/_delta_log | grep -c "^\.0*1\.json\.tmp-" >k.staged
		# the state files sealed together before the first is in place
		ls -a L/_state/ps-gold | grep "\.tmp-" | grep -vc "\.pool\." >k.sealed
		# the files made ahead after the first commit (lib/fsutil.h,
		# ps_fspool_fill), in the state directory too
		find L -name ".*.pool.*.tmp-*" >k.pool
		kill -KILL $gp; wait $gp
		grep -q "test hook: stopped" k.err &&
		case $point in
		logs:2) [ "$(cat k.staged)" -eq 13 ] ;;
		table:14) [ "$(cat k.staged)" -eq 12 ] ;;
		table:16) [ "$(cat k.staged)" -eq 10 ] ;;
		*) [ "$(cat k.staged)" -eq 0 ] ;;
		esac &&
		case $point in
		sealed:2) [ "$(cat k.sealed)" -eq 3 ] ;;
		commit:2) [ "$(cat k.sealed)" -eq 1 ] ;;
		*) [ "$(cat k.sealed)" -eq 0 ] ;;
		esac &&
		$G readable L orphans-ok >k.tables 2>k.py || { sed -n 1,3p k.py; exit 1; }
		# between two tables: the earlier ones at commit 2, the later at 1
		cut -d" " -f3 k.tables | sort -u | tr "\n" " " >k.txns &&
		case $point in
		table:14|table:16) [ "$(cat k.txns)" = "1 2 " ] ;;
		data:2|logs:2) [ "$(cat k.txns)" = "1 " ] ;;
		*) [ "$(cat k.txns)" = "2 " ] ;;
		esac &&
		grep -q "^L/_state/ps-gold/\.admissions\." k.pool &&
		gold L <clean.ndjson >/dev/null 2>l.err &&
		! ls -a L/gold/*/_delta_log L/_state/ps-gold | grep -q "\.tmp-" &&
		[ -z "$(find L -name ".*.tmp-*")" ] &&
		gold_snapshot L l.snap && cmp ref.snap l.snap &&
		$G readable L >/dev/null && $G same R L'
done

# Reading standard input, the files of the first commit are made while
# the state loads (lib/gold_run.c, pool_ahead): one in each table's log
# and three in the state directory; with no record no commit comes, and
# they are removed at exit.
check 'the first live commit finds its files made ahead, removed at exit' '
	{ sleep 2; } | gold R >/dev/null 2>w.err &
	gp=$!
	sleep 1
	find R -name ".*.pool.*.tmp-*" >w.pool
	wait $gp &&
	[ $(grep -c "/_delta_log/\.0*\.json\.pool\." w.pool) -eq 13 ] &&
	[ $(grep -c "^R/_state/ps-gold/\.admissions\.json\.pool\." w.pool) -eq 3 ] &&
	[ -z "$(find R -name ".*.tmp-*")" ]'

# killed_at POINT: a new lake L whose ps-gold (the test build, the input
# clean.ndjson) was SIGKILLed at PS_TEST_STOP point POINT; k.state lists
# its state directory as it was then.
killed_at() {
	rm -rf L &&
	PS_TEST_STOP=ps-gold:$1 "$TB/ps-gold" -L L --now $NOW \
		--no-catch-up --commit-records 2000 <clean.ndjson >/dev/null 2>k.err &
	_gp=$!
	wait_stopped $_gp || { kill -9 $_gp; return 1; }
	ls -a L/_state/ps-gold >k.state
	kill -KILL $_gp; wait $_gp
	return 0
}

# The first commit saves the state as a snapshot, written by a thread of
# its own while the tables are written (lib/gold_run.c, struct
# snap_ahead): killed after its last table's version (table:13), before
# the state, the snapshot is there sealed under its temporary name, not
# under its own; a restart removes it and gives the uninterrupted run.
check 'SIGKILL at table:13: the snapshot written ahead is not visible, a restart equals the uninterrupted run' '
	killed_at table:13 || exit 1
	grep -q "^\.admissions\.snap\.tmp-" k.state &&
	! grep -q "^admissions\.snap\$" k.state &&
	$G readable L orphans-ok >k.tables 2>k.py &&
	[ "$(cut -d" " -f3 k.tables | sort -u)" = 1 ] &&
	gold L <clean.ndjson >/dev/null 2>l.err &&
	! ls -a L/_state/ps-gold | grep -q "\.tmp-" &&
	gold_snapshot L l.snap && cmp ref.snap l.snap && $G same R L'

# The first commit of a new lake, killed before any table (data:1), with
# every log entry staged (logs:1), after the first tables (table:3):
# no commit point yet, so the files no log references are a killed
# commit's, the fact's too; the restart equals the uninterrupted run.
for point in data:1 logs:1 table:3; do
	check "SIGKILL in the first commit of a new lake at $point: a restart equals the uninterrupted run" '
		killed_at $point || exit 1
		[ ! -e L/_state/ps-gold/admissions.json ] &&
		ls L/gold/fact_patient_flow/*/part-*.parquet >/dev/null &&
		gold L <clean.ndjson >/dev/null 2>l.err ||
		{ tail -n 3 l.err; exit 1; }
		gold_snapshot L l.snap && cmp ref.snap l.snap &&
		$G readable L >/dev/null && $G same R L'
done

# A restarted container often gives the new run the killed one's process
# id: staged entries whose id is a live process's are removed all the
# same by the tables' one writer.
check "staged log entries of a killed commit whose process id lives again are removed" '
	killed_at logs:2 || exit 1
	sleep 300 & live=$!
	for f in L/gold/*/_delta_log/.*.tmp-*; do
		mv "$f" "${f%.tmp-*}.tmp-$live"
	done
	n=$(ls -a L/gold/*/_delta_log | grep -c "\.tmp-$live\$")
	gold L <clean.ndjson >/dev/null 2>l.err
	rc=$?
	kill $live
	echo "staged: $n" && [ "$n" -eq 13 ] && [ $rc -eq 0 ] &&
	! ls -a L/gold/*/_delta_log | grep "\.tmp-" &&
	gold_snapshot L l.snap && cmp ref.snap l.snap'

check 'files left by a commit that died before its log are removed on restart' '
	killed_at data:2 || exit 1
	ls L/gold/dim_patient/part-00000000000000000002.parquet &&
	gold L </dev/null >/dev/null 2>o.err &&
	grep -q "no version references" o.err &&
	[ ! -e L/gold/dim_patient/part-00000000000000000002.parquet ]'

check 'a commit that changed no patient keeps the dimensions (a version with the txn alone)' '
	head -n 1000 clean.ndjson | jq -c "del(.source, .position)" >plain.ndjson &&
	cat plain.ndjson plain.ndjson |
		ps-gold -L P --now $NOW --no-catch-up --commit-records 1000 \
		>/dev/null 2>p.err &&
	grep -q "commits=2 " p.err &&
	v=P/gold/dim_patient/_delta_log/00000000000000000001.json &&
	! grep -q "\"add\"\\|\"remove\"" $v && grep -q "\"txn\"" $v &&
	grep -q "\"add\"" P/gold/kpi_occupancy/_delta_log/00000000000000000001.json'

check '--keep-removed 0: removed files are deleted at the checkpoint, the table stays readable' '
	ps-gold -v -L Z --now $NOW --no-catch-up --commit-records 700 \
		--keep-removed 0 <clean.ndjson >/dev/null 2>z.err &&
	# the checkpoints come after the commit of version 10 (the 11th),
	# its records out: not in its figures
	awk "/msg=\"commit\"/ { n++ } /msg=\"checkpoints\"/ && !c { c = n }
		END { exit c != 11 }" z.err &&
	[ -f Z/gold/dim_patient/_delta_log/00000000000000000010.checkpoint.parquet ] &&
	[ $(ls Z/gold/dim_patient/*.parquet | wc -l) -le 3 ] &&
	$G readable Z >/dev/null && $G same R Z'

done_testing
