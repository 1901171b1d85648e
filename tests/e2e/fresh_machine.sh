#!/bin/sh
# The README's two commands on a fresh machine, without one: a copy of the
# tree as a clone holds it (no build products), a pkg-config that finds no
# library until scripts/deps.sh has run (as on a machine without the -dev
# packages), and a deps.sh that installs nothing (the real one in --check
# mode) but marks that it ran.  `make demo` and `make check` must build
# working tools in one go; a library that is still missing must stop the
# build with one message naming its Debian package.
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

check 'make demo on a fresh machine: deps, then a build with their flags' '
	m demo PS_DEMO_EVENTS=5000 >out 2>err && [ -e deps-ran ] &&
	grep -q "^5000 events in" out && grep -q "^silver files: *[1-9]" out &&
	'"$tools_work"

# The demo'"'"'s "now" is the latest event time of the stream it landed.
check 'make demo: gold KPIs as of the latest event, not the last line' '
	last=$(find repo/build/demo-lake/bronze -name "*.gz" -exec zcat {} + |
		jq -r ".payload | fromjson? | .event_time | strings" |
		sort | tail -n 1) &&
	grep -qx "PulseStream gold KPIs as of $last" out'

rm -f deps-ran
m clean >/dev/null 2>&1
check 'make check on a fresh machine: deps, then a build with their flags' '
	m check CHECKS=check-man >out 2>err && [ -e deps-ran ] &&
	grep -q "^man: [1-9][0-9]* passed, 0 failed" out &&
	grep -q "^make check: all test suites passed" out && '"$tools_work"

check 'one library still missing: one message naming its package' '
	! PS_FAKE_MISSING=rdkafka m all >out 2>err &&
	grep -q "missing libraries: rdkafka; install the Debian packages librdkafka-dev (" err &&
	! grep -q "libyajl-dev" err'

check 'criterion missing: make check-unit names libcriterion-dev' '
	! PS_FAKE_MISSING=criterion m check-unit >out 2>err &&
	grep -q "missing libraries: criterion; install the Debian packages libcriterion-dev (" err &&
	! grep -q "undefined reference" err'

done_testing
