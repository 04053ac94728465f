/*
 * This module implements the layer walker of scan.h: image layers applied
 * in order, as overlay file systems apply them, into a view that keeps only
 * the files a scan reads.
 *
 * Each layer is a tar stream read with libarchive (gzip, zstd or none,
 * recognised from the bytes) straight from its file descriptor, so memory
 * does not grow with the layer. Every entry is normalised first: names that
 * are absolute or hold a ".." component are rejected and counted, as are
 * symlinks whose target climbs above the root and hardlinks whose target
 * would. What survives changes the view as the OCI image spec says:
 *
 *   - "<dir>/.wh.<name>" deletes <dir>/<name> and everything under it, and
 *     "<dir>/.wh..wh..opq" everything under <dir>, from lower layers only
 *     (a whiteout never hides a file of its own layer);
 *   - any entry replaces a lower one of the same name, and a non-directory
 *     hides everything a lower layer had under its name.
 *
 * The view keeps the content of the regular files at a few exact paths
 * (wanted[] and the files directly inside wanted_dirs[]) and the symlinks
 * at those paths or at a directory on the way to one, with their targets
 * normalised inside the tree: that is enough to follow /etc/os-release ->
 * ../usr/lib/os-release, merged /usr (/lib -> usr/lib) and Fedora's
 * /var/lib/rpm -> ../../usr/lib/sysimage/rpm. A link elsewhere that leads
 * to a package database is not followed: the files are not kept.
 *
 * The limits (struct scan_limits) bound what one layer may expand to, its
 * entries, each kept file and the whole view; past one, the layer fails
 * with E_TOOBIG rather than being read partly.
 */
#include "scan/scan.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* Regular files whose content the view keeps. */
static const char *const wanted[] = {
    "etc/os-release",           "usr/lib/os-release",       "var/lib/dpkg/status",
    "lib/apk/db/installed",     "usr/lib/apk/db/installed", "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
};
/* Directories whose files (directly inside) the view keeps. */
static const char *const wanted_dirs[] = {"var/lib/dpkg/status.d"};

#define MAX_LINK_HOPS 40
#define READ_BLOCK (64 * 1024)

enum node_type { NODE_FILE, NODE_LINK };

struct node {
    char *path;
    enum node_type type;
    char *data; /* file content, or the link's normalised target ("" is the root) */
    size_t len;
    uint64_t layer; /* the layer that wrote it, from 1 */
};

struct scan_view {
    struct scan_limits lim;
    struct node *nodes;
    size_t n, cap;
    uint64_t bytes; /* kept content */
    struct scan_stats st;
};

static struct scan_limits global_limits = {
    SCAN_MAX_LAYER_BYTES_DEFAULT, SCAN_MAX_LAYER_ENTRIES_DEFAULT, SCAN_MAX_FILE_BYTES_DEFAULT,
    SCAN_MAX_VIEW_BYTES_DEFAULT,  SCAN_MAX_FILES_DEFAULT,
};

void scan_limits_default(struct scan_limits *out)
{
    out->max_layer_bytes = SCAN_MAX_LAYER_BYTES_DEFAULT;
    out->max_layer_entries = SCAN_MAX_LAYER_ENTRIES_DEFAULT;
    out->max_file_bytes = SCAN_MAX_FILE_BYTES_DEFAULT;
    out->max_view_bytes = SCAN_MAX_VIEW_BYTES_DEFAULT;
    out->max_files = SCAN_MAX_FILES_DEFAULT;
}

void scan_set_limits(const struct scan_limits *l)
{
    global_limits = *l;
}

const struct scan_limits *scan_get_limits(void)
{
    return &global_limits;
}

struct scan_view *scan_view_new(const struct scan_limits *limits)
{
    struct scan_view *v = xcalloc(1, sizeof(*v));
    if (limits)
        v->lim = *limits;
    else
        scan_limits_default(&v->lim);
    return v;
}

static void node_release(struct node *p)
{
    free(p->path);
    free(p->data);
}

void scan_view_free(struct scan_view *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        node_release(&v->nodes[i]);
    free(v->nodes);
    free(v);
}

const struct scan_stats *scan_view_stats(const struct scan_view *v)
{
    return &v->st;
}

/* ---- paths ---- */

/* Is p a path under dir (dir "" is the root, which holds everything)? */
static int is_under(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 0)
        return p[0] != '\0';
    return strncmp(p, dir, n) == 0 && p[n] == '/';
}

static int parent_is(const char *p, const char *dir)
{
    return is_under(p, dir) && !strchr(p + strlen(dir) + 1, '/');
}

static int keep_file(const char *p)
{
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
        if (strcmp(p, wanted[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(wanted_dirs) / sizeof(wanted_dirs[0]); i++)
        if (parent_is(p, wanted_dirs[i]))
            return 1;
    return 0;
}

/* Can an entry at p change the view? Only when p is a kept path or a
 * directory on the way to one: every node of the view is at such a path
 * (files at kept paths, links at those or on the way), and an entry only
 * changes the node at its path and the nodes under it. So that is also
 * where links are kept. */
static int relevant(const char *p)
{
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
        if (strcmp(p, wanted[i]) == 0 || is_under(wanted[i], p))
            return 1;
    for (size_t i = 0; i < sizeof(wanted_dirs) / sizeof(wanted_dirs[0]); i++)
        if (strcmp(p, wanted_dirs[i]) == 0 || is_under(wanted_dirs[i], p) || parent_is(p, wanted_dirs[i]))
            return 1;
    return 0;
}

/* Appends the components of name to out (which holds a normal path, ""
 * for the root): empty and "." components vanish, ".." removes the last
 * one. Returns -1 when ".." would climb above the root, or when
 * allow_dotdot is 0 and there is a ".." at all. */
static int path_join(struct buf *out, const char *name, int allow_dotdot)
{
    const char *z = name;
    while (*z) {
        const char *end = strchr(z, '/');
        size_t n = end ? (size_t)(end - z) : strlen(z);
        if (n == 0 || (n == 1 && z[0] == '.')) {
            /* nothing */
        } else if (n == 2 && z[0] == '.' && z[1] == '.') {
            if (!allow_dotdot || out->len == 0)
                return -1;
            char *slash = strrchr(out->ptr, '/');
            out->len = slash ? (size_t)(slash - out->ptr) : 0;
            out->ptr[out->len] = '\0';
        } else {
            if (out->len && buf_putc(out, '/') < 0)
                return -1;
            if (buf_put(out, z, n) < 0)
                return -1;
        }
        z += n;
        if (*z == '/')
            z++;
    }
    return 0;
}

/* The normal form of a tar entry name: relative, no "." or empty
 * components. -1 for absolute names and any "..". */
static int normalize_name(struct buf *out, const char *name)
{
    buf_reset(out);
    if (name[0] == '/')
        return -1;
    return path_join(out, name, 0);
}

/* The target of a symlink at path, as a normal path from the root:
 * absolute targets start at the image's root, relative ones at the link's
 * directory. -1 when it climbs above the root. */
static int link_target(struct buf *out, const char *path, const char *target)
{
    buf_reset(out);
    if (target[0] == '\0')
        return -1;
    if (target[0] != '/') {
        const char *slash = strrchr(path, '/');
        if (slash && buf_put(out, path, (size_t)(slash - path)) < 0)
            return -1;
    }
    return path_join(out, target, 1);
}

/* ---- nodes ---- */

static struct node *find(const struct scan_view *v, const char *path, enum node_type type)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->nodes[i].type == type && strcmp(v->nodes[i].path, path) == 0)
            return &v->nodes[i];
    return NULL;
}

static void remove_at(struct scan_view *v, size_t i)
{
    if (v->nodes[i].type == NODE_FILE)
        v->bytes -= v->nodes[i].len;
    node_release(&v->nodes[i]);
    v->nodes[i] = v->nodes[--v->n];
}

/* Removes what layers below `below` wrote at path (exact) and, with
 * subtree, under it; below == UINT64_MAX removes whatever wrote it. */
static void remove_paths(struct scan_view *v, const char *path, uint64_t below, int exact, int subtree)
{
    for (size_t i = 0; i < v->n;) {
        struct node *p = &v->nodes[i];
        if (p->layer < below && ((exact && strcmp(p->path, path) == 0) || (subtree && is_under(p->path, path))))
            remove_at(v, i);
        else
            i++;
    }
}

static int add_node(struct scan_view *v, const char *path, enum node_type type, char *data, size_t len)
{
    if (v->n >= v->lim.max_files) {
        free(data);
        return error_set(E_TOOBIG, "image keeps more than %llu package database files", (unsigned long long)v->lim.max_files);
    }
    if (type == NODE_FILE && v->bytes + len > v->lim.max_view_bytes) {
        free(data);
        return error_set(E_TOOBIG, "package databases exceed %llu bytes", (unsigned long long)v->lim.max_view_bytes);
    }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->nodes = xrealloc(v->nodes, v->cap * sizeof(*v->nodes));
    }
    struct node *p = &v->nodes[v->n++];
    p->path = xstrdup(path);
    p->type = type;
    p->data = data;
    p->len = len;
    p->layer = v->st.layers;
    if (type == NODE_FILE)
        v->bytes += len;
    return 0;
}

/* ---- applying a layer ---- */

static int read_content(struct scan_view *v, struct archive *a, const char *path, char **data_out, size_t *len_out)
{
    struct buf b;
    char block[READ_BLOCK];
    buf_init(&b, (size_t)v->lim.max_file_bytes);
    for (;;) {
        la_ssize_t n = archive_read_data(a, block, sizeof(block));
        if (n == 0)
            break;
        if (n < 0) {
            buf_release(&b);
            return error_set(E_INVALID, "layer %llu: reading '%s': %s", (unsigned long long)v->st.layers, path,
                             archive_error_string(a) ? archive_error_string(a) : "read error");
        }
        if (buf_put(&b, block, (size_t)n) < 0) {
            buf_release(&b);
            return error_set(E_TOOBIG, "'%s' is larger than %llu bytes", path, (unsigned long long)v->lim.max_file_bytes);
        }
    }
    *len_out = b.len;
    *data_out = buf_detach(&b);
    return 0;
}

static void apply_whiteout(struct scan_view *v, const char *path, const char *base)
{
    size_t dirlen = (size_t)(base - path);
    char *dir = xstrndup(path, dirlen ? dirlen - 1 : 0);
    const char *name = base + 4;
    if (strcmp(base, ".wh..wh..opq") == 0) {
        if (relevant(dir))
            remove_paths(v, dir, v->st.layers, 0, 1);
        v->st.whiteouts++;
    } else if (strncmp(name, ".wh.", 4) == 0 || name[0] == '\0') {
        /* aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not a deletion */
    } else {
        struct buf target;
        buf_init(&target, BUF_UNLIMITED);
        buf_puts(&target, dir);
        if (target.len)
            buf_putc(&target, '/');
        buf_puts(&target, name);
        if (relevant(target.ptr))
            remove_paths(v, target.ptr, v->st.layers, 1, 1);
        buf_release(&target);
        v->st.whiteouts++;
    }
    free(dir);
}

static int apply_entry(struct scan_view *v, struct archive *a, struct archive_entry *e, struct buf *path, struct buf *tmp)
{
    const char *name = archive_entry_pathname(e);
    if (!name || normalize_name(path, name) < 0) {
        v->st.rejected++;
        return 0;
    }
    if (path->len == 0)
        return 0; /* the root directory itself */
    const char *slash = strrchr(path->ptr, '/');
    const char *base = slash ? slash + 1 : path->ptr;
    if (strncmp(base, ".wh.", 4) == 0) {
        apply_whiteout(v, path->ptr, base);
        return 0;
    }

    mode_t type = archive_entry_filetype(e);
    const char *hardlink = archive_entry_hardlink(e);
    const char *symlink = type == AE_IFLNK ? archive_entry_symlink(e) : NULL;
    int bad = 0;
    if (hardlink)
        bad = normalize_name(tmp, hardlink) < 0 || tmp->len == 0;
    else if (type == AE_IFLNK)
        bad = !symlink || link_target(tmp, path->ptr, symlink) < 0;
    if (bad)
        v->st.rejected++;
    /* Only an entry at a kept path or on the way to one can change the
     * view (see relevant()); the rest cost nothing more. */
    if (!relevant(path->ptr))
        return 0;
    if (type == AE_IFDIR && !hardlink) {
        /* a directory replaces a lower file or link of its name, keeps what is under it */
        remove_paths(v, path->ptr, UINT64_MAX, 1, 0);
        return 0;
    }
    /* anything else replaces what was there, rejected links included */
    remove_paths(v, path->ptr, UINT64_MAX, 1, 0);
    remove_paths(v, path->ptr, v->st.layers, 0, 1);
    if (bad)
        return 0;

    if (hardlink) {
        if (!keep_file(path->ptr))
            return 0;
        struct node *src = find(v, tmp->ptr, NODE_FILE);
        if (!src)
            return 0; /* links to a file the view did not keep */
        char *copy = xmalloc(src->len + 1);
        memcpy(copy, src->data, src->len);
        copy[src->len] = '\0';
        return add_node(v, path->ptr, NODE_FILE, copy, src->len);
    }
    if (type == AE_IFLNK)
        return add_node(v, path->ptr, NODE_LINK, xstrndup(tmp->ptr, tmp->len), tmp->len);
    if (type == AE_IFREG && keep_file(path->ptr)) {
        if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > v->lim.max_file_bytes)
            return error_set(E_TOOBIG, "'%s' is larger than %llu bytes", path->ptr, (unsigned long long)v->lim.max_file_bytes);
        char *data = NULL;
        size_t len = 0;
        int rc = read_content(v, a, path->ptr, &data, &len);
        if (rc < 0)
            return rc;
        return add_node(v, path->ptr, NODE_FILE, data, len);
    }
    return 0;
}

static int apply_archive(struct scan_view *v, struct archive *a)
{
    struct archive_entry *e;
    struct buf path, tmp;
    uint64_t entries = 0;
    int rc = 0;
    buf_init(&path, BUF_UNLIMITED);
    buf_init(&tmp, BUF_UNLIMITED);
    v->st.layers++;
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = error_set(E_INVALID, "layer %llu is not a tar stream: %s", (unsigned long long)v->st.layers,
                           archive_error_string(a) ? archive_error_string(a) : "unreadable");
            goto done;
        }
        if (++entries > v->lim.max_layer_entries) {
            rc = error_set(E_TOOBIG, "layer %llu has more than %llu entries", (unsigned long long)v->st.layers,
                           (unsigned long long)v->lim.max_layer_entries);
            goto done;
        }
        /* The entry's data is decompressed even when skipped: refuse it
         * before it is read when it would go past the layer's limit. */
        int64_t at = archive_filter_bytes(a, 0);
        int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
        if (at < 0 || size < 0 || (uint64_t)at + (uint64_t)size > v->lim.max_layer_bytes) {
            rc = error_set(E_TOOBIG, "layer %llu expands to more than %llu bytes", (unsigned long long)v->st.layers,
                           (unsigned long long)v->lim.max_layer_bytes);
            goto done;
        }
        rc = apply_entry(v, a, e, &path, &tmp);
        if (rc < 0)
            goto done;
    }
    if ((uint64_t)archive_filter_bytes(a, 0) > v->lim.max_layer_bytes) {
        rc = error_set(E_TOOBIG, "layer %llu expands to more than %llu bytes", (unsigned long long)v->st.layers,
                       (unsigned long long)v->lim.max_layer_bytes);
        goto done;
    }
done:
    v->st.entries += entries;
    if (archive_filter_bytes(a, -1) > 0)
        v->st.bytes_in += (uint64_t)archive_filter_bytes(a, -1);
    if (archive_filter_bytes(a, 0) > 0)
        v->st.bytes_expanded += (uint64_t)archive_filter_bytes(a, 0);
    buf_release(&path);
    buf_release(&tmp);
    return rc;
}

static struct archive *reader_new(void)
{
    struct archive *a = archive_read_new();
    if (!a)
        abort();
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_empty(a);
    return a;
}

static int open_failed(struct scan_view *v, struct archive *a)
{
    v->st.layers++;
    return error_set(E_INVALID, "layer %llu cannot be read: %s", (unsigned long long)v->st.layers,
                     archive_error_string(a) ? archive_error_string(a) : "unreadable");
}

int scan_view_apply_fd(struct scan_view *v, int fd)
{
    struct archive *a = reader_new();
    int rc;
    if (archive_read_open_fd(a, fd, READ_BLOCK) != ARCHIVE_OK)
        rc = open_failed(v, a);
    else
        rc = apply_archive(v, a);
    archive_read_free(a);
    return rc;
}

int scan_view_apply_mem(struct scan_view *v, const void *data, size_t n)
{
    struct archive *a = reader_new();
    int rc;
    if (archive_read_open_memory(a, data, n) != ARCHIVE_OK)
        rc = open_failed(v, a);
    else
        rc = apply_archive(v, a);
    archive_read_free(a);
    return rc;
}

/* ---- reading the view ---- */

/* path with every link on the way replaced by its target. */
static int resolve(const struct scan_view *v, const char *path, struct buf *out)
{
    struct buf next;
    int hops = 0;
    buf_init(&next, BUF_UNLIMITED);
    buf_reset(out);
    buf_puts(out, path);
restart:
    for (size_t i = 1; i <= out->len; i++) {
        if (i < out->len && out->ptr[i] != '/')
            continue;
        char save = out->ptr[i];
        out->ptr[i] = '\0';
        const struct node *l = find(v, out->ptr, NODE_LINK);
        out->ptr[i] = save;
        if (!l)
            continue;
        if (++hops > MAX_LINK_HOPS) {
            buf_release(&next);
            return error_set(E_NOTFOUND, "too many levels of links at '%s'", path);
        }
        buf_reset(&next);
        buf_put(&next, l->data, l->len);
        if (i < out->len)
            path_join(&next, out->ptr + i + 1, 0);
        buf_reset(out);
        buf_put(out, next.ptr, next.len);
        goto restart;
    }
    buf_release(&next);
    return 0;
}

int scan_view_get(const struct scan_view *v, const char *path, struct slice *out)
{
    struct buf p;
    buf_init(&p, BUF_UNLIMITED);
    int rc = resolve(v, path, &p);
    if (rc == 0) {
        const struct node *f = find(v, p.ptr, NODE_FILE);
        if (f) {
            out->base = f->data;
            out->len = f->len;
        } else {
            rc = error_set(E_NOTFOUND, "no file '%s' in the image", path);
        }
    }
    buf_release(&p);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp((*(const struct node *const *)a)->path, (*(const struct node *const *)b)->path);
}

int scan_view_each(const struct scan_view *v, const char *dir, int (*fn)(void *ctx, const char *name, struct slice content),
                   void *ctx)
{
    struct buf p;
    const struct node **list = NULL;
    size_t n = 0;
    int rc;
    buf_init(&p, BUF_UNLIMITED);
    rc = resolve(v, dir, &p);
    if (rc < 0)
        goto done;
    list = xcalloc(v->n ? v->n : 1, sizeof(*list));
    for (size_t i = 0; i < v->n; i++)
        if (v->nodes[i].type == NODE_FILE && parent_is(v->nodes[i].path, p.ptr))
            list[n++] = &v->nodes[i];
    qsort(list, n, sizeof(*list), by_path);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct slice content = {list[i]->data, list[i]->len};
        rc = fn(ctx, list[i]->path + p.len + (p.len ? 1 : 0), content);
    }
done:
    free(list);
    buf_release(&p);
    return rc;
}
