/*
 * The vulnerability database's storage: OSV records reduced to what
 * matching and findings need, and the entries saying which package
 * versions of which ecosystem each affects.
 *
 * An affected entry is keyed by (eco_key, package): eco_key is the
 * ecosystem normalised by scan/vulndb.c ("debian:12", "ubuntu:22.04",
 * "alpine:3.19", "rocky:9"), ecosystem the string as the record spells
 * it ("Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.19", "Rocky Linux:9").
 * ranges and versions are in scan/vulndb.h's compact encoding; severity
 * is the ECR severity already decided for the entry (scan/vulndb.c).
 *
 * store_vuln_put() replaces a record and its entries unless the stored
 * copy is as new (by `modified`); callers group puts into transactions
 * (store_begin_named("vulndb") ... store_commit), so a reader sees a
 * record whole or not at all.
 */
#ifndef BERTH_STORE_VULNDB_H
#define BERTH_STORE_VULNDB_H

#include <stddef.h>
#include <stdint.h>

struct vuln_affected {
    char *ecosystem;
    char *eco_key;
    char *package;
    char *severity; /* INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL or UNDEFINED */
    char *ranges;   /* "" when none */
    char *versions; /* "" when none */
};

struct vuln_record {
    char *id;
    char *modified;      /* RFC 3339, as the record has it */
    int64_t modified_ms; /* the same, in ms since the epoch */
    char *summary;       /* "" when none */
    char *details;       /* "" when none */
    char *aliases;       /* a JSON array */
    char *uri;           /* the advisory's address */
    char *cvss3_vector;  /* NULL when none */
    double cvss3_score;
    char *cvss2_vector; /* NULL when none */
    double cvss2_score;
    struct vuln_affected *affected;
    size_t naffected;
};

void vuln_record_release(struct vuln_record *r);

/* Stores r (and replaces its entries) when it is new or newer than the
 * stored copy: 1 when stored, 0 when the stored copy is as new. */
int store_vuln_put(const struct vuln_record *r, int64_t now_ms);
/* Removes a record (a withdrawn one): 1 when there was one, else 0. */
int store_vuln_delete(const char *id);

/* One affected entry with its record's fields, as matching reads them;
 * strings are valid during the callback. */
struct vuln_entry {
    const char *record_id;
    const char *package;
    const char *severity;
    const char *ranges;
    const char *versions;
    const char *summary, *details, *uri;
    const char *cvss3_vector, *cvss2_vector; /* NULL when none */
    double cvss3_score, cvss2_score;
};
/* The entries of eco_key naming package; fn returns non-zero to stop. */
int store_vuln_entries(const char *eco_key, const char *package, int (*fn)(void *ctx, const struct vuln_entry *e),
                       void *ctx);
/* Every entry of eco_key, ordered by package. */
int store_vuln_entries_all(const char *eco_key, int (*fn)(void *ctx, const struct vuln_entry *e), void *ctx);
/* The (eco_key, package) pairs of the records stored after since_ms:
 * what a re-match after an update needs to look at. */
int store_vuln_changed(int64_t since_ms, int (*fn)(void *ctx, const char *eco_key, const char *package), void *ctx);

/* Records per ecosystem (as the records spell it), in ecosystem order. */
int store_vuln_counts(int (*fn)(void *ctx, const char *ecosystem, int64_t records), void *ctx);
int store_vuln_total(int64_t *out);
/* When the data was last updated (an import or sync that finished), and
 * from where; *out_ms is 0 when never. */
int store_vuln_set_updated(int64_t ms, const char *source);
int store_vuln_updated(int64_t *out_ms, char *source, size_t source_size);

#endif
