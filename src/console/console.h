/*
 * The web console at /console/: static pages built into the binary and a
 * small API beside them (/console/api/...) that signs users in and passes
 * their calls, as the session's principal, to the very ECR and IAM
 * dispatchers that signed calls go through (ecr_serve_as, iam_serve_as),
 * so the policy evaluator decides for the console exactly as for the CLI.
 */
#ifndef BERTH_CONSOLE_CONSOLE_H
#define BERTH_CONSOLE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "http/server.h"

extern const struct surface console_surface;
void console_configure(const struct config *c);

/* ---- session.c: the parsers of what a browser sends, and the limits ---- */

#define CONSOLE_COOKIE "berth_console"
#define CONSOLE_SESSION_ID_LEN 64 /* hex of 32 random bytes */

/* The session id in a Cookie header, or E_NOTFOUND (several cookies,
 * quoted values and junk are tolerated; an id not of the right form is
 * no id). */
int console_cookie_session(char out[CONSOLE_SESSION_ID_LEN + 1], const char *cookie_header);

/* A sign-in request: JSON {"account","user","password"} for an IAM user
 * (account: the 12-digit id or the account's alias, lower-cased), or
 * {"accessKeyId","secretAccessKey"} for a key pair (the root's). */
struct signin_form {
    bool key_pair;
    char account[64];
    char user[129];
    char password[129];
    char access_key_id[32];
    char secret[64];
};
/* E_INVALID with the reason when body is not one of the two forms. */
int console_signin_parse(struct signin_form *out, const char *body, size_t n);
void console_signin_wipe(struct signin_form *f);

#endif
