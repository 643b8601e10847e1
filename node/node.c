/*
 * node.c — the one node this process runs. It lives outside main.c so the
 * unit tests, which link libcascaded but have their own main, can set it.
 */
#include "config.h"

#include "cascaded.h"

struct node *node;
