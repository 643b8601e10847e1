/* id.c — 16-byte packet ids, strictly increasing within a process. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "packets.h"

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t id_last[CID_LEN];

static void
put_ms(uint8_t id[CID_LEN], uint64_t ms)
{
	int i;

	for (i = 5; i >= 0; i--, ms >>= 8)
		id[i] = (uint8_t)ms;
}

int64_t
cid_time_ms(const uint8_t id[CID_LEN])
{
	int64_t ms = 0;
	int i;

	for (i = 0; i < 6; i++)
		ms = ms << 8 | id[i];
	return ms;
}

/*
 * Within one millisecond the 80-bit tail grows by a random step of 1..2^16,
 * starting from a random value below 2^79: 2^63 ids fit into a millisecond,
 * and an observer cannot guess the next id. If the clock steps back, the
 * last millisecond is kept, so ids never go backwards.
 */
int
cid_next(uint8_t id[CID_LEN])
{
	uint8_t rnd[CID_LEN];
	int64_t now = cnow_ms(), last;
	unsigned step;
	int i, carry;

	if (crandom(rnd, sizeof(rnd)) != 0)
		return -1;
	pthread_mutex_lock(&id_lock);
	last = cid_time_ms(id_last);
	if (now > last) {
		put_ms(id_last, (uint64_t)now);
		memcpy(id_last + 6, rnd, 10);
		id_last[6] &= 0x7f;
	} else {
		step = ((unsigned)rnd[0] << 8 | rnd[1]) + 1;
		carry = 0;
		for (i = CID_LEN - 1; i >= 6; i--) {
			unsigned v = id_last[i] + (step & 0xff) + carry;

			id_last[i] = (uint8_t)v;
			carry = v >> 8;
			step >>= 8;
		}
		if (carry) {            /* tail overflowed: borrow the next millisecond */
			put_ms(id_last, (uint64_t)last + 1);
			memcpy(id_last + 6, rnd + 2, 10);
			id_last[6] &= 0x7f;
		}
	}
	memcpy(id, id_last, CID_LEN);
	pthread_mutex_unlock(&id_lock);
	return 0;
}

char *
cid_format(const uint8_t id[CID_LEN], char buf[CID_TEXT_LEN])
{
	int i, o = 0;

	for (i = 0; i < CID_LEN; i++) {
		if (i == 6)
			buf[o++] = '-';
		snprintf(buf + o, 3, "%02x", id[i]);
		o += 2;
	}
	buf[o] = '\0';
	return buf;
}

int
cid_parse(const char *text, uint8_t id[CID_LEN])
{
	int i, o = 0;

	if (text == NULL || strlen(text) != CID_TEXT_LEN - 1 || text[12] != '-')
		return -1;
	for (i = 0; i < CID_LEN; i++) {
		unsigned v;
		char two[3];

		if (i == 6)
			o++;
		two[0] = text[o];
		two[1] = text[o + 1];
		two[2] = '\0';
		if (strspn(two, "0123456789abcdefABCDEF") != 2 || sscanf(two, "%2x", &v) != 1)
			return -1;
		id[i] = (uint8_t)v;
		o += 2;
	}
	return 0;
}
