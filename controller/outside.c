/*
 * Files outside the controller's chroot: each held by a descriptor of its
 * directory, opened as root before the chroot (O_PATH: no read permission
 * needed, nothing listed), and opened with openat by name, so a file
 * replaced by rename (as editors and tools do) is read anew. Permissions
 * are those of the controller's user when it opens the file; the
 * directories above the held one are not searched again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "outside.h"
#include "util.h"

#define HELD_MAX	8

static struct held {
	char	*path;		/* as configured */
	int	 dirfd;
} held[HELD_MAX];
static int nheld;

static struct held *
find(const char *path)
{
	int i;

	for (i = 0; i < nheld; i++)
		if (strcmp(held[i].path, path) == 0)
			return &held[i];
	return NULL;
}

void
outside_hold(const char *path)
{
	char dir[PATH_MAX], *slash;
	int fd;

	if (path[0] != '/' || find(path) != NULL)
		return;
	if (nheld == HELD_MAX)
		fatalx("%s: too many files", __func__);
	if (strlen(path) >= sizeof(dir))
		fatalx("%s: %s: path too long", __func__, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("directory %s of %s (the controller reads %s through "
		    "it once chrooted)", dir, path, path);
		return;
	}
	held[nheld].path = xstrdup(path);
	held[nheld].dirfd = fd;
	nheld++;
}

static int
open_ro(const char *path)
{
	struct held *h = find(path);

	if (h == NULL)
		return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return openat(h->dirfd, strrchr(path, '/') + 1,
	    O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

FILE *
outside_fopen(const char *path)
{
	FILE *fp;
	int fd, saved;

	if ((fd = open_ro(path)) == -1)
		return NULL;
	if ((fp = fdopen(fd, "r")) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return fp;
}

char *
outside_read(const char *path, size_t max, size_t *len)
{
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd, saved;

	if ((fd = open_ro(path)) == -1)
		return NULL;
	for (;;) {
		if (cap - n < 2) {
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL)
				fatal("%s", __func__);
			buf = nb;
		}
		if ((r = read(fd, buf + n, cap - n - 1)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

void
outside_free(void)
{
	int i;

	for (i = 0; i < nheld; i++) {
		close(held[i].dirfd);
		free(held[i].path);
	}
	nheld = 0;
}
