/*
 * session_state.c -- recognise statements that create or clear session
 * state, using the sqlscan tokenizer: the leading keywords of each statement
 * and a few function names anywhere in it.  Deliberately conservative: when
 * in doubt it reports state, which costs pinning, never correctness.
 */
#include "proto/session_state.h"

#include "lib/kv.h"
#include "lib/sqlscan.h"

#include <string.h>

static const char *const reported_params[] = {
	"client_encoding",
	"datestyle",
	"intervalstyle",
	"timezone",
	"standard_conforming_strings",
	"application_name",
};

bool session_param_is_reported(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(reported_params); i++) {
		const char *r = reported_params[i];
		size_t j;

		if (strlen(r) != len)
			continue;
		for (j = 0; j < len; j++) {
			char c = name[j];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != r[j])
				break;
		}
		if (j == len)
			return true;
	}
	return false;
}

uint64_t session_params_digest(const struct kvlist *params, int *unreported)
{
	uint64_t d = 0;
	int other = 0;

	for (int i = 0; i < params->n; i++) {
		const struct kv *p = &params->items[i];

		if (!session_param_is_reported(p->name, strlen(p->name))) {
			other++;
			continue;
		}
		/* a sum of per-entry hashes: the order does not matter */
		d += pgp_mix64(pgp_hash_bytes(p->name, strlen(p->name)) * 31 +
			       pgp_hash_bytes(p->value, strlen(p->value)));
	}
	if (unreported)
		*unreported = other;
	return d;
}

const char *session_state_reason(uint32_t state)
{
#define SESSION_STATE_NAME(name, bit, text) \
	if (state & name)                   \
		return text;
	SESSION_STATE_LIST(SESSION_STATE_NAME)
#undef SESSION_STATE_NAME
	return "";
}

/* What one statement does to the state. */
struct effect {
	uint32_t set;
	uint32_t clear;
	bool on_commit_drop; /* CREATE TEMP ... ON COMMIT DROP */
};

/* Is the token a setting name that follows the client? */
static bool token_is_reported(const struct sql_token *t)
{
	if (t->kind == SQLTOK_WORD)
		return session_param_is_reported(t->p, t->len);
	if (t->kind == SQLTOK_QIDENT && t->len >= 2)
		return session_param_is_reported(t->p + 1, t->len - 2);
	if (t->kind == SQLTOK_STRING && t->len >= 2 && t->p[0] == '\'')
		return session_param_is_reported(t->p + 1, t->len - 2);
	return false;
}

/* SET ... after the SET keyword (`t` is the next token). */
static void classify_set(struct sql_scanner *s, struct sql_token *t,
			 struct effect *e)
{
	if (sqlscan_is_word(t, "local") || sqlscan_is_word(t, "transaction") ||
	    sqlscan_is_word(t, "constraints"))
		return; /* transaction-scoped */
	if (sqlscan_is_word(t, "session")) {
		if (!sqlscan_next_code(s, t))
			return;
		if (sqlscan_is_word(t, "authorization")) {
			e->set |= SESS_ROLE;
			return;
		}
		if (sqlscan_is_word(t, "characteristics")) {
			e->set |= SESS_SET;
			return;
		}
	}
	if (sqlscan_is_word(t, "role")) {
		e->set |= SESS_ROLE;
		return;
	}
	if (sqlscan_is_word(t, "time") || sqlscan_is_word(t, "names"))
		return; /* TimeZone, client_encoding: reported */
	if (token_is_reported(t))
		return;
	e->set |= SESS_SET;
}

/*
 * set_config(name, value, is_local): `t` is the "(" after the name.  Only
 * a literal `true` third argument, or a reported setting, creates no state.
 */
static void classify_set_config(struct sql_scanner *s, struct sql_token *t,
				struct effect *e)
{
	int depth = 1, arg = 0;
	bool first = true, reported = false, local = false;

	while (depth > 0 && sqlscan_next_code(s, t)) {
		if (sqlscan_is(t, "(")) {
			depth++;
		} else if (sqlscan_is(t, ")")) {
			depth--;
		} else if (depth == 1 && sqlscan_is(t, ",")) {
			arg++;
			first = true;
			continue;
		} else if (depth == 1 && first) {
			if (arg == 0)
				reported = token_is_reported(t);
			else if (arg == 2)
				local = sqlscan_is_word(t, "true");
		}
		first = false;
	}
	if (!reported && !local)
		e->set |= SESS_SET;
}

/* Classify one statement; returns false at the end of the text. */
static bool classify_statement(struct sql_scanner *s, struct effect *e)
{
	struct sql_token t, prev = {SQLTOK_PUNCT, ";", 1};
	int depth = 0, words = 0;
	bool create = false, declare = false, select_into = false;
	bool any = false;

	while (sqlscan_next_code(s, &t)) {
		any = true;
		if (depth == 0 && sqlscan_is(&t, ";"))
			return true;
		if (sqlscan_is(&t, "(")) {
			depth++;
			/* function calls anywhere in the statement */
			if (sqlscan_is_word(&prev, "set_config")) {
				classify_set_config(s, &t, e);
				depth--;
			} else if (sqlscan_is_word(&prev, "pg_advisory_lock") ||
				   sqlscan_is_word(&prev,
						   "pg_advisory_lock_shared") ||
				   sqlscan_is_word(&prev,
						   "pg_try_advisory_lock") ||
				   sqlscan_is_word(
					   &prev,
					   "pg_try_advisory_lock_shared")) {
				e->set |= SESS_ADVISORY_LOCK;
			} else if (sqlscan_is_word(&prev,
						   "pg_advisory_unlock_all")) {
				e->clear |= SESS_ADVISORY_LOCK;
			} else if (sqlscan_is_word(&prev, "pg_notify")) {
				e->set |= SESS_EV_NOTIFY;
			}
			prev = t;
			continue;
		}
		if (sqlscan_is(&t, ")")) {
			if (depth > 0)
				depth--;
			prev = t;
			continue;
		}
		if (words++ == 0 && t.kind == SQLTOK_WORD) {
			/* the leading keyword decides most cases */
			struct sql_token n = {SQLTOK_WORD, "", 0};

			if (sqlscan_is_word(&t, "set")) {
				if (sqlscan_next_code(s, &n))
					classify_set(s, &n, e);
			} else if (sqlscan_is_word(&t, "reset")) {
				if (sqlscan_next_code(s, &n)) {
					if (sqlscan_is_word(&n, "all")) {
						e->clear |=
							SESS_SET | SESS_ROLE;
						e->set |= SESS_EV_RESET_ALL;
					} else if (sqlscan_is_word(&n,
								   "role") ||
						   sqlscan_is_word(&n,
								   "session"))
						e->clear |= SESS_ROLE;
				}
			} else if (sqlscan_is_word(&t, "prepare")) {
				if (sqlscan_next_code(s, &n) &&
				    !sqlscan_is_word(&n, "transaction"))
					e->set |= SESS_PREPARE;
			} else if (sqlscan_is_word(&t, "deallocate")) {
				if (sqlscan_next_code(s, &n) &&
				    sqlscan_is_word(&n, "prepare"))
					(void)sqlscan_next_code(s, &n);
				if (sqlscan_is_word(&n, "all")) {
					e->clear |= SESS_PREPARE;
					e->set |= SESS_EV_DEALLOCATE;
				}
			} else if (sqlscan_is_word(&t, "listen")) {
				e->set |= SESS_LISTEN;
			} else if (sqlscan_is_word(&t, "notify")) {
				e->set |= SESS_EV_NOTIFY;
			} else if (sqlscan_is_word(&t, "unlisten")) {
				if (sqlscan_next_code(s, &n) &&
				    sqlscan_is(&n, "*"))
					e->clear |= SESS_LISTEN;
			} else if (sqlscan_is_word(&t, "discard")) {
				if (sqlscan_next_code(s, &n)) {
					if (sqlscan_is_word(&n, "all")) {
						e->clear |= SESS_ALL;
						e->set |= SESS_EV_DEALLOCATE |
							  SESS_EV_RESET_ALL;
					} else if (sqlscan_is_word(&n,
								   "temp") ||
						   sqlscan_is_word(&n,
								   "temporary"))
						e->clear |= SESS_TEMP;
				}
			} else if (sqlscan_is_word(&t, "close")) {
				if (sqlscan_next_code(s, &n) &&
				    sqlscan_is_word(&n, "all"))
					e->clear |= SESS_HOLD_CURSOR;
			} else if (sqlscan_is_word(&t, "load")) {
				e->set |= SESS_LOAD;
			} else if (sqlscan_is_word(&t, "create")) {
				create = true;
			} else if (sqlscan_is_word(&t, "declare")) {
				declare = true;
			} else if (sqlscan_is_word(&t, "select") ||
				   sqlscan_is_word(&t, "with")) {
				select_into = true;
			}
			prev = t;
			if (sqlscan_is(&n, ";") && depth == 0)
				return true;
			continue;
		}
		/* TEMP as a modifier (CREATE [OR REPLACE] [GLOBAL|LOCAL] TEMP),
		 * not as a name (CREATE TABLE temp ...) */
		if (create && words <= 5 &&
		    (sqlscan_is_word(&t, "temp") ||
		     sqlscan_is_word(&t, "temporary")) &&
		    (sqlscan_is_word(&prev, "create") ||
		     sqlscan_is_word(&prev, "global") ||
		     sqlscan_is_word(&prev, "local") ||
		     sqlscan_is_word(&prev, "replace")))
			e->set |= SESS_TEMP;
		if (create && sqlscan_is_word(&t, "drop") &&
		    sqlscan_is_word(&prev, "commit"))
			e->on_commit_drop = true;
		if (declare && sqlscan_is_word(&t, "hold") &&
		    sqlscan_is_word(&prev, "with"))
			e->set |= SESS_HOLD_CURSOR;
		if (select_into && depth == 0 &&
		    sqlscan_is_word(&prev, "into") &&
		    (sqlscan_is_word(&t, "temp") ||
		     sqlscan_is_word(&t, "temporary")))
			e->set |= SESS_TEMP;
		prev = t;
	}
	return any;
}

/* Does p[0..n) start with `lower`, ignoring ASCII case? */
static inline bool ci_prefix(const char *p, size_t n, const char *lower)
{
	for (size_t j = 1; lower[j]; j++) /* p[0] matched already */
		if (j >= n || (p[j] | 0x20) != lower[j])
			return false;
	return true;
}

/*
 * Could `sql` change session state at all?  Every effect the classifier
 * finds is triggered by a word token that contains one of these (set,
 * reset, set_config; pg_advisory_*; prepare; deallocate; listen,
 * unlisten; discard; close; load; TEMP and TEMPORARY after CREATE or
 * INTO; HOLD after DECLARE ... WITH; notify, pg_notify), so text without
 * any of them,
 * anywhere and in any case, cannot: most statements skip the tokenizer.
 */
static bool might_change_state(const char *sql, size_t len)
{
	/* for each byte, the words that start with it (either case) */
	static const char *const by_first[256][2] = {
		['s'] = {"set"},
		['S'] = {"set"},
		['a'] = {"advisory"},
		['A'] = {"advisory"},
		['p'] = {"prepare"},
		['P'] = {"prepare"},
		['d'] = {"deallocate", "discard"},
		['D'] = {"deallocate", "discard"},
		['l'] = {"listen", "load"},
		['L'] = {"listen", "load"},
		['c'] = {"close"},
		['C'] = {"close"},
		['t'] = {"temp"},
		['T'] = {"temp"},
		['h'] = {"hold"},
		['H'] = {"hold"},
		['n'] = {"notify"},
		['N'] = {"notify"},
	};

	for (size_t i = 0; i + 3 <= len; i++) {
		const char *const *w = by_first[(unsigned char)sql[i]];

		if (!w[0])
			continue; /* most bytes: one load and a branch */
		if (ci_prefix(sql + i, len - i, w[0]) ||
		    (w[1] && ci_prefix(sql + i, len - i, w[1])))
			return true;
	}
	return false;
}

bool session_words_inert(const char *sql, size_t len)
{
	struct sql_scanner s;
	struct sql_token t;

	sqlscan_init(&s, sql, len);
	while (sqlscan_next(&s, &t))
		if (t.kind == SQLTOK_WORD && might_change_state(t.p, t.len))
			return false;
	return true;
}

uint32_t session_state_apply(uint32_t state, const char *sql, size_t len)
{
	struct sql_scanner s;

	if (!might_change_state(sql, len))
		return state;
	sqlscan_init(&s, sql, len);
	for (;;) {
		struct effect e = {0, 0, false};
		bool more = classify_statement(&s, &e);

		if (e.on_commit_drop)
			e.set &= ~SESS_TEMP;
		state = (state & ~e.clear) | e.set;
		if (!more || s.p >= s.end)
			break;
	}
	return state;
}

/* Append a token's text to buf[*at]; false when it does not fit. */
static bool put_token(char *buf, size_t cap, size_t *at,
		      const struct sql_token *t)
{
	long n = sqlscan_text(t, buf + *at, cap - *at);

	if (n < 0)
		return false;
	*at += (size_t)n;
	return true;
}

/* Append literal text to buf[*at]; false when it does not fit. */
static bool put(char *buf, size_t cap, size_t *at, const char *p, size_t n)
{
	if (*at + n + 1 > cap)
		return false;
	memcpy(buf + *at, p, n);
	*at += n;
	buf[*at] = '\0';
	return true;
}

/* Is the statement over: end of text, or a last ";"? `t` is unread. */
static bool at_end(struct sql_scanner *s, struct sql_token *t)
{
	if (!sqlscan_next_code(s, t))
		return true;
	return sqlscan_is(t, ";") && !sqlscan_next_code(s, t);
}

bool session_simple_set(const char *sql, size_t len, char *name, size_t ncap,
			char *value, size_t vcap, bool *reset)
{
	struct sql_scanner s;
	struct sql_token t;
	size_t nl = 0, vl = 0;
	bool is_reset, more;

	sqlscan_init(&s, sql, len);
	if (!sqlscan_next_code(&s, &t))
		return false;
	if (sqlscan_is_word(&t, "reset"))
		is_reset = true;
	else if (sqlscan_is_word(&t, "set"))
		is_reset = false;
	else
		return false;
	if (!sqlscan_next_code(&s, &t))
		return false;
	if (!is_reset && sqlscan_is_word(&t, "session") &&
	    !sqlscan_next_code(&s, &t))
		return false;
	/* name, or class.name */
	name[0] = '\0';
	for (;;) {
		if (t.kind != SQLTOK_WORD || !put_token(name, ncap, &nl, &t))
			return false;
		if (!sqlscan_next_code(&s, &t)) {
			more = false;
			break;
		}
		more = true;
		if (!sqlscan_is(&t, ".") || !put(name, ncap, &nl, ".", 1) ||
		    !sqlscan_next_code(&s, &t))
			break;
	}
	if (session_param_is_reported(name, nl) || strcmp(name, "all") == 0 ||
	    strcmp(name, "role") == 0 || strcmp(name, "session") == 0 ||
	    strcmp(name, "local") == 0 || strcmp(name, "time") == 0 ||
	    strcmp(name, "names") == 0 || strcmp(name, "constraints") == 0 ||
	    strcmp(name, "session_authorization") == 0 ||
	    strncmp(name, "transaction", 11) == 0 ||
	    strcmp(name, "xmloption") == 0)
		return false;
	value[0] = '\0';
	*reset = is_reset;
	if (is_reset)
		return !more || (sqlscan_is(&t, ";") && at_end(&s, &t));
	if (!more || !(sqlscan_is(&t, "=") || sqlscan_is_word(&t, "to")))
		return false;
	for (bool first = true;; first = false) {
		if (!sqlscan_next_code(&s, &t))
			return false;
		if (first && sqlscan_is_word(&t, "default")) {
			*reset = true;
			return at_end(&s, &t);
		}
		if (!first && !put(value, vcap, &vl, ", ", 2))
			return false;
		if (t.kind == SQLTOK_OP &&
		    (sqlscan_is(&t, "-") || sqlscan_is(&t, "+"))) {
			if (!put(value, vcap, &vl, t.p, 1) ||
			    !sqlscan_next_code(&s, &t) ||
			    t.kind != SQLTOK_NUMBER)
				return false;
		}
		/* words, numbers and plain strings ('' for a quote); a
		 * backslash in a string is left to the classifier */
		if (t.kind == SQLTOK_QIDENT ||
		    (t.kind == SQLTOK_STRING && memchr(t.p, '\\', t.len)) ||
		    !put_token(value, vcap, &vl, &t))
			return false;
		if (!sqlscan_next_code(&s, &t))
			return true;
		if (sqlscan_is(&t, ";"))
			return !sqlscan_next_code(&s, &t);
		if (!sqlscan_is(&t, ","))
			return false;
	}
}
