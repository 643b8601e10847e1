/*
 * evtamper.c — test-only: changes a journal's event log behind the
 * daemon's back, the way an intruder with the disk would, so that
 * audit_ctl.sh can check that `cascadectl audit verify` names the record.
 *
 *   evtamper JOURNAL_DIR flip SEQ     flips one byte of record SEQ (in its
 *                                     text, past the stored hash)
 *   evtamper JOURNAL_DIR delete SEQ   deletes record SEQ
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

	if (argc != 4 || (strcmp(argv[2], "flip") != 0 && strcmp(argv[2], "delete") != 0)) {
		fprintf(stderr, "usage: evtamper JOURNAL_DIR flip|delete SEQ\n");
		return 2;
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
