/*
 * Moving a registry's metadata from SQLite to PostgreSQL (berth migrate
 * --from sqlite:PATH --database postgresql://...).
 */
#ifndef BERTH_STORE_COPY_H
#define BERTH_STORE_COPY_H

#include <stdint.h>

struct store_copy_report {
    int64_t tables;
    int64_t rows;
    int64_t manifests;
};

/* Copies everything of the SQLite database at path (at this berth's latest
 * schema version) into the PostgreSQL database the store is open on, which
 * must be empty, in one transaction; row counts are checked per table. */
int store_copy_from_sqlite(const char *path, struct store_copy_report *out);

#endif
