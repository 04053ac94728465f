/*
 * A small S3 client: the object operations the S3 blob store needs, over
 * libcurl, signed with berth's own SigV4 (auth/sigv4.h, the code that also
 * verifies incoming requests).
 *
 * Objects are named by keys that this module's callers build from digests,
 * upload ids and a validated prefix, so every key is made of characters
 * that need no percent-encoding ([A-Za-z0-9._~/-]); s3_key_valid() checks.
 * Bodies stream: a PUT reads from a buffer the caller bounds (at most one
 * multipart part) and a GET writes into a file descriptor, never into an
 * unbounded buffer.
 *
 * Failures map onto berth's codes: 404 (NoSuchKey, NoSuchUpload) is
 * E_NOTFOUND, 412 (a failed If-None-Match/If-Match) E_EXISTS, anything else
 * E_ERROR with S3's <Code> and <Message> (or curl's reason) in the detail.
 * Credentials never appear in a message or a log line.
 */
#ifndef BERTH_BLOB_S3_H
#define BERTH_BLOB_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct s3 {
    char *bucket;
    char *prefix;   /* "" or "dir/" (validated, ends with '/') */
    char *endpoint; /* "http://host:port", no trailing slash */
    char *host;     /* the Host header: "host:port", or "bucket.host:port" virtual-hosted */
    char *region;
    bool path_style;
    char *access_key_id;
    char *secret;
    long timeout_seconds; /* a whole request; 0: none */
};

/*
 * Parses s3://BUCKET[/PREFIX]?endpoint=http://host:port&region=REGION[&path_style=1]
 * into out (credentials not yet loaded). E_INVALID with the reason.
 */
int s3_parse_url(struct s3 *out, const char *url);
/* Loads the credentials from BERTH_S3_ACCESS_KEY_ID and
 * BERTH_S3_SECRET_ACCESS_KEY, or from the file BERTH_S3_CREDENTIALS_FILE
 * names (lines access_key_id=... and secret_access_key=...). */
int s3_load_credentials(struct s3 *s);
void s3_release(struct s3 *s);
/* Is key made of characters that need no encoding, without empty, "." or
 * ".." segments? */
bool s3_key_valid(const char *key);

struct s3_object {
    uint64_t size;
    int64_t mtime_ms; /* Last-Modified */
    char etag[80];    /* with its quotes, as S3 sends it */
};

/* What a reply's header lines say, read one line at a time as libcurl
 * hands them over: a status line (each one: a 100 Continue is followed by
 * another) sets the status; ETag, Content-Length, Content-Range and
 * Last-Modified fill the rest. Any bytes are safe. */
struct s3_reply {
    long status;          /* 0 until a status line came */
    struct s3_object obj; /* ETag (cut to fit), Content-Length as size, Last-Modified */
    uint64_t total;       /* Content-Range's total size; 0 without one */
    uint64_t range_start; /* Content-Range's first byte; UINT64_MAX without one */
};
void s3_reply_init(struct s3_reply *r);
void s3_reply_header(struct s3_reply *r, const char *line, size_t n);

/* PUT data as the object key. With if_none_match the PUT is refused
 * (E_EXISTS) when the object exists. */
int s3_put(struct s3 *s, const char *key, const void *data, size_t n, bool if_none_match);
/* GET the object (or the bytes [first, first+len) when len > 0) into fd at
 * its current position. *out (may be NULL) gets the object's size. A ranged
 * GET that the store answers with other bytes (a 200 that ignored the
 * Range, another range, more or fewer bytes) is E_ERROR. */
int s3_get_fd(struct s3 *s, const char *key, uint64_t first, uint64_t len, int fd, struct s3_object *out);
/* GET a small object into b (bounded by b's maximum: E_TOOBIG past it). */
int s3_get_buf(struct s3 *s, const char *key, struct buf *b);
int s3_head(struct s3 *s, const char *key, struct s3_object *out);
/* DELETE; an object that is not there is not an error (S3 answers 204). */
int s3_delete(struct s3 *s, const char *key);
/* Server-side copy of src onto dst (CopyObject; objects up to 5 GiB). */
int s3_copy(struct s3 *s, const char *dst, const char *src);

/* Multipart uploads. upload_id is what S3 returned (at most 255 bytes). */
#define S3_UPLOAD_ID_MAX 256
int s3_multipart_create(struct s3 *s, const char *key, char upload_id[S3_UPLOAD_ID_MAX]);
/* Uploads part number part (1..10000); etag_out gets its ETag. */
int s3_multipart_part(struct s3 *s, const char *key, const char *upload_id, int part, const void *data, size_t n,
                      char etag_out[80]);
/* Completes with parts 1..n whose ETags are etags[0..n-1]. */
int s3_multipart_complete(struct s3 *s, const char *key, const char *upload_id, char (*etags)[80], int n);
int s3_multipart_abort(struct s3 *s, const char *key, const char *upload_id);

/* Calls fn for every object whose key begins with prefix, with its
 * LastModified (ListObjectsV2, page after page); fn returning non-zero
 * stops the listing. Keys that s3_key_valid() refuses, or that do not begin
 * with prefix (whatever the store lists), are skipped; a truncated page
 * that gives back the token it was asked with is an error, not a loop. */
typedef int (*s3_list_fn)(void *ctx, const char *key, int64_t mtime_ms);
int s3_list(struct s3 *s, const char *prefix, s3_list_fn fn, void *ctx);
/* One ListObjectsV2 page: fn for each <Contents>, *truncated and the
 * NextContinuationToken (into next, cap bytes). E_INVALID when the page
 * is not a ListBucketResult. Stops early (returning 1) when fn does. */
int s3_list_parse(const char *xml, size_t n, s3_list_fn fn, void *ctx, bool *truncated, char *next, size_t cap);

/* A presigned GET URL for key valid for expires seconds from now (query
 * string SigV4, signed headers: host). */
int s3_presign_get(struct s3 *s, char *out, size_t cap, const char *key, int64_t expires);

/*
 * The text of element field in an S3 XML reply whose root element is root
 * (e.g. "Error" / "Code", "InitiateMultipartUploadResult" / "UploadId"),
 * copied into out (truncated to cap - 1). Returns 0, E_NOTFOUND when the
 * document is not that element or lacks the field, E_INVALID when it is
 * not XML. Safe on any input: no network, no entity expansion.
 */
int s3_xml_field(const char *xml, size_t n, const char *root, const char *field, char *out, size_t cap);

#endif
