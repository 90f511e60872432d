# libFuzzer targets. Included by the Makefile; standalone:
#   make -f Makefile -f test/fuzz/fuzz.mk fuzz
#
#   make fuzz                    every test/fuzz/fuzz_*.c for FUZZ_SECONDS (20) each
#   make fuzz-smoke              the same for 10 s each (CI)
#   make fuzz-run-params         one target
#   make fuzz-build              build only
#
# Each target test/fuzz/fuzz_<name>.c is built into out/fuzz/fuzz_<name>
# with Debian's clang (installed if missing) and run on a copy of
# test/fuzz/corpus/<name>/ in out/fuzz/corpus-<name>/ (the repo's corpus is
# never written), with test/fuzz/<name>.dict if there is one. Any crash,
# sanitizer report, leak or timeout fails the run; the reproducer is left in
# out/fuzz/artifacts-<name>/. Targets link only the pure COMMON sources;
# client_response and multi_answer also link the client engine and libcurl;
# http_request links the daemon's HTTP face and the whole service (its
# libraries as the daemon's: http-parser, libevent, hiredis).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_OUT     ?= out/fuzz
FUZZ_TIMEOUT ?= 10
FUZZ_CFLAGS  ?= -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(INC_SRC:%=-I%)
FUZZ_ARGS    ?=

FUZZ_COMMON_SRC := $(filter-out %/ge_log.c,$(COMMON_SRC))
FUZZ_CLIENT_SRC := $(filter-out %/ge_client_loop.c %/ge_client_sync.c,$(CLIENT_SRC))

FUZZ_SRC   := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRC:test/fuzz/fuzz_%.c=%)
FUZZ_BIN   := $(FUZZ_NAMES:%=$(FUZZ_OUT)/fuzz_%)

# Per-target extra sources and libraries.
FUZZ_EXTRA_client_response := $(FUZZ_CLIENT_SRC)
FUZZ_LIBS_client_response  := -lcurl
FUZZ_EXTRA_multi_answer    := $(FUZZ_CLIENT_SRC)
FUZZ_LIBS_multi_answer     := -lcurl
# json: jansson is the reference parser the scanner is compared with.
FUZZ_LIBS_json             := -ljansson
# http_request: the daemon minus main.c, config.c and what only they call
# (the listener, statsd, copy), with the console's embedded files.
FUZZ_DAEMON_SRC := server/http_conn.c server/http_request.c server/http_head.c server/console.c \
                   server/loop_libevent.c $(DAEMON_ASM_SRC)
FUZZ_EXTRA_http_request := csrc/common/ge_log.c $(SERVICE_SRC) $(FUZZ_DAEMON_SRC)
FUZZ_FLAGS_http_request := -Iserver
FUZZ_LIBS_http_request  := $(DAEMON_LIBS) -lhiredis -levent -lm

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-clang $(FUZZ_NAMES:%=fuzz-run-%)

fuzz: $(FUZZ_NAMES:%=fuzz-run-%)

# Target-specific: inherited by the fuzz-run-* it depends on.
fuzz-smoke: FUZZ_SECONDS = 10
fuzz-smoke: $(FUZZ_NAMES:%=fuzz-run-%)

fuzz-build: $(FUZZ_BIN)

# Debian's clang and its libFuzzer runtime (scripts/deps.sh checks: installed
# when missing). The probe links an empty fuzz target.
fuzz-clang:
	@set -e; \
	probe() { printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	    | $(FUZZ_CC) -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1; }; \
	if ! probe; then bash scripts/deps.sh checks; fi; \
	probe || { echo "fuzz: $(FUZZ_CC) cannot link -fsanitize=fuzzer (scripts/deps.sh checks installs clang and libclang-rt-14-dev)" >&2; exit 1; }

$(FUZZ_BIN): $(FUZZ_OUT)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_COMMON_SRC) $(FUZZ_CLIENT_SRC) $(SERVICE_SRC) \
             $(wildcard csrc/*/*.h include/*.h server/*.c server/*.h) $(DAEMON_ASM_SRC) $(CONSOLE_FILES) | fuzz-clang
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_FLAGS_$*) -o $@ $< $(FUZZ_COMMON_SRC) $(FUZZ_EXTRA_$*) $(FUZZ_LIBS_$*)

# Run one target on a fresh copy of its seeds. libFuzzer exits non-zero on
# a crash, a sanitizer report, a leak or a unit slower than FUZZ_TIMEOUT.
$(FUZZ_NAMES:%=fuzz-run-%): fuzz-run-%: $(FUZZ_OUT)/fuzz_%
	@set -e; c=$(FUZZ_OUT)/corpus-$*; a=$(FUZZ_OUT)/artifacts-$*; \
	rm -rf $$c $$a; mkdir -p $$c $$a; \
	if [ -d test/fuzz/corpus/$* ]; then cp -R test/fuzz/corpus/$*/. $$c/; fi; \
	d=; [ ! -f test/fuzz/$*.dict ] || d=-dict=test/fuzz/$*.dict; \
	echo "fuzz: $* for $(FUZZ_SECONDS) s"; \
	$(FUZZ_OUT)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
	    -print_final_stats=1 -artifact_prefix=$$a/ $$d $(FUZZ_ARGS) $$c \
	    > $(FUZZ_OUT)/fuzz-$*.log 2>&1 || { \
	    tail -n 60 $(FUZZ_OUT)/fuzz-$*.log >&2; \
	    echo "fuzz: $* FAILED (log $(FUZZ_OUT)/fuzz-$*.log, reproducer in $$a/)" >&2; exit 1; }; \
	runs=$$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' $(FUZZ_OUT)/fuzz-$*.log | sed 's/Done //;s/ second/ s/'); \
	echo "fuzz: $* ok: $$runs, corpus $$(ls $$c | wc -l) files"
