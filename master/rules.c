/*
 * rules.c — the root's rules: where packets turn, where audit copies end,
 * which refusals earn a notice. Each node applies them to its own packets;
 * the master is the root of every turn and the keeper of every audit copy.
 */
#include "config.h"

#include "cascade.pb-c.h"
#include "rules.h"

#define FLAG(x) CASCADE__PACKET_FLAG__FLAG_##x
#define KIND(x) CASCADE__PACKET_KIND__KIND_##x
#define REASON(x) CASCADE__REASON__REASON_##x
#define NOTICE(x) CASCADE__NOTICE_CODE__NOTICE_##x

int
mrule_turns_here(int is_master, int delivery_direct, int dst_below)
{
	return is_master || (delivery_direct && dst_below);
}

int
mrule_audit_kept_here(int is_master)
{
	return is_master;
}

int
mrule_audit_copy_due(int is_master, int audit_copy_conf, int turned, uint32_t kind)
{
	/* the master keeps the original itself: a copy would only climb to it */
	return turned && !is_master && audit_copy_conf && kind == KIND(DATA);
}

uint32_t
mrule_bounce_code(uint32_t reason, uint32_t flags, uint32_t kind)
{
	if (kind == KIND(NOTICE) || kind == KIND(AUDIT))
		return 0;
	if (reason == REASON(UNROUTABLE))
		return NOTICE(UNDELIVERABLE);
	if (!(flags & FLAG(NOTIFY)))
		return 0;
	return reason == REASON(EXPIRED) ? NOTICE(EXPIRED) : NOTICE(REJECTED);
}
