/*
 * libFuzzer target: one packet's bytes as they arrive inside a Push or a
 * PullReply. cpkt_decode must never crash on garbage; what decodes is
 * validated, and what validates re-encodes and decodes again to a packet
 * that validates the same way.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Cascade__Packet *p, *q;
	char msg[256];
	uint8_t *enc;
	size_t len;
	enum cpkt_err e;

	if ((p = cpkt_decode(data, size)) == NULL)
		return 0;
	e = cpkt_validate(p, 0, msg, sizeof(msg));
	(void)cpkt_strerror(e);
	(void)cpkt_reason(e);
	(void)cpkt_deadline(cnow_ms(), p->ttl_ms);
	if (e == CPKT_OK && (enc = cpkt_encode(p, &len)) != NULL) {
		if ((q = cpkt_decode(enc, len)) == NULL ||
		    cpkt_validate(q, 0, msg, sizeof(msg)) != CPKT_OK)
			abort();        /* a valid packet must survive its own encoding */
		cpkt_free(q);
		free(enc);
	}
	cpkt_free(p);
	return 0;
}
