# The one list of C sources. The Makefile includes this file and binding.gyp
# reads it through `make -s -f csrc/sources.mk print-<GROUP>`, so the npm
# build and the make build never drift apart.
#
#   COMMON  - pure C, no I/O library: buffers, JSON, parameter rules
#   SERVICE - the server side of the core: Redis store, wait registry, REST API
#   CLIENT  - the client engine (libcurl multi) and the public C API
COMMON_SRC  := csrc/ge_buf.c csrc/ge_json.c csrc/ge_params.c csrc/ge_log.c
SERVICE_SRC := csrc/ge_store.c csrc/ge_waiters.c csrc/ge_metrics.c csrc/ge_api.c csrc/ge_api_index.c
CLIENT_SRC  := $(sort $(wildcard csrc/ge_client*.c csrc/ge_http*.c))
DAEMON_SRC  := $(sort $(wildcard server/*.c))

print-%:
	@echo $($*_SRC)
