# ganomede-events: the C core, the daemon, the CLI and the C tests.
# `make` builds everything into build/; `make test` runs the whole suite
# (C and JS) through scripts/test.sh; `make asan` / `make valgrind` run it
# under the sanitizers / valgrind.
include csrc/sources.mk

CC      ?= cc
BUILD   ?= out
CFLAGS  ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -Wall -Wextra -Werror -Icsrc
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS)
LDFLAGS ?=
LIBS    := -lhiredis -levent -lcurl -lm

COMMON_OBJ  := $(COMMON_SRC:%.c=$(BUILD)/%.o)
SERVICE_OBJ := $(SERVICE_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ  := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ  := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
CORE_OBJ    := $(COMMON_OBJ) $(SERVICE_OBJ) $(CLIENT_OBJ)

CTEST_SRC := $(sort $(wildcard test/c/*.c))
CTEST_BIN := $(CTEST_SRC:test/c/%.c=$(BUILD)/test/%)

DAEMON := $(BUILD)/ganomede-events-server

.PHONY: all daemon ctest test asan valgrind clean
all: $(DAEMON) $(BUILD)/libganomede-events-core.a $(CTEST_BIN)

daemon: $(DAEMON)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libganomede-events-core.a: $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(DAEMON): $(DAEMON_OBJ) $(COMMON_OBJ) $(SERVICE_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/test/%: test/c/%.c $(BUILD)/libganomede-events-core.a test/c/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libganomede-events-core.a $(LIBS)

ctest: $(CTEST_BIN)
	@for t in $(CTEST_BIN); do echo "# $$t"; $$t || exit 1; done

test:
	bash scripts/test.sh

# The whole suite with AddressSanitizer + UndefinedBehaviorSanitizer: the
# test script builds into build-asan/ and runs the daemon from there.
asan:
	GE_BUILD=out-asan GE_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	GE_LDFLAGS="-fsanitize=address,undefined" bash scripts/test.sh

# The whole suite with every C process under valgrind memcheck.
valgrind:
	GE_BUILD=out GE_WRAP="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	bash scripts/test.sh

clean:
	rm -rf out out-asan build

-include $(CORE_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d)
