/*
 * libFuzzer target for the OSV record parser (src/scan/vulndb.c) and the
 * CVSS vector parsers (src/scan/cvss.c). A record that parses must be
 * whole: an id, a modified time, at least one affected entry, each with an
 * ecosystem key, a package and ranges/versions in the documented encoding
 * (events i/f/l, no whitespace inside a version), and any CVSS score it
 * kept between 0 and 10. The input as a vector string must score in
 * [0, 10] or be refused.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "scan/cvss.h"
#include "scan/vulndb.h"
#include "check.h"

static void check_ranges(const char *z)
{
    bool start = true;
    for (; *z; z++) {
        if (start)
            CHECK(*z == 'i' || *z == 'f' || *z == 'l');
        CHECK((unsigned char)*z > ' ' || *z == ' ' || *z == '\n');
        start = *z == ' ' || *z == '\n';
        if (start)
            CHECK(z[1] && z[1] != ' ' && z[1] != '\n');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vuln_record r;
    bool withdrawn;
    int rc = vulndb_parse(&r, &withdrawn, (const char *)data, size);
    CHECK(rc == 0 || rc == E_INVALID || rc == E_UNSUPPORTED);
    if (rc == 0) {
        CHECK(r.id && r.id[0] && r.modified);
        if (!withdrawn) {
            CHECK(r.naffected > 0 && r.uri && r.aliases && r.summary && r.details);
            CHECK(!r.cvss3_vector || (r.cvss3_score >= 0 && r.cvss3_score <= 10));
            CHECK(!r.cvss2_vector || (r.cvss2_score >= 0 && r.cvss2_score <= 10));
            for (size_t i = 0; i < r.naffected; i++) {
                const struct vuln_affected *a = &r.affected[i];
                CHECK(a->eco_key[0] && a->package[0] && a->severity[0]);
                CHECK(a->ranges[0] || a->versions[0]);
                check_ranges(a->ranges);
                CHECK(!strchr(a->versions, '\n'));
                char key[VULNDB_KEY_MAX];
                CHECK(vulndb_ecosystem(a->ecosystem, key, sizeof(key), NULL) == 0 && strcmp(key, a->eco_key) == 0);
                /* keys are fixed points */
                CHECK(vulndb_ecosystem(a->eco_key, key, sizeof(key), NULL) == 0 && strcmp(key, a->eco_key) == 0);
            }
        }
    }
    vuln_record_release(&r);

    if (size < 4096) {
        char *z = malloc(size + 1);
        memcpy(z, data, size);
        z[size] = 0;
        double score;
        if (cvss3_base_score(z, &score) == 0)
            CHECK(score >= 0 && score <= 10);
        if (cvss2_base_score(z, &score) == 0)
            CHECK(score >= 0 && score <= 10);
        char key[VULNDB_KEY_MAX];
        if (vulndb_ecosystem(z, key, sizeof(key), NULL) == 0) {
            char again[VULNDB_KEY_MAX];
            CHECK(vulndb_ecosystem(key, again, sizeof(again), NULL) == 0 && strcmp(key, again) == 0);
        }
        free(z);
    }
    return 0;
}
