/*
 * control.c — the control socket cascadectl(8) talks to: nng rep0 on
 * ipc://<control> (cascade.conf(5)), mode 0600, so only the daemon's user
 * (and root) can drive the node; each request's peer uid is checked too.
 *
 * One context answers one request at a time: nng's callbacks only post to
 * the loop, which decodes the CtlRequest, checks who asks and the version,
 * and hands it to the handler control_start was given (ctl_command.c: read
 * the state, or act), then sends the CtlReply (reply_send, also the
 * commands' way to answer later). Requests are small and rare; serving
 * them in turn keeps this simple and never holds the loop.
 */
#include "config.h"

#include <sys/stat.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>

#include "cascaded.h"

#define CTL(x) CASCADE__CTL_RESULT__CTL_##x
#define CTL_RECV_MAX (64u << 10)        /* a request is a command and an argument */
#define CTL_STOP_WAIT_MS 1000

static nng_socket ctl_sock = NNG_SOCKET_INITIALIZER;
static nng_ctx ctl_ctx;
static nng_aio *ctl_aio;
static int ctl_open, ctl_sending;
static char ctl_path[1024];
static ctl_handler_fn *ctl_handler;     /* what a request asks is done there */

static void ctl_recv(void);

/* ------------------------------------------------------------- replies */

/* Sends rep (freed) and goes back to receiving. */
void
reply_send(Cascade__CtlReply *rep)
{
	size_t len = cascade__ctl_reply__get_packed_size(rep);
	nng_msg *m;
	int rc;

	if (!ctl_open) {
		protobuf_c_message_free_unpacked(&rep->base, NULL);
		return;
	}
	if ((rc = nng_msg_alloc(&m, len)) != 0) {
		log_warnx("control: reply: %s", nng_strerror(rc));
		protobuf_c_message_free_unpacked(&rep->base, NULL);
		ctl_recv();
		return;
	}
	cascade__ctl_reply__pack(rep, nng_msg_body(m));
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	nng_aio_set_msg(ctl_aio, m);
	ctl_sending = 1;
	nng_ctx_send(ctl_ctx, ctl_aio);
}

/* -------------------------------------------------------------- dispatch */

/*
 * Only cascaded's own user and root may drive the node. The socket's mode
 * says so already; this holds when the socket was opened up by mistake
 * (after smtpd's control.c, which checks the peer's euid per command).
 */
static int
peer_allowed(nng_msg *m, char *why, size_t len)
{
	uint64_t uid = 0, pid = 0;
	nng_pipe p = nng_msg_get_pipe(m);

	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0) {
		snprintf(why, len, "refused: the asking process's uid is unknown");
		log_warnx("control: request refused: the peer's uid is unknown");
		return 0;
	}
	if (uid == 0 || uid == (uint64_t)geteuid())
		return 1;
	nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid);
	snprintf(why, len, "refused: uid %llu is not cascaded's user (uid %u) or root",
	    (unsigned long long)uid, (unsigned)geteuid());
	log_warnx("control: request from uid %llu (pid %llu) refused: only uid %u and root "
	    "may drive this node (the socket %s should be mode 0600)", (unsigned long long)uid,
	    (unsigned long long)pid, (unsigned)geteuid(), ctl_path);
	return 0;
}

/*
 * Who asks, for the events of audited commands (replay, payload): the uid
 * and pid the ipc socket's peer credentials give, and the user cascadectl
 * says it runs for (its login, or sudo's caller) when that is another
 * name. Without credentials, only cascadectl's word.
 */
struct ctl_peer {
	int known;
	uint64_t uid, pid;
};

static void
peer_get(nng_msg *m, struct ctl_peer *cp)
{
	nng_pipe p = nng_msg_get_pipe(m);

	memset(cp, 0, sizeof(*cp));
	cp->known = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &cp->uid) == 0;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &cp->pid) != 0)
		cp->pid = 0;
}

static void
peer_who(const struct ctl_peer *cp, const char *said, char *out, size_t len)
{
	struct passwd pw, *pwp = NULL;
	char buf[1024], name[64];
	size_t n;

	said = said != NULL ? said : "";
	if (!cp->known) {
		snprintf(out, len, "user %.64s (cascadectl's word: the socket gave no peer "
		    "credentials)", *said ? said : "?");
		return;
	}
	if (getpwuid_r((uid_t)cp->uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL)
		snprintf(name, sizeof(name), "%s", pw.pw_name);
	else
		snprintf(name, sizeof(name), "?");
	n = (size_t)snprintf(out, len, "uid %llu (%s) pid %llu", (unsigned long long)cp->uid,
	    name, (unsigned long long)cp->pid);
	if (*said && strcmp(said, name) != 0 && n < len)
		snprintf(out + n, len - n, ", for user %.64s (cascadectl's word)", said);
}

static void
ctl_request(nng_msg *m)
{
	Cascade__CtlReply *rep = reply_new();
	Cascade__CtlRequest *req = NULL;
	struct ctl_peer cp;
	char why[256], who[320];

	peer_get(m, &cp);
	if (!peer_allowed(m, why, sizeof(why))) {
		nng_msg_free(m);
		reply_set(rep, CTL(DENIED), why, NULL);
		goto send;
	}
	req = cascade__ctl_request__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	if (req == NULL) {
		log_warnx("control: undecodable request: not from cascadectl?");
		reply_set(rep, CTL(BAD_REQUEST), "undecodable request", NULL);
		goto send;
	}
	if (req->version != CASCADE__CTL_VERSION__CTL_VERSION_CURRENT) {
		snprintf(why, sizeof(why), "control protocol version %u, but cascaded %s speaks "
		    "version %u: use the cascadectl of this cascaded", req->version,
		    PACKAGE_VERSION, CASCADE__CTL_VERSION__CTL_VERSION_CURRENT);
		log_warnx("control: request refused: %s", why);
		reply_set(rep, CTL(BAD_VERSION), why, NULL);
		goto send;
	}
	peer_who(&cp, req->user, who, sizeof(who));
	if (ctl_handler(req, rep, who)) {
		cascade__ctl_request__free_unpacked(req, NULL);
		return;         /* the command sends rep */
	}
send:
	if (req != NULL)
		cascade__ctl_request__free_unpacked(req, NULL);
	reply_send(rep);
}

/* On the loop: the aio finished a receive or a send. */
static void
ctl_loop(void *arg)
{
	int rc;

	if (!ctl_open)
		return;
	rc = nng_aio_result(ctl_aio);
	if (ctl_sending) {
		ctl_sending = 0;
		if (rc != 0) {
			/* cascadectl went away before the answer: its loss */
			nng_msg_free(nng_aio_get_msg(ctl_aio));
			log_debug("control: reply not sent: %s", nng_strerror(rc));
		}
		ctl_recv();
		return;
	}
	if (rc != 0) {
		if (rc != NNG_ECLOSED)
			log_warnx("control: receive: %s", nng_strerror(rc));
		if (rc != NNG_ECLOSED && rc != NNG_ECANCELED)
			ctl_recv();
		return;
	}
	ctl_request(nng_aio_get_msg(ctl_aio));
}

static void
ctl_aio_cb(void *arg)
{
	loop_post(ctl_loop, arg);       /* nng thread: hand over to the loop */
}

static void
ctl_recv(void)
{
	nng_ctx_recv(ctl_ctx, ctl_aio);
}

int
control_start(const struct conf *c, ctl_handler_fn *handler)
{
	nng_listener l;
	char url[1100];
	mode_t old;
	int rc;

	ctl_handler = handler;
	snprintf(ctl_path, sizeof(ctl_path), "%s", c->control);
	snprintf(url, sizeof(url), "ipc://%s", c->control);
	if ((rc = nng_rep0_open(&ctl_sock)) != 0)
		fatalx("control: %s", nng_strerror(rc));
	nng_socket_set_size(ctl_sock, NNG_OPT_RECVMAXSZ, CTL_RECV_MAX);
	/* nng binds, then chmods: the umask closes the socket in between */
	old = umask(077);
	if ((rc = nng_listener_create(&l, ctl_sock, url)) != 0 ||
	    (rc = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0 ||
	    (rc = nng_listener_start(l, 0)) != 0)
		fatalx("control: %s: %s%s", c->control, nng_strerror(rc), rc == NNG_EADDRINUSE ?
		    " (another cascaded runs with this control socket?)" : "");
	umask(old);
	if ((rc = nng_aio_alloc(&ctl_aio, ctl_aio_cb, NULL)) != 0 ||
	    (rc = nng_ctx_open(&ctl_ctx, ctl_sock)) != 0)
		fatalx("control: %s", nng_strerror(rc));
	ctl_open = 1;
	ctl_recv();
	log_info("control: listening on %s (mode 0600)", c->control);
	return 0;
}

void
control_stop(void)
{
	if (!ctl_open)
		return;
	ctl_open = 0;
	if (!cnng_close_bounded(ctl_sock, CTL_STOP_WAIT_MS, NULL, NULL)) {
		log_warnx("control: closing the socket took longer than %d ms (nng wedged); "
		    "stopping without it", CTL_STOP_WAIT_MS);
		return;
	}
	nng_aio_stop(ctl_aio);
	nng_aio_free(ctl_aio);
	unlink(ctl_path);               /* nng leaves the socket file behind */
}
