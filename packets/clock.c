/*
 * clock.c — the two clocks everything reads: wall time (packet ids, ttl
 * deadlines, events) and monotonic time (timeouts, intervals). On their
 * own so that ids (id.c) and randomness (crypto.c) both use them without
 * calling each other.
 */
#include "config.h"

#include <time.h>

#include "packets.h"

int64_t
cnow_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
cmono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
