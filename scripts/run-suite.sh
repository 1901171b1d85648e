#!/bin/sh
# Run every executable *.sh test script in a directory, in order.
# Each script prints its own result and exits non-zero on failure.
# Usage: scripts/run-suite.sh DIR   (PS_ONLY=pattern runs a subset)
set -u
dir=$1
pass=0
fail=0
failed=""
for t in "$dir"/*.sh; do
	[ -e "$t" ] || continue
	case "$t" in *"${PS_ONLY:-}"*) ;; *) continue ;; esac
	echo "== $t"
	if "$t"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed $t"
	fi
done
echo "$(basename "$dir"): $pass passed, $fail failed"
[ -z "$failed" ] || { echo "failed:$failed" >&2; exit 1; }
