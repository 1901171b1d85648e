#!/bin/sh
# Lowkey Vault (the Azure Key Vault emulator, Maven Central artifact
# com.github.nagyesta.lowkey-vault:lowkey-vault-app, a runnable Spring Boot
# jar) for tests: HTTPS on a free 127.0.0.1 port with a certificate signed
# by a throwaway test CA that clients trust explicitly (PS_CA_BUNDLE), never
# by turning verification off.
#
#   eval "$(scripts/lowkey-vault.sh start [DIR])"   start, wait until it
#                                                  answers, print settings
#   scripts/lowkey-vault.sh env [DIR]              print them again
#   scripts/lowkey-vault.sh stop [DIR]             stop it (waits)
#   scripts/lowkey-vault.sh install                fetch the jar, make the CA
#
# The jar is fetched once with `mvn dependency:copy` into
# ${PS_CACHE:-$HOME/.cache/pulsestream}/lowkey; the test CA and server
# certificate are made once with openssl there too, so a second start is
# fast.  start is idempotent: with DIR (or $LOWKEY_STATE) naming a running
# instance it only prints the settings.  LOWKEY_VERSION picks the version.
#
# When the jar cannot be fetched (the artifact is missing from the Maven
# repository this machine reaches), start says so on stderr and runs
# scripts/keyvault-standin.py instead: the same REST API, token endpoints
# and TLS setup, implemented from the published Key Vault reference.  Set
# LOWKEY_REQUIRE=1 to fail instead.
#
# Credentials for the emulated Azure AD come from the environment of
# start, never from arguments: LOWKEY_CLIENT_SECRET (client credentials are
# offered only when it is set) and LOWKEY_IDENTITY_HEADER (managed
# identity; default: a random value).  They are not printed.
#
# Printed assignments: LOWKEY_STATE, LOWKEY_PID, LOWKEY_PORT, LOWKEY_KIND
# (lowkey or standin), LOWKEY_VAULT_URL (https://127.0.0.1:PORT),
# PS_CA_BUNDLE (the test CA), AZURE_AUTHORITY_HOST, AZURE_TENANT_ID,
# LOWKEY_CLIENT_ID (client credentials; only with the stand-in),
# LOWKEY_IDENTITY_ENDPOINT.
set -eu
. "$(dirname "$0")/service.inc"

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${PS_CACHE:-${HOME:-/tmp}/.cache/pulsestream}/lowkey
version=${LOWKEY_VERSION:-7.1.13}
artifact=com.github.nagyesta.lowkey-vault:lowkey-vault-app:$version
jar=$cache/lowkey-vault-app-$version.jar
tenant=pulsestream-test
client_id=pulsestream-e2e

die() {
	echo "lowkey-vault.sh: $*" >&2
	exit 1
}

# The test CA and a server certificate for 127.0.0.1 and localhost.
make_tls() {
	t=$cache/tls
	[ -s "$t/server.pem" ] && [ -s "$t/server.p12" ] && return 0
	command -v openssl >/dev/null 2>&1 ||
		die "openssl not found (scripts/deps.sh installs it)"
	mkdir -p "$t"
	chmod 700 "$t"
	(
		cd "$t"
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
			-subj "/CN=PulseStream test CA" -keyout ca.key \
			-out ca.pem -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
			-keyout server.key -out server.csr 2>/dev/null
		printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:*.localhost" \
			"basicConstraints=CA:FALSE" \
			"extendedKeyUsage=serverAuth" >ext.cnf
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
			-CAcreateserial -days 3650 -extfile ext.cnf \
			-out server.pem 2>/dev/null
		# A PKCS#12 keystore for Lowkey; its password is a file, not
		# an argument.
		openssl rand -hex 16 >p12.pass
		openssl pkcs12 -export -in server.pem -inkey server.key \
			-name lowkey -passout file:p12.pass -out server.p12
		chmod 644 ca.pem
	) || die "cannot create the test certificates in $t"
}

fetch_jar() {
	[ -s "$jar" ] && return 0
	command -v mvn >/dev/null 2>&1 || return 1
	mkdir -p "$cache"
	# A failed fetch is remembered for a day so that later starts stay
	# fast; delete the marker (or set LOWKEY_REQUIRE=1) to try again.
	miss=$cache/missing-$version
	if [ "${LOWKEY_REQUIRE:-0}" != 1 ] && [ -f "$miss" ] &&
		[ -n "$(find "$miss" -mmin -1440 2>/dev/null)" ]; then
		return 1
	fi
	echo "lowkey-vault.sh: fetching $artifact" >&2
	if mvn -B -q dependency:copy -Dartifact="$artifact" \
		-DoutputDirectory="$cache" -Dmdep.overWriteReleases=false \
		>"$cache/mvn.log" 2>&1 && [ -s "$jar" ]; then
		rm -f "$miss"
		return 0
	fi
	: >"$miss"
	return 1
}

install() {
	make_tls
	if ! fetch_jar; then
		if [ "${LOWKEY_REQUIRE:-0}" = 1 ]; then
			die "cannot fetch $artifact with mvn (see $cache/mvn.log)"
		fi
		echo "lowkey-vault.sh: $artifact is not obtainable from the" \
			"Maven repository; using scripts/keyvault-standin.py" >&2
		return 1
	fi
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# 0 when the server answers HTTPS on 127.0.0.1:$1 with our certificate.
answers() {
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		--cacert "$cache/tls/ca.pem" \
		"https://127.0.0.1:$1/secrets?api-version=7.4" 2>/dev/null) ||
		return 1
	[ "$code" = 401 ] || [ "$code" = 200 ]
}

print_env() {
	d=$1
	[ -f "$d/pid" ] || die "no Lowkey Vault state in $d"
	port=$(cat "$d/port")
	kind=$(cat "$d/kind")
	cat <<EOF
LOWKEY_STATE='$d'
LOWKEY_PID=$(cat "$d/pid")
LOWKEY_PORT=$port
LOWKEY_KIND=$kind
LOWKEY_VAULT_URL=https://127.0.0.1:$port
PS_CA_BUNDLE='$cache/tls/ca.pem'
AZURE_AUTHORITY_HOST=https://127.0.0.1:$port
AZURE_TENANT_ID=$tenant
LOWKEY_CLIENT_ID=$([ "$kind" = standin ] && echo $client_id)
LOWKEY_IDENTITY_ENDPOINT=https://127.0.0.1:$port/metadata/identity/oauth2/token
export LOWKEY_STATE LOWKEY_PID LOWKEY_PORT LOWKEY_KIND LOWKEY_VAULT_URL PS_CA_BUNDLE AZURE_AUTHORITY_HOST AZURE_TENANT_ID LOWKEY_CLIENT_ID LOWKEY_IDENTITY_ENDPOINT
EOF
}

launch() {
	d=$1 port=$2 kind=$3
	if [ "$kind" = lowkey ]; then
		# Spring Boot settings through the environment: no secret in
		# argv.  Lowkey sends no telemetry and checks for no updates.
		# Its plain-http token connector gets a free port too (the
		# token endpoint is also served over HTTPS on $port).
		(cd "$d" && SERVER_PORT=$port SERVER_ADDRESS=127.0.0.1 \
			APP_TOKEN_PORT=$(free_port) \
			SERVER_SSL_KEYSTORE="$cache/tls/server.p12" \
			SERVER_SSL_KEYSTOREPASSWORD="$(cat "$cache/tls/p12.pass")" \
			SERVER_SSL_KEYSTORETYPE=PKCS12 SERVER_SSL_KEYALIAS=lowkey \
			LOWKEY_VAULT_NAMES=pulsestream \
			exec java -Xmx256m -jar "$jar") \
			>"$d/log" 2>&1 </dev/null &
	else
		(cd "$d" && KV_PORT=$port KV_CERT="$cache/tls/server.pem" \
			KV_KEY="$cache/tls/server.key" KV_TENANT=$tenant \
			KV_CLIENT_ID=$client_id \
			KV_CLIENT_SECRET="${LOWKEY_CLIENT_SECRET:-}" \
			KV_IDENTITY_HEADER="$LOWKEY_IDENTITY_HEADER" \
			exec python3 "$top/scripts/keyvault-standin.py") \
			>"$d/log" 2>&1 </dev/null &
	fi
	echo $!
}

start() {
	d=${1:-${LOWKEY_STATE:-}}
	if [ -n "$d" ] && [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null; then
		print_env "$d"
		return 0
	fi
	kind=lowkey
	install || kind=standin
	if [ -z "$d" ]; then
		d=$(mktemp -d "${TMPDIR:-/tmp}/lowkey.XXXXXX")
		: >"$d/owned"
	fi
	mkdir -p "$d"
	: "${LOWKEY_IDENTITY_HEADER:=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
	export LOWKEY_IDENTITY_HEADER
	port=${LOWKEY_PORT:-}
	tries=0
	while :; do
		[ -n "$port" ] || port=$(free_port)
		pid=$(launch "$d" "$port" "$kind")
		i=0
		while [ $i -lt 600 ]; do
			if answers "$port"; then
				echo "$pid" >"$d/pid"
				echo "$port" >"$d/port"
				echo "$kind" >"$d/kind"
				print_env "$d"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		kill "$pid" 2>/dev/null || :
		tries=$((tries + 1))
		if [ -n "${LOWKEY_PORT:-}" ] || [ $tries -ge 3 ]; then
			cat "$d/log" >&2
			die "$kind did not start on 127.0.0.1:$port"
		fi
		port=""
	done
}

stop() {
	d=${1:-${LOWKEY_STATE:-}}
	[ -n "$d" ] || die "stop: no state directory (give DIR or LOWKEY_STATE)"
	stop_service "$d"
}

case ${1:-} in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
env) print_env "${2:-${LOWKEY_STATE:-}}" ;;
install) install || : ;;
*)
	echo "usage: scripts/lowkey-vault.sh start|stop|env [DIR] | install" >&2
	exit 64
	;;
esac
