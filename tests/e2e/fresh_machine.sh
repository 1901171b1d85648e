#!/bin/sh
# The README's commands on a fresh machine, without one: a copy of the
# tree as a clone holds it (no build products), a pkg-config that finds no
# library until scripts/deps.sh has run (as on a machine without the -dev
# packages), and a deps.sh that installs nothing (the real one in --check
# mode) but marks that it ran.  The quick start (`make demo`, `make
# check`) and the "A pipeline" block are taken from README.md and run as
# written; they must succeed and print what the README says.  A library
# that is still missing must stop the build with one message naming its
# Debian package.
. "$(dirname "$0")/../lib.sh"
cd "$TMPD"

mkdir repo fake
if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked and new files as they are in the work tree
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
		tar -xf - -C repo
else
	(cd "$TOP" && tar --exclude=./build --exclude=./bin -cf - .) |
		tar -xf - -C repo
fi
real_pc=$(command -v pkg-config)
cat >fake/pkg-config <<EOF2
#!/bin/sh
[ -e "$TMPD/deps-ran" ] || exit 1
for a; do
	case " \${PS_FAKE_MISSING:-} " in *" \$a "*) exit 1 ;; esac
done
exec "$real_pc" "\$@"
EOF2
mv repo/scripts/deps.sh repo/scripts/deps-real.sh
cat >repo/scripts/deps.sh <<EOF2
#!/bin/sh
"\$(dirname "\$0")/deps-real.sh" --check || exit
touch "$TMPD/deps-ran"
EOF2
chmod +x fake/pkg-config repo/scripts/deps.sh

# make in the copy, as a user runs it (not as a sub-make of make check)
m() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u LDFLAGS \
		PKG_CONFIG="$TMPD/fake/pkg-config" make -C repo -j2 OPT=-O0 \
		WERROR=1 "$@"
}
tools_work='
	for t in repo/bin/ps-*; do "$t" --version >/dev/null || exit; done &&
	[ "$(ls repo/bin | wc -l)" -eq "$(ls repo/tools | wc -l)" ]'

check 'make before deps ran: one message naming the Debian packages' '
	! m all >out 2>err &&
	grep "missing libraries" err | grep -q "libyajl-dev zlib1g-dev libzstd-dev librdkafka-dev libcurl4-openssl-dev libssl-dev" &&
	[ "$(grep -c "missing libraries" err)" -eq 1 ] &&
	! grep -q "undefined reference" err && [ ! -d repo/bin ]'

# The quick start: the first sh block of README.md, one command a line.
awk '/^```sh$/ { on = 1; next } on && /^```$/ { exit } on && NF' \
	repo/README.md >quickstart
check 'the README quick start is make demo, then make check' '
	[ "$(awk "{ print \$1, \$2 }" quickstart)" = "$(printf "make demo\nmake check")" ]'
# Run a quick-start line as written, from a fresh state, with a smaller
# demo and (not to run the whole suite inside itself) only the man check.
quick() {
	rm -f deps-ran
	m clean >/dev/null 2>&1
	cmd=$(grep "^$1 " quickstart) || return 1
	(cd repo && env -u MFLAGS -u MAKELEVEL PKG_CONFIG="$TMPD/fake/pkg-config" \
		MAKEFLAGS="-j2 OPT=-O0 WERROR=1 CHECKS=check-man" \
		PS_DEMO_EVENTS=5000 sh -c "$cmd")
}

check 'README "make demo" on a fresh machine: deps, a build, the KPIs' '
	quick "make demo" >out 2>err && [ -e deps-ran ] &&
	grep -q "^5000 events in" out && grep -q "^silver files: *[1-9]" out &&
	grep -q "^PulseStream gold KPIs as of " out &&
	grep -q "^Hospital 1: census" out && '"$tools_work"

# The demo'"'"'s "now" is the latest event time of the stream it landed.
check 'make demo: gold KPIs as of the latest event, not the last line' '
	last=$(find repo/build/demo-lake/bronze -name "*.gz" -exec zcat {} + |
		jq -r ".payload | fromjson? | .event_time | strings" |
		sort | tail -n 1) &&
	grep -qx "PulseStream gold KPIs as of $last" out'

check 'README "make check" on a fresh machine: deps, a build, the tests' '
	quick "make check" >out 2>err && [ -e deps-ran ] &&
	grep -q "^man: [1-9][0-9]* passed, 0 failed" out &&
	grep -q "^make check: all test suites passed" out && '"$tools_work"

# "A pipeline": the first sh block after that heading, run as written
# from the top of the copy, one marker line before each command.
awk '/^## A pipeline/ { sec = 1; next }
	sec && /^```sh$/ { on = 1; next }
	on && /^```$/ { exit }
	on {
		if (!cont && $0 ~ /^[ \t]*(#|$)/) next
		cmd = cont ? cmd "\n" $0 : $0
		cont = $0 ~ /\\$/
		if (!cont) printf "echo \"@@@ %d\"\n%s\n", ++n, cmd
	}' repo/README.md >pipeline.sh
(cd repo && env -u MFLAGS -u MAKELEVEL PKG_CONFIG="$TMPD/fake/pkg-config" \
	MAKEFLAGS="-j2 OPT=-O0 WERROR=1" sh -e ../pipeline.sh) \
	>pipeline.out 2>pipeline.err
st=$?
# the output of command $1, after checking that it is the command $2 names
out_of() {
	grep -A1 "^echo \"@@@ $1\"" pipeline.sh | tail -n 1 | grep -q -- "$2" &&
	awk -v n="$1" '/^@@@ / { c = $2; next } c == n' pipeline.out
}
check 'README "A pipeline" runs to the end' '
	[ $st -eq 0 ] && [ "$(grep -c "^echo \"@@@" pipeline.sh)" -eq 7 ] &&
	grep -q "^@@@ 7$" pipeline.out'
check 'README: ps-simulate --count 5 --seed 1 | jq -c . prints 5 events' '
	out_of 3 "ps-simulate --count 5 --seed 1" >o &&
	[ "$(jq -r .patient_id o | grep -c .)" -eq 5 ]'
check 'README: the embedded pipeline prints alerts' '
	out_of 4 "ps-simulate -m realistic" >o && [ -s o ] &&
	jq -e "has(\"alert\")" o >/dev/null'
check 'README: gold-summary.sh prints census, occupancy, waits, LOS per hospital' '
	out_of 5 "gold-summary.sh lake" >o && grep -q "^Hospital 1: census" o &&
	grep -q "occ%.*wait_p90_m.*avg_los_h" o &&
	grep -qE "^  [A-Za-z]+ +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9]+ +[0-9.]+$" o'
check 'README: the ICU records of silver' '
	out_of 6 "ps-silver --dump" >o && [ "$(wc -l <o)" -eq 10 ] &&
	[ "$(jq -r .department o | sort -u)" = ICU ]'
check 'README: quarantine reasons with counts' '
	out_of 7 "lake/quarantine" >o && [ -s o ] &&
	! grep -vqE "^ *[0-9]+ [a-z_]+$" o'

check 'one library still missing: one message naming its package' '
	! PS_FAKE_MISSING=rdkafka m all >out 2>err &&
	grep -q "missing libraries: rdkafka; install the Debian packages librdkafka-dev (" err &&
	! grep -q "libyajl-dev" err'

check 'criterion missing: make check-unit names libcriterion-dev' '
	! PS_FAKE_MISSING=criterion m check-unit >out 2>err &&
	grep -q "missing libraries: criterion; install the Debian packages libcriterion-dev (" err &&
	! grep -q "undefined reference" err'

done_testing
