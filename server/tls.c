/*
 * tls.c — TLS on the listen port (see tls_int.h).
 */
#include "tls_int.h"
#include "log_int.h"
#include "server_int.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* TLS 1.2 suites: forward secret AEADs only. TLS 1.3 keeps OpenSSL's
 * defaults, which are all AEADs. */
#define TLS12_CIPHERS                                                      \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"             \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"             \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Browsers that get h2 offered may try WebSocket over HTTP/2 (RFC 8441),
 * which this server does not do: offer HTTP/1.1 only. */
#define TLS_ALPN "http/1.1"

struct srv_tls {
  uv_signal_t sig_hup;
  int sig_on;
  SSL_CTX *ctx;                /* the vhost's; owned by libwebsockets */
};

/* The reason of the last OpenSSL error, then the queue is cleared (lws
 * reads the same thread's queue after its own calls). */
static const char *ossl_why(char *buf, size_t len)
{
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;

  snprintf(buf, len, "%s", r ? r : "unknown OpenSSL error");
  ERR_clear_error();
  return buf;
}

static int readable(const char *setting, const char *path, char *err,
                    size_t errlen)
{
  FILE *f = fopen(path, "r");

  if (!f) {
    snprintf(err, errlen, "setting %s: cannot read %s: %s", setting, path,
             strerror(errno));
    return -1;
  }
  fclose(f);
  return 0;
}

/* Loads the pair into a new context; *out owns it. */
static int load_pair(const char *cert, const char *key, SSL_CTX **out,
                     char *err, size_t errlen)
{
  char why[256];
  SSL_CTX *c;

  *out = NULL;
  if (readable("tls-cert", cert, err, errlen) != 0 ||
      readable("tls-key", key, err, errlen) != 0)
    return -1;
  if (!(c = SSL_CTX_new(TLS_server_method()))) {
    snprintf(err, errlen, "TLS: %s", ossl_why(why, sizeof(why)));
    return -1;
  }
  if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
    snprintf(err, errlen, "setting tls-cert: %s is not a usable PEM "
             "certificate chain (%s)", cert, ossl_why(why, sizeof(why)));
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    snprintf(err, errlen, "setting tls-key: %s is not a PEM private key "
             "that matches the certificate in %s (tls-cert) (%s)", key, cert,
             ossl_why(why, sizeof(why)));
    goto fail;
  }
  *out = c;
  return 0;
fail:
  SSL_CTX_free(c);
  return -1;
}

/* "serial 1F.., subject /CN=.., valid until 2027-01-01T00:00:00Z" */
static void describe(SSL_CTX *c, char *buf, size_t len)
{
  X509 *x = SSL_CTX_get0_certificate(c);
  BIGNUM *bn;
  char *hex = NULL, subject[256] = "?", until[32] = "?";
  struct tm tm;

  if (!x) {
    snprintf(buf, len, "no certificate");
    return;
  }
  if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL))) {
    hex = BN_bn2hex(bn);
    BN_free(bn);
  }
  X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
  if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(buf, len, "serial %s, subject %s, valid until %s",
           hex ? hex : "?", subject, until);
  OPENSSL_free(hex);
  if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
    srv_warn("tls", "the certificate (%s) has expired", buf);
}

int srv_tls_check(const struct srv_config *cfg, char *err, size_t errlen)
{
  SSL_CTX *c;
  struct stat st;

  if (!cfg->tls_cert[0])
    return 0;
  if (load_pair(cfg->tls_cert, cfg->tls_key, &c, err, errlen) != 0)
    return -1;
  SSL_CTX_free(c);
  if (stat(cfg->tls_key, &st) == 0 && (st.st_mode & 077))
    srv_warn("tls", "the private key %s (tls-key) can be read by other "
             "users (mode %03o); chmod 600 it", cfg->tls_key,
             (unsigned)(st.st_mode & 0777));
  return 0;
}

void srv_tls_info(const struct srv_config *cfg,
                  struct lws_context_creation_info *info, int ctx)
{
  if (!cfg->tls_cert[0])
    return;
  info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info->alpn = TLS_ALPN;
  if (ctx)
    return;
  info->ssl_cert_filepath = cfg->tls_cert;
  info->ssl_private_key_filepath = cfg->tls_key;
  info->ssl_cipher_list = TLS12_CIPHERS;
  /* No renegotiation: TLS 1.3 has none and 1.2's is a DoS lever. */
  info->ssl_options_set = SSL_OP_NO_RENEGOTIATION;
}

int srv_tls_vhost_ctx(struct srv_server *srv, void *ssl_ctx)
{
  SSL_CTX *c = ssl_ctx;

  if (!srv || !srv->tls || !c)
    return 0;
  /* lws 4.1.6 only turns SSLv2/3 off; 1.0 and 1.1 go here. */
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) {
    srv_err("tls", "cannot restrict TLS to versions 1.2 and later");
    return 1;
  }
  srv->tls->ctx = c;
  return 0;
}

/* Puts the certificate, chain and key of `fresh` into `live`. */
static int apply(SSL_CTX *live, SSL_CTX *fresh, char *err, size_t errlen)
{
  X509 *x = SSL_CTX_get0_certificate(fresh);
  EVP_PKEY *k = SSL_CTX_get0_privatekey(fresh);
  EVP_PKEY *old = SSL_CTX_get0_privatekey(live);
  STACK_OF(X509) *chain = NULL;
  char why[256];

  /* OpenSSL keeps one certificate per key type: a new EC certificate
   * would sit next to the old RSA one, and clients could get either. */
  if (old && EVP_PKEY_get_base_id(old) != EVP_PKEY_get_base_id(k)) {
    snprintf(err, errlen, "the new key is of another type than the one "
             "being served; restart heraldd to change the key type");
    return -1;
  }
  SSL_CTX_get0_chain_certs(fresh, &chain);
  if (SSL_CTX_use_certificate(live, x) != 1 ||
      SSL_CTX_use_PrivateKey(live, k) != 1 ||
      SSL_CTX_set1_chain(live, chain) != 1 ||
      SSL_CTX_check_private_key(live) != 1) {
    snprintf(err, errlen, "%s", ossl_why(why, sizeof(why)));
    return -1;
  }
  return 0;
}

static void on_sighup(uv_signal_t *h, int signum)
{
  struct srv_server *srv = h->data;
  char err[1024], what[512];
  SSL_CTX *fresh;

  (void)signum;
  if (!srv->cfg->tls_cert[0]) {
    srv_info("tls", "SIGHUP: TLS is off, no certificate to reload");
    return;
  }
  if (!srv->tls->ctx) {
    srv_err("tls", "SIGHUP: the TLS context is not known; not reloaded");
    return;
  }
  if (load_pair(srv->cfg->tls_cert, srv->cfg->tls_key, &fresh, err,
                sizeof(err)) != 0) {
    srv_err("tls", "certificate reload failed, still serving the previous "
            "one: %s", err);
    return;
  }
  if (apply(srv->tls->ctx, fresh, err, sizeof(err)) != 0) {
    SSL_CTX_free(fresh);
    srv_err("tls", "certificate reload failed, still serving the previous "
            "one: %s", err);
    return;
  }
  SSL_CTX_free(fresh);
  describe(srv->tls->ctx, what, sizeof(what));
  srv_info("tls", "certificate reloaded: %s", what);
}

int srv_tls_init(struct srv_server *srv)
{
  if (!(srv->tls = calloc(1, sizeof(*srv->tls)))) {
    srv_err("tls", "out of memory");
    return -1;
  }
  /* Always: SIGHUP's default action would end the process. */
  uv_signal_init(&srv->loop, &srv->tls->sig_hup);
  srv->tls->sig_hup.data = srv;
  srv->tls->sig_on = 1;
  uv_signal_start(&srv->tls->sig_hup, on_sighup, SIGHUP);
  return 0;
}

int srv_tls_log_serving(struct srv_server *srv)
{
  char what[512];

  if (!srv->tls || !srv->tls->ctx)
    return -1;
  describe(srv->tls->ctx, what, sizeof(what));
  srv_info("tls", "serving TLS 1.2/1.3 with %s (%s); SIGHUP reloads it",
           srv->cfg->tls_cert, what);
  return 0;
}

void srv_tls_close(struct srv_server *srv)
{
  if (srv->tls && srv->tls->sig_on && !uv_is_closing(
                                          (uv_handle_t *)&srv->tls->sig_hup))
    uv_close((uv_handle_t *)&srv->tls->sig_hup, NULL);
  /* The vhost (and its SSL_CTX) goes with the lws context. */
  if (srv->tls)
    srv->tls->ctx = NULL;
}

void srv_tls_cleanup(struct srv_server *srv)
{
  free(srv->tls);
  srv->tls = NULL;
}
