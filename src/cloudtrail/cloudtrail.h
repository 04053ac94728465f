/*
 * The CloudTrail surface: `aws cloudtrail lookup-events --endpoint-url`
 * reads the audit trail (audit/audit.h) with LookupEvents, over AWS JSON
 * 1.1 (X-Amz-Target com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>),
 * SigV4-signed for service cloudtrail.
 */
#ifndef BERTH_CLOUDTRAIL_CLOUDTRAIL_H
#define BERTH_CLOUDTRAIL_CLOUDTRAIL_H

#include "auth/auth.h"
#include "http/server.h"

extern const struct surface cloudtrail_surface;
/* Serves a CloudTrail request whose body is buffered, as who (the web
 * console's session: no signature), with the same authorization
 * (cloudtrail:LookupEvents) and answers. */
void cloudtrail_serve_as(struct request *r, const struct principal *who);
/* Loads the model; call once at start. */
void cloudtrail_configure(void);

#endif
