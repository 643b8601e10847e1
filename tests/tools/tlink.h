/*
 * tlink.h — the test tools' one link client: a blocking nng req socket that
 * logs in (Hello + Auth, built by packets/link.c) and makes requests of the
 * session. For test tools only: it dies on what a tool cannot go on from (no
 * socket, a reply whose mac does not match), and prints notes on stderr.
 * One thread per struct tlink.
 */
#ifndef CASCADE_TLINK_H
#define CASCADE_TLINK_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "packets.h"

struct tlink {
	nng_socket sock;
	const char *url;
	uint64_t session, seq;          /* seq: the session's last request counter */
	uint8_t key[CSHA256_LEN];       /* the session key after a login */
	int keyed;                      /* requests of the session carry a mac */
	const char *peer;               /* the last login's (borrowed) */
	struct clink_auth ca;           /* the last Auth, for a replay (tclient auth -P) */
	int auth_delay_ms;              /* a slow link: the pause between Hello and Auth */
	const char *who;                /* prefix of notes: the tool's name */
	int err;                        /* the last request's nng error; 0: a reply came */
	/* http://HOST:PORT[/PREFIX] (tlink_open): POSTs on one keep-alive connection */
	int http, fd, timeout_ms;
	char host[64], prefix[128];
	int port;
	uint32_t type;                  /* of the request in hand: its endpoint */
};

/*
 * A req socket dialing url (nonblocking: nng redials), or for http://HOST:PORT
 * [/PREFIX] a connection made at the first request (and again after one
 * fails) that POSTs each request to PREFIX/v1/<type> (tlink_rpc only, not
 * tlink_rpc_raw). Dies when it cannot.
 */
struct tlink *tlink_open(const char *url, int timeout_ms, const char *who);
/*
 * Hello + Auth as peer (kind: a CASCADE__PEER_KIND__*) with one stream
 * (epoch, lowest_unacked; none when epoch is 0). Returns the parent's mark for epoch (>= 0), or -1:
 * *status is the refusal's Status, 0 after a transport error. Dies when the
 * parent does not prove the secret.
 */
int64_t tlink_login(struct tlink *t, const char *peer, uint32_t kind, const uint8_t *secret,
    size_t secretlen, uint64_t epoch, uint64_t lowest_unacked, uint32_t *status);
/*
 * One request of the session (keyed: with the session key's mac, and the
 * reply's checked). Returns the reply (free it with cascade__reply__free_unpacked)
 * or NULL after a transport error or an undecodable reply (noted on stderr).
 */
Cascade__Reply *tlink_rpc(struct tlink *t, uint32_t type, const ProtobufCMessage *m, int keyed);
/* Raw bytes as a request (hostile input); the reply or NULL as tlink_rpc. */
Cascade__Reply *tlink_rpc_raw(struct tlink *t, const uint8_t *buf, size_t len);
/*
 * A Push of n packets covering first..last. Returns 0 with the PushReply in
 * *out (free it), -1 after a transport error, -2 when the parent refused the
 * request (its Status in *status, and a note).
 */
int tlink_push(struct tlink *t, uint64_t epoch, uint64_t first, uint64_t last,
    Cascade__Packet **pkts, uint64_t *seqs, size_t n, uint32_t *status,
    Cascade__PushReply **out);
/* A Pull; 0 with the PullReply in *out, -1 (transport) or -2 (refused, *status). */
int tlink_pull(struct tlink *t, uint64_t epoch, uint64_t acked, uint32_t wait_ms,
    uint32_t max, uint32_t *status, Cascade__PullReply **out);
void tlink_close(struct tlink *t);

#endif
