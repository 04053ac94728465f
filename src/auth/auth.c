/*
 * This module implements the authentication seam of auth.h: bootstrapping
 * the default account and its root key on the first start, identifying
 * /v2 callers, and answering authorization questions.
 */
#include "auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/basic.h"
#include "auth/keystore.h"
#include "auth/sigv4.h"
#include "auth/token.h"
#include "http/server.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "store/cache.h"

static const struct config *cfg;
static bool enabled = true;
static bool cache_on = true; /* --store-cache */
static char default_account[13];

bool auth_enabled(void)
{
    return enabled;
}

const char *auth_region(void)
{
    return cfg ? cfg->region : "us-east-1";
}

void auth_repo_arn(char *out, size_t size, const char *account, const char *name)
{
    snprintf(out, size, "arn:aws:ecr:%s:%s:repository/%s", auth_region(), account, name);
}

static void principal_root(struct principal *p, const char *account, const char *akid)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->account_id, sizeof(p->account_id), "%s", account);
    snprintf(p->arn, sizeof(p->arn), "arn:aws:iam::%s:root", account);
    snprintf(p->user_id, sizeof(p->user_id), "%s", account);
    snprintf(p->access_key_id, sizeof(p->access_key_id), "%s", akid ? akid : "");
    p->is_root = true;
}

void auth_anonymous(struct principal *out)
{
    principal_root(out, default_account, NULL);
    out->anonymous = true;
}

static bool account_id_valid(const char *z)
{
    if (strlen(z) != 12)
        return false;
    for (int i = 0; i < 12; i++)
        if (z[i] < '0' || z[i] > '9')
            return false;
    return true;
}

/* Writes <data>/credentials (0600) in the aws CLI's credentials format. */
static int write_credentials_file(const char *account, const char *akid, const char *secret)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/credentials", cfg->data_dir);
    snprintf(tmp, sizeof(tmp), "%s/credentials.tmp", cfg->data_dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return error_set(E_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "# berth root credentials for account %s, written once at the first start.\n"
            "# Use as an aws CLI profile: cat this >> ~/.aws/credentials, then --profile berth.\n"
            "[berth]\n"
            "aws_access_key_id = %s\n"
            "aws_secret_access_key = %s\n"
            "berth_account_id = %s\n",
            account, akid, secret, account);
    if (fflush(f) != 0 || fsync(fd) != 0) {
        fclose(f);
        return error_set(E_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
    }
    fclose(f);
    if (rename(tmp, path) != 0)
        return error_set(E_ERROR, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}

int auth_new_access_key(char akid[21], char secret[41])
{
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char mixed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memcpy(akid, "AKIA", 4);
    random_string(akid + 4, 16, upper);
    random_string(secret, 40, mixed);
    return 0;
}

int auth_store_key(const char *akid, const char *account, const char *user_name, const char *secret)
{
    char *sealed = NULL;
    int rc = keystore_seal_secret(secret, akid, &sealed);
    if (rc < 0)
        return rc;
    rc = store_access_key_put(akid, account, user_name, sealed);
    free(sealed);
    return rc;
}

static int bootstrap(void)
{
    const char *env_account = getenv("BERTH_ACCOUNT_ID");
    const char *env_akid = getenv("BERTH_ROOT_ACCESS_KEY_ID");
    const char *env_secret = getenv("BERTH_ROOT_SECRET_ACCESS_KEY");
    int rc;

    if (env_account && *env_account && !account_id_valid(env_account))
        return error_set(E_INVALID, "BERTH_ACCOUNT_ID must be 12 digits");
    if ((env_akid && *env_akid) != (env_secret && *env_secret))
        return error_set(E_INVALID, "BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY go together");
    if (env_akid && *env_akid && (strlen(env_akid) < 16 || strlen(env_akid) > 128 || strlen(env_secret) < 16 ||
                                  strlen(env_secret) > 128))
        return error_set(E_INVALID, "root access key id and secret must be 16 to 128 characters");

    if ((rc = store_account_default(default_account)) < 0 && rc != E_NOTFOUND)
        return rc;
    if (rc == 0) {
        /* not the first start: make sure keys given by the environment exist */
        const char *account = env_account && *env_account ? env_account : default_account;
        if ((rc = store_account_exists(account)) == E_NOTFOUND)
            rc = store_account_create(account);
        if (rc < 0)
            return rc;
        if (env_akid && *env_akid) {
            struct access_key k;
            if ((rc = store_access_key_get(env_akid, &k)) < 0 && rc != E_NOTFOUND)
                return rc;
            if (rc == 0) {
                bool same = strcmp(k.account_id, account) == 0 && k.user_name == NULL;
                char *secret = NULL;
                if (same && keystore_open_secret(k.secret_enc, k.id, &secret) == 0 && strcmp(secret, env_secret) != 0) {
                    /* the secret given now replaces the stored one */
                    store_access_key_delete(env_akid);
                    same = false;
                }
                free(secret);
                access_key_release(&k);
                if (same)
                    return 0;
            }
            return auth_store_key(env_akid, account, NULL, env_secret);
        }
        return 0;
    }

    char account[13], akid[21], secret[41];
    if (env_account && *env_account) {
        snprintf(account, sizeof(account), "%s", env_account);
    } else {
        random_string(account, 12, "0123456789");
        if (account[0] == '0')
            account[0] = '1';
    }
    if ((rc = store_account_create(account)) < 0)
        return rc;
    snprintf(default_account, sizeof(default_account), "%s", account);
    if (env_akid && *env_akid)
        return auth_store_key(env_akid, account, NULL, env_secret);

    auth_new_access_key(akid, secret);
    if ((rc = auth_store_key(akid, account, NULL, secret)) < 0)
        return rc;
    if ((rc = write_credentials_file(account, akid, secret)) < 0)
        return rc;
    /* printed once, to the terminal that started berth; never to the log */
    printf("berth: created account %s with a root access key.\n"
           "  aws_access_key_id     = %s\n"
           "  aws_secret_access_key = %s\n"
           "These are shown once and saved (mode 0600) in %s/credentials.\n",
           account, akid, secret, cfg->data_dir);
    fflush(stdout);
    return 0;
}

/* The database remembers which keys sealed it (their check value, recorded
 * at first start): a server whose key file differs would mint tokens the
 * others reject and could not open a stored secret, so it does not start. */
static int key_check(void)
{
    char want[65], *have = NULL;
    keystore_check_value(want);
    int rc = store_setting_add("server", "key_check", want);
    if (rc == 0)
        rc = store_setting_get("server", "key_check", &have);
    if (rc == 0 && strcmp(have, want) != 0)
        rc = error_set(E_DENIED, "this server's key file does not match the keys the database was sealed with "
                                 "(key check %.12s..., the database has %.12s...): give every server the same --key-file",
                       want, have);
    free(have);
    return rc;
}

int auth_init(const struct config *c)
{
    int rc;
    cfg = c;
    enabled = strcmp(c->auth, "none") != 0;
    cache_on = !c->store_cache || strcmp(c->store_cache, "off") != 0;
    if (store_is_shared() && !c->key_file[0])
        return error_set(E_INVALID, "a postgresql:// database needs --key-file (BERTH_KEY_FILE): every server of one "
                                    "registry must use the same keys, so they are not generated per server");
    if ((rc = keystore_open(c->data_dir, c->key_file)) < 0 || (rc = key_check()) < 0)
        return rc;
    if ((rc = bootstrap()) < 0)
        return rc;
    if (!enabled)
        log_warn("authentication is OFF (--auth none): every caller acts as the root of account %s", default_account);
    return 0;
}

void auth_shutdown(void)
{
    keystore_close();
}

/* The principal an access key acts as, its user read through the cache at
 * gen (0: from the database); E_ERROR when the store fails. */
static int principal_for_key(struct principal *p, const struct access_key *k, uint64_t gen)
{
    int rc;
    if (!k->user_name) {
        principal_root(p, k->account_id, k->id);
        p->cache_gen = gen;
        return 0;
    }
    struct iam_identity u;
    memset(p, 0, sizeof(*p));
    snprintf(p->account_id, sizeof(p->account_id), "%s", k->account_id);
    snprintf(p->user_name, sizeof(p->user_name), "%s", k->user_name);
    snprintf(p->access_key_id, sizeof(p->access_key_id), "%s", k->id);
    p->cache_gen = gen;
    /* the user's ARN carries its path; its id is what aws:userid means */
    if ((rc = store_cached_user_get(gen, k->account_id, k->user_name, &u)) == 0) {
        snprintf(p->arn, sizeof(p->arn), "%s", u.arn);
        snprintf(p->user_id, sizeof(p->user_id), "%s", u.id);
    } else if (rc == E_NOTFOUND) {
        snprintf(p->arn, sizeof(p->arn), "arn:aws:iam::%s:user/%s", k->account_id, k->user_name);
    } else {
        return rc;
    }
    return 0;
}

int auth_principal_for_key(struct principal *out, const struct access_key *k)
{
    return principal_for_key(out, k, 0);
}

/* The store's cache generation for a request being identified now: every
 * row that decides who it is and what it may do is then read through the
 * cache at this generation (store/cache.c says why that is exact). */
static int request_generation(uint64_t *out)
{
    if (!cache_on) {
        *out = 0; /* read every row from the database */
        return 0;
    }
    return store_cache_generation(out);
}

static int token_principal(const char *password, size_t len, struct principal *out)
{
    struct token t;
    struct access_key k;
    uint64_t gen;
    int rc = token_verify(&t, keystore_token_key(), (struct slice){password, len}, now_ms() / 1000);
    if (rc < 0)
        return error_set(E_UNAUTH, "authorization token is not valid or has expired: run aws ecr get-login-password again");
    if ((rc = request_generation(&gen)) < 0)
        return rc;
    /* a token lives only as long as the key that minted it is active */
    if ((rc = store_cached_access_key_get(gen, t.access_key_id, &k)) < 0 && rc != E_NOTFOUND)
        return rc;
    if (rc < 0)
        return error_set(E_UNAUTH, "authorization token belongs to a key that no longer exists");
    bool active = strcmp(k.status, "Active") == 0 && strcmp(k.account_id, t.account_id) == 0;
    if (active)
        rc = principal_for_key(out, &k, gen);
    access_key_release(&k);
    if (rc < 0)
        return rc;
    if (!active)
        return error_set(E_UNAUTH, "authorization token belongs to a key that is not active");
    if (strcmp(out->arn, t.principal_arn) != 0)
        return error_set(E_UNAUTH, "authorization token does not match its principal");
    return 0;
}

int auth_mint_registry_token(const struct principal *p, char **out, int64_t *expires_ms)
{
    struct token t;
    int rc = token_init(&t, p->account_id, p->arn, p->access_key_id, now_ms() / 1000);
    if (rc < 0)
        return rc;
    t.expires_at = t.issued_at + (cfg ? cfg->token_hours : 12) * 3600;
    *expires_ms = t.expires_at * 1000;
    return token_mint(out, keystore_token_key(), &t);
}

struct sig_headers {
    struct sigv4_header h[128];
    size_t n;
    struct sigv4_param q[128];
    size_t nq;
};

static int collect_header(void *ctx, const char *k, const char *v)
{
    struct sig_headers *s = ctx;
    if (s->n == sizeof(s->h) / sizeof(s->h[0]))
        return 1;
    s->h[s->n++] = (struct sigv4_header){slice_from(k), slice_from(v)};
    return 0;
}

static int collect_param(void *ctx, const char *k, const char *v)
{
    struct sig_headers *s = ctx;
    if (s->nq == sizeof(s->q) / sizeof(s->q[0]))
        return 1;
    s->q[s->nq++] = (struct sigv4_param){slice_from(k), slice_from(v)};
    return 0;
}

/* Set by secret_lookup() when the store did not answer (E_UNAVAILABLE). */
static _Thread_local bool lookup_unavailable;

/* The request's cache generation, read when its key is first looked up
 * (a request refused for its form reads nothing). */
struct request_gen {
    uint64_t gen;
    bool have;
};

static int request_gen_get(struct request_gen *g)
{
    int rc = 0;
    if (!g->have && (rc = request_generation(&g->gen)) == 0)
        g->have = true;
    return rc;
}

/* ctx: the request's struct request_gen. */
static int secret_lookup(void *ctx, struct slice akid, char *secret, size_t cap, size_t *len)
{
    char id[SIGV4_ACCESS_KEY_ID_MAX + 1];
    struct request_gen *g = ctx;
    struct access_key k;
    char *plain = NULL;
    if (akid.len >= sizeof(id))
        return E_NOTFOUND;
    memcpy(id, akid.base, akid.len);
    id[akid.len] = '\0';
    int rc = request_gen_get(g);
    if (rc == 0)
        rc = store_cached_access_key_get(g->gen, id, &k);
    lookup_unavailable = rc == E_UNAVAILABLE;
    if (rc < 0)
        return rc; /* E_NOTFOUND: an unknown key; anything else: a failure */
    rc = strcmp(k.status, "Active") == 0 ? keystore_open_secret(k.secret_enc, k.id, &plain) : E_NOTFOUND;
    access_key_release(&k);
    if (rc < 0)
        return rc;
    *len = strlen(plain);
    if (*len > cap)
        rc = E_TOOBIG;
    else
        memcpy(secret, plain, *len);
    memset(plain, 0, *len);
    free(plain);
    return rc;
}

/* Fills fail for a database that does not answer (rc E_UNAVAILABLE: a
 * retry later may work) or another failure of the store. */
static void store_failure(struct auth_failure *fail, int rc, int protocol)
{
    fail->type = sigv4_error_name(SIGV4_INTERNAL, (enum sigv4_protocol)protocol);
    fail->status = (unsigned)sigv4_error_status(SIGV4_INTERNAL, (enum sigv4_protocol)protocol);
    snprintf(fail->message, sizeof(fail->message), "An internal error occurred.");
    if (rc == E_UNAVAILABLE) {
        fail->type = protocol == SIGV4_JSON ? "ServiceUnavailableException" : "ServiceUnavailable";
        fail->status = 503;
        snprintf(fail->message, sizeof(fail->message), "%s", error_message());
    }
}

/* Runs sigv4_verify(), or sigv4_precheck() when payload_sha256 is NULL,
 * over what r carries, with the key read through the cache at the
 * request's generation (g); fills fail when the request is refused. */
static int check_sigv4(struct request *r, const char *payload_sha256, const char *const *services, int protocol,
                       struct sigv4_result *res, struct auth_failure *fail, struct request_gen *g)
{
    int rc;
    struct sig_headers *sh = xcalloc(1, sizeof(*sh));
    /* IAM and STS (the Query services) are global: a client configured for
     * any region signs them with that region's scope, and they must work */
    struct sigv4_verifier v = {.region = auth_region(),
                               .any_region = protocol == SIGV4_QUERY,
                               .services = services,
                               .secret = secret_lookup,
                               .ctx = g};
    http_header_each(r, collect_header, sh);
    http_query_each(r, collect_param, sh);
    struct sigv4_request req = {
        .method = slice_from(r->method),
        .path = slice_from(r->path),
        .params = sh->q,
        .nparams = sh->nq,
        .headers = sh->h,
        .nheaders = sh->n,
        .payload_sha256 = slice_from(payload_sha256 ? payload_sha256 : ""),
    };
    lookup_unavailable = false;
    rc = payload_sha256 ? sigv4_verify(res, &v, &req, now_ms() / 1000) : sigv4_precheck(res, &v, &req, now_ms() / 1000);
    free(sh);
    if (rc < 0 && lookup_unavailable) {
        /* the database does not answer: a retry later may work */
        fail->type = protocol == SIGV4_JSON ? "ServiceUnavailableException" : "ServiceUnavailable";
        fail->status = 503;
        snprintf(fail->message, sizeof(fail->message), "the database does not answer now; try again later");
        return E_UNAVAILABLE;
    }
    if (rc < 0) {
        fail->type = sigv4_error_name(res->error, (enum sigv4_protocol)protocol);
        fail->status = (unsigned)sigv4_error_status(res->error, (enum sigv4_protocol)protocol);
        snprintf(fail->message, sizeof(fail->message), "%s", sigv4_error_message(res, (enum sigv4_protocol)protocol));
        return E_UNAUTH;
    }
    return 0;
}

int auth_precheck_sigv4(struct request *r, const char *const *services, int protocol, struct auth_failure *fail)
{
    struct sigv4_result res;
    struct request_gen g = {0};
    int rc = check_sigv4(r, NULL, services, protocol, &res, fail, &g);
    if (rc == 0 && g.have && g.gen)
        r->auth_generation = g.gen;
    return rc;
}

int auth_identify_sigv4(struct request *r, const char *payload_sha256, const char *const *services, int protocol,
                        struct principal *out, struct auth_failure *fail)
{
    struct sigv4_result res;
    /* the precheck's generation: one read of it per request (a round trip
     * on PostgreSQL), and one state the request is judged by */
    struct request_gen g = {r->auth_generation, r->auth_generation != 0};
    int rc;
    if (check_sigv4(r, payload_sha256, services, protocol, &res, fail, &g) < 0)
        return E_UNAUTH;
    struct access_key k;
    if ((rc = request_gen_get(&g)) == 0 &&
        (rc = store_cached_access_key_get(g.gen, res.access_key_id, &k)) == E_NOTFOUND) {
        fail->type = sigv4_error_name(SIGV4_UNKNOWN_KEY, (enum sigv4_protocol)protocol);
        fail->status = (unsigned)sigv4_error_status(SIGV4_UNKNOWN_KEY, (enum sigv4_protocol)protocol);
        snprintf(fail->message, sizeof(fail->message), "The security token included in the request is invalid.");
        return E_UNAUTH;
    }
    if (rc == 0) {
        rc = principal_for_key(out, &k, g.gen);
        access_key_release(&k);
    }
    if (rc < 0) {
        log_error("identifying %s: %s", res.access_key_id, error_message());
        store_failure(fail, rc, protocol);
        return rc;
    }
    return 0;
}

/*
 * The MAC of a presigned blob URL. It covers the method class (a URL is
 * for reading: GET and HEAD share one class), the key, the account, the
 * repository, the digest and the expiry. Each field is length-prefixed so
 * that no two field lists give the same message. Returns false when the
 * fields are too long to sign.
 */
static bool presign_mac(char hex[65], const char *akid, const char *account, const char *name, const char *digest,
                        int64_t expires_s)
{
    char msg[1024];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int len = snprintf(msg, sizeof(msg), "berth-blob-v2\nGET\n%zu:%s\n%zu:%s\n%zu:%s\n%zu:%s\n%lld", strlen(akid), akid,
                       strlen(account), account, strlen(name), name, strlen(digest), digest, (long long)expires_s);
    if (len < 0 || (size_t)len >= sizeof(msg))
        return false;
    HMAC(EVP_sha256(), keystore_token_key(), 32, (const unsigned char *)msg, (size_t)len, md, &n);
    hex_encode(hex, md, 32);
    return true;
}

void auth_presign_blob(char *out, size_t size, const struct principal *p, const char *account, const char *name,
                       const char *digest, int64_t expires_s)
{
    char hex[65];
    if (!presign_mac(hex, p->access_key_id, account, name, digest, expires_s))
        hex[0] = '\0'; /* unreachable for valid names; an empty signature never verifies */
    snprintf(out, size, "X-Berth-Account=%s&X-Berth-Credential=%s&X-Berth-Expires=%lld&X-Berth-Signature=%s", account,
             p->access_key_id, (long long)expires_s, hex);
}

int auth_presign_verify(const char *method, const char *akid, const char *expires, const char *sig, const char *account,
                        const char *name, const char *digest, int64_t now_s)
{
    uint64_t exp;
    char hex[65];
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return error_set(E_UNAUTH, "a presigned URL is good for GET and HEAD only, not %s", method);
    if (!akid || !expires || !sig || strlen(akid) > 128 || parse_u64(slice_from(expires), INT64_MAX, &exp) < 0)
        return error_set(E_UNAUTH, "malformed presigned URL");
    if (!presign_mac(hex, akid, account, name, digest, (int64_t)exp) || !secure_equal(hex, 64, sig, strlen(sig)))
        return error_set(E_UNAUTH, "presigned URL signature does not match");
    if ((int64_t)exp < now_s)
        return error_set(E_UNAUTH, "presigned URL has expired");
    return 0;
}

int auth_identify_presigned(struct request *r, const char *account, const char *name, const char *digest,
                            struct principal *out)
{
    const char *akid = http_query(r, "X-Berth-Credential");
    struct access_key k;
    uint64_t gen;
    int rc = auth_presign_verify(r->method, akid, http_query(r, "X-Berth-Expires"), http_query(r, "X-Berth-Signature"),
                                 account, name, digest, now_ms() / 1000);
    if (rc < 0 || (rc = request_generation(&gen)) < 0)
        return rc;
    if ((rc = store_cached_access_key_get(gen, akid, &k)) < 0)
        return rc == E_NOTFOUND ? error_set(E_UNAUTH, "presigned URL belongs to a key that no longer exists") : rc;
    bool active = strcmp(k.status, "Active") == 0;
    if (active)
        rc = principal_for_key(out, &k, gen);
    access_key_release(&k);
    if (rc < 0)
        return rc;
    return active ? 0 : error_set(E_UNAUTH, "presigned URL belongs to a key that is not active");
}

int auth_identify_registry(const char *authorization, struct principal *out)
{
    struct basic_credentials b;
    int rc = basic_parse(&b, slice_from(authorization ? authorization : ""));
    if (rc < 0)
        return rc;
    if (slice_eq(b.user, "AWS"))
        rc = token_principal(b.password.base, b.password.len, out);
    else
        rc = error_set(E_UNAUTH, "log in as user AWS with the password from aws ecr get-login-password");
    basic_release(&b);
    return rc;
}
