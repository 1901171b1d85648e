#!/bin/sh
# Create (once) a Python venv with pyarrow, duckdb, hl7 (python-hl7), hl7apy,
# fhir.resources and prometheus-client from PyPI, used by the Parquet interop
# tests and benchmarks as independent readers and writers, and by the
# ps-dash tests (the Prometheus parser for /metrics).
# Prints the venv's python path on stdout; progress goes to stderr.
#   scripts/pyenv.sh            -> /home/u/.cache/pulsestream/venv/bin/python
# PS_CACHE overrides the cache directory (default ~/.cache/pulsestream).
set -eu
cache=${PS_CACHE:-${HOME:-/tmp}/.cache/pulsestream}
venv=$cache/venv
py=$venv/bin/python
pkgs="pyarrow>=15 duckdb>=1.0 hl7>=0.4.5 hl7apy>=1.3.5 fhir.resources>=8 prometheus-client>=0.20"

if [ -x "$py" ] && "$py" -c 'import pyarrow, duckdb, hl7, hl7apy, fhir.resources, prometheus_client' >/dev/null 2>&1; then
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
"$py" -c 'import pyarrow, duckdb, hl7, hl7apy, fhir.resources, prometheus_client' >&2
echo "$py"
