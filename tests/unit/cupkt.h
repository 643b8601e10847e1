/*
 * cupkt.h — a valid packet for the unit tests of the daemon's modules
 * (route_test, origin_test): id from cid_next, a command, 60 s of ttl, a
 * ref_id unless it is data, "delivered" when it is a notice; malloc'd the
 * way cpkt_free frees it. Header-only: the tests link packets/ already.
 */
#ifndef CASCADE_CUPKT_H
#define CASCADE_CUPKT_H

#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "packets.h"

static inline Cascade__Packet *
cu_packet(const char *src, const char *dst, uint32_t kind, uint32_t flags)
{
	Cascade__Packet *p = calloc(1, sizeof(*p));

	cascade__packet__init(p);
	p->version = CPKT_VERSION;
	p->id.data = calloc(1, CID_LEN);
	p->id.len = CID_LEN;
	CU_ASSERT_FATAL(cid_next(p->id.data) == 0);
	p->src = strdup(src);
	p->dst = strdup(dst);
	p->kind = kind;
	p->command = strdup("lab.result");
	p->flags = flags;
	p->ttl_ms = 60000;
	if (kind != CASCADE__PACKET_KIND__KIND_DATA) {
		p->ref_id.data = calloc(1, CID_LEN);
		p->ref_id.len = CID_LEN;
		CU_ASSERT_FATAL(cid_next(p->ref_id.data) == 0);
	}
	if (kind == CASCADE__PACKET_KIND__KIND_NOTICE)
		p->notice = CASCADE__NOTICE_CODE__NOTICE_DELIVERED;
	return p;
}

#endif
