/*
 * Unit tests for src/scan/rpm.c with header blobs built by hand in rpm's
 * layout (il, dl, 16-byte big-endian index entries, data) and an rpmdb
 * made here with SQLite: names, epochs and source packages, gpg-pubkey
 * left out, every bounds check (counts, offsets, strings without their
 * NUL, wrong types), a WAL-mode database, and databases that are not an
 * rpmdb (no Packages table, Packages as a view, not SQLite).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/error.h"
#include "scan/scan.h"

struct hdr {
    unsigned char index[64 * 16];
    unsigned char data[4096];
    uint32_t il, dl;
};

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void entry(struct hdr *h, uint32_t tag, uint32_t type, uint32_t count, const void *data, size_t n)
{
    unsigned char *e = h->index + h->il * 16;
    put32(e, tag);
    put32(e + 4, type);
    put32(e + 8, h->dl);
    put32(e + 12, count);
    memcpy(h->data + h->dl, data, n);
    h->dl += (uint32_t)n;
    h->il++;
}

static void str(struct hdr *h, uint32_t tag, const char *z)
{
    entry(h, tag, 6, 1, z, strlen(z) + 1);
}

static void epoch(struct hdr *h, uint32_t e)
{
    unsigned char b[4];
    while (h->dl % 4) /* int32 data is aligned, as rpm writes it */
        h->data[h->dl++] = 0;
    put32(b, e);
    entry(h, 1003, 4, 1, b, 4);
}

/* The blob: intro, index, data. */
static size_t blob(unsigned char *out, const struct hdr *h)
{
    put32(out, h->il);
    put32(out + 4, h->dl);
    memcpy(out + 8, h->index, h->il * 16);
    memcpy(out + 8 + h->il * 16, h->data, h->dl);
    return 8 + h->il * 16 + h->dl;
}

static void package(struct hdr *h, const char *name, const char *version, const char *release, int ep, const char *srpm)
{
    unsigned char region[16] = {0};
    memset(h, 0, sizeof(*h));
    entry(h, 63, 7, 16, region, 16); /* the immutable region tag rpm puts first */
    str(h, 1000, name);
    str(h, 1001, version);
    str(h, 1002, release);
    if (ep >= 0)
        epoch(h, (uint32_t)ep);
    entry(h, 1004, 9, 1, "summary\0", 8);
    if (srpm)
        str(h, 1044, srpm);
}

static int parse(struct inventory *inv, const struct hdr *h)
{
    unsigned char b[8192];
    return rpm_parse_header(inv, b, blob(b, h));
}

static void headers(void **state)
{
    struct inventory inv;
    struct hdr h;
    inventory_init(&inv);
    package(&h, "bash", "5.1.8", "6.el9_1", -1, "bash-5.1.8-6.el9_1.src.rpm");
    assert_int_equal(parse(&inv, &h), 0);
    package(&h, "openssl-libs", "3.0.7", "27.el9", 1, "openssl-3.0.7-27.el9.src.rpm");
    assert_int_equal(parse(&inv, &h), 0);
    package(&h, "python3-libs", "3.9.18", "1.el9", 0, "python3.9-3.9.18-1.el9.nosrc.rpm");
    assert_int_equal(parse(&inv, &h), 0);
    package(&h, "no-source", "1.0", "1", -1, NULL);
    assert_int_equal(parse(&inv, &h), 0);
    package(&h, "odd-source", "1.0", "1", -1, "nodashes.src.rpm");
    assert_int_equal(parse(&inv, &h), 0);
    package(&h, "gpg-pubkey", "fd431d51", "4ae0493b", -1, NULL);
    assert_int_equal(parse(&inv, &h), 0);
    inventory_finish(&inv);
    assert_int_equal(inv.npkgs, 5);
    const char *want[5][4] = {
        {"bash", "5.1.8-6.el9_1", "bash", "5.1.8-6.el9_1"},
        {"no-source", "1.0-1", "no-source", "1.0-1"},
        {"odd-source", "1.0-1", "odd-source", "1.0-1"},
        {"openssl-libs", "1:3.0.7-27.el9", "openssl", "1:3.0.7-27.el9"},
        {"python3-libs", "0:3.9.18-1.el9", "python3.9", "0:3.9.18-1.el9"},
    };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(inv.pkgs[i].format, PKG_RPM);
        assert_string_equal(inv.pkgs[i].name, want[i][0]);
        assert_string_equal(inv.pkgs[i].version, want[i][1]);
        assert_string_equal(inv.pkgs[i].source_name, want[i][2]);
        assert_string_equal(inv.pkgs[i].source_version, want[i][3]);
    }
    inventory_release(&inv);
}

static void bounds(void **state)
{
    struct inventory inv;
    struct hdr h;
    unsigned char b[8192];
    size_t n;
    inventory_init(&inv);

    package(&h, "bash", "5", "1", 2, NULL);
    n = blob(b, &h);
    /* shorter than the intro, the index or the data says */
    assert_int_equal(rpm_parse_header(&inv, b, 7), E_INVALID);
    assert_int_equal(rpm_parse_header(&inv, b, 8 + 16), E_INVALID);
    assert_int_equal(rpm_parse_header(&inv, b, n - 1), E_INVALID);
    /* counts past rpm's bounds, zero tags */
    put32(b, 0x10000);
    assert_int_equal(rpm_parse_header(&inv, b, n), E_INVALID);
    put32(b, 0);
    assert_int_equal(rpm_parse_header(&inv, b, n), E_INVALID);
    put32(b, 0xffffffffu);
    assert_int_equal(rpm_parse_header(&inv, b, n), E_INVALID);
    put32(b, h.il);
    put32(b + 4, 16u << 20 | 1);
    assert_int_equal(rpm_parse_header(&inv, b, n), E_INVALID);

    /* a string offset outside the data, and one whose NUL is missing */
    n = blob(b, &h);
    put32(b + 8 + 1 * 16 + 8, h.dl);
    assert_int_equal(rpm_parse_header(&inv, b, n), E_INVALID);
    put32(b + 8 + 1 * 16 + 8, 0xfffffff0u);
    assert_int_equal(rpm_parse_header(&inv, b, n), E_INVALID);
    memset(&h, 0, sizeof(h));
    str(&h, 1001, "1");
    str(&h, 1002, "1");
    entry(&h, 1000, 6, 1, "unterminated", 12);
    assert_int_equal(parse(&inv, &h), E_INVALID);

    /* wrong types: name as an int32, epoch as a string, unknown type, an
     * epoch whose 4 bytes are not all in the data */
    package(&h, "bash", "5", "1", -1, NULL);
    n = blob(b, &h);
    put32(b + 8 + 1 * 16 + 4, 4);
    assert_int_equal(rpm_parse_header(&inv, b, n), E_INVALID);
    put32(b + 8 + 1 * 16 + 4, 42);
    assert_int_equal(rpm_parse_header(&inv, b, n), E_INVALID);
    memset(&h, 0, sizeof(h));
    str(&h, 1000, "a");
    str(&h, 1001, "1");
    str(&h, 1002, "1");
    entry(&h, 1003, 6, 1, "1\0", 2);
    assert_int_equal(parse(&inv, &h), E_INVALID);
    memset(&h, 0, sizeof(h));
    str(&h, 1000, "a");
    str(&h, 1001, "1");
    str(&h, 1002, "1");
    entry(&h, 1003, 4, 1, "\0\0", 2);
    assert_int_equal(parse(&inv, &h), E_INVALID);
    /* a STRING with count != 1, and no release at all */
    memset(&h, 0, sizeof(h));
    entry(&h, 1000, 6, 2, "a\0b\0", 4);
    str(&h, 1001, "1");
    str(&h, 1002, "1");
    assert_int_equal(parse(&inv, &h), E_INVALID);
    memset(&h, 0, sizeof(h));
    str(&h, 1000, "a");
    str(&h, 1001, "1");
    assert_int_equal(parse(&inv, &h), E_INVALID);
    /* a name that is not a package name */
    package(&h, "two words", "1", "1", -1, NULL);
    assert_int_equal(parse(&inv, &h), E_INVALID);
    assert_int_equal(inv.npkgs, 0);
    inventory_release(&inv);
}

/* An rpmdb as rpm >= 4.16 creates it, in a file, read back whole. */
static unsigned char *make_db(size_t *n, const char *schema, int wal, int npkgs)
{
    char path[] = "/tmp/berth-rpmdb-XXXXXX";
    int fd = mkstemp(path);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (wal)
        assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
    if (npkgs) {
        assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO Packages(blob) VALUES (?)", -1, &st, NULL), SQLITE_OK);
        for (int i = 0; i < npkgs; i++) {
            struct hdr h;
            unsigned char b[8192];
            char name[32];
            snprintf(name, sizeof(name), "pkg%03d", i);
            package(&h, name, "1.0", "1.el9", -1, "src-1.0-1.el9.src.rpm");
            size_t len = blob(b, &h);
            if (i == 3)
                len = 5; /* one broken header loses one package */
            sqlite3_bind_blob(st, 1, b, (int)len, SQLITE_TRANSIENT);
            assert_int_equal(sqlite3_step(st), SQLITE_DONE);
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *data = malloc(*n);
    assert_int_equal(fread(data, 1, *n, f), *n);
    fclose(f);
    unlink(path);
    return data;
}

#define RPMDB_SCHEMA "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"

static void sqlite_db(void **state)
{
    struct inventory inv;
    size_t n;
    for (int wal = 0; wal < 2; wal++) {
        unsigned char *db = make_db(&n, RPMDB_SCHEMA, wal, 40);
        if (wal)
            assert_int_equal(db[18], 2);
        inventory_init(&inv);
        assert_int_equal(rpm_parse_sqlite(&inv, db, n), 0);
        inventory_finish(&inv);
        assert_int_equal(inv.npkgs, 39);
        assert_string_equal(inv.pkgs[0].name, "pkg000");
        assert_string_equal(inv.pkgs[0].version, "1.0-1.el9");
        assert_string_equal(inv.pkgs[0].source_name, "src");
        assert_string_equal(inv.pkgs[3].name, "pkg004");
        inventory_release(&inv);
        free(db);
    }
}

static void not_rpmdb(void **state)
{
    struct inventory inv;
    size_t n;
    unsigned char *db;
    inventory_init(&inv);
    db = make_db(&n, "CREATE TABLE Other (x)", 0, 0);
    assert_int_equal(rpm_parse_sqlite(&inv, db, n), E_INVALID);
    free(db);
    db = make_db(&n, "CREATE TABLE T (blob); CREATE VIEW Packages AS SELECT blob FROM T", 0, 0);
    assert_int_equal(rpm_parse_sqlite(&inv, db, n), E_INVALID);
    /* truncated: the page count is larger than the bytes */
    free(db);
    db = make_db(&n, RPMDB_SCHEMA, 0, 200);
    assert_int_equal(rpm_parse_sqlite(&inv, db, n / 2), E_INVALID);
    assert_true(strstr(error_message(), "malformed") != NULL);
    inventory_release(&inv);
    inventory_init(&inv);
    assert_int_equal(rpm_parse_sqlite(&inv, "not a database at all, surely not one of SQLite's", 50), E_INVALID);
    assert_int_equal(rpm_parse_sqlite(&inv, "SQLite format 3", 16), E_INVALID);
    free(db);
    inventory_release(&inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(headers),
        cmocka_unit_test(bounds),
        cmocka_unit_test(sqlite_db),
        cmocka_unit_test(not_rpmdb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
