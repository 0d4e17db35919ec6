# libFuzzer targets of tests/fuzz/, built with clang into build-fuzz/ apart
# from the gcc builds. `make fuzz` fuzzes each target FUZZ_SECONDS on a copy
# of its seed corpus (the committed corpus never churns); `make fuzz-check`
# is the short run of `make check`. Any crash, leak or timeout fails.
FUZZ_B       ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
# clang, unlike gcc, warns about the arm not taken in the constant
# initializer of dnswire.c's lower[] table.
FUZZ_CFLAGS   = -std=gnu11 $(WARN) -Wno-constant-conversion -g -O1 $(FUZZ_SAN) \
                -MMD -MP
# The parsers get coverage instrumentation; libFuzzer's main() is linked
# into the targets alone.
FUZZ_LIBFLAGS = $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link
FUZZ_LDFLAGS  = $(FUZZ_CFLAGS) -fsanitize=fuzzer

FUZZ_TARGETS  = fuzz_query fuzz_routetable fuzz_report fuzz_status \
                fuzz_route_value fuzz_etcd fuzz_config fuzz_tcpframe \
                fuzz_hsdbmsg fuzz_dnsrr fuzz_cache

fuzzobj = $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(1))

# What each target links: the real parsers and what they call, no copies.
FUZZ_OBJ_fuzz_query       = $(call fuzzobj,common/dnswire.c)
FUZZ_OBJ_fuzz_routetable  = $(call fuzzobj,proto/proto.c proto/routetable.c)
FUZZ_OBJ_fuzz_report      = $(call fuzzobj,proto/proto.c proto/report.c)
FUZZ_OBJ_fuzz_status      = $(call fuzzobj,proto/proto.c proto/routetable.c \
                            proto/statusmsg.c proto/error.c)
FUZZ_OBJ_fuzz_route_value = $(call fuzzobj,common/route_value.c common/addr.c)
FUZZ_OBJ_fuzz_etcd        = $(call fuzzobj,common/etcd_api.c common/base64.c \
                            common/log.c common/util.c)
FUZZ_OBJ_fuzz_config      = $(call fuzzobj,common/config.c common/addr.c \
                            common/dnswire.c common/netmask.c)
FUZZ_OBJ_fuzz_tcpframe    = $(call fuzzobj,common/dnswire.c)
FUZZ_OBJ_fuzz_hsdbmsg     = $(call fuzzobj,proto/proto.c proto/hsdbmsg.c)
FUZZ_OBJ_fuzz_dnsrr       = $(call fuzzobj,common/dnswire.c common/dnsrr.c)
FUZZ_OBJ_fuzz_cache       = $(call fuzzobj,router/cache.c common/dnswire.c \
                            common/dnsrr.c common/siphash.c common/util.c \
                            common/log.c)

FUZZ_LIBS_fuzz_route_value = $(PCRE2_LIBS) $(JANSSON_LIBS)
FUZZ_LIBS_fuzz_etcd        = $(JANSSON_LIBS) $(CURL_LIBS)

# Longest input worth trying: a DNS or nng message, a routes-file value
# (a 4096-byte regexp plus address and JSON), a config file, a TCP stream
# of one largest message and the next one's start.
FUZZ_MAXLEN_fuzz_query       = 65535
FUZZ_MAXLEN_fuzz_routetable  = 65535
FUZZ_MAXLEN_fuzz_report      = 65535
FUZZ_MAXLEN_fuzz_status      = 65535
FUZZ_MAXLEN_fuzz_route_value = 8192
FUZZ_MAXLEN_fuzz_etcd        = 65535
FUZZ_MAXLEN_fuzz_config      = 16384
FUZZ_MAXLEN_fuzz_tcpframe    = 70000
FUZZ_MAXLEN_fuzz_hsdbmsg     = 65535
FUZZ_MAXLEN_fuzz_cache       = 5000

FUZZ_BINS = $(addprefix $(FUZZ_B)/,$(FUZZ_TARGETS))

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_LIBFLAGS) -c -o $@ $<

define fuzz_target
$(FUZZ_B)/$(1): tests/fuzz/$(1).c $$(FUZZ_OBJ_$(1))
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(CPPFLAGS) -Itests/fuzz -Irouter $$(FUZZ_LDFLAGS) -o $$@ $$(filter %.c %.o,$$^) $$(FUZZ_LIBS_$(1))

# The log keeps libFuzzer's output; on failure its tail names the input
# saved in $(FUZZ_B)/artifacts/.
fuzz-run-$(1): $(FUZZ_B)/$(1)
	@rm -rf $(FUZZ_B)/corpus/$(1)
	@mkdir -p $(FUZZ_B)/corpus $(FUZZ_B)/artifacts $(FUZZ_B)/logs
	@cp -R tests/fuzz/corpus/$(1) $(FUZZ_B)/corpus/$(1)
	@echo "fuzz $(1): $(FUZZ_SECONDS)s"
	@$(FUZZ_B)/$(1) -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=$(FUZZ_MAXLEN_$(1)) -timeout=5 -rss_limit_mb=1024 \
	    -artifact_prefix=$(FUZZ_B)/artifacts/$(1)- $(FUZZ_ARGS) \
	    $(FUZZ_B)/corpus/$(1) >$(FUZZ_B)/logs/$(1).log 2>&1 || \
	    { tail -n 60 $(FUZZ_B)/logs/$(1).log; \
	    echo "fuzz $(1): FAILED, see $(FUZZ_B)/logs/$(1).log"; exit 1; }
	@grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_B)/logs/$(1).log | \
	    sed 's/^/fuzz $(1): /'
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(t))))

fuzz-build: $(FUZZ_BINS)

# Everything is built before the first run starts (in a serial make).
fuzz: fuzz-build $(addprefix fuzz-run-,$(FUZZ_TARGETS))

fuzz-check:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5

.PHONY: fuzz-build $(addprefix fuzz-run-,$(FUZZ_TARGETS))
-include $(wildcard $(FUZZ_B)/obj/*/*.d $(FUZZ_B)/*.d)
