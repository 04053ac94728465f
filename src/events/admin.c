/*
 * This module implements `berth admin webhook ...` (events.h):
 *
 *   webhook add URL [--secret S|-] [--filter F] prints the new id (and the
 *                                               secret when berth made it)
 *   webhook list                                id, URL, filter, created
 *   webhook remove ID                           with its deliveries
 *   webhook deliveries [--webhook ID] [--state pending|delivered|failed]
 *
 * The secret is stored sealed (auth/keystore.h, bound to the webhook's id)
 * and printed by no command after `add`, which prints it only when it
 * generated it. A command line is readable by every local user (ps,
 * /proc/PID/cmdline): `--secret -` reads the secret from standard input
 * instead, and a secret given on the command line is overwritten there as
 * soon as it is copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/keystore.h"
#include "core/error.h"
#include "core/util.h"
#include "events/events.h"
#include "store/events.h"

#define URL_MAX 2048
#define SECRET_MIN 16
#define DELIVERIES_SHOWN 10000

static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 4; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

/* The word after the subcommand, when it is not an option. */
static const char *operand(int argc, char **argv)
{
    return argc > 4 && argv[4][0] != '-' ? argv[4] : NULL;
}

static void iso(char out[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0)
        snprintf(out, 32, "-");
    else
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

static int fail(const char *what)
{
    fprintf(stderr, "berth: %s%s%s\n", what, *what ? ": " : "", error_message());
    return 1;
}

/* The secret of `--secret -`: one line of standard input, without its
 * line end, into out (cap bytes); -1 when it does not fit. */
static int read_secret(char *out, size_t cap)
{
    if (!fgets(out, (int)cap, stdin))
        return -1;
    size_t n = strlen(out);
    bool whole = n && out[n - 1] == '\n';
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    if (!whole && !feof(stdin)) {
        OPENSSL_cleanse(out, cap);
        return -1;
    }
    return 0;
}

static int add(int argc, char **argv)
{
    const char *url = operand(argc, argv), *given = opt(argc, argv, "--secret"), *filter = opt(argc, argv, "--filter");
    char secret[65], from_stdin[sizeof(secret) + 1], *sealed = NULL;
    struct webhook w = {0};
    if (!url) {
        fprintf(stderr, "berth: usage: berth admin webhook add URL [--secret S|-] [--filter F]\n");
        return 2;
    }
    if ((strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) || strlen(url) > URL_MAX) {
        fprintf(stderr, "berth: the webhook URL must be http:// or https:// and at most %d characters\n", URL_MAX);
        return 2;
    }
    if (filter && events_filter_check(filter) < 0)
        return fail("--filter");
    if (given) {
        bool bad = false;
        if (given[0] == '-' && !given[1]) {
            bad = read_secret(from_stdin, sizeof(from_stdin)) < 0;
        } else {
            /* off the command line, which other local users can read */
            char *z = (char *)given;
            size_t n = strlen(z);
            memcpy(from_stdin, z, n < sizeof(from_stdin) ? n + 1 : sizeof(from_stdin));
            from_stdin[sizeof(from_stdin) - 1] = '\0';
            memset(z, 'x', n);
        }
        size_t n = bad ? 0 : strlen(from_stdin);
        if (!bad && n >= SECRET_MIN && n < sizeof(secret))
            memcpy(secret, from_stdin, n + 1);
        else
            bad = true;
        OPENSSL_cleanse(from_stdin, sizeof(from_stdin));
        if (bad) {
            fprintf(stderr, "berth: --secret must be %d to %zu characters (--secret -: on one line of standard input)\n",
                    SECRET_MIN, sizeof(secret) - 1);
            return 2;
        }
    } else {
        random_string(secret, 40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    }
    memcpy(w.id, "wh-", 3);
    random_string(w.id + 3, 12, "abcdefghijklmnopqrstuvwxyz0123456789");
    int rc = keystore_seal_secret(secret, w.id, &sealed);
    if (rc == 0) {
        w.url = (char *)url;
        w.secret_enc = sealed;
        w.filter = (char *)(filter ? filter : "");
        w.created_ms = now_ms();
        rc = store_webhook_put(&w);
    }
    if (rc < 0) {
        OPENSSL_cleanse(secret, sizeof(secret));
        free(sealed);
        return fail("webhook add");
    }
    printf("%s\n", w.id);
    if (!given)
        printf("secret: %s\n", secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    free(sealed);
    return 0;
}

static int print_webhook(void *ctx, const struct webhook *w)
{
    (void)ctx;
    char when[32];
    iso(when, w->created_ms);
    printf("%s\t%s\t%s\t%s\n", w->id, w->url, w->filter[0] ? w->filter : "-", when);
    return 0;
}

static int print_delivery(void *ctx, const struct delivery *d)
{
    (void)ctx;
    char next[32], done[32];
    iso(next, d->next_attempt);
    iso(done, d->finished_at);
    bool pending = strcmp(d->state, "pending") == 0;
    printf("%lld\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", (long long)d->id, d->webhook_id, d->event_id, d->detail_type,
           d->stream, d->state, d->attempts, d->last_status, pending ? next : "-", done,
           d->last_error ? d->last_error : "-");
    return 0;
}

int events_admin(int argc, char **argv)
{
    const char *sub = argc > 3 ? argv[3] : "";
    if (strcmp(sub, "add") == 0)
        return add(argc, argv);
    if (strcmp(sub, "list") == 0) {
        printf("ID\tURL\tFILTER\tCREATED\n");
        return store_webhooks_each(print_webhook, NULL) < 0 ? fail("webhook list") : 0;
    }
    if (strcmp(sub, "remove") == 0) {
        const char *id = operand(argc, argv);
        if (!id) {
            fprintf(stderr, "berth: usage: berth admin webhook remove ID\n");
            return 2;
        }
        if (store_webhook_delete(id) < 0)
            return fail("");
        printf("removed %s\n", id);
        return 0;
    }
    if (strcmp(sub, "deliveries") == 0) {
        const char *state = opt(argc, argv, "--state");
        if (state && strcmp(state, "pending") != 0 && strcmp(state, "delivered") != 0 && strcmp(state, "failed") != 0) {
            fprintf(stderr, "berth: --state is pending, delivered or failed\n");
            return 2;
        }
        printf("ID\tWEBHOOK\tEVENT\tDETAIL-TYPE\tSTREAM\tSTATE\tATTEMPTS\tLAST-STATUS\tNEXT-ATTEMPT\tFINISHED\tLAST-ERROR\n");
        return store_deliveries_each(opt(argc, argv, "--webhook"), state, DELIVERIES_SHOWN, print_delivery, NULL) < 0
                   ? fail("webhook deliveries")
                   : 0;
    }
    fprintf(stderr, "berth: usage: berth admin webhook add URL [--secret S|-] [--filter F] | list | remove ID |\n"
                    "       deliveries [--webhook ID] [--state pending|delivered|failed]\n");
    return 2;
}
