/*
 * /metrics over HTTP with libmicrohttpd, inside the controller's libev
 * loop: no thread. MHD runs in its epoll mode with no thread of its own;
 * its epoll descriptor is watched with an ev_io, MHD_run does the work when
 * it is readable, and an ev_timer follows MHD_get_timeout for idle
 * connections. The socket is bound before privileges are dropped, so the
 * address may use any port. A page is handed to MHD a block at a time
 * (metrics_page_read), so a large one is sent over many passes of the loop.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "metrics.h"

#define HTTP_MAX_CONNS		64
#define HTTP_CONN_TIMEOUT	10	/* seconds */
#define HTTP_BLOCK		(128 * 1024)	/* bytes of a page rendered at once */
#define CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

static struct ev_loop		*hloop;
static int			 listen_fd = -1;
static int			 listen_v6;
static struct MHD_Daemon	*daemon_;
static ev_io			 epoll_w;
static ev_timer			 timeout_w;

void
metrics_http_bind(const struct config *cf)
{
	char name[ADDR_STRLEN];
	int fd, on = 1;

	if (cf->metricslen == 0)
		return;
	addr_format((const struct sockaddr *)&cf->metrics, name, sizeof(name));
	listen_v6 = cf->metrics.ss_family == AF_INET6;
	fd = socket(cf->metrics.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("metrics: socket for %s; metrics off", name);
		return;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (listen_v6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)&cf->metrics, cf->metricslen) == -1 ||
	    listen(fd, 64) == -1) {
		/* DNS matters more than its metrics: keep routing without them. */
		log_warn("metrics: cannot listen on %s; metrics off", name);
		close(fd);
		return;
	}
	listen_fd = fd;
	log_info("metrics: serving /metrics on http://%s", name);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("metrics: %s", buf);
}

static enum MHD_Result
answer_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result rv;

	r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rv = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rv;
}

/* /health and /ready: 200 "ok", or 503 and what is missing. */
static enum MHD_Result
answer_health(struct MHD_Connection *c, int ready)
{
	struct MHD_Response *r;
	enum MHD_Result rv;
	char why[128];
	int ok;
	size_t n;

	ok = metrics_health(ready, why, sizeof(why) - 1);
	n = strlen(why);
	why[n++] = '\n';
	r = MHD_create_response_from_buffer(n, why, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	rv = MHD_queue_response(c, ok ? MHD_HTTP_OK :
	    MHD_HTTP_SERVICE_UNAVAILABLE, r);
	MHD_destroy_response(r);
	return rv;
}

/* MHD asks for the page a block at a time as the socket takes it. */
static ssize_t
page_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	ssize_t n;

	(void)pos;
	if ((n = metrics_page_read(cls, buf, max)) < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void
page_free(void *cls)
{
	metrics_page_free(cls);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *r;
	struct metrics_page *page;
	enum MHD_Result rv;
	int health = strcmp(url, "/health") == 0;
	int ready = strcmp(url, "/ready") == 0;

	(void)cls; (void)version; (void)upload_data; (void)upload_data_size;
	(void)con_cls;
	if (strcmp(url, "/metrics") != 0 && !health && !ready)
		return answer_text(c, MHD_HTTP_NOT_FOUND,
		    "not found: try /metrics, /health or /ready\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	if (health || ready)
		return answer_health(c, ready);
	page = metrics_page_new();
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_BLOCK,
	    page_read, page, page_free);
	if (r == NULL) {
		metrics_page_free(page);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	rv = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rv;
}

/* Let MHD work, then wake up again when its next timeout is due. */
static void
run(void)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(daemon_);
	ev_timer_stop(hloop, &timeout_w);
	if (MHD_get_timeout(daemon_, &ms) == MHD_YES) {
		ev_timer_set(&timeout_w, ms / 1000.0, 0.);
		ev_timer_start(hloop, &timeout_w);
	}
}

static void
epoll_cb(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l; (void)w; (void)revents;
	run();
}

static void
timeout_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	run();
}

void
metrics_http_init(struct ev_loop *loop)
{
	const union MHD_DaemonInfo *info;

	if (listen_fd == -1)
		return;
	hloop = loop;
	daemon_ = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
	    (listen_v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, handler, NULL,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_END);
	if (daemon_ == NULL) {
		log_warnx("metrics: libmicrohttpd did not start; metrics off");
		close(listen_fd);
		listen_fd = -1;
		return;
	}
	if ((info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD)) == NULL)
		fatalx("%s: libmicrohttpd has no epoll descriptor", __func__);
	ev_io_init(&epoll_w, epoll_cb, info->epoll_fd, EV_READ);
	ev_io_start(loop, &epoll_w);
	ev_init(&timeout_w, timeout_cb);
	run();
}

void
metrics_http_shutdown(void)
{
	if (daemon_ == NULL)
		return;
	ev_io_stop(hloop, &epoll_w);
	ev_timer_stop(hloop, &timeout_w);
	MHD_stop_daemon(daemon_);	/* closes the listening socket too */
	daemon_ = NULL;
	listen_fd = -1;
}
