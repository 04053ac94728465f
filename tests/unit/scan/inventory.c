/*
 * Unit tests for src/scan/inventory.c: inventories read from views of
 * several layers (Debian with status and status.d, Alpine, a whiteout that
 * deletes the package database), the JSON form and its round trip, JSON
 * that is not an inventory, and scan_image_inventory() on images pushed
 * through the image service into a fresh data directory (layers in order,
 * an index and an artifact refused, a missing layer).
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

#include "blob/blobstore.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "image/image.h"
#include "scan/scan.h"
#include "scan/tarbuild.h"
#include "store/store.h"
#include "tmpdir.h"

#define CAP (1u << 20)
#define ACCT "111122223333"

static const char debian_status[] = "Package: libc6\nStatus: install ok installed\nSource: glibc\nVersion: 2.36-9\n\n"
                                    "Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1\n";

static void debian_layers(struct scan_view *v)
{
    struct tb t;
    tb_begin(&t, TB_GZIP, CAP);
    tb_symlink(&t, "etc/os-release", "../usr/lib/os-release");
    tb_file(&t, "usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
    tb_file(&t, "var/lib/dpkg/status", debian_status);
    tb_end(&t);
    assert_int_equal(scan_view_apply_mem(v, t.buf, t.used), 0);
    tb_free(&t);
    tb_begin(&t, TB_ZSTD, CAP);
    tb_file(&t, "var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\n");
    tb_file(&t, "var/lib/dpkg/status.d/tzdata.md5sums", "Package: not-a-package\nVersion: 1\n");
    tb_end(&t);
    assert_int_equal(scan_view_apply_mem(v, t.buf, t.used), 0);
    tb_free(&t);
}

static void from_view(void **state)
{
    struct scan_view *v = scan_view_new(NULL);
    struct inventory inv;
    debian_layers(v);
    inventory_init(&inv);
    assert_int_equal(inventory_from_view(&inv, v), 0);
    assert_string_equal(inv.os_id, "debian");
    assert_string_equal(inv.os_version, "12");
    assert_string_equal(inv.ecosystem, "Debian:12");
    assert_string_equal(inv.os_name, "Debian GNU/Linux 12 (bookworm)");
    assert_int_equal(inv.npkgs, 3);
    assert_string_equal(inv.pkgs[0].name, "libc6");
    assert_string_equal(inv.pkgs[0].source_name, "glibc");
    assert_string_equal(inv.pkgs[1].name, "openssl");
    assert_string_equal(inv.pkgs[2].name, "tzdata");
    assert_int_equal(inv.stats.layers, 2);
    assert_int_equal(inv.stats.entries, 5);
    inventory_release(&inv);

    /* a third layer deletes the database: its packages go */
    struct tb t;
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/lib/dpkg/.wh.status", "");
    tb_end(&t);
    assert_int_equal(scan_view_apply_mem(v, t.buf, t.used), 0);
    tb_free(&t);
    inventory_init(&inv);
    assert_int_equal(inventory_from_view(&inv, v), 0);
    assert_int_equal(inv.npkgs, 1);
    assert_string_equal(inv.pkgs[0].name, "tzdata");
    assert_int_equal(inv.stats.whiteouts, 1);
    inventory_release(&inv);
    scan_view_free(v);

    /* Alpine keeps its database at /lib or /usr/lib; an image without
     * os-release still lists its packages */
    v = scan_view_new(NULL);
    tb_begin(&t, TB_GZIP, CAP);
    tb_file(&t, "usr/lib/apk/db/installed", "P:musl\nV:1.2.4-r2\no:musl\n\nP:libcrypto3\nV:3.1.4-r5\no:openssl\n");
    tb_end(&t);
    assert_int_equal(scan_view_apply_mem(v, t.buf, t.used), 0);
    tb_free(&t);
    inventory_init(&inv);
    assert_int_equal(inventory_from_view(&inv, v), 0);
    assert_null(inv.os_id);
    assert_null(inv.ecosystem);
    assert_int_equal(inv.npkgs, 2);
    assert_string_equal(inv.pkgs[0].source_name, "openssl");
    inventory_release(&inv);
    scan_view_free(v);

    /* an empty rpmdb is none; one that is not a database fails */
    v = scan_view_new(NULL);
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "etc/os-release", "ID=rocky\nVERSION_ID=9.3\n");
    tb_file(&t, "var/lib/rpm/rpmdb.sqlite", "");
    tb_end(&t);
    assert_int_equal(scan_view_apply_mem(v, t.buf, t.used), 0);
    tb_free(&t);
    inventory_init(&inv);
    assert_int_equal(inventory_from_view(&inv, v), 0);
    assert_string_equal(inv.ecosystem, "Rocky Linux:9");
    assert_int_equal(inv.npkgs, 0);
    inventory_release(&inv);
    tb_begin(&t, TB_NONE, CAP);
    tb_file(&t, "var/lib/rpm/rpmdb.sqlite", "garbage, not SQLite at all: 100 bytes or more of it, so that only the magic decides....");
    tb_end(&t);
    assert_int_equal(scan_view_apply_mem(v, t.buf, t.used), 0);
    tb_free(&t);
    inventory_init(&inv);
    assert_int_equal(inventory_from_view(&inv, v), E_INVALID);
    inventory_release(&inv);
    scan_view_free(v);
}

static void json(void **state)
{
    struct inventory inv, back;
    struct slice nothing = {NULL, 0};
    inventory_init(&inv);
    inv.os_id = strdup("ubuntu");
    inv.os_version = strdup("22.04");
    inv.ecosystem = strdup("Ubuntu:22.04:LTS");
    inv.stats.layers = 3;
    inv.stats.rejected = 1;
    inventory_add(&inv, PKG_DPKG, SLICE_LIT("libssl3"), SLICE_LIT("3.0.2-0ubuntu1.10"), SLICE_LIT("openssl"), nothing);
    inventory_add(&inv, PKG_RPM, SLICE_LIT("bash"), SLICE_LIT("1:5.1-2"), nothing, nothing);
    inventory_add(&inv, PKG_APK, SLICE_LIT("musl"), SLICE_LIT("1.2.4-r2"), SLICE_LIT("musl"), SLICE_LIT("1.2.4-r2"));
    inventory_add(&inv, PKG_APK, SLICE_LIT("musl"), SLICE_LIT("1.2.4-r2"), SLICE_LIT("musl"), SLICE_LIT("1.2.4-r2"));
    inventory_finish(&inv);
    assert_int_equal(inv.npkgs, 3);
    char *z = inventory_to_json(&inv);
    assert_string_equal(z, "{\"version\":1,\"os\":{\"id\":\"ubuntu\",\"version_id\":\"22.04\",\"name\":null,"
                           "\"ecosystem\":\"Ubuntu:22.04:LTS\"},\"packages\":["
                           "{\"format\":\"rpm\",\"name\":\"bash\",\"version\":\"1:5.1-2\",\"source\":\"bash\","
                           "\"source_version\":\"1:5.1-2\"},"
                           "{\"format\":\"dpkg\",\"name\":\"libssl3\",\"version\":\"3.0.2-0ubuntu1.10\",\"source\":\"openssl\","
                           "\"source_version\":\"3.0.2-0ubuntu1.10\"},"
                           "{\"format\":\"apk\",\"name\":\"musl\",\"version\":\"1.2.4-r2\",\"source\":\"musl\","
                           "\"source_version\":\"1.2.4-r2\"}],"
                           "\"stats\":{\"layers\":3,\"entries\":0,\"bytes_in\":0,\"bytes_expanded\":0,\"whiteouts\":0,"
                           "\"rejected\":1}}");
    assert_int_equal(inventory_from_json(&back, z, strlen(z)), 0);
    char *again = inventory_to_json(&back);
    assert_string_equal(again, z);
    assert_null(back.os_name);
    assert_int_equal(back.pkgs[0].format, PKG_RPM);
    free(again);
    free(z);
    inventory_release(&back);

    /* a PRETTY_NAME that is not UTF-8 is written as null */
    free(inv.os_name);
    inv.os_name = strdup("Distro \xff\xfe");
    z = inventory_to_json(&inv);
    assert_non_null(strstr(z, "\"name\":null"));
    free(z);
    inventory_release(&inv);
}

static void json_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"version\":2,\"os\":{},\"packages\":[]}",
        "{\"version\":1,\"os\":[],\"packages\":[]}",
        "{\"version\":1,\"os\":{},\"packages\":{}}",
        "{\"version\":1,\"os\":{\"id\":7},\"packages\":[]}",
        "{\"version\":1,\"os\":{},\"packages\":[{\"format\":\"deb\",\"name\":\"a\",\"version\":\"1\",\"source\":\"a\","
        "\"source_version\":\"1\"}]}",
        "{\"version\":1,\"os\":{},\"packages\":[{\"format\":\"dpkg\",\"name\":\"a b\",\"version\":\"1\",\"source\":\"a\","
        "\"source_version\":\"1\"}]}",
        "{\"version\":1,\"os\":{},\"packages\":[{\"format\":\"dpkg\",\"name\":\"a\",\"version\":\"1\"}]}",
        "{\"version\":1,\"os\":{\"id\":\"a\\u0000b\"},\"packages\":[]}",
        "{\"version\":1,\"version\":1,\"os\":{},\"packages\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct inventory inv;
        assert_int_equal(inventory_from_json(&inv, bad[i], strlen(bad[i])), E_INVALID);
        inventory_release(&inv);
    }
    struct inventory inv;
    const char *ok = "{\"version\":1,\"os\":{},\"packages\":[]}";
    assert_int_equal(inventory_from_json(&inv, ok, strlen(ok)), 0);
    assert_null(inv.os_id);
    assert_int_equal(inv.npkgs, 0);
    inventory_release(&inv);
}

/* ---- scan_image_inventory over the image service ---- */

struct fixture {
    char dir[128];
    struct repo repo;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    log_level = LOG_ERROR;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-scan-test-XXXXXX");
    if (!mkdtemp(f->dir) || store_open(f->dir) < 0 || blobstore_open(f->dir) < 0 || store_account_create(ACCT) < 0)
        return -1;
    snprintf(f->repo.account_id, sizeof(f->repo.account_id), ACCT);
    f->repo.name = "web";
    f->repo.tag_mutability = "MUTABLE";
    f->repo.encryption_type = "AES256";
    if (store_repo_create(&f->repo) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close_thread();
    if (tmpdir_remove(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

/* Pushes a blob; out gets its digest. */
static void push_blob(struct fixture *f, const void *data, size_t n, char out[DIGEST_MAX])
{
    char id[37];
    struct upload u;
    uint64_t size;
    digest_sha256(out, data, n);
    assert_int_equal(image_upload_start(id, &f->repo), 0);
    assert_int_equal(image_upload_open(&u, &f->repo, id), 0);
    assert_int_equal(image_upload_append(&u, data, n), 0);
    assert_int_equal(image_upload_commit(&u, &f->repo, out, &size, NULL), 0);
    image_upload_close(&u);
}

static void push_manifest(struct fixture *f, const char *body, char out[DIGEST_MAX])
{
    struct image_put_result r;
    assert_int_equal(image_put(&r, &f->repo, body, strlen(body), NULL, NULL, NULL), 0);
    snprintf(out, DIGEST_MAX, "%s", r.digest);
}

static void layer_blob(struct fixture *f, struct tb *t, char out[DIGEST_MAX], size_t *size)
{
    tb_end(t);
    push_blob(f, t->buf, t->used, out);
    *size = t->used;
    tb_free(t);
}

static void image(void **state)
{
    struct fixture *f = *state;
    char config[DIGEST_MAX], l1[DIGEST_MAX], l2[DIGEST_MAX], man[DIGEST_MAX], idx[DIGEST_MAX], art[DIGEST_MAX];
    size_t s1, s2;
    struct tb t;
    struct buf body;
    struct inventory inv;
    static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
    push_blob(f, cfg, sizeof(cfg) - 1, config);
    tb_begin(&t, TB_GZIP, CAP);
    tb_file(&t, "etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n");
    tb_file(&t, "lib/apk/db/installed", "P:musl\nV:1.2.4-r2\no:musl\n\nP:libcrypto3\nV:3.1.4-r5\no:openssl\n");
    layer_blob(f, &t, l1, &s1);
    tb_begin(&t, TB_ZSTD, CAP);
    tb_file(&t, "lib/apk/db/installed", "P:musl\nV:1.2.4-r3\no:musl\n");
    tb_file(&t, "../../escape", "x");
    layer_blob(f, &t, l2, &s2);

    buf_init(&body, BUF_UNLIMITED);
    buf_printf(&body,
               "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
               "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
               "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu},"
               "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"%s\",\"size\":%zu}]}",
               config, sizeof(cfg) - 1, l1, s1, l2, s2);
    push_manifest(f, body.ptr, man);
    assert_int_equal(scan_image_inventory(&f->repo, man, &inv), 0);
    assert_string_equal(inv.ecosystem, "Alpine:v3.19");
    assert_int_equal(inv.npkgs, 1); /* the second layer's database replaced the first's */
    assert_string_equal(inv.pkgs[0].version, "1.2.4-r3");
    assert_int_equal(inv.stats.layers, 2);
    assert_int_equal(inv.stats.rejected, 1);
    assert_int_equal(inv.stats.bytes_in, s1 + s2);
    inventory_release(&inv);

    /* an index and an artifact are not scanned */
    buf_reset(&body);
    buf_printf(&body,
               "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
               "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu}]}",
               man, strlen(body.ptr));
    push_manifest(f, body.ptr, idx);
    assert_int_equal(scan_image_inventory(&f->repo, idx, &inv), E_UNSUPPORTED);
    inventory_release(&inv);
    buf_reset(&body);
    buf_printf(&body,
               "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
               "\"artifactType\":\"application/vnd.example.sbom\","
               "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
               "\"layers\":[{\"mediaType\":\"application/spdx+json\",\"digest\":\"%s\",\"size\":%zu}]}",
               config, sizeof(cfg) - 1, l1, s1);
    push_manifest(f, body.ptr, art);
    assert_int_equal(scan_image_inventory(&f->repo, art, &inv), E_UNSUPPORTED);
    inventory_release(&inv);
    assert_int_equal(scan_image_inventory(&f->repo, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                                          &inv),
                     E_NOTFOUND);
    inventory_release(&inv);

    /* a layer whose bytes are gone */
    char path[512];
    snprintf(path, sizeof(path), "%s/blobs/sha256/%.2s/%s", f->dir, l2 + 7, l2 + 7);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(scan_image_inventory(&f->repo, man, &inv), E_NOTFOUND);
    inventory_release(&inv);
    buf_release(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(from_view),
        cmocka_unit_test(json),
        cmocka_unit_test(json_invalid),
        cmocka_unit_test_setup_teardown(image, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
