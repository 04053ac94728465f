/*
 * This module implements the audit trail's rows of store/audit.h on
 * SQLite: audit_events holds each record with the attributes a lookup
 * filters on, audit_resources the resources each names (so a lookup by
 * resource uses an index); the resources are also kept with the event as
 * a JSON array, so a page of events needs no second query. A lookup has
 * one statement per attribute (each a literal, so each is prepared once
 * per connection and uses its own index).
 */
#include "store/audit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "store/internal.h"

int store_audit_sync(bool full)
{
    return db_done(db_stmt(full ? DB_SQL("PRAGMA synchronous=FULL", "SET synchronous_commit TO on")
                                     : DB_SQL("PRAGMA synchronous=NORMAL", "SET synchronous_commit TO off")), "audit sync mode");
}

/* Binds a row's columns as ?1..?10 (account_id to record); *zres_out is
 * the resources' JSON, for the caller to free after the statement ran. */
static void bind_row(struct db_statement *st, const struct audit_row *row, char **zres_out)
{
    json_t *res = json_array();
    for (int i = 0; i < row->nresources; i++)
        json_array_append_new(res, json_pack("[s,s]", row->resources[i].type, row->resources[i].name));
    *zres_out = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    db_bind_text(st, 1, row->account_id);
    db_bind_text(st, 2, row->event_id);
    db_bind_int64(st, 3, row->event_ms);
    db_bind_text(st, 4, row->event_name);
    db_bind_text(st, 5, row->event_source);
    db_bind_text(st, 6, row->username);
    db_bind_text(st, 7, row->access_key_id);
    db_bind_int64(st, 8, row->read_only);
    db_bind_text(st, 9, *zres_out);
    db_bind_text(st, 10, row->record);
}

#define EVENT_COLUMNS                                                                                                      \
    "account_id, event_id, event_time, event_name, event_source, username, access_key_id, read_only, resources, record"

int store_audit_insert(const struct audit_row *row)
{
    char *zres;
    struct db_statement *st =
        db_stmt("INSERT INTO audit_events(" EVENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    bind_row(st, row, &zres);
    int rc = db_done(st, "audit event");
    free(zres);
    /* the event's seq found by its ID (without RETURNING, which SQLite runs through a temporary table) */
    for (int i = 0; i < row->nresources && rc == 0; i++) {
        st = db_stmt("INSERT INTO audit_resources(seq, account_id, type, name)"
                     " SELECT seq, account_id, ?3, ?4 FROM audit_events WHERE event_id = ?1 AND account_id = ?2");
        db_bind_text(st, 1, row->event_id);
        db_bind_text(st, 2, row->account_id);
        db_bind_text(st, 3, row->resources[i].type);
        db_bind_text(st, 4, row->resources[i].name);
        rc = db_done(st, "audit resource");
    }
    return rc;
}

int store_audit_stage(const struct audit_row *row)
{
    char *zres;
    struct db_statement *st = db_stmt("INSERT INTO audit_pending(" EVENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    bind_row(st, row, &zres);
    int rc = db_done(st, "staged audit event");
    free(zres);
    return rc;
}

int store_audit_any_staged(bool *any)
{
    struct db_statement *st = db_stmt("SELECT EXISTS (SELECT 1 FROM audit_pending)");
    int rc = db_row(st, "staged audit events");
    *any = rc == 1 && db_col_int64(st, 0) != 0;
    db_reset(st);
    return rc < 0 ? rc : 0;
}

/* "berth" + 3: the movers' lock on PostgreSQL (db.c's writer lock is + 0,
 * GC's + 2): two servers never move the same rows. */
#define MOVE_LOCK "SELECT pg_advisory_xact_lock(1650553463)"

/* On PostgreSQL the mover's transaction excludes only other movers (and
 * store_begin()'s writers): writes that stage records commit meanwhile,
 * so what is moved is what one statement deleted, under one snapshot. A
 * record staged by a transaction that commits after that snapshot, even
 * with a smaller seq, stays for the next move; none is deleted unmoved.
 * Every insert into audit_events is under MOVE_LOCK, so their seq order
 * is their commit order. */
static int pg_move(int limit, int64_t *moved_out)
{
    struct db_statement *st = db_stmt(
        "WITH moved AS (DELETE FROM audit_pending WHERE seq <= (SELECT max(seq) FROM"
        "  (SELECT seq FROM audit_pending ORDER BY seq LIMIT ?1) AS head) RETURNING seq, " EVENT_COLUMNS "),"
        " ev AS (INSERT INTO audit_events(" EVENT_COLUMNS ") SELECT " EVENT_COLUMNS " FROM moved ORDER BY seq"
        "  RETURNING seq, account_id, resources),"
        " res AS (INSERT INTO audit_resources(seq, account_id, type, name)"
        "  SELECT ev.seq, ev.account_id, r.value->>0, r.value->>1"
        "  FROM ev CROSS JOIN LATERAL jsonb_array_elements(ev.resources::jsonb) AS r(value))"
        " SELECT count(*) FROM ev");
    db_bind_int64(st, 1, limit);
    return db_count(st, moved_out, "moving audit events");
}

int store_audit_move(int limit, int64_t *moved_out)
{
    *moved_out = 0;
    if (db_is_pg() && db_done(db_stmt(MOVE_LOCK), "audit move lock") < 0)
        return -1;
    if (db_is_pg())
        return pg_move(limit, moved_out);
    struct db_statement *st = db_stmt("SELECT max(seq) FROM (SELECT seq FROM audit_pending ORDER BY seq LIMIT ?1) AS head");
    db_bind_int64(st, 1, limit);
    int rc = db_row(st, "staged audit events");
    int64_t last = rc == 1 ? db_col_int64(st, 0) : 0;
    db_reset(st);
    if (rc < 0)
        return rc;
    if (last == 0)
        return 0;
    /* in the order they were staged; their resources found by (account, event ID), which are one event's */
    st = db_stmt("INSERT INTO audit_events(" EVENT_COLUMNS ") SELECT " EVENT_COLUMNS
                 " FROM audit_pending WHERE seq <= ?1 ORDER BY seq");
    db_bind_int64(st, 1, last);
    if ((rc = db_done(st, "moving audit events")) < 0)
        return rc;
    *moved_out = db_changes();
    st = db_stmt("INSERT INTO audit_resources(seq, account_id, type, name)"
                 " SELECT e.seq, e.account_id, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]')"
                 " FROM audit_pending p, json_each(p.resources) r"
                 " JOIN audit_events e ON e.event_id = p.event_id AND e.account_id = p.account_id"
                 " WHERE p.seq <= ?1");
    db_bind_int64(st, 1, last);
    if ((rc = db_done(st, "moving audit resources")) < 0)
        return rc;
    st = db_stmt("DELETE FROM audit_pending WHERE seq <= ?1");
    db_bind_int64(st, 1, last);
    return db_done(st, "staged audit events");
}

#define LOOKUP_COLUMNS "SELECT seq, " EVENT_COLUMNS " FROM audit_events"
#define LOOKUP_RANGE " account_id = ?1 AND seq < ?2 AND event_time BETWEEN ?3 AND ?4"
#define LOOKUP_ORDER " ORDER BY seq DESC LIMIT ?5"

/* By enum audit_attr; ?6 is the attribute's value. */
static const char *const lookup_sql[AUDIT_NATTRS] = {
    [AUDIT_ATTR_NONE] = LOOKUP_COLUMNS " WHERE" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_EVENT_NAME] = LOOKUP_COLUMNS " WHERE event_name = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_USERNAME] = LOOKUP_COLUMNS " WHERE username = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_ACCESS_KEY_ID] = LOOKUP_COLUMNS " WHERE access_key_id = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_READ_ONLY] = LOOKUP_COLUMNS " WHERE read_only = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_EVENT_ID] = LOOKUP_COLUMNS " WHERE event_id = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_EVENT_SOURCE] = LOOKUP_COLUMNS " WHERE event_source = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_RESOURCE_NAME] = LOOKUP_COLUMNS " WHERE seq IN (SELECT seq FROM audit_resources WHERE account_id = ?1"
                                                " AND name = ?6) AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_RESOURCE_TYPE] = LOOKUP_COLUMNS " WHERE seq IN (SELECT seq FROM audit_resources WHERE account_id = ?1"
                                                " AND type = ?6) AND" LOOKUP_RANGE LOOKUP_ORDER,
};

struct lookup_fn {
    int (*fn)(void *ctx, const struct audit_row *row);
    void *ctx;
};

static int lookup_row(struct db_statement *st, void *ctx)
{
    struct lookup_fn *f = ctx;
    struct audit_row row;
    json_t *res = json_loads(db_col_text(st, 9), 0, NULL);
    memset(&row, 0, sizeof(row));
    row.seq = db_col_int64(st, 0);
    row.account_id = db_col_text(st, 1);
    row.event_id = db_col_text(st, 2);
    row.event_ms = db_col_int64(st, 3);
    row.event_name = db_col_text(st, 4);
    row.event_source = db_col_text(st, 5);
    row.username = db_col_text(st, 6);
    row.access_key_id = db_col_text(st, 7);
    row.read_only = db_col_int(st, 8) != 0;
    for (size_t i = 0; i < json_array_size(res) && row.nresources < AUDIT_RESOURCES_MAX; i++) {
        json_t *r = json_array_get(res, i);
        const char *type = json_string_value(json_array_get(r, 0)), *name = json_string_value(json_array_get(r, 1));
        if (type && name)
            row.resources[row.nresources++] = (struct audit_resource){type, name};
    }
    row.record = db_col_text(st, 10);
    int rc = f->fn(f->ctx, &row);
    json_decref(res);
    return rc;
}

int store_audit_lookup(const struct audit_query *q, int (*fn)(void *ctx, const struct audit_row *row), void *ctx)
{
    struct lookup_fn f = {fn, ctx};
    if ((unsigned)q->attr >= AUDIT_NATTRS)
        return error_set(E_INVALID, "unknown lookup attribute");
    struct db_statement *st = db_stmt(lookup_sql[q->attr]);
    db_bind_text(st, 1, q->account_id);
    db_bind_int64(st, 2, q->before_seq);
    db_bind_int64(st, 3, q->start_ms);
    db_bind_int64(st, 4, q->end_ms);
    db_bind_int64(st, 5, q->limit);
    if (q->attr == AUDIT_ATTR_READ_ONLY)
        db_bind_int64(st, 6, q->value && strcmp(q->value, "true") == 0);
    else if (q->attr != AUDIT_ATTR_NONE)
        db_bind_text(st, 6, q->value ? q->value : "");
    return db_each_row(st, "audit events", lookup_row, &f);
}

int store_audit_prune(int64_t before_ms, int limit, int64_t *deleted_out)
{
    *deleted_out = 0;
    struct db_statement *st = db_stmt("DELETE FROM audit_resources WHERE seq IN"
                               " (SELECT seq FROM audit_events WHERE event_time < ?1 ORDER BY seq LIMIT ?2)");
    db_bind_int64(st, 1, before_ms);
    db_bind_int64(st, 2, limit);
    int rc = db_done(st, "audit resources");
    if (rc < 0)
        return rc;
    st = db_stmt("DELETE FROM audit_events WHERE seq IN"
                 " (SELECT seq FROM audit_events WHERE event_time < ?1 ORDER BY seq LIMIT ?2)");
    db_bind_int64(st, 1, before_ms);
    db_bind_int64(st, 2, limit);
    rc = db_done(st, "audit events");
    if (rc == 0)
        *deleted_out = db_changes();
    return rc;
}
