/* Small utilities shared by every process. */
#include <sys/random.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

int
fd_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

void
unblock_signal(int sig)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

void
rnd_fill(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("%s: getrandom", __func__);
		}
		p += n;
		len -= (size_t)n;
	}
}

/* One getrandom call serves 2048 query IDs. */
static uint8_t rnd_buf[4096];
static size_t rnd_pos = sizeof(rnd_buf);

static void
rnd_take(void *out, size_t n)
{
	if (rnd_pos + n > sizeof(rnd_buf)) {
		rnd_fill(rnd_buf, sizeof(rnd_buf));
		rnd_pos = 0;
	}
	memcpy(out, rnd_buf + rnd_pos, n);
	/* Never hand out the same bytes twice. */
	memset(rnd_buf + rnd_pos, 0, n);
	rnd_pos += n;
}

uint16_t
rnd16(void)
{
	uint16_t v;

	rnd_take(&v, sizeof(v));
	return v;
}

int
rnd_free_id(int (*used)(const void *, uint16_t), const void *ctx,
    uint16_t *id)
{
	int tries;

	for (tries = 0; tries <= 16; tries++) {
		*id = rnd16();
		if (!used(ctx, *id))
			return 0;
	}
	return -1;
}

uint32_t
rnd32(void)
{
	uint32_t v;

	rnd_take(&v, sizeof(v));
	return v;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL && n != 0 && size != 0)
		fatal("%s", __func__);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n, size);

	if (q == NULL && n != 0 && size != 0)
		fatal("%s", __func__);
	return q;
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size);

	if (p == NULL && size != 0)
		fatal("%s", __func__);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

size_t
align_next(size_t *j, size_t n, int (*same)(const void *ctx, size_t k),
    const void *ctx)
{
	size_t k;

	for (k = *j; k < n && k < *j + ALIGN_AHEAD; k++)
		if (same(ctx, k)) {
			*j = k + 1;
			return k;
		}
	return ALIGN_NONE;
}
