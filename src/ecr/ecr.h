/*
 * The ECR control plane: AWS JSON 1.1 over SigV4 at POST / with
 * X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>.
 *
 * One dispatcher verifies the signature, decodes and validates the input
 * against botocore's model, authorizes the operation's IAM action and calls
 * the operation's handler from one table (ecr_ops[] in ops.c). A handler
 * reads c->in, fills c->out, and returns 0 or ecr_fail(...).
 */
#ifndef BERTH_ECR_ECR_H
#define BERTH_ECR_ECR_H

#include <stdbool.h>

#include <jansson.h>

#include "auth/auth.h"
#include "core/config.h"
#include "core/digest.h"
#include "ecr/model_gen.h"
#include "http/server.h"
#include "store/store.h"

extern const struct surface ecr_surface;
/* Runs the operation that r's X-Amz-Target names on its buffered JSON body
 * as who, already authenticated (the console's session), through the same
 * validation, authorization and handler as a signed call; answers r. */
void ecr_serve_as(struct request *r, const struct principal *who);
/* As ecr_serve_as, for GetDownloadUrlForLayer alone, answering the layer's
 * bytes (at most max of them) instead of a URL to fetch them from: the
 * console reads an image's config this way, since its page may fetch only
 * from its own origin and an object store's presigned URL is elsewhere.
 * The call is validated, authorized (ecr:GetDownloadUrlForLayer on the
 * repository) and audited as GetDownloadUrlForLayer; it is that call. */
void ecr_serve_layer_as(struct request *r, const struct principal *who, uint64_t max);
void ecr_configure(const struct config *c);
const struct config *ecr_config(void);

struct layer_part;

struct ecr_call {
    struct request *r;
    json_t *in;
    json_t *out; /* an object, sent as the reply */
    struct principal who;
    struct authz_context authz;
    const char *op;
    char registry_id[13]; /* input registryId, or the caller's account */
    /* set by ecr_fail */
    const char *err_type;
    char err_message[1024];
    unsigned err_status;
    json_t *err_extra; /* more members of the error body (the model's exception fields), or NULL */
    struct layer_part *part; /* UploadLayerPart: its streamed body (ops.h), else NULL */
    char request_id[37];     /* the x-amzn-RequestId answered, also in the audit record */
    bool audited;            /* the audit record was written in the operation's own transaction */
    bool console;            /* a call of the web console's session (ecr_serve_as) */
    /* ecr_serve_layer_as: the most bytes the layer may have (0: a URL is
     * answered), and the layer opened by GetDownloadUrlForLayer's handler
     * (fd -1 until then) */
    uint64_t layer_max;
    int layer_fd;
    uint64_t layer_size;
};

enum ecr_resource {
    RES_REPOSITORY, /* the input's repositoryName */
    RES_REGISTRY,   /* the registry: every repository of registryId */
    RES_ANY,        /* "*" */
    RES_ARN,        /* the input's resourceArn */
    RES_NAMES       /* each of the input's repositoryNames, else the registry */
};

struct ecr_op {
    const char *name;
    int (*handler)(struct ecr_call *c);
    const char *action;         /* IAM action checked by the dispatcher */
    enum ecr_resource resource; /* what the action is checked on */
    /* The handler runs in one write transaction that the dispatcher opens,
     * commits when it succeeds and rolls back when it fails (as iam_op's
     * writes). Handlers that manage their own transactions (image put and
     * delete, layer uploads) are not marked. */
    bool writes;
    /* The handler may wait: it writes in transactions of its own (which
     * may wait for their locks), or takes long (it copies a part into its
     * session, or verifies, fsyncs and renames a whole layer). It runs on a
     * defer thread (http_defer), not on the HTTP thread, as every writing
     * operation does. */
    bool waits;
};

extern const struct ecr_op ecr_ops[];
extern const size_t ecr_nops;

/* Records the error reply and returns -1: `return ecr_fail(c, ECR_REPOSITORY_NOT_FOUND, ...)`.
 * The name and HTTP status come from the table generated from the model. */
int ecr_fail(struct ecr_call *c, enum ecr_error e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ServerException (500) for an unexpected E_* from below, logged. */
int ecr_fail_internal(struct ecr_call *c, int rc);
/* Writes the call's audit record (a success, answering c->out) in the
 * caller's open write transaction, for an operation that opens its own;
 * once that transaction commits, the caller sets c->audited. 0 or E_*. */
int ecr_audit_in_transaction(struct ecr_call *c, const char *operation);

/* Input helpers (validated by the model already, so types are right). */
const char *ecr_str(struct ecr_call *c, const char *key);
/* Loads the input's repositoryName in c->registry_id; RepositoryNotFoundException if absent. */
int ecr_load_repo(struct ecr_call *c, struct repo *out);
/* Resolves an ImageIdentifier (id: imageDigest and/or imageTag) of repo
 * to its digest; ImageNotFoundException or InvalidParameterException
 * (recorded with ecr_fail) when it names no image. */
int ecr_image_lookup(struct ecr_call *c, const struct repo *repo, json_t *id, char digest_out[DIGEST_MAX]);
/* The repository's ARN and URI. */
void ecr_repo_arn(char *out, size_t size, const char *account, const char *name);
void ecr_repo_uri(char *out, size_t size, struct ecr_call *c, const char *account, const char *name);
/* The registry host as clients should address it: <acct>.dkr.ecr.<region>.<domain>, or the Host berth was reached at. */
void ecr_registry_host(char *out, size_t size, struct ecr_call *c, const char *account);
/* A timestamp as AWS JSON 1.1 writes it: epoch seconds. */
json_t *ecr_time(int64_t ms);

/* Pagination: nextToken is an opaque marker (the last key served). */
int ecr_page(struct ecr_call *c, int default_max, int hard_max, int *max_out, char **after_out);
void ecr_set_next_token(struct ecr_call *c, const char *last_key);

#endif
