/*
 * pbgen.c — builds link protocol requests for the http tests, which send
 * them with the real curl(1), and decodes the replies curl got back.
 *
 *   pbgen hello -a ADDR [-K node|client]
 *   pbgen auth  -a ADDR -s SECRET -N SNONCE -C CNONCE [-e EPOCH]
 *   pbgen push  -a ADDR -s SECRET -N SNONCE -C CNONCE -i SESSION -e EPOCH
 *               -f FIRST -n COUNT -t DST
 *   pbgen pull  -a ADDR -s SECRET -N SNONCE -C CNONCE -i SESSION [-e EPOCH]
 *               [-k ACKED] [-w WAIT_MS] [-m MAX]
 *       write the encoded Request envelope to stdout. Nonces are 64 hex
 *       digits (CNONCE is ours, chosen by the test; SNONCE comes from the
 *       Hello reply); SESSION is 16 hex digits; requests after Auth carry
 *       the mac under the session key and the request counter -q SEQ
 *       (default 1). -M leaves the mac out.
 *   pbgen decode [FILE]
 *       decodes a Reply (stdin by default) and prints one line:
 *       "type=T status=S" then, for an OK reply, the fields of its body
 *       (hello: nonce node; auth: session carrier; push: acked rejects;
 *       pull: epoch first last packets ns=N,N,...), and "error=TEXT" last.
 *       Exits 1 when the bytes are not a Reply.
 *
 * Packets pushed carry "n=<i> src=<addr>" like tclient's, numbered from FIRST.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "packets.h"

static const char *addr, *secretfile, *snonce_hex, *cnonce_hex, *dst;
static uint64_t session, epoch, first = 1, acked, reqseq = 1;
static int count = 1, waitms = 0, maxn = 256, nomac, client_kind;

static void
die(const char *msg, const char *arg)
{
	fprintf(stderr, "pbgen: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

static void
hex_in(const char *hex, uint8_t *out, size_t n, const char *what)
{
	size_t i;
	unsigned v;

	if (hex == NULL || strlen(hex) != 2 * n)
		die("needs a hex value of the right length", what);
	for (i = 0; i < n; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			die("bad hex", what);
		out[i] = (uint8_t)v;
	}
}

static void
hex_out(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void
emit(uint32_t type, const ProtobufCMessage *m, const uint8_t *key)
{
	size_t len;
	uint8_t *buf = clink_request(type, session, session != 0 ? reqseq : 0, m, key, &len);

	if (buf == NULL || fwrite(buf, 1, len, stdout) != len)
		die("cannot write the request", NULL);
	free(buf);
}

/* The secret, the nonces and the session key derived from them. */
static void
keys(uint8_t *secret, size_t *secretlen, uint8_t sn[CNONCE_LEN], uint8_t cn[CNONCE_LEN],
    uint8_t key[CSHA256_LEN])
{
	char msg[256];
	int n;

	if (addr == NULL)
		die("-a ADDR is required", NULL);
	if (secretfile == NULL)
		die("-s SECRET is required", NULL);
	if ((n = csecret_load(secretfile, secret, 64, msg, sizeof(msg))) < 0)
		die(msg, NULL);
	*secretlen = (size_t)n;
	hex_in(snonce_hex, sn, CNONCE_LEN, "-N");
	hex_in(cnonce_hex, cn, CNONCE_LEN, "-C");
	csession_key(secret, *secretlen, addr, sn, cn, key);
}

static int
gen(const char *what)
{
	uint8_t secret[64], sn[CNONCE_LEN], cn[CNONCE_LEN], key[CSHA256_LEN];
	size_t secretlen;

	if (strcmp(what, "hello") == 0) {
		Cascade__Hello h;

		if (addr == NULL)
			die("-a ADDR is required", NULL);
		clink_hello(&h, addr, client_kind ? CASCADE__PEER_KIND__PEER_CLIENT :
		    CASCADE__PEER_KIND__PEER_NODE, CASCADE__CARRIER__CARRIER_HTTP);
		emit(CASCADE__MSG_TYPE__MSG_HELLO, &h.base, NULL);
		return 0;
	}
	keys(secret, &secretlen, sn, cn, key);
	if (strcmp(what, "auth") == 0) {
		struct clink_auth ca;

		/* no -e (epoch 0): an Auth without streams */
		clink_auth_nonce(&ca, secret, secretlen, addr, sn, cn, epoch, first, NULL, 0,
		    CASCADE__CARRIER__CARRIER_HTTP);
		emit(CASCADE__MSG_TYPE__MSG_AUTH, &ca.a.base, NULL);
		return 0;
	}
	if (strcmp(what, "push") == 0) {
		Cascade__Push push;
		Cascade__Packet *pk, **pkts;
		uint64_t *seqs;
		uint8_t (*ids)[CID_LEN];
		char (*pl)[128];
		int i;

		if (dst == NULL || count < 1 || epoch == 0)
			die("push needs -t DST, -e EPOCH and -n COUNT >= 1", NULL);
		pk = calloc((size_t)count, sizeof(*pk));
		pkts = calloc((size_t)count, sizeof(*pkts));
		seqs = calloc((size_t)count, sizeof(*seqs));
		ids = calloc((size_t)count, CID_LEN);
		pl = calloc((size_t)count, sizeof(*pl));
		if (pk == NULL || pkts == NULL || seqs == NULL || ids == NULL || pl == NULL)
			die("out of memory", NULL);
		for (i = 0; i < count; i++) {
			cascade__packet__init(&pk[i]);
			cid_next(ids[i]);
			pk[i].version = CPKT_VERSION;
			pk[i].id.data = ids[i];
			pk[i].id.len = CID_LEN;
			pk[i].src = (char *)addr;
			pk[i].dst = (char *)dst;
			pk[i].command = "test.echo";
			snprintf(pl[i], sizeof(pl[i]), "n=%llu src=%s",
			    (unsigned long long)first + (unsigned)i, addr);
			pk[i].payload.data = (uint8_t *)pl[i];
			pk[i].payload.len = strlen(pl[i]);
			pk[i].flags = CASCADE__PACKET_FLAG__FLAG_NO_TTL;
			pkts[i] = &pk[i];
			seqs[i] = first + (unsigned)i;
		}
		clink_push(&push, epoch, first, first + (unsigned)count - 1, pkts, seqs,
		    (size_t)count);
		emit(CASCADE__MSG_TYPE__MSG_PUSH, &push.base, nomac ? NULL : key);
		free(pk);
		free(pkts);
		free(seqs);
		free(ids);
		free(pl);
		return 0;
	}
	if (strcmp(what, "pull") == 0) {
		Cascade__Pull p;

		clink_pull(&p, epoch, acked, (uint32_t)waitms, (uint32_t)maxn, 0);
		emit(CASCADE__MSG_TYPE__MSG_PULL, &p.base, nomac ? NULL : key);
		return 0;
	}
	die("unknown request", what);
	return 2;
}

static const char *
type_str(uint32_t t)
{
	static const char *names[] = { "none", "hello", "auth", "push", "pull", "routes" };

	return t < 6 ? names[t] : "?";
}

static int
decode(const char *file)
{
	FILE *f = file ? fopen(file, "rb") : stdin;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	Cascade__Reply *r;

	if (f == NULL)
		die("cannot open", file);
	for (;;) {
		if (len + 65536 > cap) {
			cap = (len + 65536) * 2;
			if ((buf = realloc(buf, cap)) == NULL)
				die("out of memory", NULL);
		}
		if ((n = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	if ((r = cascade__reply__unpack(NULL, len, buf)) == NULL) {
		printf("undecodable %zu bytes\n", len);
		free(buf);
		return 1;
	}
	printf("type=%s status=%s", type_str(r->type),
	    r->status == 0 ? "OK" : cstatus_str(r->status));
	if (r->status == 0 && r->type == CASCADE__MSG_TYPE__MSG_HELLO) {
		Cascade__HelloReply *hr = cascade__hello_reply__unpack(NULL, r->body.len,
		    r->body.data);

		if (hr != NULL) {
			printf(" nonce=");
			hex_out(hr->nonce.data, hr->nonce.len);
			printf(" node=%s", hr->node);
			cascade__hello_reply__free_unpacked(hr, NULL);
		}
	} else if (r->status == 0 && r->type == CASCADE__MSG_TYPE__MSG_AUTH) {
		Cascade__AuthReply *ar = cascade__auth_reply__unpack(NULL, r->body.len,
		    r->body.data);

		if (ar != NULL) {
			printf(" session=%016llx carrier=%u", (unsigned long long)ar->session,
			    ar->carrier);
			cascade__auth_reply__free_unpacked(ar, NULL);
		}
	} else if (r->status == 0 && r->type == CASCADE__MSG_TYPE__MSG_PUSH) {
		Cascade__PushReply *pr = cascade__push_reply__unpack(NULL, r->body.len,
		    r->body.data);

		if (pr != NULL) {
			printf(" acked=%llu rejects=%zu refused=%u",
			    (unsigned long long)pr->acked_seq, pr->n_rejects, pr->refused);
			cascade__push_reply__free_unpacked(pr, NULL);
		}
	} else if (r->status == 0 && r->type == CASCADE__MSG_TYPE__MSG_PULL) {
		Cascade__PullReply *pr = cascade__pull_reply__unpack(NULL, r->body.len,
		    r->body.data);
		size_t i;

		if (pr != NULL) {
			printf(" epoch=%016llx first=%llu last=%llu packets=%zu ns=",
			    (unsigned long long)pr->epoch, (unsigned long long)pr->first_seq,
			    (unsigned long long)pr->last_seq, pr->n_packets);
			for (i = 0; i < pr->n_packets; i++) {
				const Cascade__Packet *p = pr->packets[i];
				const uint8_t *s = p->payload.data;
				unsigned long v = 0;

				if (p->payload.len > 2 && s[0] == 'n' && s[1] == '=')
					v = strtoul((const char *)s + 2, NULL, 10);
				printf("%s%lu", i ? "," : "", v);
			}
			cascade__pull_reply__free_unpacked(pr, NULL);
		}
	}
	if (r->error != NULL && r->error[0] != '\0')
		printf(" error=%s", r->error);
	printf("\n");
	cascade__reply__free_unpacked(r, NULL);
	free(buf);
	if (f != stdin)
		fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *what;
	int ch;

	if (argc < 2)
		die("usage: pbgen hello|auth|push|pull|decode [options]", NULL);
	what = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "a:s:N:C:i:e:f:n:t:k:w:m:MK:q:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 's': secretfile = optarg; break;
		case 'N': snonce_hex = optarg; break;
		case 'C': cnonce_hex = optarg; break;
		case 'i': session = strtoull(optarg, NULL, 16); break;
		case 'e': epoch = strtoull(optarg, NULL, 16); break;
		case 'f': first = strtoull(optarg, NULL, 10); break;
		case 'n': count = atoi(optarg); break;
		case 't': dst = optarg; break;
		case 'k': acked = strtoull(optarg, NULL, 10); break;
		case 'w': waitms = atoi(optarg); break;
		case 'm': maxn = atoi(optarg); break;
		case 'M': nomac = 1; break;
		case 'q': reqseq = strtoull(optarg, NULL, 10); break;
		case 'K': client_kind = strcmp(optarg, "client") == 0; break;
		default: die("bad option", NULL);
		}
	}
	if (strcmp(what, "decode") == 0)
		return decode(optind < argc ? argv[optind] : NULL);
	if (isatty(STDOUT_FILENO))
		die("refusing to write binary to a terminal", NULL);
	return gen(what);
}
