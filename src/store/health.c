/*
 * This module implements the store's part of health and metrics
 * (store/health.h): a cheap read that proves the database answers, and
 * the count of open upload sessions.
 */
#include "store/health.h"

#include "store/internal.h"

int store_ping(void)
{
    int64_t n;
    return db_count(db_stmt(DB_SQL("SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                                       "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")), &n, "store ping");
}

int store_uploads_open(int64_t *out)
{
    return db_count(db_stmt("SELECT count(*) FROM uploads"), out, "uploads");
}
