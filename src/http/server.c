/*
 * This module implements the HTTP server of server.h over libmicrohttpd:
 * one daemon with an internal thread pool (epoll), a request context per
 * request, bodies streamed to the surface as they arrive, and the log line
 * written when the request completes. Around the daemon:
 *   the front thread   one epoll loop that accepts plain-HTTP sockets, looks
 *                      at each one's first byte without waiting on any (a
 *                      TLS handshake gets a plain-text 400), and closes
 *                      connections that have not sent their headers in time;
 *   the body budget    one count of buffered request bytes for the server;
 *   the defer pool     threads that run http_defer() work while the
 *                      connection is suspended.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <pthread.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/forwarded.h"

#define DEFAULT_HEADER_TIMEOUT_S 60
#define DEFAULT_MAX_CONNECTIONS 2048
#define DEFAULT_BODY_BUDGET (256ull << 20)
/* The defer pool: threads started as work arrives, up to the most; the
 * first few start with the server. */
#define DEFAULT_DEFER_THREADS 32
#define DEFER_THREADS_AT_START 4
/* How long a new plain-HTTP socket may stay silent before libmicrohttpd gets
 * it anyway: clients that send a TLS ClientHello do so at once. */
#define SNIFF_US 1000000
/* The longest the front thread sleeps, so that deadlines armed meanwhile are
 * seen in time. */
#define FRONT_TICK_US 100000

/* An intrusive doubly-linked list; the link is the first member of the
 * structures on it. */
struct link {
    struct link *prev, *next;
};
struct list {
    struct link *head, *tail;
};

static void list_append(struct list *l, struct link *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

static void list_remove(struct list *l, struct link *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

/* A plain-HTTP socket whose first byte the front thread waits for. */
struct pending {
    struct link link;
    int fd;
    int64_t deadline_us;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

/* A connection of the daemon, armed while the client owes request headers. */
struct conn_watch {
    struct link link; /* on watched while armed */
    struct link all;  /* on conns while open */
    int fd;
    bool armed;
    int64_t deadline_us;
};

#define WATCH_OF_ALL(l) ((struct conn_watch *)((char *)(l) - offsetof(struct conn_watch, all)))

struct server {
    struct MHD_Daemon *daemon;
    const struct surface *const *surfaces;
    char *tls_cert;
    char *tls_key;
    struct forwarded_proxies proxies; /* whose X-Forwarded-* headers count */

    /* the front thread; listen_fd is ours for plain HTTP only (plain) */
    int listen_fd;
    bool plain;
    int epfd;
    int wake_fd;
    pthread_t front;
    bool front_running;
    atomic_int stopping;
    struct list pending; /* oldest first: every one waits SNIFF_US */
    unsigned npending, max_pending;
    int64_t accept_paused_until; /* out of descriptors: 0 when accepting */
    int64_t sniff_us;

    /* Plain HTTP: connections handed to the daemon and not closed yet. The
     * front thread keeps the limit itself: the daemon's own count lags
     * behind MHD_add_connection(), and when its firm check under lock
     * refuses one, libmicrohttpd 0.9.75 leaves that lock held and the
     * thread hangs. So the daemon is given room it never reaches. */
    atomic_uint nconn;
    unsigned max_conn;

    /* header deadlines, oldest first (every one is now + header_timeout) */
    pthread_mutex_t watch_lock;
    struct list watched;
    struct list conns; /* every open connection, for server_drain() */
    int64_t header_timeout_us;

    /* server_drain(): requests begun and not completed; once draining,
     * every response closes its connection */
    atomic_uint in_flight;
    atomic_int draining;

    /* buffered request bytes */
    _Atomic uint64_t budget_used;
    uint64_t budget_max;

    /* http_defer(): the threads that run requests' work, started as needed
     * (a thread waiting for a lock must not hold up work that needs none)
     * and kept until the server stops; the idle ones on a stack, and the
     * requests no thread was free for in a queue */
    pthread_mutex_t defer_lock;
    struct defer_thread *defer_threads;
    unsigned ndefer, defer_max;
    struct defer_thread *defer_idle;
    struct request *defer_head, *defer_tail;
    bool defer_stopping;
};

/* A thread of the defer pool. An idle one waits on its own condition for
 * work handed to it, so that the thread idle the shortest time takes the
 * next request: its store connection's page cache and the CPU's caches are
 * the warmest (SQLite drops a connection's cache whenever another one has
 * written since its last transaction: with one client, every write would
 * otherwise go to a colder connection than the last). */
struct defer_thread {
    struct server *s;
    pthread_t id;
    pthread_cond_t wake;
    struct request *work;           /* handed over while idle */
    struct defer_thread *next_idle; /* on defer_idle */
};

/* ---- the body budget ---------------------------------------------------- */

static bool budget_take(struct server *s, uint64_t n)
{
    uint64_t cur = atomic_load(&s->budget_used);
    do {
        if (n > s->budget_max - cur)
            return false;
    } while (!atomic_compare_exchange_weak(&s->budget_used, &cur, cur + n));
    metric_add(metric_get(&metric_http_body_budget, NULL), (int64_t)n);
    return true;
}

static void budget_give(struct server *s, uint64_t n)
{
    if (!n)
        return;
    atomic_fetch_sub(&s->budget_used, n);
    metric_add(metric_get(&metric_http_body_budget, NULL), -(int64_t)n);
}

static int budget_exhausted(struct server *s)
{
    return error_set(E_BUSY, "the server holds its limit of %llu MiB of buffered request bodies; try again later",
                     (unsigned long long)(s->budget_max >> 20));
}

/* The buffered body is done with (answered, failed or freed): its memory
 * and its share of the budget go back. */
static void body_drop(struct request *r)
{
    size_t max = r->body.max;
    buf_release(&r->body);
    buf_init(&r->body, max);
    budget_give(r->server, r->body_reserved);
    r->body_reserved = 0;
}

/* Right after begin(): a declared Content-Length is reserved whole, or the
 * request fails before its body is read. */
static int body_reserve_declared(struct request *r)
{
    const char *cl = http_header(r, "Content-Length");
    uint64_t n;
    if (!cl || http_header(r, "Transfer-Encoding") || parse_u64(slice_from(cl), UINT64_MAX, &n) < 0)
        return 0; /* chunked: reserved as it arrives */
    if (n > r->body.max)
        return error_set(E_TOOBIG, "content exceeds the limit of %zu bytes", r->body.max);
    if (!budget_take(r->server, n))
        return budget_exhausted(r->server);
    r->body_reserved = n;
    return 0;
}

static int body_buffer(struct request *r, const char *data, size_t n)
{
    if (r->body_bytes > r->body_reserved) {
        uint64_t more = r->body_bytes - r->body_reserved;
        if (r->body.len + n > r->body.max)
            return error_set(E_TOOBIG, "content exceeds the limit of %zu bytes", r->body.max);
        if (!budget_take(r->server, more))
            return budget_exhausted(r->server);
        r->body_reserved += more;
    }
    return buf_put(&r->body, data, n);
}

static void request_free(struct request *r)
{
    if (r->state_free && r->state)
        r->state_free(r->state);
    if (r->resp)
        MHD_destroy_response(r->resp);
    buf_release(&r->body);
    budget_give(r->server, r->body_reserved);
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

/* From a trusted proxy, the client is who X-Forwarded-For says and used the
 * scheme X-Forwarded-Proto says; a header that is missing or malformed
 * leaves what the connection says. */
static void forwarded_client(struct request *r)
{
    if (!forwarded_proxies_has(&r->server->proxies, r->client_ip))
        return;
    r->via_proxy = true;
    const char *xff = http_header(r, "X-Forwarded-For"), *proto = http_header(r, "X-Forwarded-Proto");
    char ip[sizeof(r->client_ip)];
    if (xff && forwarded_for(ip, sizeof(ip), slice_from(xff)) == 0)
        memcpy(r->client_ip, ip, sizeof(ip));
    int https = proto ? forwarded_proto(slice_from(proto)) : -1;
    if (https >= 0)
        r->secure = https == 1;
    error_clear();
}

static bool request_has_body(struct request *r)
{
    const char *cl = http_header(r, "Content-Length");
    if (http_header(r, "Transfer-Encoding"))
        return true;
    return cl && strcmp(cl, "0") != 0;
}

/*
 * Whether a request answered before its body was read (refused, say) has its
 * body read and discarded before the answer goes out, rather than having the
 * answer sent at once and the connection closed. Some clients cannot stop
 * sending a body they have started (containerd 1.6 pushing a manifest from a
 * pipe) and hang forever on a connection closed under them; Go's net/http,
 * which Distribution uses, likewise reads up to 256 KiB of a body its
 * handler left unread. Large and chunked bodies are still answered at once,
 * as is a client waiting for "100 Continue" (it sends no body unless told).
 *
 * A trusted proxy's connection is drained further, up to HTTP_PROXY_DRAIN_MAX:
 * a proxy that streams the body (nginx with proxy_request_buffering off) is
 * still sending when the answer comes, and the unread bytes make the close a
 * reset that takes the answer with it. The client would hear 502 instead of
 * the answer (a 416 that says where to resume, a 500 for an object store that
 * is down), and the proxy would count the server as failed (max_fails).
 */
#define HTTP_DRAIN_MAX (256 * 1024)
#define HTTP_PROXY_DRAIN_MAX (64ull << 20)
static bool body_drainable(struct request *r)
{
    const char *cl = http_header(r, "Content-Length"), *expect = http_header(r, "Expect");
    uint64_t n;
    if (http_header(r, "Transfer-Encoding") || !cl ||
        parse_u64(slice_from(cl), r->via_proxy ? HTTP_PROXY_DRAIN_MAX : HTTP_DRAIN_MAX, &n) < 0)
        return false;
    return !(expect && strcasecmp(expect, "100-continue") == 0);
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
    if (r->tls || !cl || parse_u64(slice_from(cl), UINT64_MAX, &want) < 0 || r->body_bytes >= want)
        return false;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* ---- header deadlines --------------------------------------------------- */

static struct conn_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The client owes request headers from now on. */
static void watch_arm(struct server *s, struct conn_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&s->watch_lock);
    if (w->armed)
        list_remove(&s->watched, &w->link);
    w->armed = true;
    w->deadline_us = mono_us() + s->header_timeout_us;
    list_append(&s->watched, &w->link);
    pthread_mutex_unlock(&s->watch_lock);
}

static void watch_disarm(struct server *s, struct conn_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&s->watch_lock);
    if (w->armed)
        list_remove(&s->watched, &w->link);
    w->armed = false;
    pthread_mutex_unlock(&s->watch_lock);
}

/*
 * Ends the connections whose headers are late; returns the next deadline.
 * shutdown() makes libmicrohttpd see the end of the stream and close the
 * connection on its own thread. The lock makes this safe: the daemon tells
 * on_connection() that a connection closes before it closes the socket, so
 * a watched descriptor is still that connection's.
 */
static int64_t watch_reap(struct server *s, int64_t now)
{
    int64_t next = INT64_MAX;
    pthread_mutex_lock(&s->watch_lock);
    while (s->watched.head) {
        struct conn_watch *w = (struct conn_watch *)s->watched.head;
        if (w->deadline_us > now) {
            next = w->deadline_us;
            break;
        }
        list_remove(&s->watched, &w->link);
        w->armed = false;
        if (w->fd >= 0)
            shutdown(w->fd, SHUT_RDWR);
        log_debug("closed a connection that sent no request headers within %llds",
                  (long long)(s->header_timeout_us / 1000000));
    }
    pthread_mutex_unlock(&s->watch_lock);
    return next;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct server *s = cls;
    struct conn_watch *w = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        w = xcalloc(1, sizeof(*w));
        w->fd = ci ? ci->connect_fd : -1;
        *socket_context = w;
        pthread_mutex_lock(&s->watch_lock);
        list_append(&s->conns, &w->all);
        pthread_mutex_unlock(&s->watch_lock);
        watch_arm(s, w);
        metric_add(metric_get(&metric_http_connections, NULL), 1);
    } else if (w) {
        watch_disarm(s, w);
        pthread_mutex_lock(&s->watch_lock);
        list_remove(&s->conns, &w->all);
        pthread_mutex_unlock(&s->watch_lock);
        free(w);
        *socket_context = NULL;
        if (s->plain)
            atomic_fetch_sub(&s->nconn, 1);
    }
}

/* ---- requests ----------------------------------------------------------- */

static enum MHD_Result queue(struct request *r)
{
    if (!r->resp) {
        /* a surface that forgot to answer is a bug; say so rather than hang */
        log_error("no response for %s %s", r->method, r->path);
        static const char msg[] = "internal error\n";
        http_respond(r, 500, "text/plain", msg, sizeof(msg) - 1);
    }
    if (r->surface && r->surface->respond)
        r->surface->respond(r);
    if (atomic_load(&r->server->draining))
        MHD_add_response_header(r->resp, "Connection", "close");
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    r->queued = true;
    body_drop(r);
    return ok;
}

static void set_body_error(struct request *r, int rc)
{
    r->body_error = rc;
    snprintf(r->body_error_msg, sizeof(r->body_error_msg), "%s", error_message());
    if (r->body_mode == BODY_BUFFER)
        body_drop(r);
}

static void finish(struct request *r)
{
    error_clear();
    if (r->body_error)
        error_set(r->body_error, "%s", r->body_error_msg);
    r->surface->finish(r);
}

static void defer_run(struct request *r)
{
    error_clear();
    r->defer_work(r);
    r->defer_done = true;
}

static void *defer_loop(void *arg);

/* Starts one more defer thread unless the pool is full; with defer_lock
 * held. */
static int defer_grow(struct server *s)
{
    if (s->ndefer == s->defer_max)
        return error_set(E_BUSY, "every defer thread is busy");
    struct defer_thread *t = &s->defer_threads[s->ndefer];
    t->s = s;
    pthread_cond_init(&t->wake, NULL);
    if (pthread_create(&t->id, NULL, defer_loop, t) != 0) {
        pthread_cond_destroy(&t->wake);
        return error_set(E_ERROR, "cannot start a defer thread");
    }
    s->ndefer++;
    metric_add(metric_get(&metric_http_defer_threads, NULL), 1);
    return 0;
}

/* Suspends the connection and hands the request to the idle defer thread
 * that became idle last; with none idle, queues it and starts another
 * thread (the work under way may wait for a lock for seconds: this request
 * may need none). While the server stops, runs the work here instead. */
static enum MHD_Result defer_start(struct server *s, struct request *r)
{
    pthread_mutex_lock(&s->defer_lock);
    if (s->defer_stopping) {
        pthread_mutex_unlock(&s->defer_lock);
        thread_forbid_waits(false);
        defer_run(r);
        thread_forbid_waits(true);
        return queue(r);
    }
    MHD_suspend_connection(r->conn);
    struct defer_thread *t = s->defer_idle;
    if (t) {
        s->defer_idle = t->next_idle;
        t->work = r;
        pthread_cond_signal(&t->wake);
    } else {
        r->defer_next = NULL;
        if (s->defer_tail)
            s->defer_tail->defer_next = r;
        else
            s->defer_head = r;
        s->defer_tail = r;
        if (defer_grow(s) < 0 && s->ndefer < s->defer_max)
            log_warn("http: %s; the request waits for a running one", error_message());
    }
    pthread_mutex_unlock(&s->defer_lock);
    return MHD_YES;
}

/* The next request for thread t: the oldest queued one, or one handed to
 * it once idle; NULL when the server stops. With defer_lock held. */
static struct request *defer_next(struct defer_thread *t)
{
    struct server *s = t->s;
    struct request *r = s->defer_head;
    if (r) {
        s->defer_head = r->defer_next;
        if (!s->defer_head)
            s->defer_tail = NULL;
        return r;
    }
    if (s->defer_stopping)
        return NULL;
    t->next_idle = s->defer_idle;
    s->defer_idle = t;
    while (!t->work && !s->defer_stopping)
        pthread_cond_wait(&t->wake, &s->defer_lock);
    r = t->work; /* work handed over before the stop is still done */
    t->work = NULL;
    return r;
}

static void *defer_loop(void *arg)
{
    struct defer_thread *t = arg;
    struct server *s = t->s;
    struct request *r;
    pthread_mutex_lock(&s->defer_lock);
    while ((r = defer_next(t)) != NULL) {
        pthread_mutex_unlock(&s->defer_lock);
        /* once resumed, the daemon may complete and free r at any moment */
        struct MHD_Connection *conn = r->conn;
        defer_run(r);
        MHD_resume_connection(conn);
        pthread_mutex_lock(&s->defer_lock);
    }
    pthread_mutex_unlock(&s->defer_lock);
    return NULL;
}

void http_defer(struct request *r, void (*work)(struct request *r))
{
    r->defer_work = work;
}

static struct request *request_new(struct server *s, struct MHD_Connection *conn, const char *method, const char *url)
{
    struct request *r = xcalloc(1, sizeof(*r));
    r->server = s;
    r->conn = conn;
    r->method = method;
    r->path = url;
    r->start_us = mono_us();
    buf_init(&r->body, 0);
    client_address(r);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_PROTOCOL);
    r->tls = r->secure = ci && ci->protocol != 0;
    forwarded_client(r);
    atomic_fetch_add(&s->in_flight, 1);
    metric_add(metric_get(&metric_http_in_flight, NULL), 1);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct request *r = *con_cls;

    thread_forbid_waits(true);
    if (!r) {
        watch_disarm(s, watch_of(conn));
        r = request_new(s, conn, method, url);
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
        bool body = request_has_body(r);
        if (!r->resp && !r->defer_work && r->body_mode == BODY_BUFFER && body) {
            int rc = body_reserve_declared(r);
            if (rc < 0)
                set_body_error(r, rc);
            /* no room now: answer before the body comes */
            if (rc == E_BUSY) {
                finish(r);
                if (!r->resp && !r->defer_work)
                    return queue(r); /* the surface forgot to answer */
            }
        }
        /* An answer ready before a body was read is sent at once (and the
         * connection closed, the body unread), unless the body is small
         * enough to read and discard first; without a body it waits for
         * the next call so the connection stays alive. */
        if (r->resp && body && !body_drainable(r))
            return queue(r);
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->body_bytes += n;
        if (r->resp || r->queued || r->body_error)
            return body_cut_short(r) ? MHD_NO : MHD_YES; /* answered already: drain */
        int rc = 0;
        if (r->body_mode == BODY_BUFFER)
            rc = body_buffer(r, upload_data, n);
        else if (r->body_mode == BODY_STREAM)
            rc = r->on_body(r, upload_data, n);
        else
            rc = error_set(E_INVALID, "this request takes no body");
        if (rc < 0)
            set_body_error(r, rc);
        /* closing the connection ends the request as aborted */
        return body_cut_short(r) ? MHD_NO : MHD_YES;
    }

    if (r->queued)
        return MHD_YES;
    if (!r->resp && !r->defer_work)
        finish(r);
    if (r->defer_work && !r->defer_done)
        return defer_start(s, r);
    return queue(r);
}

/* The request's share of the metrics: its count by surface, operation and
 * status, its duration, and its bytes. */
static void request_count(struct request *r, int64_t us)
{
    char code[8];
    const char *surface = r->surface ? r->surface->name : "none";
    const char *op = r->operation[0] ? r->operation : r->route ? r->route : "";
    snprintf(code, sizeof(code), "%u", r->status);
    const char *const requests[] = {surface, op, code}, *const duration[] = {surface, op}, *const bytes[] = {surface};
    metric_add(metric_get(&metric_http_requests, requests), 1);
    metric_observe_us(metric_get(&metric_http_duration, duration), us);
    if (r->body_bytes)
        metric_add(metric_get(&metric_http_received, bytes), (int64_t)r->body_bytes);
    if (r->bytes_out && r->completed_ok)
        metric_add(metric_get(&metric_http_sent, bytes), (int64_t)r->bytes_out);
    metric_add(metric_get(&metric_http_in_flight, NULL), -1);
    atomic_fetch_sub(&r->server->in_flight, 1);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct request *r = *con_cls;
    if (!r)
        return;
    r->completed_ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (!r->completed_ok && r->surface && r->surface->abort)
        r->surface->abort(r);
    int64_t us = mono_us() - r->start_us;
    request_count(r, us);
    struct log_request lr = {
        .method = r->method,
        .path = r->path,
        .operation = r->operation,
        .status = r->status,
        .bytes = r->bytes_out,
        .duration_us = us,
        .principal = r->principal,
        .client_ip = r->client_ip,
        .aborted = !r->completed_ok,
    };
    log_request(&lr);
    request_free(r);
    *con_cls = NULL;
    /* kept alive: the next request's headers are owed from now */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        watch_arm(s, watch_of(conn));
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

/* A file's bytes as a response body: read with pread() into the response's
 * own buffer and sent with send(), not with sendfile(). libmicrohttpd's
 * sendfile() path sends 128 KiB per turn of its event loop, and both it and
 * nginx's sendfile served a cached 1 GiB blob at 1.0-1.5 GB/s on the bench VM
 * against 1.9-2.6 GB/s for copying (bench/README.md, "Downloads: copy, not
 * sendfile"). 64 KiB stays in the CPU's cache between the read and the send:
 * 32 KiB and 256 KiB blocks were slower, 16 and 128 KiB much slower. */
struct fd_body {
    int fd;
    uint64_t off;
};

enum { FD_BODY_BLOCK = 64 * 1024 };

static ssize_t fd_body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct fd_body *b = cls;
    ssize_t n;
    do
        n = pread(b->fd, buf, max, (off_t)(b->off + pos));
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    /* the file ended before its length (or failed): 0 would mean "call
     * again", so end the connection instead of sending a short body */
    log_error("response body: %s at offset %" PRIu64, n < 0 ? strerror(errno) : "unexpected end of file", b->off + pos);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void fd_body_free(void *cls)
{
    struct fd_body *b = cls;
    close(b->fd);
    free(b);
}

void http_respond_fd(struct request *r, unsigned status, const char *content_type, int fd, uint64_t off, uint64_t len)
{
    struct fd_body *b = xmalloc(sizeof(*b));
    *b = (struct fd_body){.fd = fd, .off = off};
    size_t block = len < FD_BODY_BLOCK ? (size_t)(len ? len : 1) : FD_BODY_BLOCK;
    struct MHD_Response *resp = MHD_create_response_from_callback(len, block, fd_body_read, b, fd_body_free);
    if (!resp)
        fd_body_free(b);
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

const char *http_response_header(struct request *r, const char *name)
{
    return r->resp ? MHD_get_response_header(r->resp, name) : NULL;
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

/* ---- the front thread --------------------------------------------------- */

/*
 * Plain HTTP only: berth accepts connections itself and hands them to
 * libmicrohttpd, so that it can answer a TLS handshake with HTTP. Go
 * clients (docker, containerd) try HTTPS first on a registry they are told
 * is insecure and fall back to HTTP only when the answer is not TLS; an EOF
 * (what a parser gives a binary ClientHello) stops them instead. Clients
 * speak first, so the first byte tells; the front thread waits for it on
 * every new socket at once, each with its own deadline, and never on one.
 */
static const char tls_answer[] = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                                 "Content-Length: 53\r\n\r\nClient sent a TLS handshake to a plain HTTP server.\r\n\r\n";

static void pending_remove(struct server *s, struct pending *p)
{
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    list_remove(&s->pending, &p->link);
    s->npending--;
}

static void hand_over(struct server *s, int fd, const struct sockaddr_storage *addr, socklen_t len)
{
    if (atomic_load(&s->nconn) >= s->max_conn) {
        log_debug("refused a connection: %u are open", s->max_conn);
        close(fd);
        return;
    }
    atomic_fetch_add(&s->nconn, 1);
    /* on failure the daemon has closed fd and logged why (e.g. the
     * per-address limit) */
    if (MHD_add_connection(s->daemon, fd, (const struct sockaddr *)addr, len) != MHD_YES)
        atomic_fetch_sub(&s->nconn, 1);
}

/* The first byte is in (or the peer is gone): a TLS handshake gets its
 * answer, anything else goes to the daemon. */
static void pending_ready(struct server *s, struct pending *p)
{
    unsigned char first = 0;
    pending_remove(s, p);
    ssize_t k = recv(p->fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (k == 1 && first == 0x16) {
        if (send(p->fd, tls_answer, sizeof(tls_answer) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            /* the client is gone; nothing to tell it */
        }
        shutdown(p->fd, SHUT_WR);
        close(p->fd);
    } else if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
        close(p->fd); /* gone without a word */
    } else {
        hand_over(s, p->fd, &p->addr, p->addrlen);
    }
    free(p);
}

/* Silent past the sniff window: the daemon takes it, and the header
 * deadline runs from there. Returns the next deadline. */
static int64_t pending_expire(struct server *s, int64_t now)
{
    while (s->pending.head) {
        struct pending *p = (struct pending *)s->pending.head;
        if (p->deadline_us > now)
            return p->deadline_us;
        pending_remove(s, p);
        hand_over(s, p->fd, &p->addr, p->addrlen);
        free(p);
    }
    return INT64_MAX;
}

static void accept_all(struct server *s, int64_t now)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: stop looking at the listener for a
                 * moment instead of spinning on it */
                log_warn("accept: %s; pausing new connections for 100 ms", strerror(errno));
                epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
                s->accept_paused_until = now + 100000;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_error("accept: %s", strerror(errno));
            }
            return;
        }
        if (s->npending >= s->max_pending) {
            hand_over(s, fd, &addr, len);
            continue;
        }
        struct pending *p = xcalloc(1, sizeof(*p));
        p->fd = fd;
        p->addr = addr;
        p->addrlen = len;
        p->deadline_us = now + s->sniff_us;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = p};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            free(p);
            hand_over(s, fd, &addr, len);
            continue;
        }
        list_append(&s->pending, &p->link);
        s->npending++;
    }
}

static bool listen_watch(struct server *s)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->listen_fd};
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) == 0;
}

static void *front_loop(void *arg)
{
    struct server *s = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&s->stopping)) {
        int64_t now = mono_us(), next = now + FRONT_TICK_US, t;
        if ((t = pending_expire(s, now)) < next)
            next = t;
        if ((t = watch_reap(s, now)) < next)
            next = t;
        if (s->accept_paused_until && s->accept_paused_until <= now && listen_watch(s))
            s->accept_paused_until = 0;
        int n = epoll_wait(s->epfd, evs, 64, next > now ? (int)((next - now + 999) / 1000) : 0);
        now = mono_us();
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &s->listen_fd) {
                accept_all(s, now);
            } else if (p == &s->wake_fd) {
                uint64_t v;
                if (read(s->wake_fd, &v, sizeof(v)) < 0) {
                    /* nothing to do: the loop checks stopping */
                }
            } else {
                pending_ready(s, p);
            }
        }
    }
    while (s->pending.head) {
        struct pending *p = (struct pending *)s->pending.head;
        pending_remove(s, p);
        close(p->fd);
        free(p);
    }
    return NULL;
}

static int listen_socket(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), on = 1;
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

/* A process may have too few descriptors for max_connections: raise the
 * soft limit as far as the hard one allows. */
static void raise_fd_limit(unsigned max_connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_connections * 2 + 256; /* sniffed, served, and files */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        log_warn("only %llu file descriptors for %u connections: raise the limit (ulimit -n)", (unsigned long long)rl.rlim_cur,
                 max_connections);
}

/* The daemon's own messages. Under a flood of bad clients it writes one per
 * connection ("closed with incomplete request", "reached connection
 * limit"): one a second is a warning, the rest are debug lines. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static _Atomic int64_t last_warn_us;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    int64_t now = mono_us(), last = atomic_load(&last_warn_us);
    if (now - last >= 1000000 && atomic_compare_exchange_strong(&last_warn_us, &last, now))
        log_warn("http: %s", msg);
    else
        log_debug("http: %s", msg);
}

static void server_free(struct server *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    pthread_mutex_destroy(&s->watch_lock);
    pthread_mutex_destroy(&s->defer_lock);
    free(s->defer_threads);
    free(s->tls_cert);
    free(s->tls_key);
    forwarded_proxies_release(&s->proxies);
    free(s);
}

static void defer_stop(struct server *s)
{
    pthread_mutex_lock(&s->defer_lock);
    s->defer_stopping = true;
    unsigned n = s->ndefer; /* no thread starts once stopping */
    for (unsigned i = 0; i < n; i++)
        pthread_cond_signal(&s->defer_threads[i].wake);
    pthread_mutex_unlock(&s->defer_lock);
    for (unsigned i = 0; i < n; i++) {
        pthread_join(s->defer_threads[i].id, NULL);
        pthread_cond_destroy(&s->defer_threads[i].wake);
    }
    metric_add(metric_get(&metric_http_defer_threads, NULL), -(int64_t)n);
    s->ndefer = 0;
}

static void front_stop(struct server *s)
{
    if (!s->front_running)
        return;
    atomic_store(&s->stopping, 1);
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof(one)) < 0) {
        /* an eventfd write only fails on overflow: the loop is awake anyway */
    }
    pthread_join(s->front, NULL);
    s->front_running = false;
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
    s->listen_fd = s->epfd = s->wake_fd = -1;
    s->plain = !(opt->tls_cert_file && *opt->tls_cert_file);
    pthread_mutex_init(&s->watch_lock, NULL);
    pthread_mutex_init(&s->defer_lock, NULL);
    unsigned header_timeout_s = opt->header_timeout_s ? opt->header_timeout_s : DEFAULT_HEADER_TIMEOUT_S;
    unsigned max_conn = opt->max_connections ? opt->max_connections : DEFAULT_MAX_CONNECTIONS;
    s->header_timeout_us = (int64_t)header_timeout_s * 1000000;
    s->sniff_us = SNIFF_US < s->header_timeout_us ? SNIFF_US : s->header_timeout_us;
    s->max_pending = max_conn;
    s->max_conn = max_conn;
    s->budget_max = opt->body_budget_bytes ? opt->body_budget_bytes : DEFAULT_BODY_BUDGET;
    if ((rc = forwarded_proxies_parse(&s->proxies, opt->trusted_proxies)) < 0) {
        server_free(s);
        return rc;
    }
    raise_fd_limit(max_conn);

    s->defer_max = opt->defer_threads ? opt->defer_threads : DEFAULT_DEFER_THREADS;
    s->defer_threads = xcalloc(s->defer_max, sizeof(*s->defer_threads));
    pthread_mutex_lock(&s->defer_lock);
    while (s->ndefer < s->defer_max && s->ndefer < DEFER_THREADS_AT_START && (rc = defer_grow(s)) == 0)
        ;
    pthread_mutex_unlock(&s->defer_lock);
    if (rc < 0) {
        defer_stop(s);
        server_free(s);
        return rc;
    }

    /* ITC: MHD_quiesce_daemon() needs it with TLS, where the daemon listens */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    bool tls = opt->tls_cert_file && *opt->tls_cert_file;
    if (tls) {
        s->tls_cert = read_file_whole(opt->tls_cert_file);
        s->tls_key = read_file_whole(opt->tls_key_file ? opt->tls_key_file : "");
        if (!s->tls_cert || !s->tls_key) {
            defer_stop(s);
            server_free(s);
            return error_set(E_INVALID, "cannot read TLS certificate '%s' or key '%s'", opt->tls_cert_file,
                             opt->tls_key_file ? opt->tls_key_file : "");
        }
        flags |= MHD_USE_TLS;
    }
    uint16_t port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    /* Bodies arrive in pieces of up to about half the connection memory;
     * 512 KiB keeps write(2) and SHA-256 calls large. Headers that do not
     * fit in it are answered 431 by the daemon. */
    size_t conn_mem = 512 * 1024;
    struct MHD_OptionItem ops[16];
    int n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    if (opt->threads > 1)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, opt->threads, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)conn_mem, NULL};
    /* idle time while a body or the response is under way */
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 300, NULL};
    /* with TLS the daemon accepts and keeps the limit, each thread its
     * share; without, see nconn */
    unsigned daemon_limit = tls ? max_conn : max_conn * (opt->threads > 1 ? opt->threads : 1) + 16;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, daemon_limit, NULL};
    if (opt->max_connections_per_ip)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, opt->max_connections_per_ip, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s};
    if (tls) {
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
    }
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    if (tls)
        s->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    else if ((s->listen_fd = listen_socket(&ss, sslen)) >= 0)
        s->daemon = MHD_start_daemon(flags | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, s,
                                     MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    bool front = s->daemon && (s->epfd = epoll_create1(EPOLL_CLOEXEC)) >= 0 &&
                 (s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) >= 0;
    if (front) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->wake_fd};
        front = epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_fd, &ev) == 0 && (s->listen_fd < 0 || listen_watch(s)) &&
                pthread_create(&s->front, NULL, front_loop, s) == 0;
        s->front_running = front;
    }
    if (!front) {
        defer_stop(s);
        if (s->daemon)
            MHD_stop_daemon(s->daemon);
        server_free(s);
        return error_set(E_ERROR, "cannot listen on '%s' (address in use, or not allowed)", opt->listen);
    }
    *out = s;
    return 0;
}

/*
 * While draining: ends the connections whose client has hung up or reset.
 * The daemon watches sockets edge-triggered, and a client that leaves
 * while its request sits unread (answered before its body, or stalled) may
 * give it no further event: such a request would hold the shutdown to its
 * deadline for nobody. shutdown() wakes the daemon, which then closes the
 * connection on its own thread (as watch_reap() does).
 */
static void reap_gone(struct server *s)
{
    pthread_mutex_lock(&s->watch_lock);
    for (struct link *l = s->conns.head; l; l = l->next) {
        struct conn_watch *w = WATCH_OF_ALL(l);
        struct pollfd p = {.fd = w->fd, .events = POLLRDHUP};
        if (w->fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            shutdown(w->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&s->watch_lock);
}

unsigned server_drain(struct server *s, int64_t timeout_ms)
{
    if (!s)
        return 0;
    atomic_store(&s->draining, 1);
    front_stop(s);
    if (s->plain && s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    } else if (!s->plain) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    int64_t deadline = mono_us() + timeout_ms * 1000;
    unsigned n;
    for (int i = 0; (n = atomic_load(&s->in_flight)) > 0 && mono_us() < deadline; i++) {
        if (i % 10 == 0)
            reap_gone(s);
        usleep(10000);
    }
    return n;
}

/* New connections stop first; then deferred work finishes and its
 * connections are resumed (the daemon must have none suspended when it
 * stops); then the daemon ends what is left. */
void server_stop(struct server *s)
{
    if (!s)
        return;
    front_stop(s);
    defer_stop(s);
    MHD_stop_daemon(s->daemon);
    server_free(s);
}
