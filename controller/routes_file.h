/* The static routes file: one registration per line, as in etcd values. */
#ifndef DNSROUTER_ROUTES_FILE_H
#define DNSROUTER_ROUTES_FILE_H

#include "registry.h"

#define ROUTES_FILE_KEY	"routes:"	/* key prefix of the file's registrations */

/*
 * Replace the file's registrations in r with those of path. Blank lines and
 * lines starting with '#' are skipped; a bad line is logged with file:line
 * and skipped. Returns the number of bad lines, or -1 (r unchanged) when the
 * file cannot be read.
 */
int routes_file_load(struct registry *r, const char *path);

#endif
