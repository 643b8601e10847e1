/*
 * output.c — received packets as cascade(1) prints them: one JSON object
 * (packet_json) or one text line (packet_text), each on a line of its own.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_t *
flags_json(uint32_t f)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ CASCADE_FLAG_RECEIPT, "receipt" },
		{ CASCADE_FLAG_NO_TTL, "no-ttl" },
		{ CASCADE_FLAG_DOWN, "down" },
		{ CASCADE_FLAG_URGENT, "urgent" },
		{ CASCADE_FLAG_NOTIFY, "notify" },
		{ CASCADE_FLAG_LATE, "late" },
		{ CASCADE_FLAG_REDELIVERY, "redelivery" },
	};
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

/* The flags as a word for the text form: "urgent,late" or "-". */
static void
flags_text(uint32_t f, char *buf, size_t len)
{
	json_t *a = flags_json(f);
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < json_array_size(a); i++)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", i ? "," : "",
		    json_string_value(json_array_get(a, i)));
	if (o == 0)
		snprintf(buf, len, "-");
	json_decref(a);
}

static json_t *
trace_json(const cascade_packet_t *p)
{
	json_t *a = json_array(), *hop;
	const char *node;
	int64_t arrived;
	uint32_t held;
	size_t i;
	int down;

	for (i = 0; i < cascade_packet_hops(p); i++) {
		if (cascade_packet_hop(p, i, &node, &down, &arrived, &held) != 0)
			break;
		hop = json_pack("{s:s, s:s, s:I, s:I}", "node", node, "leg", down ? "down" : "up",
		    "arrived_ms", (json_int_t)arrived, "held_ms", (json_int_t)held);
		json_array_append_new(a, hop);
	}
	return a;
}

/*
 * A received packet as one JSON object: the fields cascade(1) documents.
 * The payload is a string when it is UTF-8, else base64
 * ("payload_encoding" says which).
 */
json_t *
packet_json(const cascade_packet_t *p)
{
	char idt[CASCADE_ID_TEXT_LEN];
	const uint8_t *ref;
	const char *pl;
	size_t len;
	json_t *o;
	char *b64;
	int kind = cascade_packet_kind(p), notice = cascade_packet_notice(p);

	o = json_object();
	json_object_set_new(o, "id", json_string(id_text(cascade_packet_id(p), idt)));
	json_object_set_new(o, "src", json_string(cascade_packet_src(p)));
	json_object_set_new(o, "dst", json_string(cascade_packet_dst(p)));
	json_object_set_new(o, "command", json_string(cascade_packet_command(p)));
	json_object_set_new(o, "kind", json_string(kind == CASCADE_KIND_NOTICE ? "notice" : "data"));
	json_object_set_new(o, "flags", flags_json(cascade_packet_flags(p)));
	json_object_set_new(o, "notice", kind == CASCADE_KIND_NOTICE ?
	    json_string(notice_name(notice)) : json_null());
	ref = cascade_packet_ref_id(p);
	json_object_set_new(o, "ref_id", ref != NULL ? json_string(id_text(ref, idt)) : json_null());
	ref = cascade_packet_reply_to(p);
	json_object_set_new(o, "reply_to", ref != NULL ? json_string(id_text(ref, idt)) :
	    json_null());
	if (notice == CASCADE_NOTICE_REJECTED || notice == CASCADE_NOTICE_UNDELIVERABLE ||
	    notice == CASCADE_NOTICE_EXPIRED)
		json_object_set_new(o, "reason",
		    json_string(cascade_reason_str(cascade_packet_reason(p))));
	if (kind == CASCADE_KIND_NOTICE)
		json_object_set_new(o, "text", json_string(cascade_packet_text(p)));
	pl = cascade_packet_payload(p, &len);
	json_object_set_new(o, "size", json_integer((json_int_t)len));
	if (utf8_clean((const unsigned char *)pl, len)) {
		json_object_set_new(o, "payload", json_stringn(pl, len));
		json_object_set_new(o, "payload_encoding", json_string("utf-8"));
	} else {
		b64 = base64((const unsigned char *)pl, len);
		json_object_set_new(o, "payload", b64 != NULL ? json_string(b64) : json_null());
		json_object_set_new(o, "payload_encoding", json_string("base64"));
		free(b64);
	}
	json_object_set_new(o, "ttl_ms", json_integer((json_int_t)cascade_packet_ttl(p)));
	json_object_set_new(o, "sent_ms",
	    json_integer((json_int_t)id_time_ms(cascade_packet_id(p))));
	json_object_set_new(o, "received_ms", json_integer((json_int_t)wall_ms()));
	json_object_set_new(o, "trace", trace_json(p));
	return o;
}

/* Prints s with backslash escapes for what would break a line: \n, \t, \\, \xNN. */
static void
put_escaped(FILE *f, const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\')
			fputs("\\\\", f);
		else if (s[i] == '\n')
			fputs("\\n", f);
		else if (s[i] == '\t')
			fputs("\\t", f);
		else if (s[i] == '\r')
			fputs("\\r", f);
		else if (s[i] < 0x20 || s[i] == 0x7f)
			fprintf(f, "\\x%02x", s[i]);
		else
			fputc(s[i], f);
	}
}

/*
 * The text form, one line: ID SRC COMMAND FLAGS REF PAYLOAD. A notice has
 * "notice:NAME" as its command, the packet it is about as REF and its text
 * as payload; REF of a reply is the request's id; "-" stands for none.
 * Payloads that are not UTF-8 print as "base64:...".
 */
void
packet_text(FILE *f, const cascade_packet_t *p)
{
	char idt[CASCADE_ID_TEXT_LEN], reft[CASCADE_ID_TEXT_LEN], fl[96];
	const uint8_t *ref;
	const char *pl;
	size_t len;
	char *b64;

	flags_text(cascade_packet_flags(p), fl, sizeof(fl));
	id_text(cascade_packet_id(p), idt);
	if (cascade_packet_kind(p) == CASCADE_KIND_NOTICE) {
		ref = cascade_packet_ref_id(p);
		fprintf(f, "%s %s notice:%s %s %s ", idt, cascade_packet_src(p),
		    notice_name(cascade_packet_notice(p)), fl, id_text(ref, reft));
		pl = cascade_packet_text(p);
		len = strlen(pl);
	} else {
		ref = cascade_packet_reply_to(p);
		fprintf(f, "%s %s %s %s %s ", idt, cascade_packet_src(p),
		    cascade_packet_command(p)[0] != '\0' ? cascade_packet_command(p) : "-", fl,
		    id_text(ref, reft));
		pl = cascade_packet_payload(p, &len);
	}
	if (utf8_clean((const unsigned char *)pl, len))
		put_escaped(f, (const unsigned char *)pl, len);
	else if ((b64 = base64((const unsigned char *)pl, len)) != NULL) {
		fprintf(f, "base64:%s", b64);
		free(b64);
	}
	fputc('\n', f);
}

/* Prints a JSON value on one line of stdout. */
void
json_line(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
	fflush(stdout);
}

/*
 * A packet for our address that the waiting command did not ask for: the
 * handle took it from the node, so say so rather than lose it silently.
 */
void
stray(const cascade_packet_t *p)
{
	fprintf(stderr, "cascade: %s: took a packet meant for this address: ", C.addr);
	packet_text(stderr, p);
}
