/* etcd keys under the prefix as registrations in the registry. */
#ifndef DNSROUTER_ROUTES_ETCD_H
#define DNSROUTER_ROUTES_ETCD_H

#include <ev.h>

#include "config.h"
#include "registry.h"

#define ROUTES_ETCD_KEY	"etcd:"	/* key prefix of etcd's registrations */

/* Watch cf's etcd into r; changed() runs after each applied batch. */
void routes_etcd_init(struct ev_loop *loop, const struct config *cf,
    struct registry *r, void (*changed)(void));
void routes_etcd_shutdown(void);
/* Whether a whole listing of etcd has been applied yet. */
int routes_etcd_listed(void);

#endif
