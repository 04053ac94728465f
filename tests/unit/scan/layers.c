/*
 * Unit tests for src/scan/layers.c with layers built in the test: plain,
 * gzip and zstd streams (told apart by content), whiteouts and opaque
 * directories from lower layers only, replacement of files, links and
 * directories, entries that try to escape (.., absolute names, links
 * climbing out) rejected and counted, symlinks followed inside the tree
 * (os-release, merged /usr, Fedora's rpmdb), link loops, hardlinks, and
 * the limits on expansion, entries and file sizes.
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

#include "core/error.h"
#include "scan/scan.h"
#include "scan/tarbuild.h"

#define CAP (1u << 20)

static void apply(struct scan_view *v, struct tb *t, int want)
{
    tb_end(t);
    assert_int_equal(scan_view_apply_mem(v, t->buf, t->used), want);
    tb_free(t);
}

static void expect_file(struct scan_view *v, const char *path, const char *content)
{
    struct slice s;
    assert_int_equal(scan_view_get(v, path, &s), 0);
    assert_int_equal(s.len, strlen(content));
    assert_memory_equal(s.base, content, s.len);
}

static void expect_none(struct scan_view *v, const char *path)
{
    struct slice s;
    assert_int_equal(scan_view_get(v, path, &s), E_NOTFOUND);
}

static void each_compression(void **state)
{
    enum tb_compression c[] = {TB_NONE, TB_GZIP, TB_ZSTD};
    for (size_t i = 0; i < 3; i++) {
        struct scan_view *v = scan_view_new(NULL);
        struct tb t;
        tb_begin(&t, c[i], CAP);
        tb_dir(&t, "./etc/");
        tb_file(&t, "./etc/os-release", "ID=debian\n");
        tb_file(&t, "./usr/bin/true", "not kept");
        apply(v, &t, 0);
        expect_file(v, "etc/os-release", "ID=debian\n");
        expect_none(v, "usr/bin/true");
        const struct scan_stats *st = scan_view_stats(v);
        assert_int_equal(st->layers, 1);
        assert_int_equal(st->entries, 3);
        assert_true(st->bytes_expanded >= 3 * 512);
        if (c[i] == TB_NONE)
            assert_int_equal(st->bytes_in, st->bytes_expanded);
        else
            assert_true(st->bytes_in < st->bytes_expanded);
        scan_view_free(v);
    }
}

static void from_fd(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    struct tb t;
    char path[] = "/tmp/berth-scan-layer-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    tb_begin(&t, TB_ZSTD, CAP);
    tb_file(&t, "var/lib/dpkg/status", "Package: a\n");
    tb_end(&t);
    assert_int_equal(write(fd, t.buf, t.used), (ssize_t)t.used);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(scan_view_apply_fd(v, fd), 0);
    close(fd);
    tb_free(&t);
    expect_file(v, "var/lib/dpkg/status", "Package: a\n");
    scan_view_free(v);
}

static void whiteouts(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    struct tb t;
    tb_begin(&t, TB_GZIP, CAP);
    tb_file(&t, "var/lib/dpkg/status", "one");
    tb_file(&t, "var/lib/dpkg/status.d/base", "base");
    tb_file(&t, "lib/apk/db/installed", "apk");
    tb_file(&t, "etc/os-release", "ID=alpine");
    apply(v, &t, 0);

    /* a file, then a whole directory */
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "lib/apk/db/.wh.installed", "");
    tb_file(&t, "var/lib/.wh.dpkg", "");
    apply(v, &t, 0);
    expect_none(v, "lib/apk/db/installed");
    expect_none(v, "var/lib/dpkg/status");
    expect_none(v, "var/lib/dpkg/status.d/base");
    expect_file(v, "etc/os-release", "ID=alpine");
    assert_int_equal(scan_view_stats(v)->whiteouts, 2);

    /* a whiteout never hides a file of its own layer, in either order */
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/lib/dpkg/status", "two");
    tb_file(&t, "var/lib/dpkg/.wh.status", "");
    tb_file(&t, "lib/apk/db/.wh.installed", "");
    tb_file(&t, "lib/apk/db/installed", "apk2");
    apply(v, &t, 0);
    expect_file(v, "var/lib/dpkg/status", "two");
    expect_file(v, "lib/apk/db/installed", "apk2");

    /* aufs bookkeeping names are not deletions */
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/lib/dpkg/.wh..wh.plnk", "");
    tb_file(&t, "var/lib/dpkg/.wh.", "");
    apply(v, &t, 0);
    expect_file(v, "var/lib/dpkg/status", "two");
    scan_view_free(v);
}

static int collect(void *ctx, const char *name, struct slice content)
{
    struct buf *b = ctx;
    buf_printf(b, "%s=%.*s;", name, (int)content.len, content.base);
    return 0;
}

static void opaque_dirs(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    struct buf b;
    struct tb t;
    tb_begin(&t, TB_GZIP, CAP);
    tb_file(&t, "var/lib/dpkg/status.d/zlib", "z");
    tb_file(&t, "var/lib/dpkg/status.d/base", "b");
    tb_file(&t, "var/lib/dpkg/status.d/sub/deeper", "not directly inside");
    tb_file(&t, "var/lib/dpkg/status", "kept");
    apply(v, &t, 0);
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(scan_view_each(v, "var/lib/dpkg/status.d", collect, &b), 0);
    assert_string_equal(b.ptr, "base=b;zlib=z;");

    tb_begin(&t, TB_ZSTD, CAP);
    tb_file(&t, "var/lib/dpkg/status.d/libc6", "c");
    tb_file(&t, "var/lib/dpkg/status.d/.wh..wh..opq", "");
    apply(v, &t, 0);
    buf_reset(&b);
    assert_int_equal(scan_view_each(v, "var/lib/dpkg/status.d", collect, &b), 0);
    assert_string_equal(b.ptr, "libc6=c;");
    expect_file(v, "var/lib/dpkg/status", "kept");

    /* opaque at a higher directory takes everything below it */
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/.wh..wh..opq", "");
    apply(v, &t, 0);
    expect_none(v, "var/lib/dpkg/status");
    buf_reset(&b);
    assert_int_equal(scan_view_each(v, "var/lib/dpkg/status.d", collect, &b), 0);
    assert_string_equal(b.ptr, "");
    buf_release(&b);
    scan_view_free(v);
}

static void replacements(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    struct tb t;
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/lib/dpkg/status", "old");
    tb_file(&t, "etc/os-release", "ID=old");
    tb_file(&t, "usr/lib/os-release", "ID=usr");
    apply(v, &t, 0);

    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/lib/dpkg/status", "new");
    tb_file(&t, "var/lib/dpkg/status", "newer"); /* a later entry of a layer wins */
    tb_symlink(&t, "etc/os-release", "../usr/lib/os-release");
    apply(v, &t, 0);
    expect_file(v, "var/lib/dpkg/status", "newer");
    expect_file(v, "etc/os-release", "ID=usr");

    /* a file where a directory was hides what the directory held; a
     * directory where a link was replaces the link */
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/lib/dpkg", "a file now");
    tb_dir(&t, "etc/os-release");
    apply(v, &t, 0);
    expect_none(v, "var/lib/dpkg/status");
    expect_none(v, "etc/os-release");
    scan_view_free(v);
}

static void escapes(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    struct tb t;
    tb_begin(&t, TB_GZIP, CAP);
    tb_file(&t, "usr/lib/os-release", "ID=debian");
    tb_file(&t, "../etc/os-release", "ID=escaped");
    tb_file(&t, "/var/lib/dpkg/status", "absolute");
    tb_file(&t, "etc/../var/lib/dpkg/status", "dotdot");
    tb_file(&t, "lib/apk/db/../../../lib/apk/db/installed", "dotdot");
    apply(v, &t, 0);
    assert_int_equal(scan_view_stats(v)->rejected, 4);
    expect_none(v, "etc/os-release");
    expect_none(v, "var/lib/dpkg/status");
    expect_none(v, "lib/apk/db/installed");

    /* links out of the tree are rejected, and replace what was there */
    tb_begin(&t, TB_NONE, CAP);
    tb_symlink(&t, "etc/os-release", "../../../../etc/os-release");
    tb_symlink(&t, "var", "/../../host/var");
    tb_hardlink(&t, "lib/apk/db/installed", "../../etc/passwd");
    tb_hardlink(&t, "var/lib/dpkg/status", "/etc/passwd");
    tb_symlink(&t, "usr/lib/os-release", "");
    tb_symlink(&t, "usr/share/elsewhere", "../../../../etc"); /* not on the way to anything: still counted */
    apply(v, &t, 0);
    assert_int_equal(scan_view_stats(v)->rejected, 10);
    expect_none(v, "etc/os-release");
    expect_none(v, "usr/lib/os-release");
    expect_none(v, "var/lib/dpkg/status");
    expect_none(v, "lib/apk/db/installed");
    scan_view_free(v);
}

static void symlinks(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    struct tb t;
    tb_begin(&t, TB_ZSTD, CAP);
    tb_symlink(&t, "etc/os-release", "../usr/lib/os-release");
    tb_symlink(&t, "lib", "usr/lib");
    tb_symlink(&t, "var/lib/rpm", "../../usr/lib/sysimage/rpm");
    tb_symlink(&t, "usr/bin/sh", "dash"); /* not on the way to anything: not kept */
    apply(v, &t, 0);
    /* the targets arrive in a later layer */
    tb_begin(&t, TB_ZSTD, CAP);
    tb_file(&t, "usr/lib/os-release", "ID=fedora");
    tb_file(&t, "usr/lib/apk/db/installed", "P:musl");
    tb_file(&t, "usr/lib/sysimage/rpm/rpmdb.sqlite", "db");
    apply(v, &t, 0);
    expect_file(v, "etc/os-release", "ID=fedora");
    expect_file(v, "lib/apk/db/installed", "P:musl");
    expect_file(v, "var/lib/rpm/rpmdb.sqlite", "db");

    /* an absolute target starts at the image's root */
    tb_begin(&t, TB_NONE, CAP);
    tb_symlink(&t, "etc/os-release", "/usr/lib/./os-release");
    apply(v, &t, 0);
    expect_file(v, "etc/os-release", "ID=fedora");

    /* a whiteout of the link removes the way */
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, ".wh.lib", "");
    apply(v, &t, 0);
    expect_none(v, "lib/apk/db/installed");
    expect_file(v, "usr/lib/apk/db/installed", "P:musl");

    /* loops end */
    tb_begin(&t, TB_NONE, CAP);
    tb_symlink(&t, "etc/os-release", "os-release");
    tb_symlink(&t, "var/lib/dpkg", "../lib/dpkg2");
    tb_symlink(&t, "var/lib", "../var/lib");
    apply(v, &t, 0);
    expect_none(v, "etc/os-release");
    expect_none(v, "var/lib/dpkg/status");
    scan_view_free(v);
}

static void hardlinks(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    struct tb t;
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "usr/lib/os-release", "ID=alpine");
    tb_hardlink(&t, "etc/os-release", "usr/lib/os-release");
    tb_file(&t, "usr/bin/busybox", "elf");
    tb_hardlink(&t, "var/lib/dpkg/status", "usr/bin/busybox"); /* a file the view did not keep */
    apply(v, &t, 0);
    expect_file(v, "etc/os-release", "ID=alpine");
    expect_none(v, "var/lib/dpkg/status");
    scan_view_free(v);
}

static void limits(void **state)
{
    struct scan_limits l;
    struct scan_view *v;
    struct tb t;
    char *big = calloc(1, 200000);
    memset(big, 'x', 199999);

    /* what a layer expands to, even in files that are not kept */
    scan_limits_default(&l);
    l.max_layer_bytes = 100000;
    v = scan_view_new(&l);
    tb_begin(&t, TB_GZIP, CAP);
    tb_file(&t, "usr/share/big", big);
    apply(v, &t, E_TOOBIG);
    scan_view_free(v);
    v = scan_view_new(&l);
    tb_begin(&t, TB_GZIP, CAP);
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f%d", i);
        tb_bytes(&t, name, big, 9000);
    }
    apply(v, &t, E_TOOBIG);
    scan_view_free(v);

    /* entries */
    scan_limits_default(&l);
    l.max_layer_entries = 10;
    v = scan_view_new(&l);
    tb_begin(&t, TB_NONE, CAP);
    for (int i = 0; i < 11; i++)
        tb_dir(&t, "d");
    apply(v, &t, E_TOOBIG);
    scan_view_free(v);

    /* one kept file, all kept files, how many */
    scan_limits_default(&l);
    l.max_file_bytes = 1000;
    v = scan_view_new(&l);
    tb_begin(&t, TB_NONE, CAP);
    tb_bytes(&t, "usr/share/big", big, 5000); /* not kept: no limit */
    tb_bytes(&t, "var/lib/dpkg/status", big, 1001);
    apply(v, &t, E_TOOBIG);
    scan_view_free(v);
    scan_limits_default(&l);
    l.max_view_bytes = 1500;
    v = scan_view_new(&l);
    tb_begin(&t, TB_NONE, CAP);
    tb_bytes(&t, "var/lib/dpkg/status", big, 1000);
    tb_bytes(&t, "var/lib/dpkg/status", big, 1000); /* replaces: still 1000 */
    tb_bytes(&t, "etc/os-release", big, 501);
    apply(v, &t, E_TOOBIG);
    scan_view_free(v);
    scan_limits_default(&l);
    l.max_files = 3;
    v = scan_view_new(&l);
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/lib/dpkg/status.d/a", "a");
    tb_file(&t, "var/lib/dpkg/status.d/b", "b");
    tb_file(&t, "var/lib/dpkg/status.d/c", "c");
    tb_file(&t, "var/lib/dpkg/status.d/d", "d");
    apply(v, &t, E_TOOBIG);
    scan_view_free(v);
    free(big);
}

static void not_a_layer(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    static const char junk[] = "{\"this is\": \"a config blob, not a tar layer\"}";
    assert_int_equal(scan_view_apply_mem(v, junk, sizeof(junk) - 1), E_INVALID);
    scan_view_free(v);
    /* a truncated gzip layer */
    struct tb t;
    v = scan_view_new(NULL);
    tb_begin(&t, TB_GZIP, CAP);
    tb_file(&t, "var/lib/dpkg/status", "Package: a\nVersion: 1\n");
    tb_end(&t);
    assert_int_equal(scan_view_apply_mem(v, t.buf, t.used / 2), E_INVALID);
    tb_free(&t);
    scan_view_free(v);
    /* an empty blob is an empty layer */
    v = scan_view_new(NULL);
    assert_int_equal(scan_view_apply_mem(v, "", 0), 0);
    scan_view_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_compression), cmocka_unit_test(from_fd),    cmocka_unit_test(whiteouts),
        cmocka_unit_test(opaque_dirs),      cmocka_unit_test(replacements), cmocka_unit_test(escapes),
        cmocka_unit_test(symlinks),         cmocka_unit_test(hardlinks),  cmocka_unit_test(limits),
        cmocka_unit_test(not_a_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
