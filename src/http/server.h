/*
 * The HTTP server: libmicrohttpd underneath, a request context above it.
 *
 * A request goes through three steps, each a callback of the surface that
 * claimed its path (registry /v2, ECR/IAM control plane at POST /):
 *   begin()   the headers are in; route, authenticate, and either respond at
 *             once (GETs, errors) or choose how the body is taken;
 *   body      streamed to on_body() chunk by chunk, or collected into
 *             r->body up to body_max bytes (E_TOOBIG past it);
 *   finish()  the whole body is in; respond.
 * Responses are built with http_respond_*() and sent when the step returns.
 * The server writes one log line per request when it completes.
 */
#ifndef BERTH_HTTP_SERVER_H
#define BERTH_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

struct MHD_Connection;
struct MHD_Response;
struct request;

struct surface {
    const char *name;
    /* true when this surface serves the request */
    bool (*claims)(struct request *r);
    void (*begin)(struct request *r);
    void (*finish)(struct request *r);
    /* called when a body was cut short by an error or a disconnect */
    void (*abort)(struct request *r);
};

enum body_mode { BODY_NONE, BODY_BUFFER, BODY_STREAM };

struct request {
    struct MHD_Connection *conn;
    const char *method;
    const char *path; /* decoded, without the query string */
    int64_t start_us;
    const struct surface *surface;

    enum body_mode body_mode;
    struct buf body;                                          /* BODY_BUFFER */
    int (*on_body)(struct request *r, const char *data, size_t n); /* BODY_STREAM */
    uint64_t body_bytes;
    int body_error; /* first error from the body step; the rest is drained */

    void *state; /* surface/handler state, freed with state_free */
    void (*state_free)(void *state);

    struct MHD_Response *resp;
    unsigned status;
    uint64_t bytes_out;
    bool completed_ok;

    char principal[704]; /* who, for the log line; never a secret */
    char client_ip[64];
    bool secure; /* reached over TLS */
};

struct server_options {
    const char *listen; /* host:port */
    const char *tls_cert_file;
    const char *tls_key_file;
    unsigned threads;
    const struct surface *const *surfaces; /* NULL-terminated, in order */
};

struct server;
int server_start(struct server **out, const struct server_options *opt);
void server_stop(struct server *s);

const char *http_header(struct request *r, const char *name);
const char *http_query(struct request *r, const char *name);
/* Calls fn for every query parameter; stops early when fn returns non-zero. */
void http_query_each(struct request *r, int (*fn)(void *ctx, const char *k, const char *v), void *ctx);
void http_header_each(struct request *r, int (*fn)(void *ctx, const char *k, const char *v), void *ctx);

void http_respond(struct request *r, unsigned status, const char *content_type, const void *data, size_t n);
void http_respond_empty(struct request *r, unsigned status);
/* Serves len bytes of fd from off; the response owns fd from here on. */
void http_respond_fd(struct request *r, unsigned status, const char *content_type, int fd, uint64_t off, uint64_t len);
void http_set_header(struct request *r, const char *name, const char *value);

#endif
