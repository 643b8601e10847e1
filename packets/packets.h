/*
 * packets.h — the internal library shared by cascaded, libcascade and the
 * tools: packet ids, addresses, packet validation, crypto helpers and the
 * request/reply envelope.
 *
 * Caveats
 * - Nothing here prints, logs or aborts: every fault is a return code, and
 *   functions that can fail for more than one reason also fill a message.
 * - Everything is thread-safe; the id generator serialises with a mutex.
 * - Randomness comes from OpenSSL (RAND_bytes).
 */
#ifndef CASCADE_PACKETS_H
#define CASCADE_PACKETS_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "cascade.pb-c.h"

/*
 * The link protocol (envelope, Hello): 2 since requests carry a counter and
 * replies are tied to their request. Packets have a format of their own,
 * unchanged, so journals and outboxes of version 1 still read.
 */
#define CASCADE_PROTOCOL_VERSION 2
#define CPKT_VERSION 1

/* ------------------------------------------------------------------ id.c */

#define CID_LEN 16
/* Text form: 12 hex digits of milliseconds, '-', 20 hex digits. */
#define CID_TEXT_LEN 34          /* 12 + 1 + 20 characters and the terminating NUL */

/*
 * Fills id with a new packet id: bytes 0..5 are milliseconds since the Unix
 * epoch (big-endian), bytes 6..15 a part that keeps ids strictly increasing
 * (as byte strings, memcmp order) within the process, even inside one
 * millisecond and even when the clock steps back.
 * Returns 0, or -1 if OpenSSL could not provide randomness.
 */
int cid_next(uint8_t id[CID_LEN]);

/* The milliseconds part of an id. */
int64_t cid_time_ms(const uint8_t id[CID_LEN]);

/* Writes the text form into buf (CID_TEXT_LEN bytes); returns buf. */
char *cid_format(const uint8_t id[CID_LEN], char buf[CID_TEXT_LEN]);

/* Parses the text form (case-insensitive hex). Returns 0 or -1. */
int cid_parse(const char *text, uint8_t id[CID_LEN]);

/* ---------------------------------------------------------------- addr.c */

#define CADDR_NODE_MAX 63        /* [a-z0-9][a-z0-9-]{0,62} */
#define CADDR_CLIENT_MAX 63      /* [a-z0-9][a-z0-9._-]{0,62} */
#define CADDR_TEXT_MAX (CADDR_NODE_MAX + 1 + CADDR_CLIENT_MAX)

struct caddr {
	char node[CADDR_NODE_MAX + 1];
	char client[CADDR_CLIENT_MAX + 1];   /* "" when the address is the node itself */
};

enum caddr_err {
	CADDR_OK = 0,
	CADDR_EMPTY,             /* "" */
	CADDR_NODE_EMPTY,        /* "/client" */
	CADDR_NODE_TOO_LONG,
	CADDR_NODE_BAD_CHAR,     /* outside [a-z0-9-], or a leading '-' */
	CADDR_CLIENT_EMPTY,      /* "node/" */
	CADDR_CLIENT_TOO_LONG,
	CADDR_CLIENT_BAD_CHAR,   /* outside [a-z0-9._-], or a leading '.', '_' or '-' */
	CADDR_TOO_MANY_PARTS,    /* "a/b/c" */
};

/* Validates a node id. Returns CADDR_OK or the fault. */
enum caddr_err caddr_check_node(const char *node);
/* Validates a client id (the part after '/'). */
enum caddr_err caddr_check_client(const char *client);
/* Parses "node" or "node/client" into a. Returns CADDR_OK or the fault. */
enum caddr_err caddr_parse(const char *text, struct caddr *a);
/* Writes "node" or "node/client" into buf; returns buf. */
char *caddr_format(const struct caddr *a, char *buf, size_t len);
/* A fixed English message for each code, e.g. "node id has a character outside [a-z0-9-]". */
const char *caddr_strerror(enum caddr_err e);

/* -------------------------------------------------------------- packet.c */

#define CPKT_COMMAND_MAX 64          /* [A-Za-z0-9._:/-]{1,64} */
#define CPKT_TRACE_MAX 32            /* hops */
#define CPKT_TEXT_MAX 256
#define CPKT_DEFAULT_MAX_PAYLOAD (1024 * 1024)

enum cpkt_err {
	CPKT_OK = 0,
	CPKT_BAD_VERSION,        /* version is not CPKT_VERSION */
	CPKT_BAD_ID,             /* id is not 16 bytes */
	CPKT_BAD_SRC,            /* src missing or not a valid address */
	CPKT_BAD_DST,            /* dst missing or not a valid address */
	CPKT_BAD_COMMAND,        /* command missing (data packets), too long or bad characters */
	CPKT_PAYLOAD_TOO_LARGE,  /* payload over the limit given */
	CPKT_EXPIRED,            /* ttl_ms <= 0 without FLAG_NO_TTL */
	CPKT_BAD_FLAGS,          /* unknown flag bits, or local-only flags on the wire */
	CPKT_BAD_KIND,           /* unknown kind */
	CPKT_BAD_REPLY_TO,       /* reply_to present but not 16 bytes */
	CPKT_BAD_REF,            /* NOTICE / CANCEL / AUDIT without a 16-byte ref_id */
	CPKT_BAD_NOTICE,         /* NOTICE with an unknown notice code */
	CPKT_TRACE_TOO_LONG,     /* more than CPKT_TRACE_MAX hops */
	CPKT_BAD_TRACE,          /* a hop with an invalid node id or leg */
	CPKT_TEXT_TOO_LONG,
	CPKT_MALFORMED,          /* bytes that do not decode as a Packet */
};

/*
 * Checks one decoded packet. max_payload is the payload limit in bytes
 * (0 means CPKT_DEFAULT_MAX_PAYLOAD). On a fault, msg (if not NULL) gets a
 * specific one-line message naming the field, e.g.
 * "dst \"a//b\": client id is empty". Returns CPKT_OK or the first fault.
 */
enum cpkt_err cpkt_validate(const Cascade__Packet *p, size_t max_payload,
    char *msg, size_t msglen);
const char *cpkt_strerror(enum cpkt_err e);
/* The wire Reason (CASCADE__REASON__*) that reports a validation fault. */
uint32_t cpkt_reason(enum cpkt_err e);
/* A fixed English name for a wire Reason, e.g. "journal full". */
const char *creason_str(uint32_t reason);
/* Whether a Reason is temporary (the ack is held back): reason >= 100. */
int creason_temporary(uint32_t reason);

/*
 * The absolute deadline of a packet with ttl_ms remaining at now_ms:
 * now_ms + ttl_ms, saturated at INT64_MAX (a ttl near INT64_MAX must not
 * wrap into the past and expire at once) and at INT64_MIN.
 */
int64_t cpkt_deadline(int64_t now_ms, int64_t ttl_ms);

/*
 * Decodes bytes into a newly allocated packet (free with cpkt_free).
 * Truncated or garbage input returns NULL; it never crashes.
 */
Cascade__Packet *cpkt_decode(const uint8_t *buf, size_t len);
void cpkt_free(Cascade__Packet *p);
/*
 * Encodes p into a newly malloc'd buffer; *len gets its size.
 * Returns NULL when out of memory.
 */
uint8_t *cpkt_encode(const Cascade__Packet *p, size_t *len);

/* -------------------------------------------------------------- crypto.c */

#define CSHA256_LEN 32
#define CNONCE_LEN 32
#define CSECRET_MIN 16               /* bytes of secret, at least */

void csha256(const void *buf, size_t len, uint8_t out[CSHA256_LEN]);
/* out = SHA-256(a || b) */
void csha256_2(const void *a, size_t alen, const void *b, size_t blen,
    uint8_t out[CSHA256_LEN]);
void chmac_sha256(const void *key, size_t keylen, const void *buf, size_t len,
    uint8_t out[CSHA256_LEN]);
/* Random bytes from OpenSSL; returns 0 or -1. */
int crandom(void *buf, size_t len);
/* A random 64-bit value that is never 0 (epochs, session ids). */
uint64_t crandom64(void);
/* Constant-time comparison: 0 when equal. */
int cequal(const void *a, const void *b, size_t len);

/*
 * The child's Auth proof: HMAC-SHA256(secret, "cascade-auth-v1" 0 peer 0
 * server_nonce client_nonce). The parent's proof is its Auth reply's envelope
 * mac under the session key, which covers the whole reply (envelope.c).
 */
void cauth_mac(const uint8_t *secret, size_t secretlen, const char *peer,
    const uint8_t server_nonce[CNONCE_LEN], const uint8_t client_nonce[CNONCE_LEN],
    uint8_t out[CSHA256_LEN]);
/* The session key both sides derive after Auth (HMAC under the secret). */
void csession_key(const uint8_t *secret, size_t secretlen, const char *peer,
    const uint8_t server_nonce[CNONCE_LEN], const uint8_t client_nonce[CNONCE_LEN],
    uint8_t key[CSHA256_LEN]);

/*
 * Secret files hold the secret as hex (at least CSECRET_MIN bytes), one line,
 * '#' comments allowed. Refused when readable or writable by group or others.
 * Returns the number of secret bytes (> 0) written to out, or -1 with msg set,
 * e.g. "/etc/cascade/up.secret: readable by others (mode 0644); chmod 600 it".
 */
int csecret_load(const char *path, uint8_t *out, size_t outlen, char *msg, size_t msglen);
/*
 * A private key file (tls-key, a client certificate's key) gets the secrets'
 * check: a regular file that neither group nor others may read or write.
 * Returns 0, or -1 with msg set (the same wording as csecret_load's).
 */
int cfile_private(const char *path, char *msg, size_t msglen);
/* The lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void chex(const uint8_t *b, size_t n, char *out);

/* Writes a new random secret of len bytes as hex into hex (2*len+1 bytes). */
int csecret_generate(size_t len, char *hex, size_t hexlen);

/* ---------------------------------------------------------------- wire.c */

/*
 * A walk over the top-level fields of an encoded message, allocating
 * nothing: for checking sizes and counts before anything is unpacked.
 */
struct pbw {
	const uint8_t *p, *end;
};
/* A walk over len bytes at buf (buf may be NULL when len is 0: an absent bytes field). */
void pbw_start(struct pbw *w, const uint8_t *buf, size_t len);
/* Reads a varint at *p (advanced). 0, or -1 when truncated or too long. */
int pbw_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);
/*
 * The next field: its number, a varint's (or fixed64's, fixed32's) value in *v,
 * or a length-delimited field's bytes in *data / *dlen (*data NULL for the
 * other wire types).
 * Returns 1, 0 at the end, -1 when the bytes are not a message.
 */
int pbw_next(struct pbw *w, unsigned *field, uint64_t *v, const uint8_t **data, size_t *dlen);
/*
 * Top-level field `field`: a varint or fixed value into *v, or a length-delimited field into
 * *data / *dlen (either may be NULL). The last occurrence wins, as in
 * protobuf. Returns 0 when found, -1 when absent or not a message.
 */
int pbw_field(const uint8_t *buf, size_t len, unsigned field, uint64_t *v,
    const uint8_t **data, size_t *dlen);
/* How many times top-level field `field` occurs, or -1 when not a message. */
long pbw_count(const uint8_t *buf, size_t len, unsigned field);

/*
 * An allocator for protobuf-c's unpack that fails (the unpack returns NULL,
 * exceeded set) once more than limit bytes were handed out, malloc's own
 * overhead counted. Its blocks are plain malloc'd: what it unpacked is freed
 * with the usual free_unpacked(m, NULL).
 */
struct pbw_budget {
	ProtobufCAllocator a;
	size_t limit, used;
	int exceeded;
};
ProtobufCAllocator *pbw_budget_init(struct pbw_budget *b, size_t limit);

/* ------------------------------------------------------------ envelope.c */

/*
 * Packs a request envelope around an already encoded body. seq is the
 * session's request counter (from 1; 0 for Hello and Auth). When key (the
 * CSHA256_LEN-byte session key) is not NULL the envelope carries a mac over
 * type, session, seq and body (envelope.c has the layout).
 * Returns a malloc'd buffer (size in *len) or NULL when out of memory.
 */
uint8_t *cenv_request_pack(uint32_t type, uint64_t session, uint64_t seq,
    const uint8_t *body, size_t bodylen, const uint8_t *key, size_t *len);
/*
 * Same for a reply; error may be NULL. session and seq are those of the
 * request answered: the mac (over type, status, error, body and them) ties
 * the reply to its request.
 */
uint8_t *cenv_reply_pack(uint32_t type, uint32_t status, const char *error,
    uint64_t session, uint64_t seq, const uint8_t *body, size_t bodylen,
    const uint8_t *key, size_t *len);
/* Checks an envelope's mac: 0 if it matches, -1 if not (or missing, or key is NULL). */
int cenv_request_verify(const Cascade__Request *r, const uint8_t *key);
/* A reply's, given the session and seq of the request it answers. */
int cenv_reply_verify(const Cascade__Reply *r, uint64_t session, uint64_t seq,
    const uint8_t *key);
/* A session id for logs: its first 4 hex digits only ("3f2a..."); returns buf. */
#define CSESSION_SHORT_LEN 8
char *csession_short(uint64_t session, char buf[CSESSION_SHORT_LEN]);
/* A fixed English name for a Status, e.g. "no session". */
const char *cstatus_str(uint32_t status);

/* ---------------------------------------------------------------- link.c */

/*
 * Field numbers of cascade.proto for the code that walks encoded messages
 * with pbw_* instead of unpacking them (tests/unit/packets_test.c checks each
 * against the generated descriptors).
 */
enum cpbf {
	CPBF_REQUEST_VERSION = 1,
	CPBF_REQUEST_TYPE = 2,
	CPBF_REQUEST_SESSION = 3,
	CPBF_REPLY_STATUS = 3,
	CPBF_REPLY_ERROR = 4,
	CPBF_PUSH_EPOCH = 1,
	CPBF_PUSH_FIRST_SEQ = 2,
	CPBF_PUSH_PACKETS = 4,
	CPBF_PUSH_SEQS = 5,
	CPBF_ROUTES_SUBTREE = 1,
	CPBF_AUTH_STREAMS = 5,
	CPBF_AUTH_SUBTREE = 6,
	CPBF_PACKET_PAYLOAD = 6,
	CPBF_PACKET_TRACE = 10
};

/*
 * The child side of the link protocol: builders and checks, no I/O, no
 * printing. Builders fill a message whose strings and arrays are borrowed
 * from the caller: they must outlive the pack.
 */
void clink_hello(Cascade__Hello *h, const char *peer, uint32_t kind, uint32_t carrier);
/*
 * 0 when hr is a Hello reply from expect_node; CLINK_MALFORMED (nonce
 * length, or hr NULL) or CLINK_WRONG_NODE (node missing or another) with
 * why set. The callers word the log line, since they name different configs.
 */
#define CLINK_MALFORMED (-1)
#define CLINK_WRONG_NODE (-2)
int clink_hello_reply_check(const Cascade__HelloReply *hr, const char *expect_node,
    char *why, size_t whylen);
/* Storage an Auth points into: keep it until the Auth is packed and the reply checked. */
struct clink_auth {
	Cascade__Auth a;
	Cascade__StreamPos sp, *spp;
	uint8_t cnonce[CNONCE_LEN], snonce[CNONCE_LEN], mac[CSHA256_LEN];
};
/*
 * ca->a becomes an Auth for peer: a fresh client nonce (crandom), the mac
 * (cauth_mac), one stream (epoch, lowest_unacked = acked + 1; none when
 * epoch is 0), subtree (borrowed, may be NULL) and carrier (0: the parent
 * decides).
 * Returns 0, or -1 when there is no randomness.
 */
int clink_auth(struct clink_auth *ca, const uint8_t *secret, size_t secretlen,
    const char *peer, const uint8_t snonce[CNONCE_LEN], uint64_t epoch,
    uint64_t lowest_unacked, char **subtree, size_t nsubtree, uint32_t carrier);
/*
 * The same with a client nonce the caller chose (tests/tools/pbgen.c, whose test
 * script derives the session key itself); never for a real link.
 */
void clink_auth_nonce(struct clink_auth *ca, const uint8_t *secret, size_t secretlen,
    const char *peer, const uint8_t snonce[CNONCE_LEN], const uint8_t cnonce[CNONCE_LEN],
    uint64_t epoch, uint64_t lowest_unacked, char **subtree, size_t nsubtree,
    uint32_t carrier);
/* The session key of ca (csession_key): the Auth reply's mac and all that follows. */
void clink_session_key(const struct clink_auth *ca, const uint8_t *secret, size_t len,
    const char *peer, uint8_t key[CSHA256_LEN]);
/*
 * The parent's mark for epoch into *mark (0 when it names none). Returns 0,
 * or -1 when the mark is beyond last_numbered (or UINT64_MAX, whose + 1
 * wraps): acking it would drop packets the parent never had.
 */
int clink_auth_mark(const Cascade__AuthReply *ar, uint64_t epoch, uint64_t last_numbered,
    uint64_t *mark);
/* 1 when a mark (Auth or Push reply) is beyond last_numbered or UINT64_MAX, else 0. */
int clink_mark_beyond(uint64_t mark, uint64_t last_numbered);
/* A Push of n packets (pkts, seqs borrowed) covering first..last. */
void clink_push(Cascade__Push *p, uint64_t epoch, uint64_t first, uint64_t last,
    Cascade__Packet **pkts, uint64_t *seqs, size_t n);
/* The parent's check of a Push: epoch, range and order. 0, or -1 with why. */
int clink_push_check(const Cascade__Push *p, char *why, size_t whylen);
void clink_pull(Cascade__Pull *p, uint64_t epoch, uint64_t acked, uint32_t wait_ms,
    uint32_t max, uint32_t max_bytes);
/*
 * A Pull reply to work with: n_seqs == n_packets, epoch != 0, seqs in
 * [first_seq, last_seq] ascending. 0, or -1 with why ("malformed reply"...).
 */
int clink_pull_reply_check(const Cascade__PullReply *pr, char *why, size_t whylen);
/*
 * Packs m into a Request envelope (cenv_request_pack; a mac when key is not
 * NULL). Returns a malloc'd buffer (size in *len), or NULL when out of memory.
 */
uint8_t *clink_request(uint32_t type, uint64_t session, uint64_t seq,
    const ProtobufCMessage *m, const uint8_t *key, size_t *len);

/* ------------------------------------------------------------ tlsprobe.c */

/*
 * One tls handshake with OpenSSL to host:port, verifying the certificate
 * against cafile for host, to say why a tls link does not come up (nng does
 * not). Blocking, each step bounded by timeout_ms. Returns 0 when it
 * verifies, CTLS_UNVERIFIED when the handshake went through but the
 * certificate does not verify (another CA, another name, expired), else -1
 * (no connection, no tls); msg says what was found either way, e.g. "the
 * certificate is for localhost, the url names 127.0.0.1".
 */
#define CTLS_UNVERIFIED (-2)
int ctls_probe(const char *host, unsigned port, const char *cafile, int timeout_ms,
    char *msg, size_t msglen);

/* Little helpers for the time base used everywhere: wall-clock ms. */
int64_t cnow_ms(void);
/* Monotonic ms, for timeouts and durations inside one process. */
int64_t cmono_ms(void);

/* nngclose.c */
/*
 * Closes sock with nng_close on a thread of its own, then runs after(arg)
 * there (may be NULL). Waits up to wait_ms (0: not at all) for both;
 * returns 1 if they finished within it, 0 if they go on in the background.
 */
int cnng_close_bounded(nng_socket sock, int wait_ms, void (*after)(void *), void *arg);
/*
 * Waits up to wait_ms for every close cnng_close_bounded left running in the
 * background (a process about to exit: its sockets' memory is freed, not
 * dropped mid-close). Returns 1 if none is left, 0 if some still run.
 */
int cnng_close_drain(int wait_ms);
/*
 * nng_fini (nng's threads and reaper stopped, what they still held freed),
 * on a thread of its own, waited for up to wait_ms. Only once every nng
 * call of the process has returned (cnng_close_drain said so): nng_fini
 * must not run beside another. Returns 1 if it finished in time.
 */
int cnng_fini_bounded(int wait_ms);

#endif /* CASCADE_PACKETS_H */
