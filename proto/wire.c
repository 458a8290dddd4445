/*
 * wire.c -- bounds-checked reading, message building and framing checks for
 * the PostgreSQL v3 protocol.  Pure functions on byte buffers.
 */
#include "proto/wire.h"

#include <string.h>

/* ---- cursor ---- */

/* ---- builder ---- */

void wb_init(struct wbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void wb_free(struct wbuf *b)
{
	pgp_free(b->data);
	wb_init(b);
}

void wb_reset(struct wbuf *b)
{
	b->len = 0;
	b->failed = false;
}

static bool wb_reserve(struct wbuf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->failed)
		return false;
	if (b->len + n <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	p = pgp_realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void wb_bytes(struct wbuf *b, const void *p, size_t n)
{
	if (!wb_reserve(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void wb_u8(struct wbuf *b, uint8_t v)
{
	wb_bytes(b, &v, 1);
}

void wb_u16(struct wbuf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	wb_bytes(b, x, 2);
}

void wb_u32(struct wbuf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			(uint8_t)(v >> 8), (uint8_t)v};

	wb_bytes(b, x, 4);
}

void wb_cstr(struct wbuf *b, const char *s)
{
	wb_bytes(b, s, strlen(s) + 1);
}

size_t wb_begin(struct wbuf *b, char type)
{
	size_t start;

	if (type)
		wb_u8(b, (uint8_t)type);
	start = b->len;
	wb_u32(b, 0);
	return start;
}

void wb_end(struct wbuf *b, size_t start)
{
	uint32_t len;

	if (b->failed || start + 4 > b->len)
		return;
	len = (uint32_t)(b->len - start);
	b->data[start] = (uint8_t)(len >> 24);
	b->data[start + 1] = (uint8_t)(len >> 16);
	b->data[start + 2] = (uint8_t)(len >> 8);
	b->data[start + 3] = (uint8_t)len;
}

/* ---- framing ---- */

/* Message types a frontend may send after startup. */
static bool client_type_valid(uint8_t t)
{
	switch (t) {
	case 'Q': /* Query */
	case 'P': /* Parse */
	case 'B': /* Bind */
	case 'E': /* Execute */
	case 'D': /* Describe */
	case 'C': /* Close */
	case 'H': /* Flush */
	case 'S': /* Sync */
	case 'F': /* FunctionCall */
	case 'd': /* CopyData */
	case 'c': /* CopyDone */
	case 'f': /* CopyFail */
	case 'X': /* Terminate */
	case 'p': /* PasswordMessage / SASL responses */
		return true;
	default:
		return false;
	}
}

/* Message types a backend may send. */
static bool server_type_valid(uint8_t t)
{
	switch (t) {
	case 'R': /* Authentication* */
	case 'K': /* BackendKeyData */
	case 'S': /* ParameterStatus */
	case 'Z': /* ReadyForQuery */
	case 'T': /* RowDescription */
	case 'D': /* DataRow */
	case 'C': /* CommandComplete */
	case 'E': /* ErrorResponse */
	case 'N': /* NoticeResponse */
	case 'A': /* NotificationResponse */
	case 'I': /* EmptyQueryResponse */
	case '1': /* ParseComplete */
	case '2': /* BindComplete */
	case '3': /* CloseComplete */
	case 'n': /* NoData */
	case 's': /* PortalSuspended */
	case 't': /* ParameterDescription */
	case 'G': /* CopyInResponse */
	case 'H': /* CopyOutResponse */
	case 'W': /* CopyBothResponse */
	case 'd': /* CopyData */
	case 'c': /* CopyDone */
	case 'V': /* FunctionCallResponse */
	case 'v': /* NegotiateProtocolVersion */
		return true;
	default:
		return false;
	}
}

enum pgp_status wire_check_header(enum wire_side side, uint8_t type,
				  uint32_t len, uint32_t max_len)
{
	bool valid = side == WIRE_FROM_CLIENT ? client_type_valid(type)
					      : server_type_valid(type);

	if (!valid || len < 4)
		return PGP_ERR_PROTO;
	if (len > max_len || len > WIRE_MAX_MESSAGE_LEN)
		return PGP_ERR_TOO_BIG;
	return PGP_OK;
}

/* ---- startup ---- */

enum pgp_status wire_parse_startup(const uint8_t *buf, size_t len,
				   struct startup_packet *out, const char **why)
{
	struct wcursor c;
	uint32_t declared;

	memset(out, 0, sizeof(*out));
	wc_init(&c, buf, len);
	if (!wc_u32(&c, &declared) || declared != len || len < 8 ||
	    len > WIRE_MAX_STARTUP_LEN) {
		*why = "invalid length of startup packet";
		return PGP_ERR_PROTO;
	}
	if (!wc_u32(&c, &out->code)) {
		*why = "invalid length of startup packet";
		return PGP_ERR_PROTO;
	}
	switch (out->code) {
	case WIRE_CANCEL_CODE:
		if (len != 16 || !wc_u32(&c, &out->cancel_pid) ||
		    !wc_u32(&c, &out->cancel_key)) {
			*why = "invalid length of cancel request";
			return PGP_ERR_PROTO;
		}
		return PGP_OK;
	case WIRE_SSL_CODE:
	case WIRE_GSSENC_CODE:
		if (len != 8) {
			*why = "invalid length of encryption request";
			return PGP_ERR_PROTO;
		}
		return PGP_OK;
	default:
		break;
	}
	if ((out->code >> 16) != 3) {
		*why = "unsupported frontend protocol";
		return PGP_ERR_PROTO;
	}
	/* name/value pairs, terminated by an empty name */
	for (;;) {
		const char *name, *value;
		size_t nlen;

		if (!wc_cstr(&c, &name, &nlen)) {
			*why = "startup packet is not terminated";
			return PGP_ERR_PROTO;
		}
		if (nlen == 0)
			break;
		if (!wc_cstr(&c, &value, NULL)) {
			*why = "startup parameter has no value";
			return PGP_ERR_PROTO;
		}
		if (strcmp(name, "user") == 0) {
			out->user = value;
		} else if (strcmp(name, "database") == 0) {
			out->database = value;
		} else {
			if (out->nparams >= WIRE_MAX_STARTUP_PARAMS) {
				*why = "too many startup parameters";
				return PGP_ERR_PROTO;
			}
			out->params[out->nparams].name = name;
			out->params[out->nparams].value = value;
			out->nparams++;
		}
	}
	if (wc_remaining(&c) != 0) {
		*why = "trailing bytes after startup packet";
		return PGP_ERR_PROTO;
	}
	if (!out->user || !*out->user) {
		*why = "no PostgreSQL user name specified in startup packet";
		return PGP_ERR_PROTO;
	}
	if (!out->database || !*out->database)
		out->database = out->user;
	return PGP_OK;
}

void wire_build_startup(struct wbuf *b, const struct startup_param *params,
			int nparams)
{
	size_t start = wb_begin(b, 0);

	wb_u32(b, WIRE_PROTO_V3);
	for (int i = 0; i < nparams; i++) {
		wb_cstr(b, params[i].name);
		wb_cstr(b, params[i].value);
	}
	wb_u8(b, 0);
	wb_end(b, start);
}

/* ---- builders ---- */

void wire_build_error(struct wbuf *b, const char *severity,
		      const char *sqlstate, const char *message)
{
	size_t start = wb_begin(b, 'E');

	wb_u8(b, 'S');
	wb_cstr(b, severity);
	wb_u8(b, 'V');
	wb_cstr(b, severity);
	wb_u8(b, 'C');
	wb_cstr(b, sqlstate);
	wb_u8(b, 'M');
	wb_cstr(b, message);
	wb_u8(b, 0);
	wb_end(b, start);
}

void wire_build_auth(struct wbuf *b, uint32_t code, const void *extra,
		     size_t extra_len)
{
	size_t start = wb_begin(b, 'R');

	wb_u32(b, code);
	wb_bytes(b, extra, extra_len);
	wb_end(b, start);
}

void wire_build_param_status(struct wbuf *b, const char *name,
			     const char *value)
{
	size_t start = wb_begin(b, 'S');

	wb_cstr(b, name);
	wb_cstr(b, value);
	wb_end(b, start);
}

void wire_build_backend_key(struct wbuf *b, uint32_t pid, uint32_t key)
{
	size_t start = wb_begin(b, 'K');

	wb_u32(b, pid);
	wb_u32(b, key);
	wb_end(b, start);
}

void wire_build_ready(struct wbuf *b, char tx_status)
{
	size_t start = wb_begin(b, 'Z');

	wb_u8(b, (uint8_t)tx_status);
	wb_end(b, start);
}

void wire_build_command_complete(struct wbuf *b, const char *tag)
{
	size_t start = wb_begin(b, 'C');

	wb_cstr(b, tag);
	wb_end(b, start);
}

void wire_build_query(struct wbuf *b, const char *sql)
{
	size_t start = wb_begin(b, 'Q');

	wb_cstr(b, sql);
	wb_end(b, start);
}

void wire_build_password(struct wbuf *b, const void *p, size_t len)
{
	size_t start = wb_begin(b, 'p');

	wb_bytes(b, p, len);
	wb_end(b, start);
}

void wire_build_negotiate_version(struct wbuf *b, uint32_t newest_minor,
				  const char *const *unknown, int nunknown)
{
	size_t start = wb_begin(b, 'v');

	wb_u32(b, newest_minor);
	wb_u32(b, (uint32_t)nunknown);
	for (int i = 0; i < nunknown; i++)
		wb_cstr(b, unknown[i]);
	wb_end(b, start);
}

void wire_build_row_description(struct wbuf *b, const char *const *names,
				int ncols)
{
	size_t start = wb_begin(b, 'T');

	wb_u16(b, (uint16_t)ncols);
	for (int i = 0; i < ncols; i++) {
		wb_cstr(b, names[i]);
		wb_u32(b, 0);	       /* table OID */
		wb_u16(b, 0);	       /* column number */
		wb_u32(b, 25);	       /* type: text */
		wb_u16(b, 0xffff);     /* typlen -1 */
		wb_u32(b, 0xffffffff); /* typmod -1 */
		wb_u16(b, 0);	       /* text format */
	}
	wb_end(b, start);
}

void wire_build_data_row(struct wbuf *b, const char *const *values, int ncols)
{
	size_t start = wb_begin(b, 'D');

	wb_u16(b, (uint16_t)ncols);
	for (int i = 0; i < ncols; i++) {
		if (!values[i]) {
			wb_u32(b, 0xffffffff);
			continue;
		}
		size_t n = strlen(values[i]);

		wb_u32(b, (uint32_t)n);
		wb_bytes(b, values[i], n);
	}
	wb_end(b, start);
}

/* ---- parsers ---- */

bool wire_error_is_fatal(const struct wire_error_fields *f)
{
	return f->severity && (strcmp(f->severity, "FATAL") == 0 ||
			       strcmp(f->severity, "PANIC") == 0);
}

bool wire_parse_error(const uint8_t *body, size_t len,
		      struct wire_error_fields *out)
{
	struct wcursor c;

	memset(out, 0, sizeof(*out));
	wc_init(&c, body, len);
	for (;;) {
		uint8_t code;
		const char *val;

		if (!wc_u8(&c, &code))
			return false;
		if (code == 0)
			break;
		if (!wc_cstr(&c, &val, NULL))
			return false;
		switch (code) {
		case 'S':
			if (!out->severity)
				out->severity = val;
			break;
		case 'V':
			out->severity = val; /* non-localized wins */
			break;
		case 'C':
			out->sqlstate = val;
			break;
		case 'M':
			out->message = val;
			break;
		default:
			break;
		}
	}
	return wc_remaining(&c) == 0;
}
