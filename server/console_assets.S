/* The console's files as read-only bytes: for each of GE_CONSOLE_ASSETS,
 * ge_console_<symbol> and ge_console_<symbol>_end (server/console.c). */
#include "console_assets.h"

#define GE_EMBED(sym, path, file, type)                 \
    .global ge_console_##sym; .global ge_console_##sym##_end; \
    .balign 16; ge_console_##sym: .incbin file; ge_console_##sym##_end:

    .section .rodata
GE_CONSOLE_ASSETS(GE_EMBED)

    .section .note.GNU-stack,"",%progbits
