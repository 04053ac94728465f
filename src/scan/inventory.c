/*
 * This module implements the inventory half of scan.h: the list of what
 * an image has installed, read from a scan_view, its JSON form, and
 * scan_image_inventory(), which reads an image's layers from the blob
 * store in order and returns its inventory.
 *
 * Package databases are read from where the distributions keep them
 * (dpkg's status and status.d, apk's installed at /lib or /usr/lib, the
 * SQLite rpmdb at /var/lib/rpm or /usr/lib/sysimage/rpm); several may be
 * present, and every one found adds its packages. The distribution comes
 * from /etc/os-release, else /usr/lib/os-release, as os-release(5) says.
 */
#include "scan/scan.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "image/image.h"
#include "image/manifest.h"

#define PKG_FIELD_MAX 256
#define INVENTORY_JSON_VERSION 1

static const char *const format_names[] = {[PKG_DPKG] = "dpkg", [PKG_APK] = "apk", [PKG_RPM] = "rpm"};

const char *pkg_format_name(enum pkg_format f)
{
    return f >= PKG_DPKG && f <= PKG_RPM ? format_names[f] : "unknown";
}

static int format_of(const char *z)
{
    for (int f = PKG_DPKG; f <= PKG_RPM; f++)
        if (strcmp(z, format_names[f]) == 0)
            return f;
    return -1;
}

void inventory_init(struct inventory *inv)
{
    memset(inv, 0, sizeof(*inv));
}

static void package_release(struct package *p)
{
    free(p->name);
    free(p->version);
    free(p->source_name);
    free(p->source_version);
}

void inventory_release(struct inventory *inv)
{
    for (size_t i = 0; i < inv->npkgs; i++)
        package_release(&inv->pkgs[i]);
    free(inv->pkgs);
    free(inv->os_id);
    free(inv->os_version);
    free(inv->os_name);
    free(inv->ecosystem);
    inventory_init(inv);
}

static int field_ok(struct slice s)
{
    if (s.len == 0 || s.len > PKG_FIELD_MAX)
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.base[i] <= 0x20 || (unsigned char)s.base[i] >= 0x7f)
            return 0;
    return 1;
}

int inventory_add(struct inventory *inv, enum pkg_format format, struct slice name, struct slice version,
                  struct slice source_name, struct slice source_version)
{
    if (!source_name.len)
        source_name = name;
    if (!source_version.len)
        source_version = version;
    if (!field_ok(name) || !field_ok(version) || !field_ok(source_name) || !field_ok(source_version))
        return error_set(E_INVALID, "package name or version is not printable ASCII of 1 to %d characters", PKG_FIELD_MAX);
    if (inv->npkgs == inv->cap) {
        inv->cap = inv->cap ? inv->cap * 2 : 64;
        inv->pkgs = xrealloc(inv->pkgs, inv->cap * sizeof(*inv->pkgs));
    }
    struct package *p = &inv->pkgs[inv->npkgs++];
    p->format = format;
    p->name = xstrndup(name.base, name.len);
    p->version = xstrndup(version.base, version.len);
    p->source_name = xstrndup(source_name.base, source_name.len);
    p->source_version = xstrndup(source_version.base, source_version.len);
    return 0;
}

static int package_cmp(const void *x, const void *y)
{
    const struct package *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    if (c == 0)
        c = strcmp(a->version, b->version);
    if (c == 0)
        c = (int)a->format - (int)b->format;
    if (c == 0)
        c = strcmp(a->source_name, b->source_name);
    if (c == 0)
        c = strcmp(a->source_version, b->source_version);
    return c;
}

void inventory_finish(struct inventory *inv)
{
    size_t k = 0;
    if (inv->npkgs == 0)
        return;
    qsort(inv->pkgs, inv->npkgs, sizeof(*inv->pkgs), package_cmp);
    for (size_t i = 1; i < inv->npkgs; i++) {
        if (package_cmp(&inv->pkgs[k], &inv->pkgs[i]) == 0)
            package_release(&inv->pkgs[i]);
        else
            inv->pkgs[++k] = inv->pkgs[i];
    }
    inv->npkgs = k + 1;
}

/* ---- from a view ---- */

static int add_status_d(void *ctx, const char *name, struct slice content)
{
    size_t n = strlen(name);
    /* distroless keeps each package's md5sums beside its stanza */
    if (n > 8 && strcmp(name + n - 8, ".md5sums") == 0)
        return 0;
    dpkg_parse_status(ctx, content.base, content.len, 1);
    return 0;
}

int inventory_from_view(struct inventory *out, const struct scan_view *v)
{
    static const char *const os_paths[] = {"etc/os-release", "usr/lib/os-release"};
    static const char *const apk_paths[] = {"lib/apk/db/installed", "usr/lib/apk/db/installed"};
    static const char *const rpm_paths[] = {"var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"};
    struct slice f;
    int rc = 0;
    for (size_t i = 0; i < 2; i++)
        if (scan_view_get(v, os_paths[i], &f) == 0) {
            os_release_parse(out, f.base, f.len);
            break;
        }
    if (scan_view_get(v, "var/lib/dpkg/status", &f) == 0)
        dpkg_parse_status(out, f.base, f.len, 0);
    scan_view_each(v, "var/lib/dpkg/status.d", add_status_d, out);
    for (size_t i = 0; i < 2; i++)
        if (scan_view_get(v, apk_paths[i], &f) == 0) {
            apk_parse_installed(out, f.base, f.len);
            break;
        }
    for (size_t i = 0; i < 2 && rc == 0; i++)
        if (scan_view_get(v, rpm_paths[i], &f) == 0) {
            rc = rpm_parse_sqlite(out, f.base, f.len);
            break;
        }
    if (rc == 0)
        error_clear();
    inventory_finish(out);
    out->stats = *scan_view_stats(v);
    return rc;
}

/* ---- from an image ---- */

static int tar_layer(const char *media_type)
{
    static const char *const prefixes[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
    };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(media_type, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static int image_config(const char *media_type)
{
    return strcmp(media_type, "application/vnd.docker.container.image.v1+json") == 0 ||
           strcmp(media_type, "application/vnd.oci.image.config.v1+json") == 0;
}

int scan_image_inventory(const struct repo *repo, const char *manifest_digest, struct inventory *out)
{
    struct manifest m;
    struct parsed_manifest pm;
    struct scan_view *v = NULL;
    int rc, have_m = 0, have_pm = 0;
    inventory_init(out);
    memset(&m, 0, sizeof(m));
    rc = store_manifest_get(repo->id, manifest_digest, true, &m);
    if (rc < 0)
        goto done;
    have_m = 1;
    rc = manifest_parse(&pm, m.body, m.size, m.media_type);
    if (rc < 0)
        goto done;
    have_pm = 1;
    if (pm.is_index || pm.artifact_type || !pm.config.media_type || !image_config(pm.config.media_type)) {
        rc = error_set(E_UNSUPPORTED, "'%s' is not a container image", manifest_digest);
        goto done;
    }
    for (size_t i = 0; i < pm.nlayers; i++)
        if (!pm.layers[i].media_type || !tar_layer(pm.layers[i].media_type)) {
            rc = error_set(E_UNSUPPORTED, "layer %zu of '%s' is not a tar layer", i + 1, manifest_digest);
            goto done;
        }
    v = scan_view_new(scan_get_limits());
    for (size_t i = 0; i < pm.nlayers; i++) {
        int fd = -1;
        uint64_t size;
        rc = image_blob_open(pm.layers[i].digest, &fd, &size);
        if (rc == E_NOTFOUND && pm.layers[i].foreign) {
            rc = 0; /* a foreign layer the registry never had */
            continue;
        }
        if (rc < 0)
            goto done;
        rc = scan_view_apply_fd(v, fd);
        close(fd);
        if (rc < 0)
            goto done;
    }
    rc = inventory_from_view(out, v);
done:
    scan_view_free(v);
    if (have_pm)
        parsed_manifest_release(&pm);
    if (have_m)
        manifest_release(&m);
    return rc;
}

/* ---- JSON ---- */

/* The string, or null when there is none or it is not UTF-8 (a
 * PRETTY_NAME may be anything). */
static json_t *string_or_null(const char *z)
{
    json_t *j = z ? json_string(z) : NULL;
    return j ? j : json_null();
}

char *inventory_to_json(const struct inventory *inv)
{
    json_t *root = json_object(), *os = json_object(), *pkgs = json_array(), *st = json_object();
    json_object_set_new(root, "version", json_integer(INVENTORY_JSON_VERSION));
    json_object_set_new(os, "id", string_or_null(inv->os_id));
    json_object_set_new(os, "version_id", string_or_null(inv->os_version));
    json_object_set_new(os, "name", string_or_null(inv->os_name));
    json_object_set_new(os, "ecosystem", string_or_null(inv->ecosystem));
    json_object_set_new(root, "os", os);
    for (size_t i = 0; i < inv->npkgs; i++) {
        const struct package *p = &inv->pkgs[i];
        json_array_append_new(pkgs, json_pack("{s:s,s:s,s:s,s:s,s:s}", "format", pkg_format_name(p->format), "name", p->name,
                                              "version", p->version, "source", p->source_name, "source_version",
                                              p->source_version));
    }
    json_object_set_new(root, "packages", pkgs);
    json_object_set_new(st, "layers", json_integer((json_int_t)inv->stats.layers));
    json_object_set_new(st, "entries", json_integer((json_int_t)inv->stats.entries));
    json_object_set_new(st, "bytes_in", json_integer((json_int_t)inv->stats.bytes_in));
    json_object_set_new(st, "bytes_expanded", json_integer((json_int_t)inv->stats.bytes_expanded));
    json_object_set_new(st, "whiteouts", json_integer((json_int_t)inv->stats.whiteouts));
    json_object_set_new(st, "rejected", json_integer((json_int_t)inv->stats.rejected));
    json_object_set_new(root, "stats", st);
    char *z = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!z)
        abort(); /* out of memory: every string was checked ASCII when added */
    return z;
}

/* A string member, or NULL for null; -1 for anything else. */
static int opt_string(json_t *obj, const char *key, char **out)
{
    json_t *j = json_object_get(obj, key);
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_string(j) || json_string_length(j) > PKG_FIELD_MAX || strlen(json_string_value(j)) != json_string_length(j))
        return -1;
    *out = xstrdup(json_string_value(j));
    return 0;
}

static uint64_t stat_of(json_t *st, const char *key)
{
    json_t *j = json_object_get(st, key);
    return json_is_integer(j) && json_integer_value(j) > 0 ? (uint64_t)json_integer_value(j) : 0;
}

int inventory_from_json(struct inventory *out, const char *json, size_t n)
{
    json_error_t jerr;
    json_t *root, *os, *pkgs, *st;
    int rc = 0;
    inventory_init(out);
    root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return error_set(E_INVALID, "inventory is not JSON: %s", jerr.text);
    os = json_object_get(root, "os");
    pkgs = json_object_get(root, "packages");
    if (json_integer_value(json_object_get(root, "version")) != INVENTORY_JSON_VERSION || !json_is_object(os) ||
        !json_is_array(pkgs)) {
        rc = error_set(E_INVALID, "inventory is not version %d with os and packages", INVENTORY_JSON_VERSION);
        goto done;
    }
    if (opt_string(os, "id", &out->os_id) < 0 || opt_string(os, "version_id", &out->os_version) < 0 ||
        opt_string(os, "name", &out->os_name) < 0 || opt_string(os, "ecosystem", &out->ecosystem) < 0) {
        rc = error_set(E_INVALID, "inventory os fields must be strings or null");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(pkgs); i++) {
        json_t *p = json_array_get(pkgs, i);
        const char *format = NULL, *name = NULL, *version = NULL, *source = NULL, *source_version = NULL;
        int f;
        if (json_unpack(p, "{s:s,s:s,s:s,s:s,s:s}", "format", &format, "name", &name, "version", &version, "source", &source,
                        "source_version", &source_version) != 0 ||
            (f = format_of(format)) < 0 ||
            inventory_add(out, (enum pkg_format)f, slice_from(name), slice_from(version), slice_from(source),
                          slice_from(source_version)) < 0) {
            rc = error_set(E_INVALID, "inventory package %zu is malformed", i);
            goto done;
        }
    }
    st = json_object_get(root, "stats");
    if (json_is_object(st)) {
        out->stats.layers = stat_of(st, "layers");
        out->stats.entries = stat_of(st, "entries");
        out->stats.bytes_in = stat_of(st, "bytes_in");
        out->stats.bytes_expanded = stat_of(st, "bytes_expanded");
        out->stats.whiteouts = stat_of(st, "whiteouts");
        out->stats.rejected = stat_of(st, "rejected");
    }
    inventory_finish(out);
done:
    json_decref(root);
    return rc;
}
