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
 *
 * No thread that serves connections waits on one client: sockets are
 * accepted and sniffed (TLS handshakes on the plain port) by one epoll
 * thread, a client has header_timeout seconds to send a request's headers,
 * and work that may wait (a write, which waits for its locks; a big
 * fsync, re-hashing) is moved off the HTTP threads with http_defer().
 *
 * Buffered bodies (BODY_BUFFER) draw on one budget of bytes shared by every
 * request of the server: the Content-Length is reserved when the headers
 * are in, chunked bodies reserve as they arrive, and the bytes are given
 * back when the response is queued. A body that does not fit ends with
 * body_error E_BUSY, which the surface answers with its protocol's "try
 * again later" error; when that is known before the body arrives, finish()
 * is called at once and the answer sent without reading the body. A
 * Content-Length above body.max ends with E_TOOBIG before any byte is kept.
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
    /* called with the response installed, just before it is sent (the
     * audit record of a write is made durable here); may be NULL */
    void (*respond)(struct request *r);
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
    /* the store's cache generation auth.c identified the caller at when it
     * prechecked the headers (0: none yet): the identification after the
     * body reads the same, so a request is judged by one state */
    uint64_t auth_generation;
    char operation[64];  /* the API operation (ECR, IAM), for the log line; "" for /v2 */
    const char *route;   /* a static name of the /v2 route (or other endpoint), for metrics */
    /* the client's address and whether it reached berth over TLS; from a
     * trusted proxy (server_options.trusted_proxies), what its
     * X-Forwarded-For and X-Forwarded-Proto say */
    char client_ip[64];
    bool via_proxy; /* the connection is a trusted proxy's */
    bool secure;
    bool tls; /* this connection itself is TLS */

    /* the server's own bookkeeping; surfaces leave these alone */
    struct server *server;
    uint64_t body_reserved; /* bytes of the buffer budget held */
    char body_error_msg[200]; /* the detail of body_error, for finish() */
    bool queued;
    void (*defer_work)(struct request *r);
    struct request *defer_next;
    bool defer_done;
};

/* Zero in a limit picks the default named beside it. */
struct server_options {
    const char *listen; /* host:port */
    const char *tls_cert_file;
    const char *tls_key_file;
    unsigned threads;
    const struct surface *const *surfaces; /* NULL-terminated, in order */
    unsigned header_timeout_s;       /* time to send a request's headers; 60 */
    unsigned max_connections;        /* open connections; 2048 */
    unsigned max_connections_per_ip; /* 0: no per-address limit */
    uint64_t body_budget_bytes;      /* buffered request bytes, all requests; 256 MiB */
    unsigned defer_threads;          /* most threads of http_defer(), started as needed; 32 */
    const char *trusted_proxies;     /* addresses/networks whose X-Forwarded-* count; NULL: none */
};

struct server;
int server_start(struct server **out, const struct server_options *opt);
/* Graceful shutdown, first step: stops accepting connections (the listening
 * socket is closed, so new clients are refused), answers what is left with
 * "Connection: close", and waits until no request is in flight or
 * timeout_ms has passed. Returns the requests still in flight. Then
 * server_stop() ends the rest. */
unsigned server_drain(struct server *s, int64_t timeout_ms);
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
/* A header of the response installed so far; NULL when it has none. */
const char *http_response_header(struct request *r, const char *name);

/*
 * Moves the rest of the request off the HTTP thread: called from finish(),
 * or from begin() (the work then starts once the body, if any, is in), it
 * suspends the connection; work(r) runs on one of the server's defer
 * threads and must install the response with http_respond*(); then the
 * connection is resumed and the response sent. Other connections of the
 * HTTP thread are served meanwhile. The pool grows while every thread it
 * has is busy (work waiting for a lock must not hold up work that needs
 * none), up to server_options.defer_threads. r stays valid until work
 * returns even if the client has gone; while the server stops, work runs
 * in place. Every write of the store runs so: one that begins on an HTTP
 * thread is logged as a bug (thread_forbid_waits()).
 */
void http_defer(struct request *r, void (*work)(struct request *r));

#endif
