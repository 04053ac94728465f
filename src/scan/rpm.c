/*
 * This module implements the rpm half of scan.h's parsers: the SQLite
 * rpmdb (rpm >= 4.16, /var/lib/rpm/rpmdb.sqlite) and the header blobs it
 * holds, one per installed package.
 *
 * The database is the image's, not berth's: it is opened from memory
 * (sqlite3_deserialize, read-only) with SQLite's defences for untrusted
 * files on (SQLITE_DBCONFIG_DEFENSIVE, no trusted schema, cell size checks,
 * a bound on the work one query may do), and only a real table named
 * Packages is read. A database left in WAL mode is read as its main file
 * (the image's -wal file, if any, is not applied).
 *
 * A header blob as rpm stores it in the database (rpm's
 * docs/manual/format_header.md, without the 8-byte magic of package files):
 *
 *   int32 il, int32 dl                       big-endian
 *   il index entries of 16 bytes:            tag, type, offset, count
 *   dl bytes of data                         offsets are into this
 *
 * Everything is checked before it is read: il and dl against rpm's own
 * bounds (fewer than 65536 tags, less than 16 MiB of data) and against the
 * blob's length, each used entry's type, offset and count against the
 * data, strings for their terminating NUL inside the data. Only NAME,
 * VERSION, RELEASE, EPOCH and SOURCERPM are read; gpg-pubkey "packages"
 * (imported signing keys) are not packages and are left out.
 */
#include "scan/scan.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define TAG_NAME 1000
#define TAG_VERSION 1001
#define TAG_RELEASE 1002
#define TAG_EPOCH 1003
#define TAG_SOURCERPM 1044

#define TYPE_INT32 4
#define TYPE_STRING 6
#define TYPE_STRING_ARRAY 8
#define TYPE_I18NSTRING 9
#define TYPE_MAX 9

#define HDR_MAX_TAGS 0xffffu
#define HDR_MAX_DATA (16u << 20)
#define SQL_MAX_STEPS 200000 /* progress callbacks of 1000 VM steps each */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct header {
    const unsigned char *data;
    uint32_t dl;
};

/* The (first) string of an entry: it must end inside the data. */
static int entry_string(const struct header *h, uint32_t type, uint32_t off, uint32_t count, struct slice *out)
{
    if ((type != TYPE_STRING && type != TYPE_STRING_ARRAY && type != TYPE_I18NSTRING) || count == 0 ||
        (type == TYPE_STRING && count != 1) || off >= h->dl)
        return -1;
    const unsigned char *end = memchr(h->data + off, '\0', h->dl - off);
    if (!end)
        return -1;
    out->base = (const char *)h->data + off;
    out->len = (size_t)(end - (h->data + off));
    return 0;
}

/* "bash-5.1.8-6.el9.src.rpm" -> "bash" and "5.1.8-6.el9". */
static int split_srpm(struct slice srpm, struct slice *name, struct slice *vr)
{
    static const char *const suffixes[] = {".src.rpm", ".nosrc.rpm"};
    size_t n = srpm.len;
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && memcmp(srpm.base + n - k, suffixes[i], k) == 0) {
            n -= k;
            break;
        }
    }
    int dashes = 0;
    size_t cut = n;
    while (cut > 0 && dashes < 2)
        if (srpm.base[--cut] == '-')
            dashes++;
    if (dashes < 2 || cut == 0 || cut + 1 >= n)
        return -1;
    *name = (struct slice){srpm.base, cut};
    *vr = (struct slice){srpm.base + cut + 1, n - cut - 1};
    return 0;
}

int rpm_parse_header(struct inventory *inv, const void *blob, size_t n)
{
    const unsigned char *p = blob;
    struct slice name = {NULL, 0}, version = {NULL, 0}, release = {NULL, 0}, srpm = {NULL, 0};
    int has_epoch = 0;
    uint32_t epoch = 0;
    if (n < 8)
        return error_set(E_INVALID, "rpm header shorter than its intro");
    uint32_t il = be32(p), dl = be32(p + 4);
    if (il == 0 || il > HDR_MAX_TAGS || dl > HDR_MAX_DATA)
        return error_set(E_INVALID, "rpm header with %u tags and %u data bytes", il, dl);
    if ((size_t)8 + (size_t)il * 16 + dl > n)
        return error_set(E_INVALID, "rpm header longer than its blob");
    struct header h = {p + 8 + (size_t)il * 16, dl};
    for (uint32_t i = 0; i < il; i++) {
        const unsigned char *e = p + 8 + (size_t)i * 16;
        uint32_t tag = be32(e), type = be32(e + 4), off = be32(e + 8), count = be32(e + 12);
        struct slice *field = tag == TAG_NAME      ? &name
                              : tag == TAG_VERSION  ? &version
                              : tag == TAG_RELEASE  ? &release
                              : tag == TAG_SOURCERPM ? &srpm
                                                     : NULL;
        if (type > TYPE_MAX)
            return error_set(E_INVALID, "rpm header tag %u has unknown type %u", tag, type);
        if (field) {
            if (entry_string(&h, type, off, count, field) < 0)
                return error_set(E_INVALID, "rpm header tag %u is not a string inside the header", tag);
        } else if (tag == TAG_EPOCH) {
            if (type != TYPE_INT32 || count < 1 || off > dl || dl - off < 4)
                return error_set(E_INVALID, "rpm header epoch is not an int32 inside the header");
            epoch = be32(h.data + off);
            has_epoch = 1;
        }
    }
    if (!name.len || !version.len || !release.len)
        return error_set(E_INVALID, "rpm header without name, version and release");
    if (slice_eq(name, "gpg-pubkey"))
        return 0;

    struct buf v, sv;
    struct slice src = {NULL, 0}, src_vr = {NULL, 0};
    buf_init(&v, BUF_UNLIMITED);
    buf_init(&sv, BUF_UNLIMITED);
    if (has_epoch)
        buf_printf(&v, "%u:", epoch);
    buf_printf(&v, "%.*s-%.*s", (int)version.len, version.base, (int)release.len, release.base);
    if (srpm.len && split_srpm(srpm, &src, &src_vr) == 0) {
        if (has_epoch)
            buf_printf(&sv, "%u:", epoch);
        buf_put(&sv, src_vr.base, src_vr.len);
    }
    int rc = inventory_add(inv, PKG_RPM, name, (struct slice){v.ptr, v.len}, src, (struct slice){sv.ptr, sv.len});
    buf_release(&v);
    buf_release(&sv);
    return rc;
}

static int progress(void *ctx)
{
    int *steps = ctx;
    return ++*steps > SQL_MAX_STEPS;
}

int rpm_parse_sqlite(struct inventory *inv, const void *data, size_t n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    unsigned char *copy = NULL;
    int steps = 0, rc = 0, r;
    if (n < 100 || memcmp(data, "SQLite format 3", 16) != 0)
        return error_set(E_INVALID, "rpmdb.sqlite is not an SQLite database");
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        rc = error_set(E_ERROR, "cannot open an in-memory database");
        goto done;
    }
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, (int)HDR_MAX_DATA * 2);
    sqlite3_progress_handler(db, 1000, progress, &steps);
    copy = sqlite3_malloc64(n);
    if (!copy)
        abort();
    memcpy(copy, data, n);
    if (copy[18] == 2 && copy[19] == 2)
        copy[18] = copy[19] = 1; /* WAL: read the main file as a rollback-journal database */
    r = sqlite3_deserialize(db, "main", copy, (sqlite3_int64)n, (sqlite3_int64)n,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);
    copy = NULL; /* SQLite owns it now, even on failure */
    if (r != SQLITE_OK) {
        rc = error_set(E_INVALID, "rpmdb.sqlite cannot be opened: %s", sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_exec(db, "PRAGMA cell_size_check=ON", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db, "SELECT type FROM sqlite_schema WHERE name = 'Packages'", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || !sqlite3_column_text(st, 0) ||
        strcmp((const char *)sqlite3_column_text(st, 0), "table") != 0) {
        rc = error_set(E_INVALID, "rpmdb.sqlite has no Packages table: %s", sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT blob FROM Packages", -1, &st, NULL) != SQLITE_OK) {
        rc = error_set(E_INVALID, "rpmdb.sqlite Packages cannot be read: %s", sqlite3_errmsg(db));
        goto done;
    }
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        if (blob && len > 0)
            rpm_parse_header(inv, blob, (size_t)len); /* a bad header is one package lost, not the scan */
    }
    if (r != SQLITE_DONE)
        rc = error_set(E_INVALID, "rpmdb.sqlite Packages cannot be read: %s", sqlite3_errmsg(db));
    else
        error_clear();
done:
    sqlite3_finalize(st);
    sqlite3_free(copy);
    sqlite3_close(db);
    return rc;
}
