/* The console (docs/operations.md, "Console"): a page built into the
 * daemon, GET /events/v1/console, and its files under
 * /events/v1/console/ (server/console_assets.h), bytes embedded at build
 * time. The page reads the daemon through its API routes like any client
 * (the secret it asks for goes in an Authorization header); this file
 * only serves the bytes, each with its Content-Type, an ETag (304 for a
 * matching If-None-Match), Cache-Control: no-cache and a strict
 * Content-Security-Policy. */
#ifndef GE_SERVER_CONSOLE_H
#define GE_SERVER_CONSOLE_H

#include "ge_api.h"
#include "ge_buf.h"

typedef struct ge_console ge_console;

/* The console's table, with each file's ETag (a hash of its bytes). */
ge_console *ge_console_new(void);
void ge_console_free(ge_console *c);

/* When req is one of the console's (its path /events/v1/console, or
 * under it a file of the table), fill *a and return 1; else return 0
 * and the api answers (404 for an unknown file, as for any path).
 * if_none_match: the request's If-None-Match (NULL: none). *a points
 * into the table and into head, which holds its header lines: both must
 * outlive the answer's use. */
int ge_console_answer(const ge_console *c, const ge_request *req, const char *if_none_match, ge_buf *head,
                      ge_answer *a);

#endif
