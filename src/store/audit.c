/*
 * This module implements the audit trail's rows of store/audit.h on
 * SQLite and PostgreSQL. A record is written once, into audit_records
 * (its text as audit/ writes it, with its attributes, and no index but
 * its key), by the transaction that stages it; the audit writer indexes
 * records later, many
 * to a transaction: a narrow row per record in audit_index (the attributes
 * a lookup filters on, an index per attribute) and a row per resource in
 * audit_resources (so a lookup by resource uses an index). The resources
 * are also kept with the record as a JSON array, so a page of events needs
 * no second query. SQLite's writers are serialised (BEGIN IMMEDIATE), so
 * records commit in the order of their seq there: the records indexed are
 * those up to audit_index's largest seq. PostgreSQL's are not (writers of
 * different repositories commit at the same time): there a stage adds the
 * record's seq to audit_unindexed as well. A lookup has one
 * statement per attribute (each a literal, so each is prepared once per
 * connection and uses its own index).
 */
#include "store/audit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/internal.h"

int store_audit_sync(bool full)
{
    /* PostgreSQL's is the transaction's own (store_begin_shared_unsynced()) */
    if (db_is_pg())
        return 0;
    return db_done(db_stmt(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"), "audit sync mode");
}

/* A row's resources as the JSON array kept with the record, [[type,name],...]
 * (written by hand: a write's record pays for it on its request thread). */
static char *resources_json(const struct audit_row *row)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_putc(&b, '[');
    for (int i = 0; i < row->nresources; i++) {
        buf_puts(&b, i ? ",[" : "[");
        buf_put_json_string(&b, row->resources[i].type, strlen(row->resources[i].type));
        buf_putc(&b, ',');
        buf_put_json_string(&b, row->resources[i].name, strlen(row->resources[i].name));
        buf_putc(&b, ']');
    }
    buf_putc(&b, ']');
    return buf_detach(&b);
}

/* Binds a row's columns as ?1..?10 (account_id to record); *zres_out is
 * the resources' JSON, for the caller to free after the statement ran. */
static void bind_row(struct db_statement *st, const struct audit_row *row, char **zres_out)
{
    *zres_out = resources_json(row);
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

int store_audit_stage(const struct audit_row *row)
{
    char *zres;
    /* on PostgreSQL with its seq in audit_unindexed (pg_move() says why) */
    struct db_statement *st =
        db_stmt(DB_SQL("INSERT INTO audit_records(" EVENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                       "WITH r AS (INSERT INTO audit_records(" EVENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                       " ?10) RETURNING seq) INSERT INTO audit_unindexed(seq) SELECT seq FROM r"));
    bind_row(st, row, &zres);
    int rc = db_done(st, "staged audit event");
    free(zres);
    return rc;
}

/* PostgreSQL: a batch's rows staged in a transaction of their own, in one
 * round trip: BEGIN, the registry key shared (as store_begin_shared()),
 * the commit mode, one INSERT of every row (seqs in the rows' order, each
 * in audit_unindexed too) and COMMIT, as one script of quoted literals.
 * A statement per row and per step would cost a read's record (whose
 * answer waits for it here: audit.c says why) several round trips. */
int store_audit_write_pg(const struct audit_row *const *rows, unsigned n, bool synced)
{
    struct buf b;
    int rc = 0;
    buf_init(&b, BUF_UNLIMITED);
    buf_puts(&b, "BEGIN; " DB_PG_REGISTRY_SHARED "; ");
    if (!synced)
        buf_puts(&b, "SET LOCAL synchronous_commit TO off; ");
    buf_puts(&b, "WITH r AS (INSERT INTO audit_records(" EVENT_COLUMNS ") VALUES ");
    for (unsigned i = 0; i < n && rc == 0; i++) {
        const struct audit_row *row = rows[i];
        char *zres = resources_json(row);
        const char *text[] = {row->account_id, row->event_id};
        const char *more[] = {row->event_name, row->event_source, row->username, row->access_key_id};
        buf_puts(&b, i ? ", (" : "(");
        for (size_t k = 0; k < 2 && rc == 0; k++)
            if ((rc = db_pg_append_literal(&b, text[k])) == 0)
                buf_puts(&b, ", ");
        buf_printf(&b, "%lld, ", (long long)row->event_ms);
        for (size_t k = 0; k < 4 && rc == 0; k++)
            if ((rc = db_pg_append_literal(&b, more[k])) == 0)
                buf_puts(&b, ", ");
        buf_printf(&b, "%d, ", row->read_only ? 1 : 0);
        if (rc == 0 && (rc = db_pg_append_literal(&b, zres)) == 0)
            buf_puts(&b, ", ");
        if (rc == 0 && (rc = db_pg_append_literal(&b, row->record)) == 0)
            buf_puts(&b, ")");
        free(zres);
    }
    buf_puts(&b, " RETURNING seq) INSERT INTO audit_unindexed(seq) SELECT seq FROM r ORDER BY seq; COMMIT");
    if (rc == 0)
        rc = db_pg_transaction(b.ptr, "staged audit events");
    buf_release(&b);
    return rc;
}

/* The columns of audit_index, which audit_records has too. */
#define INDEX_COLUMNS "account_id, event_id, event_time, event_name, event_source, username, access_key_id, read_only"
/* The largest seq indexed: every record up to it is. */
#define INDEXED "(SELECT coalesce(max(seq), 0) FROM audit_index)"

int store_audit_any_staged(bool *any)
{
    struct db_statement *st = db_stmt(DB_SQL("SELECT EXISTS (SELECT 1 FROM audit_records WHERE seq > " INDEXED ")",
                                             "SELECT EXISTS (SELECT 1 FROM audit_unindexed)"));
    int rc = db_row(st, "staged audit events");
    *any = rc == 1 && db_col_int64(st, 0) != 0;
    db_reset(st);
    return rc < 0 ? rc : 0;
}

/* "berth" + 3: the movers' lock on PostgreSQL (db.c's writer lock is + 0,
 * GC's + 2): two servers never index the same records. */
#define MOVE_LOCK "SELECT pg_advisory_xact_lock(1650553463)"

/* On PostgreSQL, writers of different repositories commit at the same
 * time, so a record with a smaller seq may commit after one with a larger:
 * a stage also adds its seq to audit_unindexed, and a move indexes what
 * one statement deleted from there, under one snapshot. A record staged
 * by a transaction that commits after that snapshot stays for the next
 * move; none is deleted unindexed. */
static int pg_move(int limit, int64_t *moved_out)
{
    struct db_statement *st = db_stmt(
        "WITH todo AS (DELETE FROM audit_unindexed WHERE seq IN"
        "  (SELECT seq FROM audit_unindexed ORDER BY seq LIMIT ?1) RETURNING seq),"
        " ix AS (INSERT INTO audit_index(seq, " INDEX_COLUMNS ") SELECT seq, " INDEX_COLUMNS
        "  FROM audit_records JOIN todo USING (seq) RETURNING seq),"
        " res AS (INSERT INTO audit_resources(seq, account_id, type, name)"
        "  SELECT r.seq, r.account_id, j.value->>0, j.value->>1 FROM audit_records r JOIN todo ON todo.seq = r.seq"
        "  CROSS JOIN LATERAL jsonb_array_elements(r.resources::jsonb) AS j(value))"
        " SELECT count(*) FROM ix");
    db_bind_int64(st, 1, limit);
    return db_count(st, moved_out, "indexing audit events");
}

int store_audit_move(int limit, int64_t *moved_out)
{
    *moved_out = 0;
    if (db_is_pg())
        return db_done(db_stmt(MOVE_LOCK), "audit move lock") < 0 ? -1 : pg_move(limit, moved_out);
    /* SQLite: the next records to index, (first, last] (its writers are
     * serialised, so records commit in seq order) */
    struct db_statement *st = db_stmt("SELECT " INDEXED ", (SELECT max(seq) FROM (SELECT seq FROM audit_records"
                                      " WHERE seq > " INDEXED " ORDER BY seq LIMIT ?1) AS head)");
    db_bind_int64(st, 1, limit);
    int rc = db_row(st, "staged audit events");
    int64_t first = rc == 1 ? db_col_int64(st, 0) : 0, last = rc == 1 && !db_col_is_null(st, 1) ? db_col_int64(st, 1) : 0;
    db_reset(st);
    if (rc < 0)
        return rc;
    if (last <= first)
        return 0;
    /* OR IGNORE on SQLite: a statement that could abort half-way keeps a
     * copy of every page it changes in a temporary file (its statement
     * journal), about 1 KB per record; these rows have no conflict to
     * ignore (their seq is new, their columns are NOT NULL in both tables) */
    st = db_stmt("INSERT OR IGNORE INTO audit_index(seq, " INDEX_COLUMNS ") SELECT seq, " INDEX_COLUMNS
                 " FROM audit_records WHERE seq > ?1 AND seq <= ?2 ORDER BY seq");
    db_bind_int64(st, 1, first);
    db_bind_int64(st, 2, last);
    if ((rc = db_done(st, "indexing audit events")) < 0)
        return rc;
    *moved_out = db_changes();
    /* OR IGNORE as above; a resource without a type or name is left out */
    st = db_stmt("INSERT OR IGNORE INTO audit_resources(seq, account_id, type, name)"
                 " SELECT r.seq, r.account_id, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]')"
                 " FROM audit_records r, json_each(r.resources) j WHERE r.seq > ?1 AND r.seq <= ?2");
    db_bind_int64(st, 1, first);
    db_bind_int64(st, 2, last);
    return db_done(st, "indexing audit resources");
}

/* the attributes from the index, the resources and the record from the record's row */
#define LOOKUP_COLUMNS                                                                                                     \
    "SELECT i.seq, i.account_id, i.event_id, i.event_time, i.event_name, i.event_source, i.username, i.access_key_id,"   \
    " i.read_only, r.resources, r.record FROM audit_index i JOIN audit_records r ON r.seq = i.seq"
#define LOOKUP_RANGE " i.account_id = ?1 AND i.seq < ?2 AND i.event_time BETWEEN ?3 AND ?4"
#define LOOKUP_ORDER " ORDER BY i.seq DESC LIMIT ?5"

/* By enum audit_attr; ?6 is the attribute's value. */
static const char *const lookup_sql[AUDIT_NATTRS] = {
    [AUDIT_ATTR_NONE] = LOOKUP_COLUMNS " WHERE" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_EVENT_NAME] = LOOKUP_COLUMNS " WHERE i.event_name = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_USERNAME] = LOOKUP_COLUMNS " WHERE i.username = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_ACCESS_KEY_ID] = LOOKUP_COLUMNS " WHERE i.access_key_id = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_READ_ONLY] = LOOKUP_COLUMNS " WHERE i.read_only = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_EVENT_ID] = LOOKUP_COLUMNS " WHERE i.event_id = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_EVENT_SOURCE] = LOOKUP_COLUMNS " WHERE i.event_source = ?6 AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_RESOURCE_NAME] = LOOKUP_COLUMNS " WHERE i.seq IN (SELECT seq FROM audit_resources WHERE account_id = ?1"
                                                " AND name = ?6) AND" LOOKUP_RANGE LOOKUP_ORDER,
    [AUDIT_ATTR_RESOURCE_TYPE] = LOOKUP_COLUMNS " WHERE i.seq IN (SELECT seq FROM audit_resources WHERE account_id = ?1"
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

int store_audit_checkpoint(void)
{
    if (db_is_pg())
        return 0;
    struct db_statement *st = db_stmt("PRAGMA wal_checkpoint(PASSIVE)");
    int rc = db_row(st, "checkpoint");
    db_reset(st);
    return rc < 0 ? rc : 0;
}

/* The oldest indexed records older than ?1, at most ?2 of them (a record
 * not yet indexed is newer than any that is). */
#define PRUNED "SELECT seq FROM audit_index WHERE event_time < ?1 ORDER BY seq LIMIT ?2"

int store_audit_prune(int64_t before_ms, int limit, int64_t *deleted_out)
{
    /* the index last: the others find their rows by it */
    static const char *const sql[] = {"DELETE FROM audit_resources WHERE seq IN (" PRUNED ")",
                                      "DELETE FROM audit_records WHERE seq IN (" PRUNED ")",
                                      "DELETE FROM audit_index WHERE seq IN (" PRUNED ")"};
    int rc = 0;
    *deleted_out = 0;
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]) && rc == 0; i++) {
        struct db_statement *st = db_stmt(sql[i]);
        db_bind_int64(st, 1, before_ms);
        db_bind_int64(st, 2, limit);
        rc = db_done(st, "pruning audit events");
    }
    if (rc == 0)
        *deleted_out = db_changes();
    return rc;
}
