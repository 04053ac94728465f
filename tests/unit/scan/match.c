/*
 * Unit tests for src/scan/match.c: OSV semantics (introduced "0", a
 * package at exactly its fixed version is clean, last_affected inclusive,
 * several ranges, explicit versions), the binary -> source lookup that
 * Debian and Ubuntu advisories need, Alpine and Rocky Linux keys, rpm
 * epochs missing from advisories, one finding per record and package,
 * and that the store path (vuln_match) and the in-memory index
 * (vuln_index_match) report the same findings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/log.h"
#include "scan/match.h"
#include "scan/records.h"
#include "scan/scan.h"
#include "scan/vulndb.h"
#include "store/store.h"
#include "tmpdir.h"

struct fixture {
    char dir[128];
};

static void load(const char *json)
{
    struct vuln_record r;
    bool withdrawn;
    assert_int_equal(vulndb_parse(&r, &withdrawn, json, strlen(json)), 0);
    assert_int_equal(store_vuln_put(&r, 1), 1);
    vuln_record_release(&r);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    log_level = LOG_ERROR;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-match-test-XXXXXX");
    if (!mkdtemp(f->dir) || store_open(f->dir) < 0)
        return -1;
    load(debian_dsa);
    load(ubuntu_cve);
    load(ubuntu_priority_only);
    load(alpine_cve);
    load(rocky_rlsa);
    load(ranges_record);
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

/* Findings as "id package version matched fixed severity score;" lines. */
static int collect(void *ctx, const struct vuln_finding *fd)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 4096 - n, "%s %s %s %s %s %s %.1f;", fd->id, fd->package_name, fd->package_version, fd->matched_name,
             fd->fixed_version[0] ? fd->fixed_version : "-", fd->severity, fd->cvss3_vector ? fd->cvss3_score : -1.0);
    return 0;
}

/* Runs both paths and checks they agree; returns the findings. */
static const char *match(const char *eco, const struct package_query *pkgs, size_t n)
{
    static char a[4096], b[4096];
    struct vuln_index *idx;
    a[0] = b[0] = 0;
    if (vuln_match(pkgs, n, eco, collect, a) != 0)
        fail_msg("vuln_match %s: %s", eco, error_message());
    assert_int_equal(vuln_index_load(&idx, eco), 0);
    assert_int_equal(vuln_index_match(idx, pkgs, n, collect, b), 0);
    vuln_index_free(idx);
    if (strcmp(a, b) != 0)
        fail_msg("store and index disagree:\n%s\n%s", a, b);
    return a;
}

static void test_fixed_boundary(void **state)
{
    (void)state;
    /* libssl3 is built from openssl: the advisory names the source */
    struct package_query at_fix = {"libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"};
    assert_string_equal(match("debian:12", &at_fix, 1), "");
    struct package_query below = {"libssl3", "3.0.11-1~deb12u1", "openssl", "3.0.11-1~deb12u1"};
    assert_string_equal(match("Debian:12", &below, 1),
                        "DSA-5585-1 libssl3 3.0.11-1~deb12u1 openssl 3.0.11-1~deb12u2 UNDEFINED -1.0;");
    struct package_query above = {"openssl", "3.0.13-1~deb12u1", NULL, NULL};
    assert_string_equal(match("debian:12", &above, 1), "");
    /* the same version is not affected in another release's entry */
    struct package_query deb11 = {"openssl", "3.0.11-1~deb12u1", NULL, NULL};
    assert_string_equal(match("debian:11", &deb11, 1), "");
}

static void test_source_mapping(void **state)
{
    (void)state;
    /* without its source, libssl3 matches nothing: advisories name openssl */
    struct package_query binary_only = {"libssl3", "3.0.11-1~deb12u1", NULL, NULL};
    assert_string_equal(match("debian:12", &binary_only, 1), "");
    /* the source's own version is the one compared (binNMU-style difference) */
    struct package_query src_fixed = {"libssl3", "3.0.11-1~deb12u1+b1", "openssl", "3.0.11-1~deb12u2"};
    assert_string_equal(match("debian:12", &src_fixed, 1), "");
    /* found through both names, reported once */
    struct package_query both = {"openssl", "3.0.2-0ubuntu1.13", "openssl", "3.0.2-0ubuntu1.13"};
    assert_string_equal(match("Ubuntu:22.04:LTS", &both, 1),
                        "CVE-2024-0727 openssl 3.0.2-0ubuntu1.13 openssl 3.0.2-0ubuntu1.14 MEDIUM 5.5;");
}

static void test_ranges(void **state)
{
    (void)state;
    struct package_query pk[] = {
        {"lastpkg", "0.9", NULL, NULL},       /* before introduced */
        {"lastpkg", "1.0", NULL, NULL},       /* introduced is inclusive */
        {"lastpkg", "1.5", NULL, NULL},       /* last_affected is inclusive */
        {"lastpkg", "1.5.1", NULL, NULL},     /* after it */
        {"tworanges", "1", NULL, NULL},       /* in [0, 2) */
        {"tworanges", "2.5", NULL, NULL},     /* between the ranges */
        {"tworanges", "3.5", NULL, NULL},     /* in [3, 4) */
        {"tworanges", "4", NULL, NULL},       /* at the second fix */
        {"listpkg", "2.0-1", NULL, NULL},     /* listed */
        {"listpkg", "2.0-2", NULL, NULL},     /* not listed */
        {"listpkg", "0:2.0-3", NULL, NULL},   /* listed, compared as versions */
    };
    assert_string_equal(match("debian:12", pk, sizeof(pk) / sizeof(pk[0])),
                        "TEST-RANGES-1 lastpkg 1.0 lastpkg - CRITICAL 9.8;"
                        "TEST-RANGES-1 lastpkg 1.5 lastpkg - CRITICAL 9.8;"
                        "TEST-RANGES-1 tworanges 1 tworanges 2 CRITICAL 9.8;"
                        "TEST-RANGES-1 tworanges 3.5 tworanges 4 CRITICAL 9.8;"
                        "TEST-RANGES-1 listpkg 2.0-1 listpkg - CRITICAL 9.8;"
                        "TEST-RANGES-1 listpkg 0:2.0-3 listpkg - CRITICAL 9.8;");
}

static void test_ecosystems(void **state)
{
    (void)state;
    /* Ubuntu: the plain release matches its own entries, not Pro's; an
     * unfixed entry affects every version */
    struct package_query ub[] = {
        {"openssl", "1.1.1-1ubuntu2.1~18.04.23", NULL, NULL},
        {"edk2", "2099.01-1", NULL, NULL},
        {"zlib1g", "1:1.2.11.dfsg-2ubuntu9", "zlib", "1:1.2.11.dfsg-2ubuntu9"},
    };
    assert_string_equal(match("ubuntu:22.04", ub, 3),
                        "CVE-2024-0727 openssl 1.1.1-1ubuntu2.1~18.04.23 openssl 3.0.2-0ubuntu1.14 MEDIUM 5.5;"
                        "CVE-2024-0727 edk2 2099.01-1 edk2 - MEDIUM 5.5;"
                        "UBUNTU-CVE-2022-1234 zlib1g 1:1.2.11.dfsg-2ubuntu9 zlib 1:1.2.11.dfsg-2ubuntu9.2 HIGH -1.0;");
    assert_string_equal(match("ubuntu-pro:18.04", ub, 1),
                        "CVE-2024-0727 openssl 1.1.1-1ubuntu2.1~18.04.23 openssl 1.1.1-1ubuntu2.1~18.04.23+esm4 MEDIUM 5.5;");
    struct package_query noble = {"zlib1g", "1:1.3.dfsg-3.1ubuntu2", "zlib", NULL};
    assert_string_equal(match("Ubuntu:24.04:LTS", &noble, 1),
                        "UBUNTU-CVE-2022-1234 zlib1g 1:1.3.dfsg-3.1ubuntu2 zlib - INFORMATIONAL -1.0;");

    /* Alpine: apk order, the origin package named as source */
    char *key = os_ecosystem("alpine", "3.19.1", NULL);
    assert_string_equal(key, "Alpine:v3.19");
    struct package_query apk[] = {
        {"libcrypto3", "3.1.4-r4", "openssl", NULL},
        {"libssl3", "3.1.4-r5", "openssl", NULL},
        {"openssl", "3.1.4_rc1-r9", NULL, NULL},
    };
    assert_string_equal(match(key, apk, 3), "ALPINE-CVE-2024-0727 libcrypto3 3.1.4-r4 openssl 3.1.4-r5 UNDEFINED -1.0;"
                                            "ALPINE-CVE-2024-0727 openssl 3.1.4_rc1-r9 openssl 3.1.4-r5 UNDEFINED -1.0;");
    free(key);

    /* Rocky Linux: the advisory omits the epoch the installed package has */
    struct package_query rpm[] = {
        {"openssl", "1:3.0.7-24.el9", "openssl", NULL},
        {"openssl-libs", "1:3.0.7-27.el9", "openssl", "1:3.0.7-27.el9"},
    };
    assert_string_equal(match("Rocky Linux:9", rpm, 2), "RLSA-2024:2447 openssl 1:3.0.7-24.el9 openssl 3.0.7-27.el9 MEDIUM -1.0;");
    assert_string_equal(match("rocky:8", rpm, 2), "");
}

static int stop_first(void *ctx, const struct vuln_finding *fd)
{
    (void)fd;
    (*(int *)ctx)++;
    return 7;
}

static void test_errors(void **state)
{
    (void)state;
    struct package_query pk[] = {{"lastpkg", "1.0", NULL, NULL}, {"lastpkg", "1.1", NULL, NULL}};
    int calls = 0;
    assert_int_equal(vuln_match(pk, 2, "debian:12", stop_first, &calls), 7);
    assert_int_equal(calls, 1);
    assert_int_equal(vuln_match(pk, 2, "PyPI", stop_first, &calls), E_UNSUPPORTED);
    struct vuln_index *idx;
    assert_int_equal(vuln_index_load(&idx, "npm"), E_UNSUPPORTED);
    /* an ecosystem with no data loads empty and finds nothing */
    assert_int_equal(vuln_index_load(&idx, "almalinux:9"), 0);
    assert_int_equal(vuln_index_entries(idx), 0);
    calls = 0;
    assert_int_equal(vuln_index_match(idx, pk, 2, stop_first, &calls), 0);
    assert_int_equal(calls, 0);
    vuln_index_free(idx);
    /* packages without a version are skipped */
    struct package_query empty = {"lastpkg", "", NULL, NULL};
    assert_int_equal(vuln_match(&empty, 1, "debian:12", stop_first, &calls), 0);
    assert_int_equal(calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_boundary),
        cmocka_unit_test(test_source_mapping),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_ecosystems),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
