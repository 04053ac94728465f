/*
 * Error codes and the thread-local error detail (after libgit2's errors.c).
 *
 * Functions return 0 on success and one of the negative codes below on
 * failure. The code is what callers branch on; the human-readable detail is
 * set once, where the failure is found, with error_set(), and read at the
 * protocol edge with error_message(). Only registry/, ecr/ and iam/ turn a
 * code into an HTTP status and a protocol error body.
 */
#ifndef BERTH_CORE_ERROR_H
#define BERTH_CORE_ERROR_H

enum {
    E_OK = 0,
    E_ERROR = -1,       /* unexpected: I/O, database, internal */
    E_NOTFOUND = -2,    /* the named thing does not exist */
    E_EXISTS = -3,      /* the thing already exists */
    E_INVALID = -4,     /* the input is malformed */
    E_DENIED = -5,      /* authenticated, but not allowed */
    E_TOOBIG = -6,      /* a size or count limit was exceeded */
    E_UNAUTH = -7,      /* no or bad credentials */
    E_RANGE = -8,       /* a range or offset does not fit */
    E_MISMATCH = -9,    /* content does not match its digest or size */
    E_UNSUPPORTED = -10, /* well-formed but not something we do */
    E_CONFLICT = -11,   /* in use: something else still refers to it */
    E_BUSY = -12,       /* a limit shared by all callers is reached for now: try again later */
    E_UNAVAILABLE = -13 /* something berth needs (the database server) does not answer now: try again later */
};

/* Sets the detail for the current thread and returns code, so that
 * `return error_set(E_INVALID, "bad digest '%s'", d);` reads naturally. */
int error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last detail set on this thread ("" when none). */
const char *error_message(void);
void error_clear(void);

#endif
