/* Parsing and checking route registrations (etcd values, routes file lines). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "route_value.h"

static int
check_pattern(const char *p, size_t len, char *err, size_t errlen)
{
	pcre2_code *code;
	int ec;
	PCRE2_SIZE eo;

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
	code = pcre2_compile((PCRE2_SPTR)p, len, PCRE2_CASELESS, &ec, &eo, NULL);
	if (code == NULL) {
		char msg[256];

		pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
		snprintf(err, errlen, "regexp does not compile: %s at offset %zu",
		    msg, (size_t)eo);
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
    size_t errlen)
{
	json_error_t jerr;
	json_t *root, *addr, *match, *prio;
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
		    strcmp(key, "priority") != 0) {
			snprintf(err, errlen, "unknown JSON member '%s'", key);
			goto out;
		}
	}
	addr = json_object_get(root, "addr");
	match = json_object_get(root, "match");
	prio = json_object_get(root, "priority");
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
	if (parse_addr(json_string_value(addr), json_string_length(addr), rv,
	    err, errlen) != 0)
		goto out;
	if (check_pattern(json_string_value(match), json_string_length(match),
	    err, errlen) != 0)
		goto out;
	memcpy(rv->pattern, json_string_value(match), json_string_length(match));
	rv->pattern[json_string_length(match)] = '\0';
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
route_value_parse(const char *s, size_t len, struct route_value *rv,
    char *err, size_t errlen)
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
		return parse_json(s, len, rv, err, errlen);

	if ((comma = memchr(s, ',', len)) == NULL) {
		snprintf(err, errlen, "expected 'ip:port,regexp' or a JSON object");
		return -1;
	}
	if (parse_addr(s, (size_t)(comma - s), rv, err, errlen) != 0)
		return -1;
	plen = len - (size_t)(comma + 1 - s);
	if (check_pattern(comma + 1, plen, err, errlen) != 0)
		return -1;
	memcpy(rv->pattern, comma + 1, plen);
	rv->pattern[plen] = '\0';
	return 0;
}
