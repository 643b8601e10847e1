/*
 * tclient.c — a small test client speaking the link protocol as a client
 * session (blocking nng req over tcp), for the integration tests until the
 * SDK exists, and for hostile input the SDK would never send.
 *
 *   tclient send -u URL -a NODE/CLIENT -s SECRET -t DST -n COUNT [-b BATCH]
 *                [-z BYTES] [-T TTL_MS] [-N] [-R] [-S SRC] [-r] [-W SECONDS]
 *       keeps every packet until the node acks it; reconnects and resumes at
 *       the node's mark + 1. -N asks for notices, -R for receipts, -S forges
 *       the src, -r sends each pair of batches in reverse order (the second
 *       overtakes the first). Exits 0 when all COUNT are acked. -I prints
 *       each packet's id; -c ID sends a cancel of packet ID instead (to DST,
 *       the original's destination).
 *   tclient recv -u URL -a NODE/CLIENT -s SECRET -n COUNT -o FILE [-W SECONDS]
 *       pulls until COUNT distinct data packets arrived; every packet seen on
 *       the wire is appended to FILE as "epoch seq id src n kind notice trace"
 *       (trace: node:up|down,...). -n 0 listens until the -W deadline.
 *   tclient auth -u URL -a ADDR -s SECRET [-P]   Hello + Auth, prints the status;
 *       -P replays the Auth afterwards and prints that status too.
 *   tclient raw -u URL -x HEX                    sends raw bytes, prints the reply status
 *
 * Payload of data packets: "n=<i> src=<addr>" padded to -z bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "packets.h"

static const char *url, *addr, *secretfile, *dst, *outfile, *forged_src, *hexbody;
static int count = 1, batch = 64, size = 64, notify, receipt, reverse, replay, waitsec = 120;
static int print_ids;
static const char *cancel_id;
static int64_t ttl_ms = -1;
static uint8_t secret[64];
static size_t secretlen;
static nng_socket sock;
static uint64_t session, reqseq;
static uint8_t skey[CSHA256_LEN];

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "tclient: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void
note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "tclient %s: ", addr ? addr : "");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static void
sock_open(void)
{
	int rc;

	if ((rc = nng_req0_open(&sock)) != 0)
		die("req0: %s", nng_strerror(rc));
	nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 500);
	nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 40000);
	if ((rc = nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		die("dial %s: %s", url, nng_strerror(rc));
}

/* One request/reply. Returns the reply (free it) or NULL on a transport error. */
static Cascade__Reply *
rpc(uint32_t type, const ProtobufCMessage *m, int keyed)
{
	size_t blen = protobuf_c_message_get_packed_size(m), len;
	uint8_t *body = malloc(blen + 1), *buf, *rbuf = NULL;
	Cascade__Reply *rep;
	size_t rlen;
	int rc;

	protobuf_c_message_pack(m, body);
	reqseq = session != 0 ? reqseq + 1 : 0;
	buf = cenv_request_pack(type, session, reqseq, body, blen, keyed ? skey : NULL, &len);
	free(body);
	rc = nng_send(sock, buf, len, 0);
	free(buf);
	if (rc != 0) {
		note("send: %s", nng_strerror(rc));
		return NULL;
	}
	if ((rc = nng_recv(sock, &rbuf, &rlen, NNG_FLAG_ALLOC)) != 0) {
		note("recv: %s", nng_strerror(rc));
		return NULL;
	}
	rep = cascade__reply__unpack(NULL, rlen, rbuf);
	nng_free(rbuf, rlen);
	if (rep == NULL)
		note("undecodable reply");
	else if (keyed && rep->status == 0 && cenv_reply_verify(rep, session, reqseq, skey) != 0)
		die("reply mac does not match the session key");
	return rep;
}

static uint64_t up_epoch;

/* Hello + Auth. Returns the mark for our up epoch, or -1 (status in *status). */
static int64_t
login(uint32_t *status, int do_replay)
{
	Cascade__Hello h = CASCADE__HELLO__INIT;
	Cascade__Auth a = CASCADE__AUTH__INIT;
	Cascade__StreamPos sp = CASCADE__STREAM_POS__INIT, *spp = &sp;
	Cascade__Reply *rep;
	Cascade__HelloReply *hr;
	Cascade__AuthReply *ar;
	uint8_t sn[CNONCE_LEN], cn[CNONCE_LEN], mac[CSHA256_LEN];
	int64_t mark = 0;
	size_t i;

	session = 0;
	reqseq = 0;
	*status = 0;
	h.version = CASCADE_PROTOCOL_VERSION;
	h.peer = (char *)addr;
	h.kind = CASCADE__PEER_KIND__PEER_CLIENT;
	h.carrier = CASCADE__CARRIER__CARRIER_TCP;
	if ((rep = rpc(CASCADE__MSG_TYPE__MSG_HELLO, &h.base, 0)) == NULL)
		return -1;
	if ((*status = rep->status) != 0) {
		note("hello: %s: %s", cstatus_str(rep->status), rep->error);
		cascade__reply__free_unpacked(rep, NULL);
		return -1;
	}
	hr = cascade__hello_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (hr == NULL || hr->nonce.len != CNONCE_LEN)
		die("bad hello reply");
	memcpy(sn, hr->nonce.data, CNONCE_LEN);
	cascade__hello_reply__free_unpacked(hr, NULL);
	crandom(cn, sizeof(cn));
	cauth_mac(secret, secretlen, addr, sn, cn, mac);
	a.peer = (char *)addr;
	a.nonce.data = cn;
	a.nonce.len = CNONCE_LEN;
	a.server_nonce.data = sn;
	a.server_nonce.len = CNONCE_LEN;
	a.mac.data = mac;
	a.mac.len = sizeof(mac);
	sp.epoch = up_epoch;
	sp.seq = 1;
	a.streams = &spp;
	a.n_streams = 1;
	if ((rep = rpc(CASCADE__MSG_TYPE__MSG_AUTH, &a.base, 0)) == NULL)
		return -1;
	/* the Auth reply comes under the session key: the node's proof */
	csession_key(secret, secretlen, addr, sn, cn, skey);
	if (rep->status == 0 && cenv_reply_verify(rep, 0, 0, skey) != 0)
		die("the node did not prove the secret");
	if ((*status = rep->status) != 0) {
		note("auth: %s: %s", cstatus_str(rep->status), rep->error);
		cascade__reply__free_unpacked(rep, NULL);
		return -1;
	}
	ar = cascade__auth_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (ar == NULL)
		die("bad auth reply");
	session = ar->session;
	for (i = 0; i < ar->n_marks; i++)
		if (ar->marks[i]->epoch == up_epoch)
			mark = (int64_t)ar->marks[i]->seq;
	cascade__auth_reply__free_unpacked(ar, NULL);
	if (do_replay) {
		uint64_t keep = session;

		session = 0;
		rep = rpc(CASCADE__MSG_TYPE__MSG_AUTH, &a.base, 0);
		printf("replay %s\n", rep ? cstatus_str(rep->status) : "transport error");
		if (rep)
			cascade__reply__free_unpacked(rep, NULL);
		session = keep;
	}
	return mark;
}

static Cascade__Packet *
make_packet(int n, uint8_t id[CID_LEN])
{
	Cascade__Packet *p = calloc(1, sizeof(*p));
	char *pl;

	cascade__packet__init(p);
	p->version = CPKT_VERSION;
	p->id.data = id;
	p->id.len = CID_LEN;
	p->src = (char *)(forged_src ? forged_src : addr);
	p->dst = (char *)dst;
	p->command = "test.echo";
	pl = calloc(1, (size_t)size + 64);
	snprintf(pl, (size_t)size + 64, "n=%d src=%s", n, addr);
	p->payload.data = (uint8_t *)pl;
	p->payload.len = strlen(pl) > (size_t)size ? strlen(pl) : (size_t)size;
	if (ttl_ms < 0)
		p->flags |= CASCADE__PACKET_FLAG__FLAG_NO_TTL;
	else
		p->ttl_ms = ttl_ms;
	if (notify)
		p->flags |= CASCADE__PACKET_FLAG__FLAG_NOTIFY;
	if (receipt)
		p->flags |= CASCADE__PACKET_FLAG__FLAG_RECEIPT;
	return p;
}

/* Pushes packets [from, to] (1-based); returns acked_seq or -1. */
static int64_t
push_range(Cascade__Packet **pkts, int from, int to)
{
	Cascade__Push push = CASCADE__PUSH__INIT;
	Cascade__PushReply *pr;
	Cascade__Reply *rep;
	uint64_t *seqs = calloc((size_t)(to - from + 1), sizeof(uint64_t));
	int64_t acked;
	int i;
	size_t k;

	for (i = from; i <= to; i++)
		seqs[i - from] = (uint64_t)i;
	push.epoch = up_epoch;
	push.first_seq = (uint64_t)from;
	push.last_seq = (uint64_t)to;
	push.packets = &pkts[from - 1];
	push.n_packets = (size_t)(to - from + 1);
	push.seqs = seqs;
	push.n_seqs = push.n_packets;
	rep = rpc(CASCADE__MSG_TYPE__MSG_PUSH, &push.base, 1);
	free(seqs);
	if (rep == NULL)
		return -1;
	if (rep->status != 0) {
		note("push: %s: %s", cstatus_str(rep->status), rep->error);
		printf("push-status %s\n", cstatus_str(rep->status));
		cascade__reply__free_unpacked(rep, NULL);
		return -2;
	}
	pr = cascade__push_reply__unpack(NULL, rep->body.len, rep->body.data);
	cascade__reply__free_unpacked(rep, NULL);
	if (pr == NULL)
		die("bad push reply");
	for (k = 0; k < pr->n_rejects; k++)
		printf("rejected seq=%llu reason=%s text=%s\n",
		    (unsigned long long)pr->rejects[k]->seq, creason_str(pr->rejects[k]->reason),
		    pr->rejects[k]->text);
	if (pr->refused)
		note("push refused for now: %s", creason_str(pr->refused));
	acked = (int64_t)pr->acked_seq;
	cascade__push_reply__free_unpacked(pr, NULL);
	return acked;
}

static int
do_send(void)
{
	Cascade__Packet **pkts = calloc((size_t)count + 1, sizeof(*pkts));
	uint8_t (*ids)[CID_LEN] = calloc((size_t)count + 1, CID_LEN);
	int64_t mark = -1, a, deadline = cmono_ms() + waitsec * 1000LL;
	uint32_t status;
	int i, next, end;

	for (i = 0; i < count; i++) {
		char idt[CID_TEXT_LEN];

		cid_next(ids[i]);
		pkts[i] = make_packet(i + 1, ids[i]);
		if (cancel_id != NULL) {
			/* a cancel for cancel_id, in the same flow */
			pkts[i]->kind = CASCADE__PACKET_KIND__KIND_CANCEL;
			pkts[i]->command = "cancel";
			pkts[i]->payload.len = 0;
			pkts[i]->ref_id.data = malloc(CID_LEN);
			pkts[i]->ref_id.len = CID_LEN;
			if (cid_parse(cancel_id, pkts[i]->ref_id.data) != 0)
				die("bad id %s", cancel_id);
		}
		if (print_ids)
			printf("id %s\n", cid_format(ids[i], idt));
	}
	while (cmono_ms() < deadline) {
		if (mark < 0) {
			mark = login(&status, 0);
			if (mark < 0) {
				if (status == CASCADE__STATUS__STATUS_UNKNOWN_PEER ||
				    status == CASCADE__STATUS__STATUS_AUTH_FAILED) {
					printf("login-status %s\n", cstatus_str(status));
					return 3;
				}
				usleep(200000);
				continue;
			}
		}
		if (mark >= count)
			break;
		next = (int)mark + 1;
		end = next + batch - 1 > count ? count : next + batch - 1;
		if (reverse && end < count) {
			/* the second batch overtakes the first: it must not be stored */
			int end2 = end + batch > count ? count : end + batch;

			a = push_range(pkts, end + 1, end2);
			if (a >= 0 && a > mark)
				die("a push starting above mark+1 was stored (acked %lld, mark %lld)",
				    (long long)a, (long long)mark);
		}
		a = push_range(pkts, next, end);
		if (a == -2 && batch > 256)
			return 4;       /* refused outright (oversized batch test) */
		if (a < 0) {
			mark = -1;      /* start over with Hello */
			usleep(200000);
			continue;
		}
		if (a < mark)
			note("node mark went back from %lld to %lld", (long long)mark, (long long)a);
		if (a == mark)
			usleep(100000); /* held back (journal full): retry later */
		mark = a;
	}
	printf("sent %d acked %lld\n", count, (long long)mark);
	return mark >= count ? 0 : 1;
}

static int
do_recv(void)
{
	FILE *out = fopen(outfile, "a");
	uint64_t epoch = 0, acked = 0;
	int64_t deadline = cmono_ms() + waitsec * 1000LL;
	int got = 0, logged_in = 0;
	uint32_t status;
	char **seen = NULL;
	size_t nseen = 0;

	if (out == NULL)
		die("%s: %s", outfile, strerror(errno));
	setvbuf(out, NULL, _IOLBF, 0);
	/* -n 0: listen (for notices) until the -W deadline */
	while ((count == 0 || got < count) && cmono_ms() < deadline) {
		Cascade__Pull pl = CASCADE__PULL__INIT;
		Cascade__PullReply *pr;
		Cascade__Reply *rep;
		size_t i;

		if (!logged_in) {
			if (login(&status, 0) < 0) {
				if (status == CASCADE__STATUS__STATUS_UNKNOWN_PEER ||
				    status == CASCADE__STATUS__STATUS_AUTH_FAILED)
					return 3;
				usleep(200000);
				continue;
			}
			logged_in = 1;
		}
		pl.epoch = epoch;
		pl.acked_seq = acked;
		pl.wait_ms = 2000;
		pl.max = 256;
		if ((rep = rpc(CASCADE__MSG_TYPE__MSG_PULL, &pl.base, 1)) == NULL) {
			logged_in = 0;
			continue;
		}
		if (rep->status != 0) {
			note("pull: %s: %s", cstatus_str(rep->status), rep->error);
			cascade__reply__free_unpacked(rep, NULL);
			logged_in = 0;
			usleep(100000);
			continue;
		}
		pr = cascade__pull_reply__unpack(NULL, rep->body.len, rep->body.data);
		cascade__reply__free_unpacked(rep, NULL);
		if (pr == NULL)
			die("bad pull reply");
		if (pr->epoch != epoch) {
			/* a new stream: the node's lowest unacked starts it */
			epoch = pr->epoch;
			acked = pr->first_seq - 1;
		}
		for (i = 0; i < pr->n_packets; i++) {
			Cascade__Packet *p = pr->packets[i];
			char idt[CID_TEXT_LEN], nbuf[32] = "-";
			const char *ns;
			size_t k;

			if (pr->seqs[i] <= acked)
				continue;       /* already committed: a resend */
			cid_format(p->id.data, idt);
			if (p->kind == CASCADE__PACKET_KIND__KIND_DATA && p->payload.len > 2 &&
			    (ns = memchr(p->payload.data, 'n', p->payload.len)) != NULL)
				sscanf(ns, "n=%31[0-9]", nbuf);
			char trace[1024] = "";

			for (k = 0; k < p->n_trace; k++) {
				size_t o = strlen(trace);

				snprintf(trace + o, sizeof(trace) - o, "%s%s:%s", k ? "," : "",
				    p->trace[k]->node, p->trace[k]->leg ? "down" : "up");
			}
			fprintf(out, "%016llx %llu %s %s %s %u %u %s\n", (unsigned long long)pr->epoch,
			    (unsigned long long)pr->seqs[i], idt, p->src, nbuf, p->kind, p->notice,
			    trace[0] ? trace : "-");
			if (p->kind != CASCADE__PACKET_KIND__KIND_DATA)
				continue;
			for (k = 0; k < nseen; k++)
				if (strcmp(seen[k], idt) == 0)
					break;
			if (k == nseen) {
				seen = realloc(seen, (nseen + 1) * sizeof(char *));
				seen[nseen++] = strdup(idt);
				got++;
			}
		}
		if (pr->last_seq >= pr->first_seq && pr->last_seq > acked)
			acked = pr->last_seq;   /* "committed" (in the file): ack on the next pull */
		cascade__pull_reply__free_unpacked(pr, NULL);
	}
	/* one last pull acknowledges what we wrote */
	if (logged_in) {
		Cascade__Pull pl = CASCADE__PULL__INIT;
		Cascade__Reply *rep;

		pl.epoch = epoch;
		pl.acked_seq = acked;
		pl.wait_ms = 0;
		pl.max = 1;
		if ((rep = rpc(CASCADE__MSG_TYPE__MSG_PULL, &pl.base, 1)) != NULL)
			cascade__reply__free_unpacked(rep, NULL);
	}
	fclose(out);
	printf("received %d of %d\n", got, count);
	return got >= count ? 0 : 1;
}

static int
do_raw(void)
{
	size_t n = strlen(hexbody) / 2, i, rlen;
	uint8_t *buf = malloc(n + 1), *rbuf;
	Cascade__Reply *rep;
	int rc;

	for (i = 0; i < n; i++) {
		unsigned v;

		sscanf(hexbody + 2 * i, "%2x", &v);
		buf[i] = (uint8_t)v;
	}
	if ((rc = nng_send(sock, buf, n, 0)) != 0)
		die("send: %s", nng_strerror(rc));
	if ((rc = nng_recv(sock, &rbuf, &rlen, NNG_FLAG_ALLOC)) != 0) {
		printf("no reply: %s\n", nng_strerror(rc));
		return 1;
	}
	rep = cascade__reply__unpack(NULL, rlen, rbuf);
	printf("status %s: %s\n", rep ? cstatus_str(rep->status) : "undecodable",
	    rep ? rep->error : "");
	return 0;
}

int
main(int argc, char **argv)
{
	const char *mode;
	char msg[256];
	int ch, r;

	if (argc < 2)
		die("usage: tclient send|recv|auth|raw [options]");
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "u:a:s:t:n:b:z:T:NRS:rW:o:Px:Ic:")) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'a': addr = optarg; break;
		case 's': secretfile = optarg; break;
		case 't': dst = optarg; break;
		case 'n': count = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'z': size = atoi(optarg); break;
		case 'T': ttl_ms = atoll(optarg); break;
		case 'N': notify = 1; break;
		case 'R': receipt = 1; break;
		case 'S': forged_src = optarg; break;
		case 'r': reverse = 1; break;
		case 'W': waitsec = atoi(optarg); break;
		case 'o': outfile = optarg; break;
		case 'P': replay = 1; break;
		case 'x': hexbody = optarg; break;
		case 'I': print_ids = 1; break;
		case 'c': cancel_id = optarg; break;
		default: die("bad option");
		}
	}
	if (url == NULL)
		die("-u URL is required");
	up_epoch = crandom64();
	sock_open();
	if (strcmp(mode, "raw") == 0)
		return do_raw();
	if (addr == NULL || secretfile == NULL)
		die("-a and -s are required");
	if ((r = csecret_load(secretfile, secret, sizeof(secret), msg, sizeof(msg))) < 0)
		die("%s", msg);
	secretlen = (size_t)r;
	if (strcmp(mode, "send") == 0) {
		if (dst == NULL)
			die("-t DST is required");
		return do_send();
	}
	if (strcmp(mode, "recv") == 0) {
		if (outfile == NULL)
			die("-o FILE is required");
		return do_recv();
	}
	if (strcmp(mode, "auth") == 0) {
		uint32_t status;
		int64_t m = login(&status, replay);

		printf("auth %s\n", m >= 0 ? "ok" : cstatus_str(status));
		return m >= 0 ? 0 : 1;
	}
	die("unknown mode %s", mode);
	return 1;
}
