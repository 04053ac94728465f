/*
 * Unit tests for src/store/events.c against a fresh data directory per
 * test: deliveries come out of a stream oldest first (and after a given
 * one), each stream and webhook apart; attempts and batched successes are
 * recorded; listings filter by webhook and state; the streams with pending
 * deliveries are found for a restart; removing a webhook removes its
 * deliveries; pruning keeps what is pending or recent and removes the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/log.h"
#include "store/events.h"
#include "store/internal.h"
#include "store/store.h"
#include "tmpdir.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    log_level = LOG_ERROR;
    snprintf(dir, sizeof(dir), "/tmp/berth-events-XXXXXX");
    if (!mkdtemp(dir) || store_open(dir) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close_thread();
    return tmpdir_remove(dir);
}

static void add_webhook(const char *id)
{
    struct webhook w = {.url = "http://127.0.0.1:9/x", .secret_enc = "sb1:sealed", .filter = "", .created_ms = 1};
    snprintf(w.id, sizeof(w.id), "%s", id);
    assert_int_equal(store_webhook_put(&w), 0);
}

/* An event of stream at ms, delivered to each webhook given; its seq. */
static int64_t add_event(const char *id, const char *stream, int64_t ms, const char *w1, const char *w2)
{
    int64_t seq = 0;
    struct event_row e = {id, "ECR Image Action", stream, "{\"detail\":{}}", ms};
    assert_int_equal(store_event_add(&e, &seq), 0);
    if (w1)
        assert_int_equal(store_delivery_add(w1, seq, stream, ms), 0);
    if (w2)
        assert_int_equal(store_delivery_add(w2, seq, stream, ms), 0);
    return seq;
}

/* The event id of the next pending delivery of (webhook, stream) after
 * after (copied to out; "" when none), and its delivery id. */
static int64_t next(char out[EVENT_ID_MAX], const char *webhook, const char *stream, int64_t after)
{
    struct delivery d;
    int rc = store_delivery_next(webhook, stream, after, &d);
    assert_true(rc >= 0);
    out[0] = '\0';
    if (rc == 0)
        return 0;
    snprintf(out, EVENT_ID_MAX, "%s", d.event_id);
    assert_string_equal(d.body, "{\"detail\":{}}");
    int64_t id = d.id;
    delivery_release(&d);
    return id;
}

static void test_order_per_stream(void **state)
{
    (void)state;
    char ev[EVENT_ID_MAX];
    add_webhook("wh-a");
    add_webhook("wh-b");
    add_event("e1", "1/r", 10, "wh-a", "wh-b");
    add_event("e2", "1/s", 11, "wh-a", NULL);
    add_event("e3", "1/r", 12, "wh-a", NULL);
    int64_t d1 = next(ev, "wh-a", "1/r", 0);
    assert_string_equal(ev, "e1");
    int64_t d3 = next(ev, "wh-a", "1/r", d1);
    assert_string_equal(ev, "e3");
    assert_int_equal(next(ev, "wh-a", "1/r", d3), 0);
    next(ev, "wh-a", "1/s", 0);
    assert_string_equal(ev, "e2");
    next(ev, "wh-b", "1/r", 0);
    assert_string_equal(ev, "e1");
    /* a failed attempt keeps it pending and first; a given-up one lets the next go */
    assert_int_equal(store_delivery_attempted(d1, "pending", 500, "HTTP 500", 99, 0), 0);
    assert_int_equal(next(ev, "wh-a", "1/r", 0), d1);
    assert_int_equal(store_delivery_attempted(d1, "failed", 500, "HTTP 500", 0, 100), 0);
    assert_int_equal(next(ev, "wh-a", "1/r", 0), d3);
    int status = 204;
    assert_int_equal(store_deliveries_delivered(&d3, &status, 1, 101), 0);
    assert_int_equal(next(ev, "wh-a", "1/r", 0), 0);
}

struct seen {
    char rows[8][200];
    int n;
};

static int collect(void *ctx, const struct delivery *d)
{
    struct seen *s = ctx;
    if (s->n < 8)
        snprintf(s->rows[s->n++], sizeof(s->rows[0]), "%s %s %s %d %d %s", d->webhook_id, d->event_id, d->state, d->attempts,
                 d->last_status, d->last_error ? d->last_error : "-");
    return 0;
}

static int collect_stream(void *ctx, const char *webhook, const char *stream, int64_t due)
{
    struct seen *s = ctx;
    if (s->n < 8)
        snprintf(s->rows[s->n++], sizeof(s->rows[0]), "%s %s %lld", webhook, stream, (long long)due);
    return 0;
}

static void test_listings_streams_and_removal(void **state)
{
    (void)state;
    add_webhook("wh-a");
    add_webhook("wh-b");
    add_event("e1", "1/r", 10, "wh-a", "wh-b");
    add_event("e2", "1/s", 20, "wh-a", NULL);
    struct delivery d;
    assert_int_equal(store_delivery_next("wh-a", "1/r", 0, &d), 1);
    assert_int_equal(store_delivery_attempted(d.id, "pending", 0, "Couldn't connect to server", 50, 0), 0);
    delivery_release(&d);

    struct seen s = {0};
    assert_int_equal(store_deliveries_each(NULL, NULL, 100, collect, &s), 0);
    assert_int_equal(s.n, 3); /* newest first */
    assert_string_equal(s.rows[0], "wh-a e2 pending 0 0 -");
    assert_string_equal(s.rows[1], "wh-b e1 pending 0 0 -");
    assert_string_equal(s.rows[2], "wh-a e1 pending 1 0 Couldn't connect to server");
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_deliveries_each("wh-b", "pending", 100, collect, &s), 0);
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_deliveries_each(NULL, "delivered", 100, collect, &s), 0);
    assert_int_equal(s.n, 0);

    memset(&s, 0, sizeof(s));
    assert_int_equal(store_delivery_streams(collect_stream, &s), 0);
    qsort(s.rows, (size_t)s.n, sizeof(s.rows[0]), (int (*)(const void *, const void *))strcmp);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.rows[0], "wh-a 1/r 50"); /* due when its first delivery is */
    assert_string_equal(s.rows[1], "wh-a 1/s 20");
    assert_string_equal(s.rows[2], "wh-b 1/r 10");

    assert_int_equal(store_webhook_delete("wh-a"), 0);
    assert_int_equal(store_webhook_delete("wh-a"), E_NOTFOUND);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_deliveries_each(NULL, NULL, 100, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.rows[0], "wh-b e1 pending 0 0 -");
}

static int64_t count(const char *sql)
{
    int64_t n = -1;
    assert_int_equal(db_count(db_stmt(sql), &n, "count"), 0);
    return n;
}

static void test_prune(void **state)
{
    (void)state;
    add_webhook("wh-a");
    int64_t ids[3];
    int status[3] = {200, 200, 200};
    char ev[EVENT_ID_MAX];
    add_event("old-done", "1/r", 10, "wh-a", NULL);
    ids[0] = next(ev, "wh-a", "1/r", 0);
    add_event("old-pending", "1/s", 10, "wh-a", NULL);
    add_event("new-done", "1/t", 500, "wh-a", NULL);
    ids[1] = next(ev, "wh-a", "1/t", 0);
    add_event("old-unwanted", "1/u", 10, NULL, NULL);
    assert_int_equal(store_deliveries_delivered(&ids[0], &status[0], 1, 20), 0);
    assert_int_equal(store_deliveries_delivered(&ids[1], &status[1], 1, 600), 0);
    int64_t removed = 0;
    assert_int_equal(store_events_prune(100, &removed), 0);
    /* the old delivered delivery, its event and the event nobody needed */
    assert_int_equal(removed, 3);
    assert_int_equal(count("SELECT count(*) FROM events WHERE id IN ('old-pending', 'new-done')"), 2);
    assert_int_equal(count("SELECT count(*) FROM events"), 2);
    assert_int_equal(count("SELECT count(*) FROM webhook_deliveries"), 2);
    assert_int_equal(store_events_prune(100, &removed), 0);
    assert_int_equal(removed, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_order_per_stream),
        T(test_listings_streams_and_removal),
        T(test_prune),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
