/*
 * notify.c -- who sent a notification, in transaction mode (notify.h).
 *
 * A server connection serves many clients in turn, so the pid in a
 * NotificationResponse (the sending backend's) says which server sent it,
 * not which client.  Each server remembers the client that last sent NOTIFY
 * or pg_notify() through it.  The notification itself reaches the listener
 * later, when the listening backend is between transactions, possibly after
 * the server went on to serve someone else: the notifier is therefore kept
 * until a transaction of another client ends there without notifying.
 * Then it is forgotten, so that a notification raised by a trigger of that
 * later client is not told as the earlier one's: an unknown sender keeps
 * the backend's pid, which no client holds.
 */
#include "proxy/notify.h"

#include <string.h>

void notify_sent(struct server *sv)
{
	if (!sv->client)
		return;
	sv->notify_pid = sv->client->cancel_pid;
	sv->notify_sent = true;
}

void notify_xact_ended(struct server *sv)
{
	if (!sv->notify_sent && sv->client &&
	    sv->client->cancel_pid != sv->notify_pid)
		sv->notify_pid = 0;
	sv->notify_sent = false;
}

/* Do two pools reach the same PostgreSQL database (pids are per cluster)? */
static bool same_target(const struct pool_target *a,
			const struct pool_target *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0 &&
	       strcmp(a->dbname, b->dbname) == 0;
}

static uint32_t find_in(const struct list *servers, uint32_t pid)
{
	const struct list *pos;

	list_for_each(pos, servers) {
		const struct server *sv =
			list_entry(pos, const struct server, node);

		if (sv->backend_pid == pid)
			return sv->notify_pid ? sv->notify_pid : pid;
	}
	return 0;
}

uint32_t notify_sender_pid(const struct pool *pool, uint32_t pid)
{
	const struct list *pos;

	/* notifications are rare: a walk over the servers is cheap enough.
	 * The listener's own pool first, then the others on its database
	 * (another user's clients notify on the same channels). */
	for (int pass = 0; pass < 2; pass++) {
		list_for_each(pos, &pool->pp->pools) {
			const struct pool *p =
				list_entry(pos, const struct pool, node);
			uint32_t got;

			if ((pass == 0) != (p == pool) ||
			    !same_target(&p->target, &pool->target))
				continue;
			if ((got = find_in(&p->active_servers, pid)) ||
			    (got = find_in(&p->idle_servers, pid)) ||
			    (got = find_in(&p->tested_servers, pid)))
				return got;
		}
	}
	return pid;
}
