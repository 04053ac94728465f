/*
 * Unit tests for src/policy/policy.c and src/policy/condition.c: a table of
 * (policies, request, expected decision) covering every condition operator
 * family, IfExists, set qualifiers, Null, CIDR matching, the Not* elements,
 * wildcards, explicit deny precedence, same- and cross-account rules, the
 * root user and policy variables; a table of invalid documents with IAM's
 * messages; and the matching helpers on their own.
 *
 * Documents are written with ' for " (and ^ for ') to keep them readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define BERTH_POLICY_INTERNAL
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "policy/policy.h"

#define ACCT "111122223333"
#define OTHER "444455556666"
#define ALICE_ARN "arn:aws:iam::" ACCT ":user/alice"
#define BOB_ARN "arn:aws:iam::" OTHER ":user/bob"
#define REPO "arn:aws:ecr:us-east-1:" ACCT ":repository/team-a/web"
#define REPO_B "arn:aws:ecr:us-east-1:" ACCT ":repository/team-b/api"
#define REPO_ALICE "arn:aws:ecr:us-east-1:" ACCT ":repository/alice/app"
#define NOW_MS 1717243200000LL /* 2024-06-01T12:00:00Z */

#define DOC(stmts) "{'Version':'2012-10-17','Statement':[" stmts "]}"
#define DOC2008(stmts) "{'Version':'2008-10-17','Statement':[" stmts "]}"
#define ALLOW(action, resource) "{'Effect':'Allow','Action':'" action "','Resource':'" resource "'}"
#define ALLOW_IF(action, cond) "{'Effect':'Allow','Action':'" action "','Resource':'*','Condition':" cond "}"
#define RALLOW(principal, action) "{'Effect':'Allow','Principal':" principal ",'Action':'" action "'}"
#define RDENY(principal, action) "{'Effect':'Deny','Principal':" principal ",'Action':'" action "'}"

/* Turns ' into " and ^ into ', returning a malloc'd copy. */
static char *unquote(const char *z)
{
    char *s = xstrdup(z);
    for (char *p = s; *p; p++)
        *p = *p == '\'' ? '"' : *p == '^' ? '\'' : *p;
    return s;
}

static int parse_doc(struct policy **out, const char *doc, enum policy_kind kind)
{
    char *text = unquote(doc);
    int rc = policy_parse(out, text, strlen(text), kind, POLICY_LIMIT_NONE);
    free(text);
    return rc;
}

enum who { ALICE, BOB, ROOT, ROOT_OTHER };

struct eval_case {
    const char *name;
    const char *identity[3]; /* identity policies, labelled id0, id1, ... */
    const char *resource;    /* repository policy, labelled "repository policy" */
    const char *registry;    /* registry policy, labelled "registry policy" */
    enum who who;
    const char *action;  /* default ecr:PutImage */
    const char *arn;     /* default REPO */
    const char *ip;      /* aws:SourceIp */
    bool insecure;       /* aws:SecureTransport false */
    bool tags;           /* request tags env=prod, owner=x */
    const char *key;     /* one explicit context key ... */
    const char *vals[3]; /* ... with these values */
    enum policy_result expect;
    enum policy_type type; /* checked when set (T_ROOT for POLICY_TYPE_NONE) */
    const char *sid;       /* checked when set */
    const char *message;   /* checked when set */
};

#define DENIED POLICY_IMPLICIT_DENY
#define ALLOWED POLICY_ALLOW
#define EXPLICIT POLICY_EXPLICIT_DENY
#define T_ID POLICY_TYPE_IDENTITY
#define T_RES POLICY_TYPE_RESOURCE
#define T_REG POLICY_TYPE_REGISTRY
#define T_ROOT ((enum policy_type)100) /* expect POLICY_TYPE_NONE */

static const struct eval_case cases[] = {
    /* ---- default deny, actions, resources ---- */
    {.name = "no policies: implicit deny",
     .expect = DENIED,
     .type = T_ID,
     .message = "User: " ALICE_ARN " is not authorized to perform: ecr:PutImage on resource: " REPO
                " because no identity-based policy allows the ecr:PutImage action"},
    {.name = "exact action", .identity = {DOC(ALLOW("ecr:PutImage", "*"))}, .expect = ALLOWED, .type = T_ID},
    {.name = "action is case-insensitive", .identity = {DOC(ALLOW("ECR:putimage", "*"))}, .expect = ALLOWED, .type = T_ID},
    {.name = "action prefix wildcard", .identity = {DOC(ALLOW("ecr:Put*", "*"))}, .expect = ALLOWED, .type = T_ID},
    {.name = "action wildcard not matching", .identity = {DOC(ALLOW("ecr:Get*", "*"))}, .expect = DENIED, .type = T_ID},
    {.name = "action infix wildcard",
     .identity = {DOC(ALLOW("ecr:*Image", "*"))},
     .action = "ecr:BatchGetImage",
     .expect = ALLOWED},
    {.name = "action ? wildcard", .identity = {DOC(ALLOW("ecr:?utImage", "*"))}, .expect = ALLOWED},
    {.name = "action * alone", .identity = {DOC(ALLOW("*", "*"))}, .expect = ALLOWED},
    {.name = "other service does not match", .identity = {DOC(ALLOW("s3:*", "*"))}, .expect = DENIED},
    {.name = "action list",
     .identity = {"{'Statement':{'Effect':'Allow','Action':['ecr:ListImages','ecr:PutImage'],'Resource':'*'}}"},
     .expect = ALLOWED},
    {.name = "NotAction allows the rest",
     .identity = {DOC("{'Effect':'Allow','NotAction':'ecr:DeleteRepository','Resource':'*'}")},
     .expect = ALLOWED},
    {.name = "NotAction excludes the listed action",
     .identity = {DOC("{'Effect':'Allow','NotAction':'ecr:Delete*','Resource':'*'}")},
     .action = "ecr:DeleteRepository",
     .expect = DENIED},
    {.name = "resource wildcard",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:us-east-1:" ACCT ":repository/team-a/*"))},
     .expect = ALLOWED},
    {.name = "resource wildcard, other repository",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:us-east-1:" ACCT ":repository/team-a/*"))},
     .arn = REPO_B,
     .expect = DENIED},
    {.name = "region segment wildcard",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:" ACCT ":repository/*"))},
     .expect = ALLOWED},
    {.name = "a * ending a segment spans colons",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:repository/*"))},
     .expect = ALLOWED},
    {.name = "a * inside a segment does not span colons",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:us-*-1:repository/*"))},
     .expect = DENIED},
    {.name = "too many segments", .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:*:*:repository/*"))}, .expect = DENIED},
    {.name = "trailing wildcard of a short ARN", .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*"))}, .expect = ALLOWED},
    {.name = "resource ? wildcard",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:us-east-1:" ACCT ":repository/team-?/web"))},
     .expect = ALLOWED},
    {.name = "resource ARN is case-sensitive",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:us-east-1:" ACCT ":repository/TEAM-A/web"))},
     .expect = DENIED},
    {.name = "NotResource allows the rest",
     .identity = {DOC("{'Effect':'Allow','Action':'ecr:*','NotResource':'arn:aws:ecr:*:*:repository/team-b/*'}")},
     .expect = ALLOWED},
    {.name = "NotResource excludes the listed resource",
     .identity = {DOC("{'Effect':'Allow','Action':'ecr:*','NotResource':'arn:aws:ecr:*:*:repository/team-b/*'}")},
     .arn = REPO_B,
     .expect = DENIED},
    {.name = "resource \"*\" request needs Resource \"*\"",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:*:repository/*"))},
     .action = "ecr:GetAuthorizationToken",
     .arn = "*",
     .expect = DENIED},
    {.name = "resource \"*\" request with Resource \"*\"",
     .identity = {DOC(ALLOW("ecr:GetAuthorizationToken", "*"))},
     .action = "ecr:GetAuthorizationToken",
     .arn = "*",
     .expect = ALLOWED},

    /* ---- explicit deny ---- */
    {.name = "deny beats allow in the same policy",
     .identity = {DOC(ALLOW("ecr:*", "*") ",{'Sid':'NoPush','Effect':'Deny','Action':'ecr:PutImage','Resource':'*'}")},
     .expect = EXPLICIT,
     .type = T_ID,
     .sid = "NoPush",
     .message = "User: " ALICE_ARN " is not authorized to perform: ecr:PutImage on resource: " REPO
                " with an explicit deny in an identity-based policy"},
    {.name = "deny in a later policy beats allow in an earlier one",
     .identity = {DOC(ALLOW("ecr:*", "*")), DOC("{'Effect':'Deny','Action':'ecr:Put*','Resource':'" REPO "'}")},
     .expect = EXPLICIT,
     .type = T_ID},
    {.name = "deny on another resource does not apply",
     .identity = {DOC(ALLOW("ecr:*", "*")), DOC("{'Effect':'Deny','Action':'ecr:*','Resource':'" REPO_B "'}")},
     .expect = ALLOWED,
     .type = T_ID},
    {.name = "deny in the repository policy beats identity allow",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC("{'Sid':'Lock','Effect':'Deny','Principal':'*','Action':'ecr:PutImage'}"),
     .expect = EXPLICIT,
     .type = T_RES,
     .sid = "Lock",
     .message = "User: " ALICE_ARN " is not authorized to perform: ecr:PutImage on resource: " REPO
                " with an explicit deny in a resource-based policy"},
    {.name = "deny naming the account applies to its users",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC(RDENY("{'AWS':'" ACCT "'}", "ecr:*")),
     .expect = EXPLICIT,
     .type = T_RES},
    {.name = "deny naming another user does not apply",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC(RDENY("{'AWS':'arn:aws:iam::" ACCT ":user/carol'}", "ecr:*")),
     .expect = ALLOWED,
     .type = T_ID},

    /* ---- resource-based policies, same account ---- */
    {.name = "repository policy naming the user suffices",
     .resource = DOC("{'Sid':'Alice','Effect':'Allow','Principal':{'AWS':['" ALICE_ARN "']},'Action':'ecr:PutImage'}"),
     .expect = ALLOWED,
     .type = T_RES,
     .sid = "Alice"},
    {.name = "repository policy with Principal *", .resource = DOC(RALLOW("'*'", "ecr:*")), .expect = ALLOWED, .type = T_RES},
    {.name = "repository policy with AWS *", .resource = DOC(RALLOW("{'AWS':'*'}", "ecr:*")), .expect = ALLOWED, .type = T_RES},
    {.name = "repository policy naming only the account delegates",
     .resource = DOC(RALLOW("{'AWS':'" ACCT "'}", "ecr:*")),
     .expect = DENIED,
     .type = T_ID},
    {.name = "account delegation plus identity allow",
     .identity = {DOC(ALLOW("ecr:PutImage", "*"))},
     .resource = DOC(RALLOW("{'AWS':'arn:aws:iam::" ACCT ":root'}", "ecr:*")),
     .expect = ALLOWED,
     .type = T_ID},
    {.name = "repository policy for another action",
     .resource = DOC(RALLOW("'*'", "ecr:BatchGetImage")),
     .expect = DENIED,
     .type = T_ID},
    {.name = "repository policy with Resource element",
     .resource = DOC("{'Effect':'Allow','Principal':'*','Action':'ecr:*','Resource':'" REPO_B "'}"),
     .expect = DENIED},
    {.name = "service principal does not match users",
     .resource = DOC(RALLOW("{'Service':'replication.ecr.amazonaws.com'}", "ecr:*")),
     .expect = DENIED},
    {.name = "registry policy allows",
     .registry = DOC("{'Sid':'Repl','Effect':'Allow','Principal':{'AWS':'" ALICE_ARN "'},'Action':['ecr:ReplicateImage',"
                     "'ecr:CreateRepository'],'Resource':'arn:aws:ecr:us-east-1:" ACCT ":repository/*'}"),
     .action = "ecr:ReplicateImage",
     .expect = ALLOWED,
     .type = T_REG,
     .sid = "Repl"},
    {.name = "registry policy deny",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .registry = DOC(RDENY("'*'", "ecr:CreateRepository")),
     .action = "ecr:CreateRepository",
     .expect = EXPLICIT,
     .type = T_REG},
    {.name = "NotPrincipal deny spares a user listed with its account",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC("{'Effect':'Deny','NotPrincipal':{'AWS':['" ALICE_ARN "','arn:aws:iam::" ACCT ":root']},'Action':'ecr:*'}"),
     .expect = ALLOWED,
     .type = T_ID},
    {.name = "NotPrincipal deny listing only the user still denies it",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC("{'Effect':'Deny','NotPrincipal':{'AWS':'" ALICE_ARN "'},'Action':'ecr:*'}"),
     .expect = EXPLICIT,
     .type = T_RES},
    {.name = "NotPrincipal deny applies to others",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC("{'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::" ACCT ":user/carol','" ACCT "']},"
                     "'Action':'ecr:*'}"),
     .expect = EXPLICIT},

    /* ---- cross-account ---- */
    {.name = "cross-account: identity allow alone is not enough",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .who = BOB,
     .action = "ecr:BatchGetImage",
     .expect = DENIED,
     .type = T_RES,
     .message = "User: " BOB_ARN " is not authorized to perform: ecr:BatchGetImage on resource: " REPO
                " because no resource-based policy allows the ecr:BatchGetImage action"},
    {.name = "cross-account: resource allow alone is not enough",
     .resource = DOC(RALLOW("{'AWS':'" OTHER "'}", "ecr:*")),
     .who = BOB,
     .expect = DENIED,
     .type = T_ID,
     .message = "User: " BOB_ARN " is not authorized to perform: ecr:PutImage on resource: " REPO
                " because no identity-based policy allows the ecr:PutImage action"},
    {.name = "cross-account: both sides (account)",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC(RALLOW("{'AWS':'" OTHER "'}", "ecr:*")),
     .who = BOB,
     .expect = ALLOWED,
     .type = T_RES},
    {.name = "cross-account: both sides (account root ARN)",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC(RALLOW("{'AWS':'arn:aws:iam::" OTHER ":root'}", "ecr:*")),
     .who = BOB,
     .expect = ALLOWED},
    {.name = "cross-account: both sides (user ARN)",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC(RALLOW("{'AWS':['" BOB_ARN "']}", "ecr:*")),
     .who = BOB,
     .expect = ALLOWED},
    {.name = "cross-account: resource policy names another account",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC(RALLOW("{'AWS':'999999999999'}", "ecr:*")),
     .who = BOB,
     .expect = DENIED,
     .type = T_RES},
    {.name = "cross-account: Principal * with identity allow",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC(RALLOW("'*'", "ecr:*")),
     .who = BOB,
     .expect = ALLOWED},

    /* ---- root ---- */
    {.name = "root: everything in its own account", .who = ROOT, .expect = ALLOWED, .type = T_ROOT},
    {.name = "root: identity policies do not exist",
     .identity = {DOC("{'Effect':'Deny','Action':'*','Resource':'*'}")},
     .who = ROOT,
     .expect = ALLOWED,
     .type = T_ROOT},
    {.name = "root: denied by a repository policy",
     .resource = DOC(RDENY("'*'", "ecr:PutImage")),
     .who = ROOT,
     .expect = EXPLICIT,
     .type = T_RES,
     .message = "User: arn:aws:iam::" ACCT ":root is not authorized to perform: ecr:PutImage on resource: " REPO
                " with an explicit deny in a resource-based policy"},
    /* the escape hatch (docs/compatibility.md): no deny keeps the root from its repositories' policies */
    {.name = "root: repository policy actions despite a deny-all repository policy",
     .resource = DOC(RDENY("'*'", "ecr:*")),
     .who = ROOT,
     .action = "ecr:SetRepositoryPolicy",
     .expect = ALLOWED,
     .type = T_ROOT},
    {.name = "root: repository policy actions despite a deny-all registry policy",
     .registry = DOC(RDENY("'*'", "*")),
     .who = ROOT,
     .action = "ecr:deleterepositorypolicy",
     .expect = ALLOWED,
     .type = T_ROOT},
    {.name = "root: the escape hatch is only for the repository policy actions",
     .resource = DOC(RDENY("'*'", "ecr:*")),
     .who = ROOT,
     .action = "ecr:PutRegistryPolicy",
     .expect = EXPLICIT,
     .type = T_RES},
    {.name = "root of another account: no escape hatch",
     .resource = DOC(RDENY("'*'", "ecr:*")),
     .who = ROOT_OTHER,
     .action = "ecr:GetRepositoryPolicy",
     .expect = EXPLICIT,
     .type = T_RES},
    {.name = "user: no escape hatch",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC(RDENY("'*'", "ecr:*")),
     .action = "ecr:SetRepositoryPolicy",
     .expect = EXPLICIT,
     .type = T_RES},
    {.name = "root of another account: needs the resource policy", .who = ROOT_OTHER, .expect = DENIED, .type = T_RES},
    {.name = "root of another account: allowed through its account",
     .resource = DOC(RALLOW("{'AWS':'" OTHER "'}", "ecr:*")),
     .who = ROOT_OTHER,
     .expect = ALLOWED,
     .type = T_RES},

    /* ---- string conditions ---- */
    {.name = "StringEquals match",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':'alice'}}"))},
     .expect = ALLOWED},
    {.name = "StringEquals mismatch",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':'Alice'}}"))},
     .expect = DENIED},
    {.name = "StringEquals values are OR'd",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':['bob','alice']}}"))},
     .expect = ALLOWED},
    {.name = "StringNotEquals other value",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringNotEquals':{'aws:username':'bob'}}"))},
     .expect = ALLOWED},
    {.name = "StringNotEquals values are NOR'd",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringNotEquals':{'aws:username':['bob','alice']}}"))},
     .expect = DENIED},
    {.name = "StringEqualsIgnoreCase",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEqualsIgnoreCase':{'aws:username':'ALICE'}}"))},
     .expect = ALLOWED},
    {.name = "StringNotEqualsIgnoreCase",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringNotEqualsIgnoreCase':{'aws:username':'ALICE'}}"))},
     .expect = DENIED},
    {.name = "StringLike",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringLike':{'aws:PrincipalArn':'arn:aws:iam::*:user/al?ce'}}"))},
     .expect = ALLOWED},
    {.name = "StringNotLike",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringNotLike':{'aws:PrincipalArn':'*:user/al*'}}"))},
     .expect = DENIED},
    {.name = "absent key: positive operator is false",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:RequestTag/env':'prod'}}"))},
     .expect = DENIED},
    {.name = "absent key: negated operator is true",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringNotEquals':{'aws:RequestTag/env':'prod'}}"))},
     .expect = ALLOWED},
    {.name = "IfExists: absent key",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEqualsIfExists':{'aws:RequestTag/env':'prod'}}"))},
     .expect = ALLOWED},
    {.name = "IfExists: present and different",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEqualsIfExists':{'aws:RequestTag/env':'dev'}}"))},
     .tags = true,
     .expect = DENIED},
    {.name = "IfExists: present and equal",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringLikeIfExists':{'aws:RequestTag/env':'pr*'}}"))},
     .tags = true,
     .expect = ALLOWED},
    {.name = "NumericLessThanIfExists: absent key",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NumericLessThanIfExists':{'berth:count':'3'}}"))},
     .expect = ALLOWED},
    {.name = "condition keys are case-insensitive",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'AWS:USERNAME':'alice'}}"))},
     .expect = ALLOWED},
    {.name = "explicit context overrides derived keys",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':'alice'}}"))},
     .key = "aws:username",
     .vals = {"mallory"},
     .expect = DENIED},
    {.name = "keys under one operator are AND'd",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':'alice','aws:PrincipalAccount':'" OTHER "'}}"))},
     .expect = DENIED},
    {.name = "operators are AND'd",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':'alice'},'Bool':{'aws:SecureTransport':'true'}}"))},
     .insecure = true,
     .expect = DENIED},
    {.name = "resource tag",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:ResourceTag/team':'a'}}"))},
     .expect = ALLOWED},
    {.name = "ecr:ResourceTag",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'ecr:ResourceTag/Team':'a'}}"))},
     .expect = ALLOWED},
    {.name = "principal type and user id",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:PrincipalType':'User','aws:userid':'AIDAALICE'}}"))},
     .expect = ALLOWED},

    /* ---- ARN conditions ---- */
    {.name = "ArnLike",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::" ACCT ":user/*'}}"))},
     .expect = ALLOWED},
    {.name = "ArnEquals",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ArnEquals':{'aws:PrincipalArn':'" ALICE_ARN "'}}"))},
     .expect = ALLOWED},
    {.name = "ArnNotEquals",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ArnNotEquals':{'aws:PrincipalArn':'" ALICE_ARN "'}}"))},
     .expect = DENIED},
    {.name = "ArnNotLike other account",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::" OTHER ":*'}}"))},
     .expect = ALLOWED},
    {.name = "ArnLike segments: * does not cross a colon",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ArnLike':{'aws:PrincipalArn':'arn:aws:*:user/alice'}}"))},
     .expect = DENIED},

    /* ---- numeric ---- */
    {.name = "NumericLessThan",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NumericLessThan':{'berth:count':10}}"))},
     .key = "berth:count",
     .vals = {"5"},
     .expect = ALLOWED},
    {.name = "NumericGreaterThan",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NumericGreaterThan':{'berth:count':'10'}}"))},
     .key = "berth:count",
     .vals = {"5"},
     .expect = DENIED},
    {.name = "NumericEquals with a real",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NumericEquals':{'berth:count':5.0}}"))},
     .key = "berth:count",
     .vals = {"5"},
     .expect = ALLOWED},
    {.name = "NumericNotEquals",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NumericNotEquals':{'berth:count':['4','5']}}"))},
     .key = "berth:count",
     .vals = {"5"},
     .expect = DENIED},
    {.name = "NumericLessThanEquals",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NumericLessThanEquals':{'berth:count':'5'}}"))},
     .key = "berth:count",
     .vals = {"5"},
     .expect = ALLOWED},
    {.name = "NumericGreaterThanEquals",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NumericGreaterThanEquals':{'berth:count':'6'}}"))},
     .key = "berth:count",
     .vals = {"5"},
     .expect = DENIED},
    {.name = "numeric operator on a non-number",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NumericLessThan':{'berth:count':'10'}}"))},
     .key = "berth:count",
     .vals = {"five"},
     .expect = DENIED},

    /* ---- dates ---- */
    {.name = "DateLessThan aws:CurrentTime",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'DateLessThan':{'aws:CurrentTime':'2025-01-01T00:00:00Z'}}"))},
     .expect = ALLOWED},
    {.name = "DateGreaterThan aws:CurrentTime",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'DateGreaterThan':{'aws:CurrentTime':'2025-01-01T00:00:00Z'}}"))},
     .expect = DENIED},
    {.name = "DateEquals with an epoch value",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'DateEquals':{'aws:CurrentTime':'1717243200'}}"))},
     .expect = ALLOWED},
    {.name = "DateNotEquals with an offset",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'DateNotEquals':{'aws:CurrentTime':'2024-06-01T14:00:00+02:00'}}"))},
     .expect = DENIED},
    {.name = "DateLessThanEquals with a date",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'DateLessThanEquals':{'aws:CurrentTime':'2024-06-01'}}"))},
     .expect = DENIED},
    {.name = "DateGreaterThanEquals on aws:EpochTime",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'DateGreaterThanEquals':{'aws:EpochTime':'2024-06-01T12:00:00.000Z'}}"))},
     .expect = ALLOWED},

    /* ---- Bool, Binary ---- */
    {.name = "Bool true", .identity = {DOC(ALLOW_IF("ecr:*", "{'Bool':{'aws:SecureTransport':'true'}}"))}, .expect = ALLOWED},
    {.name = "Bool JSON false on a secure request",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'Bool':{'aws:SecureTransport':false}}"))},
     .expect = DENIED},
    {.name = "deny insecure transport",
     .identity = {DOC(ALLOW("ecr:*", "*") ",{'Effect':'Deny','Action':'*','Resource':'*','Condition':{'Bool':{'aws:"
                                          "SecureTransport':'false'}}}")},
     .insecure = true,
     .expect = EXPLICIT},
    {.name = "BinaryEquals",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'BinaryEquals':{'berth:blob':'QmluYXJ5'}}"))},
     .key = "berth:blob",
     .vals = {"QmluYXJ5"},
     .expect = ALLOWED},
    {.name = "BinaryEquals mismatch",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'BinaryEquals':{'berth:blob':'QmluYXJ6'}}"))},
     .key = "berth:blob",
     .vals = {"QmluYXJ5"},
     .expect = DENIED},

    /* ---- IP addresses ---- */
    {.name = "IpAddress IPv4 CIDR",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'192.0.2.0/24'}}"))},
     .ip = "192.0.2.10",
     .expect = ALLOWED},
    {.name = "IpAddress IPv4 outside",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'192.0.2.0/24'}}"))},
     .ip = "198.51.100.1",
     .expect = DENIED},
    {.name = "IpAddress list is OR'd",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':['10.0.0.0/8','198.51.100.1']}}"))},
     .ip = "198.51.100.1",
     .expect = ALLOWED},
    {.name = "NotIpAddress",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NotIpAddress':{'aws:SourceIp':'192.0.2.0/24'}}"))},
     .ip = "192.0.2.10",
     .expect = DENIED},
    {.name = "IpAddress IPv6 CIDR",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'2001:db8::/32'}}"))},
     .ip = "2001:db8:1::7",
     .expect = ALLOWED},
    {.name = "IpAddress IPv6 outside",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'2001:db8::/32'}}"))},
     .ip = "2001:db9::1",
     .expect = DENIED},
    {.name = "IpAddress IPv6 prefix not on a byte boundary",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'2001:db8:8000::/33'}}"))},
     .ip = "2001:db8:7fff::1",
     .expect = DENIED},
    {.name = "IPv4-mapped IPv6 source matches IPv4 CIDR",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'192.0.2.0/24'}}"))},
     .ip = "::ffff:192.0.2.10",
     .expect = ALLOWED},
    {.name = "IPv4 CIDR does not match IPv6",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'0.0.0.0/0'}}"))},
     .ip = "2001:db8::1",
     .expect = DENIED},
    {.name = "IpAddress without a source address",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'0.0.0.0/0'}}"))},
     .expect = DENIED},
    {.name = "NotIpAddress without a source address",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}"))},
     .expect = ALLOWED},

    /* ---- Null ---- */
    {.name = "Null true: key absent",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'Null':{'aws:RequestTag/env':'true'}}"))},
     .expect = ALLOWED},
    {.name = "Null true: key present",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'Null':{'aws:RequestTag/env':true}}"))},
     .tags = true,
     .expect = DENIED},
    {.name = "Null false: key present",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'Null':{'aws:RequestTag/env':'false'}}"))},
     .tags = true,
     .expect = ALLOWED},

    /* ---- set qualifiers ---- */
    {.name = "ForAnyValue: one tag key listed",
     .identity = {DOC(ALLOW_IF("ecr:TagResource", "{'ForAnyValue:StringEquals':{'aws:TagKeys':['env','cost']}}"))},
     .action = "ecr:TagResource",
     .tags = true,
     .expect = ALLOWED},
    {.name = "ForAnyValue: no tag key listed",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAnyValue:StringEquals':{'aws:TagKeys':['cost']}}"))},
     .tags = true,
     .expect = DENIED},
    {.name = "ForAnyValue: key absent",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAnyValue:StringEquals':{'aws:TagKeys':'env'}}"))},
     .expect = DENIED},
    {.name = "ForAnyValue:StringLike",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAnyValue:StringLike':{'aws:TagKeys':'ow*'}}"))},
     .tags = true,
     .expect = ALLOWED},
    {.name = "ForAllValues: every key listed",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAllValues:StringEquals':{'aws:TagKeys':['env','owner','cost']}}"))},
     .tags = true,
     .expect = ALLOWED},
    {.name = "ForAllValues: a key not listed",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAllValues:StringEquals':{'aws:TagKeys':['env']}}"))},
     .tags = true,
     .expect = DENIED},
    {.name = "ForAllValues: key absent is vacuously true",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAllValues:StringEquals':{'aws:TagKeys':['env']}}"))},
     .expect = ALLOWED},
    {.name = "ForAllValues:StringNotEquals",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAllValues:StringNotEquals':{'aws:TagKeys':['secret']}}"))},
     .tags = true,
     .expect = ALLOWED},
    {.name = "ForAnyValue:StringNotEquals",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAnyValue:StringNotEquals':{'aws:TagKeys':['env','owner']}}"))},
     .tags = true,
     .expect = DENIED},
    {.name = "ForAnyValue with IfExists: key absent",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'ForAnyValue:StringEqualsIfExists':{'aws:TagKeys':'env'}}"))},
     .expect = ALLOWED},
    {.name = "multi-valued explicit key without qualifier",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'berth:groups':'admins'}}"))},
     .key = "berth:groups",
     .vals = {"devs", "admins"},
     .expect = ALLOWED},

    /* ---- policy variables ---- */
    {.name = "variable in Resource",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:${aws:PrincipalAccount}:repository/${aws:username}/*"))},
     .arn = REPO_ALICE,
     .expect = ALLOWED},
    {.name = "variable in Resource, other repository",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:" ACCT ":repository/${aws:username}/*"))},
     .expect = DENIED},
    {.name = "variables are literal in 2008-10-17",
     .identity = {DOC2008(ALLOW("ecr:*", "arn:aws:ecr:*:" ACCT ":repository/${aws:username}/*"))},
     .arn = REPO_ALICE,
     .expect = DENIED},
    {.name = "variables are literal without Version",
     .identity = {"{'Statement':" ALLOW("ecr:*", "arn:aws:ecr:*:" ACCT ":repository/${aws:username}/*") "}"},
     .arn = REPO_ALICE,
     .expect = DENIED},
    {.name = "variable in a condition value",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:PrincipalArn':'arn:aws:iam::${aws:PrincipalAccount}:user/"
                                        "${aws:username}'}}"))},
     .expect = ALLOWED},
    {.name = "variable value is literal in a pattern",
     .identity = {DOC(ALLOW_IF("ecr:*", "{'StringLike':{'berth:name':'${aws:username}'}}"))},
     .key = "berth:name",
     .vals = {"alicX"},
     .expect = DENIED},
    {.name = "variable without a value matches nothing",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:" ACCT ":repository/${berth:missing}/*"))},
     .expect = DENIED},
    {.name = "variable default value",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:" ACCT ":repository/${berth:missing, ^team-a^}/*"))},
     .expect = ALLOWED},
    {.name = "${*} is a literal asterisk",
     .identity = {DOC(ALLOW("ecr:*", "arn:aws:ecr:*:" ACCT ":repository/${*}"))},
     .expect = DENIED},
    {.name = "resource policy variable for a cross-account caller",
     .identity = {DOC(ALLOW("ecr:*", "*"))},
     .resource = DOC("{'Effect':'Allow','Principal':'*','Action':'ecr:*','Condition':{'StringEquals':{'aws:"
                     "PrincipalAccount':'" OTHER "'}}}"),
     .who = BOB,
     .expect = ALLOWED},

    /* ---- document shapes ---- */
    {.name = "Statement as an object",
     .identity = {"{'Version':'2012-10-17','Statement':{'Effect':'Allow','Action':'ecr:PutImage','Resource':['*']}}"},
     .expect = ALLOWED},
    {.name = "empty Condition block", .identity = {DOC(ALLOW_IF("ecr:*", "{}"))}, .expect = ALLOWED},
};

static const char *label_of(const struct policy_decision *d)
{
    return d->label ? d->label : "(none)";
}

static void fill_request(struct policy_request *req, const struct eval_case *c, struct policy_context_key *ck,
                         const struct policy_tag *rtags, const struct policy_tag *qtags)
{
    memset(req, 0, sizeof(*req));
    switch (c->who) {
    case ALICE:
        req->principal = (struct policy_principal){POLICY_PRINCIPAL_USER, ALICE_ARN, ACCT, "alice", "AIDAALICE"};
        break;
    case BOB:
        req->principal = (struct policy_principal){POLICY_PRINCIPAL_USER, BOB_ARN, OTHER, "bob", "AIDABOB"};
        break;
    case ROOT:
        req->principal = (struct policy_principal){POLICY_PRINCIPAL_ROOT, "arn:aws:iam::" ACCT ":root", ACCT, NULL, NULL};
        break;
    case ROOT_OTHER:
        req->principal = (struct policy_principal){POLICY_PRINCIPAL_ROOT, "arn:aws:iam::" OTHER ":root", OTHER, NULL, NULL};
        break;
    }
    req->action = c->action ? c->action : "ecr:PutImage";
    req->resource = c->arn ? c->arn : REPO;
    req->resource_account = ACCT;
    req->now_ms = NOW_MS;
    req->source_ip = c->ip;
    req->secure_transport = !c->insecure;
    req->resource_tags = rtags;
    req->resource_tag_count = 1;
    if (c->tags) {
        req->request_tags = qtags;
        req->request_tag_count = 2;
    }
    if (c->key) {
        ck->key = c->key;
        ck->values = c->vals;
        ck->count = 0;
        while (ck->count < 3 && c->vals[ck->count])
            ck->count++;
        req->context = ck;
        req->context_count = 1;
    }
}

static int run_case(const struct eval_case *c)
{
    static const char *const labels[] = {"id0", "id1", "id2"};
    static const struct policy_tag rtags[] = {{"team", "a"}};
    static const struct policy_tag qtags[] = {{"env", "prod"}, {"owner", "x"}};
    struct policy *ip[3] = {NULL, NULL, NULL}, *rp = NULL, *gp = NULL;
    struct policy_attached ids[3], res, reg;
    struct policy_inputs in = {0};
    struct policy_request req;
    struct policy_context_key ck;
    struct policy_decision d;
    struct buf msg;
    int failed = 0;

    buf_init(&msg, BUF_UNLIMITED);
    for (int i = 0; i < 3 && c->identity[i]; i++) {
        if (parse_doc(&ip[i], c->identity[i], POLICY_IDENTITY) < 0) {
            printf("FAIL %s: identity policy %d rejected: %s\n", c->name, i, error_message());
            failed = 1;
            goto done;
        }
        ids[i] = (struct policy_attached){ip[i], labels[i]};
        in.identity_count = (size_t)i + 1;
    }
    in.identity = ids;
    if (c->resource) {
        if (parse_doc(&rp, c->resource, POLICY_RESOURCE) < 0) {
            printf("FAIL %s: repository policy rejected: %s\n", c->name, error_message());
            failed = 1;
            goto done;
        }
        res = (struct policy_attached){rp, "repository policy"};
        in.resource = &res;
    }
    if (c->registry) {
        if (parse_doc(&gp, c->registry, POLICY_RESOURCE) < 0) {
            printf("FAIL %s: registry policy rejected: %s\n", c->name, error_message());
            failed = 1;
            goto done;
        }
        reg = (struct policy_attached){gp, "registry policy"};
        in.registry = &reg;
    }
    fill_request(&req, c, &ck, rtags, qtags);
    if (policy_evaluate(&d, &req, &in) != 0) {
        printf("FAIL %s: evaluate failed: %s\n", c->name, error_message());
        failed = 1;
        goto done;
    }
    if (d.result != c->expect) {
        printf("FAIL %s: got %s (label %s), want %s\n", c->name, policy_result_name(d.result), label_of(&d),
               policy_result_name(c->expect));
        failed = 1;
    }
    if (c->type != POLICY_TYPE_NONE) {
        enum policy_type want = c->type == T_ROOT ? POLICY_TYPE_NONE : c->type;
        if (d.type != want) {
            printf("FAIL %s: decided by policy type %d, want %d\n", c->name, (int)d.type, (int)want);
            failed = 1;
        }
    } else if (d.type == POLICY_TYPE_NONE && c->who != ROOT) {
        printf("FAIL %s: root's implicit permission decided for a non-root caller\n", c->name);
        failed = 1;
    }
    if (c->sid && (!d.sid || strcmp(c->sid, d.sid) != 0)) {
        printf("FAIL %s: sid %s, want %s\n", c->name, d.sid ? d.sid : "(none)", c->sid);
        failed = 1;
    }
    if (d.result == POLICY_ALLOW || d.result == POLICY_EXPLICIT_DENY) {
        if (d.type != POLICY_TYPE_NONE && !d.label) {
            printf("FAIL %s: no label for the deciding policy\n", c->name);
            failed = 1;
        }
    }
    policy_decision_message(&msg, &req, &d);
    if (c->message && strcmp(c->message, msg.ptr) != 0) {
        printf("FAIL %s:\n  got  '%s'\n  want '%s'\n", c->name, msg.ptr, c->message);
        failed = 1;
    }
    if ((d.result == POLICY_ALLOW) != (msg.len == 0)) {
        printf("FAIL %s: message '%s' for %s\n", c->name, msg.ptr, policy_result_name(d.result));
        failed = 1;
    }
done:
    for (int i = 0; i < 3; i++)
        policy_free(ip[i]);
    policy_free(rp);
    policy_free(gp);
    buf_release(&msg);
    return failed;
}

static void test_evaluation_table(void **state)
{
    int failed = 0;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        failed += run_case(&cases[i]);
    printf("evaluation table: %zu cases, %d failed\n", sizeof(cases) / sizeof(cases[0]), failed);
    assert_int_equal(failed, 0);
}

/* The decision names the deciding policy's label and statement. */
static void test_label_and_type(void **state)
{
    struct policy *p = NULL;
    struct policy_attached a;
    struct policy_inputs in = {0};
    struct policy_request req = {0};
    struct policy_decision d;
    (void)state;
    assert_int_equal(parse_doc(&p, DOC("{'Sid':'Push','Effect':'Allow','Action':'ecr:PutImage','Resource':'*'}"), POLICY_IDENTITY),
                     0);
    a = (struct policy_attached){p, "user inline policy push"};
    in.identity = &a;
    in.identity_count = 1;
    req.principal = (struct policy_principal){POLICY_PRINCIPAL_USER, ALICE_ARN, ACCT, "alice", "AIDAALICE"};
    req.action = "ecr:PutImage";
    req.resource = REPO;
    req.resource_account = ACCT;
    assert_int_equal(policy_evaluate(&d, &req, &in), 0);
    assert_int_equal(d.result, POLICY_ALLOW);
    assert_int_equal(d.type, POLICY_TYPE_IDENTITY);
    assert_string_equal(d.label, "user inline policy push");
    assert_string_equal(d.sid, "Push");
    assert_false(d.cross_account);

    req.resource = NULL;
    assert_int_equal(policy_evaluate(&d, &req, &in), E_INVALID);
    policy_free(p);
}

struct invalid_case {
    const char *doc;
    enum policy_kind kind;
    int code;
    const char *message;
};

#define SYNTAX "Syntax errors in policy."
#define VENDOR "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
#define ID POLICY_IDENTITY
#define RES POLICY_RESOURCE

static const struct invalid_case invalid[] = {
    {"", ID, E_INVALID, SYNTAX},
    {"not json", ID, E_INVALID, SYNTAX},
    {"[]", ID, E_INVALID, SYNTAX},
    {"{'Version':'2012-10-17'}", ID, E_INVALID, SYNTAX},
    {"{'Version':'2012-10-17','Statement':[]}", ID, E_INVALID, SYNTAX},
    {"{'Version':'2012-10-17','Statement':'x'}", ID, E_INVALID, SYNTAX},
    {"{'Version':'2012-10-17','Statement':['x']}", ID, E_INVALID, SYNTAX},
    {"{'Version':'2012-10-18','Statement':" ALLOW("ecr:*", "*") "}", ID, E_INVALID, "The policy failed legacy parsing"},
    {"{'Version':20121017,'Statement':" ALLOW("ecr:*", "*") "}", ID, E_INVALID, "The policy failed legacy parsing"},
    {"{'Version':'2012-10-17','Statements':" ALLOW("ecr:*", "*") "}", ID, E_INVALID, SYNTAX},
    {"{'Version':'2012-10-17','Id':7,'Statement':" ALLOW("ecr:*", "*") "}", ID, E_INVALID, SYNTAX},
    {"{'Version':'2012-10-17','Version':'2012-10-17','Statement':" ALLOW("ecr:*", "*") "}", ID, E_INVALID, SYNTAX},
    {DOC(RALLOW("'*'", "ecr:*")), ID, E_INVALID, "Policy document should not specify a principal."},
    {DOC("{'Effect':'Allow','NotPrincipal':'*','Action':'ecr:*','Resource':'*'}"), ID, E_INVALID,
     "Policy document should not specify a principal."},
    {DOC("{'Effect':'Allow','Action':'ecr:*'}"), RES, E_INVALID, "Missing required field Principal"},
    {DOC("{'Action':'ecr:*','Resource':'*'}"), ID, E_INVALID, "Missing required field Effect"},
    {DOC("{'Effect':'Permit','Action':'ecr:*','Resource':'*'}"), ID, E_INVALID, SYNTAX},
    {DOC("{'Effect':'allow','Action':'ecr:*','Resource':'*'}"), ID, E_INVALID, SYNTAX},
    {DOC("{'Effect':'Allow','Resource':'*'}"), ID, E_INVALID, "Policy statement must contain actions."},
    {DOC("{'Effect':'Allow','Action':[],'Resource':'*'}"), ID, E_INVALID, "Policy statement must contain actions."},
    {DOC("{'Effect':'Allow','Action':'ecr:*'}"), ID, E_INVALID, "Policy statement must contain resources."},
    {DOC("{'Effect':'Allow','Action':'ecr:*','Resource':[]}"), ID, E_INVALID, "Policy statement must contain resources."},
    {DOC("{'Effect':'Allow','Action':'ecr:*','NotAction':'ecr:A','Resource':'*'}"), ID, E_INVALID, SYNTAX},
    {DOC("{'Effect':'Allow','Action':'ecr:*','Resource':'*','NotResource':'*'}"), ID, E_INVALID, SYNTAX},
    {DOC("{'Effect':'Allow','Action':'ecr:*','Resources':'*'}"), ID, E_INVALID, SYNTAX},
    {DOC("{'Effect':'Allow','Action':5,'Resource':'*'}"), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW("PutImage", "*")), ID, E_INVALID, VENDOR},
    {DOC(ALLOW(":PutImage", "*")), ID, E_INVALID, VENDOR},
    {DOC(ALLOW("ecr:Put:Image", "*")), ID, E_INVALID, "Actions/Condition can contain only one colon."},
    {DOC(ALLOW("ec*:PutImage", "*")), ID, E_INVALID, "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards"},
    {DOC(ALLOW("ecr:*", "repository/web")), ID, E_INVALID, "Resource repository/web must be in ARN format or \"*\"."},
    {DOC(ALLOW("ecr:*", "arn:aws:ecr")), ID, E_INVALID, "Resource arn:aws:ecr must be in ARN format or \"*\"."},
    {DOC(ALLOW("ecr:*", "arn:aws:e*:us-east-1:1:repository/x")), ID, E_INVALID,
     "Resource vendor must be fully qualified and cannot contain regexes."},
    {DOC(ALLOW_IF("ecr:*", "{'StringEqualz':{'aws:username':'a'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'NullIfExists':{'aws:username':'true'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'ForAnyValue:Null':{'aws:username':'true'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'StringEquals':'aws:username'}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "['StringEquals']")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'username':'a'}}")), ID, E_INVALID, VENDOR},
    {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':[]}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':{'a':'b'}}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'StringEquals':{'aws:username':null}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'NumericLessThan':{'berth:n':'abc'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'NumericLessThan':{'berth:n':'0x10'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'DateLessThan':{'aws:CurrentTime':'yesterday'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'DateLessThan':{'aws:CurrentTime':'2024-02-30'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'300.0.0.0/8'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'10.0.0.0/33'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'IpAddress':{'aws:SourceIp':'2001:db8::/129'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'BinaryEquals':{'berth:b':'***'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'Bool':{'aws:SecureTransport':'yes'}}")), ID, E_INVALID, SYNTAX},
    {DOC(ALLOW_IF("ecr:*", "{'Null':{'aws:username':'maybe'}}")), ID, E_INVALID, SYNTAX},
    {DOC(RALLOW("{'AWS':'arn:aws:iam::*:root'}", "ecr:*")), RES, E_INVALID,
     "Invalid principal in policy: \"AWS\":\"arn:aws:iam::*:root\""},
    {DOC(RALLOW("{'AWS':'alice'}", "ecr:*")), RES, E_INVALID, "Invalid principal in policy: \"AWS\":\"alice\""},
    {DOC(RALLOW("{'AWS':'arn:aws:iam::1234:user/x'}", "ecr:*")), RES, E_INVALID,
     "Invalid principal in policy: \"AWS\":\"arn:aws:iam::1234:user/x\""},
    {DOC(RALLOW("{'AWS':'arn:aws:iam::" ACCT ":group/devs'}", "ecr:*")), RES, E_INVALID,
     "Invalid principal in policy: \"AWS\":\"arn:aws:iam::" ACCT ":group/devs\""},
    {DOC(RALLOW("{'CanonicalUser':'abc'}", "ecr:*")), RES, E_INVALID, "Invalid principal in policy: \"CanonicalUser\":\"abc\""},
    {DOC(RALLOW("{'Service':'*.amazonaws.com'}", "ecr:*")), RES, E_INVALID,
     "Invalid principal in policy: \"Service\":\"*.amazonaws.com\""},
    {DOC(RALLOW("'alice'", "ecr:*")), RES, E_INVALID, "Invalid principal in policy: \"alice\""},
    {DOC(RALLOW("{}", "ecr:*")), RES, E_INVALID, SYNTAX},
    {DOC(RALLOW("{'AWS':[]}", "ecr:*")), RES, E_INVALID, SYNTAX},
    {DOC("{'Effect':'Allow','Principal':'*','NotPrincipal':'*','Action':'ecr:*'}"), RES, E_INVALID, SYNTAX},
    {DOC("{'Sid':'A','Effect':'Allow','Action':'ecr:*','Resource':'*'},{'Sid':'A','Effect':'Deny','Action':'ecr:*',"
         "'Resource':'*'}"),
     ID, E_INVALID, "Statement IDs (SID) in a single policy must be unique."},
    {DOC("{'Sid':'my sid','Effect':'Allow','Action':'ecr:*','Resource':'*'}"), ID, E_INVALID,
     "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"},
    {DOC("{'Sid':7,'Effect':'Allow','Action':'ecr:*','Resource':'*'}"), ID, E_INVALID, SYNTAX},
};

static void test_invalid_documents(void **state)
{
    int failed = 0;
    (void)state;
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        struct policy *p = (struct policy *)1;
        int rc;
        error_clear();
        rc = parse_doc(&p, invalid[i].doc, invalid[i].kind);
        if (rc != invalid[i].code || p != NULL || strcmp(error_message(), invalid[i].message) != 0) {
            printf("FAIL invalid[%zu] %s\n  rc %d, message '%s'\n  want %d, '%s'\n", i, invalid[i].doc, rc, error_message(),
                   invalid[i].code, invalid[i].message);
            failed++;
        }
        policy_free(p);
    }
    printf("invalid documents: %zu cases, %d failed\n", sizeof(invalid) / sizeof(invalid[0]), failed);
    assert_int_equal(failed, 0);
}

static const struct {
    const char *doc;
    enum policy_kind kind;
    const char *version;
    size_t statements;
} valid[] = {
    {DOC(ALLOW("ecr:*", "*")), ID, "2012-10-17", 1},
    {DOC2008(ALLOW("ecr:*", "*")), ID, "2008-10-17", 1},
    {"{'Statement':" ALLOW("ecr:*", "*") "}", ID, "2008-10-17", 1},
    {"{'Id':'x','Version':'2012-10-17','Statement':[" ALLOW("ecr:*", "*") "," ALLOW("s3:Get*", "arn:aws:s3:::b/*") "]}", ID,
     "2012-10-17", 2},
    /* a typical ECR repository policy: no Resource, Sid with spaces */
    {"{'Version':'2008-10-17','Statement':[{'Sid':'allow pull','Effect':'Allow','Principal':{'AWS':['arn:aws:iam::" OTHER
     ":root','" ACCT "']},'Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']}]}",
     RES, "2008-10-17", 1},
    {DOC(RALLOW("{'Service':'codebuild.amazonaws.com','AWS':'*'}", "ecr:*")), RES, "2012-10-17", 1},
    {DOC(RALLOW("{'AWS':'arn:aws:sts::" OTHER ":assumed-role/ci/session'}", "ecr:*")), RES, "2012-10-17", 1},
    {DOC(ALLOW_IF("ecr:*", "{'stringequals':{'aws:username':'a'},'ForAllValues:StringLikeIfExists':{'aws:TagKeys':"
                           "'a*'},'BinaryEquals':{'k:b':'QmluYXJ5'},'IpAddress':{'aws:SourceIp':['::/0','10.1.2.3']}}")),
     ID, "2012-10-17", 1},
    {DOC(ALLOW_IF("ecr:*", "{'Bool':{'k:b':'${aws:username}'},'DateLessThan':{'aws:CurrentTime':'2024-01-01T00:00Z'}}")), ID,
     "2012-10-17", 1},
};

static void test_valid_documents(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        struct policy *p = NULL;
        int rc = parse_doc(&p, valid[i].doc, valid[i].kind);
        if (rc != 0)
            printf("valid[%zu] rejected: %s\n", i, error_message());
        assert_int_equal(rc, 0);
        assert_string_equal(policy_version(p), valid[i].version);
        assert_int_equal(policy_statement_count(p), valid[i].statements);
        assert_int_equal(policy_kind(p), valid[i].kind);
        policy_free(p);
    }
}

static void test_size_limits(void **state)
{
    struct buf doc;
    struct policy *p = NULL;
    size_t base;
    (void)state;
    buf_init(&doc, BUF_UNLIMITED);
    /* pad the Sid so the document has exactly 6144 non-whitespace characters */
    base = policy_size("{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"\",\"Effect\":\"Allow\",\"Action\":"
                       "\"ecr:*\",\"Resource\":\"*\"}}",
                       strlen("{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"\",\"Effect\":\"Allow\",\"Action\":"
                              "\"ecr:*\",\"Resource\":\"*\"}}"),
                       false);
    buf_puts(&doc, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Sid\": \"");
    for (size_t i = 0; i < 6144 - base; i++)
        buf_putc(&doc, 'A');
    buf_puts(&doc, "\", \"Effect\": \"Allow\", \"Action\": \"ecr:*\", \"Resource\": \"*\"}\n}\n");
    assert_int_equal(policy_size(doc.ptr, doc.len, false), 6144);
    assert_true(policy_size(doc.ptr, doc.len, true) > 6144);
    assert_int_equal(policy_parse(&p, doc.ptr, doc.len, POLICY_IDENTITY, POLICY_LIMIT_MANAGED), 0);
    policy_free(p);
    /* whitespace counts for ECR's limit */
    assert_int_equal(policy_parse(&p, doc.ptr, doc.len, POLICY_IDENTITY, (struct policy_limit){6144, true}), E_TOOBIG);
    assert_string_equal(error_message(), "Cannot exceed quota for PolicySize: 6144");
    /* one more character */
    buf_reset(&doc);
    buf_puts(&doc, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"");
    for (size_t i = 0; i < 6145 - base; i++)
        buf_putc(&doc, 'A');
    buf_puts(&doc, "\",\"Effect\":\"Allow\",\"Action\":\"ecr:*\",\"Resource\":\"*\"}}");
    assert_int_equal(policy_parse(&p, doc.ptr, doc.len, POLICY_IDENTITY, POLICY_LIMIT_MANAGED), E_TOOBIG);
    assert_null(p);
    assert_int_equal(policy_parse(&p, doc.ptr, doc.len, POLICY_IDENTITY, POLICY_LIMIT_REPOSITORY), 0);
    policy_free(p);
    assert_int_equal(policy_parse(&p, doc.ptr, doc.len, POLICY_IDENTITY, POLICY_LIMIT_USER_INLINE), E_TOOBIG);
    /* characters, not bytes */
    assert_int_equal(policy_size("\xc3\xa9t\xc3\xa9", 5, true), 3);
    buf_release(&doc);
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(policy_glob("*", 1, "", 0, 0));
    assert_true(policy_glob("a*b*c", 5, "aXXbYYc", 7, 0));
    assert_false(policy_glob("a*b*c", 5, "aXXbYY", 6, 0));
    assert_true(policy_glob("a?c", 3, "abc", 3, 0));
    assert_true(policy_glob("a?c", 3,
                            "a\xc3\xa9"
                            "c",
                            4, 0));
    assert_false(policy_glob("abc", 3, "ABC", 3, 0));
    assert_true(policy_glob("abc", 3, "ABC", 3, POLICY_GLOB_NOCASE));
    assert_true(policy_glob("a\\*", 3, "a*", 2, POLICY_GLOB_ESCAPES));
    assert_false(policy_glob("a\\*", 3, "ab", 2, POLICY_GLOB_ESCAPES));
    assert_true(policy_glob("a\\*", 3, "a\\b", 3, 0));
    /* many stars against a long non-matching string stays fast */
    {
        char pat[64], s[4097];
        for (int i = 0; i < 63; i++)
            pat[i] = i % 2 ? '*' : 'a';
        pat[63] = 'b';
        memset(s, 'a', 4096);
        s[4096] = '\0';
        assert_false(policy_glob(pat, 64, s, 4096, 0));
    }
    assert_true(policy_resource_match("arn:aws:ecr:*:1:repository/*", "arn:aws:ecr:us-east-1:1:repository/a:b"));
    assert_true(policy_resource_match("arn:aws:ecr:*:repository/*", "arn:aws:ecr:us-east-1:1:repository/a"));
    assert_false(policy_resource_match("arn:aws:ecr:u*1:repository/*", "arn:aws:ecr:us-east-1:1:repository/a"));
    assert_true(policy_resource_match("arn:aws:*", "arn:aws:ecr:us-east-1:1:repository/a"));
    assert_false(policy_resource_match("arn:aws:ecr", "arn:aws:ecr:us-east-1:1:repository/a"));
    assert_true(policy_resource_match("arn:aws:s3:::b\\*", "arn:aws:s3:::b*"));
    assert_false(policy_resource_match("arn:aws:s3:::b\\*", "arn:aws:s3:::b:c"));
    assert_true(policy_resource_match("*", "*"));
    /* many trailing-star segments against a short ARN stays fast */
    {
        struct buf pat;
        buf_init(&pat, BUF_UNLIMITED);
        for (int i = 0; i < 1000; i++)
            buf_puts(&pat, "*:");
        buf_puts(&pat, "x");
        assert_false(policy_resource_match(pat.ptr, "arn:aws:ecr:us-east-1:1:repository/a"));
        buf_reset(&pat);
        for (int i = 0; i < 5; i++)
            buf_puts(&pat, "a*:");
        buf_puts(&pat, "x");
        assert_false(policy_resource_match(pat.ptr, "a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:a:y"));
        buf_release(&pat);
    }
    assert_true(policy_arn_like("arn:aws:iam::*:user/*", "arn:aws:iam::1:user/a:b"));
    assert_false(policy_arn_like("arn:aws:*:user/a", "arn:aws:iam::1:user/a"));
    assert_false(policy_arn_like("arn:aws:iam::1:user/a", "not-an-arn"));
    assert_true(policy_arn_like("*", "anything"));
}

static void test_expand(void **state)
{
    struct policy_ctx_entry entries[2];
    char *one[] = {"alice*?"};
    char *two[] = {"a", "b"};
    struct policy_ctx ctx = {entries, 2, 2};
    struct buf b;
    (void)state;
    entries[0] = (struct policy_ctx_entry){"aws:username", one, 1};
    entries[1] = (struct policy_ctx_entry){"berth:multi", two, 2};
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(policy_expand(&b, "u/${AWS:UserName}/*", &ctx, true, POLICY_EXPAND_PATTERN), 0);
    assert_string_equal(b.ptr, "u/alice\\*\\?/*");
    buf_reset(&b);
    assert_int_equal(policy_expand(&b, "u/${aws:username}/${*}${?}${$}", &ctx, true, POLICY_EXPAND_LITERAL), 0);
    assert_string_equal(b.ptr, "u/alice*?/*?$");
    buf_reset(&b);
    assert_int_equal(policy_expand(&b, "${berth:multi}", &ctx, true, POLICY_EXPAND_LITERAL), E_NOTFOUND);
    buf_reset(&b);
    assert_int_equal(policy_expand(&b, "${berth:none, 'x y'}", &ctx, true, POLICY_EXPAND_LITERAL), 0);
    assert_string_equal(b.ptr, "x y");
    buf_reset(&b);
    assert_int_equal(policy_expand(&b, "${aws:username}", &ctx, false, POLICY_EXPAND_LITERAL), 0);
    assert_string_equal(b.ptr, "${aws:username}");
    buf_reset(&b);
    assert_int_equal(policy_expand(&b, "a\\b${unclosed", &ctx, true, POLICY_EXPAND_PATTERN), 0);
    assert_string_equal(b.ptr, "a\\\\b${unclosed");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evaluation_table), cmocka_unit_test(test_label_and_type), cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_valid_documents),  cmocka_unit_test(test_size_limits),    cmocka_unit_test(test_glob),
        cmocka_unit_test(test_expand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
