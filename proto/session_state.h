/*
 * session_state.h -- the light classifier that tells, from one pass over a
 * statement's text, which session state it leaves on its server connection
 * (and which it clears).  Transaction pooling pins a client whose server
 * holds such state, so that no other client inherits it.  Settings that
 * PostgreSQL reports with ParameterStatus (client_encoding, DateStyle,
 * IntervalStyle, TimeZone, standard_conforming_strings, application_name)
 * are not session state here: the pooler restores them per client.
 */
#ifndef PGPERF_SESSION_STATE_H
#define PGPERF_SESSION_STATE_H

#include "lib/common.h"

#define SESSION_STATE_LIST(X)                                            \
	X(SESS_SET, 0, "SET")	      /* SET, set_config(..., false) */  \
	X(SESS_PREPARE, 1, "PREPARE") /* SQL-level PREPARE */            \
	X(SESS_LISTEN, 2, "LISTEN")                                      \
	X(SESS_TEMP, 3, "TEMP") /* temporary tables, views, sequences */ \
	X(SESS_HOLD_CURSOR, 4, "WITH HOLD")                              \
	X(SESS_ADVISORY_LOCK, 5, "advisory lock")                        \
	X(SESS_ROLE, 6, "SET ROLE") /* and SESSION AUTHORIZATION */      \
	X(SESS_LOAD, 7, "LOAD")

enum session_state_bit {
#define SESSION_STATE_ENUM(name, bit, text) name = 1u << (bit),
	SESSION_STATE_LIST(SESSION_STATE_ENUM)
#undef SESSION_STATE_ENUM
};

#define SESS_ALL 0xffu
/*
 * Not state but an event, returned alongside it: the text deallocates all
 * prepared statements (DEALLOCATE ALL, DISCARD ALL), pgperf's own on that
 * connection included.  Callers mask it off.
 */
#define SESS_EV_DEALLOCATE (1u << 16)
/* Also an event: RESET ALL or DISCARD ALL put every setting back. */
#define SESS_EV_RESET_ALL (1u << 17)
/* Also an event: the text sends a notification (NOTIFY, pg_notify()), so
 * a NotificationResponse naming its server may be this client's. */
#define SESS_EV_NOTIFY (1u << 18)

/*
 * Do none of the word tokens of `sql` name anything that creates or
 * clears session state?  Then no statement with the same words (the same
 * shape: literals aside) can change it either, and session_state_apply()
 * would return the state unchanged.
 */
bool session_words_inert(const char *sql, size_t len);
/*
 * Apply the statements of one Query (or Parse) text to `state`, statement
 * by statement: each may clear bits (DISCARD ALL, RESET ALL, UNLISTEN *,
 * DEALLOCATE ALL, ...) and set bits.  Returns the new state.  Text inside
 * strings, comments and quoted identifiers never matches.
 */
uint32_t session_state_apply(uint32_t state, const char *sql, size_t len);
/*
 * Is the text exactly one plain `SET [SESSION] name {=|TO} value[, ...]`
 * or `RESET name` of a setting that is not reported?  Then pgperf can
 * restore it per client instead of pinning.  Fills `name` (lower case) and
 * `value` (quotes removed, list items joined with ", "); `*reset` for RESET
 * and `TO DEFAULT`.  Anything unusual (LOCAL, quoted names, E'' strings,
 * several statements, ROLE, TRANSACTION, ...) returns false.
 */
bool session_simple_set(const char *sql, size_t len, char *name, size_t ncap,
			char *value, size_t vcap, bool *reset);
/* The name of the lowest bit set in `state`, for SHOW CLIENTS; "" if none. */
const char *session_state_reason(uint32_t state);
/* Is `name` (ASCII, any case) one of the parameters that follow the client? */
bool session_param_is_reported(const char *name, size_t len);
/*
 * An order-independent digest of the reported parameters in `params` (two
 * lists with the same reported values digest alike) and, in *unreported
 * when not NULL, how many entries are other settings.  Lets linking a
 * client to a server skip comparing values one by one when nothing
 * differs, the common case.
 */
struct kvlist;
uint64_t session_params_digest(const struct kvlist *params, int *unreported);

#endif
