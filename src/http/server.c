/*
 * This module implements the HTTP server of server.h over libmicrohttpd:
 * one daemon with an internal thread pool (epoll), a request context per
 * request, bodies streamed to the surface as they arrive, and the log line
 * written when the request completes.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"

struct server {
    struct MHD_Daemon *daemon;
    int listen_fd;       /* plain HTTP: our own listener, see accept_loop() */
    pthread_t acceptor;
    volatile int stopping;
    const struct surface *const *surfaces;
    char *tls_cert;
    char *tls_key;
};

static void request_free(struct request *r)
{
    if (r->state_free && r->state)
        r->state_free(r->state);
    if (r->resp)
        MHD_destroy_response(r->resp);
    buf_release(&r->body);
    free(r);
}

static void client_address(struct request *r)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    r->client_ip[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, r->client_ip, sizeof(r->client_ip));
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, r->client_ip, sizeof(r->client_ip));
}

static bool request_has_body(struct request *r)
{
    const char *cl = http_header(r, "Content-Length");
    if (http_header(r, "Transfer-Encoding"))
        return true;
    return cl && strcmp(cl, "0") != 0;
}

/*
 * True when the client has closed its side with the body still short of its
 * Content-Length. libmicrohttpd watches sockets edge-triggered: when the
 * FIN comes in together with the last bytes it reads, no further event
 * arrives and the request would sit, its upload session busy, until the
 * connection timeout. Nothing is lost by looking: all that is peeked at is
 * the end of the stream, after every byte before it was read.
 */
static bool body_cut_short(struct request *r)
{
    const char *cl = http_header(r, "Content-Length");
    uint64_t want;
    char c;
    if (r->secure || !cl || parse_u64(slice_from(cl), UINT64_MAX, &want) < 0 || r->body_bytes >= want)
        return false;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static enum MHD_Result queue(struct request *r)
{
    if (!r->resp) {
        /* a surface that forgot to answer is a bug; say so rather than hang */
        log_error("no response for %s %s", r->method, r->path);
        static const char msg[] = "internal error\n";
        http_respond(r, 500, "text/plain", msg, sizeof(msg) - 1);
    }
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct request *r = *con_cls;

    if (!r) {
        r = xcalloc(1, sizeof(*r));
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->start_us = mono_us();
        buf_init(&r->body, 0);
        client_address(r);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_PROTOCOL);
        r->secure = ci && ci->protocol != 0;
        *con_cls = r;
        for (const struct surface *const *sp = s->surfaces; *sp; sp++)
            if ((*sp)->claims(r)) {
                r->surface = *sp;
                break;
            }
        error_clear();
        if (!r->surface) {
            static const char msg[] = "not found\n";
            http_respond(r, 404, "text/plain", msg, sizeof(msg) - 1);
        } else {
            r->surface->begin(r);
        }
        /* An answer ready before a body was read is sent at once (and the
         * connection closed, the body unread); without a body it waits for
         * the next call so the connection stays alive. */
        if (r->resp && request_has_body(r))
            return queue(r);
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->resp || r->body_error)
            return MHD_YES; /* answered already: drain */
        r->body_bytes += n;
        int rc = 0;
        if (r->body_mode == BODY_BUFFER)
            rc = buf_put(&r->body, upload_data, n);
        else if (r->body_mode == BODY_STREAM)
            rc = r->on_body(r, upload_data, n);
        else
            rc = error_set(E_INVALID, "this request takes no body");
        if (rc < 0)
            r->body_error = rc;
        /* closing the connection ends the request as aborted */
        return body_cut_short(r) ? MHD_NO : MHD_YES;
    }

    if (!r->resp)
        r->surface->finish(r);
    return queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;
    if (!r)
        return;
    r->completed_ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (!r->completed_ok && r->surface && r->surface->abort)
        r->surface->abort(r);
    int64_t us = mono_us() - r->start_us;
    log_info("%s %s %u %llu %lld.%03lldms %s %s%s", r->method, r->path, r->status, (unsigned long long)r->bytes_out,
             (long long)(us / 1000), (long long)(us % 1000), r->principal[0] ? r->principal : "-", r->client_ip[0] ? r->client_ip : "-",
             r->completed_ok ? "" : " aborted");
    request_free(r);
    *con_cls = NULL;
}

static void install_response(struct request *r, unsigned status, struct MHD_Response *resp)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
}

void http_respond(struct request *r, unsigned status, const char *content_type, const void *data, size_t n)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)data, MHD_RESPMEM_MUST_COPY);
    install_response(r, status, resp);
    r->bytes_out = n;
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
}

void http_respond_empty(struct request *r, unsigned status)
{
    http_respond(r, status, NULL, "", 0);
}

void http_respond_fd(struct request *r, unsigned status, const char *content_type, int fd, uint64_t off, uint64_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
    install_response(r, status, resp);
    r->bytes_out = len;
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
}

void http_set_header(struct request *r, const char *name, const char *value)
{
    if (!r->resp)
        return;
    /* replace, not add: drop every value the header has so far */
    const char *old;
    while ((old = MHD_get_response_header(r->resp, name)) != NULL)
        if (MHD_del_response_header(r->resp, name, old) != MHD_YES)
            break;
    MHD_add_response_header(r->resp, name, value);
}

const char *http_header(struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct each_ctx {
    int (*fn)(void *ctx, const char *k, const char *v);
    void *ctx;
};

static enum MHD_Result each_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct each_ctx *e = cls;
    return e->fn(e->ctx, key, value ? value : "") ? MHD_NO : MHD_YES;
}

void http_query_each(struct request *r, int (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    struct each_ctx e = {fn, ctx};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_cb, &e);
}

void http_header_each(struct request *r, int (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    struct each_ctx e = {fn, ctx};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, each_cb, &e);
}

static char *read_file_whole(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[4096];
    size_t n;
    if (!f)
        return NULL;
    buf_init(&b, 1 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_put(&b, chunk, n) < 0) {
            fclose(f);
            buf_release(&b);
            return NULL;
        }
    fclose(f);
    return buf_detach(&b);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host))
        return error_set(E_INVALID, "listen address '%s' is not host:port", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    uint64_t port;
    if (parse_u64(slice_from(colon + 1), 65535, &port) < 0)
        return error_set(E_INVALID, "listen port in '%s' is not a number up to 65535", listen);
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[') {
        size_t hl = strlen(host);
        if (hl < 3 || host[hl - 1] != ']')
            return error_set(E_INVALID, "listen address '%s' has a bad IPv6 host", listen);
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return error_set(E_INVALID, "listen address '%s' has a bad IPv6 host", listen);
        *len = sizeof(*a6);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return error_set(E_INVALID, "listen host '%s' is not an IPv4 or [IPv6] address", host);
    *len = sizeof(*a4);
    return 0;
}

/*
 * Plain HTTP only: berth accepts connections itself and hands them to
 * libmicrohttpd, so that it can answer a TLS handshake with HTTP. Go
 * clients (docker, containerd) try HTTPS first on a registry they are told
 * is insecure and fall back to HTTP only when the answer is not TLS; an EOF
 * (what a parser gives a binary ClientHello) stops them instead.
 */
static void *accept_loop(void *arg)
{
    struct server *s = arg;
    static const char tls_answer[] = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                                     "Content-Length: 53\r\n\r\nClient sent a TLS handshake to a plain HTTP server.\r\n\r\n";
    while (!s->stopping) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (s->stopping)
                break;
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                usleep(10000);
                continue;
            }
            log_error("accept: %s", strerror(errno));
            usleep(10000);
            continue;
        }
        /* Clients speak first; look at the first byte if it is there soon. */
        struct pollfd pfd = {fd, POLLIN, 0};
        unsigned char first = 0;
        if (poll(&pfd, 1, 100) == 1 && recv(fd, &first, 1, MSG_PEEK | MSG_DONTWAIT) == 1 && first == 0x16) {
            if (send(fd, tls_answer, sizeof(tls_answer) - 1, MSG_NOSIGNAL) < 0) {
                /* the client is gone; nothing to tell it */
            }
            shutdown(fd, SHUT_WR);
            close(fd);
            continue;
        }
        if (MHD_add_connection(s->daemon, fd, (struct sockaddr *)&addr, len) != MHD_YES)
            close(fd); /* MHD logs why (usually: connection limit) */
    }
    return NULL;
}

static int listen_socket(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 1024) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int server_start(struct server **out, const struct server_options *opt)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int rc;
    if ((rc = parse_listen(opt->listen, &ss, &sslen)) < 0)
        return rc;

    struct server *s = xcalloc(1, sizeof(*s));
    s->surfaces = opt->surfaces;
    s->listen_fd = -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    bool tls = opt->tls_cert_file && *opt->tls_cert_file;
    if (tls) {
        s->tls_cert = read_file_whole(opt->tls_cert_file);
        s->tls_key = read_file_whole(opt->tls_key_file ? opt->tls_key_file : "");
        if (!s->tls_cert || !s->tls_key) {
            free(s->tls_cert);
            free(s->tls_key);
            free(s);
            return error_set(E_INVALID, "cannot read TLS certificate '%s' or key '%s'", opt->tls_cert_file,
                             opt->tls_key_file ? opt->tls_key_file : "");
        }
        flags |= MHD_USE_TLS;
    }
    uint16_t port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    /* Bodies arrive in pieces of up to about half the connection memory;
     * 512 KiB keeps write(2) and SHA-256 calls large. */
    size_t conn_mem = 512 * 1024;
    if (tls)
        s->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                     MHD_OPTION_THREAD_POOL_SIZE, opt->threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_mem,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_LISTEN_BACKLOG_SIZE,
                                     (unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, s->tls_key,
                                     MHD_OPTION_END);
    else if ((s->listen_fd = listen_socket(&ss, sslen)) >= 0)
        s->daemon = MHD_start_daemon(flags | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC, 0, NULL, NULL, on_request, s,
                                     MHD_OPTION_THREAD_POOL_SIZE, opt->threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_mem,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_END);
    if (s->daemon && s->listen_fd >= 0 && pthread_create(&s->acceptor, NULL, accept_loop, s) != 0) {
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    if (!s->daemon) {
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        free(s->tls_cert);
        free(s->tls_key);
        free(s);
        return error_set(E_ERROR, "cannot listen on '%s' (address in use, or not allowed)", opt->listen);
    }
    *out = s;
    return 0;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    if (s->listen_fd >= 0) {
        s->stopping = 1;
        shutdown(s->listen_fd, SHUT_RDWR);
        pthread_join(s->acceptor, NULL);
        close(s->listen_fd);
    }
    MHD_stop_daemon(s->daemon);
    free(s->tls_cert);
    free(s->tls_key);
    free(s);
}
