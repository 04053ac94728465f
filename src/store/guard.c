/*
 * This module implements the blob commit guard across servers
 * (store/guard.h): PostgreSQL session advisory locks, one per digest, shared
 * by committers and exclusive for GC's delete. On SQLite every call is a
 * no-op and blobstore.c's lock file is the guard.
 */
#include "store/guard.h"

#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "store/internal.h"

/* The class of the two-int keys: "berth" + 3 (db.c's writer lock is + 0
 * and GC's lock + 2, both one-bigint keys, which PostgreSQL keeps apart
 * from two-int keys anyway). */
#define GUARD_CLASS "1650553463"

/* The digest's first eight hex digits, as a signed 32-bit key. Two digests
 * that share them only wait for each other more than they need to. */
static int64_t guard_key(const char *digest)
{
    const char *hex = strchr(digest, ':');
    uint32_t v = 0;
    hex = hex ? hex + 1 : digest;
    for (int i = 0; i < 8 && hex[i]; i++) {
        char c = hex[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 0;
        v = v << 4 | d;
    }
    return (int64_t)v - 2147483648LL;
}

int store_guard_share(struct store_guard *out, const char *digest)
{
    memset(out, 0, sizeof(*out));
    if (!db_is_pg())
        return 0;
    out->key = guard_key(digest);
    struct db_statement *st = db_stmt("SELECT pg_advisory_lock_shared(" GUARD_CLASS ", CAST(?1 AS integer))");
    db_bind_int64(st, 1, out->key);
    int rc = db_done(st, "blob commit guard");
    if (rc < 0)
        return rc;
    out->conn = db_connection();
    return 0;
}

int store_guard_try_exclusive(struct store_guard *out, const char *digest)
{
    memset(out, 0, sizeof(*out));
    if (!db_is_pg())
        return 1;
    out->key = guard_key(digest);
    out->exclusive = true;
    struct db_statement *st = db_stmt("SELECT pg_try_advisory_lock(" GUARD_CLASS ", CAST(?1 AS integer))");
    db_bind_int64(st, 1, out->key);
    int rc = db_row(st, "blob commit guard");
    if (rc == 1)
        rc = db_col_int64(st, 0) ? 1 : 0;
    else if (rc == 0)
        rc = error_set(E_ERROR, "database: blob commit guard: no answer");
    db_reset(st);
    if (rc == 1)
        out->conn = db_connection();
    return rc;
}

int store_guard_check(const struct store_guard *g)
{
    if (!db_is_pg() || (g->conn != 0 && g->conn == db_connection()))
        return 0;
    return error_set(E_UNAVAILABLE, "database: the connection that held the blob commit guard was lost");
}

void store_guard_release(struct store_guard *g)
{
    /* a lock taken on a connection since lost went with it: unlocking on
     * another would only draw a warning */
    if (g->conn != 0 && g->conn == db_connection()) {
        struct db_statement *st = g->exclusive ? db_stmt("SELECT pg_advisory_unlock(" GUARD_CLASS ", CAST(?1 AS integer))")
                                               : db_stmt("SELECT pg_advisory_unlock_shared(" GUARD_CLASS ", CAST(?1 AS integer))");
        db_bind_int64(st, 1, g->key);
        /* held on: GC keeps that digest's bytes until the connection ends */
        if (db_done(st, "blob commit guard") < 0)
            log_warn("%s", error_message());
    }
    g->conn = 0;
}
