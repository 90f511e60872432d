# The one list of C sources and include folders. The Makefile and
# test/fuzz/fuzz.mk include this file; binding.gyp reads it through
# `make -s -f csrc/sources.mk print-<GROUP>`, so the npm build, the make
# build and the fuzz build never drift apart.
#
# Dependencies point one way: service -> common, client -> common (+ the
# public header in include/); common depends on nothing of ours; the daemon
# (server/) sits on service, the addon (napi/) and the CLI (cli/) on client.
#
#   COMMON  - pure C, no I/O library: buffers, JSON, parameter rules, logging
#   SERVICE - the server side of the core: Redis store, wait registry, REST API
#   CLIENT  - the client engine (libcurl multi) and the public C API
#   CAPI    - extras of the C library only (jansson accessors): not in the
#             Node addon, which builds COMMON + CLIENT
COMMON_SRC  := $(sort $(wildcard csrc/common/*.c))
SERVICE_SRC := $(sort $(wildcard csrc/service/*.c))
CLIENT_SRC  := $(sort $(wildcard csrc/client/*.c))
CAPI_SRC    := $(sort $(wildcard csrc/capi/*.c))
DAEMON_SRC  := $(sort $(wildcard server/*.c))
# The daemon's embedded files (the console's, server/console_assets.S:
# .incbin, assembled with -Iserver by whichever compiler builds the rest).
DAEMON_ASM_SRC := $(sort $(wildcard server/*.S))
CONSOLE_FILES  := $(sort $(wildcard server/console/*.* server/console/vendor/*))
# Include folders, as -I flags for make and as a list for gyp (print-INC).
INC_SRC     := include csrc/common csrc/service csrc/client

print-%:
	@echo $($*_SRC)
