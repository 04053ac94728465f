/*
 * AWS Signature Version 4 verification (AWS4-HMAC-SHA256), independent of
 * the HTTP library.
 *
 * The HTTP layer fills a struct sigv4_request with what the client sent: the
 * method, the path exactly as it appeared on the request line (still
 * percent-encoded), the query (raw, or already decoded into name/value
 * pairs), the headers (repeated names appear as repeated entries, in order)
 * and the hex SHA-256 of the body, which it computes while reading the body.
 * sigv4_verify() then checks the request the way AWS does: the two ways of
 * signing (an Authorization header, or presigned X-Amz-* query parameters),
 * the credential scope, the clock, the canonical request and, last, the
 * HMAC-SHA256 signature, compared in constant time. The secret for an access
 * key id comes from a callback, so this module never sees the identity store.
 *
 * Failures carry an enum sigv4_error saying which AWS error applies and the
 * message AWS uses for it. AWS JSON services (ECR) and AWS Query services
 * (IAM, STS) name the same failures differently; sigv4_error_name() and
 * sigv4_error_status() return the name and HTTP status for a protocol.
 *
 * Canonicalisation follows botocore (the reference every AWS CLI user has):
 * the path has dot segments and empty segments removed and every byte but
 * RFC 3986 unreserved characters and '/' percent-encoded -- applied to the
 * path as sent, so an already-encoded path is encoded a second time, as AWS
 * requires for every service but S3. Query names and values are decoded
 * ('+' counts as a space, as in form encoding), re-encoded with only the
 * unreserved characters kept, and sorted by name, then value. Header values
 * are trimmed and runs of whitespace collapsed; repeated headers are joined
 * with ','.
 *
 * Signing (sigv4_sign(), for berth's own S3 client) goes through the same
 * canonical-request builder and the same signing steps as verification.
 * Its caller builds paths from characters that need no encoding, which
 * makes the one encoding applied here S3's rule as well.
 *
 * Session tokens (X-Amz-Security-Token) are not issued by berth, so a
 * request that carries one is refused as carrying an invalid token.
 */
#ifndef BERTH_AUTH_SIGV4_H
#define BERTH_AUTH_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_MAX_SKEW_SECONDS 900       /* header-signed requests: +-15 minutes */
#define SIGV4_MAX_EXPIRES_SECONDS 604800 /* presigned requests: at most 7 days */
#define SIGV4_AUTHORIZATION_MAX 8192     /* longest Authorization header parsed */
#define SIGV4_SIGNED_HEADERS_MAX 64      /* most names in SignedHeaders */
#define SIGV4_HEADER_NAME_MAX 128
#define SIGV4_ACCESS_KEY_ID_MAX 128
#define SIGV4_SECRET_MAX 128
#define SIGV4_QUERY_PARAMS_MAX 1000
#define SIGV4_CANONICAL_MAX (1u << 20) /* canonical request, bytes */

/* The wire protocol of the service being called decides the error names. */
enum sigv4_protocol {
    SIGV4_JSON = 0, /* AWS JSON 1.1: ECR */
    SIGV4_QUERY = 1 /* AWS Query: IAM, STS */
};

/*
 * Why a request was refused. Names per protocol (JSON / Query) and HTTP
 * status come from sigv4_error_name() / sigv4_error_status():
 *
 *   SIGV4_MISSING_AUTH        MissingAuthenticationTokenException / MissingAuthenticationToken   403
 *   SIGV4_INCOMPLETE          IncompleteSignatureException / IncompleteSignature                 400
 *   SIGV4_UNKNOWN_KEY         UnrecognizedClientException / InvalidClientTokenId                 400 / 403
 *   SIGV4_SIGNATURE_MISMATCH  InvalidSignatureException / SignatureDoesNotMatch                  400 / 403
 *   ... and every other signature/scope/clock failure, with the same names
 *   SIGV4_INTERNAL            InternalFailure                                                    500
 */
enum sigv4_error {
    SIGV4_OK = 0,
    SIGV4_MISSING_AUTH,       /* no Authorization header and no X-Amz-Algorithm */
    SIGV4_INCOMPLETE,         /* malformed or missing signature parts, bad date format */
    SIGV4_UNKNOWN_KEY,        /* access key id not found, or a session token */
    SIGV4_SIGNATURE_MISMATCH, /* the HMAC does not match */
    SIGV4_PAYLOAD_MISMATCH,   /* X-Amz-Content-SHA256 does not match the body */
    SIGV4_EXPIRED,            /* date too far in the past (or presigned URL expired) */
    SIGV4_NOT_YET_CURRENT,    /* date too far in the future */
    SIGV4_WRONG_REGION,       /* credential scope names another region */
    SIGV4_WRONG_SERVICE,      /* credential scope names a service not accepted here */
    SIGV4_WRONG_DATE,         /* credential scope date differs from the request date */
    SIGV4_WRONG_TERMINATOR,   /* credential scope does not end in aws4_request */
    SIGV4_HEADER_NOT_SIGNED,  /* host (or the date header used) missing from SignedHeaders */
    SIGV4_INTERNAL,           /* the secret lookup failed */
    SIGV4_ERROR_COUNT
};

/* One header as received; names are matched case-insensitively. */
struct sigv4_header {
    struct slice name;
    struct slice value;
};

/* One decoded query parameter (what MHD's argument iterator yields). */
struct sigv4_param {
    struct slice name;
    struct slice value;
};

struct sigv4_request {
    struct slice method; /* "POST" */
    struct slice path;   /* as sent on the request line, percent-encoded, without '?' and query */
    /* The query, one of two ways: query.base != NULL gives the raw string
     * after '?' (percent-encoded); otherwise params/nparams give the decoded
     * pairs. Either may be empty. */
    struct slice query;
    const struct sigv4_param *params;
    size_t nparams;
    const struct sigv4_header *headers;
    size_t nheaders;
    struct slice payload_sha256; /* lowercase hex SHA-256 of the body */
};

/*
 * Looks up the secret access key for an access key id. Writes at most cap
 * bytes into secret and its length into *len. Returns 0, E_NOTFOUND for an
 * unknown (or deleted, or inactive) key, or another negative code when the
 * lookup itself failed. The verifier wipes the copy when done.
 */
typedef int (*sigv4_secret_fn)(void *ctx, struct slice access_key_id, char *secret, size_t cap, size_t *len);

struct sigv4_verifier {
    const char *region;          /* this server's region, e.g. "us-east-1" */
    const char *const *services; /* NULL-terminated accepted scope services; the first is named in errors */
    sigv4_secret_fn secret;
    void *ctx;
    bool allow_unsigned_payload; /* accept X-Amz-Content-SHA256: UNSIGNED-PAYLOAD */
    bool any_region;             /* a global service (IAM, STS): a scope of any region is accepted */
};

/* The parts of a signature, borrowed from the Authorization header or the
 * X-Amz-* query parameters. */
struct sigv4_auth {
    struct slice credential; /* AKID/20261123/us-east-1/ecr/aws4_request */
    struct slice access_key_id;
    struct slice date; /* YYYYMMDD */
    struct slice region;
    struct slice service;
    struct slice terminator;
    struct slice signed_headers; /* host;x-amz-date */
    struct slice signature;      /* hex */
};

struct sigv4_result {
    enum sigv4_error error;
    char message[1024]; /* AWS's message for the failure ("" on success) */
    bool presigned;     /* signed with query parameters */
    bool unsigned_payload;
    /* Set once the credential has been parsed (also on most failures). */
    char access_key_id[SIGV4_ACCESS_KEY_ID_MAX + 1];
    char date[9];
    char region[64];
    char service[64];
    int64_t signed_at; /* the request's X-Amz-Date, seconds since the epoch */
};

/*
 * Parses an Authorization header value of the form
 *   AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex
 * into slices of header. Returns 0, or E_INVALID with AWS's
 * IncompleteSignatureException message set as the error detail. Safe on any
 * input; looks at no more than SIGV4_AUTHORIZATION_MAX bytes.
 */
int sigv4_parse_authorization(struct sigv4_auth *out, struct slice header);

/* Splits "AKID/DATE/REGION/SERVICE/TERM" into out's credential fields.
 * E_INVALID (with AWS's message) unless there are exactly five non-empty parts. */
int sigv4_parse_credential(struct sigv4_auth *out, struct slice credential);

/*
 * Verifies req at time now (seconds since the epoch). Returns 0 with the
 * access key id and scope in out; E_UNAUTH when the request is refused (the
 * reason and AWS's message in out->error and out->message, the message also
 * set as the error detail); E_ERROR when the secret lookup failed
 * (out->error == SIGV4_INTERNAL).
 */
int sigv4_verify(struct sigv4_result *out, const struct sigv4_verifier *v, const struct sigv4_request *req, int64_t now);

/*
 * What sigv4_verify() checks before it needs the body, for refusing a
 * request as soon as its headers are in: the form of the signature, the
 * date, the credential scope, the clock, the signed headers and that the
 * access key exists and is active. req->payload_sha256 is not looked at.
 * Returns as sigv4_verify() does; a request that passes may still fail
 * sigv4_verify() (its payload hash, its signature).
 */
int sigv4_precheck(struct sigv4_result *out, const struct sigv4_verifier *v, const struct sigv4_request *req, int64_t now);

/*
 * Writes the canonical request for req into out: signed_headers is the
 * SignedHeaders value, payload_hash the last line, and presigned leaves
 * X-Amz-Signature out of the canonical query. Exposed for tests and tools.
 * E_INVALID for a malformed signed-header list, E_TOOBIG past
 * SIGV4_CANONICAL_MAX or SIGV4_QUERY_PARAMS_MAX.
 */
int sigv4_canonical_request(struct buf *out, const struct sigv4_request *req, struct slice signed_headers,
                            struct slice payload_hash, bool presigned);

/* Who signs: the credentials and the scope of an outgoing request. */
struct sigv4_signer {
    const char *access_key_id;
    const char *secret;
    const char *region;
    const char *service; /* "s3" */
};

/*
 * Signs req (its payload_sha256 is the last line of the canonical request,
 * "UNSIGNED-PAYLOAD" allowed) as of time t, writing the signature's
 * lowercase hex into out. The X-Amz-Date header (or query parameter) of req
 * must be sigv4_amz_date(t), and the credential scope (the X-Amz-Credential
 * query parameter of a presigned request) the signer's, for the date of t.
 * presigned leaves X-Amz-Signature out of the canonical query, as
 * verification does. E_INVALID for a malformed signed-header list.
 */
int sigv4_sign(char out[65], const struct sigv4_request *req, struct slice signed_headers, bool presigned,
               const struct sigv4_signer *s, int64_t t);
/* t as an X-Amz-Date: YYYYMMDDTHHMMSSZ. */
void sigv4_amz_date(char out[17], int64_t t);

/* The AWS error code ("__type" in JSON, <Code> in Query XML) for e. */
const char *sigv4_error_name(enum sigv4_error e, enum sigv4_protocol p);
/* The HTTP status AWS answers e with. */
int sigv4_error_status(enum sigv4_error e, enum sigv4_protocol p);
/* The message to send: r->message, except where the protocols word the
 * same failure differently (a missing token). */
const char *sigv4_error_message(const struct sigv4_result *r, enum sigv4_protocol p);

#endif
