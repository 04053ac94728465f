/*
 * Benchmark: re-matching stored package inventories after a vulnerability
 * database update (what CONTINUOUS_SCAN does), without reading layers.
 *
 * It fills a fresh store with a synthetic Debian-12-sized database (OSV
 * records with ECOSYSTEM ranges and some explicit versions lists, several
 * per source package), builds N inventories of P packages each (binary
 * names with their source packages and dpkg versions drawn so that some
 * fall inside the ranges), then times:
 *   - the import into the store (records per second, in batches);
 *   - loading the ecosystem into memory (vuln_index_load);
 *   - matching all N inventories against the index (vuln_index_match);
 *   - matching a sample through the store (vuln_match, a query per name),
 *     extrapolated to N, for comparison.
 *
 *   build/bench/vulndb_rematch [inventories [packages [records]]]
 *   defaults: 10000 inventories, 150 packages each, 30000 records
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "scan/match.h"
#include "scan/vulndb.h"
#include "store/store.h"
#include "store/vulndb.h"

#define SOURCES 3000

static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static char *fmt(const char *f, unsigned a, unsigned b)
{
    char z[64];
    snprintf(z, sizeof(z), f, a, b);
    return strdup(z);
}

static int count(void *ctx, const struct vuln_finding *f)
{
    (void)f;
    (*(long long *)ctx)++;
    return 0;
}

static double secs(int64_t us)
{
    return (double)us / 1e6;
}

/* This process's CPU time in microseconds: on a shared machine the wall
 * clock also counts other processes' turns. */
static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    long n_inv = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    long n_pkg = argc > 2 ? strtol(argv[2], NULL, 10) : 150;
    long n_rec = argc > 3 ? strtol(argv[3], NULL, 10) : 30000;
    if (n_inv <= 0 || n_pkg <= 0 || n_rec <= 0 || n_pkg > SOURCES) {
        fprintf(stderr, "usage: vulndb_rematch [inventories [packages (<= %d) [records]]]\n", SOURCES);
        return 2;
    }
    char dir[] = "/tmp/berth-bench-vulndb-XXXXXX";
    log_level = LOG_ERROR;
    if (!mkdtemp(dir) || store_open(dir) < 0) {
        fprintf(stderr, "cannot open a store in /tmp\n");
        return 1;
    }

    /* the database: each record affects 1-2 source packages in debian:12 */
    int64_t t0 = mono_us();
    char id[48], fixed[64], versions[256];
    long entries = 0;
    for (long i = 0; i < n_rec; i++) {
        if (i % VULNDB_BATCH == 0 && store_begin() < 0)
            return 1;
        struct vuln_affected aff[2];
        struct vuln_record r = {0};
        snprintf(id, sizeof(id), "DEBIAN-CVE-2024-%06ld", i);
        r.id = id;
        r.modified = "2024-06-01T00:00:00Z";
        r.modified_ms = 1717200000000LL;
        r.summary = "synthetic record";
        r.details = "";
        r.aliases = "[]";
        r.uri = "https://security-tracker.debian.org/tracker/synthetic";
        r.affected = aff;
        r.naffected = 1 + rnd(2);
        char names[2][16], eco[] = "Debian:12", key[] = "debian:12", sev[] = "MEDIUM";
        for (size_t k = 0; k < r.naffected; k++) {
            snprintf(names[k], sizeof(names[k]), "src%04u", rnd(SOURCES));
            /* a fifth unfixed (as many Debian entries are), the rest fixed somewhere in 1.0 .. 1.39 */
            if (rnd(5) == 0)
                snprintf(fixed, sizeof(fixed), "i0");
            else
                snprintf(fixed, sizeof(fixed), "i0 f1.%u-%u", rnd(40), 1 + rnd(5));
            if (rnd(10) == 0)
                snprintf(versions, sizeof(versions), "1.%u-1 1.%u-2 1.%u-1", rnd(40), rnd(40), rnd(40));
            else
                versions[0] = 0;
            aff[k] = (struct vuln_affected){eco, key, names[k], sev, strdup(fixed), strdup(versions)};
            entries++;
        }
        if (store_vuln_put(&r, 1) < 0)
            return 1;
        for (size_t k = 0; k < r.naffected; k++) {
            free(aff[k].ranges);
            free(aff[k].versions);
        }
        if ((i + 1) % VULNDB_BATCH == 0 || i + 1 == n_rec)
            if (store_commit() < 0)
                return 1;
    }
    int64_t t_import = mono_us() - t0;

    /* the inventories: binaries lib<src>-<k> built from src<NNNN> */
    static char *src_names[SOURCES], *bin_names[SOURCES], *vers[40 * 5];
    for (unsigned s = 0; s < SOURCES; s++) {
        src_names[s] = fmt("src%04u", s, 0);
        bin_names[s] = fmt("libsrc%04u-%u", s, 1);
    }
    for (unsigned v = 0; v < 40 * 5; v++)
        vers[v] = fmt("1.%u-%u", v / 5, 1 + v % 5);
    struct package_query *inv = calloc((size_t)n_inv * (size_t)n_pkg, sizeof(*inv));
    for (long i = 0; i < n_inv; i++)
        for (long p = 0; p < n_pkg; p++) {
            /* installed versions are recent: 1.25 .. 1.39 */
            unsigned s = rnd(SOURCES), v = 25 * 5 + rnd(15 * 5);
            inv[i * n_pkg + p] = (struct package_query){bin_names[s], vers[v], src_names[s], vers[v]};
        }

    struct vuln_index *idx;
    t0 = mono_us();
    int64_t c0 = cpu_us();
    if (vuln_index_load(&idx, "debian:12") < 0)
        return 1;
    int64_t t_load = mono_us() - t0, c_load = cpu_us() - c0;

    long long findings = 0;
    t0 = mono_us();
    c0 = cpu_us();
    for (long i = 0; i < n_inv; i++)
        vuln_index_match(idx, &inv[i * n_pkg], (size_t)n_pkg, count, &findings);
    int64_t t_match = mono_us() - t0, c_match = cpu_us() - c0;

    long sample = n_inv < 200 ? n_inv : 200;
    long long sfind = 0;
    t0 = mono_us();
    c0 = cpu_us();
    for (long i = 0; i < sample; i++)
        vuln_match(&inv[i * n_pkg], (size_t)n_pkg, "debian:12", count, &sfind);
    int64_t t_store = mono_us() - t0, c_store = cpu_us() - c0;

    printf("database: %ld records, %ld entries over %d source packages; import %.2f s (%.0f records/s)\n", n_rec,
           entries, SOURCES, secs(t_import), (double)n_rec / secs(t_import));
    printf("inventories: %ld x %ld packages (%ld packages)\n", n_inv, n_pkg, n_inv * n_pkg);
    printf("index load (debian:12, %zu entries): %.3f s wall, %.3f s cpu\n", vuln_index_entries(idx), secs(t_load),
           secs(c_load));
    printf("re-match all inventories, index: %.3f s wall, %.3f s cpu (%.1f us cpu per inventory), %lld findings "
           "(%.1f per inventory)\n",
           secs(t_match), secs(c_match), (double)c_match / (double)n_inv, findings, (double)findings / (double)n_inv);
    printf("re-match through the store, %ld inventories: %.3f s wall, %.3f s cpu (%.0f us cpu per inventory; %.1f s cpu "
           "extrapolated to %ld)\n",
           sample, secs(t_store), secs(c_store), (double)c_store / (double)sample,
           secs(c_store) * (double)n_inv / (double)sample, n_inv);
    printf("total re-match of %ld inventories after an update (load + match): %.3f s wall, %.3f s cpu\n", n_inv,
           secs(t_load + t_match), secs(c_load + c_match));

    vuln_index_free(idx);
    free(inv);
    for (unsigned s = 0; s < SOURCES; s++) {
        free(src_names[s]);
        free(bin_names[s]);
    }
    for (unsigned v = 0; v < 40 * 5; v++)
        free(vers[v]);
    store_close_thread();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
