#!/bin/sh
# Declarative CLI tests (after curl's and lowdown's).
#
# Each case is a directory tests/cli/<tool>/<case>/ holding:
#   cmd      a shell snippet, run by sh in a fresh empty directory with bin/
#            first on PATH, LC_ALL=C and PS_LOG_TS=0
#   stdin    (optional) fed to cmd, else /dev/null
#   stdout   (optional) expected standard output, byte for byte
#   stderr   (optional) expected standard error
#   status   (optional) expected exit status, default 0
# PS_REGEN=1 rewrites stdout/stderr/status from the actual run (make regen).
# PS_WRAP="valgrind ..." runs every ps-* tool under that wrapper.
# PS_ONLY=pattern runs only the cases whose path contains pattern;
# PS_SKIP=pattern skips those whose path contains it.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cases=$top/tests/cli
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A bin directory of wrappers so that PS_WRAP applies inside cmd.
mkdir -p "$tmp/bin"
for b in "$top"/bin/ps-*; do
	[ -x "$b" ] || continue
	n=$(basename "$b")
	if [ -n "${PS_WRAP:-}" ]; then
		printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$PS_WRAP" "$b" >"$tmp/bin/$n"
	else
		printf '#!/bin/sh\nexec "%s" "$@"\n' "$b" >"$tmp/bin/$n"
	fi
	chmod +x "$tmp/bin/$n"
done

pass=0
fail=0
for c in "$cases"/*/*/; do
	c=${c%/}
	[ -f "$c/cmd" ] || continue
	name=${c#"$cases"/}
	case "$name" in *"${PS_ONLY:-}"*) ;; *) continue ;; esac
	if [ -n "${PS_SKIP:-}" ]; then
		case "$name" in *"$PS_SKIP"*) continue ;; esac
	fi
	work="$tmp/work"
	rm -rf "$work"
	mkdir -p "$work"
	input=/dev/null
	[ -f "$c/stdin" ] && input="$c/stdin"
	(cd "$work" && PATH="$tmp/bin:$PATH" LC_ALL=C PS_LOG_TS=0 \
		PS_CASE="$c" TOP="$top" sh "$c/cmd" <"$input" \
		>"$tmp/out" 2>"$tmp/err")
	st=$?
	if [ -n "${PS_REGEN:-}" ]; then
		cp "$tmp/out" "$c/stdout"
		cp "$tmp/err" "$c/stderr"
		if [ "$st" -ne 0 ]; then echo "$st" >"$c/status"; else rm -f "$c/status"; fi
		echo "regen $name"
		continue
	fi
	want=0
	[ -f "$c/status" ] && want=$(cat "$c/status")
	ok=1
	why=""
	if [ "$st" != "$want" ]; then ok=0; why="status $st, expected $want"; fi
	if [ -f "$c/stdout" ] && ! cmp -s "$c/stdout" "$tmp/out"; then
		ok=0
		why="$why stdout differs"
		diff -u "$c/stdout" "$tmp/out" | head -20 >&2
	fi
	if [ -f "$c/stderr" ] && ! cmp -s "$c/stderr" "$tmp/err"; then
		ok=0
		why="$why stderr differs"
		diff -u "$c/stderr" "$tmp/err" | head -20 >&2
	fi
	if [ $ok = 1 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL cli/$name:$why" >&2
		[ -s "$tmp/err" ] && head -5 "$tmp/err" >&2
	fi
done
[ -n "${PS_REGEN:-}" ] && exit 0
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
