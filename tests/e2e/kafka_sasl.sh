#!/bin/sh
# The Event Hubs stand-in: the broker's SASL_SSL PLAIN listener, user
# $ConnectionString, an Event-Hubs-shaped connection string as password,
# TLS verified against the test CA.  Right credential works (from the
# environment, from --eventhubs secret:NAME through the vault); a wrong
# one or an unverifiable certificate fails fast with 78; no log line or
# error ever shows the connection string or its key.
. "$(dirname "$0")/kafka_lib.inc"

S=$PS_KAFKA_SASL_BROKERS
CA="-X ssl.ca.location=$PS_KAFKA_CA"
key=${PS_KAFKA_CONNSTR##*SharedAccessKey=}
"$bin/ps-simulate" --count 1000 --seed 14 --dirty none >"$tmp/in.ndjson"
"$top/scripts/kafka.sh" topic hub 2

# Neither the connection string nor its key in any of these files.
clean() {
	for f in "$@"; do
		grep -qF -e "$key" -e "$PS_KAFKA_CONNSTR" "$f" && return 1
	done
	return 0
}

PS_EVENTHUBS_CONNECTION_STRING=$PS_KAFKA_CONNSTR \
	"$bin/ps-ingest" produce -t hub -b "$S" $CA -vv \
	-X debug=broker,security,conf,protocol <"$tmp/in.ndjson" 2>"$tmp/p.err"
check "produce over SASL_SSL with the connection string: exit 0" [ $? -eq 0 ]
check "all 1000 delivered" grep -q 'read=1000 delivered=1000 failed=0' "$tmp/p.err"
check "librdkafka's debug logs went through ps_log" \
	grep -q 'tool=ps-ingest level=debug msg="librdkafka" facility=SASL' "$tmp/p.err"

PS_SECRET_EH_CONN=$PS_KAFKA_CONNSTR PS_VAULT=env: \
	"$bin/ps-ingest" consume -t hub -b "$S" $CA --eventhubs secret:eh-conn \
	--exit-at-end -vv -X debug=security,conf >"$tmp/c1" 2>"$tmp/c1.err"
check "consume over SASL_SSL, --eventhubs secret:NAME: exit 0" [ $? -eq 0 ]
verify "$tmp/c1" "$tmp/in.ndjson"
check "consume over SASL_SSL: every event once" passed same

"$bin/ps-ingest" produce -t hub -b "$S" $CA --eventhubs secret:missing \
	<"$tmp/in.ndjson" 2>"$tmp/m.err"
check "a secret the vault does not have: exit 66" [ $? -eq 66 ]

bad="${PS_KAFKA_CONNSTR%?}x"
PS_EVENTHUBS_CONNECTION_STRING=$bad "$bin/ps-ingest" produce -t hub -b "$S" \
	$CA -vv -X debug=security <"$tmp/in.ndjson" 2>"$tmp/w1.err"
check "produce, wrong password: exit 78" [ $? -eq 78 ]
check "produce, wrong password: failed fast on the authentication error" \
	grep -q 'level=error msg="authentication failed (check the credential or connection string):.*Invalid username or password' "$tmp/w1.err"
check "produce, wrong password: nothing counted as delivered" \
	grep -q 'delivered=0 failed=1000' "$tmp/w1.err"
check "the wrong password is not shown either" \
	sh -c "! grep -qF '${bad##*SharedAccessKey=}' '$tmp/w1.err'"
PS_EVENTHUBS_CONNECTION_STRING=$bad "$bin/ps-ingest" consume -t hub -b "$S" \
	$CA --exit-at-end >"$tmp/w2" 2>"$tmp/w2.err"
check "consume, wrong password: exit 78" [ $? -eq 78 ]

PS_EVENTHUBS_CONNECTION_STRING=$PS_KAFKA_CONNSTR "$bin/ps-ingest" produce \
	-t hub -b "$S" <"$tmp/in.ndjson" 2>"$tmp/ca.err"
check "TLS verification on: without the test CA, exit 78" [ $? -eq 78 ]
check "... with a clear message" grep -q 'TLS handshake failed' "$tmp/ca.err"

PS_EVENTHUBS_CONNECTION_STRING="${PS_KAFKA_CONNSTR%%;SharedAccessKey=*}" \
	"$bin/ps-ingest" produce -t hub -b "$S" $CA <"$tmp/in.ndjson" \
	2>"$tmp/s.err"
check "a connection string without its key: exit 78" [ $? -eq 78 ]

"$bin/ps-ingest" produce -t hub -b "$S" $CA -X sasl.password="$key" \
	-X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN \
	-X 'sasl.username=$ConnectionString' -X socket.timeout.ms=notanumber \
	<"$tmp/in.ndjson" 2>"$tmp/x.err"
check "a bad -X value: exit 78" [ $? -eq 78 ]

check "no connection string or key in any log or error" \
	clean "$tmp/p.err" "$tmp/c1.err" "$tmp/m.err" "$tmp/w1.err" \
	"$tmp/w2.err" "$tmp/ca.err" "$tmp/s.err" "$tmp/x.err"
finish
