/*
 * cascade.h — libcascade, the client SDK of cascade.
 *
 * A client (a clinic workstation, an expert's desk, a business server)
 * attaches to one cascade node and exchanges addressed packets with other
 * clients through the node hierarchy. Everything is asynchronous: a send
 * returns at once; packets, replies, notices and connection changes reach
 * the application through callbacks on the SDK's own thread.
 *
 * A minimal program:
 *
 *	static void on_packet(void *arg, cascade_t *h, const cascade_packet_t *p)
 *	{
 *		size_t len;
 *		const void *data = cascade_packet_payload(p, &len);
 *
 *		if (cascade_packet_kind(p) == CASCADE_KIND_DATA)
 *			cascade_reply(h, p, "echo", data, len, NULL);
 *	}
 *
 *	cascade_options_t *o;
 *	cascade_t *h;
 *	uint8_t id[CASCADE_ID_LEN];
 *
 *	cascade_options_new(&o);
 *	cascade_options_set_url(o, "tls+tcp://county.example:7400");
 *	cascade_options_set_client(o, "fj-xm-siming/dr-lin");
 *	cascade_options_set_secret_file(o, "/etc/cascade/dr-lin.secret");
 *	cascade_options_set_ca_file(o, "/etc/cascade/ca.pem");
 *	cascade_options_set_state_dir(o, "/var/lib/dr-lin/cascade");
 *	cascade_options_set_packet_cb(o, on_packet, NULL);
 *	if (cascade_open(o, &h) != CASCADE_OK) ...
 *	cascade_options_free(o);
 *	cascade_send(h, "fj-p1/expert", "consult.ask", "...", 3, 60000, 0, id);
 *	cascade_flush(h, 10000);
 *	...
 *	cascade_close(h);
 *
 * Caveats
 * - Plain C ABI: opaque handles, no structs passed by value, fixed-width
 *   integers, so programs in C#, Java or Python can bind to it. Only
 *   cascade_* symbols are exported.
 * - Every function that can fail returns 0 (CASCADE_OK) or a negative
 *   enum cascade_err code; cascade_strerror() names each one.
 * - The library never aborts the process (out of memory is CASCADE_ENOMEM),
 *   never raises SIGPIPE and never writes to stdout or stderr: it speaks
 *   only through the log callback, when one is set.
 * - Threads: each handle runs one SDK thread that owns the connection to
 *   the node. Every callback (packets, notices, request results, connection
 *   state, most log lines) runs on that thread, one at a time. API calls are
 *   thread-safe unless a function says otherwise; those made from another
 *   thread hand their work to the SDK thread and return at once. A callback
 *   may call cascade_send(), cascade_request(), cascade_reply() and
 *   cascade_cancel() on its own handle; it must not call cascade_close() or
 *   cascade_flush() on it (they return CASCADE_ECALLBACK), and it should
 *   return quickly: while it runs, the handle neither receives nor sends.
 * - Custody: cascade_send() puts the packet in the handle's outbox and
 *   returns its id. The node "has" the packet once it acknowledged it
 *   (cascade_flush() waits for that). Without a state directory the outbox
 *   lives in memory and dies with the process; with one (LMDB), a packet is
 *   on disk before cascade_send() returns and is sent after a restart.
 * - Delivery: each received packet reaches the packet callback once. It is
 *   recorded as delivered (in the state directory, when there is one)
 *   before the node hears the acknowledgement. Only a crash inside the
 *   callback, before the SDK recorded the packet as delivered, makes the
 *   SDK hand that packet over again after the restart, flagged
 *   CASCADE_FLAG_REDELIVERY. cascade_close() acknowledges what it delivered,
 *   so a clean close never causes a redelivery; without a state directory
 *   a program that crashed may see packets again that it had taken but not
 *   yet acknowledged, flagged CASCADE_FLAG_REDELIVERY unless the node
 *   restarted meanwhile.
 * - One session per client address: a second program (or a restarted one)
 *   opening the same address takes the session over; the first one is told
 *   through the connection-state callback (CASCADE_STATE_TAKEN_OVER) and
 *   does not reconnect: it stays taken over until it is closed. Packets the
 *   node had handed to the first program that it had not acknowledged yet
 *   reach the second one flagged CASCADE_FLAG_REDELIVERY (the first may
 *   have taken them): never as new.
 * - Node restarts, lost connections and dead links are handled inside:
 *   the handle reconnects with backoff and resumes where the node's
 *   custody stopped, without losing or duplicating a packet. A node that
 *   answers "no session" without our session key (it restarted, or an
 *   http session idled out) is reported as CASCADE_STATE_NEW_SESSION, with
 *   the reason in cascade_last_error(), and a new session starts at once;
 *   only a "no session" signed under our session key means another program
 *   took the session over (CASCADE_STATE_TAKEN_OVER).
 * - libcurl: the http carrier (http://, https://) uses libcurl. The first
 *   handle opened on such a url calls curl_global_init(CURL_GLOBAL_DEFAULT)
 *   once per process, and the library never calls curl_global_cleanup().
 *   A program that uses libcurl itself should call curl_global_init()
 *   before it starts threads (and before the first cascade_open()), as
 *   libcurl asks of every program.
 */
#ifndef CASCADE_H
#define CASCADE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CASCADE_VERSION_MAJOR 0
#define CASCADE_VERSION_MINOR 1
#define CASCADE_VERSION_PATCH 0
#define CASCADE_VERSION_NUMBER \
	(CASCADE_VERSION_MAJOR * 10000 + CASCADE_VERSION_MINOR * 100 + CASCADE_VERSION_PATCH)

/* The length of a packet id, and of its text form with the NUL. */
#define CASCADE_ID_LEN 16
#define CASCADE_ID_TEXT_LEN 34

/* The longest address "node/client" (63 + 1 + 63 characters) and command. */
#define CASCADE_ADDRESS_MAX 127
#define CASCADE_COMMAND_MAX 64

enum cascade_err {
	CASCADE_OK = 0,
	CASCADE_EINVAL = -1,        /* an argument is out of range or NULL */
	CASCADE_ENOMEM = -2,        /* out of memory */
	CASCADE_EADDRESS = -3,      /* not a valid address (node or node/client) */
	CASCADE_EQUEUE_FULL = -4,   /* the bounded memory queue (or the state directory) is full */
	CASCADE_ETIMEDOUT = -5,     /* the wait ended before the condition was met */
	CASCADE_ECLOSED = -6,       /* the handle is closing or closed */
	CASCADE_ESECRET = -7,       /* the secret file is missing, malformed or readable by others
	                             * (or the client certificate's key is readable by others) */
	CASCADE_EAUTH = -8,         /* the node refused our credentials */
	CASCADE_ECARRIER = -9,      /* no carrier for this url, or the node refused it */
	CASCADE_ESTATE = -10,       /* the state directory could not be opened or written */
	CASCADE_ETOOBIG = -11,      /* payload above the node's limit */
	CASCADE_EINTERNAL = -12,    /* a bug: please report it */
	CASCADE_ECALLBACK = -13,    /* not allowed from inside one of this handle's callbacks */
	CASCADE_ENOTFOUND = -14,    /* no packet with that id is known to this handle */
	CASCADE_EUNDELIVERABLE = -15, /* the network found no route to the destination */
	CASCADE_EEXPIRED = -16,     /* the packet's ttl ran out before delivery */
	CASCADE_EREJECTED = -17,    /* a node refused the packet for good (see the notice's reason) */
	CASCADE_ECANCELLED = -18,   /* the packet was cancelled before delivery */
	CASCADE_EBUSY = -19,        /* the state directory is in use by another process or handle */
};

/* Carriers (cascade_options_set_carrier). */
enum cascade_carrier {
	CASCADE_CARRIER_AUTO = 0,   /* the url's scheme decides (default) */
	CASCADE_CARRIER_TCP = 1,    /* tcp:// or tls+tcp:// (nng req/rep) */
	CASCADE_CARRIER_HTTP = 2,   /* http:// or https:// (POST) */
};

/*
 * Packet flags. cascade_send() accepts RECEIPT, NO_TTL, URGENT and NOTIFY;
 * the others are only ever read from received packets.
 */
#define CASCADE_FLAG_RECEIPT    0x01u  /* ask for a DELIVERED notice once the destination took it */
#define CASCADE_FLAG_NO_TTL     0x02u  /* never expires (same as ttl_ms 0) */
#define CASCADE_FLAG_DOWN       0x04u  /* (read) the packet was on its downward leg */
#define CASCADE_FLAG_URGENT     0x08u  /* priority over routine flows */
#define CASCADE_FLAG_NOTIFY     0x10u  /* ask for EXPIRED / REJECTED notices (UNDELIVERABLE always comes) */
#define CASCADE_FLAG_LATE       0x20u  /* (read) a reply or notice for a request that had timed out */
#define CASCADE_FLAG_REDELIVERY 0x40u  /* (read) maybe handed over before: after a crash inside the
                                          callback, or to a program this one took over from */

/* Packet kinds the application sees. */
enum cascade_kind {
	CASCADE_KIND_DATA = 0,      /* an application packet */
	CASCADE_KIND_NOTICE = 1,    /* news about a packet this client sent (ref_id) */
};

/* What a notice says about the packet it refers to (cascade_packet_ref_id). */
enum cascade_notice {
	CASCADE_NOTICE_NONE = 0,
	CASCADE_NOTICE_DELIVERED = 1,       /* the destination's application took it (FLAG_RECEIPT) */
	CASCADE_NOTICE_EXPIRED = 2,         /* its ttl ran out on the way (FLAG_NOTIFY) */
	CASCADE_NOTICE_UNDELIVERABLE = 3,   /* nobody could route it (always) */
	CASCADE_NOTICE_REJECTED = 4,        /* refused for good; cascade_packet_reason() says why (FLAG_NOTIFY) */
	CASCADE_NOTICE_CANCELLED = 5,       /* cascade_cancel() reached it before delivery */
	CASCADE_NOTICE_CANCEL_TOO_LATE = 6, /* cascade_cancel() came after delivery */
	CASCADE_NOTICE_DELAYED = 7,         /* still waiting at a node (cascade_packet_text() says
	                                       which) after its delay-warning-after (FLAG_NOTIFY);
	                                       news only: the packet may still arrive, a pending
	                                       request keeps waiting */
};

/* Connection states, as the state callback reports them. */
enum cascade_state {
	CASCADE_STATE_CONNECTING = 1,   /* dialing the node, or signing in */
	CASCADE_STATE_UP = 2,           /* a session is up: packets flow */
	CASCADE_STATE_DOWN = 3,         /* the session or connection was lost; reconnecting */
	CASCADE_STATE_TAKEN_OVER = 4,   /* another program took this address's session; no reconnecting */
	CASCADE_STATE_REFUSED = 5,      /* the node refused us (unknown client, wrong secret, carrier); retrying slowly */
	CASCADE_STATE_CLOSED = 6,       /* cascade_close() ran: the last state callback */
	CASCADE_STATE_HELD = 7,         /* the session is up but the node refuses packets for
	                                   now (detail says why, e.g. "journal full"); the
	                                   outbox keeps them and retries every second; UP
	                                   again once the node takes one */
	CASCADE_STATE_NEW_SESSION = 8,  /* the node no longer knew our session (it restarted,
	                                   or an http session idled out): a new one is being
	                                   set up at once; not a takeover, nothing is lost; UP
	                                   follows */
	CASCADE_STATE_UNTRUSTED = 9,    /* tls: the node's certificate does not verify (from
	                                   another CA than ca_file, for another name than the
	                                   url's host, expired); detail and cascade_last_error()
	                                   name the verify error; dialing goes on, UP once it
	                                   verifies */
};

/* Log levels (cascade_options_set_log_cb). */
enum cascade_log_level {
	CASCADE_LOG_ERROR = 0,
	CASCADE_LOG_WARN = 1,
	CASCADE_LOG_INFO = 2,
	CASCADE_LOG_DEBUG = 3,
};

/* Opaque handles. */
typedef struct cascade cascade_t;                   /* one attachment to a node */
typedef struct cascade_options cascade_options_t;   /* settings for cascade_open() */
typedef struct cascade_packet cascade_packet_t;     /* a received packet */

/*
 * Callbacks. Each gets back the arg given when it was set.
 *
 * cascade_packet_cb: a received data packet or notice (and replies that
 * belong to no pending request: late ones, or replies after a restart).
 * pkt is valid until the callback returns; keep it with cascade_packet_dup().
 * Runs on the SDK thread.
 */
typedef void (*cascade_packet_cb)(void *arg, cascade_t *h, const cascade_packet_t *pkt);

/*
 * cascade_state_cb: the connection state changed to state (enum
 * cascade_state); detail is one line for people (why it went down, which
 * node answered), valid until the callback returns. Runs on the SDK thread.
 */
typedef void (*cascade_state_cb)(void *arg, cascade_t *h, int state, const char *detail);

/*
 * cascade_log_cb: one log line (no newline) at level (enum
 * cascade_log_level); msg is valid until the callback returns. Runs on the
 * SDK thread, or on the thread inside cascade_open() / cascade_close().
 */
typedef void (*cascade_log_cb)(void *arg, int level, const char *msg);

/*
 * cascade_request_cb: the outcome of one cascade_request(), called exactly
 * once per successful cascade_request(), on the SDK thread:
 *   CASCADE_OK              reply is the answer (its reply_to is id)
 *   CASCADE_ETIMEDOUT       no answer within the timeout; reply is NULL (an
 *                           answer that comes later reaches the packet
 *                           callback flagged CASCADE_FLAG_LATE)
 *   CASCADE_EUNDELIVERABLE, CASCADE_EEXPIRED, CASCADE_EREJECTED,
 *   CASCADE_ECANCELLED      reply is the notice that said so
 *   CASCADE_ECLOSED         the handle closed first; reply is NULL
 * id is the request's id; id and reply are valid until the callback returns.
 */
typedef void (*cascade_request_cb)(void *arg, cascade_t *h, int status,
    const uint8_t id[CASCADE_ID_LEN], const cascade_packet_t *reply);

/* ------------------------------------------------------------- general */

/*
 * Returns a fixed English description of code (never NULL; unknown codes
 * give "unknown error"). Thread-safe; the string is static.
 */
const char *cascade_strerror(int code);

/*
 * Returns the library's version as "major.minor.patch" (static string), and
 * if number is not NULL stores CASCADE_VERSION_NUMBER of the built library.
 */
const char *cascade_version(int *number);

/*
 * Writes a new packet id into id: 48-bit milliseconds since the epoch then
 * 80 bits that keep ids strictly increasing within the process.
 * Returns CASCADE_OK, CASCADE_EINVAL (id NULL) or CASCADE_EINTERNAL (no
 * randomness). Thread-safe.
 */
int cascade_id_new(uint8_t id[CASCADE_ID_LEN]);

/*
 * Writes the text form of id ("0193f6c2a1b0-" followed by 20 hex digits)
 * into text, which must hold CASCADE_ID_TEXT_LEN bytes.
 * Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_id_format(const uint8_t id[CASCADE_ID_LEN], char *text, size_t len);

/* Parses the text form. Returns CASCADE_OK or CASCADE_EINVAL. */
int cascade_id_parse(const char *text, uint8_t id[CASCADE_ID_LEN]);

/*
 * Checks an address: "node" or "node/client", node ids [a-z0-9][a-z0-9-]{0,62},
 * client ids [a-z0-9][a-z0-9._-]{0,62}. Returns CASCADE_OK, CASCADE_EINVAL
 * (NULL) or CASCADE_EADDRESS.
 */
int cascade_address_check(const char *address);

/*
 * Returns a fixed English name for a rejection reason
 * (cascade_packet_reason()), e.g. "journal full"; never NULL.
 */
const char *cascade_reason_str(uint32_t reason);

/* ------------------------------------------------------------- options */

/*
 * An options object collects the settings of one cascade_open(); the
 * handle copies what it needs, so the object may be freed or reused right
 * after cascade_open(). An options object is not thread-safe: use it from
 * one thread at a time. Every setter copies its string argument.
 *
 * cascade_options_new: *opts gets a new object with the defaults.
 * Returns CASCADE_OK, CASCADE_EINVAL (opts NULL) or CASCADE_ENOMEM.
 */
int cascade_options_new(cascade_options_t **opts);

/* Frees opts (NULL is fine). */
void cascade_options_free(cascade_options_t *opts);

/*
 * The node's url (required): tcp://HOST:PORT, tls+tcp://HOST:PORT,
 * http://HOST:PORT[/PATH] or https://HOST:PORT[/PATH].
 * Returns CASCADE_OK, CASCADE_EINVAL (NULL, unknown scheme, no host or
 * port, longer than 1023 bytes) or CASCADE_ENOMEM.
 */
int cascade_options_set_url(cascade_options_t *opts, const char *url);

/*
 * This client's address (required): "node/client", where node is the node
 * the url reaches. Returns CASCADE_OK, CASCADE_EINVAL (NULL),
 * CASCADE_EADDRESS (not a valid address, or no client part) or CASCADE_ENOMEM.
 */
int cascade_options_set_client(cascade_options_t *opts, const char *address);

/*
 * The file holding this client's secret (required): hex, one line, '#'
 * comments, mode 0600 or stricter (cascaded -g prints one). Read by
 * cascade_open(), which fails with CASCADE_ESECRET when it is unusable.
 * Returns CASCADE_OK, CASCADE_EINVAL (NULL or empty) or CASCADE_ENOMEM.
 */
int cascade_options_set_secret_file(cascade_options_t *opts, const char *path);

/*
 * The PEM file of the certificate authority that signed the node's
 * certificate, for tls+tcp:// and https:// (required by those).
 * Returns CASCADE_OK, CASCADE_EINVAL (NULL or empty) or CASCADE_ENOMEM.
 */
int cascade_options_set_ca_file(cascade_options_t *opts, const char *path);

/*
 * Our certificate and its private key (PEM files), presented over
 * tls+tcp:// and https:// to a node whose listeners ask for one (tls-ca in
 * its cascade.conf(5): mutual TLS). P-256 or RSA keys (tls+tcp goes through
 * nng's mbedTLS). Returns CASCADE_OK, CASCADE_EINVAL (NULL or empty) or
 * CASCADE_ENOMEM.
 */
int cascade_options_set_client_cert(cascade_options_t *opts, const char *cert_file,
    const char *key_file);

/*
 * A forward proxy for http:// and https:// urls: "http://HOST[:PORT]"
 * (port 80 by default); https goes through it in a CONNECT tunnel, still
 * verified against the CA file. url NULL removes it (the default: no
 * proxy). The proxy environment variables (http_proxy, no_proxy...) are
 * never used. tcp:// and tls+tcp:// urls ignore this option.
 * Returns CASCADE_OK, CASCADE_EINVAL (opts NULL, url not http:// with a
 * host, or longer than 1023 bytes) or CASCADE_ENOMEM.
 */
int cascade_options_set_proxy(cascade_options_t *opts, const char *url);

/*
 * The carrier (enum cascade_carrier; default CASCADE_CARRIER_AUTO: the
 * url's scheme decides). cascade_open() fails with CASCADE_ECARRIER when
 * the url's scheme does not match a carrier asked for, or when this build
 * has no such carrier. Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_options_set_carrier(cascade_options_t *opts, int carrier);

/*
 * The callback for received packets and notices, and its arg (cb NULL
 * removes it). A handle without a packet callback never asks the node for
 * packets: they stay queued at the node for a later program (send-only
 * use), and cascade_request() is refused. Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_options_set_packet_cb(cascade_options_t *opts, cascade_packet_cb cb, void *arg);

/* The connection-state callback (optional). Returns CASCADE_OK or CASCADE_EINVAL. */
int cascade_options_set_state_cb(cascade_options_t *opts, cascade_state_cb cb, void *arg);

/*
 * The log callback (optional) and the most verbose level it gets
 * (enum cascade_log_level). Without one the library logs nothing.
 * Returns CASCADE_OK or CASCADE_EINVAL (bad level).
 */
int cascade_options_set_log_cb(cascade_options_t *opts, cascade_log_cb cb, void *arg,
    int max_level);

/*
 * A state directory (optional; created with mode 0700 if missing). It holds
 * an LMDB environment with the outbox, this client's upward stream epoch
 * and numbering, and the ids of packets handed to the application, so sends
 * survive a crash and nothing is delivered twice. One handle at a time may
 * use a directory: cascade_open() fails with CASCADE_EBUSY while another
 * process (or handle) has it open, and logs that process's pid.
 * Returns CASCADE_OK, CASCADE_EINVAL (NULL or empty) or CASCADE_ENOMEM.
 */
int cascade_options_set_state_dir(cascade_options_t *opts, const char *path);

/*
 * The size of the state directory's map in bytes (default 64 MiB, at least
 * 1 MiB); a full map makes cascade_send() return CASCADE_EQUEUE_FULL.
 * Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_options_set_state_size(cascade_options_t *opts, uint64_t bytes);

/*
 * The most packets the memory outbox holds before the node acknowledges
 * them, when there is no state directory (default 10000, 1..10000000).
 * Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_options_set_queue_max(cascade_options_t *opts, uint32_t packets);

/*
 * The timeout of cascade_request() when it is given 0 (default 30000 ms,
 * 1..86400000). Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_options_set_timeout(cascade_options_t *opts, int32_t ms);

/*
 * The ttl of packets made by cascade_reply() and cascade_cancel()
 * (default 3600000 ms; 0: they never expire). Returns CASCADE_OK or
 * CASCADE_EINVAL (negative).
 */
int cascade_options_set_reply_ttl(cascade_options_t *opts, int64_t ms);

/*
 * Reconnection: the first pause after a lost session and the longest one
 * it doubles up to (defaults 100 ms and 5000 ms; 10 <= min <= max <= 600000).
 * Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_options_set_reconnect(cascade_options_t *opts, int32_t min_ms, int32_t max_ms);

/*
 * How long a request to the node may stay unanswered before the link is
 * taken for dead and dialed again (default 15000 ms, 1000..600000). A held
 * pull gets this much on top of its wait. Returns CASCADE_OK or CASCADE_EINVAL.
 */
int cascade_options_set_dead_timeout(cascade_options_t *opts, int32_t ms);

/* ------------------------------------------------------ open and close */

/*
 * Opens a handle: checks the options, reads the secret, opens the state
 * directory, starts the SDK thread and the carrier, and returns. It does
 * not wait for the node: the connection comes up in the background (the
 * state callback reports it) and packets sent meanwhile wait in the outbox.
 * *h gets the handle.
 * Returns CASCADE_OK, or
 *   CASCADE_EINVAL     opts or h NULL, or no url, client or secret file set
 *   CASCADE_ENOMEM     out of memory (also: a thread could not start)
 *   CASCADE_ESECRET    the secret file is missing, malformed or readable by others
 *   CASCADE_ECARRIER   no carrier for the url (http:// and https:// need a
 *                      build with the http carrier), or the carrier asked
 *                      for does not match the url, or tls+tcp:// or
 *                      https:// without a CA file (for https://, also one
 *                      that cannot be read)
 *   CASCADE_ESTATE     the state directory cannot be created or opened, or
 *                      was written by a newer libcascade
 *   CASCADE_EBUSY      the state directory is in use by another handle or
 *                      process (the log line names its pid)
 * The log callback, if set, gets the reason of a failure on this thread.
 */
int cascade_open(const cascade_options_t *opts, cascade_t **h);

/*
 * Closes h: stops the SDK thread (waiting for a callback in progress to
 * return), closes the connection and the state directory, and frees h.
 * When packets were delivered since the last acknowledgement, it first
 * acknowledges them to the node (one last Pull that asks for nothing new,
 * waiting at most 2 s or the dead timeout, whichever is shorter), so the
 * next session of this address is not handed them again. It sends nothing
 * else: packets still in a memory outbox are lost (call cascade_flush()
 * first); those in a state directory stay there for the next
 * cascade_open(). Before it returns, on the SDK thread, every pending
 * request's callback runs with CASCADE_ECLOSED, then the state callback
 * with CASCADE_STATE_CLOSED. It blocks as long as a callback runs, and
 * that last acknowledgement.
 * No other thread may use h during or after cascade_close().
 * Returns CASCADE_OK, CASCADE_EINVAL (h NULL) or CASCADE_ECALLBACK (called
 * from one of h's callbacks: nothing is done).
 */
int cascade_close(cascade_t *h);

/* ------------------------------------------------------------- sending */

/*
 * Queues a packet for dst and returns at once.
 *   dst      "node" or "node/client"
 *   command  [A-Za-z0-9._:/-]{1,64}: what the receiver should do
 *   payload  len bytes (NULL when len is 0), copied; at most the node's
 *            packet limit (1 MiB unless the node says otherwise)
 *   ttl_ms   how long the packet may travel before it expires, in ms;
 *            0: never (as CASCADE_FLAG_NO_TTL)
 *   flags    CASCADE_FLAG_RECEIPT | _NO_TTL | _URGENT | _NOTIFY
 *   id_out   if not NULL, gets the packet's id (for notices, cancel); it
 *            is written before the packet can leave, so a callback about
 *            the packet (which may run before cascade_send() returns) can
 *            compare ids with it. Its content is unspecified on failure.
 * The packet is in the outbox when the call returns: in the state
 * directory (on disk) when there is one, else in memory. It leaves the
 * outbox when the node acknowledged it (cascade_flush()). Packets from one
 * handle to one dst arrive in the order they were sent.
 * Returns CASCADE_OK, or
 *   CASCADE_EINVAL       h, dst or command NULL; payload NULL with len > 0;
 *                        a bad command; ttl_ms negative; an unknown flag
 *   CASCADE_EADDRESS     dst is not a valid address
 *   CASCADE_ETOOBIG      len is above the packet limit
 *   CASCADE_EQUEUE_FULL  the memory outbox holds queue_max packets (no
 *                        state directory), or the state directory's map is
 *                        full; try again after the node took some
 *   CASCADE_ESTATE       the state directory could not be written
 *   CASCADE_ENOMEM       out of memory
 *   CASCADE_ECLOSED      h is closing
 * Thread-safe; allowed in callbacks; never blocks on the network (with a
 * state directory it waits for the disk).
 */
int cascade_send(cascade_t *h, const char *dst, const char *command, const void *payload,
    size_t len, int64_t ttl_ms, uint32_t flags, uint8_t id_out[CASCADE_ID_LEN]);

/*
 * Waits until the node has custody of every packet sent on h before this
 * call (the outbox is empty up to there), or timeout_ms passed (negative:
 * no limit). Packets the node refused for good count as done: their
 * notices tell (CASCADE_FLAG_NOTIFY).
 * Returns CASCADE_OK, CASCADE_ETIMEDOUT, CASCADE_EINVAL (h NULL),
 * CASCADE_ECLOSED (h closing) or CASCADE_ECALLBACK (from one of h's
 * callbacks, which would wait for itself). Thread-safe.
 */
int cascade_flush(cascade_t *h, int32_t timeout_ms);

/*
 * Which packets the node refused for good at push (they count as done for
 * cascade_flush()): i 0 is the oldest refusal this handle still keeps (the
 * last 256 since cascade_open()), then in the order they came. id (may be
 * NULL) gets the packet's id, *reason (may be NULL) the rejection reason
 * (cascade_reason_str()), why (whylen bytes, NUL-terminated, truncated;
 * may be NULL with whylen 0) "REASON: the node's text". Typical use: after
 * cascade_flush(), walk i from 0 until CASCADE_ENOTFOUND and compare ids
 * with those cascade_send() returned. A packet above the node's max-packet
 * that was sent before the session told the SDK the limit (cascade_send()
 * refuses it with CASCADE_ETOOBIG afterwards) is refused alone, e.g.
 * "oversize: payload: 200000 bytes, over the limit of 65536"; the rest of
 * its push is taken.
 * Returns CASCADE_OK, CASCADE_ENOTFOUND (no refusal i) or CASCADE_EINVAL
 * (h NULL, why NULL with whylen > 0). Thread-safe.
 */
int cascade_flush_rejected(cascade_t *h, uint32_t i, uint8_t id[CASCADE_ID_LEN],
    uint32_t *reason, char *why, size_t whylen);

/*
 * Sends a request and calls cb(arg, ...) with its reply: the first packet
 * whose reply_to is the request's id, or a notice that it cannot be
 * delivered, or a timeout (see cascade_request_cb). The request carries
 * CASCADE_FLAG_NOTIFY and a ttl of timeout_ms (0: the default from
 * cascade_options_set_timeout()), so its timeout ends it before an EXPIRED
 * notice could: cascade_request_ttl() sets the two apart. Pending requests live in memory only: a
 * reply that arrives after a restart reaches the packet callback.
 * id_out (may be NULL) gets the request's id as with cascade_send(): before
 * the request can leave.
 * Returns what cascade_send() returns, and CASCADE_EINVAL when cb is NULL,
 * timeout_ms is negative, or h has no packet callback (it would never
 * receive the reply). On success cb runs exactly once, on the SDK thread;
 * with a fast answer that may be before cascade_request() returns to a
 * caller on another thread (the caller's state for arg must be ready
 * before the call).
 */
int cascade_request(cascade_t *h, const char *dst, const char *command, const void *payload,
    size_t len, int32_t timeout_ms, cascade_request_cb cb, void *arg,
    uint8_t id_out[CASCADE_ID_LEN]);

/*
 * As cascade_request_ttl(), with packet flags: flags takes
 * CASCADE_FLAG_RECEIPT | _NO_TTL | _URGENT | _NOTIFY as cascade_send() does
 * (CASCADE_FLAG_NOTIFY is always added: a request hears why it failed;
 * _NO_TTL is ttl_ms 0). With CASCADE_FLAG_RECEIPT the DELIVERED notice
 * reaches the packet callback (it does not end the request: the reply
 * does). cascade_request() and cascade_request_ttl() are this call with
 * flags 0.
 * Returns what cascade_request_ttl() returns; CASCADE_EINVAL also for an
 * unknown flag. Thread-safe; allowed in callbacks.
 */
int cascade_request_flags(cascade_t *h, const char *dst, const char *command,
    const void *payload, size_t len, int32_t timeout_ms, int64_t ttl_ms, uint32_t flags,
    cascade_request_cb cb, void *arg, uint8_t id_out[CASCADE_ID_LEN]);

/*
 * As cascade_request(), with a ttl of the request's own: ttl_ms is how
 * long the request may travel and wait for its destination (0: never
 * expires), timeout_ms how long cb waits for an outcome (0: the default).
 * Which outcome cb gets:
 *   ttl_ms < timeout_ms   a request nobody took within its ttl ends with
 *                         CASCADE_EEXPIRED and the EXPIRED notice, once the
 *                         notice is back (within the timeout unless the way
 *                         back is slow); CASCADE_ETIMEDOUT only if neither a
 *                         reply nor the notice came by then.
 *   ttl_ms >= timeout_ms  (cascade_request() itself: ttl = timeout) the
 *                         timeout comes first: CASCADE_ETIMEDOUT, and the
 *                         EXPIRED notice, if any, reaches the packet
 *                         callback later, flagged CASCADE_FLAG_LATE.
 * A reply always wins over both if it comes first.
 * Returns what cascade_request() returns; CASCADE_EINVAL also when ttl_ms
 * is negative.
 */
int cascade_request_ttl(cascade_t *h, const char *dst, const char *command,
    const void *payload, size_t len, int32_t timeout_ms, int64_t ttl_ms,
    cascade_request_cb cb, void *arg, uint8_t id_out[CASCADE_ID_LEN]);

/*
 * Answers received: sends command/payload to its src with reply_to set to
 * its id, ttl from cascade_options_set_reply_ttl(). received must be a data
 * packet (a notice cannot be answered); it may be the callback's packet or
 * a copy from cascade_packet_dup(). id_out may be NULL.
 * Returns what cascade_send() returns; CASCADE_EINVAL also when received is
 * NULL or a notice.
 */
int cascade_reply(cascade_t *h, const cascade_packet_t *received, const char *command,
    const void *payload, size_t len, uint8_t id_out[CASCADE_ID_LEN]);

/*
 * Asks the network to drop packet id, sent earlier on this client address,
 * if it is not delivered yet. This sends a cancel packet on the same flow
 * (so it never overtakes the original); the answer arrives later as a
 * notice with ref_id = id: CASCADE_NOTICE_CANCELLED (dropped in time; a
 * pending request ends with CASCADE_ECANCELLED) or
 * CASCADE_NOTICE_CANCEL_TOO_LATE (already delivered). The handle must know
 * the original's destination: packets sent in the last 7 days with a state
 * directory, or the last 65536 without. id_out (may be NULL) gets the
 * cancel packet's own id.
 * Returns what cascade_send() returns, and CASCADE_ENOTFOUND when id is not
 * a packet this handle knows it sent.
 */
int cascade_cancel(cascade_t *h, const uint8_t id[CASCADE_ID_LEN],
    uint8_t id_out[CASCADE_ID_LEN]);

/*
 * The connection state now (enum cascade_state), or CASCADE_EINVAL when h
 * is NULL. Thread-safe.
 */
int cascade_state(cascade_t *h);

/*
 * Pauses receiving: the handle stops pulling, so packets for this client
 * stay in the node's inbox (cascadectl clients shows its depth) and nothing
 * is lost. Once cascade_pause() returned, no packet callback or request
 * callback with a reply begins (one running on the SDK thread finishes;
 * called from a callback, the rest of its batch waits); what the node
 * brought back in a pull already under way is not handed over and stays
 * with the node. Packets already delivered are acknowledged. Sending,
 * request timeouts and the connection carry on. Pausing a paused handle
 * does nothing. Returns CASCADE_OK or CASCADE_EINVAL (h NULL).
 * Thread-safe; allowed in callbacks.
 */
int cascade_pause(cascade_t *h);

/*
 * Resumes receiving after cascade_pause(): the next pull starts at once and
 * the node hands over what waited, in order, each packet once. Resuming a
 * handle that is not paused does nothing. Returns CASCADE_OK or
 * CASCADE_EINVAL. Thread-safe; allowed in callbacks.
 */
int cascade_resume(cascade_t *h);

/* 1 when h is paused, 0 when not, CASCADE_EINVAL when h is NULL. Thread-safe. */
int cascade_paused(cascade_t *h);

/*
 * Copies into buf (len bytes, NUL-terminated, truncated to fit) the detail
 * behind the most recent error of h, for people: why a call failed
 * (e.g. which destination is not an address), why the node refused a
 * packet at push (which one, the reason), why the node refuses packets for
 * now ("journal full"), why the session went down or was refused. "" when
 * nothing went wrong yet. A success does not clear it. The text is per
 * handle and copied under the handle's lock, so any thread may call this;
 * another thread's error may have replaced the one a caller looks for.
 * Returns CASCADE_OK or CASCADE_EINVAL (h or buf NULL, len 0).
 */
int cascade_last_error(cascade_t *h, char *buf, size_t len);

/*
 * *unacked gets the number of packets in the outbox that the node has not
 * acknowledged yet. Returns CASCADE_OK or CASCADE_EINVAL. Thread-safe.
 */
int cascade_pending(cascade_t *h, uint64_t *unacked);

/* ------------------------------------------------------ received packets */

/*
 * Accessors of a received packet. The packet a callback gets is valid until
 * the callback returns; so are the pointers these return (for a copy from
 * cascade_packet_dup(), until cascade_packet_free()). Strings are
 * NUL-terminated. They are safe on any thread that may use the packet.
 * With p NULL they return NULL / 0.
 */
/* The packet's id: CASCADE_ID_LEN bytes. */
const uint8_t *cascade_packet_id(const cascade_packet_t *p);
/* The sender's address (a notice comes from a node: "node"). */
const char *cascade_packet_src(const cascade_packet_t *p);
/* The destination address: this client. */
const char *cascade_packet_dst(const cascade_packet_t *p);
/* The command ("" for none). */
const char *cascade_packet_command(const cascade_packet_t *p);
/* The payload and its length in *len (len may be NULL); never NULL. */
const void *cascade_packet_payload(const cascade_packet_t *p, size_t *len);
/* CASCADE_FLAG_* bits, with LATE and REDELIVERY set by this library. */
uint32_t cascade_packet_flags(const cascade_packet_t *p);
/* enum cascade_kind. */
int cascade_packet_kind(const cascade_packet_t *p);
/* enum cascade_notice, for notices (0 otherwise). */
int cascade_packet_notice(const cascade_packet_t *p);
/* The rejection reason of a REJECTED / UNDELIVERABLE notice (cascade_reason_str()). */
uint32_t cascade_packet_reason(const cascade_packet_t *p);
/* A notice's detail for people ("" when none). */
const char *cascade_packet_text(const cascade_packet_t *p);
/* A notice's subject: the id of the packet it is about; NULL when none. */
const uint8_t *cascade_packet_ref_id(const cascade_packet_t *p);
/* The id of the packet this one answers; NULL when none. */
const uint8_t *cascade_packet_reply_to(const cascade_packet_t *p);
/* The ttl left when the packet arrived, in ms (0 with CASCADE_FLAG_NO_TTL). */
int64_t cascade_packet_ttl(const cascade_packet_t *p);

/* The number of hops in the packet's trace (each node it passed). */
size_t cascade_packet_hops(const cascade_packet_t *p);
/*
 * Hop i (0 is the first node): *node the node id, *down 1 on the
 * downward leg, *arrived_ms that node's wall clock when it took custody
 * (ms since the epoch), *held_ms how long the packet waited there. Any
 * output pointer may be NULL. Returns CASCADE_OK or CASCADE_EINVAL
 * (p NULL, i out of range).
 */
int cascade_packet_hop(const cascade_packet_t *p, size_t i, const char **node, int *down,
    int64_t *arrived_ms, uint32_t *held_ms);

/*
 * *copy gets a copy of p that outlives the callback; free it with
 * cascade_packet_free(). Returns CASCADE_OK, CASCADE_EINVAL or CASCADE_ENOMEM.
 */
int cascade_packet_dup(const cascade_packet_t *p, cascade_packet_t **copy);

/* Frees a copy made by cascade_packet_dup() (NULL is fine). Never pass it
 * the packet a callback got. */
void cascade_packet_free(cascade_packet_t *p);

#ifdef __cplusplus
}
#endif

#endif /* CASCADE_H */
