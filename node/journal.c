/*
 * journal.c — the node's LMDB journal (see journal.h for the contract and
 * DESIGN.md "Journal (LMDB)" / "Custody" for the why): its records' layout,
 * open and close, meta and stats. The rest is in journal_*.c, one part per
 * file; journal_int.h lists them and who calls whom.
 *
 * Records (all integers big-endian, every record starts with its version):
 *
 *   packet   u8 version, u8 flags (JREC_PRUNED), u8 nq, u8 0,
 *            i64 accepted_ms, i64 deadline_ms, payload sha256[32],
 *            nq x (u32 qid, u64 seq), then the encoded Packet (absent when
 *            pruned). Acks never rewrite it: the packet is still queued
 *            while one of its (qid, seq) entries exists in "queues".
 *            Version 2 (JREC_SEALED): the Packet is sealed with a journal
 *            key, kid || nonce || AES-256-GCM text || tag (journal_crypt.h);
 *            the header stays clear (the expiry, prune and queue walks and
 *            the audit need it, and it holds no patient data but the
 *            payload's SHA-256). A cascade without this reads version 1 only,
 *            so it refuses a sealed record instead of misreading it.
 *            A cancelled or expired packet's record keeps its header and, as
 *            its body, the Packet without its payload (JREC_PRUNED |
 *            JREC_STUB), in clear like the event log's metadata (so the
 *            "jk:" counts are payloads only, and a rotation completes when
 *            the old key's last payload leaves): a repeated cancel is still
 *            checked against its source and `cascadectl show` still tells
 *            its src, dst and command, but the payload is gone.
 *   key ids  meta "jk:" kid[8] -> u64 sealed bodies under that key, kept in
 *            the transaction that seals or drops one, so journal_open can
 *            name a missing key without reading every record.
 *   queue    key (u32 qid, u64 seq) -> packet key[17], u32 stored length,
 *            and in a lane (seq >= JSEQ_LANE) u64 flow (journal_lane.c)
 *   qstate   meta "qn:%08x" -> u8 version, 3 x 0, u32 kind, u64 epoch,
 *            next_seq, acked_seq, depth, bytes, (version 2:) lanes,
 *            lane_next, then the name
 *   flows    meta "qf:" u32 qid, u64 flow -> u64 entries of that (src, dst)
 *            flow in the queue's routine lane (journal_lane.c)
 *   event    see eventlog.c
 *
 * Transactions: the writer uses struct wtx (journal_int.h), which carries
 * the tail of the event chain so an aborted transaction leaves the cached
 * tail untouched.
 * Read transactions hold j->rw shared; growing the map takes it exclusively
 * because mdb_env_set_mapsize() needs every transaction of the process
 * closed.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <openssl/crypto.h>

#include "journal.h"
#include "journal_int.h"
#include "log.h"

#define JDEFAULT_MAP    (64ULL * 1024 * 1024)
#define JDEFAULT_SOFT   80

/* ----------------------------------------------------------- meta, stats */

static int
meta_reserved(const char *key)
{
	return strcmp(key, "format") == 0 || strcmp(key, "node") == 0 ||
	    strcmp(key, "qlast") == 0 || strncmp(key, "q:", 2) == 0 ||
	    strncmp(key, "qn:", 3) == 0 || strncmp(key, "qf:", 3) == 0 ||
	    strncmp(key, "jk:", 3) == 0;
}

int
journal_meta_put(struct journal *j, const char *key, const void *val, size_t len)
{
	struct wtx w;
	MDB_val k, v;
	int rc;

	if (key == NULL || *key == '\0' || strlen(key) > 400 || meta_reserved(key))
		return jfail(j, EINVAL, "meta \"%s\": reserved or bad key", nz(key));
	if ((rc = jwtx_begin(j, &w)) != 0)
		return jfail(j, rc, "meta %s: begin", key);
	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	v.mv_size = len;
	v.mv_data = (void *)val;
	if ((rc = mdb_put(w.txn, j->meta, &k, &v, 0)) != 0) {
		jwtx_abort(&w);
		return jfail(j, rc, "meta %s", key);
	}
	if ((rc = jwtx_commit(&w)) != 0)
		return jfail(j, rc, "meta %s: commit", key);
	return 0;
}

int
journal_meta_get(struct journal *j, const char *key, void **val, size_t *len)
{
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	*val = NULL;
	*len = 0;
	if (key == NULL || *key == '\0')
		return jfail(j, EINVAL, "meta: empty key");
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "meta %s: begin", key);
	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	rc = mdb_get(txn, j->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		rc = JOURNAL_NOT_FOUND;
	if (rc == 0) {
		if ((*val = malloc(v.mv_size ? v.mv_size : 1)) == NULL)
			rc = ENOMEM;
		else {
			memcpy(*val, v.mv_data, v.mv_size);
			*len = v.mv_size;
		}
	}
	jrd_end(j, txn);
	if (rc)
		return jfail(j, rc, "meta %s", key);
	return 0;
}

int
journal_stats(struct journal *j, struct jstats *st)
{
	MDB_envinfo info;
	MDB_stat ms;
	MDB_txn *txn;
	uint64_t nfree = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = jrd_begin(j, &txn)) != 0)
		return jfail(j, rc, "stats: begin");
	if ((rc = mdb_env_info(j->env, &info)) != 0 || (rc = jcount_free(txn, &nfree)) != 0)
		goto fail;
	st->format = j->format;
	st->map_size = info.me_mapsize;
	st->page_size = j->psize;
	st->pages_total = info.me_mapsize / j->psize;
	st->pages_used = info.me_last_pgno + 1 > nfree ? info.me_last_pgno + 1 - nfree : 0;
	if ((rc = mdb_stat(txn, j->packets, &ms)) != 0)
		goto fail;
	st->packets = ms.ms_entries;
	if ((rc = mdb_stat(txn, j->queues, &ms)) != 0)
		goto fail;
	st->queued = ms.ms_entries;
	if ((rc = mdb_stat(txn, j->events, &ms)) != 0)
		goto fail;
	st->events = ms.ms_entries;
	st->indexed = j->ix_ok;
	if ((rc = mdb_stat(txn, j->expiry, &ms)) != 0)
		goto fail;
	st->expiring = ms.ms_entries;
	st->full = j->full;
	st->grows = j->grows;
	st->body_prunes = j->body_prunes;
fail:
	jrd_end(j, txn);
	if (rc)
		return jfail(j, rc, "stats");
	return 0;
}

/* ------------------------------------------------------------ open, close */

static int
open_dbs(struct journal *j, const struct journal_opts *o, char *err, size_t errlen)
{
	static const char *names[] = { "meta", "packets", "queues", "marks", "expiry", "events" };
	MDB_dbi *dbis[] = { &j->meta, &j->packets, &j->queues, &j->marks, &j->expiry, &j->events };
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t fmt[4];
	unsigned i;
	int rc;

	if ((rc = mdb_txn_begin(j->env, NULL, o->readonly ? MDB_RDONLY : 0, &txn)) != 0) {
		snprintf(err, errlen, "journal %s: begin: %s", j->dir, mdb_strerror(rc));
		return rc;
	}
	for (i = 0; i < 6; i++) {
		if ((rc = mdb_dbi_open(txn, names[i], o->readonly ? 0 : MDB_CREATE, dbis[i])) != 0) {
			snprintf(err, errlen, "journal %s: database %s: %s", j->dir, names[i],
			    mdb_strerror(rc));
			goto fail;
		}
	}

	k.mv_size = 6;
	k.mv_data = "format";
	rc = mdb_get(txn, j->meta, &k, &v);
	if (rc == MDB_NOTFOUND && o->readonly) {
		rc = JOURNAL_CORRUPT;
		snprintf(err, errlen, "journal %s: no format record: not a cascade journal", j->dir);
		goto fail;
	} else if (rc == MDB_NOTFOUND) {
		/* A new journal: it belongs to this node from now on. */
		if (o->node_id == NULL || *o->node_id == '\0') {
			rc = JOURNAL_BAD_NODE;
			snprintf(err, errlen, "journal %s: a new journal needs a node id", j->dir);
			goto fail;
		}
		put32(fmt, JOURNAL_FORMAT);
		v.mv_size = 4;
		v.mv_data = fmt;
		if ((rc = mdb_put(txn, j->meta, &k, &v, 0)) != 0)
			goto lmdbfail;
		k.mv_size = 4;
		k.mv_data = "node";
		v.mv_size = strlen(o->node_id);
		v.mv_data = (void *)o->node_id;
		if ((rc = mdb_put(txn, j->meta, &k, &v, 0)) != 0)
			goto lmdbfail;
		j->format = JOURNAL_FORMAT;
	} else if (rc) {
		goto lmdbfail;
	} else {
		if (v.mv_size != 4) {
			rc = JOURNAL_CORRUPT;
			snprintf(err, errlen, "journal %s: format record of %zu bytes", j->dir,
			    v.mv_size);
			goto fail;
		}
		j->format = get32(v.mv_data);
		if (j->format > JOURNAL_FORMAT) {
			rc = JOURNAL_FORMAT_NEWER;
			snprintf(err, errlen, "journal %s: format %u was written by a newer "
			    "cascade (this one reads up to %u); run the newer cascaded", j->dir,
			    j->format, JOURNAL_FORMAT);
			goto fail;
		}
		k.mv_size = 4;
		k.mv_data = "node";
		if ((rc = mdb_get(txn, j->meta, &k, &v)) != 0) {
			if (rc == MDB_NOTFOUND)
				rc = JOURNAL_CORRUPT;
			snprintf(err, errlen, "journal %s: no node id recorded", j->dir);
			goto fail;
		}
		if (o->node_id != NULL && *o->node_id != '\0' &&
		    (v.mv_size != strlen(o->node_id) ||
		    memcmp(v.mv_data, o->node_id, v.mv_size) != 0)) {
			rc = JOURNAL_BAD_NODE;
			snprintf(err, errlen, "journal %s: belongs to node \"%.*s\", not \"%s\"",
			    j->dir, (int)(v.mv_size > 63 ? 63 : v.mv_size),
			    (const char *)v.mv_data, o->node_id);
			goto fail;
		}
	}

	/* The tail of the event chain, where the next record hooks on. */
	if ((rc = mdb_cursor_open(txn, j->events, &c)) != 0)
		goto lmdbfail;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8 && v.mv_size >= CSHA256_LEN) {
		j->ev_seq = get64(k.mv_data);
		memcpy(j->ev_hash, v.mv_data, CSHA256_LEN);
	} else if (rc == 0) {
		rc = JOURNAL_CORRUPT;
	} else if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(c);
	if (rc) {
		snprintf(err, errlen, "journal %s: last event: %s", j->dir, journal_strerror(rc));
		goto fail;
	}
	if ((rc = jix_open(j, txn, o, err, errlen)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "journal %s: commit: %s", j->dir, mdb_strerror(rc));
		return rc;
	}
	return 0;
lmdbfail:
	snprintf(err, errlen, "journal %s: %s", j->dir, mdb_strerror(rc));
fail:
	mdb_txn_abort(txn);
	return rc;
}

/*
 * Refuses a journal holding bodies sealed under a key id the configured
 * keys lack: started anyway, it could neither send nor show them. Reads the
 * "jk:" counters, not the records, so it costs the same for any journal.
 */
static int
keys_check(struct journal *j, char *err, size_t errlen)
{
	char kt[JCRYPT_KID_TEXT], have[JCRYPT_MAX_KEYS * JCRYPT_KID_TEXT + 8];
	uint64_t n, total = 0, missing = 0;
	uint8_t miss_kid[JCRYPT_KID_LEN];
	unsigned i, nmiss = 0;
	MDB_cursor *c;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if ((rc = jrd_begin(j, &txn)) != 0)
		goto lmdbfail;
	if ((rc = mdb_cursor_open(txn, j->meta, &c)) != 0) {
		jrd_end(j, txn);
		goto lmdbfail;
	}
	k.mv_size = 3;
	k.mv_data = "jk:";
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 3 || memcmp(k.mv_data, "jk:", 3) != 0)
			break;
		if (k.mv_size != JKID_KEY_LEN || v.mv_size != 8)
			continue;
		n = get64(v.mv_data);
		total += n;
		if (jcrypt_ring_find(&j->keys, (const uint8_t *)k.mv_data + 3) == NULL) {
			if (nmiss++ == 0)
				memcpy(miss_kid, (const uint8_t *)k.mv_data + 3, JCRYPT_KID_LEN);
			missing += n;
		}
	}
	mdb_cursor_close(c);
	jrd_end(j, txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto lmdbfail;
	if (nmiss == 0)
		return 0;
	jcrypt_kid_text(miss_kid, kt);
	if (j->keys.n == 0) {
		snprintf(err, errlen, "journal %s: %llu packet bodies are encrypted (key id %s%s) "
		    "and no journal-key is configured: add \"journal-key FILE\" naming that key "
		    "file to the config (see cascade.conf(5)); refusing to start", j->dir,
		    (unsigned long long)total, kt, nmiss > 1 ? " and others" : "");
		return JOURNAL_NO_KEY;
	}
	have[0] = '\0';
	for (i = 0; i < j->keys.n; i++) {
		char t[JCRYPT_KID_TEXT];

		strcat(have, i ? ", " : "");
		strcat(have, jcrypt_kid_text(j->keys.keys[i].kid, t));
	}
	snprintf(err, errlen, "journal %s: %llu packet bodies are encrypted under journal key "
	    "id %s%s, which journal-key does not list (it lists %s): add that key file after "
	    "the current one (\"journal-key NEW OLD\", see cascade.conf(5)); refusing to start",
	    j->dir, (unsigned long long)missing, kt, nmiss > 1 ? " and other ids" : "", have);
	return JOURNAL_NO_KEY;
lmdbfail:
	snprintf(err, errlen, "journal %s: key ids: %s", j->dir, mdb_strerror(rc));
	return rc;
}

int
journal_open(struct journal **jp, const struct journal_opts *o, char *err, size_t errlen)
{
	const unsigned nosync = MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC;
	char ebuf[512];
	struct journal *j;
	MDB_envinfo info;
	pthread_rwlockattr_t rwa;
	MDB_stat ms;
	unsigned flags;
	size_t want;
	int rc, dead;

	*jp = NULL;
	if (err == NULL || errlen == 0) {
		err = ebuf;
		errlen = sizeof(ebuf);
	}
	err[0] = '\0';
	if (o == NULL || o->dir == NULL || *o->dir == '\0') {
		snprintf(err, errlen, "journal: no directory");
		return JOURNAL_BAD_OPTS;
	}
	if (o->sync && (o->env_flags & nosync)) {
		snprintf(err, errlen, "journal %s: MDB_NOSYNC, MDB_NOMETASYNC and MDB_MAPASYNC "
		    "are refused while sync is on", o->dir);
		return JOURNAL_BAD_OPTS;
	}
	if (o->env_flags & (MDB_WRITEMAP | MDB_NOSUBDIR | MDB_RDONLY)) {
		snprintf(err, errlen, "journal %s: MDB_WRITEMAP, MDB_NOSUBDIR and MDB_RDONLY "
		    "are refused", o->dir);
		return JOURNAL_BAD_OPTS;
	}
	if (o->soft_pct > 99) {
		snprintf(err, errlen, "journal %s: soft limit %u%% above 99%%", o->dir,
		    o->soft_pct);
		return JOURNAL_BAD_OPTS;
	}
	if (!o->readonly && mkdir(o->dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "journal %s: mkdir: %s", o->dir, strerror(errno));
		return JOURNAL_SYS;
	}

	if ((j = calloc(1, sizeof(*j))) == NULL || (j->dir = strdup(o->dir)) == NULL) {
		free(j);
		snprintf(err, errlen, "journal %s: out of memory", o->dir);
		return ENOMEM;
	}
	/*
	 * Writer preference, so a steady stream of readers cannot keep the map
	 * from growing; growth waits JGROW_WAIT_MS at most, so a reader that
	 * nests read calls (a journal_events callback reading a packet) is held
	 * up that long at worst, never deadlocked.
	 */
	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&j->rw, &rwa);
	pthread_rwlockattr_destroy(&rwa);
	pthread_mutex_init(&j->sentmu, NULL);
	j->sync = o->sync;
	j->qwindow = o->queue_window ? o->queue_window : JQ_WINDOW_DEFAULT;
	j->map_max = o->map_max;
	j->disk_floor = o->disk_floor;
	j->soft_pct = o->soft_pct ? o->soft_pct : JDEFAULT_SOFT;

	if ((rc = mdb_env_create(&j->env)) != 0) {
		snprintf(err, errlen, "journal %s: %s", o->dir, mdb_strerror(rc));
		goto fail;
	}
	mdb_env_set_maxdbs(j->env, 8);
	/* MDB_NOTLS: read transactions are not tied to threads (see journal.h). */
	flags = MDB_NOTLS | o->env_flags | (o->sync ? 0 : MDB_NOSYNC) |
	    (o->readonly ? MDB_RDONLY : 0);
	if ((rc = mdb_env_open(j->env, o->dir, flags, 0600)) != 0) {
		snprintf(err, errlen, "journal %s: open: %s", o->dir, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_env_get_flags(j->env, &flags)) != 0)
		goto fail;
	if (o->sync && (flags & nosync)) {
		snprintf(err, errlen, "journal %s: environment has a no-sync flag with sync on",
		    o->dir);
		rc = JOURNAL_BAD_OPTS;
		goto fail;
	}
	/*
	 * The map size is set after opening: an existing journal then keeps the
	 * size it grew to (set before, a smaller size would shrink the map to
	 * the data file and leave the journal full at once).
	 */
	mdb_env_info(j->env, &info);
	want = o->map_size ? o->map_size : JDEFAULT_MAP;
	if (!o->readonly && info.me_mapsize < want &&
	    (rc = mdb_env_set_mapsize(j->env, want)) != 0) {
		snprintf(err, errlen, "journal %s: map size: %s", o->dir, mdb_strerror(rc));
		goto fail;
	}
	/* Reader slots left by a crashed process would pin old pages forever. */
	mdb_reader_check(j->env, &dead);
	if ((rc = open_dbs(j, o, err, errlen)) != 0)
		goto fail;
	if (o->keys != NULL)
		j->keys = *o->keys;
	if (!o->readonly && (rc = keys_check(j, err, errlen)) != 0)
		goto fail;
	mdb_env_stat(j->env, &ms);
	mdb_env_info(j->env, &info);
	j->psize = ms.ms_psize;
	j->map_size = info.me_mapsize;
	if (!o->readonly)
		jusage_check(j, 1);
	if (!o->readonly && (rc = jsent_restore(j)) != 0) {
		snprintf(err, errlen, "%s", journal_errmsg(j));
		goto fail;
	}
	/* after the keys: an old journal's build reads the packets' commands */
	if (!o->readonly && !o->no_index)
		jev_index_build(j);
	else if (!o->readonly)
		j->ix_ok = 0;   /* complete now, but this writer will not keep them */
	*jp = j;
	return 0;
fail:
	jcrypt_ring_clear(&j->keys);
	if (j->env != NULL)
		mdb_env_close(j->env);
	pthread_rwlock_destroy(&j->rw);
	pthread_mutex_destroy(&j->sentmu);
	free(j->sent);
	free(j->dir);
	free(j);
	return rc;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	mdb_env_close(j->env);
	pthread_rwlock_destroy(&j->rw);
	pthread_mutex_destroy(&j->sentmu);
	free(j->sent);
	free(j->buf);
	free(j->ebuf);
	free(j->lbuf);
	if (j->dbuf != NULL)
		OPENSSL_cleanse(j->dbuf, j->dbufsz);
	free(j->dbuf);
	jcrypt_ring_clear(&j->keys);
	free(j->dir);
	free(j);
}
