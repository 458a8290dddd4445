/*
 * wire.h -- the sans-I/O PostgreSQL v3 protocol layer: a bounds-checked
 * reader for untrusted bytes, a growable message builder, framing checks and
 * the builders for the messages pgperf itself sends.  Nothing here touches a
 * socket or libevent, so all of it is unit-tested and fuzzed directly.
 */
#ifndef PGPERF_WIRE_H
#define PGPERF_WIRE_H

#include "lib/common.h"

/* Protocol codes carried in the first word of an untyped startup message. */
#define WIRE_PROTO_V3 196608u /* 3.0 */
#define WIRE_CANCEL_CODE 80877102u
#define WIRE_SSL_CODE 80877103u
#define WIRE_GSSENC_CODE 80877104u

/* PostgreSQL itself refuses startup packets larger than this. */
#define WIRE_MAX_STARTUP_LEN 10000u
/* The hard upper bound of any message the protocol can carry (1 GiB - 1). */
#define WIRE_MAX_MESSAGE_LEN 0x3fffffffu

/* Authentication request codes (the int32 after 'R'). */
enum wire_auth_code {
	WIRE_AUTH_OK = 0,
	WIRE_AUTH_CLEARTEXT = 3,
	WIRE_AUTH_MD5 = 5,
	WIRE_AUTH_SASL = 10,
	WIRE_AUTH_SASL_CONTINUE = 11,
	WIRE_AUTH_SASL_FINAL = 12,
};

/* Read-only cursor over untrusted bytes.  Every getter returns false, and
 * consumes nothing, when the bytes it needs are not there. */
struct wcursor {
	const uint8_t *p; /* borrowed */
	size_t len;
	size_t pos;
};

static inline void wc_init(struct wcursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->pos = 0;
}

static inline size_t wc_remaining(const struct wcursor *c)
{
	return c->len - c->pos;
}

/* Inline: the relay reads RowDescriptions and DataRows through these. */
static inline WARN_UNUSED bool wc_u8(struct wcursor *c, uint8_t *out)
{
	if (wc_remaining(c) < 1)
		return false;
	*out = c->p[c->pos++];
	return true;
}

static inline WARN_UNUSED bool wc_u16(struct wcursor *c, uint16_t *out)
{
	if (wc_remaining(c) < 2)
		return false;
	*out = (uint16_t)((c->p[c->pos] << 8) | c->p[c->pos + 1]);
	c->pos += 2;
	return true;
}

static inline WARN_UNUSED bool wc_u32(struct wcursor *c, uint32_t *out)
{
	if (wc_remaining(c) < 4)
		return false;
	*out = (uint32_t)c->p[c->pos] << 24 | (uint32_t)c->p[c->pos + 1] << 16 |
	       (uint32_t)c->p[c->pos + 2] << 8 | (uint32_t)c->p[c->pos + 3];
	c->pos += 4;
	return true;
}

static inline WARN_UNUSED bool wc_i32(struct wcursor *c, int32_t *out)
{
	uint32_t v;

	if (!wc_u32(c, &v))
		return false;
	*out = (int32_t)v;
	return true;
}

/* A NUL-terminated string lying entirely inside the cursor. */
static inline WARN_UNUSED bool wc_cstr(struct wcursor *c, const char **out,
				       size_t *len)
{
	const uint8_t *start = c->p + c->pos;
	const uint8_t *nul = memchr(start, '\0', wc_remaining(c));

	if (!nul)
		return false;
	*out = (const char *)start;
	if (len)
		*len = (size_t)(nul - start);
	c->pos += (size_t)(nul - start) + 1;
	return true;
}

static inline WARN_UNUSED bool wc_bytes(struct wcursor *c, size_t n,
					const uint8_t **out)
{
	if (wc_remaining(c) < n)
		return false;
	*out = c->p + c->pos;
	c->pos += n;
	return true;
}

/* Growable output buffer used to build messages. */
struct wbuf {
	uint8_t *data; /* owned */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed: the contents are incomplete */
};

void wb_init(struct wbuf *b);
void wb_free(struct wbuf *b);
void wb_reset(struct wbuf *b);
void wb_bytes(struct wbuf *b, const void *p, size_t n);
void wb_u8(struct wbuf *b, uint8_t v);
void wb_u16(struct wbuf *b, uint16_t v);
void wb_u32(struct wbuf *b, uint32_t v);
/* Appends the string and its terminating NUL. */
void wb_cstr(struct wbuf *b, const char *s);
/* Start a typed message: returns the offset to hand to wb_end(). */
size_t wb_begin(struct wbuf *b, char type);
/* Patch the length word of the message begun at `start`. */
void wb_end(struct wbuf *b, size_t start);

static inline uint32_t wire_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* ---- framing ---- */

/* Which side sent a message: the valid type bytes differ. */
enum wire_side { WIRE_FROM_CLIENT, WIRE_FROM_SERVER };

/*
 * Check a typed message header (type byte + length word).  `max_len` bounds
 * the declared length (which includes the length word itself).  Returns
 * PGP_OK, PGP_ERR_PROTO (unknown type or length < 4) or PGP_ERR_TOO_BIG.
 */
enum pgp_status wire_check_header(enum wire_side side, uint8_t type,
				  uint32_t len, uint32_t max_len) WARN_UNUSED;

/* ---- startup ---- */

#define WIRE_MAX_STARTUP_PARAMS 64

struct startup_param {
	const char *name;  /* borrowed from the packet */
	const char *value; /* borrowed from the packet */
};

struct startup_packet {
	uint32_t code; /* protocol version or a special request code */
	/* CancelRequest */
	uint32_t cancel_pid;
	uint32_t cancel_key;
	/* StartupMessage */
	const char *user;     /* borrowed; never NULL after a good parse */
	const char *database; /* borrowed; defaults to user */
	int nparams;
	struct startup_param params[WIRE_MAX_STARTUP_PARAMS];
};

/*
 * Parse an untyped startup-phase message: `buf` holds the whole packet
 * including its length word.  Returns PGP_OK, or PGP_ERR_PROTO with a reason
 * in *why (a static string).
 */
enum pgp_status wire_parse_startup(const uint8_t *buf, size_t len,
				   struct startup_packet *out,
				   const char **why) WARN_UNUSED;

/* Build a StartupMessage (3.0) from name/value pairs. */
void wire_build_startup(struct wbuf *b, const struct startup_param *params,
			int nparams);

/* ---- builders for messages pgperf sends ---- */

void wire_build_error(struct wbuf *b, const char *severity,
		      const char *sqlstate, const char *message);
void wire_build_auth(struct wbuf *b, uint32_t code, const void *extra,
		     size_t extra_len);
void wire_build_param_status(struct wbuf *b, const char *name,
			     const char *value);
void wire_build_backend_key(struct wbuf *b, uint32_t pid, uint32_t key);
void wire_build_ready(struct wbuf *b, char tx_status);
void wire_build_command_complete(struct wbuf *b, const char *tag);
void wire_build_query(struct wbuf *b, const char *sql);
void wire_build_password(struct wbuf *b, const void *p, size_t len);
void wire_build_negotiate_version(struct wbuf *b, uint32_t newest_minor,
				  const char *const *unknown, int nunknown);
/* RowDescription with text (OID 25) columns. */
void wire_build_row_description(struct wbuf *b, const char *const *names,
				int ncols);
/* DataRow of text values; NULL entries are SQL NULLs. */
void wire_build_data_row(struct wbuf *b, const char *const *values, int ncols);

/* ---- parsers for messages pgperf reads ---- */

/* Fields of an ErrorResponse/NoticeResponse body we care about. */
struct wire_error_fields {
	const char *severity; /* borrowed; non-localized 'V' if present */
	const char *sqlstate;
	const char *message;
};

bool wire_parse_error(const uint8_t *body, size_t len,
		      struct wire_error_fields *out) WARN_UNUSED;
/* Does the error end the session (severity FATAL or PANIC)? */
bool wire_error_is_fatal(const struct wire_error_fields *f);

#endif
