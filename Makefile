# PulseStream - build, test, bench, install.
#
#   make                 build every tool into bin/
#   make demo            install what is missing, then run pipelines/demo.sh
#   make check           install what is missing, then run every test
#   make check SANITIZE=address,undefined
#   make bench           benchmarks on 1M simulated events
#   make install PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man

CC ?= cc
PKG_CONFIG ?= pkg-config
OPT ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wvla -Wformat=2
ifneq ($(WERROR),)
WARN += -Werror
endif
SANITIZE ?=
ifneq ($(SANITIZE),)
SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all
endif

# Every library a module may use; tools link with --as-needed, so each
# binary ends up depending only on the libraries its code references.
# The flags are computed when make reads this file: that is why demo and
# check run scripts/deps.sh first and then build in a new make, which
# reads the file again once the -dev packages are there.
PKGS = yajl zlib libzstd libisal rdkafka libcurl openssl
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# libmicrohttpd: only lib/httpd.c is compiled with its flags (the only
# module that includes it); every binary may link it (--as-needed).
MHD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null)
CRIT_CFLAGS := $(shell $(PKG_CONFIG) --cflags criterion 2>/dev/null)
CRIT_LIBS := $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null || echo -lcriterion)

# The Debian package that provides each pkg-config module.
DEB_yajl = libyajl-dev
DEB_zlib = zlib1g-dev
DEB_libzstd = libzstd-dev
DEB_rdkafka = librdkafka-dev
DEB_libcurl = libcurl4-openssl-dev
DEB_openssl = libssl-dev
DEB_criterion = libcriterion-dev
DEB_libmicrohttpd = libmicrohttpd-dev
# $(call need_pkgs,MODULES): a recipe line that stops the build with one
# message naming the Debian packages of the MODULES pkg-config cannot
# find, instead of compiling without their flags into a wall of linker
# errors.  Empty when all are there.  Expanded only in recipes.
missing_pkgs = $(strip $(foreach m,$(1),$(if $(shell $(PKG_CONFIG) \
	--exists $(m) 2>/dev/null && echo y),,$(m))))
need_pkgs = $(call need_report,$(call missing_pkgs,$(1)))
need_report = $(if $(1),@echo "make: missing libraries: $(1); install \
	the Debian packages $(strip $(foreach m,$(1),$(DEB_$(m))) $(if \
	$(shell command -v $(PKG_CONFIG)),,pkg-config)) (scripts/deps.sh \
	does; make demo and make check run it first)" >&2; exit 1)

ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(WARN) $(OPT) $(SANFLAGS) -Ilib \
	     $(PKG_CFLAGS) $(CFLAGS) $(CPPFLAGS)
ALL_LDFLAGS = $(SANFLAGS) -Wl,--as-needed $(LDFLAGS)
LIBS = $(PKG_LIBS) $(MHD_LIBS) -lm -lpthread

B = build
LIB_SRC := $(sort $(wildcard lib/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
LIBA = $(B)/libpulsestream.a
TOOL_SRC := $(sort $(wildcard tools/ps-*.c))
TOOLS := $(TOOL_SRC:tools/%.c=bin/%)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
MANS := $(sort $(wildcard man/*.[0-9]))

.PHONY: all deps demo check check-unit check-cli check-e2e check-interop \
	check-valgrind check-man bench bench-tools fuzz install uninstall clean regen FORCE
.DEFAULT_GOAL := all

all: $(TOOLS)

# Rebuild everything when the compiler flags change (e.g. SANITIZE=...).
$(B)/.flags: FORCE
	$(call need_pkgs,$(PKGS) libmicrohttpd)
	@mkdir -p $(B)
	@echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' | cmp -s - $@ || \
		echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' > $@
FORCE:

$(B)/%.o: %.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/lib/httpd.o: ALL_CFLAGS += $(MHD_CFLAGS)

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

bin/%: $(B)/tools/%.o $(LIBA)
	@mkdir -p bin
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(LIBS)

$(B)/tests/%.o: tests/unit/%.c $(B)/.flags
	$(call need_pkgs,criterion)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CRIT_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: $(B)/tests/%.o $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(CRIT_LIBS) $(LIBS)

deps:
	@scripts/deps.sh

# demo and check install what is missing, then build and test in a new
# make that computes the library flags afresh (never `demo: deps all`:
# all would be built with the flags read before deps ran).
CHECKS = check-unit check-cli check-man check-e2e check-interop
demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	pipelines/demo.sh

check:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory $(CHECKS)
	@echo "make check: all test suites passed"

check-unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

check-cli: all
	@tests/cli/run.sh

check-valgrind: all
	@PS_WRAP="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99" tests/cli/run.sh

check-man: all
	@tests/man-check.sh

check-e2e: all
	@scripts/run-suite.sh tests/e2e

check-interop: all
	@scripts/run-suite.sh tests/interop

bench:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all bench-tools
	@bench/run.sh

bench-tools: $(PQTOOL) $(DELTATOOL)

regen: all
	@PS_REGEN=1 tests/cli/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(filter %.1,$(MANS)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.7,$(MANS)) $(DESTDIR)$(MANDIR)/man7/

uninstall:
	rm -f $(TOOLS:bin/%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MANS))))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(filter %.7,$(MANS))))

clean:
	rm -rf $(B) bin

.SECONDARY:
-include $(LIB_OBJ:.o=.d) $(TOOL_SRC:tools/%.c=$(B)/tools/%.d) $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%.d)

# pqtool: a test-only Parquet writer/reader used by tests/interop and bench.
PQTOOL = $(B)/tests/pqtool
$(PQTOOL): $(B)/tests/tools/pqtool.o $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(LIBS)
# deltatool: a test-only front end to lib/delta (tests/interop, bench).
DELTATOOL = $(B)/tests/deltatool
$(DELTATOOL): $(B)/tests/tools/deltatool.o $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(LIBS)
check-interop: $(PQTOOL) $(DELTATOOL)

# libFuzzer targets for the silver parser and the HL7 parser (clang).
# `make check-fuzz` runs them once over their seeds (and the nasty-input
# corpus), then 20000 new inputs each, as CI does.
FUZZ_CC ?= clang
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -g -O1 -Ilib $(PKG_CFLAGS) \
	      -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ := $(LIB_SRC:%.c=$(B)/fuzz/%.o)
$(B)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
$(B)/fuzz/fuzz_silver: tests/fuzz/fuzz_silver.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) $(MHD_LIBS) \
		-lm -lpthread
$(B)/fuzz/fuzz_hl7: tests/fuzz/fuzz_hl7.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) $(MHD_LIBS) \
		-lm -lpthread
fuzz: $(B)/fuzz/fuzz_silver $(B)/fuzz/fuzz_hl7
check-fuzz: fuzz
	$(B)/fuzz/fuzz_silver -runs=0 tests/data/nasty tests/fuzz/corpus
	@rm -rf $(B)/fuzz/new && mkdir -p $(B)/fuzz/new
	$(B)/fuzz/fuzz_silver -runs=20000 -seed=1 -max_len=4096 \
		$(B)/fuzz/new tests/fuzz/corpus
	$(B)/fuzz/fuzz_hl7 -runs=0 tests/fuzz/corpus_hl7
	@rm -rf $(B)/fuzz/new_hl7 && mkdir -p $(B)/fuzz/new_hl7
	$(B)/fuzz/fuzz_hl7 -runs=20000 -seed=1 -max_len=4096 \
		$(B)/fuzz/new_hl7 tests/fuzz/corpus_hl7
.PHONY: check-fuzz
-include $(FUZZ_OBJ:.o=.d)

# Test builds of the lake writers: lib/stage.c compiled with -DPS_TEST_HOOKS
# (the PS_TEST_STOP pause points of lib/stage.h), linked ahead of the
# library.  tests/e2e/lake_interleave.sh runs them; bin/ never has the hook.
TEST_TOOLS = $(B)/test-bin/ps-bronze $(B)/test-bin/ps-silver $(B)/test-bin/ps-gold
$(B)/test/stage.o: lib/stage.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DPS_TEST_HOOKS -MMD -MP -c -o $@ $<
$(B)/test-bin/%: $(B)/tools/%.o $(B)/test/stage.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/test/stage.o $(LIBA) $(LIBS)
check-e2e check-interop: $(TEST_TOOLS)
-include $(B)/test/stage.d
