#!/bin/sh
# Run each Criterion unit-test binary; fail if any fails.
# Usage: scripts/run-unit.sh build/tests/test_x ...
set -u
fail=0
total=0
for t in "$@"; do
	total=$((total + 1))
	if ! "$t" --jobs=2; then
		echo "FAIL: $t" >&2
		fail=$((fail + 1))
	fi
done
echo "unit: $((total - fail)) passed, $fail failed (test binaries)"
[ "$fail" -eq 0 ]
