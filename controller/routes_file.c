/* Loading the static routes file into the registry. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outside.h"
#include "pattern_cache.h"
#include "routes_file.h"
#include "self_route.h"

int
routes_file_load(struct registry *r, const char *path)
{
	FILE *fp;
	char *line = NULL, key[PATH_MAX + 32], err[512];
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, bad = 0, good = 0;
	struct route_value *rv;

	if ((fp = outside_fopen(path)) == NULL) {
		log_warn("routes file %s", path);
		return -1;
	}
	if ((rv = malloc(sizeof(*rv))) == NULL)
		fatal("%s", __func__);
	registry_del_prefix(r, ROUTES_FILE_KEY);
	while ((n = getline(&line, &cap, fp)) != -1) {
		char *s = line;

		lineno++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '\n' || *s == '\r' || *s == '#')
			continue;
		if (strlen(line) != (size_t)n) {
			log_warnx("%s:%d: NUL byte in line, skipped", path, lineno);
			bad++;
			continue;
		}
		if (pattern_cache_parse(s, strlen(s), rv, err, sizeof(err)) != 0 ||
		    self_route_check((struct sockaddr *)&rv->addr, err,
		    sizeof(err)) != 0) {
			log_warnx("%s:%d: %s; line skipped", path, lineno, err);
			bad++;
			continue;
		}
		snprintf(key, sizeof(key), "%s%s:%d", ROUTES_FILE_KEY, path, lineno);
		registry_set(r, key, rv);
		good++;
	}
	if (ferror(fp))
		log_warn("routes file %s: read error", path);
	free(line);
	free(rv);
	fclose(fp);
	log_info("routes file %s: %d registrations, %d bad lines skipped",
	    path, good, bad);
	return bad;
}
