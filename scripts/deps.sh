#!/bin/sh
# Install the Debian/Ubuntu packages PulseStream needs to build and test.
# Idempotent: prints what it installs, nothing when all is present.
# Runs apt-get through sudo when not root.
#   scripts/deps.sh           install what is missing
#   scripts/deps.sh --check   only report; exit 1 if something is missing
set -eu

# build
PKGS="gcc make pkg-config libyajl-dev zlib1g-dev libzstd-dev libisal-dev
librdkafka-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev"
# tests, docs, bench (libclang-rt: the libFuzzer runtime of make check-fuzz;
# linux-perf: the profiles make bench prints for a missed target)
PKGS="$PKGS libcriterion-dev jq valgrind mandoc python3 python3-venv gzip zstd
kcat clang libclang-rt-14-dev curl procps time faketime linux-perf"
# real services started by scripts/: Kafka and Lowkey Vault (Java, Maven),
# Azurite (Node.js)
PKGS="$PKGS default-jre-headless maven nodejs npm"
# tests/e2e/dash_browser.sh: a real browser (driven by npm puppeteer-core)
PKGS="$PKGS chromium"
# tests/e2e/secrets_leak.sh (execve traces), scripts/lowkey-vault.sh (test CA)
PKGS="$PKGS strace openssl"

missing=""
for p in $PKGS; do
	# A tool already on PATH (e.g. a newer Node or JDK) is good enough.
	case $p in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	maven) command -v mvn >/dev/null 2>&1 && continue ;;
	default-jre-headless) command -v java >/dev/null 2>&1 && continue ;;
	python3) command -v python3 >/dev/null 2>&1 && continue ;;
	python3-venv) python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && continue ;;
	linux-perf) command -v perf >/dev/null 2>&1 && perf --version >/dev/null 2>&1 && continue ;;
	esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "deps: missing:$missing" >&2
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: this script needs apt-get (Debian/Ubuntu); install them by hand" >&2
	exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: need root or sudo to install:$missing" >&2
	exit 1
fi
echo "deps: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
echo "deps: done"
