/*
 * Blocking etcd calls for a command-line client: curl_easy_perform is fine
 * here, nothing else waits. An endpoint that cannot be reached or answers
 * 5xx is skipped for the next one; a 4xx is etcd's answer and is final.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_api.h"
#include "etcdc.h"
#include "log.h"
#include "util.h"

#define CALL_MS	5000L

static const struct config	*ccf;
static int			 ep;
static char			*token;

void
etcdc_init(const struct config *cf)
{
	ccf = cf;
	ep = 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("%s: cannot start libcurl", __func__);
}

void
etcdc_shutdown(void)
{
	free(token);
	token = NULL;
	curl_global_cleanup();
}

/*
 * One call on the current endpoint. Returns 0 with *reply, 1 when the next
 * endpoint should be tried, -1 on a final error; err says why.
 */
static int
call_once(const char *path, const char *body, json_t **reply, int *unauth,
    char *err, size_t errlen)
{
	struct etcd_req *r;
	json_error_t jerr;
	const char *why, *msg;
	long status = 0;
	CURLcode rc;
	json_t *root;
	int ret = -1;

	*reply = NULL;
	r = etcd_req_new(ccf, ccf->etcd[ep], path, xstrdup(body),
	    strcmp(path, ETCD_PATH_AUTH) == 0 ? NULL : token, CALL_MS);
	rc = curl_easy_perform(r->easy);
	if (etcd_req_status(r, rc, &why, unauth) == 0) {
		if ((root = json_loadb(r->resp.p ? r->resp.p : "", r->resp.len,
		    JSON_DISABLE_EOF_CHECK, &jerr)) == NULL ||
		    !json_is_object(root)) {
			json_decref(root);
			snprintf(err, errlen, "%s: bad JSON in reply to %s",
			    ccf->etcd[ep], path);
			ret = 1;
		} else if ((msg = etcd_error_message(root)) != NULL) {
			snprintf(err, errlen, "%s: %s", ccf->etcd[ep], msg);
			json_decref(root);
		} else {
			*reply = root;
			ret = 0;
		}
		etcd_req_free(r);
		return ret;
	}
	if (rc == CURLE_OK)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	msg = NULL;
	root = NULL;
	if (r->resp.len > 0 && (root = json_loadb(r->resp.p, r->resp.len,
	    JSON_DISABLE_EOF_CHECK, &jerr)) != NULL)
		msg = etcd_error_message(root);
	if (msg != NULL)
		snprintf(err, errlen, "%s: %s", ccf->etcd[ep], msg);
	else if (status != 0)
		snprintf(err, errlen, "%s: HTTP status %ld", ccf->etcd[ep], status);
	else
		snprintf(err, errlen, "%s: %s", ccf->etcd[ep], why);
	json_decref(root);
	etcd_req_free(r);
	/* Unreachable, or the member cannot serve (no leader, stopping). */
	return rc != CURLE_OK || status >= 500 || *unauth ? 1 : -1;
}

static int
login(char *err, size_t errlen)
{
	char *body = etcd_body_auth(ccf->etcd_user, ccf->etcd_password);
	json_t *reply, *t;
	int unauth, rc;

	rc = call_once(ETCD_PATH_AUTH, body, &reply, &unauth, err, errlen);
	free(body);
	if (rc != 0)
		return rc;
	t = json_object_get(reply, "token");
	if (!json_is_string(t)) {
		snprintf(err, errlen, "%s: authentication failed", ccf->etcd[ep]);
		json_decref(reply);
		return -1;
	}
	free(token);
	token = xstrdup(json_string_value(t));
	json_decref(reply);
	return 0;
}

json_t *
etcdc_call(const char *path, const char *body, char *err, size_t errlen)
{
	json_t *reply;
	int tried, relogin, unauth, rc;

	if (ccf->netcd == 0) {
		snprintf(err, errlen, "no etcd endpoint configured");
		return NULL;
	}
	for (tried = 0; tried < ccf->netcd; tried++) {
		for (relogin = 0; relogin < 2; relogin++) {
			if (ccf->etcd_user[0] != '\0' && token == NULL &&
			    (rc = login(err, errlen)) != 0) {
				if (rc < 0)
					return NULL;
				break;		/* next endpoint */
			}
			rc = call_once(path, body, &reply, &unauth, err, errlen);
			if (rc == 0)
				return reply;
			if (rc < 0)
				return NULL;
			if (!unauth || ccf->etcd_user[0] == '\0')
				break;
			/* The token expired: log in again, once. */
			free(token);
			token = NULL;
		}
		log_debug("%s; trying the next endpoint", err);
		ep = (ep + 1) % ccf->netcd;
		free(token);
		token = NULL;
	}
	return NULL;
}
