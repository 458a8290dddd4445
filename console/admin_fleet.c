/*
 * admin_fleet.c -- the admin console's view of the fleet (fleet/fleet.h):
 * SHOW FLEET lists the processes, SHOW FLEET QUERIES | STATS | POOLS |
 * FINDINGS | EXPORT | REPORT show what they publish, merged.  Each row
 * says how many processes it covers and which of those are stale.
 */
#include "admin_int.h"

#include "console/report.h"
#include "fleet/fleet.h"
#include "lib/clock.h"

#include <stdio.h>
#include <string.h>

/* SHOW FLEET: the members, as their records say. */
static void show_members(const struct fleet_view *v, struct wbuf *out)
{
	static const char *const cols[] = {
		"id",	   "peer_id",	"host",	 "pid",	  "listen",
		"started", "published", "age_s", "stale", "self"};
	struct admin_result r;
	int64_t now = pgp_wall_us();

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	for (size_t i = 0; i < v->nmembers; i++) {
		const struct fleet_member *m = &v->members[i];
		char b[6][32];
		const char *row[10];

		row[0] = m->id;
		row[1] = admin_fmt_int(b[0], m->peer_id);
		row[2] = m->host;
		row[3] = admin_fmt_int(b[1], m->pid);
		row[4] = m->listen;
		row[5] = admin_fmt_time(b[2], m->started_us);
		row[6] = admin_fmt_time(b[3], m->published_us);
		row[7] = admin_fmt_int(
			b[4], (long long)((now - m->published_us) / 1000000));
		row[8] = fleet_member_stale(m, now) ? "yes" : "no";
		row[9] = m->self ? "yes" : "no";
		admin_result_row(&r, row);
	}
	admin_result_end(&r, "SHOW");
}

/* SHOW FLEET POOLS: each (database, user) summed over the members. */
static void show_pools(const struct fleet_view *v, struct wbuf *out)
{
	static const char *const cols[] = {
		"database",   "user",	   "cl_active", "cl_waiting",
		"sv_active",  "sv_idle",   "sv_login",	"maxwait",
		"maxwait_us", "pool_mode", "processes", "stale"};
	struct admin_result r;

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	for (size_t i = 0; i < v->npools; i++) {
		const struct fleet_pool *p = &v->pools[i];
		char b[8][32], stale[512];
		const char *row[12];

		row[0] = p->database;
		row[1] = p->user;
		row[2] = admin_fmt_int(b[0], (long long)p->cl_active);
		row[3] = admin_fmt_int(b[1], (long long)p->cl_waiting);
		row[4] = admin_fmt_int(b[2], (long long)p->sv_active);
		row[5] = admin_fmt_int(b[3], (long long)p->sv_idle);
		row[6] = admin_fmt_int(b[4], (long long)p->sv_login);
		row[7] = admin_fmt_int(b[5],
				       (long long)(p->maxwait_us / 1000000));
		row[8] = admin_fmt_int(b[6],
				       (long long)(p->maxwait_us % 1000000));
		row[9] = p->mode;
		row[10] = admin_fmt_int(b[7], fleet_count(v, p->members));
		fleet_stale_ids(v, p->members, pgp_wall_us(), stale,
				sizeof(stale));
		row[11] = stale;
		admin_result_row(&r, row);
	}
	admin_result_end(&r, "SHOW");
}

/* SHOW FLEET STATS: SHOW STATS' columns per database, over the fleet. */
static void show_stats(const struct fleet_view *v, struct wbuf *out)
{
	static const char *const cols[] = {"database",
					   "total_xact_count",
					   "total_query_count",
					   "total_received",
					   "total_sent",
					   "total_xact_time",
					   "total_query_time",
					   "total_wait_time",
					   "avg_xact_count",
					   "avg_query_count",
					   "avg_recv",
					   "avg_sent",
					   "avg_xact_time",
					   "avg_query_time",
					   "avg_wait_time",
					   "processes",
					   "stale"};
	struct admin_result r;

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	for (size_t i = 0; i < v->npools; i++) {
		struct fleet_pool t;
		char b[15][32], stale[512];
		const char *row[17];
		bool first = true;

		for (size_t k = 0; k < i; k++)
			if (strcmp(v->pools[k].database,
				   v->pools[i].database) == 0)
				first = false;
		if (!first)
			continue;
		memset(&t, 0, sizeof(t));
		for (size_t k = i; k < v->npools; k++)
			if (strcmp(v->pools[k].database,
				   v->pools[i].database) == 0)
				fleet_pool_add(&t, &v->pools[k]);
		row[0] = v->pools[i].database;
		row[1] = admin_fmt_int(b[0], (long long)t.xact_count);
		row[2] = admin_fmt_int(b[1], (long long)t.query_count);
		row[3] = admin_fmt_int(b[2], (long long)t.recv);
		row[4] = admin_fmt_int(b[3], (long long)t.sent);
		row[5] = admin_fmt_int(b[4], (long long)t.xact_us);
		row[6] = admin_fmt_int(b[5], (long long)t.query_us);
		row[7] = admin_fmt_int(b[6], (long long)t.wait_us);
		row[8] = admin_fmt_int(b[7], (long long)t.avg_xact_count);
		row[9] = admin_fmt_int(b[8], (long long)t.avg_query_count);
		row[10] = admin_fmt_int(b[9], (long long)t.avg_recv);
		row[11] = admin_fmt_int(b[10], (long long)t.avg_sent);
		row[12] = admin_fmt_int(b[11], (long long)t.avg_xact_us);
		row[13] = admin_fmt_int(b[12], (long long)t.avg_query_us);
		row[14] = admin_fmt_int(b[13], (long long)t.avg_wait_us);
		row[15] = admin_fmt_int(b[14], fleet_count(v, t.members));
		fleet_stale_ids(v, t.members, pgp_wall_us(), stale,
				sizeof(stale));
		row[16] = stale;
		admin_result_row(&r, row);
	}
	admin_result_end(&r, "SHOW");
}

bool admin_fleet_command(struct pgperf *pp, const char *sql, struct wbuf *out)
{
	static const char *const subs[] = {
		"show fleet",	    "show fleet queries",  "show fleet stats",
		"show fleet pools", "show fleet findings", "show fleet export",
		"show fleet report"};
	struct fleet_view *v;
	struct report_src s;
	char state[64], msg[256];
	size_t k;

	for (k = 0; k < ARRAY_SIZE(subs); k++)
		if (admin_cmd_is(sql, subs[k]))
			break;
	if (k == ARRAY_SIZE(subs))
		return false;
	if (!pp->fleet) {
		wire_build_error(out, "ERROR", "55000",
				 "the fleet view is off: it needs redis_url "
				 "(and fleet = on)");
		return true;
	}
	if (!(v = fleet_view_get(pp->fleet))) {
		fleet_redis_state(pp->fleet, state, sizeof(state));
		snprintf(msg, sizeof(msg),
			 "no fleet view yet: the first is merged a moment "
			 "after start, then every stats_period (Redis: %s)",
			 state);
		wire_build_error(out, "ERROR", "55000", msg);
		return true;
	}
	s = report_src_fleet(pp, v);
	switch (k) {
	case 0:
		show_members(v, out);
		break;
	case 1:
		admin_show_queries_of(&s, out);
		break;
	case 2:
		show_stats(v, out);
		break;
	case 3:
		show_pools(v, out);
		break;
	case 4:
		admin_show_findings_of(&s, out);
		break;
	case 5:
		admin_show_export_of(&s, out);
		break;
	default:
		admin_show_report_of(&s, out);
		break;
	}
	fleet_view_put(v);
	return true;
}
