/*
 * pipeshim.c — LD_PRELOAD shim for stall.sh and shutdown.sh: stands
 * between nng and the pipe callbacks a process registers with
 * nng_pipe_notify, to make the two ways a link can be left waiting for a
 * connection happen on purpose (issue 17):
 *
 *   PIPESHIM_SWALLOW_ADD=FILE  while FILE exists, a new connection's
 *                              ADD_POST never reaches the process (a
 *                              carrier that goes silent)
 *   PIPESHIM_LATE_REM=FILE     while FILE exists, a connection's REM_POST
 *                              reaches the process 500 ms late, from a
 *                              thread of its own, so that the next
 *                              connection's ADD_POST comes first (nng runs
 *                              the two on different threads)
 *   PIPESHIM_HANG_CLOSE=FILE   while FILE exists, nng_close never returns
 *                              (nng 1.5's close paths that wedge)
 *   PIPESHIM_FAIL_CTX=FILE     when FILE exists, the next nng_ctx_open fails
 *                              (NNG_ENOMEM) and FILE is removed: one request
 *                              the carrier cannot make (uplink_callfail.sh)
 *
 * Each event it holds back is written to stderr ("pipeshim: ...").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <nng/nng.h>

#define SLOTS 64

struct slot {
	nng_pipe_cb cb;
	void *arg;
};

static struct slot slots[SLOTS];
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static int nslots;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int
flag(const char *env)
{
	const char *f = getenv(env);

	return f != NULL && access(f, F_OK) == 0;
}

struct late {
	struct slot *s;
	nng_pipe p;
};

static void *
late_main(void *arg)
{
	struct late *l = arg;

	usleep(500 * 1000);
	fprintf(stderr, "pipeshim: REM_POST of pipe %u delivered now, late\n",
	    (unsigned)nng_pipe_id(l->p));
	l->s->cb(l->p, NNG_PIPE_EV_REM_POST, l->s->arg);
	free(l);
	return NULL;
}

static void
tramp(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct slot *s = arg;
	struct late *l;
	pthread_t t;

	if (ev == NNG_PIPE_EV_ADD_POST && flag("PIPESHIM_SWALLOW_ADD")) {
		fprintf(stderr, "pipeshim: ADD_POST of pipe %u swallowed\n",
		    (unsigned)nng_pipe_id(p));
		return;
	}
	if (ev == NNG_PIPE_EV_REM_POST && flag("PIPESHIM_LATE_REM") &&
	    (l = malloc(sizeof(*l))) != NULL) {
		l->s = s;
		l->p = p;
		fprintf(stderr, "pipeshim: REM_POST of pipe %u held back\n",
		    (unsigned)nng_pipe_id(p));
		if (pthread_create(&t, NULL, late_main, l) == 0) {
			pthread_detach(t);
			return;
		}
		free(l);
	}
	s->cb(p, ev, s->arg);
}

int
nng_pipe_notify(nng_socket sock, nng_pipe_ev ev, nng_pipe_cb cb, void *arg)
{
	static int (*real)(nng_socket, nng_pipe_ev, nng_pipe_cb, void *);
	struct slot *s;

	if (real == NULL)
		real = (int (*)(nng_socket, nng_pipe_ev, nng_pipe_cb, void *))
		    dlsym(RTLD_NEXT, "nng_pipe_notify");
	if (cb == NULL)
		return real(sock, ev, cb, arg);
	pthread_mutex_lock(&lock);
	if (nslots == SLOTS) {
		pthread_mutex_unlock(&lock);
		return real(sock, ev, cb, arg);
	}
	s = &slots[nslots++];
	s->cb = cb;
	s->arg = arg;
	pthread_mutex_unlock(&lock);
	return real(sock, ev, tramp, s);
}

int
nng_close(nng_socket sock)
{
	static int (*real)(nng_socket);

	if (real == NULL)
		real = (int (*)(nng_socket))dlsym(RTLD_NEXT, "nng_close");
	if (flag("PIPESHIM_HANG_CLOSE")) {
		fprintf(stderr, "pipeshim: nng_close of socket %u hangs\n", (unsigned)nng_socket_id(sock));
		for (;;)
			pause();
	}
	return real(sock);
}

int
nng_ctx_open(nng_ctx *ctx, nng_socket sock)
{
	static int (*real)(nng_ctx *, nng_socket);
	const char *f = getenv("PIPESHIM_FAIL_CTX");
	int fail;

	if (real == NULL)
		real = (int (*)(nng_ctx *, nng_socket))dlsym(RTLD_NEXT, "nng_ctx_open");
	pthread_mutex_lock(&ctx_lock);
	fail = f != NULL && unlink(f) == 0;     /* once per FILE made */
	pthread_mutex_unlock(&ctx_lock);
	if (fail) {
		fprintf(stderr, "pipeshim: nng_ctx_open on socket %u fails\n",
		    (unsigned)nng_socket_id(sock));
		return NNG_ENOMEM;
	}
	return real(ctx, sock);
}
