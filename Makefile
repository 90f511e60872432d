# ganomede-events: the C core, the daemon, the CLI and the C tests.
# `make` builds everything into out/; `make test` runs the whole suite
# (C and JS) through scripts/test.sh; `make check` the product's own tests
# (scripts/test.sh --quick: no packaging roots); `make asan` / `make
# valgrind` run those under the sanitizers / valgrind.
include csrc/sources.mk

CC      ?= cc
BUILD   ?= out
CFLAGS  ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -Wall -Wextra -Werror $(INC_SRC:%=-I%)
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS)
LDFLAGS ?=
LIBS    := -lhiredis -levent -lcurl -lm
DAEMON_LIBS := -lhttp_parser

COMMON_OBJ  := $(COMMON_SRC:%.c=$(BUILD)/%.o)
SERVICE_OBJ := $(SERVICE_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ  := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ  := $(DAEMON_SRC:%.c=$(BUILD)/%.o) $(DAEMON_ASM_SRC:%.S=$(BUILD)/%.o)
CORE_OBJ    := $(COMMON_OBJ) $(SERVICE_OBJ) $(CLIENT_OBJ)

CTEST_SRC := $(sort $(wildcard test/c/*.c))
CTEST_BIN := $(CTEST_SRC:test/c/%.c=$(BUILD)/test/%)

DAEMON := $(BUILD)/ganomede-events-server

.PHONY: all daemon ctest test check gate-selftest asan valgrind clean
# Everything: the daemon, the core library and the C tests; the client
# library, the CLI, the examples and the C API test programs (below).
all: $(DAEMON) $(BUILD)/libganomede-events-core.a $(CTEST_BIN) lib cli examples capi

daemon: $(DAEMON)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The console's files, embedded by .incbin (make cannot see them in the .S).
$(BUILD)/%.o: %.S $(CONSOLE_FILES)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iserver -MMD -MP -c $< -o $@

$(BUILD)/libganomede-events-core.a: $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(DAEMON): $(DAEMON_OBJ) $(COMMON_OBJ) $(SERVICE_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(LIBS)

$(BUILD)/test/%: test/c/%.c $(BUILD)/libganomede-events-core.a $(wildcard test/c/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libganomede-events-core.a $(LIBS)

ctest: $(CTEST_BIN)
	@for t in $(CTEST_BIN); do echo "# $$t"; timeout -k 10 120 $$t || exit 1; done

test:
	bash scripts/test.sh

check:
	bash scripts/test.sh --quick

# The gate's self-test: fixture tests that fail, hang, crash, skip or are
# cancelled make scripts/test.sh and .ci/run exit non-zero.
gate-selftest:
	bash test/gate/selftest.sh

# The product's tests (--quick: the packaging tests build their own
# binaries) with AddressSanitizer + UndefinedBehaviorSanitizer: the test
# script builds into out-asan/ and runs the daemon from there (time limits x3).
asan:
	GE_BUILD=out-asan GE_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	GE_LDFLAGS="-fsanitize=address,undefined" bash scripts/test.sh --quick

# The product's tests with every C process under valgrind memcheck (time
# limits x10: scripts/test.sh's GE_TEST_TIME_SCALE).
valgrind:
	GE_BUILD=out GE_WRAP="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	bash scripts/test.sh --quick

clean:
	rm -rf out out-asan build .tap

-include $(CORE_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d)

# libFuzzer targets: `make fuzz` (FUZZ_SECONDS each), `make fuzz-smoke` (CI).
-include test/fuzz/fuzz.mk

# ---- C API, CLI, install ----
# The client library (COMMON + CLIENT + CAPI objects: libcurl, and jansson
# for the accessors of ganomede_events_jansson.h), shared
# with a soname and static; the CLI; the examples; the C API test programs
# (out/capi/, run by test/js/capi*.test.js, not by the TAP runner); install.
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL    ?= install

GE_SOMAJOR   := 1
GE_VERSION   := $(shell sed -n 's/^\#define GE_CLIENT_VERSION "\(.*\)"/\1/p' include/ganomede_events.h)
GE_SONAME    := libganomede-events.so.$(GE_SOMAJOR)
CLIENT_LIBS  := -lcurl -lpthread -lm
CAPI_OBJ     := $(CAPI_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ      := $(COMMON_OBJ) $(CLIENT_OBJ) $(CAPI_OBJ)
SHLIB        := $(BUILD)/$(GE_SONAME)
STLIB        := $(BUILD)/libganomede-events.a
CLI          := $(BUILD)/ganomede-events
CLI_OBJ      := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard cli/*.c)))
EXAMPLE_BIN  := $(patsubst examples/%.c,$(BUILD)/examples/%,$(sort $(wildcard examples/*.c)))
CAPI_BIN     := $(patsubst test/capi/%.c,$(BUILD)/capi/%,$(sort $(wildcard test/capi/*.c)))

.PHONY: lib cli examples capi install uninstall
lib: $(SHLIB) $(STLIB)
cli: $(CLI)
examples: $(EXAMPLE_BIN)
capi: $(CAPI_BIN)

$(STLIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# Only the public API (ge_client_*, ge_result_free, ge_global_init, ge_strerror, ge_err_name) is
# exported from the shared library.
$(BUILD)/libganomede-events.map: Makefile
	@mkdir -p $(dir $@)
	printf '{ global: ge_client_*; ge_jansson_*; ge_result_free; ge_global_init; ge_strerror; ge_err_name; local: *; };\n' > $@

$(SHLIB): $(LIB_OBJ) $(BUILD)/libganomede-events.map
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(GE_SONAME) \
	  -Wl,--version-script,$(BUILD)/libganomede-events.map -o $@ $(LIB_OBJ) $(CLIENT_LIBS) -ljansson
	ln -sf $(GE_SONAME) $(BUILD)/libganomede-events.so

$(CLI): $(CLI_OBJ) $(STLIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(STLIB) $(CLIENT_LIBS)

# The libevent example embeds the client in a libevent loop; programs named
# *jansson* use ganomede_events_jansson.h.
EXTRA_LIBS = $(if $(findstring libevent,$*),-levent) $(if $(findstring jansson,$*),-ljansson)
$(BUILD)/examples/%: examples/%.c $(STLIB) $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(STLIB) $(EXTRA_LIBS) $(CLIENT_LIBS)

$(BUILD)/capi/%: test/capi/%.c $(STLIB) $(wildcard include/*.h) $(wildcard test/c/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itest/c $(LDFLAGS) -o $@ $< $(STLIB) $(EXTRA_LIBS) $(CLIENT_LIBS)

$(BUILD)/ganomede-events.pc: ganomede-events.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(GE_VERSION)|g' $< > $@

# The .pc embeds PREFIX: regenerate it at every install.
install: $(DAEMON) $(CLI) $(SHLIB) $(STLIB)
	@rm -f $(BUILD)/ganomede-events.pc
	$(MAKE) --no-print-directory $(BUILD)/ganomede-events.pc
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 755 $(DAEMON) $(CLI) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/$(GE_SONAME)
	ln -sf $(GE_SONAME) $(DESTDIR)$(LIBDIR)/libganomede-events.so
	$(INSTALL) -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 644 include/ganomede_events.h include/ganomede_events_jansson.h $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(BUILD)/ganomede-events.pc $(DESTDIR)$(PKGCONFIGDIR)/
	$(INSTALL) -m 644 man/ganomede-events.1 man/ganomede-events-server.1 $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ganomede-events-server $(DESTDIR)$(BINDIR)/ganomede-events \
	  $(DESTDIR)$(LIBDIR)/$(GE_SONAME) $(DESTDIR)$(LIBDIR)/libganomede-events.so \
	  $(DESTDIR)$(LIBDIR)/libganomede-events.a $(DESTDIR)$(INCLUDEDIR)/ganomede_events.h \
	  $(DESTDIR)$(INCLUDEDIR)/ganomede_events_jansson.h \
	  $(DESTDIR)$(PKGCONFIGDIR)/ganomede-events.pc \
	  $(DESTDIR)$(MANDIR)/man1/ganomede-events.1 $(DESTDIR)$(MANDIR)/man1/ganomede-events-server.1

-include $(CLI_OBJ:.o=.d) $(CAPI_OBJ:.o=.d)
