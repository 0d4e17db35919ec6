/*
 * dnsrouterctl: registers backends in etcd, lists and removes them, asks
 * the running dnsrouter what it sees, and splits a zone into shards.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "log.h"

static const char usage_text[] =
    "usage: dnsrouterctl [-v] [-f file] command [args]\n"
    "\n"
    "commands:\n"
    "  add ADDR REGEXP [--priority N] [--primary] [--ttl S]\n"
    "                                             register a backend in etcd\n"
    "  del ADDR [REGEXP]                          remove its registrations\n"
    "  list                                       every registration in etcd\n"
    "  purge NAME [TYPE]                          drop a name from the routers' caches\n"
    "  route NAME [TYPE]                          which route answers NAME, and why\n"
    "  status [--json]                            what the running dnsrouter sees\n"
    "  split ZONEFILE --shards N [--origin O] [--out DIR] [--addr ADDR ...]\n"
    "                                             split a zone into shard zone files\n"
    "\n"
    "  -f file   config file (default " CONFIG_DEFAULT_PATH ")\n"
    "  -v        more verbose\n"
    "ETCD_MACHINES=url[,url...] overrides the config's etcd endpoints.\n"
    "'dnsrouterctl COMMAND --help' describes a command.\n";

static const char	*config_path;
static int		 config_given;

void
ctl_usage(const char *help)
{
	fputs(help, stderr);
	exit(CTL_EXIT_USAGE);
}

int
ctl_common_opt(int ch, const char *arg, const char *help)
{
	switch (ch) {
	case 'f':
		config_path = arg;
		config_given = 1;
		return 1;
	case 'v':
		log_setverbose(log_getverbose() + 1);
		return 1;
	case 'h':
		fputs(help, stdout);
		exit(0);
	}
	return 0;
}

void
ctl_config(struct config *cf)
{
	char err[512];

	config_defaults(cf);
	if (config_given || access(config_path, F_OK) == 0) {
		if (config_load(cf, config_path, err, sizeof(err)) != 0) {
			fprintf(stderr, "dnsrouterctl: %s\n", err);
			exit(CTL_EXIT_FAIL);
		}
	}
	if (config_apply_env(cf, err, sizeof(err)) != 0) {
		fprintf(stderr, "dnsrouterctl: %s\n", err);
		exit(CTL_EXIT_FAIL);
	}
}

void
ctl_config_etcd(struct config *cf)
{
	ctl_config(cf);
	if (cf->netcd == 0) {
		fprintf(stderr, "dnsrouterctl: no etcd endpoint: set "
		    "ETCD_MACHINES or add 'etcd URL' lines to %s\n", config_path);
		exit(CTL_EXIT_FAIL);
	}
}

static const struct {
	const char	*name;
	int		(*run)(int, char **);
} commands[] = {
	{ "add", cmd_add },
	{ "del", cmd_del },
	{ "list", cmd_list },
	{ "purge", cmd_purge },
	{ "route", cmd_route },
	{ "status", cmd_status },
	{ "split", cmd_split },
};

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		CTL_COMMON_LONG,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	size_t i;
	int ch;

	config_path = CONFIG_DEFAULT_PATH;
	log_init(1, 0, "dnsrouterctl");
	/* "+": stop at the subcommand; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+" CTL_COMMON_SHORT, longopts,
	    NULL)) != -1) {
		if (ch == 'V') {
			printf("dnsrouterctl %s\n", DNSROUTER_VERSION);
			return 0;
		}
		if (!ctl_common_opt(ch, optarg, usage_text))
			ctl_usage(usage_text);
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		ctl_usage(usage_text);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			optind = 0;	/* glibc: start getopt afresh */
			return commands[i].run(argc, argv);
		}
	fprintf(stderr, "dnsrouterctl: unknown command '%s'\n\n", argv[0]);
	ctl_usage(usage_text);
}
