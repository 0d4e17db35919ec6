/*
 * Loading, before the chroot, what the etcd client needs from outside it
 * (etcd_preload.h). Host names are resolved once, as relayd and NSD do when
 * they read their configuration: each becomes a CURLOPT_RESOLVE entry
 * (every address, in getaddrinfo's order), while the URL keeps the name,
 * so TLS still verifies etcd's certificate against it. New addresses of a
 * name take a new controller (any change of its config restarts it).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "etcd_api.h"
#include "etcd_preload.h"
#include "log.h"
#include "outside.h"
#include "util.h"

#define TLS_FILE_MAX	(4u << 20)	/* a CA bundle is a few hundred KB */

static struct etcd_preload	 pre;
static char			*ca_path, *cert_path, *key_path;
static int			 curl_up;

/* path's contents into b (the old ones freed); -1 keeps b. */
static int
load(struct curl_blob *b, const char *what, const char *path)
{
	size_t len;
	char *p;

	if ((p = outside_read(path, TLS_FILE_MAX, &len)) == NULL) {
		log_warn("%s %s%s", what, path, b->data != NULL ?
		    ": keeping what was read before" : "");
		return -1;
	}
	free(b->data);
	b->data = p;
	b->len = len;
	b->flags = CURL_BLOB_COPY;
	return 0;
}

/* libcurl's built-in CA bundle, for https without etcd-cacert. */
static char *
default_ca(void)
{
	char *path = NULL, *out = NULL;
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		return NULL;
	if (curl_easy_getinfo(e, CURLINFO_CAINFO, &path) == CURLE_OK &&
	    path != NULL)
		out = xstrdup(path);
	curl_easy_cleanup(e);
	return out;
}

static int
is_literal(const char *host)
{
	struct in_addr a4;

	return host[0] == '[' || inet_pton(AF_INET, host, &a4) == 1;
}

/* A CURLOPT_RESOLVE entry "host:port:addr[,addr...]" for url's host name. */
static void
resolve(const char *url)
{
	struct addrinfo hints, *res = NULL, *ai;
	char *host = NULL, *port = NULL, entry[4096], a[INET6_ADDRSTRLEN];
	size_t n;
	int rv, naddr = 0;
	CURLU *u;

	if ((u = curl_url()) == NULL)
		fatalx("%s: curl_url", __func__);
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK || is_literal(host))
		goto done;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("etcd %s: cannot resolve %s: %s; the controller "
		    "resolves etcd host names only as it starts (it runs "
		    "chrooted), so this endpoint stays unreachable until it "
		    "restarts", url, host, gai_strerror(rv));
		goto done;
	}
	n = (size_t)snprintf(entry, sizeof(entry), "%s:%s:", host, port);
	for (ai = res; ai != NULL && n < sizeof(entry) - 64; ai = ai->ai_next) {
		const void *src = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if (inet_ntop(ai->ai_family, src, a, sizeof(a)) == NULL)
			continue;
		n += (size_t)snprintf(entry + n, sizeof(entry) - n,
		    ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
		    naddr > 0 ? "," : "", a);
		naddr++;
	}
	if (naddr > 0) {
		pre.resolve = curl_slist_append(pre.resolve, entry);
		log_info("etcd %s: %s resolved to %s (once: the controller "
		    "runs chrooted)", url, host, strrchr(entry, ':') + 1);
	}
done:
	if (res != NULL)
		freeaddrinfo(res);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

void
etcd_preload_init(const struct config *cf)
{
	int i, https = 0;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("%s: cannot start libcurl", __func__);
	curl_up = 1;
	for (i = 0; i < cf->netcd; i++) {
		if (strncmp(cf->etcd[i], "https://", 8) == 0)
			https = 1;
		resolve(cf->etcd[i]);
	}
	if (cf->etcd_cacert[0] != '\0')
		ca_path = xstrdup(cf->etcd_cacert);
	else if (https)
		ca_path = default_ca();
	if (ca_path != NULL) {
		outside_hold(ca_path);
		load(&pre.ca, "etcd-cacert", ca_path);
	}
	if (cf->etcd_cert[0] != '\0') {
		cert_path = xstrdup(cf->etcd_cert);
		key_path = xstrdup(cf->etcd_key);
		outside_hold(cert_path);
		outside_hold(key_path);
		load(&pre.cert, "etcd-cert", cert_path);
		load(&pre.key, "etcd-key", key_path);
	}
	etcd_api_preload(&pre);
}

void
etcd_preload_reload(void)
{
	if (ca_path != NULL)
		load(&pre.ca, "etcd-cacert", ca_path);
	if (cert_path != NULL) {
		/* Both or neither: a new certificate wants its new key. */
		struct curl_blob cert = pre.cert, key = pre.key;

		cert.data = key.data = NULL;
		if (load(&cert, "etcd-cert", cert_path) == 0 &&
		    load(&key, "etcd-key", key_path) == 0) {
			free(pre.cert.data);
			free(pre.key.data);
			pre.cert = cert;
			pre.key = key;
		} else {
			free(cert.data);
			free(key.data);
		}
	}
}

void
etcd_preload_free(void)
{
	etcd_api_preload(NULL);
	free(pre.ca.data);
	free(pre.cert.data);
	free(pre.key.data);
	curl_slist_free_all(pre.resolve);
	memset(&pre, 0, sizeof(pre));
	free(ca_path);
	free(cert_path);
	free(key_path);
	ca_path = cert_path = key_path = NULL;
	if (curl_up)
		curl_global_cleanup();
	curl_up = 0;
}
