/*
 * log_test.c — node/log.c's rate limit: a repeated warning is logged once a
 * minute with the count of the ones held back; other lines are not held.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "log.h"

static int64_t fake_now;
static char *buf;
static size_t buflen;
static FILE *out;

static int64_t
clock_fake(void)
{
	return fake_now;
}

static void
start(void)
{
	free(buf);
	buf = NULL;
	out = open_memstream(&buf, &buflen);
	fake_now = 1000000;
	log_init(1, 0, "log_test");
	log_test_hooks(out, clock_fake);
}

/* How many lines of the output so far contain s. */
static int
lines_with(const char *s)
{
	const char *p;
	int n = 0;

	fflush(out);
	for (p = buf; p != NULL && (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	return n;
}

static void
TEST_repeats_counted(void)
{
	int i;

	start();
	for (i = 0; i < 38; i++) {
		log_warnx("link city: connect refused");
		fake_now += 1000;       /* 38 s */
	}
	CHECK_EQ(lines_with("link city: connect refused"), 1);
	CHECK_EQ(lines_with("more in the last minute"), 0);
	fake_now += 30000;              /* the minute is over */
	log_flush();
	CHECK_EQ(lines_with("link city: connect refused ... 37 more in the last minute"), 1);
	/* a new minute: the next one is logged again, at once */
	log_warnx("link city: connect refused");
	CHECK_EQ(lines_with("link city: connect refused"), 3);
	fclose(out);
}

static void
TEST_different_lines_pass(void)
{
	start();
	log_warnx("link a: down");
	log_warnx("link b: down");
	log_warnx("link a: down");
	log_info("link a: down");       /* info is never held */
	CHECK_EQ(lines_with("link a: down"), 2);
	CHECK_EQ(lines_with("link b: down"), 1);
	fake_now += 61000;
	log_flush();
	CHECK_EQ(lines_with("link a: down ... 1 more in the last minute"), 1);
	CHECK_EQ(lines_with("link b: down ..."), 0);    /* nothing held: no count line */
	fclose(out);
}

/*
 * The loop arms its flush for when a held count is due and not at all
 * while none is: log_flush says when, and log_on_held's fn says that a
 * window has just begun holding lines back (once, not for each line).
 */
static int held_calls;

static void
held_fn(void)
{
	held_calls++;
}

static void
TEST_flush_due_and_held_hook(void)
{
	start();
	held_calls = 0;
	log_on_held(held_fn);
	CHECK_EQ(log_flush(), -1);               /* nothing logged */
	log_warnx("disk slow");
	CHECK_EQ(log_flush(), -1);               /* logged, nothing held back */
	CHECK_EQ(held_calls, 0);
	fake_now += 20000;
	log_warnx("disk slow");
	log_warnx("disk slow");
	CHECK_EQ(held_calls, 1);
	CHECK_EQ(log_flush(), 40000);            /* the minute began 20 s ago */
	fake_now += 40000;
	CHECK_EQ(log_flush(), -1);               /* written, and nothing held any more */
	CHECK_EQ(lines_with("disk slow ... 2 more in the last minute"), 1);
	log_warnx("disk slow");                  /* a new window: logged, not held */
	log_warnx("disk slow");
	CHECK_EQ(held_calls, 2);
	log_on_held(NULL);
	fclose(out);
}

static void
TEST_eviction_keeps_count(void)
{
	char line[64];
	int i;

	start();
	log_warnx("first");
	log_warnx("first");
	for (i = 0; i < 40; i++) {      /* more texts than slots */
		snprintf(line, sizeof(line), "other %d", i);
		fake_now += 1;
		log_warnx("%s", line);
	}
	CHECK_EQ(lines_with("first ... 1 more in the last minute"), 1);
	fclose(out);
}

int
main(int argc, char **argv)
{
	static const struct cu_test tests[] = {
		CU_TEST(TEST_repeats_counted),
		CU_TEST(TEST_different_lines_pass),
		CU_TEST(TEST_eviction_keeps_count),
		CU_TEST(TEST_flush_due_and_held_hook),
		CU_END
	};

	return cu_main("log", tests, argc, argv);
}
