/*
 * dnsrouterctl's etcd client: one blocking call at a time over the
 * controller's etcd_api, trying each configured endpoint in turn, logging
 * in when the config names an etcd user (and again when the token expires).
 */
#ifndef DNSROUTER_ETCDC_H
#define DNSROUTER_ETCDC_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

/* Use cf's endpoints, TLS files and credentials (cf must outlive the client). */
void etcdc_init(const struct config *cf);

/*
 * POST body (not taken over) to path: on the endpoint that answered last,
 * else on each endpoint in turn. Returns the decoded reply (json_decref
 * it), or NULL with the reason in err.
 */
json_t *etcdc_call(const char *path, const char *body, char *err, size_t errlen);

/* Free the token and curl's global state. */
void etcdc_shutdown(void);

#endif
