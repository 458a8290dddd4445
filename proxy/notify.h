/*
 * notify.h -- transaction mode: a NotificationResponse names the backend
 * that sent it, a pid no client was told; pgperf rewrites it to the pid it
 * gave the client that sent the notification (when that client is known),
 * so that "is this from me / from that connection" checks work as they do
 * against PostgreSQL.  Session mode needs none of this: its clients are
 * told their backend's own pid.
 */
#ifndef PGPERF_NOTIFY_H
#define PGPERF_NOTIFY_H

#include "proxy/proxy_types.h"

/* The linked client sent NOTIFY or pg_notify() through `sv`. */
void notify_sent(struct server *sv);
/* A transaction on `sv` ended (ReadyForQuery 'I'): forget a notifier whose
 * notifications can no longer be told from this one's. */
void notify_xact_ended(struct server *sv);
/*
 * The pid to tell clients for a notification sent by backend `pid`, as
 * seen by a server of `pool`: the pid pgperf gave the client that sent it,
 * or `pid` itself when the sender is not known.
 */
uint32_t notify_sender_pid(const struct pool *pool, uint32_t pid);

#endif
