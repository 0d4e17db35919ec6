/* DNS-over-TCP output queues. */
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcpout.h"
#include "util.h"

struct tcpout_msg {
	struct tcpout_msg	*next;
	uint32_t		 tag;
	size_t			 len;	/* framing included */
	uint8_t			 data[];
};

void
tcpout_push(struct tcpout *o, const uint8_t *msg, size_t len, uint32_t tag)
{
	struct tcpout_msg *m = xmalloc(sizeof(*m) + len + 2);

	m->next = NULL;
	m->tag = tag;
	m->len = len + 2;
	m->data[0] = (uint8_t)(len >> 8);
	m->data[1] = (uint8_t)len;
	memcpy(m->data + 2, msg, len);
	if (o->tail != NULL)
		o->tail->next = m;
	else
		o->head = m;
	o->tail = m;
	o->bytes += m->len;
}

ssize_t
tcpout_write(struct tcpout *o, int fd)
{
	struct iovec iov[TCPOUT_IOV];
	struct msghdr mh;
	struct tcpout_msg *m;
	ssize_t n, done;
	int k = 0;

	for (m = o->head; m != NULL && k < TCPOUT_IOV; m = m->next, k++) {
		iov[k].iov_base = m->data + (k == 0 ? o->off : 0);
		iov[k].iov_len = m->len - (k == 0 ? o->off : 0);
	}
	if (k == 0)
		return 0;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)k;
	if ((n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0)
		return -1;
	done = n;
	o->bytes -= (size_t)n;
	while ((m = o->head) != NULL && n > 0) {
		size_t left = m->len - o->off;

		if ((size_t)n < left) {
			o->off += (size_t)n;
			break;
		}
		n -= (ssize_t)left;
		o->head = m->next;
		o->off = 0;
		free(m);
	}
	if (o->head == NULL)
		o->tail = NULL;
	return done;
}

int
tcpout_drop(struct tcpout *o, uint32_t tag)
{
	struct tcpout_msg **pp, *m, *prev = NULL;

	for (pp = &o->head; (m = *pp) != NULL; prev = m, pp = &m->next) {
		if (m->tag != tag)
			continue;
		if (m == o->head && o->off > 0)
			return 0;
		*pp = m->next;
		if (o->tail == m)
			o->tail = prev;
		o->bytes -= m->len;
		free(m);
		return 1;
	}
	return 0;
}

void
tcpout_clear(struct tcpout *o)
{
	struct tcpout_msg *m;

	while ((m = o->head) != NULL) {
		o->head = m->next;
		free(m);
	}
	o->tail = NULL;
	o->off = 0;
	o->bytes = 0;
}
