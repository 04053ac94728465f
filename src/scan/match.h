/*
 * Matching an image's package inventory against the vulnerability
 * database.
 *
 * A package is affected by an entry of its ecosystem when its version is
 * inside one of the entry's ECOSYSTEM ranges (OSV semantics: events in
 * version order; "introduced" 0 is the start; a version at or above
 * "fixed" is not affected, so a package at exactly its fixed version is
 * clean; "last_affected" is inclusive) or equal to one of its explicit
 * versions. Each package is looked up by its binary name with its version
 * and, when it has a different source package, by the source name with
 * the source version: Debian and Ubuntu advisories name source packages,
 * Alpine's name the origin package. A record reported for a package once
 * is not reported again for it.
 *
 * For rpm ecosystems, a range version without an epoch is compared with
 * the installed version without its epoch (advisories often omit it).
 *
 * The ecosystem is a key or an OSV ecosystem string (scan/vulndb.h):
 * "debian:12", "Ubuntu:22.04:LTS", "alpine:3.19", ...
 *
 * vuln_match() looks each package up in the store (an indexed query per
 * name): right for one image. To re-match many stored inventories after
 * a database update, load the ecosystem once with vuln_index_load() and
 * call vuln_index_match() per inventory: that touches no database and
 * is safe from several threads at once on one index.
 */
#ifndef BERTH_SCAN_MATCH_H
#define BERTH_SCAN_MATCH_H

#include <stddef.h>

struct package_query {
    const char *name; /* the binary package */
    const char *version;
    const char *source_name;    /* NULL or "" when the package is its own source */
    const char *source_version; /* NULL or "": the binary's version */
};

/* What ECR's DescribeImageScanFindings reports for one finding; strings
 * are valid during the callback only. */
struct vuln_finding {
    const char *id;          /* the record: CVE-2024-0727, DSA-5678-1, ... */
    const char *description; /* the summary, else the details */
    const char *uri;
    const char *severity; /* INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, UNDEFINED */
    const char *package_name;    /* the installed (binary) package */
    const char *package_version; /* its installed version */
    const char *matched_name;    /* the package the advisory names (the source, for Debian) */
    const char *matched_version; /* the version compared */
    const char *fixed_version;   /* "" when the range has no fix above it */
    const char *cvss3_vector;    /* NULL when the record has none */
    double cvss3_score;
    const char *cvss2_vector; /* NULL when the record has none */
    double cvss2_score;
};

/* Called per finding; a non-zero return stops the match, which returns it. */
typedef int (*vuln_finding_fn)(void *ctx, const struct vuln_finding *f);

/* Matches n packages of ecosystem; 0, fn's non-zero return, or a
 * negative E_* (E_UNSUPPORTED for an ecosystem the database does not
 * cover). fn must not call vuln_match() itself. */
int vuln_match(const struct package_query *pkgs, size_t n, const char *ecosystem, vuln_finding_fn fn, void *ctx);

/* Every entry of one ecosystem, in memory. */
struct vuln_index;
int vuln_index_load(struct vuln_index **out, const char *ecosystem);
int vuln_index_match(const struct vuln_index *idx, const struct package_query *pkgs, size_t n, vuln_finding_fn fn,
                     void *ctx);
/* Entries and records held (for reports and benchmarks). */
size_t vuln_index_entries(const struct vuln_index *idx);
void vuln_index_free(struct vuln_index *idx);

#endif
