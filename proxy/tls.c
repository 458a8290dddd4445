/*
 * tls.c -- TLS through OpenSSL and libevent's TLS filter.  TLS 1.2 is the
 * minimum on both sides.
 */
#include "proxy/tls.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

const char *tls_last_error(void)
{
	static char buf[256]; /* only used for logging on the I/O thread */
	unsigned long e = ERR_get_error();

	if (!e)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

/* ALPN's wire form of the one protocol we speak: length, then name. */
static const unsigned char alpn_postgresql[] = "\x0apostgresql";

/*
 * A client that offers ALPN gets "postgresql", or a fatal alert when its
 * list lacks it (as PostgreSQL 17 does): a TLS client of another protocol
 * must not end up talking to us.  A client offering none is not called for.
 */
static int alpn_select(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	unsigned char *chosen;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&chosen, outlen, alpn_postgresql,
				  sizeof(alpn_postgresql) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = chosen;
	return SSL_TLSEXT_ERR_OK;
}

bool tls_alpn_postgresql(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const unsigned char *p = NULL;
	unsigned int n = 0;

	if (!ssl)
		return false;
	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == sizeof(alpn_postgresql) - 2 &&
	       memcmp(p, alpn_postgresql + 1, n) == 0;
}

SSL_CTX *tls_client_side_ctx(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (cfg->client_tls_sslmode == TLS_DISABLE)
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create TLS context: %s",
			 tls_last_error());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_use_certificate_chain_file(
		    ctx, cfg->client_tls_cert_file) != 1) {
		snprintf(err, errlen, "client_tls_cert_file %s: %s",
			 cfg->client_tls_cert_file, tls_last_error());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->client_tls_key_file,
					SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "client_tls_key_file %s: %s",
			 cfg->client_tls_key_file, tls_last_error());
		goto fail;
	}
	if (*cfg->client_tls_ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->client_tls_ca_file,
						  NULL) != 1) {
			snprintf(err, errlen, "client_tls_ca_file %s: %s",
				 cfg->client_tls_ca_file, tls_last_error());
			goto fail;
		}
		/* verify-ca/verify-full: clients must present a certificate */
		SSL_CTX_set_verify(
			ctx,
			cfg->client_tls_sslmode >= TLS_VERIFY_CA
				? SSL_VERIFY_PEER |
					  SSL_VERIFY_FAIL_IF_NO_PEER_CERT
				: SSL_VERIFY_PEER,
			NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *tls_server_side_ctx(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (cfg->server_tls_sslmode == TLS_DISABLE)
		return NULL;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create TLS context: %s",
			 tls_last_error());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	if (cfg->server_tls_sslmode >= TLS_VERIFY_CA) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->server_tls_ca_file,
						  NULL) != 1) {
			snprintf(err, errlen, "server_tls_ca_file %s: %s",
				 cfg->server_tls_ca_file, tls_last_error());
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}

struct bufferevent *tls_wrap(struct event_base *base, struct bufferevent *plain,
			     SSL_CTX *ctx, bool accepting,
			     const char *verify_host)
{
	SSL *ssl = SSL_new(ctx);
	struct bufferevent *bev;

	if (!ssl)
		return NULL;
	if (!accepting && verify_host) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, verify_host) != 1) {
			SSL_free(ssl);
			return NULL;
		}
	}
	bev = bufferevent_openssl_filter_new(
		base, plain, ssl,
		accepting ? BUFFEREVENT_SSL_ACCEPTING
			  : BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	/* a peer that closes without close_notify is an ordinary EOF */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

size_t tls_server_end_point(struct bufferevent *bev, uint8_t *out, size_t cap)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	X509 *cert = ssl ? SSL_get_certificate(ssl) : NULL;
	const EVP_MD *md;
	unsigned int len = 0;
	int md_nid;

	if (!cert ||
	    !OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL))
		return 0;
	/* RFC 5929: MD5 and SHA-1 are replaced by SHA-256 */
	md = md_nid == NID_md5 || md_nid == NID_sha1
		     ? EVP_sha256()
		     : EVP_get_digestbynid(md_nid);
	if (!md || (size_t)EVP_MD_get_size(md) > cap ||
	    X509_digest(cert, md, out, &len) != 1)
		return 0;
	return len;
}
