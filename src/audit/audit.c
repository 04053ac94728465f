/*
 * This module implements the audit trail of audit.h: it writes a call's
 * CloudTrail record on the caller's thread, compact (what varies per call;
 * audit_event_json() puts the rest back at lookup) and by hand into a
 * buffer, redacting secrets, and stages it in the write's own transaction
 * or pushes it onto a bounded queue. Records are numbered as they are queued and
 * written to the store many to a transaction (group commit), in queue
 * order; the number of the last one written is published.
 *
 * A write that succeeded waits for its number: if no batch is being written it writes one
 * itself, everything queued so far, on its own thread and connection (the
 * leader of a group commit, so an uncontended write costs no hand-off to
 * another thread); otherwise it waits for the batch under way, which other
 * writes join while it commits. Reads only queue: one writer thread writes
 * what they leave, after gathering for a few milliseconds. A lookup waits
 * for what its own server queued before it (audit_sync); on a database
 * several servers share (PostgreSQL), a read answered by another server
 * shows there once that server's writer commits it, a few milliseconds
 * later (CloudTrail's own event history takes minutes). A read waiting for
 * its record there cost it a commit of its own: reads served at less than
 * half the rate. A batch with a
 * write's record syncs the WAL before the write is answered (as every
 * acknowledged write in berth); one of reads' records alone commits without
 * a sync (synchronous=NORMAL), and reaches the disk with the next sync of
 * the WAL. A write that runs in one store transaction of its own (an ECR
 * or IAM write; a /v2 write, through the image service's commit hook)
 * skips all this: its record goes into that transaction
 * (audit_record_in_transaction). Either way a record is staged: written
 * once, into a table with no index but its key, so a write's commit grows
 * by about a page. The writer thread "moves" staged records (indexes them
 * for lookups) in large batches without a sync of its own, MOVE_GATHER_MS
 * after the first of them; a lookup moves what is staged before it reads.
 * The prune job deletes records past the retention, a bounded number per
 * transaction.
 */
#include "audit/audit.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "store/locks.h"
#include "store/store.h"

#define QUEUE_MAX_DEFAULT 8192
/* Records in one transaction at most: a commit stays short. */
#define BATCH_MAX 256
/* How long the writer gathers reads' records before writing them. */
#define GATHER_MS 10
/* How long it gathers staged records before moving them, and how many it
 * moves in one transaction: lookups move what is staged themselves, so
 * nothing waits for a move. */
#define MOVE_GATHER_MS 1000
#define MOVE_BATCH 1000
/* A string longer than this is shortened in a record (a manifest, say). */
#define STRING_MAX 8192
/* A row's columns (names, the user, the key) are cut to this (an ARN's
 * most): what a caller sent names resources before it is validated, and a
 * queued record must not hold a request body's worth of them. */
#define COLUMN_MAX 2048
/* A compact record's member for its resources' account when that is not
 * the recipient's (a call on another account's resources, in the caller's
 * history); never in a record that a lookup returns. */
#define RESOURCE_ACCOUNT "resourceAccountId"
#define PRUNE_JOB "audit-prune"
#define PRUNE_BATCH 5000
#define WRITE_TRIES 3

/* One queued record: the row with the strings it owns. */
struct item {
    struct audit_row row;
    char *owned[8 + 2 * AUDIT_RESOURCES_MAX];
    int nowned;
    bool borrow; /* the row's strings may be the call's own */
    uint64_t seq;
};

static struct {
    bool started;
    struct audit_options opt;
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t nonempty; /* the writer waits for records */
    pthread_cond_t room;     /* producers wait for room in the queue */
    pthread_cond_t committed_cond;
    struct item **ring;
    unsigned cap, head, count;
    uint64_t queued;    /* number of the last record queued */
    uint64_t committed; /* number of the last record written (or given up on) */
    bool committing;    /* a batch is being written (by a leader or the writer) */
    bool staged;        /* records were staged since the writer last moved them */
    unsigned nstaged;   /* how many (those this server staged) */
    bool stopping;
    bool in_transaction; /* audit_record_in_transaction() writes */
} q = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .nonempty = PTHREAD_COND_INITIALIZER,
       .room = PTHREAD_COND_INITIALIZER,
       .committed_cond = PTHREAD_COND_INITIALIZER};

bool audit_enabled(void)
{
    return q.started;
}

/* ---- redaction ---- */

#define SECRET(z) {z, sizeof(z) - 1}
static const struct {
    const char *z;
    size_t n;
} secret_keys[] = {SECRET("authorizationToken"), SECRET("secretAccessKey"), SECRET("password"), SECRET("oldPassword"),
                   SECRET("newPassword"),        SECRET("sessionToken"),    SECRET("privateKey"), SECRET("layerPartBlob"),
                   SECRET("secret")};

static bool secret_key(const char *key)
{
    /* every key of a record comes here: its length first */
    size_t n = strlen(key);
    for (size_t i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++)
        if (n == secret_keys[i].n && strcasecmp(key, secret_keys[i].z) == 0)
            return true;
    return false;
}

json_t *audit_redact(json_t *doc)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_object(doc)) {
        json_t *out = json_object();
        json_object_foreach(doc, key, v) json_object_set_new(out, key, secret_key(key) ? json_string(AUDIT_HIDDEN) : audit_redact(v));
        return out;
    }
    if (json_is_array(doc)) {
        json_t *out = json_array();
        json_array_foreach(doc, i, v) json_array_append_new(out, audit_redact(v));
        return out;
    }
    if (json_is_string(doc) && json_string_length(doc) > STRING_MAX) {
        char note[96];
        snprintf(note, sizeof(note), "(%zu bytes, not recorded)", json_string_length(doc));
        return json_string(note);
    }
    /* a scalar is shared, not copied: the record only reads it */
    return doc ? json_incref(doc) : json_null();
}

/* ---- records ---- */

char *audit_utf8(const char *z)
{
    const unsigned char *p = (const unsigned char *)(z ? z : "");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    while (*p) {
        size_t n = utf8_sequence_len(p);
        if (n) {
            buf_put(&b, p, n);
            p += n;
        } else {
            buf_puts(&b, "\xef\xbf\xbd"); /* U+FFFD */
            p++;
        }
    }
    return buf_detach(&b);
}

bool audit_read_only(const char *op)
{
    static const char *const prefixes[] = {"Get", "List", "Describe", "BatchGet", "BatchCheck", "Lookup", "Simulate", NULL};
    for (const char *const *p = prefixes; *p; p++)
        if (strncmp(op, *p, strlen(*p)) == 0)
            return true;
    return false;
}

void audit_add_resource(struct audit_call *a, const char *type, const char *name)
{
    if (!name || !*name || a->nresources >= AUDIT_RESOURCES_MAX)
        return;
    for (int i = 0; i < a->nresources; i++)
        if (strcmp(a->resources[i].type, type) == 0 && strcmp(a->resources[i].name, name) == 0)
            return;
    a->resources[a->nresources++] = (struct audit_resource){type, name};
}

/* Whether the n bytes at z are well-formed UTF-8. */
static bool valid_utf8(const char *z, size_t n)
{
    const unsigned char *p = (const unsigned char *)z, *end = p + n;
    while (p < end) {
        size_t k = utf8_sequence_len(p);
        if (!k)
            return false;
        p += k;
    }
    return true;
}

/* A copy of z cut to at most max bytes, at a character's start, and made
 * valid UTF-8. */
static char *cut_utf8(const char *z, size_t max)
{
    size_t n = z ? strlen(z) : 0;
    if (n <= max)
        return valid_utf8(z, n) ? xstrdup(z ? z : "") : audit_utf8(z);
    while (max && ((unsigned char)z[max] & 0xc0) == 0x80)
        max--;
    char *head = xstrndup(z, max), *clean = audit_utf8(head);
    free(head);
    return clean;
}

void audit_in_transaction_enable(bool on)
{
    q.in_transaction = on;
}

/* ---- the record's JSON ----
 *
 * Written straight into a buffer, byte for byte as jansson's
 * json_dumps(JSON_COMPACT) writes the record's tree (tests/unit/audit
 * compares the two), with the secrets redacted on the way: no tree, no
 * copy of the call's parameters, no dump. A record is stored compact: only
 * what varies from call to call (who, from where, the parameters and the
 * answer, the request ID, the region); the fields that are constant or kept
 * in the row's own columns (eventVersion, eventTime, eventSource,
 * eventName, eventID, readOnly, resources, eventType, managementEvent,
 * recipientAccountId, eventCategory) are put back around them when the
 * record is read (audit_event_json()), at their places, so that a lookup
 * returns the same bytes as if the whole record had been stored. That
 * makes the row, which a write's synced commit carries, about half as
 * long. */

/* z (NULL: "") as jstr_max(z, max) made it: cut to max bytes at a
 * character's start, made valid UTF-8 (a sequence that the cut splits is
 * replaced, as in cut_utf8()'s copy: buf_put_json_string() stops at n). */
static void put_text(struct buf *b, const char *z, size_t max)
{
    size_t n = z ? strlen(z) : 0;
    if (n > max) {
        n = max;
        while (n && ((unsigned char)z[n] & 0xc0) == 0x80)
            n--;
    }
    buf_put_json_string(b, z ? z : "", n);
}

/* audit_redact(v) as JSON, without the copy (NULL: null). */
static void put_redacted(struct buf *b, json_t *v)
{
    const char *key;
    json_t *x;
    size_t i;
    bool first = true;
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        buf_putc(b, '{');
        json_object_foreach(v, key, x) {
            if (!first)
                buf_putc(b, ',');
            first = false;
            buf_put_json_string(b, key, strlen(key));
            buf_putc(b, ':');
            if (secret_key(key))
                buf_puts(b, "\"" AUDIT_HIDDEN "\"");
            else
                put_redacted(b, x);
        }
        buf_putc(b, '}');
        break;
    case JSON_ARRAY:
        buf_putc(b, '[');
        json_array_foreach(v, i, x) {
            if (i)
                buf_putc(b, ',');
            put_redacted(b, x);
        }
        buf_putc(b, ']');
        break;
    case JSON_STRING:
        if (json_string_length(v) > STRING_MAX)
            buf_printf(b, "\"(%zu bytes, not recorded)\"", json_string_length(v));
        else
            buf_put_json_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: { /* jansson's own digits (rare in a call) */
        char *z = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        buf_puts(b, z ? z : "null");
        free(z);
        break;
    }
    case JSON_TRUE:
        buf_puts(b, "true");
        break;
    case JSON_FALSE:
        buf_puts(b, "false");
        break;
    case JSON_NULL:
        buf_puts(b, "null");
        break;
    }
}

static void put_member(struct buf *b, const char *key, const char *z)
{
    buf_puts(b, ",\"");
    buf_puts(b, key);
    buf_puts(b, "\":");
    put_text(b, z, STRING_MAX);
}

static void put_identity(struct buf *b, const struct audit_call *a)
{
    const struct principal *p = a->who;
    if (a->service_event) {
        buf_puts(b, "{\"accountId\":");
        put_text(b, p->account_id, SIZE_MAX);
        buf_puts(b, ",\"invokedBy\":\"AWS Internal\"}");
        return;
    }
    buf_puts(b, p->is_root || p->anonymous ? "{\"type\":\"Root\"" : "{\"type\":\"IAMUser\"");
    put_member(b, "principalId", p->user_id[0] ? p->user_id : p->account_id);
    put_member(b, "arn", a->caller_arn ? a->caller_arn : p->arn);
    put_member(b, "accountId", p->account_id);
    if (p->access_key_id[0])
        put_member(b, "accessKeyId", p->access_key_id);
    if (!p->is_root && p->user_name[0])
        put_member(b, "userName", p->user_name);
    buf_putc(b, '}');
}

/* The record's fields from eventTime to eventName, and from eventID to the
 * end (but serviceEventDetails), from what the row keeps of them. */
static void put_time_to_name(struct buf *b, int64_t ms, const char *source, const char *name)
{
    char when[32];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(b, ",\"eventTime\":\"%s\"", when);
    put_member(b, "eventSource", source);
    put_member(b, "eventName", name);
}

static void put_id_to_type(struct buf *b, const char *event_id, bool read_only, const struct audit_resource *res, int nres,
                           const char *res_account_json, const char *res_account, bool service)
{
    put_member(b, "eventID", event_id);
    buf_puts(b, read_only ? ",\"readOnly\":true" : ",\"readOnly\":false");
    if (nres) {
        buf_puts(b, ",\"resources\":[");
        for (int i = 0; i < nres; i++) {
            buf_puts(b, i ? ",{\"accountId\":" : "{\"accountId\":");
            if (res_account_json)
                buf_puts(b, res_account_json);
            else
                put_text(b, res_account, STRING_MAX);
            put_member(b, "type", res[i].type);
            put_member(b, "name", res[i].name);
            buf_putc(b, '}');
        }
        buf_putc(b, ']');
    }
    buf_puts(b, service ? ",\"eventType\":\"AwsServiceEvent\"" : ",\"eventType\":\"AwsApiCall\"");
}

static void put_tail(struct buf *b, const char *recipient)
{
    buf_puts(b, ",\"managementEvent\":true");
    put_member(b, "recipientAccountId", recipient);
    buf_puts(b, ",\"eventCategory\":\"Management\"}");
}

/* A column's string: z cut to COLUMN_MAX and made valid UTF-8, a copy
 * unless the item may borrow z as it is. */
static const char *own(struct item *it, const char *z)
{
    size_t n = z ? strlen(z) : 0;
    if (it->borrow && z && n <= COLUMN_MAX && valid_utf8(z, n))
        return z;
    assert(it->nowned < (int)(sizeof(it->owned) / sizeof(it->owned[0])));
    return it->owned[it->nowned++] = cut_utf8(z, COLUMN_MAX);
}

static void item_release(struct item *it)
{
    for (int i = 0; i < it->nowned; i++)
        free(it->owned[i]);
    it->nowned = 0;
}

static void item_free(struct item *it)
{
    item_release(it);
    free(it);
}

/* The record of a call (compact: without what the row keeps, for
 * audit_event_json() to put back), from the row's columns. */
static void put_record(struct buf *b, const struct audit_call *a, const struct audit_row *row, const char *recipient,
                       const char *event_id, const char *request_id, bool compact)
{
    const char *ua = a->r ? http_header(a->r, "User-Agent") : NULL, *ip = a->r ? a->r->client_ip : "";
    const char *res_account = a->resource_account ? a->resource_account : a->who->account_id;
    if (a->service_event)
        ua = ip = "AWS Internal";
    buf_puts(b, compact ? "{\"userIdentity\":" : "{\"eventVersion\":\"1.08\",\"userIdentity\":");
    put_identity(b, a);
    if (!compact)
        put_time_to_name(b, row->event_ms, a->source, a->name);
    put_member(b, "awsRegion", auth_region());
    put_member(b, "sourceIPAddress", ip);
    put_member(b, "userAgent", ua);
    if (a->error_code) {
        put_member(b, "errorCode", a->error_code);
        put_member(b, "errorMessage", a->error_message);
    }
    buf_puts(b, ",\"requestParameters\":");
    put_redacted(b, a->request);
    /* as CloudTrail: what a write answered; a read's answer is not recorded */
    buf_puts(b, ",\"responseElements\":");
    put_redacted(b, a->response && !a->error_code && !a->read_only ? a->response : NULL);
    if (a->additional) {
        buf_puts(b, ",\"additionalEventData\":");
        put_redacted(b, a->additional);
    }
    put_member(b, "requestID", request_id);
    if (!compact)
        put_id_to_type(b, event_id, a->read_only, row->resources, row->nresources, NULL, res_account,
                       a->service_event != NULL);
    else if (row->nresources && strcmp(res_account, recipient) != 0)
        put_member(b, RESOURCE_ACCOUNT, res_account);
    if (a->service_event) {
        buf_puts(b, ",\"serviceEventDetails\":");
        put_redacted(b, a->service_event);
    }
    if (compact)
        buf_putc(b, '}');
    else
        put_tail(b, recipient);
}

/* The record of a call for one account's history (recipient), into it;
 * borrow: its row may point into a (a record staged at once, not queued). */
static void item_init(struct item *it, bool borrow, const struct audit_call *a, const char *recipient, const char *event_id,
                      const char *request_id, int64_t ms)
{
    struct audit_row *row = &it->row;
    struct buf b;
    memset(it, 0, sizeof(*it));
    it->borrow = borrow;
    row->account_id = own(it, recipient);
    row->event_id = own(it, event_id);
    row->event_ms = ms;
    row->event_name = own(it, a->name);
    row->event_source = own(it, a->source);
    row->username = own(it, a->service_event ? "" : a->who->is_root || a->who->anonymous ? "root" : a->who->user_name);
    row->access_key_id = own(it, a->service_event ? "" : a->who->access_key_id);
    row->read_only = a->read_only;
    for (int i = 0; i < a->nresources; i++)
        row->resources[i] = (struct audit_resource){own(it, a->resources[i].type), own(it, a->resources[i].name)};
    row->nresources = a->nresources;
    /* compact when the columns hold what the record would (they keep
     * COLUMN_MAX bytes of each string, the record STRING_MAX) */
    bool compact = strlen(a->name) <= COLUMN_MAX && strlen(a->source) <= COLUMN_MAX && strlen(recipient) <= COLUMN_MAX &&
                   strlen(event_id) <= COLUMN_MAX;
    buf_init(&b, BUF_UNLIMITED);
    put_record(&b, a, row, recipient, event_id, request_id, compact);
    row->record = it->owned[it->nowned++] = buf_detach(&b);
}

static struct item *item_new(const struct audit_call *a, const char *recipient, const char *event_id, const char *request_id,
                             int64_t ms)
{
    struct item *it = xmalloc(sizeof(*it));
    item_init(it, false, a, recipient, event_id, request_id, ms);
    return it;
}

/* The end of the JSON value at p, as put_record() writes them (no
 * white space), or NULL when there is none. */
static const char *value_end(const char *p)
{
    int depth = 0;
    do {
        switch (*p) {
        case '\0':
            return NULL;
        case '"':
            for (p++; *p != '"'; p++)
                if (!*p || (*p == '\\' && !*++p))
                    return NULL;
            p++;
            break;
        case '{':
        case '[':
            depth++;
            p++;
            break;
        case '}':
        case ']':
            if (--depth < 0)
                return NULL;
            p++;
            break;
        default: /* within a value, or a number, true, false or null */
            if (depth)
                p++;
            else
                while (*p && !strchr(",}]", *p))
                    p++;
        }
    } while (depth > 0);
    return p;
}

/* One member of a compact record: "key":value, the value at val. */
struct member {
    const char *base, *val;
    size_t len;
};

#define MEMBERS_MAX 16

/* The members of a compact record, in order; their count, or -1 when z is
 * not one. */
static int members(const char *z, struct member *out)
{
    int n = 0;
    const char *p = z;
    if (*p++ != '{')
        return -1;
    while (*p == '"' && n < MEMBERS_MAX) {
        const char *key = p, *colon = value_end(p);
        if (!colon || *colon != ':' || !(p = value_end(colon + 1)))
            return -1;
        out[n++] = (struct member){key, colon + 1, (size_t)(p - key)};
        if (*p == ',')
            p++;
        else
            break;
    }
    return *p == '}' && p[1] == '\0' ? n : -1;
}

static bool member_is(const struct member *m, const char *key)
{
    size_t n = strlen(key);
    return m->base[0] == '"' && strncmp(m->base + 1, key, n) == 0 && m->base[n + 1] == '"' && m->val == m->base + n + 3;
}

char *audit_event_json(const struct audit_row *row)
{
    static const char compact[] = "{\"userIdentity\":";
    struct member m[MEMBERS_MAX];
    const struct member *res_account = NULL, *service = NULL;
    const char *z = row->record ? row->record : "";
    int n;
    /* a record stored whole: written before records were compact, or one
     * whose columns are cut (put_record()) */
    if (strncmp(z, compact, sizeof(compact) - 1) != 0 || (n = members(z, m)) < 1 || !member_is(&m[0], "userIdentity"))
        return xstrdup(z);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_puts(&b, "{\"eventVersion\":\"1.08\",");
    buf_put(&b, m[0].base, m[0].len);
    put_time_to_name(&b, row->event_ms, row->event_source, row->event_name);
    for (int i = 1; i < n; i++) {
        if (member_is(&m[i], RESOURCE_ACCOUNT)) {
            res_account = &m[i];
        } else if (member_is(&m[i], "serviceEventDetails")) {
            service = &m[i];
        } else {
            buf_putc(&b, ',');
            buf_put(&b, m[i].base, m[i].len);
        }
    }
    char *account = res_account ? xstrndup(res_account->val, res_account->len - (size_t)(res_account->val - res_account->base))
                                : NULL;
    put_id_to_type(&b, row->event_id, row->read_only, row->resources, row->nresources, account, row->account_id,
                   service != NULL);
    free(account);
    if (service) {
        buf_putc(&b, ',');
        buf_put(&b, service->base, service->len);
    }
    put_tail(&b, row->account_id);
    return buf_detach(&b);
}

/* An eventID: a UUID of version 7 (RFC 9562), the time in milliseconds
 * in its first 48 bits and random bits after. Records reach the event ID
 * index in about the order of their IDs, so that a move of many records
 * adds to a few of its pages at its end, where random (version 4) IDs
 * would each change a page of their own. */
static void event_uuid(char out[37], int64_t ms)
{
    unsigned char b[16];
    random_id_bytes(b + 6, sizeof(b) - 6);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)((uint64_t)ms >> (8 * (5 - i)));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(out, b);
}

/* Queues it and returns its number; waits for room while the queue is full. */
static uint64_t push(struct item *it)
{
    pthread_mutex_lock(&q.lock);
    while (q.count == q.cap && !q.stopping)
        pthread_cond_wait(&q.room, &q.lock);
    if (q.stopping) {
        pthread_mutex_unlock(&q.lock);
        log_warn("audit: %s by %s not recorded: the server is stopping", it->row.event_name, it->row.username);
        item_free(it);
        return 0;
    }
    /* the writer may free it as soon as the lock is released */
    uint64_t seq = it->seq = ++q.queued;
    q.ring[(q.head + q.count) % q.cap] = it;
    q.count++;
    pthread_cond_signal(&q.nonempty);
    pthread_mutex_unlock(&q.lock);
    return seq;
}

/* Takes the oldest queued records, up to BATCH_MAX, for the caller to
 * write: with the lock held and no batch under way; sets committing. */
static unsigned take(struct item **batch)
{
    unsigned n = q.count < BATCH_MAX ? q.count : BATCH_MAX;
    for (unsigned i = 0; i < n; i++)
        batch[i] = q.ring[(q.head + i) % q.cap];
    q.head = (q.head + n) % q.cap;
    q.count -= n;
    q.committing = true;
    pthread_cond_broadcast(&q.room);
    return n;
}

/* Runs fn in one transaction. full: the commit waits for the disk as the
 * store's always do; otherwise it is in the WAL file, which survives the
 * process being killed, and reaches the disk with the next sync. */
static int in_transaction(bool full, int (*fn)(void *ctx), void *ctx)
{
    int rc = full ? 0 : store_audit_sync(false);
    /* records are rows of their own: the store's other writers go on
     * (store/audit.c says how moves and inserts stay in commit order) */
    if (rc == 0 && (rc = full ? store_begin_shared() : store_begin_shared_unsynced()) == 0) {
        rc = fn(ctx);
        if (rc == 0)
            rc = store_commit();
        if (rc < 0)
            store_rollback();
    }
    /* the thread's other transactions keep the store's full syncs */
    if (!full && store_audit_sync(true) < 0 && rc == 0)
        rc = -1;
    return rc;
}

struct batch {
    struct item **items;
    unsigned n;
    bool full; /* it holds a write's record */
};

/* A batch is staged, as a write's own record is: its commit adds a row
 * per record to the table of records, and the move indexes them later with
 * the others (in seq order, which is the order of the commits). */
static int insert_batch(void *ctx)
{
    struct batch *b = ctx;
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < b->n; i++)
        rc = store_audit_stage(&b->items[i]->row);
    return rc;
}

/* One transaction of records. It syncs the WAL when the batch holds a
 * write's record (whose answer waits: nothing is acknowledged before it is
 * on the disk); records of reads alone commit without a sync. */
static int write_batch(struct item **items, unsigned n)
{
    struct batch b = {items, n, false};
    for (unsigned i = 0; i < n && !b.full; i++)
        b.full = !items[i]->row.read_only;
    if (store_is_shared()) {
        const struct audit_row *rows[BATCH_MAX];
        for (unsigned i = 0; i < n; i++)
            rows[i] = &items[i]->row;
        return store_audit_write_pg(rows, n, b.full);
    }
    return in_transaction(b.full, insert_batch, &b);
}

static int move_some(void *ctx)
{
    return store_audit_move(MOVE_BATCH, ctx);
}

/* Moves (indexes) every staged record for lookups, MOVE_BATCH to a
 * transaction. Never inside a store transaction of the caller's. */
static void move_staged(void)
{
    int64_t moved = 0;
    int rc;
    do {
        if ((rc = in_transaction(false, move_some, &moved)) < 0)
            log_error("audit: moving staged records: %s", error_message());
        else if (moved)
            metric_add(metric_get(&metric_audit_index, NULL), 1);
    } while (rc == 0 && moved == MOVE_BATCH && !q.stopping);
}

/* Writes a batch from take() (without the lock) and publishes it. */
static void commit_batch(struct item **batch, unsigned n)
{
    static const char *const written[] = {"written"}, *const lost[] = {"lost"};
    int rc = -1;
    int64_t t0 = mono_us();
    for (int attempt = 0; attempt < WRITE_TRIES && rc < 0; attempt++) {
        if (attempt)
            nanosleep(&(struct timespec){0, 100000000L * attempt}, NULL);
        if ((rc = write_batch(batch, n)) < 0)
            log_error("audit: writing %u record%s: %s", n, n == 1 ? "" : "s", error_message());
    }
    metric_observe_us(metric_get(&metric_audit_commit, NULL), mono_us() - t0);
    metric_add(metric_get(&metric_audit_records, rc < 0 ? lost : written), n);
    if (rc < 0)
        log_error("audit: %u record%s lost (first: %s %s)", n, n == 1 ? "" : "s", batch[0]->row.event_name,
                  batch[0]->row.event_id);
    pthread_mutex_lock(&q.lock);
    q.committed = batch[n - 1]->seq;
    q.committing = false;
    q.staged = true; /* perhaps */
    q.nstaged += n;
    pthread_cond_broadcast(&q.committed_cond);
    if (q.count)
        pthread_cond_signal(&q.nonempty);
    pthread_mutex_unlock(&q.lock);
    for (unsigned i = 0; i < n; i++)
        item_free(batch[i]);
}

/* Returns once record seq is written, writing batches itself while no one
 * else does. Never inside a store transaction of the caller's. */
static void wait_committed(uint64_t seq)
{
    struct item *batch[BATCH_MAX];
    pthread_mutex_lock(&q.lock);
    while (q.committed < seq) {
        if (!q.committing && q.count) {
            unsigned n = take(batch);
            pthread_mutex_unlock(&q.lock);
            commit_batch(batch, n);
            pthread_mutex_lock(&q.lock);
        } else {
            pthread_cond_wait(&q.committed_cond, &q.lock);
        }
    }
    pthread_mutex_unlock(&q.lock);
}

void audit_record(const struct audit_call *a)
{
    char event_id[37], fresh_id[37];
    if (!q.started || !a->who)
        return;
    int64_t ms = now_ms();
    event_uuid(event_id, ms);
    if (!a->request_id)
        uuid_v4(fresh_id);
    const char *request_id = a->request_id ? a->request_id : fresh_id;
    uint64_t last = push(item_new(a, a->who->account_id, event_id, request_id, ms));
    /* a call on another account's resources is in that account's history too */
    if (a->resource_account && strcmp(a->resource_account, a->who->account_id) != 0) {
        uint64_t seq = push(item_new(a, a->resource_account, event_id, request_id, ms));
        last = seq ? seq : last;
    }
    /* a failed call wrote nothing: its record need not be on the disk
     * before its answer, which may leave from an HTTP thread (a refusal
     * before the body), where nothing may wait for the store's locks */
    if (!a->read_only && !a->error_code && last)
        wait_committed(last);
}

int audit_record_in_transaction(const struct audit_call *a)
{
    static const char *const written[] = {"written"};
    char event_id[37], fresh_id[37];
    int rc = 0;
    if (!(q.started || q.in_transaction) || !a->who)
        return 0;
    int64_t ms = now_ms();
    event_uuid(event_id, ms);
    if (!a->request_id)
        uuid_v4(fresh_id);
    const char *request_id = a->request_id ? a->request_id : fresh_id;
    const char *recipients[2] = {a->who->account_id, a->resource_account};
    int n = a->resource_account && strcmp(a->resource_account, a->who->account_id) != 0 ? 2 : 1;
    for (int i = 0; i < n && rc == 0; i++) {
        struct item it;
        item_init(&it, true, a, recipients[i], event_id, request_id, ms);
        rc = store_audit_stage(&it.row);
        item_release(&it);
    }
    if (rc == 0) {
        /* moved once the caller commits (or found gone if it rolls back) */
        /* the writer wakes for the first staged record (to start gathering)
         * and for a batch's worth, not for each: a wake-up per write cost
         * the write two context switches */
        pthread_mutex_lock(&q.lock);
        bool wake = !q.staged || (q.nstaged < MOVE_BATCH && q.nstaged + (unsigned)n >= MOVE_BATCH);
        q.staged = true;
        q.nstaged += (unsigned)n;
        if (wake)
            pthread_cond_signal(&q.nonempty);
        pthread_mutex_unlock(&q.lock);
    }
    /* counted before the commit: a failed commit fails the call, which is then recorded as such */
    if (rc == 0)
        metric_add(metric_get(&metric_audit_records, written), n);
    return rc;
}

void audit_sync(void)
{
    bool any = false;
    if (!q.started)
        return;
    pthread_mutex_lock(&q.lock);
    uint64_t seq = q.queued;
    pthread_mutex_unlock(&q.lock);
    wait_committed(seq);
    /* also what other servers staged */
    if (store_audit_any_staged(&any) == 0 && any)
        move_staged();
}

/* ---- the writer (of what reads leave) ---- */

/* The time ms from now, for pthread_cond_timedwait(). */
static struct timespec deadline_in(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static bool passed(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Waits on the writer's condition for up to ms (with q.lock held). */
static void gather(pthread_cond_t *cond, int ms)
{
    struct timespec ts = deadline_in(ms);
    pthread_cond_timedwait(cond, &q.lock, &ts);
}

static void *writer_loop(void *arg)
{
    (void)arg;
    /* bench/audit.py tells the request path's threads from it by its name */
    pthread_setname_np(pthread_self(), "audit-writer");
    struct item **batch = xcalloc(BATCH_MAX, sizeof(*batch));
    struct timespec move_at = {0, 0};
    bool gathering = false; /* staged records, to be moved at move_at */
    pthread_mutex_lock(&q.lock);
    for (;;) {
        while ((q.count == 0 || q.committing) && !q.staged && !q.stopping)
            pthread_cond_wait(&q.nonempty, &q.lock);
        if (q.count == 0 && q.stopping)
            break;
        if (q.staged && (q.count == 0 || q.committing)) {
            /* gather staged records for MOVE_GATHER_MS from the first, or
             * until a batch's worth is staged: each stage signals, and a
             * move per write would cost more than the write (stop()
             * interrupts it; reads' records are written meanwhile) */
            if (!gathering) {
                move_at = deadline_in(MOVE_GATHER_MS);
                gathering = true;
            }
            if (!q.stopping && q.nstaged < MOVE_BATCH && !passed(&move_at)) {
                pthread_cond_timedwait(&q.nonempty, &q.lock, &move_at);
                continue;
            }
            gathering = false;
            if (q.stopping)
                continue;
            q.staged = false;
            q.nstaged = 0;
            pthread_mutex_unlock(&q.lock);
            move_staged();
            /* the move's pages (and the writes') into the database file
             * here, off the request path */
            if (store_audit_checkpoint() < 0)
                log_warn("audit: checkpoint: %s", error_message());
            pthread_mutex_lock(&q.lock);
            continue;
        }
        if (q.committing) { /* stopping: let the leader finish */
            pthread_cond_wait(&q.committed_cond, &q.lock);
            continue;
        }
        if (q.count < BATCH_MAX && !q.stopping) {
            /* gather: reads' records need not be written at once */
            gather(&q.room, GATHER_MS);
            if (q.committing || q.count == 0)
                continue;
        }
        unsigned n = take(batch);
        pthread_mutex_unlock(&q.lock);
        commit_batch(batch, n);
        pthread_mutex_lock(&q.lock);
    }
    pthread_mutex_unlock(&q.lock);
    free(batch);
    store_close_thread();
    return NULL;
}

/* ---- retention ---- */

int audit_prune(int64_t now, int64_t retention_ms, int64_t *deleted_out)
{
    int64_t n = 0, total = 0;
    int rc = 0;
    do {
        if ((rc = store_begin_shared()) < 0)
            break;
        rc = store_audit_prune(now - retention_ms, PRUNE_BATCH, &n);
        if (rc == 0)
            rc = store_commit();
        if (rc < 0) {
            store_rollback();
            break;
        }
        total += n;
    } while (n == PRUNE_BATCH && !jobs_stopping());
    if (deleted_out)
        *deleted_out = total;
    return rc;
}

static int prune_job(const struct job *job, void *ctx)
{
    (void)job;
    (void)ctx;
    int64_t deleted = 0;
    int rc = audit_prune(now_ms(), q.opt.retention_ms, &deleted);
    if (deleted)
        log_info("audit: pruned %lld record%s older than %lld s", (long long)deleted, deleted == 1 ? "" : "s",
                 (long long)(q.opt.retention_ms / 1000));
    return rc;
}

int audit_start(const struct audit_options *o)
{
    int rc;
    q.opt = *o;
    /* tests only: a retention of milliseconds, so pruning shows at once */
    const char *test_retention = getenv("BERTH_AUDIT_TEST_RETENTION_MS");
    if (test_retention && *test_retention)
        q.opt.retention_ms = strtoll(test_retention, NULL, 10);
    if ((rc = jobs_register(PRUNE_JOB, prune_job, NULL)) < 0)
        return rc;
    if (!o->on) {
        /* what is kept still ages out */
        return jobs_every(PRUNE_JOB, "retention", o->prune_interval_ms, 0);
    }
    if ((rc = jobs_every(PRUNE_JOB, "retention", o->prune_interval_ms, 0)) < 0)
        return rc;
    q.cap = o->queue_max ? o->queue_max : QUEUE_MAX_DEFAULT;
    q.ring = xcalloc(q.cap, sizeof(*q.ring));
    q.stopping = false;
    q.staged = true; /* what a previous run staged and did not move */
    if (pthread_create(&q.writer, NULL, writer_loop, NULL) != 0) {
        free(q.ring);
        q.ring = NULL;
        return error_set(E_ERROR, "audit: cannot start the writer thread");
    }
    q.started = true;
    q.in_transaction = true;
    return 0;
}

void audit_stop(void)
{
    if (!q.started)
        return;
    pthread_mutex_lock(&q.lock);
    q.stopping = true;
    pthread_cond_broadcast(&q.nonempty);
    pthread_cond_broadcast(&q.room);
    pthread_mutex_unlock(&q.lock);
    pthread_join(q.writer, NULL);
    q.started = false;
    free(q.ring);
    q.ring = NULL;
}
