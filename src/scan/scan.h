/*
 * The scanner's reading half: what an image holds, from its layers.
 *
 * A scan_view is the merged file system of an image's layers, reduced to
 * the few files a scan reads (os-release, the dpkg, apk and rpm package
 * databases) and the symlinks on the way to them. Layers are applied in
 * order from tar streams (gzip, zstd or plain, told apart by content) with
 * OCI whiteouts; nothing is unpacked to disk and memory is bounded by the
 * kept files, not by the image. Entries that try to leave the tree
 * (absolute names, "..", links climbing above the root) are rejected and
 * counted.
 *
 * An inventory is what the view says: the distribution (with the OSV
 * ecosystem name its advisories use) and the installed packages, each with
 * its source package (Debian and Ubuntu advisories name source packages).
 * Inventories serialise to JSON so that a database update can re-match an
 * image without reading its layers again.
 *
 * Version comparison and matching live in scan/version.c and scan/vulndb*.c.
 */
#ifndef BERTH_SCAN_SCAN_H
#define BERTH_SCAN_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

/* ---- limits ---- */

struct scan_limits {
    uint64_t max_layer_bytes;   /* one layer's tar stream after decompression */
    uint64_t max_layer_entries; /* tar entries in one layer */
    uint64_t max_file_bytes;    /* one kept file (a package database) */
    uint64_t max_view_bytes;    /* all kept files together */
    uint64_t max_files;         /* kept files and links together */
};

#define SCAN_MAX_LAYER_BYTES_DEFAULT (8ull << 30) /* the scan-max-layer-mb setting */
#define SCAN_MAX_LAYER_ENTRIES_DEFAULT 4000000ull
#define SCAN_MAX_FILE_BYTES_DEFAULT (64ull << 20)
#define SCAN_MAX_VIEW_BYTES_DEFAULT (256ull << 20)
#define SCAN_MAX_FILES_DEFAULT 4096ull

void scan_limits_default(struct scan_limits *out);
/* The limits scan_image_inventory() uses (process-wide; set at start). */
void scan_set_limits(const struct scan_limits *l);
const struct scan_limits *scan_get_limits(void);

/* ---- the layer walker ---- */

struct scan_stats {
    uint64_t layers;
    uint64_t entries;        /* tar entries read, all layers */
    uint64_t bytes_in;       /* layer bytes as stored (compressed) */
    uint64_t bytes_expanded; /* tar bytes after decompression */
    uint64_t whiteouts;      /* whiteout and opaque markers applied */
    uint64_t rejected;       /* entries refused: escapes, bad names, bad links */
};

struct scan_view;

/* limits may be NULL for the defaults. */
struct scan_view *scan_view_new(const struct scan_limits *limits);
void scan_view_free(struct scan_view *v);
/* Applies the next layer, read from fd to its end (the caller closes fd).
 * E_TOOBIG past a limit, E_INVALID when the stream is not a tar layer;
 * the view is unusable after a failure. */
int scan_view_apply_fd(struct scan_view *v, int fd);
int scan_view_apply_mem(struct scan_view *v, const void *data, size_t n);
/* The content of the regular file at path (no leading '/'), following the
 * view's symlinks inside the tree. E_NOTFOUND when absent. The slice lives
 * until the view changes or is freed. */
int scan_view_get(const struct scan_view *v, const char *path, struct slice *out);
/* Calls fn with each regular file directly inside directory dir, in name
 * order; fn returns non-zero to stop (and that is returned). */
int scan_view_each(const struct scan_view *v, const char *dir, int (*fn)(void *ctx, const char *name, struct slice content),
                   void *ctx);
const struct scan_stats *scan_view_stats(const struct scan_view *v);

/* ---- inventories ---- */

enum pkg_format { PKG_DPKG = 1, PKG_APK = 2, PKG_RPM = 3 };

struct package {
    enum pkg_format format; /* which version ordering applies */
    char *name;
    char *version;        /* dpkg "[epoch:]upstream[-revision]", apk "1.2.3-r0", rpm "[epoch:]version-release" */
    char *source_name;    /* dpkg Source:, apk origin, rpm source package; never NULL */
    char *source_version; /* the source's own version where it differs, else == version; never NULL */
};

struct inventory {
    char *os_id;         /* os-release ID ("debian", "alpine", "rhel"...), NULL when unknown */
    char *os_version;    /* VERSION_ID, NULL when absent */
    char *os_name;       /* PRETTY_NAME, NULL when absent */
    char *ecosystem;     /* OSV ecosystem ("Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.19",
                          * "Red Hat:enterprise_linux:9", "Rocky Linux:9", "AlmaLinux:9"); NULL when OSV has none */
    struct package *pkgs; /* sorted by name, then version; no duplicates */
    size_t npkgs;
    size_t cap;
    struct scan_stats stats;
};

void inventory_init(struct inventory *inv);
void inventory_release(struct inventory *inv);
/* Adds a package; empty source_name and source_version mean the
 * package's own name and version. E_INVALID (nothing added) unless each
 * field is 1 to 256 printable ASCII characters without spaces, as package
 * names and versions of every format are. */
int inventory_add(struct inventory *inv, enum pkg_format format, struct slice name, struct slice version,
                   struct slice source_name, struct slice source_version);
/* Sorts the packages and drops exact duplicates. */
void inventory_finish(struct inventory *inv);
const char *pkg_format_name(enum pkg_format f);

/* Reads the distribution and every package database of the view. */
int inventory_from_view(struct inventory *out, const struct scan_view *v);

/* {"version":1,"os":{...},"packages":[{"format","name","version","source","source_version"}],"stats":{...}};
 * the caller frees the string. */
char *inventory_to_json(const struct inventory *inv);
/* E_INVALID with the detail set when json is not what inventory_to_json
 * writes. out is initialised here (release it even on failure). */
int inventory_from_json(struct inventory *out, const char *json, size_t n);

/* The scan job's entry point: reads the layers of the image
 * manifest_digest of repo in order and fills out (initialised here;
 * release it even on failure). E_UNSUPPORTED for an index, an artifact or
 * a manifest whose layers are not tar layers; E_NOTFOUND when the manifest
 * or a layer is missing; E_TOOBIG past a limit. */
int scan_image_inventory(const struct repo *repo, const char *manifest_digest, struct inventory *out);

/* ---- the parsers (each adds to inv; untrusted input, fuzzed) ---- */

/* os-release KEY=value lines: sets os_id, os_version, os_name, ecosystem. */
int os_release_parse(struct inventory *inv, const char *text, size_t n);
/* The OSV ecosystem for an os-release ID, VERSION_ID and VERSION, or NULL. */
char *os_ecosystem(const char *id, const char *version_id, const char *version);
/* dpkg status (and a distroless status.d file, where a missing Status
 * means installed): installed packages only. */
int dpkg_parse_status(struct inventory *inv, const char *text, size_t n, int status_d);
/* apk's /lib/apk/db/installed. */
int apk_parse_installed(struct inventory *inv, const char *text, size_t n);
/* One rpm header blob as the rpmdb stores it (no magic: il, dl, index,
 * data). E_INVALID when malformed; 0 without adding for gpg-pubkey. */
int rpm_parse_header(struct inventory *inv, const void *blob, size_t n);
/* The SQLite rpmdb (rpmdb.sqlite) held in memory. */
int rpm_parse_sqlite(struct inventory *inv, const void *db, size_t n);

#endif
