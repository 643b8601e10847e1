/*
 * sdk_int.h — libcascade's private header: the structures shared between
 * its files and their prototypes, grouped by file. Nothing here is
 * exported (only cascade_* leaves the library).
 */
#ifndef CASCADE_SDK_INT_H
#define CASCADE_SDK_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cascade.h"
#include "carrier.h"
#include "packets.h"

#if defined(__GNUC__)
#define SDK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SDK_PRINTF(f, a)
#endif

#define SDK_URL_MAX 1023
#define SDK_PATH_MAX 4095

/* Defaults of the options (cascade.h documents them). */
#define SDK_DEF_QUEUE_MAX 10000u
#define SDK_MAX_QUEUE_MAX 10000000u
#define SDK_DEF_STATE_SIZE (64ull << 20)
#define SDK_MIN_STATE_SIZE (1ull << 20)
#define SDK_DEF_TIMEOUT_MS 30000
#define SDK_MAX_TIMEOUT_MS 86400000
#define SDK_DEF_REPLY_TTL_MS 3600000
#define SDK_DEF_RECONNECT_MIN_MS 100
#define SDK_DEF_RECONNECT_MAX_MS 5000
#define SDK_DEF_DEAD_MS 15000

/* How long ids of delivered and sent packets are kept (duplicates, cancel). */
#define SDK_KEEP_IDS_MS (7LL * 24 * 3600 * 1000)
/* In memory: the most ids kept of each kind (delivered, sent, timed out). */
#define SDK_MEM_IDS 65536

/* ----------------------------------------------------------------- sdk.c */

struct cascade_options {
	char *url;
	char *client;
	char *secret_file;
	char *ca_file;
	char *cert_file, *key_file;     /* client certificate (mutual TLS), or NULL */
	char *state_dir;
	char *proxy;                    /* http carrier: NULL, or an http:// proxy */
	int carrier;
	cascade_packet_cb packet_cb;
	void *packet_arg;
	cascade_state_cb state_cb;
	void *state_arg;
	cascade_log_cb log_cb;
	void *log_arg;
	int log_level;
	uint64_t state_size;
	uint32_t queue_max;
	int32_t timeout_ms;
	int64_t reply_ttl_ms;
	int32_t reconnect_min_ms, reconnect_max_ms;
	int32_t dead_ms;
};

/* A received packet as the application sees it. */
struct cascade_packet {
	Cascade__Packet *p;
	uint32_t local_flags;           /* CASCADE_FLAG_LATE, CASCADE_FLAG_REDELIVERY */
};

/* Maps a wire notice code to the request status it ends a request with (0: none). */
int sdk_notice_status(uint32_t notice);
/*
 * Whether a notice may be believed: notices come only from nodes, so its
 * src must be a bare node address ("node", not "node/client").
 */
int sdk_notice_from_node(const Cascade__Packet *p);

/* ----------------------------------------------------------- carrier.c */

/*
 * Checks a cascade url; host (hostlen bytes, may be NULL) gets the host,
 * *port (may be NULL) the port. Returns CASCADE_OK or CASCADE_EINVAL.
 */
int sdk_url_check(const char *url, char *host, size_t hostlen, int *port);

/* ------------------------------------------------------------- idmap.c */

/*
 * A map from packet ids to pointers, bounded: when it holds max entries, a
 * put evicts the oldest (freeing its value with freeval, if not NULL).
 * Not thread-safe.
 */
struct idmap;
int idmap_new(struct idmap **m, size_t max, void (*freeval)(void *));
void idmap_free(struct idmap *m);
/* Adds or replaces id -> val (the entry becomes the newest). CASCADE_OK or CASCADE_ENOMEM. */
int idmap_put(struct idmap *m, const uint8_t id[CID_LEN], void *val);
/* 1 and *val (may be NULL) when id is in m, else 0. */
int idmap_get(const struct idmap *m, const uint8_t id[CID_LEN], void **val);
/* Like idmap_get, and removes the entry (its value is not freed). */
int idmap_take(struct idmap *m, const uint8_t id[CID_LEN], void **val);
size_t idmap_count(const struct idmap *m);

/* ------------------------------------------------------------- store.c */

/*
 * The handle's durable (LMDB, store_lmdb.c) or memory (store_mem.c) state:
 * the outbox of the up stream with its epoch and numbering, the ids of
 * packets handed to the application, and the destinations of packets sent
 * (for cancel). Every function is thread-safe and returns a CASCADE_* code.
 */
enum { SEEN_NONE = 0, SEEN_HANDING = 1, SEEN_DELIVERED = 2 };

struct sentry {
	uint64_t seq;
	int64_t enq_ms;                 /* wall clock when it entered the outbox */
	uint8_t *buf;                   /* the encoded packet (owned) */
	size_t len;
};

struct store;

struct store_backend {
	const char *name;
	int (*open)(struct store *s, const char *dir, uint64_t mapsize, char *err, size_t errlen);
	void (*close)(struct store *s);
	/* appends a packet: numbers it (*seq), remembers id -> dst */
	int (*put)(struct store *s, const uint8_t id[CID_LEN], const char *dst,
	    const uint8_t *pkt, size_t len, int64_t now_ms, uint64_t *seq);
	/* up to max entries from seq from on, within maxbytes (at least one) */
	int (*peek)(struct store *s, uint64_t from, unsigned max, size_t maxbytes,
	    struct sentry *e, unsigned *n);
	/* the node holds everything up to upto */
	int (*ack)(struct store *s, uint64_t upto);
	/* the node's mark is beyond our numbering: continue after it */
	int (*skip)(struct store *s, uint64_t next);
	int (*seen_get)(struct store *s, const uint8_t id[CID_LEN], int *state);
	/* records delivered (may be NULL) and handing (may be NULL) in one go */
	int (*seen_put)(struct store *s, const uint8_t *delivered, const uint8_t *handing,
	    int64_t now_ms);
	int (*sent_dst)(struct store *s, const uint8_t id[CID_LEN], char *dst, size_t dstlen);
	/* forgets delivered and sent ids older than before_ms */
	int (*prune)(struct store *s, int64_t before_ms);
};

struct store {
	const struct store_backend *be;
	void *impl;
	uint64_t epoch;                 /* of the up stream */
	uint32_t queue_max;             /* memory: the bound */
	/* counters, under mu: the last sequence assigned and the last acked */
	pthread_mutex_t mu;
	uint64_t last_seq, acked;
};

extern const struct store_backend store_mem_backend;
extern const struct store_backend store_lmdb_backend;

/* Opens the LMDB store in dir, or the memory one when dir is NULL. */
int store_open(struct store **sp, const char *dir, uint64_t mapsize, uint32_t queue_max,
    char *err, size_t errlen);
void store_close(struct store *s);
int store_put(struct store *s, const uint8_t id[CID_LEN], const char *dst,
    const uint8_t *pkt, size_t len, int64_t now_ms, uint64_t *seq);
int store_peek(struct store *s, uint64_t from, unsigned max, size_t maxbytes,
    struct sentry *e, unsigned *n);
void store_entries_free(struct sentry *e, unsigned n);
int store_ack(struct store *s, uint64_t upto);
int store_skip(struct store *s, uint64_t next);
int store_seen_get(struct store *s, const uint8_t id[CID_LEN], int *state);
int store_seen_put(struct store *s, const uint8_t *delivered, const uint8_t *handing,
    int64_t now_ms);
int store_sent_dst(struct store *s, const uint8_t id[CID_LEN], char *dst, size_t dstlen);
int store_prune(struct store *s, int64_t before_ms);
/* *last_seq: the last sequence assigned; *acked: the last one acked. */
void store_counters(struct store *s, uint64_t *last_seq, uint64_t *acked);

/* -------------------------------------------------------- store_lmdb.c */

/*
 * Record formats of the state directory, each led by a format version
 * byte (SREC_VERSION) so a newer libcascade reads an older directory.
 *   outbox  key: seq (8 bytes big-endian)
 *           val: version, enqueue wall ms (8 BE), the encoded packet
 *   seen    key: packet id (16)
 *           val: version, state (SEEN_*), wall ms (8 BE)
 *   sent    key: packet id (16)
 *           val: version, dst (no NUL)
 *   meta    "format" -> u32 BE, "epoch", "next", "acked" -> u64 BE
 */
#define SREC_VERSION 1
#define SREC_OUTBOX_HDR 9
#define SREC_SEEN_LEN 10

void srec_u64_put(uint8_t out[8], uint64_t v);
uint64_t srec_u64_get(const uint8_t in[8]);
/* out must hold SREC_OUTBOX_HDR + len bytes; returns the record's length. */
size_t srec_outbox_encode(uint8_t *out, int64_t enq_ms, const uint8_t *pkt, size_t len);
/* Returns 0 with the fields (pkt points into rec), or CASCADE_ESTATE. */
int srec_outbox_decode(const uint8_t *rec, size_t reclen, int64_t *enq_ms,
    const uint8_t **pkt, size_t *len);
void srec_seen_encode(uint8_t out[SREC_SEEN_LEN], int state, int64_t ms);
int srec_seen_decode(const uint8_t *rec, size_t reclen, int *state, int64_t *ms);
/* out must hold 1 + strlen(dst) bytes; returns the record's length. */
size_t srec_sent_encode(uint8_t *out, const char *dst);
/* dst gets the NUL-terminated destination; CASCADE_ESTATE when malformed or too long. */
int srec_sent_decode(const uint8_t *rec, size_t reclen, char *dst, size_t dstlen);

/* -------------------------------------------------------------- reqs.c */

/*
 * Pending requests, ordered by deadline, and the ids of those that timed
 * out (bounded), to flag late answers. Not thread-safe: session.c holds
 * its mutex around these.
 */
struct preq {
	uint8_t id[CID_LEN];
	char dst[CADDR_TEXT_MAX + 1];   /* only a packet from there answers it */
	int64_t deadline;               /* monotonic ms */
	cascade_request_cb cb;
	void *arg;
	struct preq *next, *prev;       /* by deadline */
};

struct reqs {
	struct idmap *pending;          /* id -> struct preq */
	struct idmap *late;             /* ids that timed out -> their dst (malloc'd) */
	struct preq *head, *tail;
};

int reqs_init(struct reqs *r, size_t late_max);
/* Frees what is left (without calling back: take them first with reqs_pop). */
void reqs_fini(struct reqs *r);
/*
 * Adds a request sent to dst. CASCADE_OK, CASCADE_ENOMEM or CASCADE_EINVAL
 * (id pending already, or dst too long).
 */
int reqs_add(struct reqs *r, const uint8_t id[CID_LEN], const char *dst, int64_t deadline,
    cascade_request_cb cb, void *arg);
/* Forgets a pending request (its send failed); returns it (free it) or NULL. */
struct preq *reqs_remove(struct reqs *r, const uint8_t id[CID_LEN]);
/*
 * What a received packet means for the requests: the pending request it
 * ends (removed; free it after calling back), with *status CASCADE_OK for
 * a reply or the error a notice says; or NULL, with *late 1 when it
 * answers or reports on a request that timed out. Only a data packet from
 * the request's dst is its reply: one from anyone else that names it in
 * reply_to matches nothing, and *foreign is set. Notices are taken as they
 * come (check sdk_notice_from_node first).
 */
struct preq *reqs_match(struct reqs *r, const Cascade__Packet *p, int *status, int *late,
    int *foreign);
/* The first request whose deadline is <= now (removed, remembered as timed out), or NULL. */
struct preq *reqs_expired(struct reqs *r, int64_t now);
/* Any pending request (removed), or NULL: for close. */
struct preq *reqs_pop(struct reqs *r);
/* The earliest deadline, or INT64_MAX. */
int64_t reqs_next_deadline(const struct reqs *r);
size_t reqs_count(const struct reqs *r);

/* ----------------------------------------------------------- session.c */

#define SDK_NEVER INT64_MAX
#define SDK_MAX_REPLY (64u << 20)       /* the largest reply the carrier takes */
#define SDK_DEF_MAX_BATCH 64
#define SDK_MAX_REJECTED 256            /* push refusals kept for cascade_flush_rejected() */

/* P_TAKEN: another program took our session; we do not dial again */
enum pstate { P_DOWN, P_HELLO, P_AUTH, P_UP, P_TAKEN };

/* A request to the node in flight; it becomes an event when answered. */
struct call {
	struct cascade *h;
	uint64_t gen;                   /* session generation */
	uint32_t type;
	uint64_t first, last;           /* push range */
	uint64_t session, seq;          /* what the reply's mac must name */
	int authentic;                  /* the reply is the node's: its mac, or tls */
	int err;
	uint8_t *buf;
	size_t len;
	uint64_t conn;
	struct call *next;
};

/* The handle (cascade_t): settings, what h->mu guards, and the SDK thread's own state. */
struct cascade {
	/* settings, fixed after open */
	char *url, *client, *ca_file, *state_dir;
	char *cert_file, *key_file;
	char node[CADDR_NODE_MAX + 1];  /* the node our address names */
	int carrier_kind;               /* CASCADE_CARRIER_TCP / _HTTP */
	int tls;
	uint8_t secret[64];
	size_t secretlen;
	cascade_packet_cb packet_cb;
	void *packet_arg;
	cascade_state_cb state_cb;
	void *state_arg;
	cascade_log_cb log_cb;
	void *log_arg;
	int log_level;
	int32_t timeout_ms, reconnect_min_ms, reconnect_max_ms, dead_ms;
	int64_t reply_ttl_ms;

	struct store *st;
	struct carrier *car;
	pthread_t thr;
	int thr_started;

	pthread_mutex_t mu;
	pthread_cond_t cv;              /* wakes the SDK thread */
	pthread_cond_t flush_cv;        /* wakes cascade_flush() */
	/* under mu */
	int closing;
	int wake;                       /* the outbox has new packets */
	struct call *ev_head, *ev_tail; /* answered calls */
	int conn_up;                    /* the carrier has a connection */
	int conn_down_seen;             /* a connection went since the SDK thread looked */
	struct reqs reqs;
	int pub_state;
	uint32_t max_packet;
	int paused;                     /* cascade_pause(): no pulls, no deliveries */
	int poke;                       /* pause or resume: the SDK thread looks again */
	char last_err[512];             /* cascade_last_error() */
	struct rejected {               /* packets refused for good at push: a ring */
		uint8_t id[CID_LEN];
		uint32_t reason;
		char why[192];
	} rejected[SDK_MAX_REJECTED];
	uint64_t nrejected;             /* refusals ever; the ring keeps the last ones */

	/* SDK thread */
	enum pstate ps;
	uint64_t gen;
	uint64_t session;
	uint64_t sess_conn;             /* the connection the session lives on */
	uint64_t seq;                   /* the session's last request counter */
	int unauth_refusals;            /* refusals in a row nobody signed */
	uint8_t key[CSHA256_LEN];
	int keyed;
	struct clink_auth ca;           /* the last Auth: its nonces give the session key */
	uint64_t next_send;
	unsigned inflight, window, max_batch;
	uint32_t pull_wait_ms;
	int64_t hold_until;
	uint64_t down_epoch, down_acked;
	uint64_t down_acked_up;         /* down_acked when the session came up */
	uint64_t down_acked_sent;       /* the ack the last Pull carried */
	int pulling;
	int64_t timer_at;
	int64_t backoff_ms;
	int64_t prune_at;
	int64_t nag_at;                 /* when to say again that no connection comes up */
	char tls_said[512];             /* why tls does not come up, as last told */
	int connected;
	int64_t unconnected_since;      /* no connection since (0: connected) */
	int rebuilds;                   /* carrier rebuilds in this outage */
	struct carrier_params cp;       /* what the carrier was opened with, to rebuild it */
	int carrier_pref;
	char *proxy;
};

/* Logs through the handle's log callback (if any). */
void sdk_log(struct cascade *h, int level, const char *fmt, ...) SDK_PRINTF(3, 4);
/*
 * Records the detail behind the latest error for cascade_last_error()
 * (any thread; copied under the handle's lock).
 */
void sdk_set_error(struct cascade *h, const char *fmt, ...) SDK_PRINTF(2, 3);
/* Whether cascade_pause() is in force (takes h->mu). */
int sdk_paused(struct cascade *h);
/* Whether the caller runs on h's SDK thread (where blocking calls are refused). */
int sdk_on_thread(struct cascade *h);
/* The carrier's callbacks: its log lines, and a connection up or down. */
void sdk_carrier_log(void *arg, int level, const char *msg);
void sdk_conn_event(void *arg, int up, uint64_t conn);
/* When the first "why no connection" look is due after open (ms from now). */
int64_t sdk_first_nag_ms(const struct cascade *h);
/* A monotonic ms time as the timespec pthread_cond_timedwait() wants. */
struct timespec sdk_abs_time(int64_t mono_ms);
/* The SDK thread (pthread_create's start routine; arg is the handle). */
void *sdk_main(void *arg);

/* -------------------------------------------------------- session_api.c */

/* The public cascade_* calls of a handle (cascade.h); nothing else. */

#endif /* CASCADE_SDK_INT_H */
