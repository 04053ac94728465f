/*
 * Test helper for tests/unit/scan/: builds tar layers in memory with
 * libarchive's writer (pax format; gzip, zstd or no compression), so each
 * test states the exact entries of the layers it applies.
 */
#ifndef BERTH_TESTS_SCAN_TARBUILD_H
#define BERTH_TESTS_SCAN_TARBUILD_H

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

enum tb_compression { TB_NONE, TB_GZIP, TB_ZSTD };

struct tb {
    struct archive *a;
    char *buf;
    size_t cap;
    size_t used;
};

static inline void tb_begin(struct tb *t, enum tb_compression c, size_t cap)
{
    t->cap = cap;
    t->buf = malloc(cap);
    t->used = 0;
    t->a = archive_write_new();
    archive_write_set_format_pax_restricted(t->a);
    if (c == TB_GZIP)
        archive_write_add_filter_gzip(t->a);
    else if (c == TB_ZSTD)
        archive_write_add_filter_zstd(t->a);
    archive_write_set_bytes_in_last_block(t->a, 1);
    if (archive_write_open_memory(t->a, t->buf, t->cap, &t->used) != ARCHIVE_OK)
        abort();
}

static inline void tb_entry(struct tb *t, const char *path, mode_t type, const void *data, size_t n, const char *symlink,
                     const char *hardlink)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    if (symlink)
        archive_entry_set_symlink(e, symlink);
    if (hardlink) {
        archive_entry_set_hardlink(e, hardlink);
        archive_entry_set_size(e, 0);
    }
    if (archive_write_header(t->a, e) != ARCHIVE_OK)
        abort();
    if (n && !hardlink && archive_write_data(t->a, data, n) != (la_ssize_t)n)
        abort();
    archive_entry_free(e);
}

static inline void tb_file(struct tb *t, const char *path, const char *content)
{
    tb_entry(t, path, AE_IFREG, content, strlen(content), NULL, NULL);
}

static inline void tb_bytes(struct tb *t, const char *path, const void *data, size_t n)
{
    tb_entry(t, path, AE_IFREG, data, n, NULL, NULL);
}

static inline void tb_dir(struct tb *t, const char *path)
{
    tb_entry(t, path, AE_IFDIR, NULL, 0, NULL, NULL);
}

static inline void tb_symlink(struct tb *t, const char *path, const char *target)
{
    tb_entry(t, path, AE_IFLNK, NULL, 0, target, NULL);
}

static inline void tb_hardlink(struct tb *t, const char *path, const char *target)
{
    tb_entry(t, path, AE_IFREG, NULL, 0, NULL, target);
}

/* Ends the archive; t->buf and t->used are the layer. */
static inline void tb_end(struct tb *t)
{
    if (archive_write_close(t->a) != ARCHIVE_OK)
        abort();
    archive_write_free(t->a);
    t->a = NULL;
}

static inline void tb_free(struct tb *t)
{
    free(t->buf);
    t->buf = NULL;
}

#endif
