/*
 * libFuzzer target: the bytes of one request as the listeners hand them to
 * server_request (an http POST body, an nng message). server_request itself
 * needs a running node (peers, sessions, the journal thread), so this runs
 * the steps it takes before any session state, with the same functions and
 * limits (node/limits.c, packets/wire.c, envelope.c): peek, budgeted
 * unpack, mac check, the Auth/Push pre-unpack checks, the body's budgeted
 * unpack and each pushed packet's validation.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cascaded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct node *node;
static struct node the_node;
static struct conf the_conf;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* the limits lim_push_check reads: cascade.conf(5)'s defaults */
	the_conf.max_packet = 1u << 20;
	the_conf.max_batch = 256;
	the_node.conf = &the_conf;
	node = &the_node;
	return 0;
}

static const ProtobufCMessageDescriptor *
body_descriptor(uint32_t type)
{
	switch (type) {
	case CASCADE__MSG_TYPE__MSG_HELLO: return &cascade__hello__descriptor;
	case CASCADE__MSG_TYPE__MSG_AUTH: return &cascade__auth__descriptor;
	case CASCADE__MSG_TYPE__MSG_PUSH: return &cascade__push__descriptor;
	case CASCADE__MSG_TYPE__MSG_PULL: return &cascade__pull__descriptor;
	case CASCADE__MSG_TYPE__MSG_ROUTES: return &cascade__routes__descriptor;
	}
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[SESSION_KEY_LEN] = { 1, 2, 3 };
	const ProtobufCMessageDescriptor *d;
	Cascade__Request *req;
	ProtobufCMessage *body;
	char why[256];
	uint32_t type;
	uint64_t sid;
	int exceeded;
	size_t i;

	if (lim_request_peek(data, size, &type, &sid) != 0)
		return 0;
	if (size > LIM_PRESESSION_MAX &&
	    (type == CASCADE__MSG_TYPE__MSG_HELLO || type == CASCADE__MSG_TYPE__MSG_AUTH))
		return 0;
	if ((req = lim_unpack(&cascade__request__descriptor, data, size, &exceeded)) == NULL)
		return 0;
	if (req->type != type || req->session != sid)
		abort();        /* the scanner and protobuf-c must agree */
	(void)cenv_request_verify(req, key);
	if ((d = body_descriptor(req->type)) == NULL)
		goto done;
	if (req->type == CASCADE__MSG_TYPE__MSG_AUTH &&
	    lim_auth_check(req->body.data, req->body.len, why, sizeof(why)) != 0)
		goto done;
	if (req->type == CASCADE__MSG_TYPE__MSG_PUSH &&
	    lim_push_check(req->body.data, req->body.len, why, sizeof(why)) != 0)
		goto done;
	if ((body = lim_unpack(d, req->body.data, req->body.len, &exceeded)) == NULL)
		goto done;
	if (req->type == CASCADE__MSG_TYPE__MSG_PUSH) {
		Cascade__Push *push = (Cascade__Push *)body;

		if (push->n_packets > node->conf->max_batch)
			abort();        /* lim_push_check let a larger batch through */
		for (i = 0; i < push->n_packets; i++)
			(void)cpkt_validate(push->packets[i], node->conf->max_packet, why, sizeof(why));
	}
	protobuf_c_message_free_unpacked(body, NULL);
done:
	cascade__request__free_unpacked(req, NULL);
	return 0;
}
