# dnsrouter. `make` builds into build/; `make check` runs every test, then
# again under ASan+UBSan; `make demo` runs the 2014 scenario locally.
VERSION    = 0.1.0
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
LIBEXECDIR?= $(PREFIX)/libexec/dnsrouter
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR?= /etc
UNITDIR   ?= $(PREFIX)/lib/systemd/system
DESTDIR   ?=

B         ?= build
CC        ?= cc
PYTHON    ?= /usr/bin/python3
CFLAGS    ?= -O2 -g
WARN       = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wpointer-arith -Wcast-qual
# Each program sees its own folder, common/ and proto/ (see below).
CPPFLAGS  += -D_GNU_SOURCE -Icommon -Iproto \
             -DDNSROUTER_VERSION='"$(VERSION)"' -DLIBEXECDIR='"$(LIBEXECDIR)"'
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP

# nng and libev ship no .pc file on Debian 12.
PCRE2_LIBS   = $(shell pkg-config --libs libpcre2-8)
JANSSON_LIBS = $(shell pkg-config --libs jansson)
HS_LIBS      = $(shell pkg-config --libs libhs)
CMOCKA_LIBS  = $(shell pkg-config --libs cmocka)
LDNS_LIBS    = $(shell pkg-config --libs ldns)
CURL_LIBS    = $(shell pkg-config --libs libcurl)
MHD_LIBS     = $(shell pkg-config --libs libmicrohttpd)
NNG_LIBS     = -lnng -lpthread
EV_LIBS      = -lev
SECCOMP_LIBS = $(shell pkg-config --libs libseccomp)
# dnstap (router/dnstap.c): Frame Streams and the schema's protobuf-c code.
DNSTAP_LIBS  = $(shell pkg-config --libs libfstrm libprotobuf-c) -lm
# liburing: routers send batches through io_uring (router/sendbatch.c);
# without it (URING=0, or not installed) they use sendmmsg.
URING       ?= $(shell pkg-config --exists liburing && echo 1 || echo 0)
ifeq ($(URING),1)
CPPFLAGS    += -DHAVE_LIBURING
URING_LIBS   = $(shell pkg-config --libs liburing)
endif

COMMON_SRC     = common/log.c common/addr.c common/config.c common/dnswire.c \
                 common/util.c common/privsep.c common/sandbox.c common/base64.c common/netmask.c common/strmap.c common/etcd_api.c common/route_value.c common/tcpout.c common/dnsrr.c common/hsdb.c common/hsjob.c common/siphash.c proto/proto.c proto/endpoint.c proto/routetable.c proto/report.c \
                 proto/statusmsg.c proto/error.c proto/hsdbmsg.c proto/child.c proto/purgemsg.c \
                 common/child_start.c
MASTER_SRC     = $(wildcard master/*.c)
ROUTER_SRC     = $(wildcard router/*.c)
CONTROLLER_SRC = $(wildcard controller/*.c)
CTL_SRC        = $(wildcard ctl/*.c)
UNIT_SRC       = $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))
COMMON_OBJ = $(call obj,$(COMMON_SRC))
UNIT_BIN   = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
# Unit tests link the modules they test, not the programs' main().
UNIT_OBJ   = $(call obj,router/matcher.c router/rrl.c router/cache.c \
             controller/registry.c ctl/shard.c)
UNIT_OBJ  += $(call obj,controller/passive.c controller/zones.c)

# protoc-c's code for router/dnstap.proto, built in $(B)/gen.
GEN        = $(B)/gen
DNSTAP_OBJ = $(B)/router/dnstap.o $(B)/router/querylog.o $(GEN)/dnstap.pb-c.o

PROGS = $(B)/dnsrouter $(B)/dnsrouter-router $(B)/dnsrouter-controller $(B)/dnsrouterctl

all: $(PROGS)

# A program's own headers are its folder's; unit tests reach every module.
$(B)/master/%.o:     CPPFLAGS += -Imaster
$(B)/router/%.o:     CPPFLAGS += -Irouter -I$(GEN)
$(B)/controller/%.o: CPPFLAGS += -Icontroller
$(B)/ctl/%.o:        CPPFLAGS += -Ictl
$(B)/tests/%:        CPPFLAGS += -Irouter -Icontroller -Ictl

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The master has LIBEXECDIR built in: rebuild it when PREFIX or LIBEXECDIR
# change (make install PREFIX=/usr after make).
$(B)/libexecdir.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(LIBEXECDIR)' | cmp -s - $@ || echo '$(LIBEXECDIR)' > $@
$(call obj,master/children.c): $(B)/libexecdir.stamp

$(GEN)/dnstap.pb-c.c $(GEN)/dnstap.pb-c.h: router/dnstap.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=router --c_out=$(GEN) router/dnstap.proto
$(GEN)/dnstap.pb-c.o: $(GEN)/dnstap.pb-c.c
	$(CC) $(CPPFLAGS) -I$(GEN) $(ALL_CFLAGS) -c -o $@ $<
$(B)/router/dnstap.o: $(GEN)/dnstap.pb-c.h

$(B)/libcommon.a: $(COMMON_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/dnsrouter: $(call obj,$(MASTER_SRC)) $(B)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(EV_LIBS)

$(B)/dnsrouter-router: $(call obj,$(ROUTER_SRC)) $(GEN)/dnstap.pb-c.o $(B)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(EV_LIBS) $(NNG_LIBS) $(PCRE2_LIBS) $(HS_LIBS) \
	    $(URING_LIBS) $(SECCOMP_LIBS) $(DNSTAP_LIBS)

$(B)/dnsrouter-controller: $(call obj,$(CONTROLLER_SRC)) $(B)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(EV_LIBS) $(NNG_LIBS) \
	    $(PCRE2_LIBS) $(JANSSON_LIBS) $(LDNS_LIBS) $(CURL_LIBS) $(MHD_LIBS) $(HS_LIBS) $(SECCOMP_LIBS)

# route matches names with the routers' own matcher.
$(B)/ctl/route.o:     CPPFLAGS += -Irouter
$(B)/dnsrouterctl: $(call obj,$(CTL_SRC) router/matcher.c) $(B)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(NNG_LIBS) \
	    $(PCRE2_LIBS) $(HS_LIBS) $(JANSSON_LIBS) $(LDNS_LIBS) $(CURL_LIBS)

$(B)/tests/%: tests/unit/%.c $(UNIT_OBJ) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(CMOCKA_LIBS) \
	    $(PCRE2_LIBS) $(JANSSON_LIBS) $(HS_LIBS) $(CURL_LIBS)

# The query layer against a fake sendbatch: links the router's own query.c
# and upstream.c on a real libev loop.
$(B)/tests/test_upstream_batch: tests/unit/test_upstream_batch.c \
    $(call obj,router/query.c router/upstream.c router/cache.c) $(DNSTAP_OBJ) \
    $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(CMOCKA_LIBS) $(EV_LIBS) \
	    $(DNSTAP_LIBS)

# query.c's state machine against stub client and upstream transports, on a
# real libev loop: links the router's own query.c and nothing else of it
# (malloc wrapped, so a test can make one fail).
$(B)/tests/test_query: tests/unit/test_query.c $(call obj,router/query.c router/cache.c) \
    $(DNSTAP_OBJ) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -Wl,--wrap=malloc -o $@ $(filter-out %.h,$^) $(CMOCKA_LIBS) $(EV_LIBS) \
	    $(DNSTAP_LIBS)

deps:
	@sh mk/deps.sh build

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

system: all
	DNSROUTER_BUILD=$(abspath $(B)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/system $(PYTEST_ARGS)

# The whole suite with -Werror, then once more under ASan+UBSan.
check:
	@sh mk/deps.sh check
	$(MAKE) EXTRA_CFLAGS=-Werror all unit system
	$(MAKE) B=build-asan EXTRA_CFLAGS="-Werror -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" all unit system
	$(MAKE) fuzz-check

demo:
	@sh mk/deps.sh demo
	$(MAKE) all
	$(PYTHON) deploy/demo.py --build $(abspath $(B))

# The bare forwarder bench.py measures everything against (bench/bareforward.c).
$(B)/bench/bareforward: bench/bareforward.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -o $@ $<

bench:
	@sh mk/deps.sh bench
	$(MAKE) all $(B)/bench/bareforward
	$(PYTHON) bench/bench.py --build $(abspath $(B)) \
	    --bare $(abspath $(B))/bench/bareforward $(BENCH_ARGS)
	$(PYTHON) bench/startup.py --build $(abspath $(B)) \
	    $(filter --quick,$(BENCH_ARGS)) $(STARTUP_ARGS)
	$(PYTHON) bench/cache.py --build $(abspath $(B)) \
	    $(filter --quick,$(BENCH_ARGS)) $(CACHE_ARGS)
	$(PYTHON) bench/dnstap.py --build $(abspath $(B)) \
	    $(filter --quick,$(BENCH_ARGS)) $(DNSTAP_ARGS)
	$(PYTHON) bench/churn.py --build $(abspath $(B)) \
	    $(filter --quick,$(BENCH_ARGS)) $(CHURN_ARGS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR)
	install -m 755 $(B)/dnsrouter $(B)/dnsrouterctl $(DESTDIR)$(SBINDIR)/
	install -m 755 $(B)/dnsrouter-router $(B)/dnsrouter-controller $(DESTDIR)$(LIBEXECDIR)/
	install -d $(DESTDIR)$(SYSCONFDIR)/dnsrouter $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -m 644 deploy/dnsrouter.conf.example $(DESTDIR)$(SYSCONFDIR)/dnsrouter/dnsrouter.conf.example
	install -m 644 docs/dnsrouter.8 docs/dnsrouterctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 docs/dnsrouter.conf.5 $(DESTDIR)$(MANDIR)/man5/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    deploy/dnsrouter.service.in > $(DESTDIR)$(UNITDIR)/dnsrouter.service

clean:
	rm -rf build build-asan build-fuzz

include mk/fuzz.mk

FORCE:

.PHONY: all deps unit system check demo bench install clean fuzz fuzz-check FORCE
-include $(shell find $(B) -name '*.d' 2>/dev/null)
