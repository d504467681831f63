/*
 * tls_int.h — TLS on the listen port (settings tls-cert, tls-key):
 * checking the files before anything starts, the vhost's TLS options
 * (TLS 1.2 and 1.3 only, ALPN http/1.1), and replacing the certificate
 * on SIGHUP without dropping a connection.
 *
 * libwebsockets loads the files into the vhost's SSL_CTX at start-up; it
 * hands that SSL_CTX to protocols[0] (LWS_CALLBACK_OPENSSL_LOAD_EXTRA_
 * SERVER_VERIFY_CERTS), which is how this file gets hold of it: the HTTP
 * protocol's callback passes that one reason to srv_tls_vhost_ctx().
 *
 * A reload reads both files into a scratch SSL_CTX first and only when
 * they load and match does it put the new certificate, chain and key into
 * the live SSL_CTX. Connections already up keep the certificate they were
 * set up with (an SSL copies it from the SSL_CTX when it is created); new
 * ones get the new one. A bad file leaves the old certificate in place
 * and logs an error. lws_tls_cert_updated() is not used: it reports no
 * failure and, on a key that does not match, leaves the SSL_CTX with a
 * certificate and no key.
 *
 * Loop thread only, apart from srv_tls_check (before the loop exists).
 */
#ifndef HERALD_SRV_TLS_INT_H
#define HERALD_SRV_TLS_INT_H

#include <libwebsockets.h>
#include <stddef.h>

#include "config_int.h"

struct srv_server;

/* Loads tls-cert and tls-key (when set) into a throw-away context and
 * checks that they match. 0, or -1 with an error naming the setting and
 * the file. Also warns when the key file is readable by other users. */
int srv_tls_check(const struct srv_config *cfg, char *err, size_t errlen);

/* Fills the TLS fields of the context (`ctx` true) or vhost creation info
 * when TLS is configured; does nothing otherwise. */
void srv_tls_info(const struct srv_config *cfg,
                  struct lws_context_creation_info *info, int ctx);

/* Starts listening for SIGHUP (reload). Loop thread, before the vhost. */
int srv_tls_init(struct srv_server *srv);

/* Logs which certificate is being served (subject, serial, expiry).
 * -1 when the vhost's TLS context never came (TLS is not on). */
int srv_tls_log_serving(struct srv_server *srv);

/* Stops listening for SIGHUP (shutdown). */
void srv_tls_close(struct srv_server *srv);

/* Frees what init made, after the loop has stopped. */
void srv_tls_cleanup(struct srv_server *srv);

/* The vhost's SSL_CTX (an SSL_CTX *), from protocols[0]'s callback at
 * vhost creation: restricts it to TLS 1.2 and later and keeps it for
 * reloads. Returns the callback's return value (non-zero fails the
 * vhost). */
int srv_tls_vhost_ctx(struct srv_server *srv, void *ssl_ctx);

#endif
