/*
 * Names, tags and the /v2 path grammar.
 *
 * Repository names follow ECR's pattern (botocore RepositoryName, a full
 * match of [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*,
 * 2 to 256 characters); tags follow the OCI distribution spec
 * ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}). A /v2 path is split into the
 * repository name and what is asked of it.
 */
#ifndef BERTH_IMAGE_REFERENCE_H
#define BERTH_IMAGE_REFERENCE_H

#include <stdbool.h>

#include "core/buf.h"

#define REPO_NAME_MAX 256
#define TAG_MAX 128

bool repo_name_valid(struct slice name);
bool tag_valid(struct slice tag);

enum v2_route {
    V2_BASE,         /* /v2/ */
    V2_CATALOG,      /* /v2/_catalog */
    V2_TAGS,         /* /v2/<name>/tags/list */
    V2_MANIFEST,     /* /v2/<name>/manifests/<reference> */
    V2_BLOB,         /* /v2/<name>/blobs/<digest> */
    V2_UPLOAD_START, /* /v2/<name>/blobs/uploads/ */
    V2_UPLOAD,       /* /v2/<name>/blobs/uploads/<uuid> */
    V2_REFERRERS,    /* /v2/<name>/referrers/<digest> */
};

struct v2_path {
    enum v2_route route;
    struct slice name; /* repository name, not yet validated */
    struct slice ref;  /* tag, digest or upload id */
};

/* Splits a decoded path that starts with /v2. E_NOTFOUND when it names no
 * route of the API. */
int v2_path_parse(struct slice path, struct v2_path *out);

#endif
