/*
 * common/tcpout: DNS-over-TCP output queues, against a socketpair. Every
 * message arrives framed and in order; a dropped one never arrives; one
 * partly written cannot be dropped (the stream would lose its framing).
 */
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tcpout.h"

static int fds[2];

static int
setup(void **state)
{
	(void)state;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
		return -1;
	return fcntl(fds[0], F_SETFL, O_NONBLOCK);
}

static int
teardown(void **state)
{
	(void)state;
	close(fds[0]);
	close(fds[1]);
	return 0;
}

/* Read one framed message from the peer into buf; its length. */
static size_t
read_frame(uint8_t *buf, size_t max)
{
	uint8_t l[2];
	size_t len, got = 0;
	ssize_t n;

	assert_int_equal(recv(fds[1], l, 2, MSG_WAITALL), 2);
	len = (size_t)l[0] << 8 | l[1];
	assert_true(len <= max);
	while (got < len) {
		n = recv(fds[1], buf + got, len - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	return len;
}

static void
test_messages_arrive_framed_in_order_without_the_dropped_one(void **state)
{
	struct tcpout o = { 0 };
	uint8_t buf[64];

	(void)state;
	tcpout_push(&o, (const uint8_t *)"one", 3, 1);
	tcpout_push(&o, (const uint8_t *)"two", 3, 2);
	tcpout_push(&o, (const uint8_t *)"three", 5, 3);
	assert_int_equal(o.bytes, 3 + 3 + 5 + 6);
	assert_int_equal(tcpout_drop(&o, 2), 1);
	assert_int_equal(tcpout_drop(&o, 2), 0);
	assert_int_equal(o.bytes, 3 + 5 + 4);
	/* The tail moved back: a message queued now follows "three". */
	assert_int_equal(tcpout_drop(&o, 3), 1);
	tcpout_push(&o, (const uint8_t *)"four", 4, 4);
	assert_int_equal(tcpout_write(&o, fds[0]), 5 + 6);
	assert_true(tcpout_empty(&o));
	assert_int_equal(o.bytes, 0);
	assert_int_equal(read_frame(buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(read_frame(buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "four", 4);
}

static void
test_a_partly_written_message_stays_and_the_rest_follows(void **state)
{
	static uint8_t big[65535], in[65535];
	struct tcpout o = { 0 };
	size_t total = 0, i, k;
	ssize_t n;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	for (i = 0; i < 40; i++)
		tcpout_push(&o, big, sizeof(big), (uint32_t)i + 1);
	/* More than the socket buffer: it fills, then says EAGAIN. */
	while ((n = tcpout_write(&o, fds[0])) > 0)
		total += (size_t)n;
	assert_int_equal(errno, EAGAIN);
	assert_false(tcpout_empty(&o));
	assert_int_equal(o.bytes, 40 * (sizeof(big) + 2) - total);
	if (o.off > 0)
		assert_int_equal(tcpout_drop(&o, (uint32_t)(total /
		    (sizeof(big) + 2)) + 1), 0);
	/* Read everything while writing the rest. */
	for (k = 0; k < 40; k++) {
		while (!tcpout_empty(&o) && tcpout_write(&o, fds[0]) > 0)
			;
		assert_int_equal(read_frame(in, sizeof(in)), sizeof(big));
		assert_memory_equal(in, big, sizeof(big));
	}
	assert_true(tcpout_empty(&o));
	tcpout_clear(&o);
}

static void
test_a_closed_peer_is_an_error_not_a_signal(void **state)
{
	struct tcpout o = { 0 };

	(void)state;
	close(fds[1]);
	fds[1] = socket(AF_UNIX, SOCK_STREAM, 0);	/* for teardown */
	tcpout_push(&o, (const uint8_t *)"x", 1, 0);
	assert_int_equal(tcpout_write(&o, fds[0]), -1);
	assert_int_equal(errno, EPIPE);
	tcpout_clear(&o);
	assert_true(tcpout_empty(&o));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_messages_arrive_framed_in_order_without_the_dropped_one,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_partly_written_message_stays_and_the_rest_follows,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_closed_peer_is_an_error_not_a_signal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
