#!/bin/sh
# Install the Debian packages a target needs, only when something is missing.
# Usage: mk/deps.sh build|check|demo|bench
set -eu

build="gcc make pkg-config libev-dev libldns-dev libnng-dev libpcre2-dev libhyperscan-dev liburing-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libseccomp-dev libfstrm-dev libprotobuf-c-dev protobuf-c-compiler"
check="$build libcmocka-dev bind9 bind9-dnsutils unbound python3 python3-pytest python3-dnspython etcd-server etcd-client docker-compose openssl clang libclang-rt-14-dev strace dnsperf fstrm-bin"
demo="$build bind9 bind9-dnsutils python3 python3-dnspython etcd-server etcd-client"
bench="$check dnsdist"

case "${1:-build}" in
build) want=$build ;;
check) want=$check ;;
demo) want=$demo ;;
bench) want=$bench ;;
*) echo "usage: $0 build|check|demo|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "not root: run 'apt-get install$missing' as root first" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages such as bind9 and dnsdist start services where an init system
# runs; policy-rc.d keeps them from grabbing port 53 on this machine.
rc=/usr/sbin/policy-rc.d
made_rc=0
if [ ! -e "$rc" ]; then
	# Removed however this script ends (a failed install exits at once
	# under set -e): left behind, it would stop every service's start.
	trap '[ "$made_rc" -eq 1 ] && rm -f "$rc"' EXIT
	printf '#!/bin/sh\nexit 101\n' >"$rc"
	chmod 755 "$rc"
	made_rc=1
fi
apt-get install -y -qq --no-install-recommends $missing
exit 0
