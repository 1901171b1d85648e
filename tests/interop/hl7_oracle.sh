#!/bin/bash
# lib/hl7 against two independent HL7 v2 parsers from PyPI (scripts/pyenv.sh):
# 2,000 generated messages (random delimiters, escapes \F\ \S\ \T\ \R\ \E\
# and \Xhh\, repetitions, components, subcomponents); every value python-hl7
# extracts equals `ps-hl7 get`, and the raw values of the mapped fields
# hl7apy parses equal `ps-hl7 get --raw` (hl7apy: one message in 25, with
# no \Xhh\, which it does not know).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C PS_LOG_TS=0
py=$("$top/scripts/pyenv.sh") || { echo "FAIL: scripts/pyenv.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
oracle=$top/tests/interop/hl7_oracle.py

"$py" "$oracle" gen 2000 14 "$tmp/o" || { echo "FAIL: generator" >&2; exit 1; }
"$top/bin/ps-hl7" get -q "$(cat "$tmp/o.paths")" "$tmp/o.msgs" >"$tmp/get" ||
	{ echo "FAIL: ps-hl7 get" >&2; exit 1; }
"$top/bin/ps-hl7" get -q --raw "$(cat "$tmp/o.fields")" "$tmp/o.msgs" \
	>"$tmp/raw" || { echo "FAIL: ps-hl7 get --raw" >&2; exit 1; }
if "$py" "$oracle" check "$tmp/o" "$tmp/get" "$tmp/raw"; then
	echo "PASS: hl7_oracle"
else
	echo "FAIL: hl7_oracle" >&2
	exit 1
fi
