/*
 * What the controller needs from outside its chroot (the run directory's
 * controller/): files it reads again while it runs (the routes file, the
 * etcd TLS files), reached through their directories, opened before the
 * chroot; see docs/design.md, "privileges".
 */
#ifndef DNSROUTER_OUTSIDE_H
#define DNSROUTER_OUTSIDE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Before the chroot: keep path's directory open so that outside_fopen
 * can open path afterwards, with the permissions of whoever asks then.
 * A directory that cannot be opened is logged; path is then opened as is.
 */
void outside_hold(const char *path);

/* Open path (absolute) for reading: through its held directory if any. */
FILE *outside_fopen(const char *path);

/*
 * Read all of path into a malloc'd buffer (NUL-terminated; *len without
 * the NUL); NULL with errno set on failure, EFBIG past max bytes.
 */
char *outside_read(const char *path, size_t max, size_t *len);

/* Close the held directories. */
void outside_free(void);

#endif
