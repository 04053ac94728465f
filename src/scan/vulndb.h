/*
 * The vulnerability database: OSV records (osv.dev's schema, as Debian,
 * Ubuntu, Alpine, Rocky Linux, AlmaLinux and Red Hat publish them) read,
 * reduced to what matching needs and kept in the store (store/vulndb.h).
 *
 * Ecosystems. Records spell them "Debian:12", "Ubuntu:22.04:LTS",
 * "Ubuntu:24.10", "Ubuntu:Pro:18.04:LTS", "Alpine:v3.19", "Rocky Linux:9",
 * "AlmaLinux:9", "Red Hat:enterprise_linux:9::appstream"; each is kept
 * as spelled and under a key that an image's /etc/os-release also maps
 * to: "debian:12", "ubuntu:22.04", "ubuntu-pro:18.04", "alpine:3.19",
 * "rocky:9", "almalinux:9", "rhel:9". vulndb_ecosystem() accepts either
 * form (it is idempotent on keys). Ecosystems that are no OS
 * distribution (PyPI, npm, Go, ...) are not kept.
 *
 * Encoding of an entry's ranges and versions (store/vulndb.h): ranges of
 * type ECOSYSTEM, one per line ('\n'); each a space-separated list of
 * events "i<version>" (introduced), "f<version>" (fixed), "l<version>"
 * (last_affected), sorted by the ecosystem's version order at import. The
 * explicit versions list is space-separated. Versions with whitespace or
 * control characters make the entry invalid (it is skipped).
 *
 * Import reads a directory of .json files (recursively), a single .json
 * file, or a zip of them (osv.dev's per-ecosystem all.zip) with
 * libarchive, one record at a time (a record over VULNDB_RECORD_MAX is
 * refused), and commits every VULNDB_BATCH records in one transaction.
 * A record replaces the stored one only when its `modified` is newer; a
 * withdrawn record is removed.
 */
#ifndef BERTH_SCAN_VULNDB_H
#define BERTH_SCAN_VULNDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/version.h"
#include "store/vulndb.h"

#define VULNDB_RECORD_MAX (32u << 20)
#define VULNDB_BATCH 256
#define VULNDB_KEY_MAX 128

/* The key and version order of an OSV ecosystem string (or of a key):
 * 0, or E_UNSUPPORTED for an ecosystem that is no OS distribution. */
int vulndb_ecosystem(const char *ecosystem, char *key, size_t size, enum version_kind *kind);
/* The key for /etc/os-release's ID and VERSION_ID ("debian", "12";
 * "alpine", "3.19.1"; "rocky", "9.3"), or E_UNSUPPORTED. */
int vulndb_ecosystem_for_os(const char *os_id, const char *version_id, char *key, size_t size, enum version_kind *kind);

/* Parses one OSV record. 0 with out filled (the caller releases it);
 * *withdrawn is set when the record is withdrawn (only out->id is then
 * filled); E_UNSUPPORTED when it affects no ecosystem kept here;
 * E_INVALID when it is no OSV record. */
int vulndb_parse(struct vuln_record *out, bool *withdrawn, const char *json, size_t len);

struct vulndb_import_stats {
    int64_t read;      /* records read */
    int64_t stored;    /* new or newer, stored */
    int64_t unchanged; /* the stored copy was as new */
    int64_t withdrawn; /* removed */
    int64_t skipped;   /* no ecosystem kept here */
    int64_t invalid;   /* not OSV, or too big */
};

/* Imports path: a directory, a .json file or a zip. */
int vulndb_import(const char *path, struct vulndb_import_stats *out);
/* Downloads the zip at url (http or https) into a temporary file in
 * tmp_dir, imports it and removes the file. */
int vulndb_sync(const char *url, const char *tmp_dir, struct vulndb_import_stats *out);

#endif
