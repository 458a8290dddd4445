/*
 * tls.h -- OpenSSL contexts for both sides and wrapping a plain
 * bufferevent in TLS after the SSLRequest exchange.
 */
#ifndef PGPERF_TLS_H
#define PGPERF_TLS_H

#include "proxy/config.h"

#include <openssl/ssl.h>
#include <stdbool.h>

struct bufferevent;

struct bufferevent;
struct event_base;

/* Context for accepting TLS from clients; NULL with err on failure. */
SSL_CTX *tls_client_side_ctx(const struct config *cfg, char *err,
			     size_t errlen);
/* Context for connecting to PostgreSQL with TLS; NULL with err on failure. */
SSL_CTX *tls_server_side_ctx(const struct config *cfg, char *err,
			     size_t errlen);
/*
 * Wrap `plain` in a TLS filter.  On success the returned bufferevent owns
 * `plain`; on failure NULL is returned and `plain` is untouched.
 * `verify_host` (connecting side only) enables host name checking.
 */
struct bufferevent *tls_wrap(struct event_base *base, struct bufferevent *plain,
			     SSL_CTX *ctx, bool accepting,
			     const char *verify_host);
/*
 * tls-server-end-point channel-binding data for a TLS bufferevent on the
 * accepting side: the hash of pgperf's certificate, with the digest of its
 * signature (SHA-256 when that is MD5 or SHA-1).  Its length, 0 on error.
 */
size_t tls_server_end_point(struct bufferevent *bev, uint8_t *out, size_t cap);
/* Describe the last OpenSSL error, for logs. */
const char *tls_last_error(void);

/* The first byte of a TLS handshake record: a client starting TLS without
 * an SSLRequest (a startup packet's length never starts with it). */
#define TLS_HANDSHAKE_RECORD 0x16
/* Did the TLS handshake on `bev` agree on ALPN "postgresql"? */
bool tls_alpn_postgresql(struct bufferevent *bev);

#endif
