/*
 * confdiff.h — what changed between two loaded configurations: the one
 * running and the one on disk. Pure: it reads both, changes neither. Used by
 * `cascadectl check` (say what would change) and by the live reload
 * (reload.c: refuse what cannot change live, apply the rest).
 */
#ifndef CASCADE_CONFDIFF_H
#define CASCADE_CONFDIFF_H

#include "conf.h"

enum conf_change_kind {
	CONF_CHANGE_LIVE = 0,    /* applied by a reload */
	CONF_CHANGE_IMMUTABLE,   /* node id, role, data-dir: never without a restart */
	CONF_CHANGE_RESTART,     /* not applied live by this version: restart */
};

struct conf_change {
	enum conf_change_kind kind;
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
