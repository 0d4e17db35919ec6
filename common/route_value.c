/* Parsing and checking route registrations (etcd values, routes file lines). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "route_value.h"

#define PROBE_CHARS	24

/*
 * Names a backtracking regexp chokes on: long runs of one character (each
 * letter or digit the pattern names, and a few generic ones), as one label
 * and as a whole 253-byte name, ending in the dot that every query name
 * ends in, and with a character the pattern is unlikely to expect.
 */
static size_t
probe_names(const char *p, size_t len, char names[][256], size_t max)
{
	char chars[PROBE_CHARS];
	size_t nc = 0, n = 0, i, k;
	const char *generic = "a0-_";

	for (i = 0; generic[i] != '\0'; i++)
		chars[nc++] = generic[i];
	for (i = 0; i < len && nc < PROBE_CHARS; i++) {
		char c = (char)tolower((unsigned char)p[i]);

		if (isalnum((unsigned char)c) && memchr(chars, c, nc) == NULL)
			chars[nc++] = c;
	}
	for (k = 0; k < nc && n + 3 <= max; k++) {
		/* one 61-byte label, a full name of 63-byte labels, no end dot */
		memset(names[n], chars[k], 61);
		strcpy(names[n] + 61, ".");
		n++;
		memset(names[n], chars[k], 253);
		for (i = 63; i < 253; i += 64)
			names[n][i] = '.';
		strcpy(names[n] + 253, ".");
		n++;
		memset(names[n], chars[k], 254);
		names[n][254] = '!';
		names[n][255] = '\0';
		n++;
	}
	return n;
}

/*
 * Refuse a regexp that a router would spend too long on: one that needs
 * more than RT_PROBE_MATCH_LIMIT steps (JIT, as routers run it) on any
 * probe name. Routers cut such matches off at RT_MATCH_LIMIT too, but
 * every query would still pay for the steps up to it.
 */
static int
probe_cost(pcre2_code *code, const char *p, size_t len, char *err,
    size_t errlen)
{
	static char names[PROBE_CHARS * 3][256];
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	size_t n = probe_names(p, len, names, PROBE_CHARS * 3), i;
	int rc = 0;

	if (mctx == NULL || md == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
		goto out;
	}
	pcre2_set_match_limit(mctx, RT_PROBE_MATCH_LIMIT);
	pcre2_set_depth_limit(mctx, RT_DEPTH_LIMIT);
	pcre2_set_heap_limit(mctx, RT_HEAP_LIMIT_KIB);
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	for (i = 0; i < n; i++) {
		size_t nlen = strlen(names[i]);
		int m = pcre2_match(code, (PCRE2_SPTR)names[i], nlen, 0, 0, md,
		    mctx);

		if (m < 0 && m != PCRE2_ERROR_NOMATCH) {
			snprintf(err, errlen, "regexp too costly: it needs more "
			    "than %d match steps on a %zu-byte name of '%c's "
			    "(routers stop matching at %d)", RT_PROBE_MATCH_LIMIT,
			    nlen, names[i][0], RT_MATCH_LIMIT);
			rc = -1;
			break;
		}
	}
out:
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	return rc;
}

/* What no regexp may be: empty, too long, holding a NUL. */
static int
check_syntax(const char *p, size_t len, char *err, size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen, "empty regexp");
		return -1;
	}
	if (len > RT_MAX_PATTERN) {
		snprintf(err, errlen, "regexp longer than %d bytes", RT_MAX_PATTERN);
		return -1;
	}
	if (memchr(p, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in regexp");
		return -1;
	}
	return 0;
}

int
route_value_check_regexp(const char *p, size_t len, char *err, size_t errlen)
{
	pcre2_code *code;
	int ec;
	PCRE2_SIZE eo;

	code = pcre2_compile((PCRE2_SPTR)p, len, PCRE2_CASELESS, &ec, &eo, NULL);
	if (code == NULL) {
		char msg[256];

		pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
		snprintf(err, errlen, "regexp does not compile: %s at offset %zu",
		    msg, (size_t)eo);
		return -1;
	}
	if (probe_cost(code, p, len, err, errlen) != 0) {
		pcre2_code_free(code);
		return -1;
	}
	pcre2_code_free(code);
	return 0;
}

static int
parse_addr(const char *s, size_t len, struct route_value *rv, char *err,
    size_t errlen)
{
	const char *why;

	/* A backend without a port is almost always a typo: demand one. */
	if (len == 0 || (s[len - 1] == ']' ) ||
	    (s[0] != '[' && memchr(s, ':', len) == NULL)) {
		snprintf(err, errlen, "address '%.*s' needs a port (ip:port or [ipv6]:port)",
		    (int)len, s);
		return -1;
	}
	if (addr_parse(s, len, 53, &rv->addr, &rv->addrlen, &why) != 0) {
		snprintf(err, errlen, "address '%.*s': %s", (int)len, s, why);
		return -1;
	}
	return 0;
}

static int
parse_json(const char *s, size_t len, struct route_value *rv, char *err,
    size_t errlen, int check)
{
	json_error_t jerr;
	json_t *root, *addr, *match, *prio, *primary;
	const char *key;
	json_t *v;
	int rc = -1;

	root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "bad JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "JSON value must be an object");
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "addr") != 0 && strcmp(key, "match") != 0 &&
		    strcmp(key, "priority") != 0 && strcmp(key, "primary") != 0) {
			snprintf(err, errlen, "unknown JSON member '%s'", key);
			goto out;
		}
	}
	addr = json_object_get(root, "addr");
	match = json_object_get(root, "match");
	prio = json_object_get(root, "priority");
	primary = json_object_get(root, "primary");
	if (!json_is_string(addr)) {
		snprintf(err, errlen, "JSON member 'addr' missing or not a string");
		goto out;
	}
	if (!json_is_string(match)) {
		snprintf(err, errlen, "JSON member 'match' missing or not a string");
		goto out;
	}
	rv->priority = 0;
	if (prio != NULL) {
		json_int_t p;

		if (!json_is_integer(prio) ||
		    (p = json_integer_value(prio)) < -1000000 || p > 1000000) {
			snprintf(err, errlen,
			    "JSON member 'priority' must be an integer from -1000000 to 1000000");
			goto out;
		}
		rv->priority = (int32_t)p;
	}
	if (primary != NULL && !json_is_boolean(primary)) {
		snprintf(err, errlen, "JSON member 'primary' must be true or false");
		goto out;
	}
	rv->primary = json_is_true(primary);
	if (parse_addr(json_string_value(addr), json_string_length(addr), rv,
	    err, errlen) != 0)
		goto out;
	if (check_syntax(json_string_value(match), json_string_length(match),
	    err, errlen) != 0 || (check && route_value_check_regexp(
	    json_string_value(match), json_string_length(match), err,
	    errlen) != 0))
		goto out;
	memcpy(rv->pattern, json_string_value(match), json_string_length(match));
	rv->pattern[json_string_length(match)] = '\0';
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static int
parse(const char *s, size_t len, struct route_value *rv, char *err,
    size_t errlen, int check)
{
	const char *comma;
	size_t plen;

	memset(rv, 0, sizeof(*rv));
	while (len > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' ||
	    s[0] == '\r')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (len == 0) {
		snprintf(err, errlen, "empty value");
		return -1;
	}
	if (s[0] == '{')
		return parse_json(s, len, rv, err, errlen, check);

	if ((comma = memchr(s, ',', len)) == NULL) {
		snprintf(err, errlen, "expected 'ip:port,regexp' or a JSON object");
		return -1;
	}
	if (parse_addr(s, (size_t)(comma - s), rv, err, errlen) != 0)
		return -1;
	plen = len - (size_t)(comma + 1 - s);
	if (check_syntax(comma + 1, plen, err, errlen) != 0 ||
	    (check && route_value_check_regexp(comma + 1, plen, err,
	    errlen) != 0))
		return -1;
	memcpy(rv->pattern, comma + 1, plen);
	rv->pattern[plen] = '\0';
	return 0;
}

int
route_value_parse(const char *s, size_t len, struct route_value *rv,
    char *err, size_t errlen)
{
	return parse(s, len, rv, err, errlen, 1);
}

int
route_value_parse_syntax(const char *s, size_t len, struct route_value *rv,
    char *err, size_t errlen)
{
	return parse(s, len, rv, err, errlen, 0);
}
