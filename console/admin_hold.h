/*
 * admin_hold.h -- console commands that hold traffic back, with PgBouncer's
 * names and meanings:
 *
 *   PAUSE [db]       no new server work; servers close as they are released
 *                    (transaction mode: at the end of their transactions;
 *                    session mode: when their clients leave); the command
 *                    answers once they are all gone.  New queries wait.
 *   SUSPEND          every relaying connection stops reading; answers once
 *                    every output buffer is flushed.
 *   RESUME [db]      undoes PAUSE, SUSPEND and KILL.
 *   KILL db          closes the database's clients (57P01) and servers now;
 *                    new clients wait for RESUME.
 *   DISABLE db       new logins to it are refused (55000); ENABLE db undoes.
 *   RECONNECT [db]   servers close when next released (idle ones now), new
 *                    ones connect as needed; answers at once.
 *   WAIT_CLOSE [db]  answers once no server waits to be closed (after
 *                    RECONNECT or a RELOAD that moved a database).
 *
 * SIGUSR1 pauses everything (without anyone to answer), SIGUSR2 resumes.
 */
#ifndef PGPERF_ADMIN_HOLD_H
#define PGPERF_ADMIN_HOLD_H

#include "proxy/proxy_types.h"

enum admin_hold_result {
	ADMIN_HOLD_NOT_MINE, /* not one of these commands */
	ADMIN_HOLD_DONE,     /* the reply is in `out` */
	ADMIN_HOLD_WAITING,  /* answered later; the client reads nothing more */
	ADMIN_HOLD_CLOSED,   /* the client was closed */
};

/* Is `sql` (trimmed) one of these commands?  They need an admin user. */
bool admin_hold_is_command(const char *sql);
enum admin_hold_result admin_hold_command(struct client *cl, const char *sql,
					  struct wbuf *out);
/* Answer the waiting commands whose condition holds (the reaper calls it
 * while any wait). */
void admin_hold_check(struct pgperf *pp);
/* The client is being freed: it waits no more. */
void admin_hold_forget(struct client *cl);
/* SIGUSR1 (pause = true) and SIGUSR2. */
void admin_hold_signal(struct pgperf *pp, bool pause);
/* For SHOW DATABASES. */
bool admin_hold_db_paused(const struct pgperf *pp, const char *db);
bool admin_hold_db_disabled(const struct pgperf *pp, const char *db);

#endif
