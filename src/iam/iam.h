/*
 * The identity surface: IAM's API (and STS GetCallerIdentity) over the AWS
 * Query protocol, as `aws iam ... --endpoint-url` and boto3 speak it:
 * POST / with a form body Action=<Op>&Version=2010-05-08&..., SigV4-signed
 * for service iam (or sts), answered in XML.
 *
 * One dispatcher (iam.c) decodes the form, verifies the signature, builds
 * the input from the flat parameters and validates it against botocore's
 * IAM model, checks the operation's iam: action and runs the operation's
 * handler from one table (iam_ops[] in ops.c). A handler reads c->in,
 * writes the content of <OpResult> into c->out, and returns 0 or
 * iam_fail(...).
 */
#ifndef BERTH_IAM_IAM_H
#define BERTH_IAM_IAM_H

#include <stdbool.h>

#include <jansson.h>

#include "auth/auth.h"
#include "core/buf.h"
#include "core/config.h"
#include "http/server.h"
#include "iam/model_gen.h"
#include "store/store.h"

extern const struct surface iam_surface;
/* Runs the IAM operation of r's buffered form body as who, already
 * authenticated (the console's session), through the same validation,
 * authorization and handler as a signed call; answers r in XML. */
void iam_serve_as(struct request *r, const struct principal *who);
/* Loads the model; makes store_identity_policies the authorizer's source of
 * identity policies. Call once at start. */
void iam_configure(const struct config *c);

struct iam_op;

struct iam_call {
    struct request *r;
    const struct iam_op *op;
    json_t *in;     /* the validated input (an object; empty for STS) */
    struct buf out; /* the content of <OpResult> */
    struct principal who;
    struct iam_identity caller; /* the calling user, when !who.is_root */
    const char *account;    /* the caller's account: every IAM call works on it */
    struct authz_context authz;
    /* set by iam_fail */
    const char *err_code;
    char err_message[1024];
    unsigned err_status;
    char request_id[37]; /* the RequestId answered, also in the audit record */
    bool audited;        /* the audit record was written in the operation's own transaction */
    /* what a failed write still records once its transaction is rolled
     * back (ChangePassword: a wrong old password), or NULL */
    void (*on_rollback)(struct iam_call *c);
};

/* What an operation's action is authorized on. */
enum iam_resource {
    IAM_RES_NONE,       /* needs no permission (sts:GetCallerIdentity) */
    IAM_RES_USER,       /* the user named by UserName, else the caller */
    IAM_RES_GROUP,      /* the group named by GroupName */
    IAM_RES_POLICY,     /* PolicyArn */
    IAM_RES_NEW_POLICY, /* the policy Path + PolicyName will have */
    IAM_RES_USERS,      /* arn:aws:iam::<account>:user/ */
    IAM_RES_GROUPS,     /* arn:aws:iam::<account>:group/ */
    IAM_RES_POLICIES,   /* arn:aws:iam::<account>:policy/ */
    IAM_RES_ACCOUNT     /* "*": account-wide settings (alias, password policy) */
};

struct iam_op {
    const char *name;
    const char *version; /* "2010-05-08" (IAM) or "2011-06-15" (STS) */
    int (*handler)(struct iam_call *c);
    const char *action; /* checked by the dispatcher */
    enum iam_resource resource;
    bool writes; /* runs in one write transaction */
    bool result; /* the reply has an <OpResult> element */
};

extern const struct iam_op iam_ops[];
extern const size_t iam_nops;

#define IAM_VERSION "2010-05-08"
#define STS_VERSION "2011-06-15"
#define IAM_MAX_ITEMS_DEFAULT 100

/* Records the error reply and returns -1; the code and HTTP status come from
 * the table generated from the model (iam/model_gen.h):
 * `return iam_fail(c, IAM_NO_SUCH_ENTITY, "The user with name %s cannot be found.", n)`. */
int iam_fail(struct iam_call *c, enum iam_error e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ServerFailure (500) for an unexpected E_* from below, logged. */
int iam_fail_internal(struct iam_call *c, int rc);

/* Input helpers (the model has checked the types already). */
const char *iam_str(struct iam_call *c, const char *key);
bool iam_bool(struct iam_call *c, const char *key, bool dflt);

/* ARNs: arn:aws:iam::<account>:<kind><path><name>. */
void iam_arn(char *out, size_t size, const char *account, const char *kind, const char *path, const char *name);
/* A fresh unique id: prefix (AIDA, AGPA, ANPA) and 17 characters, as IAM's. */
void iam_new_id(char out[32], const char *prefix);

/* Loads a user or group by name; NoSuchEntity with IAM's message if absent. */
int iam_load_user(struct iam_call *c, const char *name, struct iam_identity *out);
int iam_load_group(struct iam_call *c, const char *name, struct iam_identity *out);
/* The user an operation acts on: UserName, else the caller. Returns 0 with
 * *is_root set (out untouched) when the caller is the root and no UserName
 * was given. */
int iam_target_user(struct iam_call *c, struct iam_identity *out, bool *is_root);

/*
 * Pagination as IAM does it: MaxItems (default 100) and an opaque Marker
 * that names the last item served. A handler lists items in key order and
 * offers each to iam_page_take(), which says whether to emit it (false also
 * once the page is full: stop listing then); iam_page_end() writes
 * IsTruncated and Marker.
 */
struct iam_page {
    int max;
    char *after; /* the decoded Marker, or NULL */
    int n;
    bool truncated;
    char *last; /* key of the last item emitted */
    int (*cmp)(const char *a, const char *b);
};
/* InvalidInput for a Marker that is not one of ours. */
int iam_page_begin(struct iam_call *c, struct iam_page *pg, int (*cmp)(const char *a, const char *b));
bool iam_page_take(struct iam_page *pg, const char *key);
void iam_page_end(struct iam_call *c, struct iam_page *pg);
/* How many items to ask the store for: one more than fits, to learn
 * whether the list goes on. */
int iam_page_fetch(const struct iam_page *pg);

/* The XML of the records IAM returns. */
/* tags_json as iam_xml_tags takes it (NULL: no Tags). */
void iam_xml_user(struct buf *b, const char *element, const struct iam_identity *u, const char *tags_json);
void iam_xml_group(struct buf *b, const char *element, const struct iam_identity *g);
/* Appends <Tags> from a stored JSON array of {"Key","Value"} (nothing for NULL or empty). */
void iam_xml_tags(struct buf *b, const char *tags_json);
/* The input's Tags as the JSON array to store, or NULL without tags (caller frees). */
char *iam_tags_json(struct iam_call *c);
/* InvalidInput for keys given twice in the input's Tags (IAM compares them without case). */
int iam_check_tags(struct iam_call *c);

/* Loads a policy by ARN for an operation on it (NoSuchEntity, InvalidInput
 * as IAM words them); *aws is set for an AWS-managed policy. */
int iam_load_policy(struct iam_call *c, const char *arn, bool *aws);
/* AccessDenied: AWS-managed policies belong to AWS, no account may change them. */
int iam_refuse_aws_policy(struct iam_call *c, const char *arn);

#endif
