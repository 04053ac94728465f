/*
 * This module implements the console surface of console.h. It claims every
 * path under /console. GETs of /console/ and its files are answered from
 * the assets built into the binary (assets.c); /console/api/ is a route
 * table:
 *   GET  session   who is signed in, and the CSRF token (the page keeps it
 *                  in memory only)
 *   POST signin    IAM user + password, or an access key pair (the root's)
 *   POST signout   ends the session on the server
 *   POST ecr       an ECR operation (X-Amz-Target, JSON body) as the
 *                  session's principal, through ecr_serve_as()
 *   POST iam       an IAM operation (Query form body), through iam_serve_as()
 *   POST cloudtrail a CloudTrail operation (LookupEvents: the Lifecycle
 *                  Policy tab's events history), through
 *                  cloudtrail_serve_as()
 *   POST layer     GetDownloadUrlForLayer (X-Amz-Target, JSON body)
 *                  answered with the layer's bytes, up to LAYER_MAX,
 *                  through ecr_serve_layer_as(): an image's config, which
 *                  the page cannot fetch from an object store's URL
 * Every state-changing route needs the session's CSRF token in
 * X-Berth-Csrf and, when the browser says where the request comes from
 * (Origin, Sec-Fetch-Site), that it comes from this console's origin.
 * The session cookie is HttpOnly, SameSite=Strict, Path=/console, Secure
 * under TLS; the session lives 12 hours at most.
 */
#include "console/console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/signin.h"
#include "cloudtrail/cloudtrail.h"
#include "console/assets.h"
#include "core/alloc.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "ecr/ecr.h"
#include "iam/iam.h"
#include "iam/query.h"
#include "store/console.h"

#define SESSION_MS (12LL * 3600 * 1000)
#define API_BODY_MAX (1u << 20)
#define SIGNIN_MAX 4096
/* An image config is a few KiB; a long history makes it some hundreds */
#define LAYER_MAX (4u << 20)
#define CSRF_HEADER "X-Berth-Csrf"
#define BAD_CREDENTIALS "Your authentication information is incorrect. Please try again."

/* No inline script or style, nothing from elsewhere, never in a frame. */
#define CSP                                                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "                \
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

static const struct config *cfg;

void console_configure(const struct config *c)
{
    cfg = c;
}

struct console_req {
    const struct console_route *route;
    struct console_session s;
    struct principal who;
};

struct console_route {
    const char *method;
    const char *name; /* after /console/api/ */
    void (*finish)(struct request *r, struct console_req *q);
    bool session; /* needs a signed-in session */
    bool writes;  /* changes state: CSRF token and origin checked */
    size_t body_max;
};

static bool console_claims(struct request *r)
{
    return strcmp(r->path, "/console") == 0 || strncmp(r->path, "/console/", 9) == 0;
}

/* The headers every console answer carries. */
static void harden(struct request *r, const char *cache)
{
    http_set_header(r, "Content-Security-Policy", CSP);
    http_set_header(r, "X-Frame-Options", "DENY");
    http_set_header(r, "X-Content-Type-Options", "nosniff");
    http_set_header(r, "Referrer-Policy", "same-origin");
    http_set_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    http_set_header(r, "Cache-Control", cache);
}

static void send_json(struct request *r, unsigned status, json_t *doc)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    http_respond(r, status, "application/json", body, strlen(body));
    harden(r, "no-store");
    free(body);
}

/* An error as the control plane words its own: {"__type","message"}. */
static void send_error(struct request *r, unsigned status, const char *type, const char *message)
{
    json_t *doc = json_pack("{s:s,s:s}", "__type", type, "message", message);
    send_json(r, status, doc);
    http_set_header(r, "x-amzn-ErrorType", type);
    json_decref(doc);
}

static void session_cookie(struct request *r, const char *sid, int64_t max_age_s)
{
    char c[300];
    snprintf(c, sizeof(c), "%s=%s; Path=/console; Max-Age=%lld; HttpOnly; SameSite=Strict%s", CONSOLE_COOKIE, sid,
             (long long)max_age_s, r->secure ? "; Secure" : "");
    http_set_header(r, "Set-Cookie", c);
}

static void sid_hash(char out[DIGEST_MAX], const char *sid)
{
    digest_sha256(out, sid, strlen(sid));
}

/* ---- static files ---- */

static void serve_asset(struct request *r)
{
    const char *name = strcmp(r->path, "/console/") == 0 ? "index.html" : r->path + strlen("/console/");
    const struct console_asset *a = console_asset_find(name);
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        http_respond(r, 405, "text/plain", "method not allowed\n", 19);
        http_set_header(r, "Allow", "GET, HEAD");
        harden(r, "no-store");
        return;
    }
    if (!a) {
        http_respond(r, 404, "text/plain", "not found\n", 10);
        harden(r, "no-store");
        return;
    }
    const char *inm = http_header(r, "If-None-Match");
    if (inm && strcmp(inm, a->etag) == 0)
        http_respond_empty(r, 304);
    else
        http_respond(r, 200, a->content_type, a->data, a->size);
    http_set_header(r, "ETag", a->etag);
    /* revalidated on every load, so an upgraded berth serves its own pages at once */
    harden(r, "no-cache");
}

/* ---- the API ---- */

static json_t *session_doc(const struct console_session *s, const struct principal *who)
{
    return json_pack("{s:s,s:s,s:s,s:b,s:s,s:I,s:s,s:b,s:s}", "account", who->account_id, "arn", who->arn, "userName",
                     who->user_name, "root", who->is_root, "csrf", s->csrf, "expiresAt", (json_int_t)s->expires_ms, "region",
                     auth_region(), "mustChangePassword", s->must_change_password, "signedInWith",
                     s->access_key_id[0] ? "accessKey" : "password");
}

static void api_session(struct request *r, struct console_req *q)
{
    json_t *doc = session_doc(&q->s, &q->who);
    send_json(r, 200, doc);
    json_decref(doc);
}

/* When the account's password policy makes passwords expire: whether
 * user's has (set more than MaxPasswordAge days ago), and whether it may
 * still be changed (HardExpiry: no). */
struct expiry {
    int64_t set_ms;
};

static int newest(void *ctx, const char *hash, int64_t set_ms)
{
    (void)hash;
    ((struct expiry *)ctx)->set_ms = set_ms;
    return 1;
}

static int password_expired(bool *expired, bool *hard, const char *account, const char *user, int64_t now)
{
    struct password_policy p;
    struct login_profile lp;
    struct expiry e = {0};
    *expired = *hard = false;
    int rc = store_password_policy_get(account, &p);
    if (rc == E_NOTFOUND || (rc == 0 && p.max_age_days <= 0))
        return 0;
    if (rc == 0)
        rc = store_password_history(account, user, 1, newest, &e);
    if (rc == 0 && !e.set_ms && (rc = store_login_profile_get(account, user, &lp)) == 0)
        e.set_ms = lp.created_ms; /* set before berth kept a history */
    if (rc < 0)
        return rc;
    *expired = now - e.set_ms > p.max_age_days * 86400000LL;
    *hard = p.hard_expiry;
    return 0;
}

static void api_signin(struct request *r, struct console_req *q)
{
    struct signin_form f;
    struct principal who;
    struct console_session s;
    char key[SIGNIN_KEY_MAX], sid[CONSOLE_SESSION_ID_LEN + 1], msg[200], account[13] = "";
    unsigned char raw[32], csrf_raw[16];
    bool reset = false, expired = false, hard = false;
    int64_t now = now_ms(), retry;
    int rc;

    if (r->body_error || console_signin_parse(&f, r->body.ptr, r->body.len) < 0) {
        send_error(r, 400, "InvalidParameterException", r->body_error ? "the sign-in request is too long" : error_message());
        return;
    }
    /* an account alias stands for its account; one no account has signs in no one */
    if (!f.key_pair && strlen(f.account) == 12 && strspn(f.account, "0123456789") == 12) {
        snprintf(account, sizeof(account), "%.12s", f.account);
    } else if (!f.key_pair) {
        if ((rc = store_account_by_alias(f.account, account)) < 0 && rc != E_NOTFOUND)
            goto failed;
    }
    if (f.key_pair) {
        snprintf(key, sizeof(key), "key/%s", f.access_key_id);
        for (char *p = key; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    } else {
        signin_user_key(key, sizeof(key), account[0] ? account : f.account, f.user);
    }
    if ((rc = signin_limit_wait(key, r->client_ip, now, &retry)) < 0)
        goto failed;
    if (retry > 0) {
        snprintf(msg, sizeof(msg), "Too many failed sign-in attempts. Try again in %lld minutes.",
                 (long long)((retry + 59) / 60));
        send_error(r, 429, "ThrottlingException", msg);
        goto done;
    }
    if (!auth_enabled()) {
        auth_anonymous(&who);
        rc = 0;
    } else if (f.key_pair) {
        rc = signin_key_pair(&who, f.access_key_id, f.secret);
    } else {
        /* no account: still hashes, so an unknown alias takes as long */
        rc = signin_password(&who, &reset, account, f.user, f.password);
        if (rc == 0 && (rc = password_expired(&expired, &hard, account, who.user_name, now)) < 0)
            goto failed;
        if (expired && hard) {
            send_error(r, 401, "PasswordExpired",
                       "Your password has expired and the account's policy does not let you change it. Ask an administrator "
                       "to reset it.");
            goto done;
        }
        reset |= expired;
    }
    if (rc == E_UNAUTH) {
        log_info("console sign-in refused: %s", error_message());
        if ((rc = signin_limit_failed(key, r->client_ip, now)) < 0)
            goto failed;
        send_error(r, 401, "UnrecognizedClientException", BAD_CREDENTIALS);
        goto done;
    }
    if (rc < 0 || (rc = signin_limit_succeeded(key)) < 0)
        goto failed;

    memset(&s, 0, sizeof(s));
    random_bytes(raw, sizeof(raw));
    hex_encode(sid, raw, sizeof(raw));
    random_bytes(csrf_raw, sizeof(csrf_raw));
    hex_encode(s.csrf, csrf_raw, sizeof(csrf_raw));
    sid_hash(s.id_hash, sid);
    snprintf(s.account_id, sizeof(s.account_id), "%s", who.account_id);
    snprintf(s.principal_arn, sizeof(s.principal_arn), "%s", who.arn);
    snprintf(s.access_key_id, sizeof(s.access_key_id), "%s", f.key_pair && auth_enabled() ? f.access_key_id : "");
    s.must_change_password = reset;
    s.created_ms = now;
    s.expires_ms = now + SESSION_MS;
    if ((rc = store_console_sessions_expire(now)) < 0 || (rc = store_console_session_put(&s)) < 0)
        goto failed;
    snprintf(r->principal, sizeof(r->principal), "%s", who.arn);
    json_t *doc = session_doc(&s, &who);
    send_json(r, 200, doc);
    json_decref(doc);
    session_cookie(r, sid, SESSION_MS / 1000);
    goto done;
failed:
    log_error("console sign-in: %s", error_message());
    send_error(r, 500, "ServerException", "an internal error occurred");
done:
    memset(raw, 0, sizeof(raw));
    memset(sid, 0, sizeof(sid));
    console_signin_wipe(&f);
    (void)q;
}

static void api_signout(struct request *r, struct console_req *q)
{
    if (store_console_session_delete(q->s.id_hash) < 0) {
        log_error("console sign-out: %s", error_message());
        send_error(r, 500, "ServerException", "an internal error occurred");
        return;
    }
    json_t *doc = json_pack("{s:b}", "signedOut", 1);
    send_json(r, 200, doc);
    json_decref(doc);
    session_cookie(r, "", 0);
}

static bool must_change_password(struct request *r, struct console_req *q)
{
    if (!q->s.must_change_password)
        return false;
    send_error(r, 403, "PasswordResetRequired", "You must change your password before you can use the console.");
    return true;
}

/* An AWS JSON 1.1 call (ECR, CloudTrail) handed to its surface's dispatcher. */
static void api_json(struct request *r, struct console_req *q, void (*serve_as)(struct request *, const struct principal *))
{
    if (r->body_error) {
        send_error(r, 413, "SerializationException", "the request body is larger than the console accepts");
        return;
    }
    if (must_change_password(r, q))
        return;
    serve_as(r, &q->who);
    harden(r, "no-store");
}

static void api_ecr(struct request *r, struct console_req *q)
{
    api_json(r, q, ecr_serve_as);
}

static void api_iam(struct request *r, struct console_req *q)
{
    struct query_form form;
    if (r->body_error) {
        send_error(r, 413, "RequestEntityTooLarge", "the request body is larger than the console accepts");
        return;
    }
    /* a session that must change its password may do only that: the
     * Action the dispatcher will run (the form's last) is ChangePassword */
    memset(&form, 0, sizeof(form));
    const char *action = query_form_parse(&form, r->body.ptr, r->body.len) == 0 ? query_form_get(&form, "Action") : NULL;
    bool changing = action && strcmp(action, "ChangePassword") == 0;
    query_form_release(&form);
    if (!changing && must_change_password(r, q))
        return;
    iam_serve_as(r, &q->who);
    if (changing && r->status == 200 && q->s.must_change_password)
        (void)store_console_session_password_changed(q->s.id_hash);
    harden(r, "no-store");
}

static void api_cloudtrail(struct request *r, struct console_req *q)
{
    api_json(r, q, cloudtrail_serve_as);
}

static void serve_layer(struct request *r, const struct principal *who)
{
    ecr_serve_layer_as(r, who, LAYER_MAX);
}

static void api_layer(struct request *r, struct console_req *q)
{
    api_json(r, q, serve_layer);
}

static const struct console_route routes[] = {
    {"GET", "session", api_session, true, false, 0},
    {"POST", "signin", api_signin, false, false, SIGNIN_MAX},
    {"POST", "signout", api_signout, true, true, 0},
    {"POST", "ecr", api_ecr, true, true, API_BODY_MAX},
    {"POST", "iam", api_iam, true, true, API_BODY_MAX},
    {"POST", "cloudtrail", api_cloudtrail, true, true, API_BODY_MAX},
    {"POST", "layer", api_layer, true, true, API_BODY_MAX},
};

/* Whether the browser says the request comes from elsewhere: an Origin
 * that is not this console's, or Sec-Fetch-Site other than same-origin. */
static bool foreign_origin(struct request *r)
{
    const char *origin = http_header(r, "Origin"), *host = http_header(r, "Host");
    const char *site = http_header(r, "Sec-Fetch-Site");
    char mine[400];
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return true;
    if (!origin)
        return false;
    snprintf(mine, sizeof(mine), "%s://%s", r->secure ? "https" : "http", host ? host : "");
    return strcasecmp(origin, mine) != 0;
}

/* Loads the session of the cookie and its principal; answers r and
 * returns -1 when there is none. */
static int load_session(struct request *r, struct console_req *q)
{
    char sid[CONSOLE_SESSION_ID_LEN + 1], hash[DIGEST_MAX];
    int rc = console_cookie_session(sid, http_header(r, "Cookie"));
    if (rc == 0) {
        sid_hash(hash, sid);
        rc = store_console_session_get(hash, now_ms(), &q->s);
    }
    if (rc == 0 && !auth_enabled())
        auth_anonymous(&q->who);
    else if (rc == 0 && (rc = auth_principal_from_arn(&q->who, q->s.principal_arn)) == 0 && q->s.access_key_id[0] &&
             (rc = signin_key_active(q->s.access_key_id, q->s.principal_arn)) == 0)
        snprintf(q->who.access_key_id, sizeof(q->who.access_key_id), "%s", q->s.access_key_id);
    if (rc == E_NOTFOUND || rc == E_UNAUTH || rc == E_INVALID) {
        send_error(r, 401, "NotSignedIn", "Your console session has ended. Sign in again.");
        return -1;
    }
    if (rc < 0) {
        log_error("console session: %s", error_message());
        send_error(r, 500, "ServerException", "an internal error occurred");
        return -1;
    }
    snprintf(r->principal, sizeof(r->principal), "%s", q->who.arn);
    return 0;
}

static void state_free(void *p)
{
    free(p);
}

static void console_begin(struct request *r)
{
    static const char api[] = "/console/api/";
    if (strcmp(r->path, "/console") == 0) {
        http_respond_empty(r, 301);
        http_set_header(r, "Location", "/console/");
        harden(r, "no-store");
        return;
    }
    if (strncmp(r->path, api, sizeof(api) - 1) != 0) {
        r->route = "console-asset";
        serve_asset(r);
        return;
    }
    const char *name = r->path + sizeof(api) - 1;
    const struct console_route *rt = NULL;
    bool known = false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].name, name) != 0)
            continue;
        known = true;
        if (strcmp(routes[i].method, r->method) == 0)
            rt = &routes[i];
    }
    if (!rt) {
        send_error(r, known ? 405 : 404, "UnknownOperationException", known ? "method not allowed" : "no such console API");
        return;
    }
    r->route = "console-api";
    snprintf(r->operation, sizeof(r->operation), "console:%s", rt->name);
    struct console_req *q = xcalloc(1, sizeof(*q));
    q->route = rt;
    r->state = q;
    r->state_free = state_free;
    if ((rt->writes || strcmp(rt->name, "signin") == 0) && foreign_origin(r)) {
        send_error(r, 403, "InvalidOrigin", "The request does not come from this console.");
        return;
    }
    if (rt->session && load_session(r, q) < 0)
        return;
    if (rt->writes) {
        const char *token = http_header(r, CSRF_HEADER);
        if (!token || !secure_equal(token, strlen(token), q->s.csrf, strlen(q->s.csrf))) {
            send_error(r, 403, "InvalidCsrfToken", "The request is missing this session's CSRF token.");
            return;
        }
    }
    if (rt->body_max) {
        r->body_mode = BODY_BUFFER;
        r->body.max = rt->body_max;
    }
}

static void console_run(struct request *r)
{
    struct console_req *q = r->state;
    if (r->body_error == E_BUSY) {
        send_error(r, 503, "ServiceUnavailableException", error_message());
        return;
    }
    q->route->finish(r, q);
}

/* A POST (signing in or out, a change, or a call of the APIs, which may
 * write) runs on a defer thread, where a wait for a lock holds up no one. */
static void console_finish(struct request *r)
{
    if (r->body_error || strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
        console_run(r);
    else
        http_defer(r, console_run);
}

const struct surface console_surface = {
    .name = "console",
    .claims = console_claims,
    .begin = console_begin,
    .finish = console_finish,
    .abort = NULL,
};
