/*
 * Unit tests for src/http/server.c: a real server on a loopback port with a
 * small test surface. http_defer() keeps the HTTP thread free while work
 * sleeps on the defer pool, survives clients that leave and a server that
 * stops; the body budget refuses what does not fit and gives bytes back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "core/error.h"
#include "core/util.h"
#include "http/server.h"

#define WORK_US 500000

static atomic_int works_done;

static void sleepy(struct request *r)
{
    static const char msg[] = "slow done";
    usleep(WORK_US);
    atomic_fetch_add(&works_done, 1);
    http_respond(r, 200, "text/plain", msg, sizeof(msg) - 1);
}

static bool t_claims(struct request *r)
{
    return true;
}

static void t_begin(struct request *r)
{
    if (strcmp(r->path, "/fast") == 0) {
        http_respond(r, 200, "text/plain", "fast", 4);
    } else if (strcmp(r->path, "/slow-begin") == 0) {
        http_defer(r, sleepy);
    } else if (strcmp(r->path, "/budget") == 0) {
        r->body_mode = BODY_BUFFER;
        r->body.max = 1 << 20;
    }
}

static void t_finish(struct request *r)
{
    char msg[64];
    if (strcmp(r->path, "/slow") == 0) {
        http_defer(r, sleepy);
        return;
    }
    if (r->body_error) {
        unsigned status = r->body_error == E_BUSY ? 503 : r->body_error == E_TOOBIG ? 413 : 400;
        http_respond(r, status, "text/plain", error_message(), strlen(error_message()));
        return;
    }
    int n = snprintf(msg, sizeof(msg), "%zu", r->body.len);
    http_respond(r, 200, "text/plain", msg, (size_t)n);
}

static const struct surface test_surface = {"test", t_claims, t_begin, t_finish, NULL, NULL};
static const struct surface *const surfaces[] = {&test_surface, NULL};

static int port;

static struct server *start(unsigned threads, uint64_t budget)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    struct server_options opt = {.listen = listen, .threads = threads, .surfaces = surfaces, .body_budget_bytes = budget};
    struct server *s = NULL;
    assert_int_equal(server_start(&s, &opt), 0);
    return s;
}

struct fetch {
    const char *path;
    long timeout_ms;
    long status;
    char body[64];
    size_t len;
    int64_t us;
    pthread_t th;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct fetch *f = ud;
    size_t k = size * n;
    if (k > sizeof(f->body) - 1 - f->len)
        k = sizeof(f->body) - 1 - f->len;
    memcpy(f->body + f->len, p, k);
    f->len += k;
    f->body[f->len] = '\0';
    return size * n;
}

static void *fetch_run(void *arg)
{
    struct fetch *f = arg;
    char url[128];
    CURL *c = curl_easy_init();
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, f->path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, f->timeout_ms ? f->timeout_ms : 10000L);
    int64_t t0 = mono_us();
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
    f->us = mono_us() - t0;
    curl_easy_cleanup(c);
    return NULL;
}

static void fetch_start(struct fetch *f)
{
    assert_int_equal(pthread_create(&f->th, NULL, fetch_run, f), 0);
}

/* Four requests sleep on the defer pool (two deferred from finish(), two
 * from begin()) while the server has one HTTP thread: a fifth request is
 * still answered at once, and the four complete with their responses. */
static void test_defer_keeps_http_thread_free(void **state)
{
    struct server *s = start(1, 0);
    struct fetch slow[4] = {{.path = "/slow"}, {.path = "/slow"}, {.path = "/slow-begin"}, {.path = "/slow-begin"}};
    struct fetch fast = {.path = "/fast"};
    atomic_store(&works_done, 0);
    int64_t t0 = mono_us();
    for (int i = 0; i < 4; i++)
        fetch_start(&slow[i]);
    usleep(150000);
    fetch_run(&fast);
    assert_int_equal(fast.status, 200);
    assert_string_equal(fast.body, "fast");
    assert_true(atomic_load(&works_done) == 0); /* the four were still deferred */
    assert_true(fast.us < 50000);
    for (int i = 0; i < 4; i++) {
        pthread_join(slow[i].th, NULL);
        assert_int_equal(slow[i].status, 200);
        assert_string_equal(slow[i].body, "slow done");
        assert_true(slow[i].us >= WORK_US - 10000);
    }
    /* on four defer threads the four ran side by side */
    assert_true(mono_us() - t0 < 2 * WORK_US);
    server_stop(s);
    printf("fast request while 4 deferred: %.2f ms\n", fast.us / 1000.0);
}

/* The client gives up while its work runs: the work completes, the server
 * drops the answer and keeps serving. */
static void test_defer_client_gone(void **state)
{
    struct server *s = start(2, 0);
    struct fetch gone = {.path = "/slow", .timeout_ms = 100};
    struct fetch after = {.path = "/fast"};
    atomic_store(&works_done, 0);
    fetch_run(&gone);
    assert_int_equal(gone.status, 0);
    usleep(WORK_US + 200000);
    assert_int_equal(atomic_load(&works_done), 1);
    fetch_run(&after);
    assert_int_equal(after.status, 200);
    server_stop(s);
}

/* Stopping waits for deferred work to end and resumes its connection
 * before the daemon stops (libmicrohttpd aborts on a suspended one). */
static void test_stop_while_deferred(void **state)
{
    struct server *s = start(2, 0);
    struct fetch f = {.path = "/slow"};
    atomic_store(&works_done, 0);
    fetch_start(&f);
    usleep(150000);
    int64_t t0 = mono_us();
    server_stop(s);
    int64_t took = mono_us() - t0;
    assert_int_equal(atomic_load(&works_done), 1);
    assert_true(took < 2 * WORK_US);
    pthread_join(f.th, NULL);
}

static int connect_local(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        assert_true(k > 0);
        c += k;
        n -= (size_t)k;
    }
}

/* Reads until the peer closes or the status line and body are in; returns
 * the status. */
static int read_status(int fd, char *out, size_t size)
{
    size_t len = 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (len < size - 1) {
        ssize_t k = recv(fd, out + len, size - 1 - len, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
        out[len] = '\0';
        char *end = strstr(out, "\r\n\r\n");
        char *cl = strcasestr(out, "Content-Length: ");
        if (end && cl && (size_t)(out + len - (end + 4)) >= strtoul(cl + 16, NULL, 10))
            break;
    }
    out[len] = '\0';
    return len > 12 ? (int)strtol(out + 9, NULL, 10) : -1;
}

static int post(size_t n, bool chunked, char *out, size_t size)
{
    char head[256];
    char *body = calloc(1, n ? n : 1);
    memset(body, 'x', n);
    int fd = connect_local();
    if (chunked) {
        snprintf(head, sizeof(head), "POST /budget HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n", n);
        send_all(fd, head, strlen(head));
        send_all(fd, body, n);
        send_all(fd, "\r\n0\r\n\r\n", 7);
    } else {
        snprintf(head, sizeof(head), "POST /budget HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
        send_all(fd, head, strlen(head));
        send_all(fd, body, n);
    }
    int status = read_status(fd, out, size);
    close(fd);
    free(body);
    return status;
}

/* A 64 KiB budget: what fits is served, what does not is refused before
 * its body (declared length) or as it arrives (chunked), and a request
 * holds its share only until it ends. */
static void test_body_budget(void **state)
{
    struct server *s = start(2, 64 << 10);
    char resp[4096];
    assert_int_equal(post(32 << 10, false, resp, sizeof(resp)), 200);
    assert_non_null(strstr(resp, "\r\n\r\n32768"));
    assert_int_equal(post(32 << 10, true, resp, sizeof(resp)), 200);
    assert_int_equal(post(100 << 10, true, resp, sizeof(resp)), 503);
    assert_non_null(strstr(resp, "buffered request bodies"));
    assert_int_equal(post(2 << 20, false, resp, sizeof(resp)), 413);

    /* a declared 300 KiB is refused without a byte of its body; a declared
     * 100 KiB (under the 256 KiB that is read before an early answer) is
     * refused once its body was read and discarded, on a connection kept open */
    int fd = connect_local();
    const char *h = "POST /budget HTTP/1.1\r\nHost: t\r\nContent-Length: 307200\r\n\r\n";
    send_all(fd, h, strlen(h));
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 503);
    assert_non_null(strcasestr(resp, "Connection: close"));
    close(fd);
    assert_int_equal(post(100 << 10, false, resp, sizeof(resp)), 503);
    assert_null(strcasestr(resp, "Connection: close"));

    /* one request holds 40 KiB: a second one does not fit until it ends */
    int hold = connect_local();
    h = "POST /budget HTTP/1.1\r\nHost: t\r\nContent-Length: 40960\r\n\r\n";
    send_all(hold, h, strlen(h));
    usleep(100000);
    assert_int_equal(post(40 << 10, false, resp, sizeof(resp)), 503);
    char *body = calloc(1, 40 << 10);
    memset(body, 'y', 40 << 10);
    send_all(hold, body, 40 << 10);
    free(body);
    assert_int_equal(read_status(hold, resp, sizeof(resp)), 200);
    close(hold);
    assert_int_equal(post(40 << 10, false, resp, sizeof(resp)), 200);
    server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defer_keeps_http_thread_free),
        cmocka_unit_test(test_defer_client_gone),
        cmocka_unit_test(test_stop_while_deferred),
        cmocka_unit_test(test_body_budget),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
