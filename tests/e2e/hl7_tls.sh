#!/bin/bash
# ps-hl7 listen with MLLP over TLS, against real clients: python-hl7's
# MLLP client inside Python's ssl (TLS 1.2+, the server certificate
# checked), and openssl s_client.  Messages are acknowledged after the
# bronze commit exactly as in plain MLLP, across a SIGKILL and a restart
# (every acknowledged message in bronze once); a plain MLLP sender gets an
# AR, a TLS 1.1 client and, with --tls-client-ca, a client without a
# certificate from that CA are refused, and the listener goes on; the key
# must be private to its owner (or a secret:NAME) and never reaches a log.
. "$(dirname "$0")/../lib.sh"
N=${HL7_TLS_N:-300}
. "$TOP/tests/e2e/hl7_lib.inc"
cd "$TMPD" || exit 1

ps-simulate -q -m realistic --seed 12 --count "$N" --dirty none \
	--format hl7 >msgs
head -c 2000 msgs | awk 'NR > 1 && /^MSH/ { exit } { print }' >one

# A CA, the server's certificate (localhost, 127.0.0.1), a client's
# certificate from that CA, and a client's self-signed one.
cert() {	# cert NAME SUBJECT [CA]
	if [ -z "${3:-}" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout "$1.key" -subj "/CN=$2" -days 30 \
			-out "$1.pem" 2>/dev/null
		return
	fi
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null &&
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san &&
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
		-CAcreateserial -days 30 -out "$1.pem" -extfile san 2>/dev/null
}
cert ca test-ca && cert server localhost ca && cert client client ca &&
	cert rogue rogue || { echo "FAIL - openssl cannot make certificates"; exit 1; }
chmod 600 server.key
keyline=$(sed -n 2p server.key)

check 'a key file readable by others is refused (78), not shown' '
	chmod 644 server.key &&
	{ ps-hl7 listen -L K --port 0 --tls-cert server.pem \
		--tls-key server.key 2>k.err; rc=$?; } ;
	chmod 600 server.key && cat k.err && [ $rc -eq 78 ] &&
	grep -q "accessible by group or others" k.err &&
	! grep -qF -- "$keyline" k.err'

check 'a key that is not the certificate'"'"'s is refused (78)' '
	{ ps-hl7 listen -L K --port 0 --tls-cert server.pem \
		--tls-key client.key 2>k2.err; rc=$?; } ;
	cat k2.err && [ $rc -eq 78 ] &&
	grep -q "does not match the TLS key" k2.err'

# The crash run over TLS: SIGKILL once mid-stream, restart on the port.
start lake 0 --tls-cert server.pem --tls-key server.key
port=$(cat lake.port)
: >lake.acked
"$py" "$send" send msgs lake.port lake.acked 3 ca.pem >lake.sender 2>&1 &
spid=$!
for _ in $(seq 600); do
	[ "$(wc -l <lake.acked)" -ge $((N / 2)) ] && break
	sleep 0.05
done
kill -9 "$pid" && kills=1
wait "$pid" 2>/dev/null
sleep 0.3
start lake "$port" --tls-cert server.pem --tls-key server.key
wait "$spid"
sender_rc=$?
cat lake.sender

check 'MLLP over TLS: an AA for every message across a SIGKILL' "
	test \${kills:-0} -eq 1 && test $sender_rc -eq 0 &&
	test \$(sort -u lake.acked | wc -l) -eq $N &&
	grep -q ' [1-9][0-9]* retransmits' lake.sender &&
	grep -q 'tls=on' lake.err"

check 'bronze holds every acknowledged message exactly once' '
	bronze_ids lake >ids && sort -u lake.acked | cmp - ids'

check 'a plain MLLP sender on the TLS port gets an AR, nothing lands' '
	"$py" "$send" probe one lake.port >plain.out && cat plain.out &&
	grep -q "^AR|.* ERR|||207^this port takes MLLP over TLS only" plain.out &&
	grep -q "plain MLLP on the TLS port: refused" lake.err &&
	bronze_ids lake | cmp - ids'

check 'TLS 1.1 is refused; openssl s_client with TLS 1.2 gets its AA' '
	! timeout 20 openssl s_client -connect 127.0.0.1:$port -tls1_1 \
		-cipher "DEFAULT:@SECLEVEL=0" </dev/null >s11.out 2>&1 &&
	grep -q "TLS handshake failed: unsupported protocol" lake.err &&
	id=$(head -n 1 msgs | cut -d"|" -f10) &&
	{ printf "\013"; tr "\n" "\r" <one; printf "\034\r"; sleep 1; } |
		timeout 20 openssl s_client -connect 127.0.0.1:$port -tls1_2 \
		-quiet -no_ign_eof -verify_return_error -CAfile ca.pem -verify_hostname localhost \
		>s12.out 2>s12.err; grep -a -q "MSA|AA|$id" s12.out'

stop
check 'SIGTERM: exit 0' "test $term_rc -eq 0"

# Mutual TLS, with the key from the vault (secret:NAME, env backend).
export PS_SECRET_MLLP_KEY="$(cat server.key)"
start mtls 0 --tls-cert server.pem --tls-key secret:mllp-key \
	--tls-client-ca ca.pem

check '--tls-client-ca: a client certificate from the CA gets its AA' '
	"$py" "$send" probe one mtls.port ca.pem client.pem client.key >m1.out &&
	cat m1.out && grep -q "^AA|" m1.out && grep -q "tls=mutual" mtls.err'

check '--tls-client-ca: no certificate, or another one, is refused' '
	"$py" "$send" probe one mtls.port ca.pem >m2.out &&
	"$py" "$send" probe one mtls.port ca.pem rogue.pem rogue.key >m3.out &&
	cat m2.out m3.out && grep -q "^no ACK" m2.out && grep -q "^no ACK" m3.out &&
	grep -q "peer did not return a certificate" mtls.err &&
	grep -q "TLS handshake failed: certificate verify failed" mtls.err'

stop
check 'the key never reaches a log or the output' '
	[ $term_rc -eq 0 ] &&
	! grep -rqF -- "$keyline" *.err *.out lake mtls'
done_testing
