/*
 * confdiff.h — what changed between two loaded configurations: the one
 * running and the one on disk. Pure: it reads both, changes neither. Used by
 * `cascadectl check` (say what would change) and by the live reload
 * (reload.c: refuse what cannot change live, apply the rest). It is the one
 * place that decides what changed: reload.c acts on the list, by what and id.
 */
#ifndef CASCADE_CONFDIFF_H
#define CASCADE_CONFDIFF_H

#include "conf.h"

enum conf_change_kind {
	CONF_CHANGE_LIVE = 0,    /* applied by a reload */
	CONF_CHANGE_IMMUTABLE,   /* node id, role, data-dir: never without a restart */
	CONF_CHANGE_RESTART,     /* not applied live by this version: restart */
};

/* What a live change is about: what reload.c has to do. */
enum conf_change_what {
	CONF_CHG_OTHER = 0,      /* nothing to do beyond the new config itself */
	CONF_CHG_CLIENT_ADDED,
	CONF_CHG_CLIENT_REMOVED,
	CONF_CHG_CLIENT_CHANGED,
	CONF_CHG_CHILD_ADDED,
	CONF_CHG_CHILD_REMOVED,
	CONF_CHG_CHILD_CHANGED,
	CONF_CHG_PARENT,         /* the link to the parent is rebuilt */
	CONF_CHG_LISTEN_ADDED,   /* id: the url, as written */
	CONF_CHG_LISTEN_REMOVED,
};

struct conf_change {
	enum conf_change_kind kind;
	enum conf_change_what what;
	/* the child's, client's or parent's id, or the listen url: a string of
	 * the new config (of the old one for what was removed) */
	const char *id;
	int end_sessions;        /* the peer's session ends: it logs in again */
	char text[320];          /* "file:line: client a: secret changed" */
};

struct conf_changes {
	struct conf_change *v;
	size_t n;
	size_t nrefused;         /* immutable + restart */
};

/* Fills out (zero it first; free with conf_changes_free). Returns out->n. */
size_t conf_diff(const struct conf *old, const struct conf *new, struct conf_changes *out);
void conf_changes_free(struct conf_changes *ch);
/* Every change, one a line, refused ones marked; a malloc'd string. */
char *conf_changes_text(const struct conf_changes *ch);

#endif /* CASCADE_CONFDIFF_H */
