/*
 * bareforward: a yardstick, not a product. The least a UDP forwarder can
 * do for bench.py's query mix: one process, one thread, epoll, recvmmsg
 * and sendmmsg of up to 64 datagrams, one upstream socket and a table of
 * 65,536 IDs; a name whose first label starts with a or b goes to backend
 * A, c or d to backend B, anything else is answered REFUSED. No regexps,
 * no timeouts (an ID is reused when the counter comes round), no health
 * checks, no TCP, no validation of replies beyond their ID. bench.py
 * reports every UDP figure against it: what dnsrouter spends above it is
 * what its features cost.
 *
 *     cc -O2 -o bareforward bareforward.c
 *     ./bareforward PORT A_IP:A_PORT B_IP:B_PORT
 *
 * Listens on 127.0.0.1:PORT; runs until killed.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH	64
#define BUFSZ	4096

struct slot {
	struct sockaddr_in	client;
	uint16_t		id;	/* the client's */
	uint8_t			used;
};

static struct slot	ids[65536];
static uint16_t		next_id;
static struct sockaddr_in backend[2];

static uint8_t		 in[BATCH][BUFSZ];
static struct sockaddr_in inaddr[BATCH];
static struct iovec	 iniov[BATCH];
static struct mmsghdr	 inmsg[BATCH];

static struct iovec	 outiov[BATCH];
static struct mmsghdr	 outmsg[BATCH];
static struct sockaddr_in outaddr[BATCH];
static int		 nout;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host)) {
		fprintf(stderr, "bareforward: bad address %s\n", s);
		exit(2);
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		fprintf(stderr, "bareforward: bad address %s\n", s);
		exit(2);
	}
}

static int
udp_socket(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, big = 4 << 20;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		die("bind");
	return fd;
}

static void
queue_out(uint8_t *buf, size_t len, const struct sockaddr_in *to)
{
	outaddr[nout] = *to;
	outiov[nout].iov_base = buf;
	outiov[nout].iov_len = len;
	memset(&outmsg[nout].msg_hdr, 0, sizeof(outmsg[nout].msg_hdr));
	outmsg[nout].msg_hdr.msg_name = &outaddr[nout];
	outmsg[nout].msg_hdr.msg_namelen = sizeof(outaddr[nout]);
	outmsg[nout].msg_hdr.msg_iov = &outiov[nout];
	outmsg[nout].msg_hdr.msg_iovlen = 1;
	nout++;
}

static void
flush_out(int fd)
{
	int off = 0, n;

	while (off < nout) {
		n = sendmmsg(fd, outmsg + off, (unsigned)(nout - off), 0);
		if (n <= 0)
			break;		/* a full buffer drops the rest */
		off += n;
	}
	nout = 0;
}

/* REFUSED in place: the header and the question, nothing else. */
static size_t
refused(uint8_t *p, size_t len)
{
	size_t i = 12;

	while (i < len && p[i] != 0 && p[i] < 64)
		i += (size_t)p[i] + 1;
	if (i + 5 > len || p[i] != 0 || p[4] != 0 || p[5] != 1)
		return 0;
	p[2] = (uint8_t)((p[2] & 0x79) | 0x80);	/* QR, opcode and RD kept */
	p[3] = 5;
	memset(p + 6, 0, 6);
	return i + 5;
}

static int
read_batch(int fd)
{
	int i, n;

	for (i = 0; i < BATCH; i++) {
		iniov[i].iov_base = in[i];
		iniov[i].iov_len = BUFSZ;
		memset(&inmsg[i].msg_hdr, 0, sizeof(inmsg[i].msg_hdr));
		inmsg[i].msg_hdr.msg_name = &inaddr[i];
		inmsg[i].msg_hdr.msg_namelen = sizeof(inaddr[i]);
		inmsg[i].msg_hdr.msg_iov = &iniov[i];
		inmsg[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(fd, inmsg, BATCH, MSG_DONTWAIT, NULL);
	return n < 0 ? 0 : n;
}

#define DROP	(-1)
#define REFUSE	2

/* Backend 0 (a, b), 1 (c, d), REFUSE for any other name, DROP if no query. */
static int
route_of(const uint8_t *p, size_t len)
{
	char c;

	if (len < 14 || (p[2] & 0x80))
		return DROP;
	c = (char)(p[13] | 0x20);
	if (p[12] == 0 || c < 'a' || c > 'd')
		return REFUSE;
	return c >= 'c';
}

static void
from_clients(int cfd, int ufd)
{
	int route[BATCH];
	int i, n, nref;
	size_t len;
	uint8_t *p;

	while ((n = read_batch(cfd)) > 0) {
		nref = 0;
		for (i = 0; i < n; i++) {
			p = in[i];
			route[i] = route_of(p, inmsg[i].msg_len);
			if (route[i] != 0 && route[i] != 1)
				continue;	/* answered below, after the forwarded */
			ids[next_id].client = inaddr[i];
			ids[next_id].id = (uint16_t)(p[0] << 8 | p[1]);
			ids[next_id].used = 1;
			p[0] = (uint8_t)(next_id >> 8);
			p[1] = (uint8_t)next_id;
			next_id++;
			queue_out(p, inmsg[i].msg_len, &backend[route[i]]);
		}
		flush_out(ufd);
		for (i = 0; i < n; i++)
			if (route[i] == REFUSE &&
			    (len = refused(in[i], inmsg[i].msg_len)) > 0) {
				queue_out(in[i], len, &inaddr[i]);
				nref++;
			}
		if (nref > 0)
			flush_out(cfd);
		if (n < BATCH)
			break;
	}
}

static void
from_backends(int ufd, int cfd)
{
	struct slot *s;
	int i, n;
	uint8_t *p;

	while ((n = read_batch(ufd)) > 0) {
		for (i = 0; i < n; i++) {
			p = in[i];
			if (inmsg[i].msg_len < 12)
				continue;
			s = &ids[p[0] << 8 | p[1]];
			if (!s->used)
				continue;
			s->used = 0;
			p[0] = (uint8_t)(s->id >> 8);
			p[1] = (uint8_t)s->id;
			queue_out(p, inmsg[i].msg_len, &s->client);
		}
		flush_out(cfd);
		if (n < BATCH)
			break;
	}
}

int
main(int argc, char *argv[])
{
	struct epoll_event ev, evs[2];
	int cfd, ufd, ep, i, n;

	if (argc != 4) {
		fprintf(stderr, "usage: bareforward PORT A_IP:PORT B_IP:PORT\n");
		return 2;
	}
	parse_addr(argv[2], &backend[0]);
	parse_addr(argv[3], &backend[1]);
	cfd = udp_socket((uint16_t)atoi(argv[1]));
	ufd = udp_socket(0);
	if ((ep = epoll_create1(0)) == -1)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = cfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) == -1)
		die("epoll_ctl");
	ev.data.fd = ufd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &ev) == -1)
		die("epoll_ctl");
	for (;;) {
		if ((n = epoll_wait(ep, evs, 2, -1)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == cfd)
				from_clients(cfd, ufd);
			else
				from_backends(ufd, cfd);
		}
	}
}
