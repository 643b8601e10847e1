/*
 * control.c — the control socket cascadectl(8) talks to: nng rep0 on
 * ipc://<control> (cascade.conf(5)), mode 0600, so only the daemon's user
 * (and root) can drive the node; each request's peer uid is checked too.
 *
 * One context answers one request at a time: nng's callbacks only post to
 * the loop, which decodes the CtlRequest, reads the state (snapshot.c, no
 * waiting) or acts (uplink pause/resume/retry; cancel through the journal
 * thread) and sends the CtlReply. Requests are small and rare; serving them
 * in turn keeps this simple and never holds the loop.
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
#include "origin.h"

#define CTL(x) CASCADE__CTL_RESULT__CTL_##x
#define CMD(x) CASCADE__CTL_COMMAND__CTL_##x
#define CTL_RECV_MAX (64u << 10)        /* a request is a command and an argument */
#define CTL_STOP_WAIT_MS 1000

static nng_socket ctl_sock = NNG_SOCKET_INITIALIZER;
static nng_ctx ctl_ctx;
static nng_aio *ctl_aio;
static int ctl_open, ctl_sending;
static char ctl_path[1024];

static void ctl_recv(void);

/* ------------------------------------------------------------- replies */

static Cascade__CtlReply *
reply_new(void)
{
	Cascade__CtlReply *rep = xcalloc(1, sizeof(*rep));

	cascade__ctl_reply__init(rep);
	rep->version = CASCADE__CTL_VERSION__CTL_VERSION_CURRENT;
	rep->error = xstrdup("");
	rep->text = xstrdup("");
	return rep;
}

void
reply_set(Cascade__CtlReply *rep, uint32_t result, const char *error, const char *text)
{
	rep->result = result;
	if (error != NULL) {
		free(rep->error);
		rep->error = xstrdup(error);
	}
	if (text != NULL) {
		free(rep->text);
		rep->text = xstrdup(text);
	}
}

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

/* ------------------------------------------------------------ commands */

static int
link_check(const char *name, Cascade__CtlReply *rep)
{
	char why[256];

	if (node->up != NULL && strcmp(name, node->conf->parent->id) == 0)
		return 0;
	if (routes_child_for(node, name) != NULL)
		snprintf(why, sizeof(why), "%s is a child: a child's link is driven from its own "
		    "node (cascadectl on %s)", name, name);
	else if (node->up == NULL)
		snprintf(why, sizeof(why), "no link %s: this node (%s) is the master and has no "
		    "parent", name, node->id);
	else
		snprintf(why, sizeof(why), "no link %s: the parent of %s is %s", name, node->id,
		    node->conf->parent->id);
	reply_set(rep, CTL(NOT_FOUND), why, NULL);
	return -1;
}

static void
do_link_op(uint32_t cmd, const char *name, Cascade__CtlReply *rep)
{
	char text[256];

	if (link_check(name, rep) != 0)
		return;
	switch (cmd) {
	case CMD(PAUSE):
		if (uplink_pause(node->up) != 0) {
			reply_set(rep, CTL(FAILED), "the link is paused already", NULL);
			return;
		}
		snprintf(text, sizeof(text), "link %s paused: nothing is sent or pulled until "
		    "resume", name);
		break;
	case CMD(RESUME):
		if (uplink_resume(node->up) != 0) {
			reply_set(rep, CTL(FAILED), "the link is not paused", NULL);
			return;
		}
		snprintf(text, sizeof(text), "link %s resumed: connecting", name);
		break;
	default:        /* RETRY */
		if (uplink_retry(node->up) != 0) {
			reply_set(rep, CTL(FAILED), "the link is paused: resume it first", NULL);
			return;
		}
		snprintf(text, sizeof(text), "link %s: redialing now", name);
	}
	log_info("control: %s", text);
	reply_set(rep, CTL(OK), NULL, text);
}

static int
id_arg(const char *arg, uint8_t id[CID_LEN], Cascade__CtlReply *rep)
{
	char why[256];

	if (cid_parse(arg, id) == 0)
		return 0;
	snprintf(why, sizeof(why), "\"%.64s\" is not a packet id (12 hex digits, '-', 20 hex "
	    "digits)", arg);
	reply_set(rep, CTL(BAD_REQUEST), why, NULL);
	return -1;
}

const char *
queue_name(uint32_t qid, char *buf, size_t len)
{
	struct jqueue_info qi;

	if (journal_queue_info(node->j, qid, &qi) != 0)
		snprintf(buf, len, "queue %u", qid);
	else
		snprintf(buf, len, "%s", qi.name);
	return buf;
}

/*
 * Where a queue entry stands: waiting, or gone, and then why: the
 * receiver's ack covers it (forwarded or delivered), or it left before
 * (its deadline passed: expired; otherwise cancelled).
 */
static uint32_t
place_of(const struct jwhere *w, unsigned i)
{
	struct jqueue_info qi;

	if (w->waiting[i])
		return CASCADE__CTL_PLACE__CTL_PLACE_QUEUED;
	if (journal_queue_info(node->j, w->qid[i], &qi) == 0 && w->qseq[i] <= qi.acked_seq)
		return qi.kind == JQ_CLIENT ? CASCADE__CTL_PLACE__CTL_PLACE_DELIVERED :
		    CASCADE__CTL_PLACE__CTL_PLACE_FORWARDED;
	if (w->deadline_ms != 0 && w->deadline_ms <= cnow_ms())
		return CASCADE__CTL_PLACE__CTL_PLACE_EXPIRED;
	return CASCADE__CTL_PLACE__CTL_PLACE_CANCELLED;
}

/* The i-th queue place of w, for a reply (freed with it). */
Cascade__CtlQueuePlace *
ctl_place(const struct jwhere *w, unsigned i)
{
	Cascade__CtlQueuePlace *qp = xcalloc(1, sizeof(*qp));
	char qn[96];

	cascade__ctl_queue_place__init(qp);
	qp->queue = xstrdup(queue_name(w->qid[i], qn, sizeof(qn)));
	qp->seq = w->qseq[i];
	qp->place = place_of(w, i);
	return qp;
}

static Cascade__CtlPacket *
packet_shown(const uint8_t id[CID_LEN], unsigned leg, struct jwhere *w)
{
	Cascade__CtlPacket *cp = xcalloc(1, sizeof(*cp));
	Cascade__Packet *p = NULL;
	char idt[CID_TEXT_LEN];
	unsigned i;

	cascade__ctl_packet__init(cp);
	cp->id = xstrdup(cid_format(id, idt));
	cp->leg = leg;
	if (w->body != NULL)
		p = cpkt_decode(w->body, w->bodylen);
	cp->src = xstrdup(p != NULL ? p->src : "");
	cp->dst = xstrdup(p != NULL ? p->dst : "");
	cp->command = xstrdup(p != NULL ? p->command : "");
	cp->payload_size = p != NULL ? p->payload.len : 0;
	cpkt_free(p);
	cp->accepted_ms = w->accepted_ms;
	cp->deadline_ms = w->deadline_ms;
	cp->pruned = w->pruned;
	cp->payload_sha256.data = xmalloc(CSHA256_LEN);
	memcpy(cp->payload_sha256.data, w->sha, CSHA256_LEN);
	cp->payload_sha256.len = CSHA256_LEN;
	cp->places = xcalloc(w->nq + 1, sizeof(*cp->places));
	for (i = 0; i < w->nq; i++)
		cp->places[cp->n_places++] = ctl_place(w, i);
	return cp;
}

static void
do_show(const char *arg, Cascade__CtlReply *rep)
{
	uint8_t id[CID_LEN];
	struct jwhere w;
	struct jkey k;
	unsigned leg;
	char why[256];
	int rc;

	if (id_arg(arg, id, rep) != 0)
		return;
	rep->packets = xcalloc(2, sizeof(*rep->packets));
	memcpy(k.id, id, CID_LEN);
	for (leg = JLEG_UP; leg <= JLEG_DOWN; leg++) {
		k.leg = (uint8_t)leg;
		if ((rc = journal_packet_where(node->j, &k, &w)) == JOURNAL_NOT_FOUND)
			continue;
		if (rc != 0) {
			reply_set(rep, CTL(FAILED), journal_errmsg(node->j), NULL);
			return;
		}
		rep->packets[rep->n_packets++] = packet_shown(id, leg, &w);
		free(w.body);
	}
	if (rep->n_packets == 0) {
		snprintf(why, sizeof(why), "packet %s is not in the journal of %s (never here, or "
		    "pruned after its retention)", arg, node->id);
		reply_set(rep, CTL(NOT_FOUND), why, NULL);
	}
}

/*
 * cancel: the operator acts for the packet's source (journal_cancel checks
 * the source; here it is read from the packet itself), at this node only.
 * The source hears "cancelled" as when it cancels itself.
 */
struct ctl_cancel {
	struct jjob job;
	uint8_t id[CID_LEN];
	Cascade__Packet *orig;          /* the packet as stored, for the notice */
	int known, was_queued;
	Cascade__CtlReply *rep;
};

static int
cancel_run(struct journal *j, struct jjob *job)
{
	struct ctl_cancel *cc = (struct ctl_cancel *)job;
	struct jwhere w;
	struct jkey k;
	int leg, wq, rc;

	memcpy(k.id, cc->id, CID_LEN);
	for (leg = JLEG_UP; leg <= JLEG_DOWN; leg++) {
		Cascade__Packet *p;

		k.leg = (uint8_t)leg;
		if ((rc = journal_packet_where(j, &k, &w)) == JOURNAL_NOT_FOUND)
			continue;
		if (rc != 0)
			return rc;
		p = w.body != NULL ? cpkt_decode(w.body, w.bodylen) : NULL;
		free(w.body);
		if (p == NULL)
			continue;       /* pruned: delivered long ago, waits nowhere */
		cc->known = 1;
		wq = 0;
		rc = journal_cancel(j, &k, p->src, (uint64_t)cnow_ms(), &wq);
		if (rc != 0) {
			cpkt_free(p);
			return rc;
		}
		cc->was_queued |= wq;
		if (cc->orig == NULL)
			cc->orig = p;
		else
			cpkt_free(p);
	}
	return 0;
}

static void
cancel_done(struct jjob *job)
{
	struct ctl_cancel *cc = (struct ctl_cancel *)job;
	char idt[CID_TEXT_LEN], text[256];

	cid_format(cc->id, idt);
	if (job->rc != 0)
		reply_set(cc->rep, CTL(FAILED), journal_strerror(job->rc), NULL);
	else if (!cc->known) {
		snprintf(text, sizeof(text), "packet %s is not in the journal of %s", idt, node->id);
		reply_set(cc->rep, CTL(NOT_FOUND), text, NULL);
	} else if (!cc->was_queued) {
		snprintf(text, sizeof(text), "packet %s waits nowhere here: it left (see "
		    "cascadectl show %s)", idt, idt);
		reply_set(cc->rep, CTL(FAILED), text, NULL);
	} else {
		origin_cancel_release(cc->id);
		log_info("control: packet %s (from %s) cancelled by the operator", idt,
		    cc->orig->src);
		origin_notice(cc->orig, CASCADE__NOTICE_CODE__NOTICE_CANCELLED, 0,
		    "cancelled by the operator of the node");
		snprintf(text, sizeof(text), "packet %s cancelled; a \"cancelled\" notice goes to %s",
		    idt, cc->orig->src);
		reply_set(cc->rep, CTL(OK), NULL, text);
	}
	cpkt_free(cc->orig);
	reply_send(cc->rep);
	free(cc);
}

/* 1 when the reply goes later (the journal thread has the command). */
static int
do_cancel(const char *arg, Cascade__CtlReply *rep)
{
	struct ctl_cancel *cc;
	uint8_t id[CID_LEN];

	if (id_arg(arg, id, rep) != 0)
		return 0;
	cc = xcalloc(1, sizeof(*cc));
	memcpy(cc->id, id, CID_LEN);
	cc->rep = rep;
	cc->job.run = cancel_run;
	cc->job.done = cancel_done;
	jthread_submit(&cc->job);
	return 1;
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
	switch (req->command) {
	case CMD(STATUS):
		rep->status = snapshot_status();
		break;
	case CMD(LINKS):
		snapshot_links(&rep->links, &rep->n_links);
		break;
	case CMD(CLIENTS):
		snapshot_clients(&rep->clients, &rep->n_clients);
		break;
	case CMD(SHOW):
		do_show(req->arg, rep);
		break;
	case CMD(CANCEL):
		if (do_cancel(req->arg, rep)) {
			cascade__ctl_request__free_unpacked(req, NULL);
			return;
		}
		break;
	case CMD(PAUSE):
	case CMD(RESUME):
	case CMD(RETRY):
		do_link_op(req->command, req->arg, rep);
		break;
	case CMD(QUEUE): ctl_queue(req, rep); break;
	case CMD(CHECK):
	case CMD(RELOAD): {
		char *text = NULL;

		if (reload_run(req->command == CMD(CHECK), &text) != 0)
			reply_set(rep, CTL(FAILED), text, NULL);
		else
			reply_set(rep, CTL(OK), NULL, text);
		free(text);
		break;
	}
	case CMD(TRACE): ctl_trace(req->arg, rep); cascade__ctl_request__free_unpacked(req, NULL); return;
	case CMD(REPLAY):
	case CMD(PAYLOAD):
		/* answered once the journal thread has done it (and journaled who asked) */
		peer_who(&cp, req->user, who, sizeof(who));
		if (req->command == CMD(REPLAY))
			ctl_replay(req, rep, who);
		else
			ctl_payload(req->arg, rep, who);
		cascade__ctl_request__free_unpacked(req, NULL);
		return;
	case CMD(AUDIT_ANCHOR):
		ctl_audit_anchor(rep);
		cascade__ctl_request__free_unpacked(req, NULL);
		return;
	default:
		snprintf(why, sizeof(why), "unknown command %u (a newer cascadectl?)", req->command);
		log_warnx("control: request refused: %s", why);
		reply_set(rep, CTL(BAD_REQUEST), why, NULL);
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
control_start(const struct conf *c)
{
	nng_listener l;
	char url[1100];
	mode_t old;
	int rc;

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
	ctl_replay_stop();
	if (!cnng_close_bounded(ctl_sock, CTL_STOP_WAIT_MS, NULL, NULL)) {
		log_warnx("control: closing the socket took longer than %d ms (nng wedged); "
		    "stopping without it", CTL_STOP_WAIT_MS);
		return;
	}
	nng_aio_stop(ctl_aio);
	nng_aio_free(ctl_aio);
	unlink(ctl_path);               /* nng leaves the socket file behind */
}
