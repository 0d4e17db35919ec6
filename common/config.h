/* The configuration file: one "key value" per line, '#' comments. */
#ifndef DNSROUTER_CONFIG_H
#define DNSROUTER_CONFIG_H

#include <sys/socket.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netmask.h"

#define CONFIG_DEFAULT_PATH	"/etc/dnsrouter/dnsrouter.conf"
#define CONFIG_MAX_LISTEN	16
#define CONFIG_MAX_ETCD		16
#define CONFIG_MAX_WORKERS	64
#define CONFIG_MAX_CACHE	16777216	/* cache-size: entries per router */
#define CONFIG_STRLEN		256
#define CONFIG_MAX_ACL		64	/* prefixes per list */

struct config_listen {
	struct sockaddr_storage	addr;
	socklen_t		addrlen;
};

/* A list of client prefixes; "any" matches every client. */
struct config_acl {
	int		any;
	int		n;
	struct netmask	m[CONFIG_MAX_ACL];
};

/* Nonzero when the client sa is in acl. */
int config_acl_match(const struct config_acl *acl, const struct sockaddr *sa);

struct config {
	struct config_listen	listen[CONFIG_MAX_LISTEN];
	int			nlisten;
	int			workers;
	char			user[CONFIG_STRLEN];
	char			router_user[CONFIG_STRLEN];	/* "" = user */
	char			rundir[PATH_MAX];
	char			etcd[CONFIG_MAX_ETCD][CONFIG_STRLEN];
	int			netcd;
	char			etcd_prefix[CONFIG_STRLEN];
	char			etcd_user[CONFIG_STRLEN];	/* "" = no auth */
	char			etcd_password[CONFIG_STRLEN];
	char			etcd_cacert[PATH_MAX];		/* "" = system CAs */
	char			etcd_cert[PATH_MAX];		/* client cert, or "" */
	char			etcd_key[PATH_MAX];
	char			routes[PATH_MAX];	/* "" = none */
	unsigned		timeout_ms;
	unsigned		health_interval_ms;
	char			health_qname[CONFIG_STRLEN]; /* absolute, text */
	uint16_t		health_qclass;
	uint16_t		health_qtype;
	unsigned		health_rise;
	unsigned		health_fall;
	/* Passive health on real traffic (controller/passive.h). */
	unsigned		health_passive_window_ms;
	unsigned		health_passive_min_attempts;	/* 0 = off */
	unsigned		health_passive_failure_percent;
	struct sockaddr_storage	metrics;
	socklen_t		metricslen;		/* 0 = off */
	char			pidfile[PATH_MAX];
	/* Access (dnsrouter.conf(5)): who may query, who may transfer. */
	struct config_acl	allow_query;		/* default any */
	struct config_acl	allow_transfer;		/* default none */
	int			acl_drop;		/* refused: silence, not REFUSED */
	/* TCP clients, per router. */
	unsigned		tcp_clients;
	unsigned		tcp_clients_per_ip;	/* 0 = no per-address limit */
	unsigned		tcp_initial_timeout_ms;	/* for each whole message */
	unsigned		tcp_idle_timeout_ms;	/* between messages */
	/* Response rate limiting (BIND's names and semantics); 0 = off. */
	unsigned		rrl_responses;
	unsigned		rrl_errors;		/* 0 = rrl_responses */
	unsigned		rrl_nxdomains;		/* 0 = rrl_responses */
	unsigned		rrl_window;		/* seconds */
	unsigned		rrl_slip;
	unsigned		rrl_ipv4_prefix;
	unsigned		rrl_ipv6_prefix;
	struct config_acl	rrl_exempt;		/* default none */
	int			rrl_log_only;
	/* The packet cache, per router (router/cache.c); 0 entries = off. */
	unsigned		cache_size;		/* entries */
	unsigned		cache_max_ttl_ms;
	unsigned		cache_min_ttl_ms;
	unsigned		cache_negative_ttl_ms;
	unsigned		cache_stale_ms;		/* serve-stale window; 0 = off */
	unsigned		lameduck_ms;		/* SIGTERM: /ready 503, then stop */
	int			seccomp;	/* CONFIG_SECCOMP_* */
	int			log_json;	/* log-format json */
	unsigned		log_queries;	/* 1 in N queries logged; 0 = none */
	/* dnstap (router/dnstap.c): "" = off, else "unix:/path" or "tcp:ip:port". */
	char			dnstap[CONFIG_STRLEN];
	unsigned		dnstap_messages;	/* CONFIG_DNSTAP_* bits */
	char			dnstap_identity[CONFIG_STRLEN];	/* "" = host name */
	char			dnstap_version[CONFIG_STRLEN];	/* "" = ours */
};

/* dnstap-messages: the message types of the dnstap schema. */
#define CONFIG_DNSTAP_CLIENT_QUERY	0x1
#define CONFIG_DNSTAP_CLIENT_RESPONSE	0x2
#define CONFIG_DNSTAP_FORWARDER_QUERY	0x4
#define CONFIG_DNSTAP_FORWARDER_RESPONSE 0x8
/* A dnstap unix socket path: what sun_path holds. */
#define CONFIG_DNSTAP_PATH_MAX		107

#define CONFIG_SECCOMP_ON	0	/* the default */
#define CONFIG_SECCOMP_OFF	1
#define CONFIG_SECCOMP_LOG	2

/* Fill in every default of DESIGN.md (workers = number of CPUs). */
void config_defaults(struct config *cf);

/*
 * Parse text (len bytes) named name into cf, which holds defaults or an
 * earlier state. On error returns -1 and writes "name:line: reason" to err.
 */
int config_parse(struct config *cf, const char *name, const char *text,
    size_t len, char *err, size_t errlen);

/* Read and parse the file at path (see config_parse). */
int config_load(struct config *cf, const char *path, char *err, size_t errlen);

/*
 * The line of path where key is last set (what config_parse keeps), for
 * messages about its value; 0 if it is not there (a default) or path
 * cannot be read.
 */
int config_key_line(const char *path, const char *key);

/* Read the config the master wrote to fd (a memfd) from its start; see config_parse. */
int config_read_fd(struct config *cf, int fd, char *err, size_t errlen);

/* Apply DNS_ADDR and ETCD_MACHINES from the environment; -1 and err on a bad value. */
int config_apply_env(struct config *cf, char *err, size_t errlen);

/* Check what no single line can: returns -1 with err on failure. */
int config_validate(const struct config *cf, char *err, size_t errlen);

/* Write cf as a config file that config_parse reads back to the same state. */
int config_write(const struct config *cf, FILE *fp);

/*
 * Who reads a key, and so which children a change of it replaces on
 * reload (the master reads them all). The one list: a key missing from it
 * counts as read by both, so a new key restarts everything until listed.
 */
#define CONFIG_FOR_ROUTERS	0x1
#define CONFIG_FOR_CONTROLLER	0x2
int config_key_readers(const char *key);

/*
 * config_write's text with only the lines of keys that readers read
 * (malloc'd): what the master compares on reload. NULL on failure.
 */
char *config_text_for(const struct config *cf, int readers);

/* Parse a duration such as "1000ms", "5s", "2m" into milliseconds; -1 on error. */
int config_duration(const char *s, unsigned *ms);

#endif
