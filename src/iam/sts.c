/*
 * This module implements STS GetCallerIdentity: who signed the request --
 * the account, the principal's ARN and its unique id (the account id for
 * the root user, AIDA... for a user). It needs no permission, as in AWS.
 */
#include "iam/ops.h"
#include "iam/xml.h"

int op_get_caller_identity(struct iam_call *c)
{
    xml_text(&c->out, "UserId", c->who.is_root ? c->account : c->caller.id);
    xml_text(&c->out, "Account", c->account);
    xml_text(&c->out, "Arn", c->who.is_root ? c->who.arn : c->caller.arn);
    return 0;
}
