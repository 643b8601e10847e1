/*
 * evtamper.c — test-only: changes a journal's event log behind the
 * daemon's back, the way an intruder with the disk would, so that
 * audit_ctl.sh can check that `cascadectl audit verify` names the record.
 *
 *   evtamper JOURNAL_DIR flip SEQ     flips one byte of record SEQ (in its
 *                                     text, past the stored hash)
 *   evtamper JOURNAL_DIR delete SEQ   deletes record SEQ
 *   evtamper JOURNAL_DIR unstore ID   deletes the stored packet ID (both legs)
 *                                     as retention does: its events stay
 *                                     (replay.sh: a packet too old to replay)
 *
 * It opens the LMDB environment itself (one writer at a time: LMDB's lock
 * serialises it with the daemon's transactions).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#define HASH_LEN 32

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "evtamper: %s: %s\n", what, mdb_strerror(rc));
	return 1;
}

/* The 16 bytes of a packet id in its text form (12 hex digits, '-', 20). */
static int
id_parse(const char *s, uint8_t *out)
{
	unsigned i, n = 0, v;
	char h[3] = { 0 };

	if (strlen(s) != 33 || s[12] != '-')
		return -1;
	for (i = 0; i < 33; i += 2) {
		if (i == 12)
			i++;
		h[0] = s[i];
		h[1] = s[i + 1];
		if (sscanf(h, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
	}
	return n == 16 ? 0 : -1;
}

/* Deletes packet id's records (key: id[16], leg) from "packets". */
static int
unstore(MDB_env *env, const char *idtext)
{
	uint8_t key[17];
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k;
	int rc, leg, n = 0;

	if (id_parse(idtext, key) != 0) {
		fprintf(stderr, "evtamper: %s: not a packet id\n", idtext);
		return 2;
	}
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		return fail("begin", rc);
	if ((rc = mdb_dbi_open(txn, "packets", 0, &dbi)) != 0)
		return fail("packets", rc);
	for (leg = 0; leg <= 1; leg++) {
		key[16] = (uint8_t)leg;
		k.mv_size = sizeof(key);
		k.mv_data = key;
		if ((rc = mdb_del(txn, dbi, &k, NULL)) == 0)
			n++;
		else if (rc != MDB_NOTFOUND)
			return fail("delete", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return fail("commit", rc);
	mdb_env_close(env);
	printf("evtamper: unstored %d record%s of %s\n", n, n == 1 ? "" : "s", idtext);
	return n > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v, nv;
	uint8_t key[8], *copy;
	unsigned long long seq;
	int rc, i;

	if (argc != 4 || (strcmp(argv[2], "flip") != 0 && strcmp(argv[2], "delete") != 0 &&
	    strcmp(argv[2], "unstore") != 0)) {
		fprintf(stderr, "usage: evtamper JOURNAL_DIR flip|delete SEQ | unstore ID\n");
		return 2;
	}
	if (strcmp(argv[2], "unstore") == 0) {
		if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
		    (rc = mdb_env_open(env, argv[1], 0, 0600)) != 0)
			return fail(argv[1], rc);
		return unstore(env, argv[3]);
	}
	seq = strtoull(argv[3], NULL, 10);
	for (i = 0; i < 8; i++)         /* the key: u64 seq, big-endian */
		key[i] = (uint8_t)(seq >> (56 - 8 * i));
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], 0, 0600)) != 0)
		return fail(argv[1], rc);
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		return fail("begin", rc);
	if ((rc = mdb_dbi_open(txn, "events", 0, &dbi)) != 0)
		return fail("events", rc);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return fail(argv[3], rc);
	if (strcmp(argv[2], "delete") == 0)
		rc = mdb_del(txn, dbi, &k, NULL);
	else {
		copy = malloc(v.mv_size);
		memcpy(copy, v.mv_data, v.mv_size);
		/* the last byte: inside the record, not its stored hash */
		copy[v.mv_size - 1] ^= 0x01;
		nv.mv_size = v.mv_size;
		nv.mv_data = copy;
		rc = mdb_put(txn, dbi, &k, &nv, 0);
		free(copy);
	}
	if (rc != 0 || (rc = mdb_txn_commit(txn)) != 0)
		return fail(argv[2], rc);
	mdb_env_close(env);
	printf("evtamper: %s record %llu\n", argv[2], seq);
	return 0;
}
