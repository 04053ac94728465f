/*
 * This module implements the conditional delete of an idle upload session
 * (store/expiry.h). Every server lists the idle sessions and deletes them;
 * the delete checks idleness again, in the same statement, so a session
 * is expired once, by one server, and never after a client (on any
 * server) wrote to it since the list was read.
 */
#include "store/expiry.h"

#include "core/error.h"
#include "store/internal.h"

int store_upload_expire(const char *id, int64_t cutoff_ms)
{
    struct db_statement *st = db_stmt("DELETE FROM uploads WHERE id = ?1 AND updated_at < ?2");
    db_bind_text(st, 1, id);
    db_bind_int64(st, 2, cutoff_ms);
    int rc = db_done(st, "upload");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "upload session '%s' is no longer idle", id);
    return rc;
}
