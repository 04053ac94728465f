/*
 * Unit tests for src/scan/vulndb.c and src/store/vulndb.c: ecosystem keys
 * for every spelling the publishers use (and os-release's), the OSV
 * parser on records shaped as Debian, Ubuntu, Alpine and Rocky Linux
 * write them (ranges sorted and encoded, severities chosen, the advisory
 * address picked, unsupported and malformed records refused), and the
 * import of a directory with re-import and withdrawal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/log.h"
#include "scan/records.h"
#include "scan/scan.h"
#include "scan/vulndb.h"
#include "store/store.h"
#include "store/vulndb.h"
#include "tmpdir.h"

static void test_ecosystem_keys(void **state)
{
    static const struct {
        const char *in, *key;
        enum version_kind kind;
    } cases[] = {
        {"Debian:12", "debian:12", VERSION_DPKG},
        {"debian:12", "debian:12", VERSION_DPKG},
        {"Ubuntu:22.04:LTS", "ubuntu:22.04", VERSION_DPKG},
        {"Ubuntu:24.10", "ubuntu:24.10", VERSION_DPKG},
        {"ubuntu:22.04", "ubuntu:22.04", VERSION_DPKG},
        {"Ubuntu:Pro:18.04:LTS", "ubuntu-pro:18.04", VERSION_DPKG},
        {"ubuntu-pro:18.04", "ubuntu-pro:18.04", VERSION_DPKG},
        {"Ubuntu:Pro:FIPS-updates:22.04:LTS", "ubuntu-pro:fips-updates:22.04", VERSION_DPKG},
        {"Alpine:v3.19", "alpine:3.19", VERSION_APK},
        {"alpine:3.19", "alpine:3.19", VERSION_APK},
        {"Rocky Linux:9", "rocky:9", VERSION_RPM},
        {"rocky:9", "rocky:9", VERSION_RPM},
        {"AlmaLinux:9", "almalinux:9", VERSION_RPM},
        {"AlmaLinux:8", "almalinux:8", VERSION_RPM},
        {"Red Hat:enterprise_linux:9::appstream", "rhel:9", VERSION_RPM},
        {"Red Hat:enterprise_linux:8::baseos", "rhel:8", VERSION_RPM},
        {"rhel:9", "rhel:9", VERSION_RPM},
        {"Red Hat:rhel_aus:8.4::appstream", "redhat:rhel_aus:8.4::appstream", VERSION_RPM},
        {"Wolfi", "wolfi", VERSION_APK},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char key[VULNDB_KEY_MAX];
        enum version_kind kind;
        if (vulndb_ecosystem(cases[i].in, key, sizeof(key), &kind) != 0)
            fail_msg("'%s' refused: %s", cases[i].in, error_message());
        if (strcmp(key, cases[i].key) != 0 || kind != cases[i].kind)
            fail_msg("'%s' gave '%s' (%d), want '%s' (%d)", cases[i].in, key, (int)kind, cases[i].key, (int)cases[i].kind);
    }
    char key[VULNDB_KEY_MAX];
    assert_int_equal(vulndb_ecosystem("PyPI", key, sizeof(key), NULL), E_UNSUPPORTED);
    assert_int_equal(vulndb_ecosystem("npm", key, sizeof(key), NULL), E_UNSUPPORTED);
    assert_int_equal(vulndb_ecosystem("", key, sizeof(key), NULL), E_UNSUPPORTED);
    assert_int_equal(vulndb_ecosystem("Debian:12", key, 4, NULL), E_UNSUPPORTED);

    /* what the scanner makes of /etc/os-release maps to the records' keys */
    static const struct {
        const char *id, *version_id, *version, *key;
    } os[] = {
        {"debian", "12", "12 (bookworm)", "debian:12"},
        {"ubuntu", "22.04", "22.04.4 LTS (Jammy Jellyfish)", "ubuntu:22.04"},
        {"ubuntu", "24.10", "24.10 (Oracular Oriole)", "ubuntu:24.10"},
        {"alpine", "3.19.1", NULL, "alpine:3.19"},
        {"rocky", "9.3", "9.3 (Blue Onyx)", "rocky:9"},
        {"almalinux", "9.4", "9.4 (Seafoam Ocelot)", "almalinux:9"},
        {"rhel", "9.2", "9.2 (Plow)", "rhel:9"},
    };
    for (size_t i = 0; i < sizeof(os) / sizeof(os[0]); i++) {
        char *eco = os_ecosystem(os[i].id, os[i].version_id, os[i].version);
        assert_non_null(eco);
        if (vulndb_ecosystem(eco, key, sizeof(key), NULL) != 0 || strcmp(key, os[i].key) != 0)
            fail_msg("%s %s: '%s' gave '%s', want '%s'", os[i].id, os[i].version_id, eco, key, os[i].key);
        free(eco);
    }
}

static void parse_ok(struct vuln_record *r, const char *json)
{
    bool withdrawn;
    if (vulndb_parse(r, &withdrawn, json, strlen(json)) != 0)
        fail_msg("refused: %s", error_message());
    assert_false(withdrawn);
}

static void test_parse_debian(void **state)
{
    struct vuln_record r;
    (void)state;
    parse_ok(&r, debian_dsa);
    assert_string_equal(r.id, "DSA-5585-1");
    assert_string_equal(r.summary, "openssl - security update");
    assert_string_equal(r.aliases, "[\"CVE-2023-5678\"]");
    assert_string_equal(r.uri, "https://www.debian.org/security/2023/dsa-5585"); /* the advisory over the web page */
    assert_int_equal(r.modified_ms, 1704888000000LL);
    assert_null(r.cvss3_vector);
    assert_int_equal(r.naffected, 2);
    assert_string_equal(r.affected[0].ecosystem, "Debian:12");
    assert_string_equal(r.affected[0].eco_key, "debian:12");
    assert_string_equal(r.affected[0].package, "openssl");
    assert_string_equal(r.affected[0].ranges, "i0 f3.0.11-1~deb12u2");
    assert_string_equal(r.affected[0].versions, "3.0.9-1 3.0.11-1~deb12u1");
    assert_string_equal(r.affected[0].severity, "UNDEFINED");
    assert_string_equal(r.affected[1].eco_key, "debian:11");
    assert_string_equal(r.affected[1].versions, "");
    vuln_record_release(&r);

    /* per-CVE records: the tracker's urgency decides per release */
    parse_ok(&r, debian_cve);
    assert_string_equal(r.aliases, "[\"CVE-2024-1111\"]");
    assert_int_equal(r.naffected, 3);
    assert_string_equal(r.affected[0].severity, "LOW");
    assert_string_equal(r.affected[1].severity, "INFORMATIONAL");
    assert_string_equal(r.affected[2].severity, "UNDEFINED");
    assert_string_equal(r.affected[2].eco_key, "debian:13");
    vuln_record_release(&r);
}

static void test_parse_ubuntu(void **state)
{
    struct vuln_record r;
    (void)state;
    parse_ok(&r, ubuntu_cve);
    assert_string_equal(r.cvss3_vector, "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H");
    assert_true(r.cvss3_score > 5.49 && r.cvss3_score < 5.51);
    assert_string_equal(r.uri, "https://ubuntu.com/security/CVE-2024-0727");
    assert_string_equal(r.summary, "");
    assert_int_equal(r.naffected, 3);
    assert_string_equal(r.affected[0].eco_key, "ubuntu-pro:18.04");
    assert_string_equal(r.affected[1].eco_key, "ubuntu:22.04");
    assert_string_equal(r.affected[1].ecosystem, "Ubuntu:22.04:LTS");
    /* the CVSS score decides over Ubuntu's priority */
    assert_string_equal(r.affected[1].severity, "MEDIUM");
    assert_string_equal(r.affected[2].ranges, "i0");
    vuln_record_release(&r);

    parse_ok(&r, ubuntu_priority_only);
    assert_int_equal(r.modified_ms, 1672531200123LL);
    assert_null(r.cvss3_vector);
    assert_string_equal(r.affected[0].severity, "HIGH");          /* the record's "Ubuntu" severity */
    assert_string_equal(r.affected[1].severity, "INFORMATIONAL"); /* the entry's own ubuntu_priority */
    assert_string_equal(r.uri, "https://osv.dev/vulnerability/UBUNTU-CVE-2022-1234");
    vuln_record_release(&r);
}

static void test_parse_others(void **state)
{
    struct vuln_record r;
    bool withdrawn;
    (void)state;
    parse_ok(&r, alpine_cve);
    assert_string_equal(r.aliases, "[\"CVE-2024-0727\"]");
    assert_string_equal(r.affected[0].eco_key, "alpine:3.19");
    vuln_record_release(&r);

    parse_ok(&r, rocky_rlsa);
    assert_string_equal(r.affected[0].eco_key, "rocky:9");
    assert_string_equal(r.affected[0].severity, "MEDIUM"); /* Red Hat's "Moderate" */
    vuln_record_release(&r);

    parse_ok(&r, ranges_record);
    assert_int_equal(r.naffected, 3);
    assert_true(r.cvss2_vector && r.cvss2_score > 7.49 && r.cvss2_score < 7.51);
    assert_string_equal(r.affected[0].severity, "CRITICAL");
    assert_string_equal(r.affected[0].ranges, "i1.0 l1.5");
    /* events sorted by version; the GIT range is not kept */
    assert_string_equal(r.affected[1].ranges, "i0 f2 i3 f4");
    assert_string_equal(r.affected[2].ranges, "");
    vuln_record_release(&r);

    assert_int_equal(vulndb_parse(&r, &withdrawn, pypi_record, strlen(pypi_record)), E_UNSUPPORTED);
    vuln_record_release(&r);

    static const char withdrawn_rec[] = "{\"id\":\"DSA-1-1\",\"modified\":\"2024-02-01T00:00:00Z\","
                                        "\"withdrawn\":\"2024-02-01T00:00:00Z\",\"affected\":[]}";
    assert_int_equal(vulndb_parse(&r, &withdrawn, withdrawn_rec, strlen(withdrawn_rec)), 0);
    assert_true(withdrawn);
    assert_string_equal(r.id, "DSA-1-1");
    vuln_record_release(&r);

    static const char *const bad[] = {
        "",
        "[]",
        "{\"id\":\"X\"}",                                     /* no modified */
        "{\"id\":\"X\",\"modified\":\"yesterday\"}",          /* not RFC 3339 */
        "{\"id\":\"has space\",\"modified\":\"2024-01-01T00:00:00Z\"}",
        "{\"modified\":\"2024-01-01T00:00:00Z\"}",
        "{\"id\":\"X\",\"modified\":\"2024-13-01T00:00:00Z\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (vulndb_parse(&r, &withdrawn, bad[i], strlen(bad[i])) != E_INVALID)
            fail_msg("'%s' was not refused as invalid", bad[i]);
        vuln_record_release(&r);
    }
    /* a version with a space makes its entry invalid, so the record keeps none */
    static const char spaced[] = "{\"id\":\"X\",\"modified\":\"2024-01-01T00:00:00Z\",\"affected\":[{\"package\":"
                                 "{\"ecosystem\":\"Debian:12\",\"name\":\"a\"},\"ranges\":[{\"type\":\"ECOSYSTEM\","
                                 "\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1 2\"}]}]}]}";
    assert_int_equal(vulndb_parse(&r, &withdrawn, spaced, strlen(spaced)), E_UNSUPPORTED);
    vuln_record_release(&r);
}

/* ---- import ---- */

struct fixture {
    char dir[128];
    char src[160];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    log_level = LOG_ERROR;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-vulndb-test-XXXXXX");
    if (!mkdtemp(f->dir) || store_open(f->dir) < 0)
        return -1;
    snprintf(f->src, sizeof(f->src), "%s/osv", f->dir);
    mkdir(f->src, 0700);
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

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int count_cb(void *ctx, const char *ecosystem, int64_t records)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 1024 - n, "%s=%lld;", ecosystem, (long long)records);
    return 0;
}

static int entry_cb(void *ctx, const struct vuln_entry *e)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 1024 - n, "%s:%s:%s;", e->record_id, e->ranges, e->severity);
    return 0;
}

static void test_import_dir(void **state)
{
    struct fixture *f = *state;
    struct vulndb_import_stats st;
    char counts[1024] = "", entries[1024] = "";
    int64_t total, updated;
    char source[256];

    write_file(f->src, "DSA-5585-1.json", debian_dsa);
    write_file(f->src, "CVE-2024-0727.json", ubuntu_cve);
    write_file(f->src, "pypi.json", pypi_record);
    write_file(f->src, "broken.json", "{\"id\":");
    write_file(f->src, "README.txt", "not a record");
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/alpine", f->src);
    mkdir(sub, 0700);
    write_file(sub, "ALPINE-CVE-2024-0727.json", alpine_cve);

    assert_int_equal(store_vuln_updated(&updated, source, sizeof(source)), 0);
    assert_int_equal(updated, 0);
    assert_int_equal(vulndb_import(f->src, &st), 0);
    assert_int_equal(st.read, 5);
    assert_int_equal(st.stored, 3);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(store_vuln_total(&total), 0);
    assert_int_equal(total, 3);
    assert_int_equal(store_vuln_counts(count_cb, counts), 0);
    assert_string_equal(counts, "Alpine:v3.19=1;Debian:11=1;Debian:12=1;Ubuntu:22.04:LTS=1;Ubuntu:Pro:18.04:LTS=1;");
    assert_int_equal(store_vuln_updated(&updated, source, sizeof(source)), 0);
    assert_true(updated > 0);
    assert_string_equal(source, f->src);

    /* again: nothing is newer */
    assert_int_equal(vulndb_import(f->src, &st), 0);
    assert_int_equal(st.stored, 0);
    assert_int_equal(st.unchanged, 3);

    /* a newer copy replaces the entries; an older one does not */
    char *newer = strdup(debian_dsa);
    char *p = strstr(newer, "2024-01-10T12:00:00Z");
    memcpy(p, "2024-02-10", 10);
    p = strstr(newer, "3.0.11-1~deb12u2");
    memcpy(p, "3.0.11-1~deb12u3", 16);
    write_file(f->src, "DSA-5585-1.json", newer);
    free(newer);
    assert_int_equal(vulndb_import(f->src, &st), 0);
    assert_int_equal(st.stored, 1);
    assert_int_equal(store_vuln_entries("debian:12", "openssl", entry_cb, entries), 0);
    assert_string_equal(entries, "DSA-5585-1:i0 f3.0.11-1~deb12u3:UNDEFINED;");
    write_file(f->src, "DSA-5585-1.json", debian_dsa);
    assert_int_equal(vulndb_import(f->src, &st), 0);
    assert_int_equal(st.stored, 0);

    /* withdrawal removes the record and its entries */
    write_file(f->src, "DSA-5585-1.json",
               "{\"id\":\"DSA-5585-1\",\"modified\":\"2024-03-01T00:00:00Z\",\"withdrawn\":\"2024-03-01T00:00:00Z\"}");
    assert_int_equal(vulndb_import(f->src, &st), 0);
    assert_int_equal(st.withdrawn, 1);
    entries[0] = 0;
    assert_int_equal(store_vuln_entries("debian:12", "openssl", entry_cb, entries), 0);
    assert_string_equal(entries, "");
    assert_int_equal(store_vuln_total(&total), 0);
    assert_int_equal(total, 2);

    /* a single file, and a path that is not there */
    char one[512];
    snprintf(one, sizeof(one), "%s/alpine/ALPINE-CVE-2024-0727.json", f->src);
    assert_int_equal(vulndb_import(one, &st), 0);
    assert_int_equal(st.read, 1);
    snprintf(one, sizeof(one), "%s/absent", f->src);
    assert_int_equal(vulndb_import(one, &st), E_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecosystem_keys),
        cmocka_unit_test(test_parse_debian),
        cmocka_unit_test(test_parse_ubuntu),
        cmocka_unit_test(test_parse_others),
        cmocka_unit_test_setup_teardown(test_import_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
