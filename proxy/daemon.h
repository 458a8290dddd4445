/*
 * daemon.h -- the daemon's life: listeners, signals, reload, drain and the
 * reaper that frees closed connections outside their own callbacks.
 */
#ifndef PGPERF_DAEMON_H
#define PGPERF_DAEMON_H

#include "proxy/proxy_types.h"

/*
 * Create the daemon around a loaded config (ownership passes in).
 * NULL with a message in err on failure.
 */
struct pgperf *daemon_new(struct config *cfg, char *err, size_t errlen);
/* Bind the listeners; false with a message in err. */
bool daemon_listen(struct pgperf *pp, char *err, size_t errlen) WARN_UNUSED;
/* Run the event loop until exit; returns the exit code. */
int daemon_run(struct pgperf *pp);
void daemon_free(struct pgperf *pp);
/* Re-read the config; on error the old snapshot stays and err says why. */
bool daemon_reload(struct pgperf *pp, char *err, size_t errlen);
/* Ask the reaper to run after the current callbacks return. */
void daemon_schedule_reap(struct pgperf *pp);
/* SIGTERM: stop accepting, close clients at their idle points, then exit. */
void daemon_drain(struct pgperf *pp);
/* SIGINT / SHUTDOWN: close everything and exit now. */
void daemon_stop_now(struct pgperf *pp);
/* Every pool hands out servers to its waiting clients again (after RESUME
 * or RECONNECT), from the reaper. */
void daemon_dispatch_all(struct pgperf *pp);
/* Load config from path/upstream/listen the way the command line does. */
struct config *daemon_build_config(const char *path, const char *upstream,
				   const char *listen, char *err,
				   size_t errlen);

#endif
