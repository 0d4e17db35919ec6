/*
 * What the controller's etcd client loads before the chroot, for it cannot
 * afterwards: libcurl's global state (OpenSSL reads its configuration),
 * the TLS files (etcd-cacert, or the system CA bundle for https without
 * one; etcd-cert, etcd-key) into memory, and the addresses of etcd host
 * names (glibc's resolver needs /etc and NSS modules the chroot lacks).
 */
#ifndef DNSROUTER_ETCD_PRELOAD_H
#define DNSROUTER_ETCD_PRELOAD_H

#include "config.h"

/* Before the chroot, as root; what fails is logged, the request fails later. */
void etcd_preload_init(const struct config *cf);
/* Read the TLS files again (SIGHUP); one that cannot be read keeps its old contents. */
void etcd_preload_reload(void);
/* Free it all, curl's global state included. */
void etcd_preload_free(void);

#endif
