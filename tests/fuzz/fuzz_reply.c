/*
 * libFuzzer target: the bytes of one reply as a child (node/uplink.c) or the
 * SDK (client-sdk/session.c) receives them from its parent, possibly through
 * a man in the middle on a plain link: the Reply envelope, its mac check,
 * the body of each reply type, and every packet of a PullReply validated.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *
body_descriptor(uint32_t type)
{
	switch (type) {
	case CASCADE__MSG_TYPE__MSG_HELLO: return &cascade__hello_reply__descriptor;
	case CASCADE__MSG_TYPE__MSG_AUTH: return &cascade__auth_reply__descriptor;
	case CASCADE__MSG_TYPE__MSG_PUSH: return &cascade__push_reply__descriptor;
	case CASCADE__MSG_TYPE__MSG_PULL: return &cascade__pull_reply__descriptor;
	case CASCADE__MSG_TYPE__MSG_ROUTES: return &cascade__routes_reply__descriptor;
	}
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[CSHA256_LEN] = { 1, 2, 3 };
	const ProtobufCMessageDescriptor *d;
	Cascade__Reply *rep;
	ProtobufCMessage *body;
	char msg[256];
	size_t i;

	if ((rep = cascade__reply__unpack(NULL, size, data)) == NULL)
		return 0;
	(void)cenv_reply_verify(rep, 42, 7, key);
	(void)cstatus_str(rep->status);
	if ((d = body_descriptor(rep->type)) != NULL &&
	    (body = protobuf_c_message_unpack(d, NULL, rep->body.len, rep->body.data)) != NULL) {
		if (rep->type == CASCADE__MSG_TYPE__MSG_PULL) {
			Cascade__PullReply *pr = (Cascade__PullReply *)body;

			for (i = 0; i < pr->n_packets; i++)
				(void)cpkt_validate(pr->packets[i], 0, msg, sizeof(msg));
		}
		protobuf_c_message_free_unpacked(body, NULL);
	}
	cascade__reply__free_unpacked(rep, NULL);
	return 0;
}
