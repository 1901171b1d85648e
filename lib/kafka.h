/*
 * kafka.h - produce NDJSON to, and consume envelopes from, Apache Kafka or
 * Azure Event Hubs (through its Kafka endpoint), with librdkafka.
 *
 * This module is the only one that includes librdkafka; nothing of it shows
 * in this header.  Client properties are collected in a struct
 * ps_kafka_conf (kcat-style -b, -X, -F, plus Event Hubs connection strings)
 * and applied when a client is created:
 *
 *   1. the module's defaults for the role (idempotent producer, acks=all,
 *      message.max.bytes=1000000, group.id, auto.offset.reset...);
 *   2. with an Event Hubs connection string, Microsoft's recommended
 *      settings (HEALTHCARE.md) and the SASL_SSL PLAIN credential;
 *   3. every property the user set (-b, -X, -F), in the order given, so
 *      they override 1 and 2;
 *   4. the few properties the delivery guarantees depend on, which cannot
 *      be overridden (enable.auto.commit=false, enable.auto.offset.store=
 *      false, enable.partition.eof=true, log.queue=true).
 *
 * librdkafka's logs and errors are routed through ps_log, and every secret
 * value (passwords, keys, connection strings) is replaced by "[redacted]"
 * in every log line and error message this module produces.
 *
 * Errors fill struct ps_error with the exit codes of error.h: 78 for a bad
 * property or credential, 69 for a broker or topic that cannot be reached,
 * 75 for a transient failure, 74 for a write error, 65 for a rejected line
 * under strict, 70 for anything unexpected.
 */
#ifndef PS_KAFKA_H
#define PS_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* Event Hubs closes connections on requests over about 1 MB. */
#define PS_KAFKA_MAX_BYTES_DEFAULT 990000

struct ps_kafka_conf;

/* An empty property set.  Cannot fail.  _free(NULL) is a no-op. */
struct ps_kafka_conf *ps_kafka_conf_new(void);
void ps_kafka_conf_free(struct ps_kafka_conf *c);

/*
 * Set property name to value (both copied).  Later settings of the same
 * name win.  Values of sensitive properties (names containing "password",
 * "secret" or "key.pem") are remembered for redaction.  Whether librdkafka
 * knows the property is checked when a client is created.  Returns 0, or
 * -1 (78) for an empty name.
 */
int ps_kafka_conf_set(struct ps_kafka_conf *c, const char *name,
		      const char *value, struct ps_error *e);

/* Set "name=value" (a -X argument).  Returns 0, or -1 (78) without '='. */
int ps_kafka_conf_add(struct ps_kafka_conf *c, const char *prop,
		      struct ps_error *e);

/*
 * Read a properties file (-F): one name=value per line, blanks around the
 * name and the value ignored, empty lines and lines starting with '#'
 * skipped.  Returns 0, or -1 (66 when unreadable, 78 for a bad line, named
 * by its number: the line itself is never shown, it may hold a secret).
 */
int ps_kafka_conf_load(struct ps_kafka_conf *c, const char *path,
		       struct ps_error *e);

/*
 * Use an Azure Event Hubs connection string ("Endpoint=sb://NS.servicebus.
 * windows.net/;SharedAccessKeyName=...;SharedAccessKey=...[;EntityPath=
 * TOPIC]"): bootstrap NS.servicebus.windows.net:9093, SASL_SSL, PLAIN, user
 * "$ConnectionString", the whole string as password, and the recommended
 * settings, all overridable by user properties.  The string is copied and
 * redacted everywhere.  Returns 0, or -1 (78) when it lacks an sb://
 * Endpoint or a SharedAccessKeyName/SharedAccessKey (or
 * SharedAccessSignature); the message never quotes the string.
 */
int ps_kafka_conf_eventhubs(struct ps_kafka_conf *c, const char *connstr,
			    struct ps_error *e);

/* The EntityPath of the connection string, or NULL.  Owned by c. */
const char *ps_kafka_conf_topic(const struct ps_kafka_conf *c);

/*
 * Copy s into out (outlen bytes, always NUL-terminated) with every secret
 * c knows replaced by "[redacted]".  Returns out.  Cannot fail.
 */
char *ps_kafka_redact(const struct ps_kafka_conf *c, const char *s,
		      char *out, size_t outlen);

/*
 * Find the top-level member field (flen bytes) of the JSON object in p (n
 * bytes) without parsing the whole line.  Returns 1 with *val and *vlen set to
 * the value (a string's raw contents without quotes, escapes kept; other
 * values as written), 0 when the member is absent or null, or -1 when p is
 * not a well-formed object up to the member.  Cannot fail otherwise.
 */
int ps_kafka_json_field(const char *p, size_t n, const char *field,
			size_t flen, const char **val, size_t *vlen);

struct ps_kafka_produce_opts {
	const char *topic;
	const char *key_field;	/* NULL or "": no key */
	int idempotence;	/* enable.idempotence (implies acks=all) */
	long long timeout_ms;	/* message.timeout.ms: give up after */
	long long max_bytes;	/* longest line (key included) accepted */
	int strict;		/* the first rejected line is fatal (65) */
};

#define PS_KAFKA_PRODUCE_OPTS_INIT \
	{ NULL, "hospital_id", 1, 300000, PS_KAFKA_MAX_BYTES_DEFAULT, 0 }

struct ps_kafka_produce_stats {
	long long read;		/* lines read, empty lines included */
	long long delivered;	/* acknowledged by the broker */
	long long failed;	/* delivery reported failed */
	long long unsent;	/* read but never queued (after a failure) */
	long long rejected;	/* too long for max_bytes */
	long long unkeyed;	/* sent without a key (field absent) */
};

/*
 * Send every non-empty line read from fd to o->topic, keyed by the value
 * of o->key_field (lines without it go unkeyed, spread over partitions),
 * payload byte for byte.  Waits when the local queue is full (never drops)
 * and returns only after every queued message has its delivery report:
 * st->delivered and st->failed come from those reports alone.  After a
 * failure it stops reading.  SIGINT/SIGTERM (ps_stop_requested) stop the
 * reading; what was read is still delivered.  Returns 0 when everything
 * read was delivered (rejected lines logged and counted), or -1 with e
 * set: 78 bad configuration or authentication failure (failing fast), 69
 * broker unreachable or a permanent error, 75 a transient failure, 74 a
 * read error, 65 a rejected line under strict.
 */
int ps_kafka_produce(struct ps_kafka_conf *c,
		     const struct ps_kafka_produce_opts *o, int fd,
		     struct ps_kafka_produce_stats *st, struct ps_error *e);

enum ps_kafka_from {
	PS_KAFKA_FROM_BEGINNING = 0,
	PS_KAFKA_FROM_END,
	PS_KAFKA_FROM_TIME,
};

/*
 * Where a partition starts when its position is unknown (no bronze
 * checkpoint with lake, no committed offset without).
 */
struct ps_kafka_consume_opts {
	const char *topic;
	const char *group;		/* NULL: "pulsestream-TOPIC" */
	const char *lake;		/* NULL: consumer-group offsets */
	const char *stream;		/* bronze stream of the checkpoint */
	enum ps_kafka_from from;
	int64_t from_time;		/* microseconds, for FROM_TIME */
	int exit_at_end;		/* stop at the high watermarks */
	long long timeout_ms;		/* wait for the first assignment */
	long long commit_interval_ms;	/* group offsets, batched */
	long long max_messages;		/* 0: no limit */
};

#define PS_KAFKA_CONSUME_OPTS_INIT \
	{ NULL, NULL, NULL, "admissions", PS_KAFKA_FROM_BEGINNING, 0, 0, \
	  300000, 1000, 0 }

struct ps_kafka_consume_stats {
	long long consumed;	/* envelopes written */
	long long bytes;	/* payload bytes */
	long long partitions;	/* partitions assigned, summed */
	long long commits;	/* offset commits */
};

/*
 * Parse a --from value: "beginning", "end" or an ISO-8601 timestamp.
 * Returns 0, or -1 with e set (64).
 */
int ps_kafka_parse_from(const char *s, enum ps_kafka_from *from,
			int64_t *t, struct ps_error *e);

/*
 * Write each message of o->topic to out as one envelope (envelope.h):
 * source "kafka:TOPIC/PARTITION", position the offset, broker_time the
 * message timestamp, key, ingest_time now.  The consumer group only
 * assigns partitions.  With o->lake, partition P starts after the bronze
 * checkpoint of "kafka:TOPIC/P" (exactly once into bronze, no offsets
 * committed); without, at the group's committed offset, committed in
 * batches after the output is flushed (at least once).  Elsewhere
 * o->from decides.  Output is flushed before partitions are revoked.
 * With o->exit_at_end it returns once every assigned partition reached
 * the high watermark it had when assigned (an empty fetch is not the
 * end).  Survives broker restarts.  SIGINT/SIGTERM stop it cleanly.
 * Returns 0, or -1 with e set: 69 no assignment within o->timeout_ms,
 * unknown topic or broker gone; 78 configuration or authentication; 74 a
 * write error (a reader that went away ends the run with 0).
 */
int ps_kafka_consume(struct ps_kafka_conf *c,
		     const struct ps_kafka_consume_opts *o, FILE *out,
		     struct ps_kafka_consume_stats *st, struct ps_error *e);

#endif
