/* packet.c — validation, encoding and decoding of packets, and Reason names. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packets.h"

/* Flags a peer may send; FLAG_LATE and FLAG_REDELIVERY are SDK-local. */
#define FLAGS_WIRE (CASCADE__PACKET_FLAG__FLAG_RECEIPT | CASCADE__PACKET_FLAG__FLAG_NO_TTL | \
	CASCADE__PACKET_FLAG__FLAG_DOWN | CASCADE__PACKET_FLAG__FLAG_URGENT |                \
	CASCADE__PACKET_FLAG__FLAG_NOTIFY)
#define FLAGS_LOCAL (CASCADE__PACKET_FLAG__FLAG_LATE | CASCADE__PACKET_FLAG__FLAG_REDELIVERY)

/* How much of a bad value a message quotes. */
#define QUOTE_MAX 80

/*
 * Writes s as a quoted C-like string into buf, escaping anything that is not
 * printable ASCII so that a message stays one line, and cutting it after
 * QUOTE_MAX characters with "...".
 */
static char *
quote(const char *s, char *buf, size_t len)
{
	size_t o = 0, i;

	if (len < 8) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (i = 0; s != NULL && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == QUOTE_MAX || o + 8 > len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(buf + o, 5, "\\x%02x", c);
			o += 4;
		} else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static enum cpkt_err
fault(enum cpkt_err e, char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg != NULL && msglen > 0) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return e;
}

static enum cpkt_err
check_addr(enum cpkt_err e, const char *field, const char *text, char *msg, size_t msglen)
{
	char q[QUOTE_MAX * 4 + 8];
	enum caddr_err ae;

	if (text == NULL || *text == '\0')
		return fault(e, msg, msglen, "%s: missing", field);
	if ((ae = caddr_parse(text, NULL)) != CADDR_OK)
		return fault(e, msg, msglen, "%s %s: %s", field, quote(text, q, sizeof(q)),
		    caddr_strerror(ae));
	return CPKT_OK;
}

static enum cpkt_err
check_command(const Cascade__Packet *p, char *msg, size_t msglen)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-";
	char q[QUOTE_MAX * 4 + 8];
	const char *c = p->command != NULL ? p->command : "";
	size_t n = strlen(c), good;

	if (n == 0) {
		if (p->kind == CASCADE__PACKET_KIND__KIND_DATA)
			return fault(CPKT_BAD_COMMAND, msg, msglen,
			    "command: missing (data packets need one)");
		return CPKT_OK;
	}
	if (n > CPKT_COMMAND_MAX)
		return fault(CPKT_BAD_COMMAND, msg, msglen,
		    "command %s: %zu characters, more than %d", quote(c, q, sizeof(q)), n,
		    CPKT_COMMAND_MAX);
	if ((good = strspn(c, ok)) != n)
		return fault(CPKT_BAD_COMMAND, msg, msglen,
		    "command %s: character %zu is outside [A-Za-z0-9._:/-]",
		    quote(c, q, sizeof(q)), good + 1);
	return CPKT_OK;
}

static enum cpkt_err
check_trace(const Cascade__Packet *p, char *msg, size_t msglen)
{
	char q[QUOTE_MAX * 4 + 8];
	enum caddr_err ae;
	size_t i;

	if (p->n_trace > CPKT_TRACE_MAX)
		return fault(CPKT_TRACE_TOO_LONG, msg, msglen, "trace: %zu hops, more than %d",
		    p->n_trace, CPKT_TRACE_MAX);
	if (p->n_trace > 0 && p->trace == NULL)
		return fault(CPKT_BAD_TRACE, msg, msglen, "trace: %zu hops but no hop array",
		    p->n_trace);
	for (i = 0; i < p->n_trace; i++) {
		const Cascade__Hop *h = p->trace[i];

		if (h == NULL)
			return fault(CPKT_BAD_TRACE, msg, msglen, "trace[%zu]: missing hop", i);
		if ((ae = caddr_check_node(h->node)) != CADDR_OK)
			return fault(CPKT_BAD_TRACE, msg, msglen, "trace[%zu] node %s: %s", i,
			    quote(h->node, q, sizeof(q)), caddr_strerror(ae));
		if (h->leg > 1)
			return fault(CPKT_BAD_TRACE, msg, msglen,
			    "trace[%zu] leg %u: neither 0 (up) nor 1 (down)", i, (unsigned)h->leg);
	}
	return CPKT_OK;
}

/*
 * protobuf-c's unpack keeps a field numbered 0, or a known field sent with
 * the wrong wire type, as an unknown field, and its pack writes it out again
 * as it came: the journal's copy and the next hop's would then not decode
 * (found by tests/fuzz/fuzz_packet; the reproducers are in its corpus).
 * Unknown fields with new numbers stay allowed.
 */
static int
unrepackable(const ProtobufCMessage *m)
{
	size_t i;

	for (i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0 ||
		    protobuf_c_message_descriptor_get_field(m->descriptor,
		    m->unknown_fields[i].tag) != NULL)
			return -1;
	return 0;
}

/*
 * The checks run in field order, cheapest first; the first fault wins.
 */
enum cpkt_err
cpkt_validate(const Cascade__Packet *p, size_t max_payload, char *msg, size_t msglen)
{
	enum cpkt_err e;
	uint32_t local;
	size_t i;

	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	if (p == NULL)
		return fault(CPKT_MALFORMED, msg, msglen, "packet: missing");
	if (max_payload == 0)
		max_payload = CPKT_DEFAULT_MAX_PAYLOAD;

	if (unrepackable(&p->base) != 0)
		return fault(CPKT_MALFORMED, msg, msglen, "a field numbered 0 or of the wrong "
		    "wire type");
	for (i = 0; i < p->n_trace; i++)
		if (unrepackable(&p->trace[i]->base) != 0)
			return fault(CPKT_MALFORMED, msg, msglen, "trace hop %zu: a field numbered "
			    "0 or of the wrong wire type", i);
	if (p->version != CPKT_VERSION)
		return fault(CPKT_BAD_VERSION, msg, msglen, "version %u: not protocol version %d",
		    (unsigned)p->version, CPKT_VERSION);
	if (p->id.len != CID_LEN)
		return fault(CPKT_BAD_ID, msg, msglen, "id: %zu bytes, not %d", p->id.len, CID_LEN);
	if ((e = check_addr(CPKT_BAD_SRC, "src", p->src, msg, msglen)) != CPKT_OK)
		return e;
	if ((e = check_addr(CPKT_BAD_DST, "dst", p->dst, msg, msglen)) != CPKT_OK)
		return e;
	if (p->kind > CASCADE__PACKET_KIND__KIND_AUDIT)
		return fault(CPKT_BAD_KIND, msg, msglen, "kind %u: unknown packet kind",
		    (unsigned)p->kind);
	if ((e = check_command(p, msg, msglen)) != CPKT_OK)
		return e;
	if (p->payload.len > max_payload)
		return fault(CPKT_PAYLOAD_TOO_LARGE, msg, msglen,
		    "payload: %zu bytes, over the limit of %zu", p->payload.len, max_payload);
	if ((p->flags & ~(uint32_t)(FLAGS_WIRE | FLAGS_LOCAL)) != 0)
		return fault(CPKT_BAD_FLAGS, msg, msglen, "flags 0x%x: unknown bits 0x%x",
		    (unsigned)p->flags, (unsigned)(p->flags & ~(uint32_t)(FLAGS_WIRE | FLAGS_LOCAL)));
	if ((local = p->flags & FLAGS_LOCAL) != 0)
		return fault(CPKT_BAD_FLAGS, msg, msglen, "flags 0x%x: %s is local to the SDK",
		    (unsigned)p->flags, local & CASCADE__PACKET_FLAG__FLAG_LATE ? "FLAG_LATE" :
		    "FLAG_REDELIVERY");
	if (p->ttl_ms <= 0 && !(p->flags & CASCADE__PACKET_FLAG__FLAG_NO_TTL))
		return fault(CPKT_EXPIRED, msg, msglen, "ttl_ms %lld: expired (FLAG_NO_TTL not set)",
		    (long long)p->ttl_ms);
	if (p->reply_to.len != 0 && p->reply_to.len != CID_LEN)
		return fault(CPKT_BAD_REPLY_TO, msg, msglen, "reply_to: %zu bytes, not %d",
		    p->reply_to.len, CID_LEN);
	if (p->kind != CASCADE__PACKET_KIND__KIND_DATA && p->ref_id.len != CID_LEN)
		return fault(CPKT_BAD_REF, msg, msglen, "ref_id: %zu bytes, not %d (kind %s needs it)",
		    p->ref_id.len, CID_LEN,
		    p->kind == CASCADE__PACKET_KIND__KIND_NOTICE ? "NOTICE" :
		    p->kind == CASCADE__PACKET_KIND__KIND_CANCEL ? "CANCEL" : "AUDIT");
	if (p->ref_id.len != 0 && p->ref_id.len != CID_LEN)
		return fault(CPKT_BAD_REF, msg, msglen, "ref_id: %zu bytes, not %d",
		    p->ref_id.len, CID_LEN);
	if (p->kind == CASCADE__PACKET_KIND__KIND_NOTICE &&
	    (p->notice == CASCADE__NOTICE_CODE__NOTICE_NONE ||
	    p->notice > CASCADE__NOTICE_CODE__NOTICE_DELAYED))
		return fault(CPKT_BAD_NOTICE, msg, msglen, "notice %u: unknown notice code",
		    (unsigned)p->notice);
	if ((e = check_trace(p, msg, msglen)) != CPKT_OK)
		return e;
	if (p->kind == CASCADE__PACKET_KIND__KIND_AUDIT && p->orig_src != NULL &&
	    *p->orig_src != '\0' &&
	    (e = check_addr(CPKT_BAD_SRC, "orig_src", p->orig_src, msg, msglen)) != CPKT_OK)
		return e;
	if (p->text != NULL && strlen(p->text) > CPKT_TEXT_MAX)
		return fault(CPKT_TEXT_TOO_LONG, msg, msglen, "text: %zu bytes, more than %d",
		    strlen(p->text), CPKT_TEXT_MAX);
	return CPKT_OK;
}

const char *
cpkt_strerror(enum cpkt_err e)
{
	switch (e) {
	case CPKT_OK:
		return "valid packet";
	case CPKT_BAD_VERSION:
		return "unsupported protocol version";
	case CPKT_BAD_ID:
		return "packet id is not 16 bytes";
	case CPKT_BAD_SRC:
		return "source address missing or invalid";
	case CPKT_BAD_DST:
		return "destination address missing or invalid";
	case CPKT_BAD_COMMAND:
		return "command missing, too long or with bad characters";
	case CPKT_PAYLOAD_TOO_LARGE:
		return "payload too large";
	case CPKT_EXPIRED:
		return "packet expired";
	case CPKT_BAD_FLAGS:
		return "unknown or local-only flags";
	case CPKT_BAD_KIND:
		return "unknown packet kind";
	case CPKT_BAD_REPLY_TO:
		return "reply_to is not 16 bytes";
	case CPKT_BAD_REF:
		return "ref_id missing or not 16 bytes";
	case CPKT_BAD_NOTICE:
		return "unknown notice code";
	case CPKT_TRACE_TOO_LONG:
		return "trace too long";
	case CPKT_BAD_TRACE:
		return "trace hop with an invalid node id or leg";
	case CPKT_TEXT_TOO_LONG:
		return "text too long";
	case CPKT_MALFORMED:
		return "malformed packet";
	}
	return "unknown packet error";
}

uint32_t
cpkt_reason(enum cpkt_err e)
{
	switch (e) {
	case CPKT_OK:
		return CASCADE__REASON__REASON_NONE;
	case CPKT_BAD_SRC:
	case CPKT_BAD_DST:
		return CASCADE__REASON__REASON_BAD_ADDRESS;
	case CPKT_PAYLOAD_TOO_LARGE:
		return CASCADE__REASON__REASON_OVERSIZE;
	case CPKT_EXPIRED:
		return CASCADE__REASON__REASON_EXPIRED;
	default:
		return CASCADE__REASON__REASON_MALFORMED;
	}
}

int64_t
cpkt_deadline(int64_t now_ms, int64_t ttl_ms)
{
	if (ttl_ms > 0 && now_ms > INT64_MAX - ttl_ms)
		return INT64_MAX;
	if (ttl_ms < 0 && now_ms < INT64_MIN - ttl_ms)
		return INT64_MIN;
	return now_ms + ttl_ms;
}

const char *
creason_str(uint32_t reason)
{
	switch (reason) {
	case CASCADE__REASON__REASON_NONE:
		return "none";
	case CASCADE__REASON__REASON_MALFORMED:
		return "malformed";
	case CASCADE__REASON__REASON_BAD_ADDRESS:
		return "bad address";
	case CASCADE__REASON__REASON_SPOOFED:
		return "spoofed source";
	case CASCADE__REASON__REASON_LOOP:
		return "routing loop";
	case CASCADE__REASON__REASON_OVERSIZE:
		return "oversize";
	case CASCADE__REASON__REASON_EXPIRED:
		return "expired";
	case CASCADE__REASON__REASON_UNROUTABLE:
		return "unroutable";
	case CASCADE__REASON__REASON_NOT_ALLOWED:
		return "not allowed";
	case CASCADE__REASON__REASON_JOURNAL_FULL:
		return "journal full";
	case CASCADE__REASON__REASON_QUOTA:
		return "quota exceeded";
	case CASCADE__REASON__REASON_RATE_LIMIT:
		return "rate limited";
	}
	return creason_temporary(reason) ? "unknown temporary reason" : "unknown reason";
}

int
creason_temporary(uint32_t reason)
{
	return reason >= 100;
}

Cascade__Packet *
cpkt_decode(const uint8_t *buf, size_t len)
{
	if (buf == NULL && len > 0)
		return NULL;
	/* protobuf-c checks every length against len and returns NULL on garbage. */
	return cascade__packet__unpack(NULL, len, buf);
}

void
cpkt_free(Cascade__Packet *p)
{
	if (p != NULL)
		cascade__packet__free_unpacked(p, NULL);
}

uint8_t *
cpkt_encode(const Cascade__Packet *p, size_t *len)
{
	uint8_t *buf;
	size_t n;

	n = cascade__packet__get_packed_size(p);
	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		return NULL;
	*len = cascade__packet__pack(p, buf);
	return buf;
}
