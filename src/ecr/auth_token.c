/*
 * This module implements GetAuthorizationToken: base64("AWS:" + token) for
 * each requested registry (or the caller's), valid for the configured
 * hours (12 by default, as ECR), with the proxyEndpoint clients log in to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "core/error.h"
#include "core/util.h"
#include "ecr/ops.h"

int op_get_authorization_token(struct ecr_call *c)
{
    json_t *ids = json_object_get(c->in, "registryIds");
    json_t *list = json_array();
    size_t n = json_is_array(ids) && json_array_size(ids) ? json_array_size(ids) : 1;
    char *token = NULL;
    int64_t expires;
    int rc = auth_mint_registry_token(&c->who, &token, &expires);
    if (rc < 0) {
        json_decref(list);
        return ecr_fail_internal(c, rc);
    }
    char *b64 = token_authorization_data(token);
    for (size_t i = 0; i < n; i++) {
        const char *acct = json_is_array(ids) && json_array_size(ids) ? json_string_value(json_array_get(ids, i))
                                                                         : c->who.account_id;
        char host[300], endpoint[320];
        ecr_registry_host(host, sizeof(host), c, acct);
        snprintf(endpoint, sizeof(endpoint), "%s://%s", c->r->secure ? "https" : "http", host);
        json_array_append_new(list, json_pack("{s:s,s:o,s:s}", "authorizationToken", b64, "expiresAt", ecr_time(expires),
                                              "proxyEndpoint", endpoint));
    }
    json_object_set_new(c->out, "authorizationData", list);
    free(b64);
    free(token);
    return 0;
}
