#!/bin/sh
# No secret in any output, log, file or child argv.
#
# Known secret values (random per run: a vault key, an Azure AD client
# secret, an Event Hubs connection string, a storage account key, a SAS
# token, a managed identity header) are put where the tools read them: the
# file vault, the env: backend, PS_* variables naming secret:NAME, the Key
# Vault stand-in or Lowkey Vault, and Azurite (a real upload).  Then every
# tool runs its error paths (bad options, bad input, wrong key, tampered
# vault, refused credentials, unreachable services, untrusted TLS) and some
# normal runs, at -vv, each under strace recording every execve.  All
# stdout and stderr (except `ps-vault get`'s stdout), every file the runs
# left, the services' logs and the execve traces (child argv) are searched
# for the secrets; any hit fails.  So does a tool killed by a signal.
set -u
# Every tool runs under strace here, and LeakSanitizer cannot work under
# ptrace (sanitizer builds would fail at exit): leaks are checked by the
# valgrind run and the other sanitizer suites instead.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
top=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$top/bin:$PATH
export LC_ALL=C PS_LOG_TS=0
tmp=$(mktemp -d)
work=$tmp/work		# the tools' working directory (searched)
out=$tmp/out		# captured outputs and traces (searched)
priv=$tmp/priv		# stdin files holding secrets (not searched)
mkdir -p "$work" "$out" "$priv"
chmod 700 "$tmp"
cleanup() {
	[ -n "${LOWKEY_STATE:-}" ] &&
		"$top/scripts/lowkey-vault.sh" stop "$LOWKEY_STATE" >/dev/null 2>&1
	[ -n "${AZURITE_STATE:-}" ] &&
		"$top/scripts/azurite.sh" stop "$AZURITE_STATE" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
unset PS_VAULT PS_VAULT_KEY PS_VAULT_KEY_FILE AZURE_CLIENT_ID \
	AZURE_CLIENT_SECRET AZURE_TENANT_ID IDENTITY_ENDPOINT IDENTITY_HEADER \
	PS_CA_BUNDLE PS_BLOB_KEY PS_BLOB_SAS PS_BLOB_URL \
	PS_EVENTHUBS_CONNECTION_STRING LOWKEY_STATE AZURITE_STATE

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL secrets_leak: $*" >&2; }

if ! command -v strace >/dev/null 2>&1; then
	bad "strace is required (scripts/deps.sh installs it)"
	echo "secrets_leak: $pass passed, $fail failed"
	exit 1
fi

rnd() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
VKEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
CSECRET=LeakClientSecret$(rnd)
CONNCORE=LeakConnKey$(rnd)
CONNSTR="Endpoint=sb://127.0.0.1:9/;SharedAccessKeyName=send;SharedAccessKey=$CONNCORE=;EntityPath=admissions"
ACCTCORE=LeakAcctKey$(rnd)
ACCTKEY=$(printf '%s' "$ACCTCORE" | base64 -w0)
SASCORE=LeakSasSig$(rnd)
SAS="sv=2024-05-04&ss=b&srt=co&sp=rwlc&se=2030-01-01T00:00:00Z&sig=$SASCORE%3D"
IDHDR=LeakIdentityHeader$(rnd)
# What is searched for: the distinctive core of each (also catches a
# value that was escaped or cut).
patterns="$VKEY $CSECRET $CONNCORE $ACCTCORE $ACCTKEY $SASCORE $IDHDR"

# run NAME [VAR=VALUE | -u VAR]... -- CMD...: in $work, with those
# variables exported (never passed as arguments, which the trace would
# rightly flag), stdin from $in (default /dev/null), stdout and stderr to
# $out/NAME.out and .err, every execve traced to $out/NAME.trace.  A NAME
# ending in .secret marks a stdout that may hold a secret.
run() {
	name=$1
	shift
	(
		cd "$work" || exit 1
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			if [ "$1" = -u ]; then
				unset "$2"
				shift
			else
				export "$1"
			fi
			shift
		done
		shift
		exec strace -f -qq -e trace=execve -s 65536 \
			-o "$out/$name.trace" timeout 120 "$@" \
			<"${in:-/dev/null}" >"$out/$name.out" 2>"$out/$name.err"
	)
	st=$?
	echo "$st" >"$out/$name.status"
	if [ "$st" -ge 124 ]; then
		bad "$name: killed or timed out (status $st)"
	fi
	in=/dev/null
}
stdin_of() { # stdin_of VALUE: a private file holding VALUE
	f=$priv/in.$(rnd)
	printf '%s\n' "$1" >"$f"
	in=$f
}

export PS_VAULT=file:$work/vault/secrets.vault PS_VAULT_KEY=$VKEY

# --- ps-vault, file: backend ---------------------------------------------
stdin_of "$CONNSTR"; run vault-put-conn -- ps-vault -vv put pulseeventconnstr
stdin_of "$ACCTKEY"; run vault-put-adls -- ps-vault -vv put adlskey
stdin_of "$SAS"; run vault-put-sas -- ps-vault -vv put blobsas
run vault-list -- ps-vault -vv list
run vault-get.secret -- ps-vault -vv get adlskey
run vault-get-missing -- ps-vault -vv get nothing-here
run vault-bad-name -- ps-vault get 'bad_name'
stdin_of "$ACCTKEY"; run vault-put-bad-name -- ps-vault put 'a.b'
run vault-wrong-key PS_VAULT_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" -- ps-vault -vv get adlskey
run vault-bad-key PS_VAULT_KEY="${VKEY}00" -- ps-vault -vv list
mkdir -p "$work/copy"
cp "$work/vault/secrets.vault" "$work/copy/t.vault"
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[40] ^= 4; open(p, "wb").write(b)' "$work/copy/t.vault"
run vault-tampered -- ps-vault -vv --vault "file:$work/copy/t.vault" get adlskey
cp "$work/vault/secrets.vault" "$work/copy/r.vault"
chmod 644 "$work/copy/r.vault"
run vault-world-readable -- ps-vault -vv --vault "file:$work/copy/r.vault" get adlskey
run vault-rm -- ps-vault -vv rm blobsas
for s in pulseeventconnstr adlskey; do
	st=$(cat "$out/vault-put-$( [ $s = adlskey ] && echo adls || echo conn).status")
	[ "$st" = 0 ] && ok || bad "ps-vault put $s failed (status $st)"
done
# Positive control: the captured get output does hold the secret, so a
# leak would be seen by the same search.
grep -qF -- "$ACCTKEY" "$out/vault-get.secret.out" && ok ||
	bad "control: ps-vault get did not print the stored value"

# --- ps-vault, env: backend ---------------------------------------------
run vault-env-get.secret PS_SECRET_ADLSKEY="$ACCTKEY" -- ps-vault --vault env: get adlskey
run vault-env-list PS_SECRET_ADLSKEY="$ACCTKEY" -- ps-vault --vault env: -vv list
stdin_of "$ACCTKEY"; run vault-env-put PS_SECRET_ADLSKEY="$ACCTKEY" -- ps-vault --vault env: put adlskey

# --- ps-vault, Key Vault (Lowkey Vault or its stand-in) -----------------
mkdir -p "$tmp/lowkey"
if lk=$(LOWKEY_CLIENT_SECRET=$CSECRET LOWKEY_IDENTITY_HEADER=$IDHDR \
	"$top/scripts/lowkey-vault.sh" start "$tmp/lowkey" 2>"$out/lowkey-start.err"); then
	eval "$lk"
	kv=$LOWKEY_VAULT_URL
	if [ "$LOWKEY_KIND" = standin ]; then
		set -- AZURE_CLIENT_ID="$LOWKEY_CLIENT_ID" AZURE_CLIENT_SECRET="$CSECRET"
	else
		set -- IDENTITY_ENDPOINT="$LOWKEY_IDENTITY_ENDPOINT" IDENTITY_HEADER="$IDHDR"
	fi
	stdin_of "$ACCTKEY"; run kv-put "$@" -- ps-vault -vv --vault "$kv" put adlskey
	run kv-get.secret "$@" -- ps-vault -vv --vault "$kv" get adlskey
	run kv-list "$@" -- ps-vault -vv --vault "$kv" list
	run kv-get-missing "$@" -- ps-vault -vv --vault "$kv" get nothing-here
	run kv-rm "$@" -- ps-vault -vv --vault "$kv" rm adlskey
	[ "$(cat "$out/kv-put.status")" = 0 ] && ok || bad "Key Vault put failed: $(cat "$out/kv-put.err")"
	run kv-wrong-secret AZURE_CLIENT_ID=pulsestream-e2e AZURE_CLIENT_SECRET="${CSECRET}x" -- ps-vault -vv --vault "$kv" get adlskey
	run kv-wrong-identity IDENTITY_ENDPOINT="$LOWKEY_IDENTITY_ENDPOINT" IDENTITY_HEADER="${IDHDR}x" -- ps-vault -vv --vault "$kv" get adlskey
	run kv-untrusted-tls -u PS_CA_BUNDLE AZURE_CLIENT_ID=pulsestream-e2e AZURE_CLIENT_SECRET="$CSECRET" -- ps-vault -vv --vault "$kv" list
	cp "$LOWKEY_STATE/log" "$out/lowkey.log"
else
	bad "cannot start Lowkey Vault: $(cat "$out/lowkey-start.err")"
fi
run kv-unreachable AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET="$CSECRET" AZURE_AUTHORITY_HOST=https://127.0.0.1:9 -- ps-vault -vv --vault https://127.0.0.1:9 get adlskey

# --- every tool's error paths, with secrets in its environment -----------
mkdir -p "$work/lake"
printf 'garbage\n{"patient_id": \n\0\001\n' >"$priv/garbage"
export PS_EVENTHUBS_CONNECTION_STRING=secret:pulseeventconnstr
export PS_BLOB_KEY=secret:adlskey PS_BLOB_URL=https://127.0.0.1:9/leaktest
export AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET="$CSECRET"
export AZURE_AUTHORITY_HOST=https://127.0.0.1:9 IDENTITY_HEADER=$IDHDR
for b in "$top"/bin/ps-*; do
	t=$(basename "$b")
	run "$t-help" -- "$t" --help
	run "$t-version" -- "$t" --version
	run "$t-bogus" -- "$t" --bogus-option
	run "$t-empty" -- "$t" -vv -L "$work/lake"
	in=$priv/garbage
	run "$t-garbage" -- "$t" -vv -L "$work/lake"
done
# Resolved secrets reaching real error paths.
ps-simulate --count 3 --seed 1 >"$priv/events" 2>/dev/null ||
	printf '%s\n' '{"patient_id":"p1","hospital_id":1}' >"$priv/events"
in=$priv/events
run ingest-produce -- ps-ingest produce -vv -t admissions --timeout 3 -L "$work/lake"
in=$priv/events
run ingest-produce-raw PS_EVENTHUBS_CONNECTION_STRING="$CONNSTR" -- ps-ingest produce -vv -t admissions --timeout 3
run ingest-consume -- ps-ingest consume -vv -t admissions --timeout 3 --exit-at-end -L "$work/lake"
run ingest-missing-secret PS_EVENTHUBS_CONNECTION_STRING=secret:nothing-here -- ps-ingest produce -vv -t admissions --timeout 3

# --- normal runs -----------------------------------------------------------
run pipeline -- sh -c 'ps-simulate --count 300 --seed 7 | ps-bronze -vv -L lake |
	ps-silver -vv -L lake | ps-gold -vv -L lake --now 2026-11-24T12:00:00Z'
run upload-refused -- ps-upload -vv -L "$work/lake" --retries 1 --account-key secret:adlskey
run upload-sas-missing -- ps-upload -vv -L "$work/lake" --retries 1 --sas secret:blobsas
if az=$("$top/scripts/azurite.sh" start "$tmp/azurite" 2>"$out/azurite-start.err"); then
	eval "$az"
	# Azurite's published development key plays the account key here.
	stdin_of "$AZURITE_KEY"; run vault-put-azurite -- ps-vault put azuritekey
	run upload-azurite -- ps-upload -vv -L "$work/lake" --to "$AZURITE_BLOB_URL/leaktest" \
		--create-container --account-key secret:azuritekey
	[ "$(cat "$out/upload-azurite.status")" = 0 ] && ok ||
		bad "upload to Azurite failed: $(tail -3 "$out/upload-azurite.err")"
	patterns="$patterns $AZURITE_KEY"
	cp "$AZURITE_STATE/log" "$out/azurite.log" 2>/dev/null || :
else
	bad "cannot start Azurite: $(cat "$out/azurite-start.err")"
fi

# --- the search ------------------------------------------------------------
# The traces must have recorded the runs (control for the argv check).
grep -q 'execve("' "$out/vault-list.trace" && ok ||
	bad "control: strace recorded no execve"
for p in $patterns; do
	hits=$(grep -rlaF -- "$p" "$work" "$out" 2>/dev/null |
		grep -v '\.secret\.out$' | sed "s|^$tmp/||")
	if [ -n "$hits" ]; then
		bad "a secret appears in: $(echo $hits)"
	else
		ok
	fi
done
# Child argv in particular (also covered above): no execve argument holds
# a secret, and the tools themselves start no other program.
if cat "$out"/*.trace | grep -v '^[0-9]* *+++' | grep -qF -e "$CSECRET" -e "$CONNCORE" -e "$ACCTCORE" -e "$VKEY"; then
	bad "a secret appears in the argv of an execve"
else
	ok
fi
children=$(grep -h 'execve("' "$out"/ps-vault-*.trace "$out"/vault-*.trace "$out"/kv-*.trace 2>/dev/null |
	grep -v 'execve("[^"]*/\(timeout\|ps-vault\)"' | head -3)
[ -z "$children" ] && ok || bad "ps-vault started other programs: $children"

echo "secrets_leak: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
