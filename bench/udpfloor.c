/*
 * udpfloor: the CPU cost of one UDP datagram on this machine's loopback,
 * sent, delivered and received, with nothing else in the way: one thread
 * sends a batch with sendmmsg to a socket of its own and reads it back with
 * recvmmsg. No wakeups, no context switches, no user-space work: a floor.
 *
 * A proxy forwarding one query sends two datagrams (to the backend, to the
 * client) and receives two (from the client, from the backend). On
 * loopback the sender also runs the receiver's network stack, so the
 * proxy pays about the full cost of the two it sends and the receive half
 * of the two it reads: about 2 x this figure per query. bench.py compiles
 * and runs this and prints that bound next to the measured CPU figures.
 *
 *     cc -O2 -o udpfloor udpfloor.c && ./udpfloor [datagrams [bytes]]
 *
 * Prints: "<datagrams> <bytes> <microseconds of CPU per datagram>".
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH	32
#define BUFSZ	2048

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int
main(int argc, char **argv)
{
	static char buf[BATCH][BUFSZ];
	struct mmsghdr m[BATCH];
	struct iovec io[BATCH];
	struct sockaddr_in a, b, from[BATCH];
	socklen_t blen = sizeof(b);
	long n = argc > 1 ? atol(argv[1]) : 1000000, done = 0;
	int len = argc > 2 ? atoi(argv[2]) : 64, sz = 8 << 20, i, sa, sb;
	double t0;

	if (n <= 0 || len <= 0 || len > BUFSZ) {
		fprintf(stderr, "usage: udpfloor [datagrams [bytes <= %d]]\n",
		    BUFSZ);
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b = a;
	if ((sa = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    (sb = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(sa, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    bind(sb, (struct sockaddr *)&b, sizeof(b)) == -1 ||
	    getsockname(sb, (struct sockaddr *)&b, &blen) == -1) {
		perror("udpfloor: socket");
		return 1;
	}
	(void)setsockopt(sb, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	memset(buf, 'x', sizeof(buf));
	t0 = cpu_s();
	while (done < n) {
		int sent, got = 0;

		for (i = 0; i < BATCH; i++) {
			memset(&m[i], 0, sizeof(m[i]));
			io[i].iov_base = buf[i];
			io[i].iov_len = (size_t)len;
			m[i].msg_hdr.msg_iov = &io[i];
			m[i].msg_hdr.msg_iovlen = 1;
			m[i].msg_hdr.msg_name = &b;
			m[i].msg_hdr.msg_namelen = sizeof(b);
		}
		if ((sent = sendmmsg(sa, m, BATCH, 0)) <= 0) {
			perror("udpfloor: sendmmsg");
			return 1;
		}
		for (i = 0; i < BATCH; i++) {
			io[i].iov_len = BUFSZ;
			m[i].msg_hdr.msg_name = &from[i];
			m[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		while (got < sent) {
			int r = recvmmsg(sb, m, BATCH, MSG_DONTWAIT, NULL);

			if (r <= 0) {
				if (r == -1 && errno != EAGAIN) {
					perror("udpfloor: recvmmsg");
					return 1;
				}
				break;	/* dropped: count what arrived */
			}
			got += r;
		}
		done += got;
		if (got == 0) {
			fprintf(stderr, "udpfloor: nothing arrives\n");
			return 1;
		}
	}
	printf("%ld %d %.4f\n", done, len, (cpu_s() - t0) / (double)done * 1e6);
	return 0;
}
