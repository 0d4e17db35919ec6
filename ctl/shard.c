/* Balancing a zone's names over shards by first character, and their regexps. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "shard.h"

static const char alphabet[] = SHARD_ALPHABET;

int
shard_char_index(int c)
{
	const char *p;

	c = tolower((unsigned char)c);
	if (c == '\0' || (p = strchr(alphabet, c)) == NULL)
		return -1;
	return (int)(p - alphabet);
}

/*
 * Fill shards left to right, each as far as it stays within max, keeping
 * one character for each shard still to come. Returns the number of
 * shards used (n), or n + 1 if max is too small.
 */
static int
fill(const uint64_t w[SHARD_NCHARS], uint64_t max, int n, int first[SHARD_MAX])
{
	uint64_t sum = 0;
	int i, k = 0;

	first[0] = 0;
	for (i = 0; i < SHARD_NCHARS; i++) {
		if (w[i] > max)
			return n + 1;
		if (i > first[k] && (sum + w[i] > max ||
		    SHARD_NCHARS - i <= n - 1 - k)) {
			if (++k >= n)
				return n + 1;
			first[k] = i;
			sum = 0;
		}
		sum += w[i];
	}
	return k + 1;
}

int64_t
shard_partition(const uint64_t weight[SHARD_NCHARS], uint64_t other, int n,
    int first[SHARD_MAX])
{
	uint64_t w[SHARD_NCHARS], lo = 0, hi = 0, mid;
	int i;

	if (n < 1 || n > SHARD_MAX)
		return -1;
	memcpy(w, weight, sizeof(w));
	w[0] += other;		/* shard 0 holds every other character */
	for (i = 0; i < SHARD_NCHARS; i++) {
		hi += w[i];
		if (w[i] > lo)
			lo = w[i];
	}
	/* The smallest max weight for which n shards suffice. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (fill(w, mid, n, first) <= n)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* Filling keeps a character for every shard to come: n shards. */
	if (fill(w, lo, n, first) != n)
		return -1;
	return (int64_t)lo;
}

int
shard_of_char(const int first[SHARD_MAX], int n, int c)
{
	int idx = shard_char_index(c), k;

	if (idx < 0)
		return 0;
	for (k = n - 1; k > 0; k--)
		if (idx >= first[k])
			return k;
	return 0;
}

/* Append chars alphabet[from..to-1] to buf as class members, runs as ranges. */
static int
members(int from, int to, char *buf, size_t len)
{
	size_t o = strlen(buf);
	int i = from, j;

	while (i < to) {
		j = i;
		while (j + 1 < to && alphabet[j + 1] == alphabet[j] + 1)
			j++;
		if (o + 8 >= len)
			return -1;
		if (j - i >= 2) {
			o += (size_t)snprintf(buf + o, len - o, "%s%c-%c",
			    alphabet[i] == '-' ? "\\" : "", alphabet[i],
			    alphabet[j]);
			i = j + 1;
			continue;
		}
		for (; i <= j; i++)
			o += (size_t)snprintf(buf + o, len - o, "%s%c",
			    alphabet[i] == '-' ? "\\" : "", alphabet[i]);
	}
	return 0;
}

int
shard_class(const int first[SHARD_MAX], int n, int k, char *buf, size_t len)
{
	if (len < 8)
		return -1;
	if (n == 1) {
		strcpy(buf, "[^.]");
		return 4;
	}
	if (k == 0) {
		strcpy(buf, "[^");
		if (members(first[1], SHARD_NCHARS, buf, len) != 0)
			return -1;
	} else {
		strcpy(buf, "[");
		if (members(first[k], k + 1 < n ? first[k + 1] : SHARD_NCHARS,
		    buf, len) != 0)
			return -1;
	}
	if (strlen(buf) + 2 > len)
		return -1;
	strcat(buf, "]");
	return (int)strlen(buf);
}

/* Append origin to buf with regexp metacharacters escaped. */
static int
escape_name(const char *origin, char *buf, size_t len)
{
	size_t o = strlen(buf);

	for (; *origin != '\0'; origin++) {
		if (o + 3 >= len)
			return -1;
		if (strchr("\\.^$|?*+()[]{}", *origin) != NULL)
			buf[o++] = '\\';
		buf[o++] = (char)tolower((unsigned char)*origin);
	}
	buf[o] = '\0';
	return 0;
}

int
shard_regexp(const int first[SHARD_MAX], int n, int k, const char *origin,
    char *buf, size_t len)
{
	char cls[128];

	/* The label ends at a dot, which below the root is the origin's. */
	if (shard_class(first, n, k, cls, sizeof(cls)) < 0 ||
	    (size_t)snprintf(buf, len, "(^|\\.)%s[^.]*%s", cls,
	    strcmp(origin, ".") != 0 ? "\\." : "") >= len)
		return -1;
	if (escape_name(origin, buf, len) != 0 || strlen(buf) + 2 > len)
		return -1;
	strcat(buf, "$");
	return (int)strlen(buf);
}

int
shard_apex_regexp(const char *origin, char *buf, size_t len)
{
	if (len < 2)
		return -1;
	strcpy(buf, "^");
	if (escape_name(origin, buf, len) != 0 || strlen(buf) + 2 > len)
		return -1;
	strcat(buf, "$");
	return (int)strlen(buf);
}
