/*
 * syncshim.c — an LD_PRELOAD module for the journal's durability test.
 *
 * It records, in call order, what can make data durable: every fdatasync,
 * fsync and msync, and every write on an LMDB data file (a file whose name
 * ends in "data.mdb") or on any descriptor opened with O_DSYNC. LMDB opens
 * data.mdb twice: once plainly for the pages (fdatasync'd at commit) and
 * once with O_DSYNC for the meta page, whose pwrite is the commit point.
 * A test reads the log through syncshim_count() / syncshim_event() (found
 * with dlsym) and checks what happened between a call's start and return.
 *
 * An event is (kind, fd, class):
 *   kind  'F' fdatasync, 'S' fsync, 'M' msync (fd -1), 'W' a write,
 *         'O' an open of a data file; lower case ('f', 's', 'm') when the
 *         call failed. Failed writes are not recorded.
 *   class of the descriptor when the event happened: 'd' a data file
 *         opened without O_DSYNC, 'D' a data file opened with O_DSYNC,
 *         's' another file opened with O_DSYNC, '-' anything else.
 * Writes are recorded only on 'd', 'D' and 's' descriptors.
 *
 * With SYNCSHIM_LOG=path every event is also appended to that file as a
 * line "<kind> <fd> <class>" (handy with a shell and any program).
 *
 * Recording is lock-free (one atomic increment and plain stores into a
 * fixed array, no malloc, errno preserved), so it is thread-safe and safe
 * from signal handlers. The log keeps SYNCSHIM_MAX events; later ones are
 * counted but dropped (syncshim_event() then fails for them) until
 * syncshim_reset(). Descriptors above SYNCSHIM_MAXFD are not classified.
 * dup()/dup2() copies are not tracked: LMDB does not use them.
 */

/*
 * No config.h: this module must see the plain (not _FILE_OFFSET_BITS=64
 * redirected) declarations of open, pwrite and friends, so it can define
 * both the plain and the *64 symbols.
 */
#undef _FORTIFY_SOURCE         /* its inline open() would clash with ours */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define SYNCSHIM_MAX    65536
#define SYNCSHIM_MAXFD  4096
#define SYNCSHIM_DATA   "data.mdb"

struct ssev {
	char kind;              /* 0 while the slot is being filled */
	char cls;
	int fd;
};

static struct ssev events[SYNCSHIM_MAX];
static unsigned long nevents;
static unsigned char fdcls[SYNCSHIM_MAXFD];
static int logfd = -1;

/* The real functions, looked up once (lazily too: a call may come before our constructor). */
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_msync)(void *, size_t, int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);

#define REAL(name) (real_##name != NULL ? real_##name : \
	(real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)))

/* The read side, looked up by the test with dlsym(RTLD_DEFAULT, ...). */
unsigned long syncshim_count(void);
int syncshim_event(unsigned long i, int *kind, int *fd, int *cls);
void syncshim_reset(void);

static int
fd_class(int fd)
{
	int c;

	if (fd < 0 || fd >= SYNCSHIM_MAXFD)
		return '-';
	c = __atomic_load_n(&fdcls[fd], __ATOMIC_ACQUIRE);
	return c ? c : '-';
}

static void
log_line(int kind, int fd, int cls)
{
	char buf[32], num[16];
	unsigned v = fd < 0 ? (unsigned)-fd : (unsigned)fd;
	size_t n = 0, k = 0;

	buf[n++] = (char)kind;
	buf[n++] = ' ';
	if (fd < 0)
		buf[n++] = '-';
	do {
		num[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && k < sizeof(num));
	while (k > 0)
		buf[n++] = num[--k];
	buf[n++] = ' ';
	buf[n++] = (char)cls;
	buf[n++] = '\n';
	if (REAL(write) != NULL)
		(void)real_write(logfd, buf, n);
}

static void
record(int kind, int fd, int cls)
{
	unsigned long i;
	int saved = errno;

	i = __atomic_fetch_add(&nevents, 1, __ATOMIC_ACQ_REL);
	if (i < SYNCSHIM_MAX) {
		events[i].fd = fd;
		events[i].cls = (char)cls;
		__atomic_store_n(&events[i].kind, (char)kind, __ATOMIC_RELEASE);
	}
	if (logfd >= 0)
		log_line(kind, fd, cls);
	errno = saved;
}

static int
is_data(const char *path)
{
	size_t n, m = sizeof(SYNCSHIM_DATA) - 1;

	if (path == NULL)
		return 0;
	n = strlen(path);
	return n >= m && strcmp(path + n - m, SYNCSHIM_DATA) == 0 &&
	    (n == m || path[n - m - 1] == '/');
}

/* Classifies a descriptor just opened. */
static void
opened(int fd, const char *path, int flags)
{
	int data = is_data(path), dsync = (flags & O_DSYNC) == O_DSYNC, cls;

	if (fd < 0)
		return;
	cls = data ? (dsync ? 'D' : 'd') : (dsync ? 's' : 0);
	if (fd < SYNCSHIM_MAXFD)
		__atomic_store_n(&fdcls[fd], (unsigned char)cls, __ATOMIC_RELEASE);
	if (data)
		record('O', fd, cls);
}

static void
wrote(int fd, ssize_t rc)
{
	int cls = fd_class(fd);

	if (rc > 0 && cls != '-')
		record('W', fd, cls);
}

static int
open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return va_arg(ap, int);
	return 0;
}

__attribute__((constructor)) static void
syncshim_init(void)
{
	const char *path = getenv("SYNCSHIM_LOG");

	(void)REAL(open);
	(void)REAL(open64);
	(void)REAL(openat);
	(void)REAL(openat64);
	(void)REAL(close);
	(void)REAL(fdatasync);
	(void)REAL(fsync);
	(void)REAL(msync);
	(void)REAL(write);
	(void)REAL(writev);
	(void)REAL(pwrite);
	(void)REAL(pwrite64);
	(void)REAL(pwritev);
	(void)REAL(pwritev64);
	if (path != NULL && *path != '\0' && real_open != NULL)
		logfd = real_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* ------------------------------------------------------------ wrappers */

int
open(const char *path, int flags, ...)
{
	va_list ap;
	int fd, mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (REAL(open) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	fd = real_open(path, flags, mode);
	opened(fd, path, flags);
	return fd;
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	int fd, mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (REAL(open64) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	fd = real_open64(path, flags, mode);
	opened(fd, path, flags);
	return fd;
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int fd, mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (REAL(openat) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	fd = real_openat(dirfd, path, flags, mode);
	opened(fd, path, flags);
	return fd;
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int fd, mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (REAL(openat64) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	fd = real_openat64(dirfd, path, flags, mode);
	opened(fd, path, flags);
	return fd;
}

int
close(int fd)
{
	/* Forget the class first: once closed, the number may be reused at once. */
	if (fd >= 0 && fd < SYNCSHIM_MAXFD)
		__atomic_store_n(&fdcls[fd], 0, __ATOMIC_RELEASE);
	if (REAL(close) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real_close(fd);
}

int
fdatasync(int fd)
{
	int rc;

	if (REAL(fdatasync) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_fdatasync(fd);
	record(rc == 0 ? 'F' : 'f', fd, fd_class(fd));
	return rc;
}

int
fsync(int fd)
{
	int rc;

	if (REAL(fsync) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_fsync(fd);
	record(rc == 0 ? 'S' : 's', fd, fd_class(fd));
	return rc;
}

int
msync(void *addr, size_t len, int flags)
{
	int rc;

	if (REAL(msync) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_msync(addr, len, flags);
	record(rc == 0 ? 'M' : 'm', -1, '-');
	return rc;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	ssize_t rc;

	if (REAL(write) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_write(fd, buf, len);
	wrote(fd, rc);
	return rc;
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t rc;

	if (REAL(writev) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_writev(fd, iov, iovcnt);
	wrote(fd, rc);
	return rc;
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t rc;

	if (REAL(pwrite) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_pwrite(fd, buf, len, off);
	wrote(fd, rc);
	return rc;
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	ssize_t rc;

	if (REAL(pwrite64) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_pwrite64(fd, buf, len, off);
	wrote(fd, rc);
	return rc;
}

ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	ssize_t rc;

	if (REAL(pwritev) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_pwritev(fd, iov, iovcnt, off);
	wrote(fd, rc);
	return rc;
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t off)
{
	ssize_t rc;

	if (REAL(pwritev64) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real_pwritev64(fd, iov, iovcnt, off);
	wrote(fd, rc);
	return rc;
}

/* ------------------------------------------------------------ read side */

/* Events recorded since the start or the last reset (dropped ones included). */
unsigned long
syncshim_count(void)
{
	return __atomic_load_n(&nevents, __ATOMIC_ACQUIRE);
}

/* Event i: 0, or -1 when it was dropped, is not recorded yet or does not exist. */
int
syncshim_event(unsigned long i, int *kind, int *fd, int *cls)
{
	char k;

	if (i >= SYNCSHIM_MAX || i >= syncshim_count())
		return -1;
	k = __atomic_load_n(&events[i].kind, __ATOMIC_ACQUIRE);
	if (k == 0)
		return -1;
	*kind = k;
	*fd = events[i].fd;
	*cls = events[i].cls;
	return 0;
}

/* Empties the log. Only while no other thread records. */
void
syncshim_reset(void)
{
	unsigned long i, n = syncshim_count();

	for (i = 0; i < n && i < SYNCSHIM_MAX; i++)
		__atomic_store_n(&events[i].kind, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&nevents, 0, __ATOMIC_RELEASE);
}
