/*
 * http.h -- /metrics, /queries and /healthz over HTTP (see http.c).
 */
#ifndef PGPERF_HTTP_H
#define PGPERF_HTTP_H

#include "proxy/proxy_types.h"

/* Listen when http_listen_port is set; false with a message on failure. */
bool http_start(struct pgperf *pp, char *err, size_t errlen);
void http_stop(struct pgperf *pp);

#endif
