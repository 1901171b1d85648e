#!/bin/sh
# Date bombs: run the tests that must not depend on today's date with the
# clock moved to DATE (UTC; it keeps running from there), under faketime(1):
# the CLI golden cases and the end-to-end suites that start no service.
#   scripts/faketime-check.sh 'YYYY-MM-DD HH:MM:SS' [--skip SUITE]...
# --skip leaves out a suite by name (e.g. bronze_crash), to keep a run short.
# Run it after `make check` (as .ci/run does): it uses the tools and test
# builds that make check built.
#
# Left out always: the ps-ingest CLI cases.  librdkafka waits on C11
# cnd_timedwait with CLOCK_REALTIME deadlines that libfaketime does not
# intercept, so under a clock a year ahead every client would wait a year.
# None of their expected outputs holds a date.  The suites that start a
# service or fetch a package (Kafka, Azurite, Key Vault, the Python venv,
# puppeteer: Java, Node, Chromium and pip under LD_PRELOAD, TLS
# certificates checked against the moved clock) and fresh_machine.sh (a
# build) are left out too.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 'YYYY-MM-DD HH:MM:SS' [--skip SUITE]..." >&2; exit 64; }
when=$1
shift
skip=" fresh_machine "
while [ $# -ge 2 ] && [ "$1" = --skip ]; do
	skip="$skip$2 "
	shift 2
done
[ $# -eq 0 ] || { echo "faketime-check: unexpected '$1'" >&2; exit 64; }
if ! command -v faketime >/dev/null 2>&1; then
	echo "faketime-check: faketime is missing (Debian package faketime; scripts/deps.sh installs it)" >&2
	exit 1
fi
ft() { TZ=UTC timeout 900 faketime "$when" "$@"; }

# The clock our tools read (clock_gettime, also from their threads) and
# the one the scripts read (date) must both have moved.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
day=${when%% *}
echo '{"a":1}' | ft bin/ps-bronze -q -n -L "$tmp/lake" --threads 2 &&
	[ "$(ft date -u +%F)" = "$day" ] &&
	[ -d "$tmp/lake/bronze/admissions/date=$day" ] || {
	echo "faketime-check: faketime did not move the clock to $day" >&2
	exit 1
}

failed=""
echo "== faketime $when: tests/cli (without ps-ingest)"
ft env PS_SKIP=ps-ingest/ tests/cli/run.sh || failed="$failed tests/cli"
for t in tests/e2e/*.sh; do
	n=$(basename "$t" .sh)
	case "$skip" in *" $n "*) continue ;; esac
	# a suite that starts a service
	grep -qE 'scripts/(kafka|azurite|lowkey-vault|keyvault|pyenv|puppeteer)|kafka_lib\.inc' "$t" && continue
	echo "== faketime $when: $t"
	s=$(date +%s)
	ft "$t" || failed="$failed $t"
	echo "   ($n: $(($(date +%s) - s)) s)"
done
[ -z "$failed" ] || { echo "faketime-check: failed at $when:$failed" >&2; exit 1; }
echo "faketime-check: passed at $when"
