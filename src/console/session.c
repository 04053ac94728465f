/*
 * This module implements the untrusted-input side of console sign-in: the
 * session cookie's parser, the sign-in body's parser, and the rate limit
 * on failed sign-ins (in memory, per user and per client address: a
 * restart forgets it, which costs an attacker a restart he cannot cause).
 */
#include "console/console.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"

#define SIGNIN_BODY_MAX 4096
#define LIMIT_WINDOW_MS (15 * 60 * 1000)
#define LIMIT_PER_USER 5
#define LIMIT_PER_ADDR 20
#define LIMIT_SLOTS 1024
#define LIMIT_PROBE 16

static bool is_session_id(const char *z, size_t n)
{
    if (n != CONSOLE_SESSION_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((z[i] >= '0' && z[i] <= '9') || (z[i] >= 'a' && z[i] <= 'f')))
            return false;
    return true;
}

int console_cookie_session(char out[CONSOLE_SESSION_ID_LEN + 1], const char *cookie_header)
{
    static const char name[] = CONSOLE_COOKIE;
    const char *p = cookie_header;
    if (!p)
        return E_NOTFOUND;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *k = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t klen = (size_t)(p - k);
        while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
            klen--;
        if (*p != '=')
            continue;
        const char *v = ++p;
        while (*p && *p != ';')
            p++;
        size_t vlen = (size_t)(p - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
            v++, vlen -= 2;
        if (klen == sizeof(name) - 1 && memcmp(k, name, klen) == 0 && is_session_id(v, vlen)) {
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return 0;
        }
    }
    return E_NOTFOUND;
}

/* Copies member key of doc (a string no longer than size-1 bytes, without
 * NUL) to out; false when it is absent. */
static int take(char *out, size_t size, json_t *doc, const char *key, bool *present)
{
    json_t *v = json_object_get(doc, key);
    *present = v != NULL;
    out[0] = '\0';
    if (!v)
        return 0;
    if (!json_is_string(v))
        return error_set(E_INVALID, "%s must be a string", key);
    size_t n = json_string_length(v);
    if (n == 0 || n >= size || memchr(json_string_value(v), '\0', n))
        return error_set(E_INVALID, "%s must have 1 to %zu characters", key, size - 1);
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

int console_signin_parse(struct signin_form *out, const char *body, size_t n)
{
    json_error_t jerr;
    bool has_acct, has_user, has_pw, has_akid, has_secret;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (n > SIGNIN_BODY_MAX)
        return error_set(E_INVALID, "the sign-in request is too long");
    json_t *doc = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        rc = error_set(E_INVALID, "the sign-in request is not a JSON object");
        goto done;
    }
    if ((rc = take(out->account, sizeof(out->account), doc, "account", &has_acct)) < 0 ||
        (rc = take(out->user, sizeof(out->user), doc, "user", &has_user)) < 0 ||
        (rc = take(out->password, sizeof(out->password), doc, "password", &has_pw)) < 0 ||
        (rc = take(out->access_key_id, sizeof(out->access_key_id), doc, "accessKeyId", &has_akid)) < 0 ||
        (rc = take(out->secret, sizeof(out->secret), doc, "secretAccessKey", &has_secret)) < 0)
        goto done;
    if (has_akid || has_secret) {
        if (!has_akid || !has_secret || has_user || has_pw) {
            rc = error_set(E_INVALID, "a key pair sign-in takes accessKeyId and secretAccessKey only");
            goto done;
        }
        out->key_pair = true;
        goto done;
    }
    if (!has_acct || !has_user || !has_pw) {
        rc = error_set(E_INVALID, "a password sign-in takes account, user and password");
        goto done;
    }
    for (const char *p = out->account; *p; p++)
        if (*p < '0' || *p > '9' || strlen(out->account) != 12) {
            rc = error_set(E_INVALID, "the account is a 12-digit account id");
            goto done;
        }
done:
    json_decref(doc);
    if (rc < 0)
        console_signin_wipe(out);
    return rc;
}

void console_signin_wipe(struct signin_form *f)
{
    volatile unsigned char *p = (volatile unsigned char *)f;
    for (size_t i = 0; i < sizeof(*f); i++)
        p[i] = 0;
}

/* ---- failed sign-ins ---- */

struct strike {
    char key[152]; /* "u:user/<account>/<user name>" fits whole */
    int fails;
    int64_t since_ms;
};

static struct strike strikes[LIMIT_SLOTS];
static pthread_mutex_t strikes_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t key_hash(const char *z)
{
    uint32_t h = 2166136261u;
    for (; *z; z++)
        h = (h ^ (unsigned char)*z) * 16777619u;
    return h;
}

/* The slot that counts key: its own, else a free or stale one, else the
 * oldest of its probe run. Called with the lock held. */
static struct strike *strike_slot(const char *key, int64_t now_ms, bool create)
{
    uint32_t h = key_hash(key);
    struct strike *victim = NULL;
    bool victim_free = false;
    for (int i = 0; i < LIMIT_PROBE; i++) {
        struct strike *s = &strikes[(h + (uint32_t)i) % LIMIT_SLOTS];
        bool free_slot = !s->key[0] || now_ms - s->since_ms > LIMIT_WINDOW_MS;
        if (s->key[0] && strcmp(s->key, key) == 0) {
            if (now_ms - s->since_ms > LIMIT_WINDOW_MS) {
                s->fails = 0;
                s->since_ms = now_ms;
            }
            return s;
        }
        if (!victim || (free_slot && !victim_free) || (free_slot == victim_free && s->since_ms < victim->since_ms)) {
            victim = s;
            victim_free = free_slot;
        }
    }
    if (!create)
        return NULL;
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    victim->fails = 0;
    victim->since_ms = now_ms;
    return victim;
}

static int64_t wait_s(const struct strike *s, int limit, int64_t now_ms)
{
    if (!s || s->fails < limit)
        return 0;
    int64_t left = s->since_ms + LIMIT_WINDOW_MS - now_ms;
    return left > 0 ? (left + 999) / 1000 : 0;
}

bool console_signin_allowed(const char *user_key, const char *addr, int64_t now_ms, int64_t *retry_s)
{
    char k[220];
    pthread_mutex_lock(&strikes_lock);
    snprintf(k, sizeof(k), "u:%s", user_key);
    int64_t a = wait_s(strike_slot(k, now_ms, false), LIMIT_PER_USER, now_ms);
    snprintf(k, sizeof(k), "a:%s", addr);
    int64_t b = wait_s(strike_slot(k, now_ms, false), LIMIT_PER_ADDR, now_ms);
    pthread_mutex_unlock(&strikes_lock);
    *retry_s = a > b ? a : b;
    return *retry_s == 0;
}

void console_signin_failed(const char *user_key, const char *addr, int64_t now_ms)
{
    char k[220];
    pthread_mutex_lock(&strikes_lock);
    snprintf(k, sizeof(k), "u:%s", user_key);
    strike_slot(k, now_ms, true)->fails++;
    snprintf(k, sizeof(k), "a:%s", addr);
    strike_slot(k, now_ms, true)->fails++;
    pthread_mutex_unlock(&strikes_lock);
}

void console_signin_succeeded(const char *user_key)
{
    char k[220];
    pthread_mutex_lock(&strikes_lock);
    snprintf(k, sizeof(k), "u:%s", user_key);
    struct strike *s = strike_slot(k, 0, false);
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&strikes_lock);
}
