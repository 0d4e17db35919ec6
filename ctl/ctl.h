/* dnsrouterctl: the subcommands and what they share. */
#ifndef DNSROUTER_CTL_H
#define DNSROUTER_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Exit statuses: 0 done, 1 failed, 2 bad usage. */
#define CTL_EXIT_FAIL	1
#define CTL_EXIT_USAGE	2

/*
 * Options every subcommand takes: -f FILE (the config file: rundir, etcd
 * endpoints, prefix, TLS and credentials), -v. getopt_long short and long
 * forms to merge into each subcommand's own.
 */
#define CTL_COMMON_SHORT	"f:vh"
#define CTL_COMMON_LONG \
	{ "config", required_argument, NULL, 'f' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }

/*
 * Handle a common option ch (with optarg); returns 1 if it was one, 0 if
 * not. -h prints help (the subcommand's usage text) and exits 0.
 */
int ctl_common_opt(int ch, const char *optarg_, const char *help);

/* Print usage text to stderr and exit CTL_EXIT_USAGE. */
void ctl_usage(const char *help) __attribute__((noreturn));

/*
 * Load the config: the -f file (must exist), else the default file if it
 * exists, else the built-in defaults; then ETCD_MACHINES. Exits on error.
 */
void ctl_config(struct config *cf);

/* The same, and exit with a clear message if no etcd endpoint results. */
void ctl_config_etcd(struct config *cf);

/*
 * Send req (reqlen bytes) to the running controller (control.ipc in
 * rundir) and wait for the answer, at most a few seconds: the answer,
 * to nng_free with *len, or NULL after saying why (what: the subcommand).
 */
uint8_t *ctl_ask(const char *rundir, const char *what, const uint8_t *req,
    size_t reqlen, size_t *len);
/*
 * Check an answer's header: a dnsrouter message of this protocol
 * version, not a PROTO_ERROR (whose reason is printed). 0, or -1 after
 * saying why.
 */
int ctl_answer_check(const uint8_t *buf, size_t len, const char *what);

/* Subcommands: argv[0] is the subcommand's name. Return the exit status. */
int cmd_add(int argc, char *argv[]);
int cmd_del(int argc, char *argv[]);
int cmd_list(int argc, char *argv[]);
int cmd_purge(int argc, char *argv[]);
int cmd_route(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);
int cmd_split(int argc, char *argv[]);

#endif
