/*
 * master/rules.h — the root's rules, used by every node's route decision
 * (node/route.c) and by the notices a refused packet earns (node/origin.c).
 * Pure: no I/O, no globals; they depend on packets/ only.
 */
#ifndef CASCADE_MASTER_RULES_H
#define CASCADE_MASTER_RULES_H

#include <stdint.h>

/*
 * Whether this node turns an up-leg packet downward: the root always; a
 * node with local-delivery direct when dst lies in its subtree.
 */
int mrule_turns_here(int is_master, int delivery_direct, int dst_below);
/* Audit copies climb to the master, which keeps them: 1 = keep here. */
int mrule_audit_kept_here(int is_master);
/* An audit copy is due for a DATA packet turned downward below the root. */
int mrule_audit_copy_due(int is_master, int audit_copy_conf, int turned, uint32_t kind);
/*
 * The bounce policy: the NoticeCode a refused packet earns. UNROUTABLE:
 * "undeliverable" always; any other reason: "expired" or "rejected" only
 * when the packet asked for notices (FLAG_NOTIFY). 0: none, and never for
 * a notice or an audit copy (no notice about a notice).
 */
uint32_t mrule_bounce_code(uint32_t reason, uint32_t flags, uint32_t kind);

#endif
