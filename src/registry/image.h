/*
 * Putting an image: the one place where a manifest becomes an image of a
 * repository, shared by the /v2 manifest PUT and ECR's PutImage. It checks
 * the manifest, everything it references, tag immutability (with exclusion
 * filters) and the image quotas, then stores it in one transaction. Each
 * surface turns the failure into its own protocol's error.
 */
#ifndef BERTH_REGISTRY_IMAGE_H
#define BERTH_REGISTRY_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/digest.h"
#include "store/store.h"

enum image_failure {
    IMG_OK = 0,
    IMG_INVALID,          /* not a manifest we take (detail says why) */
    IMG_DIGEST_MISMATCH,  /* the digest asked for is not the content's */
    IMG_BLOB_UNKNOWN,     /* a config or layer is not in the repository */
    IMG_MANIFEST_UNKNOWN, /* a child manifest is not in the repository */
    IMG_TAG_IMMUTABLE,    /* the tag exists on another image and may not move */
    IMG_ALREADY_EXISTS,   /* the same manifest already carries this tag (ECR) */
    IMG_LIMIT,            /* images per repository or tags per image */
    IMG_INTERNAL,
};

struct image_put_result {
    enum image_failure failure;
    char digest[DIGEST_MAX];
    char missing[DIGEST_MAX]; /* the unknown blob or manifest */
    char subject[DIGEST_MAX]; /* "" when the manifest has none */
    const char *media_type;   /* canonical */
    bool created;             /* a new manifest (not only a tag) */
};

struct image_limits {
    long long max_images; /* per repository; 0 = none */
    long long max_tags;   /* per image; 0 = none */
};
void image_set_limits(const struct image_limits *l);

/* Stores body as an image of repo, tagged with tag (may be NULL).
 * expect_digest (may be NULL) must equal the content's digest; its
 * algorithm picks the hash. content_type may be NULL. Returns 0, or a
 * negative E_* with out->failure saying which failure and the detail set. */
int image_put(struct image_put_result *out, const struct repo *repo, const char *body, size_t n, const char *content_type,
              const char *tag, const char *expect_digest);

/* Is tag immutable in repo (mutability setting and exclusion filters)? */
bool image_tag_immutable(const struct repo *repo, const char *tag);

#endif
