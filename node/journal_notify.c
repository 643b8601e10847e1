/*
 * journal_notify.c — housekeeping of the marks that notify.c and
 * delaywarn.c keep in the meta database ("nf:o:<packet id>:<client>",
 * "nf:d:<packet id>"): a mark is needed only while its packet still waits
 * in a queue here (a scan looks at queued entries only), so marks of
 * packets that wait nowhere are deleted, a few at a time.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_int.h"
#include "log.h"

#define NF_PREFIX "nf:"
#define NF_ID_AT  5                     /* "nf:o:" / "nf:d:" then the id text */
#define NF_KEY_MAX 512

/* Whether packet id (on either leg) still waits in some queue here. */
static int
still_waiting(struct journal *j, const uint8_t id[CID_LEN])
{
	struct jwhere w;
	struct jkey k;
	unsigned leg, i;
	int waiting = 0;

	memcpy(k.id, id, CID_LEN);
	for (leg = JLEG_UP; leg <= JLEG_DOWN && !waiting; leg++) {
		k.leg = (uint8_t)leg;
		if (journal_packet_where(j, &k, &w) != 0)
			continue;
		for (i = 0; i < w.nq; i++)
			waiting |= w.waiting[i];
		free(w.body);
	}
	return waiting;
}

int
journal_notify_gc(struct journal *j, char *from, size_t fromlen, unsigned max,
    unsigned *ndeleted)
{
	char (*keys)[NF_KEY_MAX], idt[CID_TEXT_LEN];
	unsigned n = 0, i, del = 0;
	unsigned char *gone;
	uint8_t id[CID_LEN];
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	struct wtx w;
	int rc, end = 1;

	*ndeleted = 0;
	if (max == 0)
		max = 1;
	keys = calloc(max, sizeof(*keys));
	gone = calloc(max, 1);
	if (keys == NULL || gone == NULL) {
		free(keys);
		free(gone);
		return jfail(j, ENOMEM, "notify marks");
	}
	/* 1. the next max marks, in a read transaction of their own */
	if ((rc = jrd_begin(j, &txn)) != 0)
		goto out;
	if ((rc = mdb_cursor_open(txn, j->meta, &c)) != 0) {
		jrd_end(j, txn);
		goto out;
	}
	k.mv_data = from[0] != '\0' ? from : NF_PREFIX;
	k.mv_size = strlen(k.mv_data);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < strlen(NF_PREFIX) || memcmp(k.mv_data, NF_PREFIX, 3) != 0)
			break;
		if (k.mv_size >= NF_KEY_MAX ||
		    (k.mv_size == strlen(from) && memcmp(k.mv_data, from, k.mv_size) == 0))
			continue;       /* too long to be ours, or the last one looked at */
		if (n == max) {
			end = 0;
			break;
		}
		memcpy(keys[n], k.mv_data, k.mv_size);
		keys[n][k.mv_size] = '\0';
		n++;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(c);
	jrd_end(j, txn);
	if (rc != 0)
		goto out;
	/* where the next call starts: the first key not looked at, or the start */
	if (end || n == 0)
		from[0] = '\0';
	else
		snprintf(from, fromlen, "%s", keys[n - 1]);
	/* 2. which of them belong to packets that wait nowhere (read only) */
	for (i = 0; i < n; i++) {
		if (strlen(keys[i]) < NF_ID_AT + CID_TEXT_LEN - 1)
			continue;
		memcpy(idt, keys[i] + NF_ID_AT, CID_TEXT_LEN - 1);
		idt[CID_TEXT_LEN - 1] = '\0';
		gone[i] = cid_parse(idt, id) != 0 || !still_waiting(j, id);
	}
	/* 3. those go, in one write transaction */
	if ((rc = jwtx_begin(j, &w)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!gone[i])
			continue;
		k.mv_data = keys[i];
		k.mv_size = strlen(keys[i]);
		if ((rc = mdb_del(w.txn, j->meta, &k, NULL)) != 0 && rc != MDB_NOTFOUND) {
			jwtx_abort(&w);
			goto out;
		}
		del++;
	}
	if (del == 0) {
		jwtx_abort(&w);
		rc = 0;
	} else if ((rc = jwtx_commit(&w)) == 0)
		*ndeleted = del;
out:
	free(keys);
	free(gone);
	if (rc != 0)
		return jfail(j, rc, "notify marks: %s", rc > 0 ? mdb_strerror(rc) :
		    journal_strerror(rc));
	return 0;
}

uint64_t *
qcursor_at(struct qcursors *c, uint32_t qid)
{
	size_t n;

	if (qid >= c->n) {
		n = qid + 64;
		c->v = xrealloc(c->v, n * sizeof(*c->v));
		memset(c->v + c->n, 0, (n - c->n) * sizeof(*c->v));
		c->n = n;
	}
	return &c->v[qid];
}

void
qcursors_free(struct qcursors *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}
