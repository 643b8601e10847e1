/*
 * tclient.c — a small test client speaking the link protocol as a client
 * session (blocking nng req over tcp), for the integration tests until the
 * SDK exists, and for hostile input the SDK would never send.
 *
 *   tclient send -u URL -a NODE/CLIENT -s SECRET -t DST -n COUNT [-b BATCH]
 *                [-z BYTES] [-T TTL_MS] [-N] [-R] [-S SRC] [-r] [-W SECONDS]
 *                [-i MS] [-U]
 *       keeps every packet until the node acks it; reconnects and resumes at
 *       the node's mark + 1. -i MS pauses MS ms after each acked batch (a
 *       steady stream instead of a burst). -N asks for notices, -R for receipts, -U marks them urgent, -S forges
 *       the src, -r sends each pair of batches in reverse order (the second
 *       overtakes the first). Exits 0 when all COUNT are acked. -I prints
 *       each packet's id; -c ID sends a cancel of packet ID instead (to DST,
 *       the original's destination). Hostile packets the SDK never sends:
 *       -K notice|audit sends that kind instead (-F ID its ref_id, -C CODE
 *       the notice code, 1 delivered .. 6 too late), -y ID sets reply_to,
 *       -H NODE[:down],... prefills the hop trace.
 *   tclient recv -u URL -a NODE/CLIENT -s SECRET -n COUNT -o FILE [-W SECONDS]
 *       pulls until COUNT distinct data packets arrived; every packet seen on
 *       the wire is appended to FILE as "epoch seq id src n kind notice trace"
 *       (trace: node:up|down,...) then "ref=ID reply=ID" ("-" when absent).
 *       -n 0 listens until the -W deadline.
 *   Common: -k logs in as a child node (ADDR is then a node id) instead of
 *       a client.
 *   tclient auth -u URL -a ADDR -s SECRET [-P]   Hello + Auth, prints the status;
 *       -P replays the Auth afterwards and prints that status too.
 *       -D MS waits that long between the Hello and the Auth (a slow link).
 *       -E proves with an empty key instead of the secret's (a forger's
 *       guess at a peer whose secret is gone; -s is still read).
 *   tclient raw -u URL -x HEX                    sends raw bytes, prints the reply status
 *   tclient bomb -u URL -B KIND -z BYTES [-a ADDR -s SECRET]
 *       one hostile request of about BYTES bytes that is cheap to send and
 *       costly to unpack, then prints "bomb KIND STATUS: ERROR (N ms)":
 *       hello (a Hello padded with unknown fields), envelope (a Request
 *       envelope padded with unknown fields), auth (an Auth of empty
 *       streams entries, no Hello needed), push (after a login: a Push of
 *       empty packets), hops (after a login: one packet of empty hops).
 *   tclient hflood -u URL -a ADDR -n COUNT
 *       COUNT Hellos as ADDR (each answered, none followed by an Auth);
 *       prints "hellos N ok K refused R (N ms)".
 *
 * Payload of data packets: "n=<i> src=<addr>" (then " TEXT" with -m TEXT, a
 * marker to look for in a journal file) padded to -z bytes.
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

#include "packets.h"
#include "tlink.h"

static const char *url, *addr, *secretfile, *dst, *outfile, *forged_src, *hexbody;
static const char *marker = "";         /* -m: appended to every payload */
static const char *command = "test.echo"; /* -M: the packets' command */
static int count = 1, batch = 64, size = 64, notify, receipt, urgent, reverse, replay, waitsec = 120;
static int interval_ms;
static int print_ids, auth_delay_ms, empty_key;
static const char *bomb_kind;
static const char *cancel_id, *kind_name, *ref_hex, *reply_hex, *hops;
static int as_node, notice_code = 1;
static int64_t ttl_ms = -1;
static uint8_t secret[64];
static size_t secretlen;
static struct tlink *tl;                /* the session (tests/tools/tlink.c) */

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

static uint64_t up_epoch;

/* Hello + Auth. Returns the mark for our up epoch, or -1 (status in *status). */
static int64_t
login(uint32_t *status, int do_replay)
{
	Cascade__Reply *rep;
	int64_t mark;
	uint64_t keep;

	tl->auth_delay_ms = auth_delay_ms;
	mark = tlink_login(tl, addr, as_node ? CASCADE__PEER_KIND__PEER_NODE :
	    CASCADE__PEER_KIND__PEER_CLIENT, secret, secretlen, up_epoch, 1, status);
	if (mark < 0 || !do_replay)
		return mark;
	/* the same Auth again, as an eavesdropper would replay it */
	keep = tl->session;
	tl->session = 0;
	rep = tlink_rpc(tl, CASCADE__MSG_TYPE__MSG_AUTH, &tl->ca.a.base, 0);
	printf("replay %s\n", rep ? cstatus_str(rep->status) : "transport error");
	if (rep)
		cascade__reply__free_unpacked(rep, NULL);
	tl->session = keep;
	return mark;
}

static void
id_field(ProtobufCBinaryData *f, const char *text)
{
	f->data = malloc(CID_LEN);
	f->len = CID_LEN;
	if (cid_parse(text, f->data) != 0)
		die("bad id %s", text);
}

/* -K, -F, -C, -y, -H: what a hostile peer might put in a packet. */
static void
forge(Cascade__Packet *p)
{
	char *list, *tok, *save, *leg;

	if (kind_name != NULL) {
		if (strcmp(kind_name, "notice") == 0) {
			p->kind = CASCADE__PACKET_KIND__KIND_NOTICE;
			p->notice = (uint32_t)notice_code;
		} else if (strcmp(kind_name, "audit") == 0)
			p->kind = CASCADE__PACKET_KIND__KIND_AUDIT;
		else if (strcmp(kind_name, "data") != 0)
			die("bad kind %s", kind_name);
	}
	if (ref_hex != NULL)
		id_field(&p->ref_id, ref_hex);
	if (reply_hex != NULL)
		id_field(&p->reply_to, reply_hex);
	if (hops == NULL)
		return;
	list = strdup(hops);
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		Cascade__Hop *h = calloc(1, sizeof(*h));

		cascade__hop__init(h);
		if ((leg = strchr(tok, ':')) != NULL) {
			*leg++ = '\0';
			h->leg = strcmp(leg, "down") == 0;
		}
		h->node = strdup(tok);
		h->arrived_ms = cnow_ms();
		p->trace = realloc(p->trace, (p->n_trace + 1) * sizeof(*p->trace));
		p->trace[p->n_trace++] = h;
	}
	free(list);
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
	p->command = (char *)command;
	pl = calloc(1, (size_t)size + 64 + strlen(marker));
	snprintf(pl, (size_t)size + 64 + strlen(marker), "n=%d src=%s%s%s", n, addr,
	    *marker ? " " : "", marker);
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
	if (urgent)
		p->flags |= CASCADE__PACKET_FLAG__FLAG_URGENT;
	forge(p);
	return p;
}

/* Pushes packets [from, to] (1-based); returns acked_seq or -1. */
static int64_t
push_range(Cascade__Packet **pkts, int from, int to)
{
	Cascade__PushReply *pr;
	uint64_t *seqs = calloc((size_t)(to - from + 1), sizeof(uint64_t));
	uint32_t status;
	int64_t acked;
	int i, rc;
	size_t k;

	for (i = from; i <= to; i++)
		seqs[i - from] = (uint64_t)i;
	rc = tlink_push(tl, up_epoch, (uint64_t)from, (uint64_t)to, &pkts[from - 1], seqs,
	    (size_t)(to - from + 1), &status, &pr);
	free(seqs);
	if (rc == -2)
		printf("push-status %s\n", cstatus_str(status));
	if (rc != 0)
		return rc;
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

/* Frees what make_packet and forge allocated (id points into the caller's array). */
static void
free_packet(Cascade__Packet *p)
{
	size_t i;

	for (i = 0; i < p->n_trace; i++) {
		free(p->trace[i]->node);
		free(p->trace[i]);
	}
	free(p->trace);
	free(p->payload.data);
	free(p->ref_id.data);
	free(p->reply_to.data);
	free(p);
}

static int
send_done(Cascade__Packet **pkts, uint8_t (*ids)[CID_LEN], int rc)
{
	int i;

	for (i = 0; i < count; i++)
		free_packet(pkts[i]);
	free(pkts);
	free(ids);
	return rc;
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
			id_field(&pkts[i]->ref_id, cancel_id);
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
					return send_done(pkts, ids, 3);
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
			return send_done(pkts, ids, 4); /* refused outright (oversized batch test) */
		if (a < 0) {
			mark = -1;      /* start over with Hello */
			usleep(200000);
			continue;
		}
		if (a < mark)
			note("node mark went back from %lld to %lld", (long long)mark, (long long)a);
		if (a == mark)
			usleep(100000); /* held back (journal full): retry later */
		else if (interval_ms > 0)
			usleep((useconds_t)interval_ms * 1000);
		mark = a;
	}
	printf("sent %d acked %lld\n", count, (long long)mark);
	return send_done(pkts, ids, mark >= count ? 0 : 1);
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
		Cascade__PullReply *pr;
		size_t i;
		int rc;

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
		if ((rc = tlink_pull(tl, epoch, acked, 2000, 256, &status, &pr)) != 0) {
			logged_in = 0;
			if (rc == -2)
				usleep(100000);
			continue;
		}
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
			char ref[CID_TEXT_LEN] = "-", rto[CID_TEXT_LEN] = "-";

			if (p->ref_id.len == CID_LEN)
				cid_format(p->ref_id.data, ref);
			if (p->reply_to.len == CID_LEN)
				cid_format(p->reply_to.data, rto);
			fprintf(out, "%016llx %llu %s %s %s %u %u %s ref=%s reply=%s\n",
			    (unsigned long long)pr->epoch, (unsigned long long)pr->seqs[i], idt, p->src,
			    nbuf, p->kind, p->notice, trace[0] ? trace : "-", ref, rto);
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
		Cascade__PullReply *pr;

		if (tlink_pull(tl, epoch, acked, 0, 1, &status, &pr) == 0)
			cascade__pull_reply__free_unpacked(pr, NULL);
	}
	fclose(out);
	printf("received %d of %d\n", got, count);
	while (nseen > 0)
		free(seen[--nseen]);
	free(seen);
	return got >= count ? 0 : 1;
}

static int
do_raw(void)
{
	size_t n = strlen(hexbody) / 2, i;
	uint8_t *buf = malloc(n + 1);
	Cascade__Reply *rep;

	for (i = 0; i < n; i++) {
		unsigned v;

		sscanf(hexbody + 2 * i, "%2x", &v);
		buf[i] = (uint8_t)v;
	}
	rep = tlink_rpc_raw(tl, buf, n);
	free(buf);
	if (rep == NULL && tl->err != 0) {
		printf("no reply: %s\n", nng_strerror(tl->err));
		return 1;
	}
	printf("status %s: %s\n", rep ? cstatus_str(rep->status) : "undecodable",
	    rep ? rep->error : "");
	if (rep != NULL)
		cascade__reply__free_unpacked(rep, NULL);
	return 0;
}

/* n bytes of the same two-byte field, tag then a zero varint or length */
static size_t
pad_pairs(uint8_t *buf, size_t n, uint8_t tag)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2) {
		buf[i] = tag;
		buf[i + 1] = 0;
	}
	return i;
}

/* A varint-length-prefixed field header: tag, then len as a varint. */
static size_t
ld_header(uint8_t *buf, uint8_t tag, uint64_t len)
{
	size_t i = 0;

	buf[i++] = tag;
	do {
		buf[i++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len > 0);
	return i;
}

static int
do_bomb(void)
{
	size_t z = (size_t)size, blen = 0, len;
	uint8_t *body = calloc(1, z + 256), *buf;
	uint32_t type, status;
	int keyed = 0;
	int64_t t0;
	Cascade__Reply *rep;

	if (body == NULL)
		die("out of memory");
	if (strcmp(bomb_kind, "hello") == 0 || strcmp(bomb_kind, "envelope") == 0) {
		Cascade__Hello h = CASCADE__HELLO__INIT;

		h.version = CASCADE_PROTOCOL_VERSION;
		h.peer = (char *)(addr ? addr : "x/y");
		h.kind = CASCADE__PEER_KIND__PEER_CLIENT;
		blen = protobuf_c_message_pack(&h.base, body);
		if (bomb_kind[0] == 'h')
			blen += pad_pairs(body + blen, z, 0x78);        /* field 15, varint 0 */
		type = CASCADE__MSG_TYPE__MSG_HELLO;
	} else if (strcmp(bomb_kind, "auth") == 0) {
		blen = pad_pairs(body, z, 0x2a);                        /* field 5: empty StreamPos */
		type = CASCADE__MSG_TYPE__MSG_AUTH;
	} else if (strcmp(bomb_kind, "push") == 0 || strcmp(bomb_kind, "hops") == 0) {
		Cascade__Push push = CASCADE__PUSH__INIT;
		uint64_t one = 1;

		if (login(&status, 0) < 0)
			die("login: %s", cstatus_str(status));
		push.epoch = up_epoch;
		push.first_seq = 1;
		push.last_seq = 1;
		push.seqs = &one;
		push.n_seqs = 1;
		blen = protobuf_c_message_pack(&push.base, body);
		if (bomb_kind[1] == 'u') {
			blen += pad_pairs(body + blen, z, 0x22);        /* field 4: empty Packet */
		} else {
			size_t n = z - z % 2;

			blen += ld_header(body + blen, 0x22, n);        /* one Packet of ... */
			blen += pad_pairs(body + blen, n, 0x52);        /* field 10: empty Hops */
		}
		type = CASCADE__MSG_TYPE__MSG_PUSH;
		keyed = 1;
	} else
		die("unknown bomb %s", bomb_kind);
	/* built by hand: tlink_rpc would pack what protobuf-c holds, not these bytes */
	tl->seq = tl->session != 0 ? tl->seq + 1 : 0;
	buf = cenv_request_pack(type, tl->session, tl->seq, body, blen, keyed ? tl->key : NULL,
	    &len);
	free(body);
	if (strcmp(bomb_kind, "envelope") == 0) {
		buf = realloc(buf, len + z);
		len += pad_pairs(buf + len, z, 0x78);
	}
	t0 = cmono_ms();
	rep = tlink_rpc_raw(tl, buf, len);
	free(buf);
	if (rep == NULL && tl->err != 0) {
		printf("bomb %s no reply: %s (%lld ms)\n", bomb_kind, nng_strerror(tl->err),
		    (long long)(cmono_ms() - t0));
		return 1;
	}
	printf("bomb %s %s: %s (%lld ms)\n", bomb_kind, rep ? cstatus_str(rep->status) :
	    "undecodable", rep ? rep->error : "", (long long)(cmono_ms() - t0));
	if (rep != NULL)
		cascade__reply__free_unpacked(rep, NULL);
	return 0;
}

static int
do_hflood(void)
{
	Cascade__Hello h;
	Cascade__Reply *rep;
	int i, ok = 0, refused = 0;
	int64_t t0 = cmono_ms();

	clink_hello(&h, addr, CASCADE__PEER_KIND__PEER_CLIENT, CASCADE__CARRIER__CARRIER_TCP);
	for (i = 0; i < count; i++) {
		if ((rep = tlink_rpc(tl, CASCADE__MSG_TYPE__MSG_HELLO, &h.base, 0)) == NULL)
			break;
		if (rep->status == 0)
			ok++;
		else
			refused++;
		cascade__reply__free_unpacked(rep, NULL);
	}
	printf("hellos %d ok %d refused %d (%lld ms)\n", i, ok, refused,
	    (long long)(cmono_ms() - t0));
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
	while ((ch = getopt(argc, argv, "u:a:s:t:n:b:z:T:NRUS:rW:o:Px:Ic:i:K:F:C:y:H:kD:EB:m:M:")) != -1) {
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
		case 'U': urgent = 1; break;
		case 'S': forged_src = optarg; break;
		case 'r': reverse = 1; break;
		case 'W': waitsec = atoi(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'o': outfile = optarg; break;
		case 'P': replay = 1; break;
		case 'x': hexbody = optarg; break;
		case 'I': print_ids = 1; break;
		case 'c': cancel_id = optarg; break;
		case 'K': kind_name = optarg; break;
		case 'F': ref_hex = optarg; break;
		case 'C': notice_code = atoi(optarg); break;
		case 'y': reply_hex = optarg; break;
		case 'H': hops = optarg; break;
		case 'k': as_node = 1; break;
		case 'D': auth_delay_ms = atoi(optarg); break;
		case 'E': empty_key = 1; break;
		case 'B': bomb_kind = optarg; break;
		case 'm': marker = optarg; break;
		case 'M': command = optarg; break;
		default: die("bad option");
		}
	}
	if (url == NULL)
		die("-u URL is required");
	up_epoch = crandom64();
	tl = tlink_open(url, 40000, "tclient");
	tl->peer = addr;
	if (strcmp(mode, "raw") == 0)
		return do_raw();
	if (strcmp(mode, "bomb") == 0 && bomb_kind != NULL && strcmp(bomb_kind, "push") != 0 &&
	    strcmp(bomb_kind, "hops") != 0)
		return do_bomb();
	if (strcmp(mode, "hflood") == 0 && addr != NULL)
		return do_hflood();
	if (addr == NULL || secretfile == NULL)
		die("-a and -s are required");
	if ((r = csecret_load(secretfile, secret, sizeof(secret), msg, sizeof(msg))) < 0)
		die("%s", msg);
	secretlen = empty_key ? 0 : (size_t)r;
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
	if (strcmp(mode, "bomb") == 0 && bomb_kind != NULL)
		return do_bomb();
	if (strcmp(mode, "auth") == 0) {
		uint32_t status;
		int64_t m = login(&status, replay);

		printf("auth %s\n", m >= 0 ? "ok" : cstatus_str(status));
		return m >= 0 ? 0 : 1;
	}
	die("unknown mode %s", mode);
	return 1;
}
