/*
 * The CloudTrail surface: `aws cloudtrail lookup-events --endpoint-url`
 * reads the audit trail (audit/audit.h) with LookupEvents, over AWS JSON
 * 1.1 (X-Amz-Target com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>),
 * SigV4-signed for service cloudtrail.
 */
#ifndef BERTH_CLOUDTRAIL_CLOUDTRAIL_H
#define BERTH_CLOUDTRAIL_CLOUDTRAIL_H

#include "http/server.h"

extern const struct surface cloudtrail_surface;
/* Loads the model; call once at start. */
void cloudtrail_configure(void);

#endif
