#!/bin/sh
# Create (once) a Python venv with pyarrow, duckdb, hl7 (python-hl7), hl7apy,
# fhir.resources and prometheus-client from PyPI, used by the Parquet interop
# tests and benchmarks as independent readers and writers, and by the
# ps-dash tests (the Prometheus parser for /metrics).
# Prints the venv's python path on stdout; progress goes to stderr.
#   scripts/pyenv.sh            -> /home/u/.cache/pulsestream/venv/bin/python
#   scripts/pyenv.sh delta      -> .../venv-delta/bin/python: deltalake
#       (delta-rs) and DuckDB with its Delta extension (duckdb-ext-delta,
#       which pins duckdb==1.4.4 and loads offline), in a venv of their own
#       so that the pin does not hold back the other one's duckdb
# PS_CACHE overrides the cache directory (default ~/.cache/pulsestream).
set -eu
cache=${PS_CACHE:-${HOME:-/tmp}/.cache/pulsestream}
case ${1:-} in
delta)
	venv=$cache/venv-delta
	pkgs="pyarrow>=15 deltalake>=1.0 duckdb-ext-delta"
	mods="pyarrow, deltalake, duckdb, duckdb_ext"
	;;
*)
	venv=$cache/venv
	pkgs="pyarrow>=15 duckdb>=1.0 hl7>=0.4.5 hl7apy>=1.3.5 fhir.resources>=8 prometheus-client>=0.20"
	mods="pyarrow, duckdb, hl7, hl7apy, fhir.resources, prometheus_client"
	;;
esac
py=$venv/bin/python

if [ -x "$py" ] && "$py" -c "import $mods" >/dev/null 2>&1; then
	echo "$py"
	exit 0
fi
command -v python3 >/dev/null 2>&1 || {
	echo "pyenv: python3 is missing (run scripts/deps.sh)" >&2
	exit 1
}
mkdir -p "$cache"
# A half-made venv (interrupted run) is made again from scratch.
if [ ! -x "$py" ]; then
	rm -rf "$venv"
	python3 -m venv "$venv" >&2 || {
		echo "pyenv: python3 -m venv failed (install python3-venv)" >&2
		exit 1
	}
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$py" -m pip install --quiet --upgrade pip >&2 || true
"$py" -m pip install --quiet $pkgs >&2 || {
	echo "pyenv: pip install $pkgs failed" >&2
	exit 1
}
"$py" -c "import $mods" >&2
echo "$py"
