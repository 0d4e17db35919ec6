#!/bin/sh
# The registrar of deploy/docker-compose.yml: register every line of a
# routes file (as printed by `dnsrouterctl split`) in etcd, with
# `dnsrouterctl add ADDR REGEXP`. Fails (and compose restarts it) until
# etcd answers.
set -eu
routes=${1:-/etc/dnsrouter/shard-routes}
grep -v -e '^#' -e '^$' "$routes" | while IFS= read -r line; do
	dnsrouterctl add "${line%%,*}" "${line#*,}"
done
dnsrouterctl list
