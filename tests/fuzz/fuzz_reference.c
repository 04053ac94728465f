/*
 * libFuzzer target for the name, tag, digest and /v2 path rules
 * (src/registry/reference.c, src/core/digest.c): the input is handed whole
 * to v2_path_parse, repo_name_valid, tag_valid and digest_validate, and the
 * pieces v2_path_parse returns are judged again, as the registry does. Any
 * answer is fine; reading outside the input, or a result that breaks the
 * grammar's invariants, is a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/digest.h"
#include "core/error.h"
#include "image/reference.h"
#include "check.h"

static bool inside(struct slice part, struct slice all)
{
    return part.len == 0 || (part.base >= all.base && part.base + part.len <= all.base + all.len);
}

static void judge_name(struct slice s)
{
    if (!repo_name_valid(s))
        return;
    CHECK(s.len >= 2 && s.len <= REPO_NAME_MAX);
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        CHECK(alnum || c == '/' || c == '.' || c == '_' || c == '-');
        if (i == 0 || i == s.len - 1)
            CHECK(alnum);
        /* no separator follows '/' or '.', nothing but '_' follows '_', and no '___' */
        if (!alnum && i + 1 < s.len) {
            char n = s.base[i + 1];
            bool nalnum = (n >= 'a' && n <= 'z') || (n >= '0' && n <= '9');
            if (c == '/' || c == '.')
                CHECK(nalnum);
            if (c == '_' && !nalnum) {
                CHECK(n == '_' && i + 2 < s.len);
                char nn = s.base[i + 2];
                CHECK((nn >= 'a' && nn <= 'z') || (nn >= '0' && nn <= '9'));
            }
            if (c == '-')
                CHECK(nalnum || n == '-');
        }
    }
}

static void judge_tag(struct slice s)
{
    if (!tag_valid(s))
        return;
    CHECK(s.len >= 1 && s.len <= TAG_MAX);
    CHECK(s.base[0] != '.' && s.base[0] != '-');
    CHECK(!memchr(s.base, '/', s.len) && !memchr(s.base, ':', s.len));
}

static void judge_digest(struct slice s)
{
    enum digest_alg alg = 0;
    int rc = digest_validate(s, &alg);
    CHECK(rc == 0 || rc == E_INVALID || rc == E_UNSUPPORTED);
    if (rc == 0) {
        CHECK(alg == DIGEST_SHA256 || alg == DIGEST_SHA512);
        CHECK(s.len == (alg == DIGEST_SHA256 ? 71u : 135u));
        CHECK(s.len < DIGEST_MAX);
        CHECK(!memchr(s.base, '/', s.len) && !memchr(s.base, '.', s.len));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice all = {(const char *)data, size};
    struct v2_path v;

    judge_name(all);
    judge_tag(all);
    judge_digest(all);
    int rc = v2_path_parse(all, &v);
    CHECK(rc == 0 || rc == E_NOTFOUND);
    if (rc == 0) {
        CHECK(v.route >= V2_BASE && v.route <= V2_REFERRERS);
        CHECK(inside(v.name, all) && inside(v.ref, all));
        CHECK(v.ref.len == 0 || !memchr(v.ref.base, '/', v.ref.len));
        if (v.route != V2_BASE && v.route != V2_CATALOG)
            CHECK(v.name.len > 0);
        if (v.route == V2_MANIFEST || v.route == V2_BLOB || v.route == V2_UPLOAD || v.route == V2_REFERRERS)
            CHECK(v.ref.len > 0);
        judge_name(v.name);
        judge_tag(v.ref);
        judge_digest(v.ref);
    }
    return 0;
}
