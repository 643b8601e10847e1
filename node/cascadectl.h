/*
 * cascadectl.h — what cascadectl.c shares with the files of its longer
 * commands (cascadectl_ops.c: queue, trace, top).
 */
#ifndef CASCADE_CASCADECTL_H
#define CASCADE_CASCADECTL_H

#include <stdint.h>

#include <jansson.h>

#include "packets.h"

enum { EX_OK = 0, EX_FAILED = 1, EX_USAGE = 2, EX_NOT_RUNNING = 3, EX_PERMISSION = 4,
	EX_VERSION = 5, EX_PARTIAL = 6 /* replay: some packets could not go again */ };

extern int json;                        /* -j, --json */
extern int ask_wait_ms;                 /* how long ask() waits for the answer (5 s) */
extern const char *opt_limit, *opt_after;

/* Prints the message (and, with --json, {"error", "exit"}) and exits with status. */
void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* One request, its answer (an error answer dies with its exit code). */
Cascade__CtlReply *ask(const char *path, uint32_t cmd, const char *arg);
Cascade__CtlReply *ask_req(const char *path, Cascade__CtlRequest *req);

json_t *to_json(const ProtobufCMessage *m);
json_t *json_list(ProtobufCMessage **m, size_t n);
void json_print(json_t *v);                     /* and frees v */
const char *state_name(uint32_t state);         /* CtlLinkState */
const char *place_name(uint32_t place);         /* CtlPlace */
const char *age(int64_t ms, char *buf, size_t len);
const char *when(int64_t ms, char *buf, size_t len);
const char *bytes_h(uint64_t b, char *buf, size_t len);
void hex(const uint8_t *b, size_t n, char *out);   /* out: 2n+1 bytes */

char *socket_from_config(const char *file);    /* malloc'd */

/*
 * cascadectl_ops.c: queue, trace, top. ops_command says whether name is one
 * of them; ops_run runs it with its words (name first; options are parsed
 * by main: --limit, --after) on socket path (freed) and returns the exit code.
 */
int ops_command(const char *name);
int ops_run(char *path, int argc, char **argv);

/*
 * cascadectl_audit.c: audit, audit verify, audit export, audit show, reading
 * the journal directly, and audit anchor, asking the daemon (on sock, or
 * the configuration's socket); argv[0] is "audit". Returns the exit code.
 */
int audit_run(const char *conffile, const char *sock, int argc, char **argv);

/* cascadectl_replay.c: replay --link ... | --id ID (argv[0] is "replay"). */
int replay_run(const char *conffile, const char *sock, int argc, char **argv);

#endif
