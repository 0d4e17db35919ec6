/*
 * The nng endpoints of proto.h, in the run directory: the controller
 * listens, routers dial. One place for the URL, stale sockets and redialing.
 */
#ifndef DNSROUTER_ENDPOINT_H
#define DNSROUTER_ENDPOINT_H

#include <nng/nng.h>

/*
 * The controller's directory under the run directory: its endpoints live
 * there, it is the controller's chroot, and routers (chrooted into the run
 * directory) find it at "/" ENDPOINT_DIR. Only the controller's user may
 * write in it (master/main.c own_rundir).
 */
#define ENDPOINT_DIR	"controller"

/*
 * Listen on ipc://dir/ep with the opened socket s; a stale socket file left
 * by a killed controller is removed first. The socket file is made
 * connectable by anyone who can reach dir (routers may run as another
 * user): dir's permissions say who may connect. Messages longer than maxsz are
 * dropped by nng before they are buffered (nng's default is no limit, and
 * the peers are routers, which read the network); 0 for a socket that only
 * sends. Fatal on failure. Returns the socket's receive descriptor for
 * libev, or -1 when want_fd is 0.
 */
int endpoint_listen(nng_socket s, const char *dir, const char *ep, int want_fd,
    size_t maxsz);

/*
 * The same, with on_connect called (on an nng thread) whenever a peer's
 * connection is added to s. endpoint_listen and this are the only users
 * of s's pipe notifications.
 */
int endpoint_listen_cb(nng_socket s, const char *dir, const char *ep,
    int want_fd, size_t maxsz, void (*on_connect)(void));

#define ENDPOINT_MAX_LISTENED	6

/*
 * Call about every second, in the process that
 * listens: probes each listened endpoint now and then and listens anew
 * where nng lost the listener (see endpoint.c). Returns how many.
 */
int endpoint_check_listeners(void);

/* maxsz of an endpoint taking header-only requests (with nng's own header). */
#define ENDPOINT_REQ_MAXSZ	4096

/*
 * Dial ipc://dir/ep with the opened socket s without waiting: nng redials
 * (20 ms doubling to 500 ms) until the controller is there. Fatal on
 * failure. Returns the receive descriptor, or -1 when want_fd is 0.
 * At most ENDPOINT_MAX_DIALED sockets; each takes s's pipe notifications.
 */
int endpoint_dial(nng_socket s, const char *dir, const char *ep, int want_fd);

#define ENDPOINT_MAX_DIALED	4

/* A dialed endpoint without a connection this long is dialed again. */
#define ENDPOINT_REDIAL_AFTER	2.0

/*
 * Call about every second: an endpoint that has
 * had no connection for ENDPOINT_REDIAL_AFTER seconds gets a new dialer.
 * nng stops redialing for good when a handshake's first write fails with
 * EPIPE (a controller that died while the router connected); its own
 * redialing is never that slow otherwise. Returns how many were redialed.
 */
int endpoint_check(void);

#endif
