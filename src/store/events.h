/*
 * The rows of events (events/events.h): the outbox of ECR events, the
 * webhooks an operator configured, and one delivery per (webhook, event).
 * A stream names what is delivered in order, "<account>/<repository>".
 * Times are milliseconds since the epoch.
 */
#ifndef BERTH_STORE_EVENTS_H
#define BERTH_STORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_ID_MAX 32
#define EVENT_ID_MAX 40
#define EVENT_TYPE_MAX 64

struct webhook {
    char id[WEBHOOK_ID_MAX];
    char *url;
    char *secret_enc; /* sealed (auth/keystore.h) */
    char *filter;     /* "" when it takes every event */
    int64_t created_ms;
};
void webhook_release(struct webhook *w);

/* E_EXISTS when the id is taken. */
int store_webhook_put(const struct webhook *w);
/* E_NOTFOUND when there is none; its deliveries go with it. */
int store_webhook_delete(const char *id);
int store_webhook_get(const char *id, struct webhook *out);
/* Every webhook, oldest first; fn is called after the query is done, so it
 * may use the store; non-zero stops. */
int store_webhooks_each(int (*fn)(void *ctx, const struct webhook *w), void *ctx);

struct event_row {
    const char *id;          /* the event's uuid */
    const char *detail_type; /* "ECR Image Action", ... */
    const char *stream;
    const char *body;        /* the event, JSON */
    int64_t created_ms;
};
/* Adds an event to the outbox; *seq_out its position. */
int store_event_add(const struct event_row *e, int64_t *seq_out);
/* A pending delivery of event seq to webhook_id, due at now. */
int store_delivery_add(const char *webhook_id, int64_t event_seq, const char *stream, int64_t now);

struct delivery {
    int64_t id;
    char webhook_id[WEBHOOK_ID_MAX];
    char event_id[EVENT_ID_MAX];
    char detail_type[EVENT_TYPE_MAX];
    char *stream;
    char state[12]; /* pending, delivered, failed */
    int attempts;
    int last_status; /* the last HTTP status; 0 when none came */
    char *last_error; /* NULL when none */
    int64_t next_attempt;
    int64_t finished_at; /* delivered or given up; 0 while pending */
    int64_t created_at;
    char *body; /* only from store_delivery_next() */
};
void delivery_release(struct delivery *d);

/* The oldest pending delivery of (webhook_id, stream) after after_id (0:
 * from the first), with its event's body: 1 with *out filled, 0 when none
 * is pending. */
int store_delivery_next(const char *webhook_id, const char *stream, int64_t after_id, struct delivery *out);
/* Records an attempt: state (pending, delivered, failed), the HTTP status
 * (0: none), the error (NULL: none), when to try again, when it finished. */
int store_delivery_attempted(int64_t id, const char *state, int status, const char *error, int64_t next_attempt,
                             int64_t finished_at);
/* Marks n deliveries delivered at now (statuses[i]: the HTTP status of
 * ids[i]), in one transaction. */
int store_deliveries_delivered(const int64_t *ids, const int *statuses, size_t n, int64_t now);
/* Deliveries newest first, at most limit; webhook_id and state NULL for all. */
int store_deliveries_each(const char *webhook_id, const char *state, int limit,
                          int (*fn)(void *ctx, const struct delivery *d), void *ctx);
/* Each (webhook, stream) with pending deliveries, and when the first is
 * due; fn is called after the query is done. */
int store_delivery_streams(int (*fn)(void *ctx, const char *webhook_id, const char *stream, int64_t due), void *ctx);
/* Removes deliveries that finished before cutoff and events older than
 * cutoff that no delivery needs; *removed_out (may be NULL) counts both. */
int store_events_prune(int64_t cutoff, int64_t *removed_out);

#endif
