# ipop build. `make` builds every binary into build/, `make test` builds and
# runs all tests (unit tests under ASan+UBSan, the namespace lab, fuzzers for
# a bounded time) and ends with "N passed, N failed". `make test-under-load`
# runs the same suite while stress-ng keeps every core busy.

CC       ?= gcc
B        ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
PKGS     := libsodium libssl libcrypto jansson libconfuse libstrophe libmicrohttpd liburing
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libmicrohttpd is loaded with dlopen when an exporter starts
# (src/common/mhd_lib.h): its headers only, not linked.
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libmicrohttpd,$(PKGS)) 2>/dev/null)

include src/layers.mk
# Every folder under src/ with sources is a layer (src/layers.mk).
LAYERS   := $(patsubst LAYER_%,%,$(filter LAYER_%,$(.VARIABLES)))
ALL_INC  := $(addprefix -Isrc/,$(LAYERS))
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
OPT      ?= -O2 -g
BASE_CFLAGS := $(OPT) -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
# Sources see only their own layer and the ones below it; tests see all.
CFLAGS   := $(BASE_CFLAGS) $(ALL_INC)
LDLIBS   += -Wl,--as-needed $(PKG_LIBS) -lpthread $(EXTRA_LDFLAGS)
layer_inc = -Isrc/$(1) $(addprefix -Isrc/,$(LAYER_$(1)))

# Libraries: the protocol cores and pure libraries (libipop.a), the relay
# (libturnsrv.a), the node (libnode.a) and the CLI (libctl.a).
LIB_DIRS  := common stun tunnel ice packet proto conf
LIB_SRCS  := $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c))
TURN_SRCS := $(filter-out src/turnserver/main.c,$(wildcard src/turnserver/*.c))
NODE_SRCS := $(filter-out src/node/daemon/main.c,$(wildcard src/node/*.c src/node/*/*.c))
CTL_SRCS  := $(filter-out src/ctl/main.c,$(wildcard src/ctl/*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
LIB_OBJS  := $(call obj,$(LIB_SRCS))
TURN_OBJS := $(call obj,$(TURN_SRCS))
NODE_OBJS := $(call obj,$(NODE_SRCS))
CTL_OBJS  := $(call obj,$(CTL_SRCS))

BINS := $(B)/ipop-turnserver
ifneq ($(wildcard src/node/daemon/main.c),)
BINS += $(B)/ipopd
endif
ifneq ($(wildcard src/ctl/main.c),)
BINS += $(B)/ipopctl
endif
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRCS))
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(TOOL_SRCS))

# Unit tests mirror src/ in tests/unit/; every test_*.c is one program
# (named after its file), other .c files there are shared test helpers.
UNIT_SRCS := $(sort $(shell find tests/unit -name 'test_*.c'))
UNIT_HELPER_SRCS := $(sort $(shell find tests/unit -name '*.c' ! -name 'test_*.c'))
UNIT_BINS := $(foreach s,$(UNIT_SRCS),$(B)/tests/$(basename $(notdir $(s))))
TEST_INC := $(addprefix -I,$(sort $(dir $(UNIT_HELPER_SRCS))))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all tools unit asan fuzz test test-under-load check-net check-layers demo bench install clean deps
all: $(BINS) tools

tools: $(BENCH_BINS) $(TOOL_BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# A source under src/LAYER/ compiles with that layer's include paths only.
define layer_rule
$(B)/obj/src/$(1)/%.o: src/$(1)/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $$(call layer_inc,$(1)) -MMD -MP -c $$< -o $$@
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l))))

$(B)/libipop.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/libturnsrv.a: $(TURN_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/libnode.a: $(NODE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/libctl.a: $(CTL_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The commit a binary was built from, for `--version` and the start-up log
# (a benchmark that runs another build names the right one). The stamp
# changes only when the commit does, so only the main objects rebuild.
BUILD_REV := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
MAIN_OBJS := $(B)/obj/src/turnserver/main.o $(B)/obj/src/node/daemon/main.o
$(B)/build_rev: FORCE
	@mkdir -p $(dir $@)
	@echo '$(BUILD_REV)' | cmp -s - $@ || echo '$(BUILD_REV)' > $@
$(MAIN_OBJS): $(B)/build_rev
$(MAIN_OBJS): BASE_CFLAGS += -DIPOP_BUILD_REV='"$(BUILD_REV)"'
.PHONY: FORCE
FORCE:

$(B)/ipop-turnserver: $(B)/obj/src/turnserver/main.o $(B)/libturnsrv.a $(B)/libipop.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/ipopd: $(B)/obj/src/node/daemon/main.o $(B)/libnode.a $(B)/libipop.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/ipopctl: $(B)/obj/src/ctl/main.o $(B)/libctl.a $(B)/libipop.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/bench/%: $(B)/obj/bench/%.o $(B)/libturnsrv.a $(B)/libipop.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Test helpers (lab probes) link the node and relay libraries.
$(B)/tests/tools/%: $(B)/obj/tests/tools/%.o $(B)/libturnsrv.a $(B)/libnode.a $(B)/libipop.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Unit tests link the helpers and every library (the linker takes only
# what each needs).
$(B)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_INC) -MMD -MP -c $< -o $@
$(B)/libtesthelp.a: $(call obj,$(UNIT_HELPER_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
define unit_rule
$(B)/tests/$(basename $(notdir $(1))): $(call obj,$(1)) $(B)/libtesthelp.a $(B)/libturnsrv.a $(B)/libnode.a $(B)/libctl.a $(B)/libipop.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$^ -o $$@ $$(LDLIBS) -lcmocka -lm
endef
$(foreach s,$(UNIT_SRCS),$(eval $(call unit_rule,$(s))))

unit: $(UNIT_BINS)

# Sanitizer build of everything, in its own tree.
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_B ?= build/asan
FUZZ_B ?= build/fuzz
asan:
	$(MAKE) B=$(ASAN_B) OPT="$(SAN_FLAGS)" EXTRA_LDFLAGS="-fsanitize=address,undefined" all unit

# libFuzzer harnesses (clang); each links the library sources built with clang.
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined
fuzz:
	$(MAKE) B=$(FUZZ_B) CC=clang OPT="$(FUZZ_FLAGS)" $(FUZZ_B)/libipop.a $(FUZZ_B)/libturnsrv.a $(FUZZ_B)/libnode.a \
	  $(FUZZ_B)/libctl.a
	@mkdir -p $(FUZZ_B)/bin
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  echo "clang $$f -> $(FUZZ_B)/bin/$$n"; \
	  clang -std=c11 -D_GNU_SOURCE $(ALL_INC) $(PKG_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined \
	    $$f $(FUZZ_B)/libturnsrv.a $(FUZZ_B)/libnode.a $(FUZZ_B)/libctl.a $(FUZZ_B)/libipop.a \
	    -o $(FUZZ_B)/bin/$$n $(PKG_LIBS) -lpthread || exit 1; done

# `make demo` and `make test` first install missing Debian packages (as root);
# with everything present this is one dpkg-query per package. The build runs
# in a sub-make so that pkg-config flags are read after the install, on
# every core (a plain `make test` would otherwise build the three trees one
# file at a time: 6 minutes of a run on 2 cores that other work shared).
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
deps:
	bash deploy/install-deps.sh --if-missing

test: deps
	$(MAKE) -j$(BUILD_JOBS) all asan fuzz
	bash tests/run.sh

# Fails when an include points up a layer (src/layers.mk); part of the suite.
check-layers:
	bash tests/check_layers.sh

# The same suite while `stress-ng --cpu <nproc>` keeps the cores busy (the
# script starts the load and always stops it): tests must not need a quiet
# machine (docs/testing.md).
test-under-load: deps
	$(MAKE) -j$(BUILD_JOBS) all asan fuzz
	bash tests/under-load.sh

check-net: all
	bash tests/run.sh net

demo: deps
	$(MAKE) -j$(BUILD_JOBS) all
	bash tests/demo.sh

bench: all tools
	bash bench/turnserver
	bash bench/turnserver_guess

# Installs binaries, man pages, systemd units (+ sysusers.d for their users)
# and the deployment kit (templates, accounts script, example configs,
# Prometheus scrape config and alerting rules).
# Unit paths follow PREFIX; staged installs use DESTDIR.
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share/ipop
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DATADIR)/ejabberd $(DESTDIR)$(DATADIR)/prosody \
	  $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(DATADIR)/prometheus $(DESTDIR)$(DATADIR)/prometheus/consoles
	install -m 755 $(B)/ipop-turnserver $(DESTDIR)$(SBINDIR)/
	for b in ipopd; do [ -f $(B)/$$b ] && install -m 755 $(B)/$$b $(DESTDIR)$(SBINDIR)/ || true; done
	for b in ipopctl; do [ -f $(B)/$$b ] && install -m 755 $(B)/$$b $(DESTDIR)$(BINDIR)/ || true; done
	install -m 644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	for u in deploy/systemd/*.service.in; do \
	  sed 's|@SBINDIR@|$(SBINDIR)|g' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u .in) && \
	  chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u .in) || exit 1; done
	install -m 644 deploy/systemd/ipop.sysusers $(DESTDIR)$(SYSUSERSDIR)/ipop.conf
	install -m 755 deploy/ipop-accounts.sh $(DESTDIR)$(DATADIR)/
	install -m 644 deploy/ejabberd/ejabberd.yml.in $(DESTDIR)$(DATADIR)/ejabberd/
	install -m 755 deploy/ejabberd/make-config.sh $(DESTDIR)$(DATADIR)/ejabberd/
	install -m 644 deploy/prosody/prosody.cfg.lua.in $(DESTDIR)$(DATADIR)/prosody/
	install -m 755 deploy/prosody/make-config.sh $(DESTDIR)$(DATADIR)/prosody/
	install -m 644 deploy/config-group.json deploy/config-social.json deploy/turn.conf \
	  deploy/accounts.example $(DESTDIR)$(DATADIR)/examples/
	install -m 644 deploy/prometheus/prometheus.yml deploy/prometheus/ipop-alerts.yml \
	  $(DESTDIR)$(DATADIR)/prometheus/
	install -m 644 deploy/prometheus/consoles/ipop-map.html $(DESTDIR)$(DATADIR)/prometheus/consoles/

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
