#!/bin/sh
# ps-vault against the Key Vault REST API served by scripts/lowkey-vault.sh
# (Lowkey Vault, or its stand-in when the jar cannot be fetched), over TLS
# verified with the explicit test CA: put/get/list/rm with a client
# credentials token and with a managed identity token, nextLink paging,
# 429 retries, refused credentials, and TLS without the CA.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$top/bin:$PATH
export LC_ALL=C PS_LOG_TS=0
tmp=$(mktemp -d)
state=$tmp/lowkey
trap '"$top/scripts/lowkey-vault.sh" stop "$state" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
unset PS_VAULT PS_VAULT_KEY PS_VAULT_KEY_FILE AZURE_CLIENT_ID \
	AZURE_CLIENT_SECRET AZURE_TENANT_ID IDENTITY_ENDPOINT IDENTITY_HEADER \
	PS_CA_BUNDLE

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL vault_keyvault: $*" >&2; }
check() { # check TITLE EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok; else bad "$1: expected '$2', got '$3'"; fi
}

# Credentials for the emulated Azure AD, through the environment only.
LOWKEY_CLIENT_SECRET=cs-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
LOWKEY_IDENTITY_HEADER=ih-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
export LOWKEY_CLIENT_SECRET LOWKEY_IDENTITY_HEADER
# Stand-in only: small pages, and every 4th vault request throttled.
export KV_PAGE_SIZE=2 KV_THROTTLE_EVERY=4
mkdir -p "$state"
if ! out=$("$top/scripts/lowkey-vault.sh" start "$state"); then
	echo "vault_keyvault: cannot start Lowkey Vault" >&2
	echo "vault_keyvault: 0 passed, 1 failed"
	exit 1
fi
eval "$out"
V="--vault=$LOWKEY_VAULT_URL"
log=$state/log

# --- client credentials ------------------------------------------------
if [ "$LOWKEY_KIND" = standin ]; then
	export AZURE_CLIENT_ID=$LOWKEY_CLIENT_ID
	export AZURE_CLIENT_SECRET=$LOWKEY_CLIENT_SECRET
else
	export IDENTITY_ENDPOINT=$LOWKEY_IDENTITY_ENDPOINT
	export IDENTITY_HEADER=$LOWKEY_IDENTITY_HEADER
fi

value='Endpoint=sb://pulse.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k3y+/="q" \ é'
printf '%s\n' "$value" | ps-vault "$V" put pulseeventconnstr 2>"$tmp/err"
check "put status" 0 $?
got=$(ps-vault "$V" get pulseeventconnstr 2>>"$tmp/err")
check "get status" 0 $?
check "get returns what put stored" "$value" "$got"

printf 'acctkey-one\n' | ps-vault "$V" put adlskey 2>>"$tmp/err"
printf 'acctkey-two\n' | ps-vault "$V" put adlskey 2>>"$tmp/err"
check "get returns the current version" acctkey-two \
	"$(ps-vault "$V" get adlskey 2>>"$tmp/err")"

for n in a1 a2 a3 a4 a5; do
	echo "$n" | ps-vault "$V" put "$n" 2>>"$tmp/err" || bad "put $n"
done
tokens_before=$(grep -c 'oauth2' "$log")
list=$(ps-vault "$V" list 2>>"$tmp/err")
check "list status" 0 $?
check "list follows nextLink over every page" \
	"a1 a2 a3 a4 a5 adlskey pulseeventconnstr" "$(echo $list)"
if [ "$LOWKEY_KIND" = standin ]; then
	# One token for the whole paged listing: it is cached.
	check "one token request per process" $((tokens_before + 1)) \
		"$(grep -c 'oauth2' "$log")"
	pages=$(grep -c '^GET /secrets 200' "$log")
	[ "$pages" -ge 4 ] && ok || bad "expected >= 4 list pages, saw $pages"
	# Throttled requests (429, Retry-After: 0) were retried.
	throttled=$(grep -c ' 429$' "$log")
	[ "$throttled" -ge 2 ] && ok || bad "expected 429 answers, saw $throttled"
	grep -q 'msg="retrying request".*status=429' "$tmp/err" && ok ||
		bad "no retry logged for a 429"
fi

ps-vault "$V" rm a1 2>>"$tmp/err"
check "rm status" 0 $?
ps-vault "$V" get a1 >"$tmp/out" 2>"$tmp/err2"
check "get after rm" 66 $?
check "nothing printed for a missing secret" "" "$(cat "$tmp/out")"
ps-vault "$V" rm a1 2>/dev/null
check "rm of a missing secret" 66 $?
check "list after rm" "a2 a3 a4 a5 adlskey pulseeventconnstr" \
	"$(echo $(ps-vault "$V" list 2>>"$tmp/err"))"
check "api-version is configurable" acctkey-two \
	"$(ps-vault "$V" --api-version 7.5 get adlskey 2>>"$tmp/err")"

# --- managed identity ---------------------------------------------------
(
	unset AZURE_CLIENT_SECRET AZURE_CLIENT_ID
	export IDENTITY_ENDPOINT=$LOWKEY_IDENTITY_ENDPOINT
	export IDENTITY_HEADER=$LOWKEY_IDENTITY_HEADER
	ps-vault "$V" get adlskey
) >"$tmp/mi" 2>>"$tmp/err"
check "managed identity token" acctkey-two "$(cat "$tmp/mi")"
if [ "$LOWKEY_KIND" = standin ]; then
	(
		unset AZURE_CLIENT_SECRET AZURE_CLIENT_ID
		export IDENTITY_ENDPOINT=$LOWKEY_IDENTITY_ENDPOINT
		export IDENTITY_HEADER=wrong-header
		ps-vault "$V" get adlskey
	) >/dev/null 2>"$tmp/mi-err"
	check "refused managed identity" 78 $?
	grep -q wrong-header "$tmp/mi-err" && bad "identity header in error"

	# --- refused client credentials ---------------------------------
	AZURE_CLIENT_SECRET=not-the-secret-xyz ps-vault "$V" get adlskey \
		>/dev/null 2>"$tmp/cc-err"
	check "wrong client secret" 78 $?
	grep -q 'invalid_client' "$tmp/cc-err" && ok ||
		bad "error should name invalid_client: $(cat "$tmp/cc-err")"
	grep -q not-the-secret-xyz "$tmp/cc-err" && bad "client secret in error"
fi

# --- TLS: the CA is required, and --cacert is honoured -------------------
ca=$PS_CA_BUNDLE
(unset PS_CA_BUNDLE; ps-vault "$V" get adlskey) >/dev/null 2>"$tmp/tls"
check "unknown CA is refused" 69 $?
grep -q 'TLS' "$tmp/tls" && grep -q -- '--cacert' "$tmp/tls" && ok ||
	bad "TLS error should say how to trust a CA: $(cat "$tmp/tls")"
check "--cacert" acctkey-two \
	"$(unset PS_CA_BUNDLE; ps-vault "$V" --cacert "$ca" get adlskey 2>>"$tmp/err")"

# --- no secret in any output except get's stdout ------------------------
for s in "$LOWKEY_CLIENT_SECRET" "$LOWKEY_IDENTITY_HEADER" "k3y+/" \
	acctkey-one acctkey-two; do
	if grep -qF -- "$s" "$tmp/err" "$tmp/err2" "$tmp/tls" "$log"; then
		bad "a secret value appears in stderr or the server log"
	else
		ok
	fi
done

echo "vault_keyvault ($LOWKEY_KIND): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
