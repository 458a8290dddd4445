/*
 * cache_entry.c -- what a result-cache entry is (see cache_entry.h).
 */
#include "cache/cache_entry.h"

#include "analyzer/analyzer.h"
#include "cache/cache.h"
#include "proto/prepared.h"
#include "proxy/proxy_types.h"
#include "lib/sqlscan.h"
#include "proto/wire.h"

#include <openssl/sha.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rules ---- */

bool cache_parse_rules(const char *s, struct cache_rule **out, int *n,
		       char *err, size_t errlen)
{
	struct cache_rule *r = NULL;
	int nr = 0;

	*out = NULL;
	*n = 0;
	while (s && *s) {
		char item[256], *eq, *colon;
		size_t len;
		struct cache_rule *nrules;

		s += strspn(s, " \t,");
		len = strcspn(s, " \t,");
		if (!len)
			break;
		if (len >= sizeof(item)) {
			snprintf(err, errlen, "cache_rules: rule too long");
			goto bad;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		s += len;
		colon = strchr(item, ':');
		eq = strchr(item, '=');
		if (!colon || !eq || eq < colon || eq == colon + 1) {
			snprintf(
				err, errlen,
				"cache_rules: \"%s\" is not table:NAME=TTL|never "
				"or fingerprint:HEX=TTL|never",
				item);
			goto bad;
		}
		if (!(nrules = pgp_realloc(r, (size_t)(nr + 1) * sizeof(*r))))
			goto nomem;
		r = nrules;
		memset(&r[nr], 0, sizeof(r[nr]));
		snprintf(r[nr].text, sizeof(r[nr].text), "%.63s", item);
		*colon = *eq = '\0';
		if (strcmp(item, "table") == 0) {
			r[nr].kind = CACHE_RULE_TABLE;
			r[nr].key = ana_table_hash(colon + 1);
		} else if (strcmp(item, "fingerprint") == 0) {
			char *end;

			r[nr].kind = CACHE_RULE_FP;
			r[nr].key = strtoull(colon + 1, &end, 16);
			if (*end) {
				snprintf(
					err, errlen,
					"cache_rules: \"%s\" is not a fingerprint "
					"(hexadecimal, as SHOW QUERIES prints it)",
					colon + 1);
				goto bad;
			}
		} else {
			snprintf(
				err, errlen,
				"cache_rules: \"%s\": rules are by table or by "
				"fingerprint",
				item);
			goto bad;
		}
		if (strcmp(eq + 1, "never") == 0) {
			r[nr].ttl = -1;
		} else {
			char *end;
			long ttl = strtol(eq + 1, &end, 10);

			if (*end || ttl <= 0 || ttl > 86400 * 30) {
				snprintf(
					err, errlen,
					"cache_rules: TTL \"%s\" must be seconds "
					"(1 to 2592000) or never",
					eq + 1);
				goto bad;
			}
			r[nr].ttl = (int)ttl;
		}
		nr++;
	}
	*out = r;
	*n = nr;
	return true;
nomem:
	snprintf(err, errlen, "out of memory");
bad:
	pgp_free(r);
	return false;
}

bool cache_rules_check(const char *rules, char *err, size_t errlen)
{
	struct cache_rule *r;
	int n;

	if (!cache_parse_rules(rules, &r, &n, err, errlen))
		return false;
	pgp_free(r);
	return true;
}

/* ---- keys and blobs ---- */

void cache_gen_key(char *buf, size_t cap, uint64_t db, uint64_t table)
{
	if (table)
		snprintf(buf, cap, "pgperf:g:%016llx",
			 (unsigned long long)pgp_mix64(db ^ pgp_mix64(table)));
	else
		snprintf(buf, cap, "pgperf:g:%016llx", (unsigned long long)db);
}

/*
 * The server a client's pool reaches, as entries and generations name it:
 * cache_namespace (for pgperfs in front of different clusters sharing one
 * Redis), host, port and database.  Two [databases] names for one
 * database share their entries and, above all, their invalidations.
 */
static void server_identity(struct wbuf *b, const struct client *cl)
{
	const struct pool_target *t = &cl->pool->target;

	wb_cstr(b, cl->c.pp->cfg->cache_namespace);
	wb_cstr(b, t->host);
	wb_u32(b, (uint32_t)t->port);
	wb_cstr(b, t->dbname);
}

uint64_t cache_db_hash(const struct client *cl)
{
	struct wbuf b;
	uint64_t h;

	wb_init(&b);
	server_identity(&b, cl);
	h = b.failed ? ana_value_hash(cl->database, strlen(cl->database))
		     : ana_value_hash(b.data, b.len);
	wb_free(&b);
	return h;
}

/* A setting of the session, its name folded to lower case. */
struct key_setting {
	char name[64];
	const char *value;
};

static int setting_cmp(const void *a, const void *b)
{
	return strcmp(((const struct key_setting *)a)->name,
		      ((const struct key_setting *)b)->name);
}

/* Add or replace `name` (folded) in set[0..*n); false when it is full. */
static bool put_setting(struct key_setting *set, int *n, int cap,
			const char *name, const char *value)
{
	char low[64];
	size_t i;

	for (i = 0; name[i] && i + 1 < sizeof(low); i++)
		low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z'
					? name[i] - 'A' + 'a'
					: name[i]);
	if (name[i])
		return false; /* a name this long: do not cache */
	low[i] = '\0';
	for (int k = 0; k < *n; k++)
		if (strcmp(set[k].name, low) == 0) {
			set[k].value = value;
			return true;
		}
	if (*n >= cap)
		return false;
	memcpy(set[*n].name, low, i + 1);
	set[*n].value = value;
	(*n)++;
	return true;
}

/* Sessions with more settings than this are not cached. */
#define KEY_SETTINGS_MAX 64

/*
 * Everything an entry depends on, byte for byte: the server it comes from,
 * the client's user, every setting the session carries - its startup
 * parameters (`options=-c` ones included), the reported values it was told
 * and its plain SETs, which win - with names folded to lower case as
 * PostgreSQL folds them and sorted, and the statement.  Any of them can
 * change a result (a row-level-security policy may read any setting).
 * NULL when the session carries too many settings to key on.
 */
char *cache_key_material(const struct client *cl, const char *sql, size_t len,
			 size_t *out_len)
{
	struct key_setting set[KEY_SETTINGS_MAX];
	int n = 0;
	struct wbuf b;
	char *m;

	for (int i = 0; i < cl->params.n; i++)
		if (!put_setting(set, &n, KEY_SETTINGS_MAX,
				 cl->params.items[i].name,
				 cl->params.items[i].value))
			return NULL;
	for (int i = 0; i < cl->sets.n; i++)
		if (!put_setting(set, &n, KEY_SETTINGS_MAX,
				 cl->sets.items[i].name,
				 cl->sets.items[i].value))
			return NULL;
	qsort(set, (size_t)n, sizeof(set[0]), setting_cmp);
	wb_init(&b);
	wb_bytes(&b, "pgperf2", 8);
	server_identity(&b, cl);
	wb_cstr(&b, cl->user);
	wb_cstr(&b, cl->pool->target.user);
	wb_u32(&b, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		wb_cstr(&b, set[i].name);
		wb_cstr(&b, set[i].value);
	}
	wb_bytes(&b, sql, len);
	if (b.failed) {
		wb_free(&b);
		return NULL;
	}
	*out_len = b.len;
	m = malloc(b.len);
	if (m)
		memcpy(m, b.data, b.len);
	wb_free(&b);
	return m;
}

void cache_entry_key(char *buf, const char *material, size_t mlen)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)material, mlen, d);
	memcpy(buf, "pgperf:e:", 9);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(buf + 9 + i * 2, 3, "%02x", d[i]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/*
 * Is a blob read back from Redis an entry for exactly this statement,
 * filled under these generations, holding well-formed replies?  Returns
 * the reply bytes (and their length) within the blob, or NULL.
 */
const uint8_t *cache_blob_check(const uint8_t *b, size_t n, uint8_t ngens,
				const char *material, size_t mlen_want,
				const uint64_t *gens, size_t *body_len)
{
	size_t hdr = 16, mlen, blen, off;
	uint8_t last = 0;

	if (n < hdr || memcmp(b, CACHE_BLOB_MAGIC, 4) != 0 ||
	    b[4] != CACHE_BLOB_VERSION || b[5] != ngens)
		return NULL;
	mlen = be32(b + 8);
	blen = be32(b + 12);
	/* each part within the blob, without overflow */
	if (mlen > n || blen > n || n != hdr + (size_t)ngens * 8 + mlen + blen)
		return NULL;
	for (int i = 0; i < ngens; i++)
		if (be64(b + hdr + (size_t)i * 8) != gens[i])
			return NULL; /* filled before a write */
	off = hdr + (size_t)ngens * 8;
	if (mlen != mlen_want || memcmp(b + off, material, mlen) != 0)
		return NULL; /* another statement or session (or a collision) */
	off += mlen;
	for (size_t p = off; p < n;) {
		uint32_t len;

		if (n - p < 5)
			return NULL;
		len = be32(b + p + 1);
		if (wire_check_header(WIRE_FROM_SERVER, b[p], len,
				      WIRE_MAX_MESSAGE_LEN) != PGP_OK ||
		    (b[p] != 'T' && b[p] != 'D' && b[p] != 'C') ||
		    n - p - 1 < len)
			return NULL;
		last = b[p];
		p += (size_t)len + 1;
	}
	if (last != 'C')
		return NULL;
	*body_len = blen;
	return b + off;
}

void cache_view_free(struct cache_request *v)
{
	pgp_free(v->sql);
	pgp_free(v->extra);
	memset(v, 0, sizeof(*v));
}

bool cache_view_query(struct evbuffer *in, uint32_t len,
		      struct cache_request *v)
{
	struct evbuffer_ptr ptr;

	if (len < 5 || len > CACHE_VIEW_MAX ||
	    evbuffer_get_length(in) < (size_t)len + 1 ||
	    !(v->sql = pgp_malloc(len - 4)))
		return false;
	evbuffer_ptr_set(in, &ptr, 5, EVBUFFER_PTR_SET);
	evbuffer_copyout_from(in, &ptr, v->sql, len - 4);
	v->sql_len = pgp_strnlen(v->sql, len - 4);
	v->total = (size_t)len + 1;
	return true;
}

bool cache_view_extended(struct client *cl, struct evbuffer *in,
			 struct cache_request *v)
{
	size_t avail = evbuffer_get_length(in),
	       n = avail < CACHE_VIEW_MAX ? avail : CACHE_VIEW_MAX;
	uint8_t *buf = pgp_malloc(n ? n : 1);
	size_t off = 0;
	int step = 0; /* P, B, D?, E, S */
	bool ok = false;

	if (!buf)
		return false;
	evbuffer_copyout(in, buf, n);
	while (off + 5 <= n) {
		uint8_t t = buf[off];
		uint32_t len = wire_get_u32(buf + off + 1);
		const uint8_t *body = buf + off + 5;
		struct wcursor c;
		const char *name, *q;

		if (len < 4 || off + 1 + len > n)
			break;
		wc_init(&c, body, len - 4);
		if (step == 0 && t == 'P') {
			size_t ql;

			if (!wc_cstr(&c, &name, NULL) || name[0] ||
			    !wc_cstr(&c, &q, &ql))
				break;
			v->sql_len = ql;
			if (!(v->sql = pgp_malloc(ql + 1)))
				break;
			memcpy(v->sql, q, ql + 1);
			v->parsed = true;
			step = 1;
		} else if (step == 1 && t == 'B') {
			const char *portal;

			if (!wc_cstr(&c, &portal, NULL) || portal[0] ||
			    !wc_cstr(&c, &name, NULL) || name[0])
				break;
			step = 2;
		} else if (step == 0 && t == 'B') {
			/* a named statement this client prepared before
			 * (transaction mode tracks them): its text and types */
			const char *portal;
			size_t nl;

			if (!wc_cstr(&c, &portal, NULL) || portal[0] ||
			    !wc_cstr(&c, &name, &nl) || !name[0] ||
			    !(v->named = prep_client_get(&cl->prep, name, nl)))
				break;
			v->sql_len = pgp_strnlen(v->named->body, v->named->len);
			if (!(v->sql = pgp_malloc(v->sql_len + 1)))
				break;
			memcpy(v->sql, v->named->body, v->sql_len);
			v->sql[v->sql_len] = '\0';
			step = 2;
		} else if (step == 2 && t == 'D') {
			uint8_t what;

			if (!wc_u8(&c, &what) || what != 'P' ||
			    !wc_cstr(&c, &name, NULL) || name[0])
				break;
			step = 3;
		} else if ((step == 2 || step == 3) && t == 'E') {
			uint32_t max;

			if (!wc_cstr(&c, &name, NULL) || name[0] ||
			    !wc_u32(&c, &max) || max != 0)
				break;
			step = 4;
		} else if (step == 4 && t == 'S') {
			v->total = off + 1 + len;
			ok = true;
			break;
		} else {
			break;
		}
		off += 1 + (size_t)len;
	}
	/* the key covers every byte of Parse (its parameter types), Bind
	 * (parameters, their formats, the result formats) and whether the
	 * portal was described */
	if (ok && (v->extra = pgp_malloc(v->total +
					 (v->named ? v->named->len : 0)))) {
		size_t o = 0;

		if (v->named) { /* the statement's text and parameter types */
			memcpy(v->extra, v->named->body, v->named->len);
			o = v->named->len;
		}
		memcpy(v->extra + o, buf, v->total);
		v->extra_len = o + v->total;
		v->extended = true;
	} else {
		ok = false;
	}
	pgp_free(buf);
	return ok;
}

/* A statement not parsed yet: only its first word says whether it may
 * write (and then to anything). */
uint8_t cache_guess_flags(const char *text, size_t len)
{
	static const char *const harmless[] = {
		"select",   "show",    "values",     "begin",	"start",
		"commit",   "end",     "rollback",   "abort",	"savepoint",
		"release",  "set",     "reset",	     "discard", "listen",
		"unlisten", "prepare", "deallocate", "fetch",	"close",
		"declare",
	};
	struct sql_scanner s;
	struct sql_token t;

	sqlscan_init(&s, text, len);
	while (sqlscan_next(&s, &t)) {
		if (t.kind == SQLTOK_COMMENT || t.kind == SQLTOK_PUNCT)
			continue;
		if (t.kind != SQLTOK_WORD)
			break;
		for (size_t i = 0; i < ARRAY_SIZE(harmless); i++)
			if (t.len == strlen(harmless[i]) &&
			    strncasecmp(t.p, harmless[i], t.len) == 0)
				return 0;
		break;
	}
	return ANA_SI_WRITES | ANA_SI_WRITES_ALL;
}
