/*
 * This module implements blobs and upload sessions on an S3-compatible
 * object store (s3store.h), for --blob-store s3://...
 *
 * Keys, under the configured prefix:
 *   blobs/<alg>/<first two hex>/<hex>   a blob, written only after its digest was verified
 *   uploads/<id>/state                  a session's state (JSON, below)
 *   uploads/<id>/staged                 bytes received but not yet a multipart part
 *   uploads/<id>/data                   the multipart upload's target, copied into place on commit
 *
 * A session is everything a server needs to continue it, kept in the
 * object store so that any server (or this one after a restart) can:
 * {"offset": bytes so far, "sha256": the running hash's state, "mpu": the
 * S3 multipart upload id or "", "parts": [ETags of parts 1..n], "staged":
 * bytes in uploads/<id>/staged}. Bytes go into a staging buffer of
 * S3STORE_PART bytes; each time it fills it becomes the next multipart
 * part (S3 wants parts of at least 5 MiB but OCI chunks may be of any
 * size). upload_flush() stores what is left in the buffer and then the
 * state, so an answered chunk is durable and visible to every server;
 * upload_close() does the same for what a cut-off request delivered.
 *
 * The running hash is OpenSSL's SHA256_CTX, whose fields are plain data
 * (an EVP context cannot be saved); it is the same block function as EVP's
 * (SHA-NI where the CPU has it). It is saved field by field as hex, so the
 * state does not depend on the server's byte order.
 *
 * Commit: the digest is checked against the saved hash first; only then
 * does the blob get a key under blobs/: a small blob (no part yet) is one
 * PUT of the staged bytes, a larger one completes the multipart upload on
 * uploads/<id>/data and is copied server-side into place. Either way the
 * blob key appears whole or not at all.
 *
 * Memory: a session's staging buffer exists only while a request writes
 * the session (upload_open(), or the first append after upload_begin(),
 * to upload_close()), but that is S3STORE_PART bytes per concurrent upload. The buffers in use are
 * counted against a limit (s3store_set_memory(), --s3-upload-memory-mb);
 * a request that would go past it is refused before it reads its body
 * (E_BUSY: 429 TOOMANYREQUESTS with Retry-After on /v2), so memory stays
 * bounded however many clients push at once.
 *
 * Left to the operator: multipart uploads started by a request that died
 * before it saved its state are not in any session (a bucket lifecycle
 * rule with AbortIncompleteMultipartUpload removes them), and CopyObject
 * limits one blob to 5 GiB.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "blob/s3store.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/s3.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"

#define S3STORE_PART (8u << 20)
#define S3STORE_MAX_PARTS 10000
#define KEY_MAX 1200
#define STATE_MAX (S3STORE_MAX_PARTS * 90 + 4096)

static struct s3 store;

/* Staging buffers in use and the most there may be (stage_take()). */
static _Atomic unsigned stages_used;
static _Atomic unsigned stages_max = 64;

struct s3_session {
    SHA256_CTX sha;
    char mpu[S3_UPLOAD_ID_MAX];
    char (*etags)[80];
    int nparts, cap;
    char *stage;
    size_t staged;
    bool dirty; /* stage or state changed since the last flush */
};

/* ---- sessions busy in this process ---- */

struct busy {
    char id[37];
    struct busy *next;
};
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct busy *busy_list;

static bool busy_take(const char *id)
{
    pthread_mutex_lock(&busy_lock);
    for (struct busy *b = busy_list; b; b = b->next) {
        if (strcmp(b->id, id) == 0) {
            pthread_mutex_unlock(&busy_lock);
            return false;
        }
    }
    struct busy *b = xcalloc(1, sizeof(*b));
    memcpy(b->id, id, sizeof(b->id));
    b->next = busy_list;
    busy_list = b;
    pthread_mutex_unlock(&busy_lock);
    return true;
}

static void busy_drop(const char *id)
{
    pthread_mutex_lock(&busy_lock);
    for (struct busy **pp = &busy_list; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct busy *b = *pp;
            *pp = b->next;
            free(b);
            break;
        }
    }
    pthread_mutex_unlock(&busy_lock);
}

bool s3store_upload_busy(const char *id)
{
    pthread_mutex_lock(&busy_lock);
    bool found = false;
    for (struct busy *b = busy_list; b && !found; b = b->next)
        found = strcmp(b->id, id) == 0;
    pthread_mutex_unlock(&busy_lock);
    return found;
}

/* ---- keys ---- */

static int blob_key(char out[KEY_MAX], const char *digest)
{
    int rc = digest_validate(slice_from(digest), NULL);
    if (rc < 0)
        return rc;
    const char *colon = strchr(digest, ':');
    snprintf(out, KEY_MAX, "%sblobs/%.*s/%.2s/%s", store.prefix, (int)(colon - digest), digest, colon + 1, colon + 1);
    return 0;
}

static void session_key(char out[KEY_MAX], const char *id, const char *what)
{
    snprintf(out, KEY_MAX, "%suploads/%s/%s", store.prefix, id, what);
}

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n != 36)
        return error_set(E_NOTFOUND, "upload '%.40s' is unknown", id);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return error_set(E_NOTFOUND, "upload '%.40s' is unknown", id);
    }
    return 0;
}

/* ---- the store ---- */

int s3store_open(const char *url)
{
    int rc;
    s3_release(&store);
    if ((rc = s3_parse_url(&store, url)) < 0 || (rc = s3_load_credentials(&store)) < 0) {
        s3_release(&store);
        return rc;
    }
    log_info("blob store: s3 bucket '%s' prefix '%s' at %s (region %s%s)", store.bucket, store.prefix, store.endpoint,
             store.region, store.path_style ? ", path-style" : "");
    return 0;
}

void s3store_close(void)
{
    s3_release(&store);
}

int s3store_blob_stat(const char *digest, uint64_t *size_out, int64_t *mtime_ms_out)
{
    char key[KEY_MAX];
    struct s3_object o;
    int rc = blob_key(key, digest);
    if (rc < 0)
        return rc;
    if ((rc = s3_head(&store, key, &o)) < 0)
        return rc == E_NOTFOUND ? error_set(E_NOTFOUND, "blob '%s' is not in the object store", digest) : rc;
    if (size_out)
        *size_out = o.size;
    if (mtime_ms_out)
        *mtime_ms_out = o.mtime_ms;
    return 0;
}

int s3store_blob_fetch(const char *digest, uint64_t first, uint64_t len, int fd, uint64_t *size_out)
{
    char key[KEY_MAX];
    struct s3_object o = {0};
    int rc = blob_key(key, digest);
    if (rc < 0)
        return rc;
    if ((rc = s3_get_fd(&store, key, first, len, fd, &o)) < 0)
        return rc == E_NOTFOUND ? error_set(E_NOTFOUND, "blob '%s' is not in the object store", digest) : rc;
    if (size_out)
        *size_out = o.size;
    return 0;
}

int s3store_blob_remove(const char *digest)
{
    char key[KEY_MAX];
    int rc = blob_key(key, digest);
    return rc < 0 ? rc : s3_delete(&store, key);
}

int s3store_presign(char *out, size_t cap, const char *digest, int64_t expires)
{
    char key[KEY_MAX];
    int rc = blob_key(key, digest);
    return rc < 0 ? rc : s3_presign_get(&store, out, cap, key, expires);
}

/* ---- listings, for GC's orphan sweep ---- */

struct walk {
    size_t skip; /* the listed prefix's length */
    const char *alg;
    int (*fn)(void *ctx, const char *name, int64_t mtime_ms);
    void *ctx;
};

static int blob_listed(void *ctx, const char *key, int64_t mtime_ms)
{
    struct walk *w = ctx;
    char digest[DIGEST_MAX + 16];
    snprintf(digest, sizeof(digest), "%s:%s", w->alg, key + w->skip);
    /* only keys that are digests: anything else there is not a blob */
    if (digest_validate(slice_from(digest), NULL) < 0)
        return 0;
    return w->fn(w->ctx, digest, mtime_ms);
}

/* A key listed under blobs/sha256/ as a whole: <first two hex>/<hex>, the
 * two matching (anything else there is not a blob). */
static int fanned_blob_listed(void *ctx, const char *key, int64_t mtime_ms)
{
    struct walk *w = ctx;
    const char *rest = key + w->skip;
    if (strlen(rest) < 4 || rest[2] != '/' || strncmp(rest, rest + 3, 2) != 0)
        return 0;
    struct walk inner = {w->skip + 3, w->alg, w->fn, w->ctx};
    return blob_listed(&inner, key, mtime_ms);
}

int s3store_blob_each_prefix(unsigned first, unsigned n, int (*fn)(void *ctx, const char *digest, int64_t mtime_ms),
                             void *ctx)
{
    char prefix[KEY_MAX];
    if (n >= 256) {
        /* all of them (berth gc's sweep): one paginated listing, not one
         * request per fan-out prefix, which is 256 round trips even when
         * the bucket is empty */
        int len = snprintf(prefix, sizeof(prefix), "%sblobs/sha256/", store.prefix);
        struct walk w = {(size_t)len, "sha256", fn, ctx};
        int rc = s3_list(&store, prefix, fanned_blob_listed, &w);
        return rc < 0 ? rc : 0;
    }
    for (unsigned k = 0; k < n && k < 256; k++) {
        int len = snprintf(prefix, sizeof(prefix), "%sblobs/sha256/%02x/", store.prefix, (first + k) % 256);
        struct walk w = {(size_t)len, "sha256", fn, ctx};
        int rc = s3_list(&store, prefix, blob_listed, &w);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int session_listed(void *ctx, const char *key, int64_t mtime_ms)
{
    struct walk *w = ctx;
    const char *id = key + w->skip, *slash = strchr(id, '/');
    char z[40];
    /* one call per session: its state object, whose time is its last activity */
    if (!slash || slash - id != 36 || strcmp(slash, "/state") != 0)
        return 0;
    snprintf(z, sizeof(z), "%.36s", id);
    return w->fn(w->ctx, z, mtime_ms);
}

int s3store_upload_each(int (*fn)(void *ctx, const char *id, int64_t mtime_ms), void *ctx)
{
    char prefix[KEY_MAX];
    int len = snprintf(prefix, sizeof(prefix), "%suploads/", store.prefix);
    struct walk w = {(size_t)len, NULL, fn, ctx};
    return s3_list(&store, prefix, session_listed, &w);
}

/* ---- hash state ---- */

void s3store_hash_save(char out[S3STORE_HASH_TEXT], const void *ctx)
{
    const SHA256_CTX *c = ctx;
    uint32_t w[28];
    size_t n = 0;
    for (int i = 0; i < 8; i++)
        w[n++] = c->h[i];
    w[n++] = c->Nl;
    w[n++] = c->Nh;
    for (int i = 0; i < SHA_LBLOCK; i++)
        w[n++] = c->data[i];
    w[n++] = c->num;
    w[n++] = c->md_len;
    for (size_t i = 0; i < n; i++)
        snprintf(out + 8 * i, 9, "%08" PRIx32, w[i]);
}

int s3store_hash_load(void *ctx, const char *text)
{
    SHA256_CTX *c = ctx;
    uint32_t w[28];
    if (!text || strlen(text) != 28 * 8)
        return error_set(E_INVALID, "upload state: hash state is malformed");
    for (size_t i = 0; i < 28; i++) {
        uint32_t v = 0;
        for (size_t j = 0; j < 8; j++) {
            int d = hex_value(text[8 * i + j]);
            if (d < 0)
                return error_set(E_INVALID, "upload state: hash state is malformed");
            v = v << 4 | (uint32_t)d;
        }
        w[i] = v;
    }
    if (w[26] >= SHA256_CBLOCK || w[27] != SHA256_DIGEST_LENGTH)
        return error_set(E_INVALID, "upload state: hash state is malformed");
    size_t n = 0;
    for (int i = 0; i < 8; i++)
        c->h[i] = w[n++];
    c->Nl = w[n++];
    c->Nh = w[n++];
    for (int i = 0; i < SHA_LBLOCK; i++)
        c->data[i] = w[n++];
    c->num = w[n++];
    c->md_len = w[n++];
    return 0;
}

/* ---- sessions ---- */

void s3store_set_memory(uint64_t bytes)
{
    uint64_t n = bytes / S3STORE_PART;
    atomic_store(&stages_max, n < 1 ? 1u : n > 1u << 20 ? 1u << 20 : (unsigned)n);
}

/* A staging buffer for s, counted against the limit: E_BUSY when the
 * limit is reached (nothing allocated). */
static int stage_take(struct s3_session *s)
{
    unsigned cur = atomic_load(&stages_used);
    do {
        unsigned max = atomic_load(&stages_max);
        if (cur >= max)
            return error_set(E_BUSY, "the server holds its limit of %u uploads to the object store at once (%u MiB of "
                                     "staging buffers); try again later", max, max * (S3STORE_PART >> 20));
    } while (!atomic_compare_exchange_weak(&stages_used, &cur, cur + 1));
    s->stage = xmalloc(S3STORE_PART);
    return 0;
}

static void session_free(struct s3_session *s)
{
    if (!s)
        return;
    free(s->etags);
    if (s->stage)
        atomic_fetch_sub(&stages_used, 1);
    free(s->stage);
    OPENSSL_cleanse(&s->sha, sizeof(s->sha));
    free(s);
}

static void add_part(struct s3_session *s, const char etag[80])
{
    if (s->nparts == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->etags = xrealloc(s->etags, (size_t)s->cap * sizeof(*s->etags));
    }
    memcpy(s->etags[s->nparts++], etag, 80);
}

static int save_state(const struct upload *u)
{
    const struct s3_session *s = u->remote;
    char key[KEY_MAX], hash[S3STORE_HASH_TEXT];
    s3store_hash_save(hash, &s->sha);
    json_t *parts = json_array();
    for (int i = 0; i < s->nparts; i++)
        json_array_append_new(parts, json_string(s->etags[i]));
    json_t *o = json_pack("{s:i, s:I, s:s, s:s, s:o, s:I}", "v", 1, "offset", (json_int_t)u->offset, "sha256", hash, "mpu",
                          s->mpu, "parts", parts, "staged", (json_int_t)s->staged);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    session_key(key, u->id, "state");
    int rc = s3_put(&store, key, text, strlen(text), false);
    free(text);
    return rc;
}

static int load_state(struct upload *u, struct s3_session *s)
{
    char key[KEY_MAX];
    struct buf b;
    json_error_t jerr;
    int rc;
    buf_init(&b, STATE_MAX);
    session_key(key, u->id, "state");
    if ((rc = s3_get_buf(&store, key, &b)) < 0) {
        buf_release(&b);
        return rc == E_NOTFOUND ? error_set(E_NOTFOUND, "upload '%s' is unknown", u->id) : rc;
    }
    json_t *o = json_loadb(b.ptr, b.len, 0, &jerr), *parts = NULL;
    const char *hash = NULL, *mpu = NULL;
    json_int_t offset = -1, staged = -1;
    buf_release(&b);
    if (!o || json_unpack(o, "{s:I, s:s, s:s, s:o, s:I}", "offset", &offset, "sha256", &hash, "mpu", &mpu, "parts", &parts,
                          "staged", &staged) != 0 ||
        offset < 0 || staged < 0 || (uint64_t)staged > S3STORE_PART || !json_is_array(parts) ||
        json_array_size(parts) > S3STORE_MAX_PARTS || strlen(mpu) >= S3_UPLOAD_ID_MAX) {
        rc = error_set(E_ERROR, "upload '%s': its state in the object store is malformed", u->id);
        goto done;
    }
    if ((rc = s3store_hash_load(&s->sha, hash)) < 0)
        goto done;
    snprintf(s->mpu, sizeof(s->mpu), "%s", mpu);
    for (size_t i = 0; i < json_array_size(parts); i++) {
        char etag[80];
        snprintf(etag, sizeof(etag), "%s", json_string_value(json_array_get(parts, i)) ?: "");
        add_part(s, etag);
    }
    u->offset = (uint64_t)offset;
    s->staged = (size_t)staged;
    rc = 0;
done:
    json_decref(o);
    return rc;
}

/* The staged bytes of a session back from the object store. */
static int load_staged(struct upload *u, struct s3_session *s)
{
    char key[KEY_MAX];
    struct buf b;
    int rc;
    if ((rc = stage_take(s)) < 0 || !s->staged)
        return rc;
    buf_init(&b, S3STORE_PART + 1);
    session_key(key, u->id, "staged");
    if ((rc = s3_get_buf(&store, key, &b)) == 0 && b.len != s->staged)
        rc = error_set(E_ERROR, "upload '%s': %zu staged bytes in the object store, %zu in its state", u->id, b.len, s->staged);
    if (rc == 0)
        memcpy(s->stage, b.ptr, b.len);
    buf_release(&b);
    return rc;
}

int s3store_upload_begin(struct upload *u)
{
    memset(u, 0, sizeof(*u));
    u->fd = -1;
    uuid_v4(u->id);
    struct s3_session *s = xcalloc(1, sizeof(*s));
    /* no staging buffer yet: most sessions begin with no body (POST, then
     * PATCH), and the first append takes one */
    SHA256_Init(&s->sha);
    u->remote = s;
    busy_take(u->id);
    int rc = save_state(u);
    if (rc < 0) {
        s3store_upload_close(u);
        return rc;
    }
    return 0;
}

int s3store_upload_open(struct upload *u, const char *id)
{
    int rc = valid_id(id);
    if (rc < 0)
        return rc;
    memset(u, 0, sizeof(*u));
    u->fd = -1;
    memcpy(u->id, id, 37);
    if (!busy_take(id))
        return error_set(E_EXISTS, "upload '%s' is being written by another request", id);
    struct s3_session *s = xcalloc(1, sizeof(*s));
    if ((rc = load_state(u, s)) < 0 || (rc = load_staged(u, s)) < 0) {
        session_free(s);
        busy_drop(id);
        return rc;
    }
    u->remote = s;
    return 0;
}

/* The full staging buffer becomes the next part. */
static int put_part(struct upload *u)
{
    struct s3_session *s = u->remote;
    char key[KEY_MAX], etag[80];
    int rc;
    if (s->nparts >= S3STORE_MAX_PARTS)
        return error_set(E_TOOBIG, "upload '%s' has reached S3's limit of %d parts", u->id, S3STORE_MAX_PARTS);
    session_key(key, u->id, "data");
    if (!s->mpu[0] && (rc = s3_multipart_create(&store, key, s->mpu)) < 0)
        return rc;
    if ((rc = s3_multipart_part(&store, key, s->mpu, s->nparts + 1, s->stage, s->staged, etag)) < 0)
        return rc;
    add_part(s, etag);
    s->staged = 0;
    return 0;
}

int s3store_upload_append(struct upload *u, const void *data, size_t n)
{
    struct s3_session *s = u->remote;
    const char *p = data;
    int rc;
    assert(s != NULL);
    if (n && !s->stage && (rc = stage_take(s)) < 0)
        return rc;
    while (n) {
        size_t take = S3STORE_PART - s->staged;
        if (take > n)
            take = n;
        memcpy(s->stage + s->staged, p, take);
        SHA256_Update(&s->sha, p, take);
        s->staged += take;
        u->offset += take;
        u->appended += take;
        s->dirty = true;
        p += take;
        n -= take;
        if (s->staged == S3STORE_PART && (rc = put_part(u)) < 0)
            return rc;
    }
    return 0;
}

int s3store_upload_flush(struct upload *u)
{
    struct s3_session *s = u->remote;
    char key[KEY_MAX];
    int rc;
    if (!s || !s->dirty)
        return 0;
    session_key(key, u->id, "staged");
    rc = s->staged ? s3_put(&store, key, s->stage, s->staged, false) : s3_delete(&store, key);
    if (rc == 0 && (rc = save_state(u)) == 0)
        s->dirty = false;
    return rc;
}

void s3store_upload_close(struct upload *u)
{
    if (!u->remote)
        return;
    /* what arrived stays, as it does in a session file: a request cut
     * off mid-body leaves the session where its bytes reached */
    if (s3store_upload_flush(u) < 0)
        log_warn("upload '%s': cannot save what arrived: %s", u->id, error_message());
    session_free(u->remote);
    u->remote = NULL;
    busy_drop(u->id);
}

int s3store_upload_verify(struct upload *u, const char *expected)
{
    struct s3_session *s = u->remote;
    enum digest_alg alg;
    unsigned char md[SHA256_DIGEST_LENGTH];
    char got[DIGEST_MAX];
    int rc = digest_validate(slice_from(expected), &alg);
    if (rc < 0)
        return rc;
    if (alg != DIGEST_SHA256)
        return error_set(E_INVALID, "digest '%s': an s3 blob store takes sha256 blobs only", expected);
    /* finalising consumes the state: a copy, so a retry can go on */
    SHA256_CTX copy = s->sha;
    SHA256_Final(md, &copy);
    memcpy(got, "sha256:", 7);
    hex_encode(got + 7, md, sizeof(md));
    u->content_digest[0] = '\0';
    if (strcmp(got, expected) != 0) {
        snprintf(u->content_digest, sizeof(u->content_digest), "%s", got);
        /* the session stays for the client to retry: what arrived must
         * be there for it, on whichever server it retries */
        if ((rc = s3store_upload_flush(u)) < 0)
            return rc;
        return error_set(E_MISMATCH, "digest mismatch: content is '%s', not '%s'", got, expected);
    }
    return 0;
}

/* Removes what a session keeps in the object store but its data. */
static void drop_session_objects(const char *id)
{
    char key[KEY_MAX];
    session_key(key, id, "staged");
    if (s3_delete(&store, key) < 0)
        log_warn("upload '%s': %s", id, error_message());
    session_key(key, id, "state");
    if (s3_delete(&store, key) < 0)
        log_warn("upload '%s': %s", id, error_message());
}

int s3store_upload_place(struct upload *u, const char *expected, uint64_t *size_out)
{
    struct s3_session *s = u->remote;
    char key[KEY_MAX], data[KEY_MAX];
    int rc;
    s->dirty = false; /* from here on the session is consumed, not saved */
    if ((rc = blob_key(key, expected)) < 0)
        return rc;
    session_key(data, u->id, "data");
    if (!s->mpu[0]) {
        /* no part yet: the whole blob is in the staging buffer */
        if ((rc = s3_put(&store, key, s->stage ? s->stage : "", s->staged, false)) < 0)
            return rc;
    } else {
        if (s->staged && (rc = put_part(u)) < 0)
            return rc;
        if ((rc = s3_multipart_complete(&store, data, s->mpu, s->etags, s->nparts)) < 0)
            return rc;
        /* the part list is used up: a retry after a failed copy finds the
         * completed object at data */
        s->mpu[0] = '\0';
        if ((rc = s3_copy(&store, key, data)) < 0)
            return rc;
        if (s3_delete(&store, data) < 0)
            log_warn("upload '%s': %s", u->id, error_message());
    }
    drop_session_objects(u->id);
    *size_out = u->offset;
    s3store_upload_close(u);
    return 0;
}

int s3store_upload_cancel(const char *id)
{
    char key[KEY_MAX];
    struct upload u;
    struct s3_session *s = xcalloc(1, sizeof(*s));
    int rc = valid_id(id);
    if (rc < 0) {
        session_free(s);
        return rc;
    }
    memset(&u, 0, sizeof(u));
    memcpy(u.id, id, 37);
    session_key(key, id, "data");
    rc = load_state(&u, s);
    if (rc == 0 && s->mpu[0] && (rc = s3_multipart_abort(&store, key, s->mpu)) < 0)
        log_warn("upload '%s': %s", id, error_message());
    session_free(s);
    if (rc == E_NOTFOUND)
        rc = 0;
    /* a completed data object (a commit that failed at its copy) */
    if (s3_delete(&store, key) < 0)
        log_warn("upload '%s': %s", id, error_message());
    drop_session_objects(id);
    return rc < 0 ? rc : 0;
}

int s3store_upload_size(const char *id, uint64_t *size_out)
{
    struct upload u;
    struct s3_session *s = xcalloc(1, sizeof(*s));
    int rc = valid_id(id);
    if (rc == 0) {
        memset(&u, 0, sizeof(u));
        memcpy(u.id, id, 37);
        if ((rc = load_state(&u, s)) == 0)
            *size_out = u.offset;
    }
    session_free(s);
    return rc;
}
