/*
 * This module implements the rows of events (store/events.h) on SQLite:
 * the outbox table events, the webhooks and their deliveries.
 *
 * A delivery's id orders it within its stream: writers take the database
 * in turn (BEGIN IMMEDIATE), so ids grow in the order the changes that
 * wrote them committed, and the oldest pending delivery of a stream is the
 * one to send next. Removing a webhook removes its deliveries; an event
 * is removed by pruning once no delivery needs it.
 */
#include "store/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "store/internal.h"
#include "store/locks.h"
#include "store/store.h"

void webhook_release(struct webhook *w)
{
    free(w->url);
    free(w->secret_enc);
    free(w->filter);
    w->url = w->secret_enc = w->filter = NULL;
}

void delivery_release(struct delivery *d)
{
    free(d->stream);
    free(d->last_error);
    free(d->body);
    d->stream = d->last_error = d->body = NULL;
}

int store_webhook_put(const struct webhook *w)
{
    struct db_statement *st =
        db_stmt("INSERT INTO webhooks(id, url, secret_enc, filter, created_at) VALUES(?1, ?2, ?3, ?4, ?5)");
    db_bind_text(st, 1, w->id);
    db_bind_text(st, 2, w->url);
    db_bind_text(st, 3, w->secret_enc);
    db_bind_text(st, 4, w->filter ? w->filter : "");
    db_bind_int64(st, 5, w->created_ms);
    int rc = db_done(st, "add webhook");
    if (rc == E_EXISTS)
        return error_set(E_EXISTS, "webhook '%s' exists", w->id);
    return rc;
}

int store_webhook_delete(const char *id)
{
    struct db_statement *st = db_stmt("DELETE FROM webhooks WHERE id = ?1");
    db_bind_text(st, 1, id);
    int rc = db_done(st, "remove webhook");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "no webhook '%s'", id);
    return rc;
}

static void webhook_from_row(struct db_statement *st, struct webhook *w)
{
    db_col_copy(w->id, sizeof(w->id), st, 0);
    w->url = xstrdup(db_col_text(st, 1));
    w->secret_enc = xstrdup(db_col_text(st, 2));
    w->filter = xstrdup(db_col_text(st, 3));
    w->created_ms = db_col_int64(st, 4);
}

int store_webhook_get(const char *id, struct webhook *out)
{
    struct db_statement *st = db_stmt("SELECT id, url, secret_enc, filter, created_at FROM webhooks WHERE id = ?1");
    db_bind_text(st, 1, id);
    int rc = db_row(st, "webhook");
    if (rc == 1)
        webhook_from_row(st, out);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "no webhook '%s'", id);
    return rc < 0 ? rc : 0;
}

struct webhook_list {
    struct webhook *w;
    size_t n, cap;
};

static int collect_webhook(struct db_statement *st, void *ctx)
{
    struct webhook_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->w = xrealloc(l->w, l->cap * sizeof(*l->w));
    }
    webhook_from_row(st, &l->w[l->n++]);
    return 0;
}

int store_webhooks_each(int (*fn)(void *ctx, const struct webhook *w), void *ctx)
{
    struct webhook_list l = {0};
    struct db_statement *st = db_stmt("SELECT id, url, secret_enc, filter, created_at FROM webhooks ORDER BY created_at, id");
    int rc = db_each_row(st, "list webhooks", collect_webhook, &l);
    for (size_t i = 0; i < l.n; i++) {
        if (rc == 0 && fn(ctx, &l.w[i]))
            rc = 1;
        webhook_release(&l.w[i]);
    }
    free(l.w);
    return rc < 0 ? rc : 0;
}

int store_event_add(const struct event_row *e, int64_t *seq_out)
{
    /* not RETURNING, which SQLite runs through a temporary file: the seq is found by the unique ID */
    struct db_statement *st = db_stmt("INSERT INTO events(id, detail_type, stream, body, created_at) VALUES(?1, ?2, ?3, ?4, ?5)");
    db_bind_text(st, 1, e->id);
    db_bind_text(st, 2, e->detail_type);
    db_bind_text(st, 3, e->stream);
    db_bind_text(st, 4, e->body);
    db_bind_int64(st, 5, e->created_ms);
    int rc = db_done(st, "add event");
    if (rc < 0)
        return rc;
    st = db_stmt("SELECT seq FROM events WHERE id = ?1");
    db_bind_text(st, 1, e->id);
    rc = db_row(st, "add event");
    if (rc == 1)
        *seq_out = db_col_int64(st, 0);
    else if (rc == 0)
        rc = error_set(E_ERROR, "database: add event: no row");
    db_reset(st);
    return rc < 0 ? rc : 0;
}

int store_delivery_add(const char *webhook_id, int64_t event_seq, const char *stream, int64_t now)
{
    struct db_statement *st = db_stmt("INSERT INTO webhook_deliveries(webhook_id, event_seq, stream, next_attempt, created_at)"
                               " VALUES(?1, ?2, ?3, ?4, ?4)");
    db_bind_text(st, 1, webhook_id);
    db_bind_int64(st, 2, event_seq);
    db_bind_text(st, 3, stream);
    db_bind_int64(st, 4, now);
    return db_done(st, "add delivery");
}

#define DELIVERY_COLUMNS                                                                                                   \
    "d.id, d.webhook_id, e.id, e.detail_type, d.stream, d.state, d.attempts, d.last_status, d.last_error,"              \
    " d.next_attempt, d.finished_at, d.created_at"

static void delivery_from_row(struct db_statement *st, struct delivery *d)
{
    memset(d, 0, sizeof(*d));
    d->id = db_col_int64(st, 0);
    db_col_copy(d->webhook_id, sizeof(d->webhook_id), st, 1);
    db_col_copy(d->event_id, sizeof(d->event_id), st, 2);
    db_col_copy(d->detail_type, sizeof(d->detail_type), st, 3);
    d->stream = xstrdup(db_col_text(st, 4));
    db_col_copy(d->state, sizeof(d->state), st, 5);
    d->attempts = db_col_int(st, 6);
    d->last_status = db_col_int(st, 7);
    d->last_error = db_col_dup(st, 8);
    d->next_attempt = db_col_int64(st, 9);
    d->finished_at = db_col_int64(st, 10);
    d->created_at = db_col_int64(st, 11);
}

int store_delivery_next(const char *webhook_id, const char *stream, int64_t after_id, struct delivery *out)
{
    struct db_statement *st = db_stmt("SELECT " DELIVERY_COLUMNS ", e.body FROM webhook_deliveries d"
                               " JOIN events e ON e.seq = d.event_seq"
                               " WHERE d.webhook_id = ?1 AND d.stream = ?2 AND d.state = 'pending' AND d.id > ?3"
                               " ORDER BY d.id LIMIT 1");
    db_bind_text(st, 1, webhook_id);
    db_bind_text(st, 2, stream);
    db_bind_int64(st, 3, after_id);
    int rc = db_row(st, "next delivery");
    if (rc == 1) {
        delivery_from_row(st, out);
        out->body = xstrdup(db_col_text(st, 12));
    }
    db_reset(st);
    return rc;
}

int store_delivery_attempted(int64_t id, const char *state, int status, const char *error, int64_t next_attempt,
                             int64_t finished_at)
{
    struct db_statement *st = db_stmt("UPDATE webhook_deliveries SET state = ?2, attempts = attempts + 1, last_status = ?3,"
                               " last_error = ?4, next_attempt = ?5, finished_at = ?6 WHERE id = ?1");
    db_bind_int64(st, 1, id);
    db_bind_text(st, 2, state);
    db_bind_int64(st, 3, status);
    db_bind_text(st, 4, error);
    db_bind_int64(st, 5, next_attempt);
    db_bind_int64(st, 6, finished_at);
    return db_done(st, "record delivery");
}

int store_deliveries_delivered(const int64_t *ids, const int *statuses, size_t n, int64_t now)
{
    /* rows of the delivering job's own (one webhook and stream) */
    int rc = store_begin_shared();
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct db_statement *st = db_stmt("UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1,"
                                   " last_status = ?2, last_error = NULL, next_attempt = 0, finished_at = ?3"
                                   " WHERE id = ?1");
        db_bind_int64(st, 1, ids[i]);
        db_bind_int64(st, 2, statuses[i]);
        db_bind_int64(st, 3, now);
        rc = db_done(st, "record deliveries");
    }
    if (rc == 0 && (rc = store_commit()) == 0)
        return 0;
    store_rollback();
    return rc;
}

struct delivery_walk {
    int (*fn)(void *ctx, const struct delivery *d);
    void *ctx;
};

static int delivery_row(struct db_statement *st, void *ctx)
{
    struct delivery_walk *w = ctx;
    struct delivery d;
    delivery_from_row(st, &d);
    int stop = w->fn(w->ctx, &d);
    delivery_release(&d);
    return stop;
}

int store_deliveries_each(const char *webhook_id, const char *state, int limit,
                          int (*fn)(void *ctx, const struct delivery *d), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq"
                               " WHERE (CAST(?1 AS TEXT) IS NULL OR d.webhook_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR d.state = ?2)"
                               " ORDER BY d.id DESC LIMIT ?3");
    db_bind_text(st, 1, webhook_id);
    db_bind_text(st, 2, state);
    db_bind_int64(st, 3, limit);
    struct delivery_walk w = {fn, ctx};
    return db_each_row(st, "list deliveries", delivery_row, &w);
}

struct stream_list {
    char (*webhook)[WEBHOOK_ID_MAX];
    char **stream;
    int64_t *due;
    size_t n, cap;
};

static int collect_stream(struct db_statement *st, void *ctx)
{
    struct stream_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->webhook = xrealloc(l->webhook, l->cap * sizeof(*l->webhook));
        l->stream = xrealloc(l->stream, l->cap * sizeof(*l->stream));
        l->due = xrealloc(l->due, l->cap * sizeof(*l->due));
    }
    db_col_copy(l->webhook[l->n], WEBHOOK_ID_MAX, st, 0);
    l->stream[l->n] = xstrdup(db_col_text(st, 1));
    l->due[l->n] = db_col_int64(st, 2);
    l->n++;
    return 0;
}

int store_delivery_streams(int (*fn)(void *ctx, const char *webhook_id, const char *stream, int64_t due), void *ctx)
{
    struct stream_list l = {0};
    struct db_statement *st = db_stmt("SELECT webhook_id, stream, min(next_attempt) FROM webhook_deliveries"
                               " WHERE state = 'pending' GROUP BY webhook_id, stream");
    int rc = db_each_row(st, "pending deliveries", collect_stream, &l);
    for (size_t i = 0; i < l.n; i++) {
        if (rc == 0 && fn(ctx, l.webhook[i], l.stream[i], l.due[i]))
            rc = 1;
        free(l.stream[i]);
    }
    free(l.webhook);
    free(l.stream);
    free(l.due);
    return rc < 0 ? rc : 0;
}

int store_events_prune(int64_t cutoff, int64_t *removed_out)
{
    int64_t removed = 0;
    int rc = store_begin();
    if (rc < 0)
        return rc;
    struct db_statement *st = db_stmt("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < ?1");
    db_bind_int64(st, 1, cutoff);
    if ((rc = db_done(st, "prune deliveries")) == 0) {
        removed += db_changes();
        st = db_stmt("DELETE FROM events WHERE created_at < ?1"
                     " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = events.seq)");
        db_bind_int64(st, 1, cutoff);
        rc = db_done(st, "prune events");
    }
    if (rc == 0) {
        removed += db_changes();
        rc = store_commit();
    }
    if (rc < 0) {
        store_rollback();
        return rc;
    }
    if (removed_out)
        *removed_out = removed;
    return 0;
}
