/* The console's files (server/console/), embedded into the daemon at
 * build time: one list, read by the assembler (server/console_assets.S:
 * .incbin, which works for any target, cross compilers included) and by
 * server/console.c (the table it serves). Each is
 * X(symbol, path under /events/v1/console, file (searched in -Iserver),
 * Content-Type); the page itself has the path "". Preprocessor only: the
 * assembler includes it. */
#ifndef GE_SERVER_CONSOLE_ASSETS_H
#define GE_SERVER_CONSOLE_ASSETS_H

#define GE_CONSOLE_ASSETS(X)                                                                            \
    X(page, "", "console/index.html", "text/html; charset=utf-8")                                       \
    X(style, "/console.css", "console/console.css", "text/css; charset=utf-8")                          \
    X(api, "/api.js", "console/api.js", "text/javascript; charset=utf-8")                               \
    X(sse, "/sse.js", "console/sse.js", "text/javascript; charset=utf-8")                               \
    X(prom, "/prom.js", "console/prom.js", "text/javascript; charset=utf-8")                            \
    X(app, "/console.js", "console/console.js", "text/javascript; charset=utf-8")                       \
    X(uplot_js, "/vendor/uPlot.iife.min.js", "console/vendor/uPlot.iife.min.js",                        \
      "text/javascript; charset=utf-8")                                                                 \
    X(uplot_css, "/vendor/uPlot.min.css", "console/vendor/uPlot.min.css", "text/css; charset=utf-8")    \
    X(uplot_license, "/vendor/uPlot.LICENSE", "console/vendor/uPlot.LICENSE", "text/plain; charset=utf-8")

#endif
