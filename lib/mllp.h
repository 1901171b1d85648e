/*
 * mllp.h - ps-hl7 listen: an MLLP server (HL7 v2 messages framed as
 * 0x0B message 0x1C 0x0D) that lands each message in bronze and
 * acknowledges it only once the bronze commit holding it is done.
 *
 * Messages become envelopes (lib/envelope.h) of source "mllp:NAME" whose
 * positions continue after what bronze holds for that source, key MSH-10
 * and payload the message bytes as received; they are landed by
 * ps_bronze_run (lib/bronze.h) reading them from a pipe in a second
 * thread, so the files, checkpoint and commit order are bronze's own.
 * When bronze has committed a batch, its envelopes go to emit (stdout)
 * and each message of it is acknowledged (MSA|AA|MSH-10) on its
 * connection.
 *
 * A message is rejected with MSA|AR and an ERR segment (HL7 table 0357
 * codes) when it is over max_message bytes (207), does not start with MSH
 * (100), has bad delimiters or segment ids (102) or no MSH-10 (101); if
 * bronze fails, messages waiting for their commit get MSA|AE (207) and
 * the listener stops.  A message whose sending application, facility and
 * control id (MSH-3, MSH-4, MSH-10) were already landed -- a sender
 * retransmitting after a lost ACK -- is acknowledged without being landed
 * again: the ids of the last dedup_window messages are kept, rebuilt on
 * start from the source's bronze files, so this holds across restarts.
 *
 * One thread polls every connection (up to max_connections; more are
 * closed at once).  SIGINT/SIGTERM: stop accepting, let bronze commit
 * what it holds, send those ACKs, return 0.
 *
 * With tls_cert and tls_key, every connection is MLLP over TLS (1.2 or
 * later, lib/crypto.h): the same frames and ACKs inside TLS.  The key is
 * a PEM file private to its owner (as the vault's key file: no group or
 * other permissions) or "secret:NAME" (lib/secret.h); it is never
 * logged.  With tls_client_ca, clients must present a certificate signed
 * by one of its CAs.  A connection whose handshake fails (a client that
 * does not speak TLS, TLS 1.1 or older, no or a bad client certificate)
 * is logged and closed; the others go on.
 */
#ifndef PS_MLLP_H
#define PS_MLLP_H

#include <stddef.h>

#include "bronze.h"
#include "error.h"

struct ps_hl7_listen_opts {
	const char *lake;		/* required */
	const char *stream;		/* required */
	const char *source_name;	/* mllp:NAME; NULL: the stream */
	const char *bind;		/* address, default 127.0.0.1 */
	int port;			/* 0: any free port */
	const char *port_file;		/* write the bound port there */
	size_t max_message;		/* bytes (0: 1 MiB) */
	int max_connections;		/* > 0 */
	long long dedup_window;		/* ids remembered, > 0 */
	double flush_interval;		/* bronze: seconds, > 0 */
	long long flush_records;	/* bronze: records per commit */
	int gzip_level;
	ps_bronze_emit_fn emit;		/* committed envelopes, or NULL */
	void *emit_ctx;
	const char *tls_cert;		/* PEM chain: MLLP over TLS */
	const char *tls_key;		/* PEM key file, or secret:NAME */
	const char *tls_client_ca;	/* require client certificates */
};

#define PS_HL7_LISTEN_OPTS_INIT { NULL, NULL, NULL, "127.0.0.1", 0, NULL, \
	0, 1024, 1000000, 0.02, 10000, 1, NULL, NULL, NULL, NULL, NULL }

/*
 * Serve until SIGINT/SIGTERM (ps_stop_requested).  Logs a summary
 * (connections, messages, landed, duplicates, rejected).  Returns 0, or -1
 * with e filled: 69 cannot bind or listen, 73/74/78 from bronze (cannot
 * create the lake, I/O error, bad checkpoint), 74 the emit writer failed;
 * with TLS 66 a certificate or key file cannot be read or the secret does
 * not exist, 78 a bad certificate or key, a key readable by others.
 */
int ps_hl7_listen(const struct ps_hl7_listen_opts *o, struct ps_error *e);

#endif
