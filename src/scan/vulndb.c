/*
 * This module implements the vulnerability database's import
 * (scan/vulndb.h): the OSV record parser, the ecosystem keys, the
 * readers for directories, files and zips (libarchive, one entry at a
 * time), and the download of a zip with libcurl. Records are written in
 * batches, one transaction each.
 */
#include "scan/vulndb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <jansson.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "scan/cvss.h"
#include "store/locks.h"
#include "store/store.h"

#define VERSION_MAX 256
#define ID_MAX 256

/* ---- ecosystems ---- */

/* Writes the first n characters of z, lowercased, to b. */
static void put_lower(struct buf *b, const char *z, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = z[i];
        buf_putc(b, (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    }
}

static bool part_is(const char *z, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(z, word, n) == 0;
}

/* The leading "N" of "N.M...": RHEL and its rebuilds key by major release. */
static size_t major_len(const char *z, size_t n)
{
    size_t i = 0;
    while (i < n && z[i] != '.')
        i++;
    return i;
}

/* "N.M" of "vN.M.P": Alpine keys by branch. */
static size_t branch_len(const char *z, size_t n)
{
    size_t i = 0, dots = 0;
    while (i < n && !(z[i] == '.' && ++dots == 2))
        i++;
    return i;
}

int vulndb_ecosystem(const char *ecosystem, char *key, size_t size, enum version_kind *kind)
{
    const char *part[8];
    size_t len[8], n = 0;
    const char *z = ecosystem;
    while (n < 8) {
        const char *colon = strchr(z, ':');
        part[n] = z;
        len[n] = colon ? (size_t)(colon - z) : strlen(z);
        n++;
        if (!colon)
            break;
        z = colon + 1;
    }
    if (n == 0 || len[0] == 0)
        return error_set(E_UNSUPPORTED, "ecosystem '%.64s' is not an OS distribution", ecosystem);
    struct buf b;
    buf_init(&b, 1024);
    size_t from = 1; /* the parts after the name that the key keeps */
    enum version_kind k = VERSION_DPKG;
    if (part_is(part[0], len[0], "debian")) {
        buf_puts(&b, "debian");
    } else if (part_is(part[0], len[0], "ubuntu") || part_is(part[0], len[0], "ubuntu-pro")) {
        bool pro = len[0] > 6;
        if (n > 1 && part_is(part[1], len[1], "pro"))
            pro = true, from = 2;
        /* Ubuntu:22.04:LTS and Ubuntu:22.04 are one release */
        if (n > from && part_is(part[n - 1], len[n - 1], "lts"))
            n--;
        buf_puts(&b, pro ? "ubuntu-pro" : "ubuntu");
    } else if (part_is(part[0], len[0], "alpine")) {
        k = VERSION_APK;
        buf_puts(&b, "alpine");
        if (n > 1) {
            const char *v = part[1];
            size_t vl = len[1];
            if (vl && (v[0] == 'v' || v[0] == 'V'))
                v++, vl--;
            buf_putc(&b, ':');
            put_lower(&b, v, branch_len(v, vl));
            from = n;
        }
    } else if (part_is(part[0], len[0], "wolfi") || part_is(part[0], len[0], "chainguard")) {
        k = VERSION_APK;
        put_lower(&b, part[0], len[0]);
        from = n;
    } else if (part_is(part[0], len[0], "rocky linux") || part_is(part[0], len[0], "rocky") ||
               part_is(part[0], len[0], "almalinux") || part_is(part[0], len[0], "rhel") ||
               (part_is(part[0], len[0], "red hat") && n > 2 && part_is(part[1], len[1], "enterprise_linux"))) {
        k = VERSION_RPM;
        size_t vi = part_is(part[0], len[0], "red hat") ? 2 : 1;
        const char *name = "rhel";
        if (part_is(part[0], len[0], "almalinux"))
            name = "almalinux";
        else if (part_is(part[0], len[0], "rocky linux") || part_is(part[0], len[0], "rocky"))
            name = "rocky";
        buf_puts(&b, name);
        if (n > vi) {
            buf_putc(&b, ':');
            put_lower(&b, part[vi], major_len(part[vi], len[vi]));
        }
        from = n;
    } else if (part_is(part[0], len[0], "red hat") || part_is(part[0], len[0], "redhat")) {
        k = VERSION_RPM;
        buf_puts(&b, "redhat");
    } else if (part_is(part[0], len[0], "fedora") || part_is(part[0], len[0], "opensuse") ||
               part_is(part[0], len[0], "suse") || part_is(part[0], len[0], "mageia") ||
               part_is(part[0], len[0], "openeuler")) {
        k = VERSION_RPM;
        put_lower(&b, part[0], len[0]);
    } else {
        buf_release(&b);
        return error_set(E_UNSUPPORTED, "ecosystem '%.64s' is not an OS distribution", ecosystem);
    }
    for (size_t i = from; i < n; i++) {
        buf_putc(&b, ':');
        put_lower(&b, part[i], len[i]);
    }
    if (b.len + 1 > size || b.len >= 1024) {
        buf_release(&b);
        return error_set(E_UNSUPPORTED, "ecosystem '%.64s' is too long", ecosystem);
    }
    memcpy(key, b.ptr, b.len + 1);
    buf_release(&b);
    if (kind)
        *kind = k;
    return 0;
}

/* ---- the OSV record parser ---- */

static const char *jstr(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* RFC 3339 to ms since the epoch: 2024-08-23T16:30:37Z, with optional
 * fractional seconds and a numeric offset. */
static int parse_time(const char *z, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, s, used = 0;
    if (!z || sscanf(z, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 || used != 19)
        return E_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || y < 1970 || h < 0 || mi < 0 || s < 0)
        return E_INVALID;
    const char *p = z + used;
    int64_t frac_ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        if (digits == 0)
            return E_INVALID;
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && p[1] && p[2] && p[3] == ':' && p[4] && p[5]) {
        int oh = (p[1] - '0') * 10 + (p[2] - '0'), om = (p[4] - '0') * 10 + (p[5] - '0');
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return E_INVALID;
        offset = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return E_INVALID;
    }
    if (*p)
        return E_INVALID;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    time_t t = timegm(&tm);
    *out = ((int64_t)t - offset) * 1000 + frac_ms;
    return 0;
}

static bool version_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > VERSION_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
            return false;
    return true;
}

struct event {
    char kind; /* 'i', 'l', 'f' */
    const char *version;
};

static int kind_rank(char k)
{
    return k == 'i' ? 0 : k == 'l' ? 1 : 2;
}

/* Event order: by version ("0" as introduced is the start), and at one
 * version introduced before last_affected before fixed. */
static int event_cmp(enum version_kind vk, const struct event *a, const struct event *b)
{
    bool za = a->kind == 'i' && strcmp(a->version, "0") == 0, zb = b->kind == 'i' && strcmp(b->version, "0") == 0;
    int rc = za || zb ? (int)zb - (int)za : version_compare(vk, a->version, b->version);
    if (za && zb)
        rc = 0;
    return rc ? rc : kind_rank(a->kind) - kind_rank(b->kind);
}

/* Appends one ECOSYSTEM range to b, its events sorted; 0, or E_INVALID
 * when a version cannot be encoded. A range with no event adds nothing. */
static int encode_range(struct buf *b, const json_t *events, enum version_kind vk)
{
    size_t n = json_array_size(events), m = 0;
    if (n == 0)
        return 0;
    struct event *ev = xcalloc(n, sizeof(*ev));
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(events, i);
        static const struct {
            const char *name;
            char kind;
        } kinds[] = {{"introduced", 'i'}, {"fixed", 'f'}, {"last_affected", 'l'}};
        for (size_t k = 0; k < 3; k++) {
            const char *v = jstr(e, kinds[k].name);
            if (!v)
                continue;
            if (!version_ok(v)) {
                free(ev);
                return E_INVALID;
            }
            ev[m].kind = kinds[k].kind;
            ev[m].version = v;
            m++;
            break;
        }
    }
    /* insertion sort: ranges hold a handful of events */
    for (size_t i = 1; i < m; i++) {
        struct event t = ev[i];
        size_t j = i;
        while (j > 0 && event_cmp(vk, &ev[j - 1], &t) > 0) {
            ev[j] = ev[j - 1];
            j--;
        }
        ev[j] = t;
    }
    int rc = 0;
    if (m > 0 && b->len > 0)
        rc = buf_putc(b, '\n');
    for (size_t i = 0; i < m && rc == 0; i++)
        rc = buf_printf(b, "%s%c%s", i ? " " : "", ev[i].kind, ev[i].version);
    free(ev);
    return rc < 0 ? E_INVALID : 0;
}

/* The severity word a record or entry carries in its own terms: Ubuntu's
 * ubuntu_priority, Debian's urgency, a database_specific severity. */
static const char *priority_of(const json_t *o)
{
    static const char *const spots[] = {"ecosystem_specific", "database_specific"};
    static const char *const names[] = {"ubuntu_priority", "severity", "urgency", "priority"};
    for (size_t s = 0; s < 2; s++) {
        const json_t *d = json_object_get(o, spots[s]);
        for (size_t i = 0; i < 4; i++) {
            const char *w = jstr(d, names[i]);
            if (w && severity_from_priority(w))
                return severity_from_priority(w);
        }
    }
    return NULL;
}

/* The address a finding links to: the record's advisory, else its first
 * web page, else its first reference, else its page on osv.dev. */
static char *pick_uri(const json_t *refs, const char *id)
{
    static const char *const order[] = {"ADVISORY", "WEB", NULL};
    for (size_t k = 0; k < 3; k++) {
        size_t i;
        json_t *r;
        json_array_foreach(refs, i, r)
        {
            const char *type = jstr(r, "type"), *url = jstr(r, "url");
            if (!url || strncmp(url, "http", 4) != 0 || strlen(url) > 2048)
                continue;
            if (!order[k] || (type && strcmp(type, order[k]) == 0))
                return xstrdup(url);
        }
    }
    struct buf b;
    buf_init(&b, 4096);
    buf_printf(&b, "https://osv.dev/vulnerability/%s", id);
    return buf_detach(&b);
}

static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= ' ' || id[i] == 0x7f)
            return false;
    return true;
}

int vulndb_parse(struct vuln_record *out, bool *withdrawn, const char *json, size_t len)
{
    json_error_t jerr;
    *out = (struct vuln_record){0};
    *withdrawn = false;
    json_t *root = json_loadb(json, len, 0, &jerr);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = error_set(E_INVALID, "osv: not a JSON object (line %d: %s)", jerr.line, root ? "" : jerr.text);
        goto done;
    }
    const char *id = jstr(root, "id"), *modified = jstr(root, "modified");
    if (!id_ok(id)) {
        rc = error_set(E_INVALID, "osv: the record has no valid id");
        goto done;
    }
    out->id = xstrdup(id);
    if (parse_time(modified, &out->modified_ms) < 0) {
        rc = error_set(E_INVALID, "osv: record '%s' has no valid modified time", id);
        goto done;
    }
    out->modified = xstrdup(modified);
    if (json_object_get(root, "withdrawn") && !json_is_null(json_object_get(root, "withdrawn"))) {
        *withdrawn = true;
        goto done;
    }
    out->summary = xstrdup(jstr(root, "summary") ? jstr(root, "summary") : "");
    out->details = xstrdup(jstr(root, "details") ? jstr(root, "details") : "");

    /* aliases, and Alpine's upstream (the CVE its record is about) */
    json_t *aliases = json_array();
    static const char *const alias_fields[] = {"aliases", "upstream"};
    for (size_t f = 0; f < 2; f++) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(root, alias_fields[f]), i, a)
        {
            if (json_is_string(a) && id_ok(json_string_value(a)))
                json_array_append(aliases, a);
        }
    }
    out->aliases = json_dumps(aliases, JSON_COMPACT);
    json_decref(aliases);
    out->uri = pick_uri(json_object_get(root, "references"), id);

    const char *record_priority = NULL;
    size_t i;
    json_t *sev;
    json_array_foreach(json_object_get(root, "severity"), i, sev)
    {
        const char *type = jstr(sev, "type"), *score = jstr(sev, "score");
        double v;
        if (!type || !score)
            continue;
        if (strcmp(type, "CVSS_V3") == 0 && !out->cvss3_vector && cvss3_base_score(score, &v) == 0) {
            out->cvss3_vector = xstrdup(score);
            out->cvss3_score = v;
        } else if (strcmp(type, "CVSS_V2") == 0 && !out->cvss2_vector && cvss2_base_score(score, &v) == 0) {
            out->cvss2_vector = xstrdup(score);
            out->cvss2_score = v;
        } else if (strcmp(type, "Ubuntu") == 0 && !record_priority) {
            record_priority = severity_from_priority(score);
        }
    }
    if (!record_priority)
        record_priority = priority_of(root);

    const json_t *affected = json_object_get(root, "affected");
    out->affected = xcalloc(json_array_size(affected) + 1, sizeof(*out->affected));
    json_t *a;
    json_array_foreach(affected, i, a)
    {
        const json_t *pkg = json_object_get(a, "package");
        const char *eco = jstr(pkg, "ecosystem"), *name = jstr(pkg, "name");
        char key[VULNDB_KEY_MAX];
        enum version_kind vk;
        if (!eco || !name || !*name || strlen(name) > 256 || vulndb_ecosystem(eco, key, sizeof(key), &vk) < 0)
            continue;
        struct buf ranges, versions;
        buf_init(&ranges, VULNDB_RECORD_MAX);
        buf_init(&versions, VULNDB_RECORD_MAX);
        bool bad = false;
        size_t j;
        json_t *r, *v;
        json_array_foreach(json_object_get(a, "ranges"), j, r)
        {
            const char *type = jstr(r, "type");
            if (type && strcmp(type, "ECOSYSTEM") == 0 && encode_range(&ranges, json_object_get(r, "events"), vk) < 0)
                bad = true;
        }
        json_array_foreach(json_object_get(a, "versions"), j, v)
        {
            const char *z = json_string_value(v);
            if (!version_ok(z) || (versions.len && buf_putc(&versions, ' ') < 0) || buf_puts(&versions, z) < 0)
                bad = true;
        }
        if (bad || (ranges.len == 0 && versions.len == 0)) {
            buf_release(&ranges);
            buf_release(&versions);
            continue;
        }
        struct vuln_affected *e = &out->affected[out->naffected++];
        const char *severity = out->cvss3_vector ? severity_from_cvss3(out->cvss3_score) : priority_of(a);
        if (!severity)
            severity = record_priority ? record_priority : "UNDEFINED";
        e->ecosystem = xstrdup(eco);
        e->eco_key = xstrdup(key);
        e->package = xstrdup(name);
        e->severity = xstrdup(severity);
        e->ranges = buf_detach(&ranges);
        e->versions = buf_detach(&versions);
    }
    if (out->naffected == 0)
        rc = error_set(E_UNSUPPORTED, "osv: record '%s' affects no OS package ecosystem kept here", id);
done:
    json_decref(root);
    if (rc < 0) {
        char *keep = out->id;
        out->id = NULL;
        vuln_record_release(out);
        out->id = keep; /* callers may name the record in a message */
    }
    return rc;
}

/* ---- import ---- */

struct importer {
    struct vulndb_import_stats *stats;
    int64_t now;
    int in_batch; /* records in the open transaction */
};

static int batch_commit(struct importer *im)
{
    if (!im->in_batch)
        return 0;
    im->in_batch = 0;
    int rc = store_commit();
    if (rc < 0)
        store_rollback();
    return rc;
}

/* Parses and stores one record; only a store failure is an error. */
static int import_record(struct importer *im, const char *name, const char *json, size_t len)
{
    struct vuln_record r;
    bool withdrawn;
    im->stats->read++;
    int rc = vulndb_parse(&r, &withdrawn, json, len);
    if (rc == E_UNSUPPORTED) {
        im->stats->skipped++;
        free(r.id);
        return 0;
    }
    if (rc < 0) {
        im->stats->invalid++;
        log_warn("vulndb: %s: %s", name, error_message());
        free(r.id);
        return 0;
    }
    /* the vulnerability tables' writers one at a time: each record's
     * "is it newer" check and write are one batch's; other writers go on */
    if (!im->in_batch && (rc = store_begin_named("vulndb")) < 0) {
        vuln_record_release(&r);
        return rc;
    }
    im->in_batch++;
    if (withdrawn) {
        rc = store_vuln_delete(r.id);
        if (rc > 0)
            im->stats->withdrawn++;
    } else {
        rc = store_vuln_put(&r, im->now);
        if (rc > 0)
            im->stats->stored++;
        else if (rc == 0)
            im->stats->unchanged++;
    }
    vuln_record_release(&r);
    if (rc < 0) {
        im->in_batch = 0;
        store_rollback();
        return rc;
    }
    if (im->in_batch >= VULNDB_BATCH)
        return batch_commit(im);
    return 0;
}

static bool ends_with(const char *z, const char *suffix)
{
    size_t n = strlen(z), m = strlen(suffix);
    return n >= m && strcasecmp(z + n - m, suffix) == 0;
}

static int import_file(struct importer *im, const char *path)
{
    struct buf b;
    int rc = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return error_set(E_ERROR, "vulndb: cannot open '%s': %s", path, strerror(errno));
    buf_init(&b, VULNDB_RECORD_MAX);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_put(&b, chunk, n) < 0)
            break;
    if (ferror(f)) {
        rc = error_set(E_ERROR, "vulndb: cannot read '%s': %s", path, strerror(errno));
    } else if (!feof(f)) {
        im->stats->read++;
        im->stats->invalid++;
        log_warn("vulndb: %s: record larger than %u bytes", path, VULNDB_RECORD_MAX);
    } else {
        rc = import_record(im, path, b.ptr, b.len);
    }
    fclose(f);
    buf_release(&b);
    return rc;
}

static int import_dir(struct importer *im, const char *path, int depth)
{
    if (depth > 16)
        return error_set(E_INVALID, "vulndb: '%s' is nested too deeply", path);
    DIR *d = opendir(path);
    if (!d)
        return error_set(E_ERROR, "vulndb: cannot open directory '%s': %s", path, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[4096];
        struct stat st;
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= sizeof(sub) || stat(sub, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = import_dir(im, sub, depth + 1);
        else if (S_ISREG(st.st_mode) && ends_with(de->d_name, ".json"))
            rc = import_file(im, sub);
    }
    closedir(d);
    return rc;
}

static int import_zip(struct importer *im, const char *path)
{
    struct archive *a = archive_read_new();
    struct archive_entry *entry;
    struct buf b;
    int rc = 0;
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        rc = error_set(E_INVALID, "vulndb: cannot read zip '%s': %s", path, archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    buf_init(&b, VULNDB_RECORD_MAX);
    for (;;) {
        int ar = archive_read_next_header(a, &entry);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
            rc = error_set(E_INVALID, "vulndb: zip '%s': %s", path, archive_error_string(a));
            break;
        }
        const char *name = archive_entry_pathname(entry);
        if (archive_entry_filetype(entry) != AE_IFREG || !name || !ends_with(name, ".json"))
            continue;
        if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > (la_int64_t)VULNDB_RECORD_MAX) {
            im->stats->read++;
            im->stats->invalid++;
            log_warn("vulndb: %s: %s: record larger than %u bytes", path, name, VULNDB_RECORD_MAX);
            continue;
        }
        buf_reset(&b);
        char chunk[65536];
        la_ssize_t n;
        bool big = false;
        while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
            if (buf_put(&b, chunk, (size_t)n) < 0) {
                big = true;
                break;
            }
        if (n < 0) {
            rc = error_set(E_INVALID, "vulndb: zip '%s': %s: %s", path, name, archive_error_string(a));
            break;
        }
        if (big) {
            im->stats->read++;
            im->stats->invalid++;
            log_warn("vulndb: %s: %s: record larger than %u bytes", path, name, VULNDB_RECORD_MAX);
            continue;
        }
        if ((rc = import_record(im, name, b.ptr, b.len)) < 0)
            break;
    }
    buf_release(&b);
    archive_read_free(a);
    return rc;
}

static bool is_zip(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && magic[0] == 'P' && magic[1] == 'K' && (magic[2] == 3 || magic[2] == 5) && (magic[3] == 4 || magic[3] == 6);
}

static int import_path(const char *path, const char *source, struct vulndb_import_stats *out)
{
    struct importer im = {.stats = out, .now = now_ms()};
    struct stat st;
    int rc;
    *out = (struct vulndb_import_stats){0};
    if (stat(path, &st) != 0)
        return error_set(E_NOTFOUND, "vulndb: '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        rc = import_dir(&im, path, 0);
    else if (is_zip(path))
        rc = import_zip(&im, path);
    else if (S_ISREG(st.st_mode))
        rc = import_file(&im, path);
    else
        rc = error_set(E_INVALID, "vulndb: '%s' is neither a directory, a .json file nor a zip", path);
    if (rc == 0)
        rc = batch_commit(&im);
    else if (im.in_batch)
        store_rollback();
    if (rc == 0)
        rc = store_vuln_set_updated(im.now, source);
    return rc;
}

int vulndb_import(const char *path, struct vulndb_import_stats *out)
{
    char *full = realpath(path, NULL);
    int rc = import_path(path, full ? full : path, out);
    free(full);
    return rc;
}

/* ---- sync ---- */

static size_t write_fd(char *data, size_t size, size_t nmemb, void *ctx)
{
    int fd = *(int *)ctx;
    size_t n = size * nmemb, done = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0; /* curl fails the transfer */
        done += (size_t)w;
    }
    return n;
}

int vulndb_sync(const char *url, const char *tmp_dir, struct vulndb_import_stats *out)
{
    char path[4096];
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return error_set(E_INVALID, "vulndb: '%.200s' is not an http or https URL", url);
    if ((size_t)snprintf(path, sizeof(path), "%s/vulndb-XXXXXX", tmp_dir) >= sizeof(path))
        return error_set(E_INVALID, "vulndb: temporary directory name too long");
    int fd = mkstemp(path);
    if (fd < 0)
        return error_set(E_ERROR, "vulndb: cannot create a temporary file in '%s': %s", tmp_dir, strerror(errno));
    CURL *c = curl_easy_init();
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    /* a stalled transfer (under 1 KiB/s for a minute) is abandoned */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)4 << 30);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_fd);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &fd);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    int rc = 0;
    if (cc != CURLE_OK)
        rc = error_set(E_ERROR, "vulndb: cannot download '%.200s': %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
    if (close(fd) != 0 && rc == 0)
        rc = error_set(E_ERROR, "vulndb: cannot write '%s': %s", path, strerror(errno));
    if (rc == 0 && !is_zip(path))
        rc = error_set(E_INVALID, "vulndb: '%.200s' did not serve a zip", url);
    if (rc == 0)
        rc = import_path(path, url, out);
    unlink(path);
    return rc;
}
