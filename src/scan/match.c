/*
 * This module implements matching (scan/match.h): the evaluation of an
 * affected entry's encoded ranges and versions (scan/vulndb.h) against an
 * installed version, the per-package lookups through the store, and the
 * in-memory index of one ecosystem (entries grouped by package in a hash
 * table, records shared by their entries) for re-matching many
 * inventories without a query each.
 */
#include "scan/match.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "scan/version.h"
#include "scan/vulndb.h"
#include "store/vulndb.h"

#define TOKEN_MAX 512

/* ---- evaluation ---- */

/* The version after its epoch ("1:2.3-4" -> "2.3-4"), or NULL when it has none. */
static const char *after_epoch(const char *v)
{
    const char *p = v;
    while (*p >= '0' && *p <= '9')
        p++;
    return p > v && *p == ':' ? p + 1 : NULL;
}

/* installed against an advisory's version, in the ecosystem's order. */
static int cmp(enum version_kind vk, const char *installed, const char *bound)
{
    if (vk == VERSION_RPM && !after_epoch(bound)) {
        const char *bare = after_epoch(installed);
        if (bare)
            return version_compare(vk, bare, bound);
    }
    return version_compare(vk, installed, bound);
}

/* Copies the space- or newline-ended token at *p into tok and moves *p
 * past it and its separator; false at the end. */
static bool next_token(const char **p, char *tok, char *sep)
{
    const char *z = *p;
    if (!*z)
        return false;
    size_t n = strcspn(z, " \n");
    size_t m = n < TOKEN_MAX - 1 ? n : TOKEN_MAX - 1;
    memcpy(tok, z, m);
    tok[m] = 0;
    *sep = z[n];
    *p = z[n] ? z + n + 1 : z + n;
    return true;
}

/* Whether version is affected by an entry; fixed gets the first fixed
 * version above it in the range that says so ("" when none). */
static bool entry_affects(enum version_kind vk, const char *ranges, const char *versions, const char *version, char *fixed)
{
    char tok[TOKEN_MAX], sep;
    const char *p = ranges;
    fixed[0] = 0;
    while (*p) {
        /* one range: its events up to the end of the line */
        bool vulnerable = false;
        char first_fix[TOKEN_MAX] = "";
        while (next_token(&p, tok, &sep)) {
            const char *ev = tok + 1;
            if (tok[0] == 'i' && (strcmp(ev, "0") == 0 || cmp(vk, version, ev) >= 0))
                vulnerable = true;
            else if (tok[0] == 'f' && cmp(vk, version, ev) >= 0)
                vulnerable = false;
            else if (tok[0] == 'l' && cmp(vk, version, ev) > 0)
                vulnerable = false;
            if (tok[0] == 'f' && !first_fix[0] && cmp(vk, version, ev) < 0)
                memcpy(first_fix, tok + 1, strlen(tok + 1) + 1);
            if (sep != ' ')
                break;
        }
        if (vulnerable) {
            memcpy(fixed, first_fix, strlen(first_fix) + 1);
            return true;
        }
    }
    p = versions;
    while (next_token(&p, tok, &sep))
        if (cmp(vk, version, tok) == 0)
            return true;
    return false;
}

/* ---- one package at a time ---- */

/* The records already reported for the package being matched. */
struct seen {
    char **ids;
    size_t n, cap;
};

static bool seen_has(const struct seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return true;
    return false;
}

static void seen_add(struct seen *s, const char *id)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->ids = xrealloc(s->ids, s->cap * sizeof(*s->ids));
    }
    s->ids[s->n++] = xstrdup(id);
}

static void seen_clear(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ids[i]);
    s->n = 0;
}

struct matching {
    enum version_kind vk;
    const struct package_query *pkg;
    const char *name, *version; /* what is looked up */
    struct seen seen;
    vuln_finding_fn fn;
    void *ctx;
    int stop; /* fn's non-zero return */
};

static int consider(struct matching *m, const struct vuln_entry *e)
{
    char fixed[TOKEN_MAX];
    if (seen_has(&m->seen, e->record_id) || !entry_affects(m->vk, e->ranges, e->versions, m->version, fixed))
        return 0;
    seen_add(&m->seen, e->record_id);
    struct vuln_finding f = {
        .id = e->record_id,
        .description = e->summary && e->summary[0] ? e->summary : e->details,
        .uri = e->uri,
        .severity = e->severity,
        .package_name = m->pkg->name,
        .package_version = m->pkg->version,
        .matched_name = m->name,
        .matched_version = m->version,
        .fixed_version = fixed,
        .cvss3_vector = e->cvss3_vector,
        .cvss3_score = e->cvss3_vector ? e->cvss3_score : 0,
        .cvss2_vector = e->cvss2_vector,
        .cvss2_score = e->cvss2_vector ? e->cvss2_score : 0,
    };
    m->stop = m->fn(m->ctx, &f);
    return m->stop;
}

static int consider_row(void *ctx, const struct vuln_entry *e)
{
    return consider(ctx, e);
}

/* The lookups for one package: its own name, then its source's. */
static size_t lookups(const struct package_query *p, const char *names[2], const char *versions[2])
{
    size_t n = 0;
    if (p->name && *p->name && p->version && *p->version) {
        names[n] = p->name;
        versions[n++] = p->version;
    }
    if (p->source_name && *p->source_name && (!p->name || strcmp(p->source_name, p->name) != 0)) {
        const char *v = p->source_version && *p->source_version ? p->source_version : p->version;
        if (v && *v) {
            names[n] = p->source_name;
            versions[n++] = v;
        }
    }
    return n;
}

int vuln_match(const struct package_query *pkgs, size_t n, const char *ecosystem, vuln_finding_fn fn, void *ctx)
{
    char key[VULNDB_KEY_MAX];
    struct matching m = {.fn = fn, .ctx = ctx};
    int rc = vulndb_ecosystem(ecosystem, key, sizeof(key), &m.vk);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *names[2], *versions[2];
        size_t k = lookups(&pkgs[i], names, versions);
        m.pkg = &pkgs[i];
        seen_clear(&m.seen);
        for (size_t j = 0; rc == 0 && j < k; j++) {
            m.name = names[j];
            m.version = versions[j];
            rc = store_vuln_entries(key, names[j], consider_row, &m);
            if (rc == 0 && m.stop)
                rc = m.stop;
        }
    }
    seen_clear(&m.seen);
    free(m.seen.ids);
    return rc;
}

/* ---- the in-memory index ---- */

struct index_record {
    char *id, *summary, *details, *uri, *cvss3_vector, *cvss2_vector;
    double cvss3_score, cvss2_score;
};

struct index_entry {
    struct index_record *record;
    char *severity, *ranges, *versions;
};

struct index_package {
    char *name;
    size_t first, count; /* in entries[] */
};

struct vuln_index {
    enum version_kind vk;
    struct index_entry *entries; /* ordered by package */
    size_t nentries, ecap;
    struct index_package *packages;
    size_t npackages, pcap;
    size_t *slots; /* open addressing over packages[], 1-based (0 is empty); a power of two */
    size_t nslots;
    struct index_record **records;
    size_t nrecords, rcap;
    size_t *rslots; /* open addressing over records[] while loading */
    size_t nrslots;
};

static uint64_t hash(const char *z)
{
    uint64_t h = 1469598103934665603ull;
    for (; *z; z++)
        h = (h ^ (unsigned char)*z) * 1099511628211ull;
    return h;
}

static char *dup_or_null(const char *z)
{
    return z ? xstrdup(z) : NULL;
}

static void rslots_grow(struct vuln_index *x)
{
    size_t n = x->nrslots ? x->nrslots * 2 : 1024;
    size_t *slots = xcalloc(n, sizeof(*slots));
    for (size_t i = 0; i < x->nrecords; i++) {
        size_t j = hash(x->records[i]->id) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = i + 1;
    }
    free(x->rslots);
    x->rslots = slots;
    x->nrslots = n;
}

/* The index's copy of an entry's record, made on first sight. */
static struct index_record *record_for(struct vuln_index *x, const struct vuln_entry *e)
{
    if ((x->nrecords + 1) * 2 > x->nrslots)
        rslots_grow(x);
    size_t j = hash(e->record_id) & (x->nrslots - 1);
    while (x->rslots[j]) {
        struct index_record *r = x->records[x->rslots[j] - 1];
        if (strcmp(r->id, e->record_id) == 0)
            return r;
        j = (j + 1) & (x->nrslots - 1);
    }
    struct index_record *r = xcalloc(1, sizeof(*r));
    r->id = xstrdup(e->record_id);
    r->summary = xstrdup(e->summary);
    r->details = xstrdup(e->details);
    r->uri = xstrdup(e->uri);
    r->cvss3_vector = dup_or_null(e->cvss3_vector);
    r->cvss2_vector = dup_or_null(e->cvss2_vector);
    r->cvss3_score = e->cvss3_score;
    r->cvss2_score = e->cvss2_score;
    if (x->nrecords == x->rcap) {
        x->rcap = x->rcap ? x->rcap * 2 : 1024;
        x->records = xrealloc(x->records, x->rcap * sizeof(*x->records));
    }
    x->records[x->nrecords++] = r;
    x->rslots[j] = x->nrecords;
    return r;
}

static int load_row(void *ctx, const struct vuln_entry *e)
{
    struct vuln_index *x = ctx;
    if (x->nentries == x->ecap) {
        x->ecap = x->ecap ? x->ecap * 2 : 1024;
        x->entries = xrealloc(x->entries, x->ecap * sizeof(*x->entries));
    }
    struct index_entry *ie = &x->entries[x->nentries];
    ie->record = record_for(x, e);
    ie->severity = xstrdup(e->severity);
    ie->ranges = xstrdup(e->ranges);
    ie->versions = xstrdup(e->versions);
    /* rows come ordered by package */
    struct index_package *last = x->npackages ? &x->packages[x->npackages - 1] : NULL;
    if (!last || strcmp(last->name, e->package) != 0) {
        if (x->npackages == x->pcap) {
            x->pcap = x->pcap ? x->pcap * 2 : 256;
            x->packages = xrealloc(x->packages, x->pcap * sizeof(*x->packages));
        }
        last = &x->packages[x->npackages++];
        *last = (struct index_package){xstrdup(e->package), x->nentries, 0};
    }
    last->count++;
    x->nentries++;
    return 0;
}

static void index_packages(struct vuln_index *x)
{
    size_t n = 16;
    while (n < x->npackages * 2)
        n *= 2;
    x->slots = xcalloc(n, sizeof(*x->slots));
    x->nslots = n;
    for (size_t i = 0; i < x->npackages; i++) {
        size_t j = hash(x->packages[i].name) & (n - 1);
        while (x->slots[j])
            j = (j + 1) & (n - 1);
        x->slots[j] = i + 1;
    }
}

int vuln_index_load(struct vuln_index **out, const char *ecosystem)
{
    char key[VULNDB_KEY_MAX];
    struct vuln_index *x = xcalloc(1, sizeof(*x));
    *out = NULL;
    int rc = vulndb_ecosystem(ecosystem, key, sizeof(key), &x->vk);
    if (rc == 0)
        rc = store_vuln_entries_all(key, load_row, x);
    free(x->rslots);
    x->rslots = NULL;
    x->nrslots = 0;
    if (rc < 0) {
        vuln_index_free(x);
        return rc;
    }
    index_packages(x);
    *out = x;
    return 0;
}

static const struct index_package *find_package(const struct vuln_index *x, const char *name)
{
    if (!x->nslots)
        return NULL;
    size_t j = hash(name) & (x->nslots - 1);
    while (x->slots[j]) {
        const struct index_package *p = &x->packages[x->slots[j] - 1];
        if (strcmp(p->name, name) == 0)
            return p;
        j = (j + 1) & (x->nslots - 1);
    }
    return NULL;
}

int vuln_index_match(const struct vuln_index *idx, const struct package_query *pkgs, size_t n, vuln_finding_fn fn, void *ctx)
{
    struct matching m = {.vk = idx->vk, .fn = fn, .ctx = ctx};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *names[2], *versions[2];
        size_t k = lookups(&pkgs[i], names, versions);
        m.pkg = &pkgs[i];
        seen_clear(&m.seen);
        for (size_t j = 0; rc == 0 && j < k; j++) {
            const struct index_package *p = find_package(idx, names[j]);
            m.name = names[j];
            m.version = versions[j];
            for (size_t e = 0; p && rc == 0 && e < p->count; e++) {
                const struct index_entry *ie = &idx->entries[p->first + e];
                const struct index_record *r = ie->record;
                struct vuln_entry v = {
                    .record_id = r->id,
                    .package = p->name,
                    .severity = ie->severity,
                    .ranges = ie->ranges,
                    .versions = ie->versions,
                    .summary = r->summary,
                    .details = r->details,
                    .uri = r->uri,
                    .cvss3_vector = r->cvss3_vector,
                    .cvss3_score = r->cvss3_score,
                    .cvss2_vector = r->cvss2_vector,
                    .cvss2_score = r->cvss2_score,
                };
                rc = consider(&m, &v);
            }
        }
    }
    seen_clear(&m.seen);
    free(m.seen.ids);
    return rc;
}

size_t vuln_index_entries(const struct vuln_index *idx)
{
    return idx ? idx->nentries : 0;
}

void vuln_index_free(struct vuln_index *idx)
{
    if (!idx)
        return;
    for (size_t i = 0; i < idx->nentries; i++) {
        free(idx->entries[i].severity);
        free(idx->entries[i].ranges);
        free(idx->entries[i].versions);
    }
    for (size_t i = 0; i < idx->nrecords; i++) {
        struct index_record *r = idx->records[i];
        free(r->id);
        free(r->summary);
        free(r->details);
        free(r->uri);
        free(r->cvss3_vector);
        free(r->cvss2_vector);
        free(r);
    }
    for (size_t i = 0; i < idx->npackages; i++)
        free(idx->packages[i].name);
    free(idx->records);
    free(idx->rslots);
    free(idx->packages);
    free(idx->slots);
    free(idx->entries);
    free(idx);
}
