/*
 * ackshim.c — LD_PRELOAD shim for tests/integration/syncack.sh: records, in
 * order, every fdatasync/fsync, every write on a descriptor opened with
 * O_DSYNC (LMDB's meta-page write), and every socket send that carries a
 * PushReply (an nng message whose Reply envelope starts with version 1,
 * type MSG_PUSH). One line per event in $ACKSHIM_LOG:
 *   SYNC fd | DSYNC fd | ACK fd
 * The test then checks that every ACK follows a SYNC and a DSYNC of its own.
 *
 * Crash injection (tests/integration/receipt_crash.sh): with
 * ACKSHIM_DIE_AFTER=PATH, the first DSYNC write (a transaction's commit
 * reaching the disk) made while PATH exists and is not empty is the
 * process's last: it SIGKILLs itself right after it, before anything else
 * commits. (PATH can be a receiving test client's output file: its first
 * line is written inside the callback, before the client acks.)
 *
 * Stalled commit (tests/integration/ack_early.sh): with ACKSHIM_STALL=PATH,
 * every fdatasync/fsync called while PATH exists blocks for good before it
 * syncs (logging "STALL fd"), so the transaction in hand never commits and
 * the test can SIGKILL the process in the middle of it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAXFD 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char dsync_fd[MAXFD];
static int logfd = -1;

static void
record(const char *what, int fd)
{
	char line[64];
	int n;

	pthread_mutex_lock(&lock);
	if (logfd < 0) {
		const char *path = getenv("ACKSHIM_LOG");
		int (*real_open)(const char *, int, ...) = dlsym(RTLD_NEXT, "open");

		if (path != NULL)
			logfd = real_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	}
	n = snprintf(line, sizeof(line), "%s %d\n", what, fd);
	if (logfd >= 0 && write(logfd, line, (size_t)n) < 0)
		logfd = -1;
	pthread_mutex_unlock(&lock);
}

/* ACKSHIM_DIE_AFTER: a commit is done; die now when the test armed us. */
static void
die_if_armed(void)
{
	const char *path = getenv("ACKSHIM_DIE_AFTER");
	struct stat st;

	if (path != NULL && path[0] != '\0' && stat(path, &st) == 0 && st.st_size > 0) {
		record("DIE", -1);
		kill(getpid(), SIGKILL);
	}
}

static void
note_open(int fd, int flags)
{
	if (fd >= 0 && fd < MAXFD)
		dsync_fd[fd] = (flags & O_DSYNC) == O_DSYNC;
}

int
open(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	mode_t mode = 0;
	va_list ap;
	int fd;

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "open");
	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	fd = real(path, flags, mode);
	note_open(fd, flags);
	return fd;
}

int
open64(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	mode_t mode = 0;
	va_list ap;
	int fd;

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "open64");
	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	fd = real(path, flags, mode);
	note_open(fd, flags);
	return fd;
}

/* ACKSHIM_STALL: never returns while the test has armed it. */
static void
stall_if_armed(int fd)
{
	const char *path = getenv("ACKSHIM_STALL");
	struct stat st;

	if (path == NULL || path[0] == '\0' || stat(path, &st) != 0)
		return;
	record("STALL", fd);
	for (;;)
		pause();
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	int rc;

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "fdatasync");
	stall_if_armed(fd);
	rc = real(fd);
	record("SYNC", fd);
	return rc;
}

int
fsync(int fd)
{
	static int (*real)(int);
	int rc;

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "fsync");
	stall_if_armed(fd);
	rc = real(fd);
	record("SYNC", fd);
	return rc;
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	ssize_t rc;

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "pwrite");
	rc = real(fd, buf, len, off);
	if (fd >= 0 && fd < MAXFD && dsync_fd[fd]) {
		record("DSYNC", fd);
		die_if_armed();
	}
	return rc;
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	ssize_t rc;

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "pwrite64");
	rc = real(fd, buf, len, off);
	if (fd >= 0 && fd < MAXFD && dsync_fd[fd]) {
		record("DSYNC", fd);
		die_if_armed();
	}
	return rc;
}

/* An nng message on the wire: 8-byte length, 4-byte request id, then the
 * Reply envelope: 08 02 (version 2) 10 03 (type MSG_PUSH). */
#define LINK_VERSION 2          /* CASCADE_PROTOCOL_VERSION of packets/packets.h */
static int
is_push_reply(const struct iovec *iov, int n)
{
	unsigned char head[16];
	size_t got = 0;
	int i;

	for (i = 0; i < n && got < sizeof(head); i++) {
		size_t take = iov[i].iov_len < sizeof(head) - got ? iov[i].iov_len : sizeof(head) - got;

		memcpy(head + got, iov[i].iov_base, take);
		got += take;
	}
	return got >= 16 && head[12] == 0x08 && head[13] == LINK_VERSION && head[14] == 0x10 &&
	    head[15] == 0x03;
}

ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "sendmsg");
	if (is_push_reply(m->msg_iov, (int)m->msg_iovlen))
		record("ACK", fd);
	return real(fd, m, flags);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (real == NULL)
		real = dlsym(RTLD_NEXT, "writev");
	if (is_push_reply(iov, n))
		record("ACK", fd);
	return real(fd, iov, n);
}
