#!/bin/sh
# A real Apache Kafka broker for tests and benchmarks: one KRaft node
# (broker + controller) on free 127.0.0.1 ports, fetched from Maven Central
# through mvn into a cache, with two client listeners:
#   PLAINTEXT  127.0.0.1:PORT             (PS_KAFKA_BROKERS)
#   SASL_SSL   127.0.0.1:PORT, PLAIN      (PS_KAFKA_SASL_BROKERS), a stand-in
#              for Azure Event Hubs: user $ConnectionString, password a fake
#              Event-Hubs-style connection string (PS_KAFKA_CONNSTR), server
#              certificate from a throwaway CA made at start (PS_KAFKA_CA).
#
#   scripts/kafka.sh start     fetch (once), configure (once), start, wait
#   scripts/kafka.sh stop      stop the broker (its data stays until rm -rf)
#   scripts/kafka.sh env       print the shell variables above (eval them)
#   scripts/kafka.sh topic NAME [PARTITIONS [KEY=VALUE...]]
#                              create a topic (default 4 partitions), with
#                              topic configs (max.message.bytes=...)
#   scripts/kafka.sh produce TOPIC [KEY=VALUE...]
#                              send stdin's lines as records with Kafka's
#                              own console producer (producer properties:
#                              max.request.size=... for records over the
#                              limit of our tools)
#   scripts/kafka.sh status    exit 0 when the broker runs
#
# Environment:
#   PS_KAFKA_DIR      state: config, data, logs, certificates, pid
#                     (default /tmp/pulsestream-kafka.UID); a second start
#                     with the same directory reuses its ports and data, so
#                     a test can stop and restart "the same" broker
#   PS_KAFKA_VERSION  org.apache.kafka:kafka_2.13 version (default 4.1.0)
#   PS_CACHE          cache root (default $HOME/.cache/pulsestream); the jars
#                     go to $PS_CACHE/kafka/VERSION
#   PS_KAFKA_HEAP     JVM heap (default 1g)
# Kafka itself has no telemetry or update checks; the JVM's JMX is off.
set -eu

version=${PS_KAFKA_VERSION:-4.1.0}
log4j_version=2.24.3
cache=${PS_CACHE:-${HOME:-/tmp}/.cache/pulsestream}/kafka/$version
dir=${PS_KAFKA_DIR:-/tmp/pulsestream-kafka.$(id -u)}
heap=${PS_KAFKA_HEAP:-1g}

die() {
	echo "kafka.sh: $*" >&2
	exit 1
}

need() {
	command -v "$1" >/dev/null 2>&1 ||
		die "$1 is missing (run scripts/deps.sh)"
}

# Fetch the broker and its runtime dependencies once; a marker file says
# the copy is complete, so the second run costs nothing.
fetch() {
	[ -f "$cache/.complete" ] && return 0
	need mvn
	need java
	mkdir -p "$cache"
	work=$(mktemp -d)
	cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.pulsestream</groupId>
  <artifactId>kafka-broker-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$log4j_version</version>
    </dependency>
  </dependencies>
</project>
EOF
	echo "kafka.sh: fetching Apache Kafka $version through mvn" >&2
	if ! mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$cache/libs" \
		>"$work/mvn.log" 2>&1; then
		tail -20 "$work/mvn.log" >&2
		rm -rf "$work"
		die "mvn could not fetch org.apache.kafka:kafka_2.13:$version"
	fi
	rm -rf "$work"
	ls "$cache/libs"/kafka_2.13-*.jar >/dev/null 2>&1 ||
		die "no kafka_2.13 jar in $cache/libs"
	touch "$cache/.complete"
}

# A free port below the kernel's ephemeral range: a port from that range
# can be taken by an outgoing connection (even the broker's own, to its
# controller) while the broker restarts, and the restart then fails.
free_port() {
	python3 -c 'import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
lo = max(lo, 12000)
for _ in range(1000):
    p = random.randrange(10000, lo)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port")'
}

# A throwaway CA and a server certificate for 127.0.0.1/localhost, and a
# PKCS#12 keystore for the broker.  Clients verify against ca.pem.
make_certs() {
	need openssl
	d=$dir/tls
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
		-subj "/CN=PulseStream test CA" -keyout "$d/ca.key" \
		-out "$d/ca.pem" >/dev/null 2>&1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/san.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -CAcreateserial -days 30 \
		-extfile "$d/san.ext" -out "$d/server.pem" >/dev/null 2>&1
	openssl pkcs12 -export -in "$d/server.pem" -inkey "$d/server.key" \
		-certfile "$d/ca.pem" -name broker -passout pass:pstest \
		-out "$d/server.p12" >/dev/null 2>&1
}

configure() {
	[ -f "$dir/server.properties" ] && return 0
	mkdir -p "$dir/data" "$dir/logs"
	pt=$(free_port)
	ps=$(free_port)
	pc=$(free_port)
	while [ "$ps" = "$pt" ]; do ps=$(free_port); done
	while [ "$pc" = "$pt" ] || [ "$pc" = "$ps" ]; do pc=$(free_port); done
	make_certs
	# An Event-Hubs-shaped connection string (fake key) as the password.
	key=$(openssl rand -base64 32)
	connstr="Endpoint=sb://pulsestream-test.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=$key"
	cat >"$dir/env" <<EOF
PS_KAFKA_BROKERS='127.0.0.1:$pt'
PS_KAFKA_SASL_BROKERS='127.0.0.1:$ps'
PS_KAFKA_CA='$dir/tls/ca.pem'
PS_KAFKA_CONNSTR='$connstr'
PS_KAFKA_DIR='$dir'
EOF
	cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$pc
listeners=PLAINTEXT://127.0.0.1:$pt,SASL_SSL://127.0.0.1:$ps,CONTROLLER://127.0.0.1:$pc
advertised.listeners=PLAINTEXT://127.0.0.1:$pt,SASL_SSL://127.0.0.1:$ps
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_\$ConnectionString="$connstr";
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/server.p12
ssl.keystore.password=pstest
ssl.key.password=pstest
log.dirs=$dir/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=1048588
log.retention.hours=24
EOF
	cat >"$dir/log4j2.properties" <<EOF
status=error
appender.f.type=File
appender.f.name=f
appender.f.fileName=$dir/logs/server.log
appender.f.layout.type=PatternLayout
appender.f.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.f.ref=f
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.org.name=org.apache.kafka
logger.org.level=WARN
EOF
}

java_run() {
	java -Xms256m -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dcom.sun.management.jmxremote=false \
		-Dlog4j2.configurationFile="$dir/log4j2.properties" \
		-cp "$cache/libs/*" "$@"
}

# The same, replacing the calling (background) shell, so that the pid file
# holds the JVM's own pid.
java_exec() {
	exec java -Xms256m -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dcom.sun.management.jmxremote=false \
		-Dlog4j2.configurationFile="$dir/log4j2.properties" \
		-cp "$cache/libs/*" "$@"
}

format_storage() {
	[ -f "$dir/data/meta.properties" ] && return 0
	# URL-safe base64 of 16 random bytes, as Kafka's own ids; one that
	# starts with '-' would be read as an option by kafka-storage, so the
	# first character is always a letter.
	cid=$(openssl rand 16 | base64 | tr '+/' '-_' | tr -d '=\n')
	cid="k$(printf '%s' "$cid" | cut -c2-)"
	java_run kafka.tools.StorageTool format -t "$cid" \
		-c "$dir/server.properties" >"$dir/logs/format.log" 2>&1 ||
		{ cat "$dir/logs/format.log" >&2; die "storage format failed"; }
}

running() {
	[ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null
}

load_env() {
	[ -f "$dir/env" ] || die "no broker configured in $dir (run start)"
	# shellcheck disable=SC1091
	. "$dir/env"
}

wait_ready() {
	load_env
	i=0
	while [ $i -lt 240 ]; do
		running || { tail -30 "$dir/logs/server.log" "$dir/logs/stdout.log" >&2 2>/dev/null; die "broker exited at start (logs in $dir/logs)"; }
		if grep -q 'Encountered fatal fault' "$dir/logs/server.log"; then
			grep -m3 -E 'ERROR|Exception' "$dir/logs/server.log" >&2
			stop
			die "broker failed at start (logs in $dir/logs)"
		fi
		if kcat -L -b "$PS_KAFKA_BROKERS" -m 2 >/dev/null 2>&1 &&
			grep -q 'Kafka Server started' "$dir/logs/server.log" 2>/dev/null; then
			return 0
		fi
		sleep 0.25
		i=$((i + 1))
	done
	die "broker did not answer within 60 s (logs in $dir/logs)"
}

start() {
	need java
	need kcat
	fetch
	configure
	if running; then
		wait_ready
		return 0
	fi
	format_storage
	: >"$dir/logs/server.log"
	(java_exec kafka.Kafka "$dir/server.properties") \
		>"$dir/logs/stdout.log" 2>&1 </dev/null &
	echo $! >"$dir/pid"
	wait_ready
}

stop() {
	running || { rm -f "$dir/pid"; return 0; }
	pid=$(cat "$dir/pid")
	kill "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			kill -9 "$pid" 2>/dev/null || true
		fi
		sleep 0.1
	done
	rm -f "$dir/pid"
}

topic() {
	[ $# -ge 1 ] || die "usage: kafka.sh topic NAME [PARTITIONS [KEY=VALUE...]]"
	load_env
	t=$1
	n=${2:-4}
	shift $(($# < 2 ? $# : 2))
	for c in "$@"; do set -- "$@" --config "$c"; shift; done
	java_run org.apache.kafka.tools.TopicCommand \
		--bootstrap-server "$PS_KAFKA_BROKERS" --create --if-not-exists \
		--topic "$t" --partitions "$n" --replication-factor 1 "$@" \
		>"$dir/logs/topic.log" 2>&1 ||
		{ cat "$dir/logs/topic.log" >&2; die "cannot create topic $t"; }
}

produce() {
	[ $# -ge 1 ] || die "usage: kafka.sh produce TOPIC [KEY=VALUE...]"
	load_env
	t=$1
	shift
	for c in "$@"; do set -- "$@" --producer-property "$c"; shift; done
	java_run org.apache.kafka.tools.ConsoleProducer \
		--bootstrap-server "$PS_KAFKA_BROKERS" --topic "$t" "$@" \
		2>"$dir/logs/produce.log" ||
		{ cat "$dir/logs/produce.log" >&2; die "cannot produce to $t"; }
}

case ${1:-} in
start) start ;;
stop) stop ;;
env) load_env; cat "$dir/env"; echo "export PS_KAFKA_BROKERS PS_KAFKA_SASL_BROKERS PS_KAFKA_CA PS_KAFKA_CONNSTR PS_KAFKA_DIR" ;;
topic) shift; topic "$@" ;;
produce) shift; produce "$@" ;;
status) running ;;
fetch) fetch ;;
*) die "usage: kafka.sh start|stop|env|topic NAME [PARTITIONS [KEY=VALUE...]]|produce TOPIC [KEY=VALUE...]|status|fetch" ;;
esac
