/*
 * Unit tests for the presigned blob URLs of src/auth/auth.c: a URL reads
 * (GET, HEAD) the one blob it names until it expires, and nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/keystore.h"
#include "core/error.h"

#define NOW 1795435200 /* 2026-11-23T12:00:00Z */
#define ACCOUNT "123456789012"
#define REPO "team-a/web-app"
#define DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define AKID "AKIAIOSFODNN7EXAMPLE"

static char expires[32], sig[80];
static char dir[] = "/tmp/berth-presign-XXXXXX";

/* Mints a URL valid until NOW + 3600 and keeps its expiry and signature. */
static int setup(void **state)
{
    char query[512];
    struct principal p;
    if (!mkdtemp(dir) || keystore_open(dir, NULL) < 0)
        return -1;
    memset(&p, 0, sizeof(p));
    snprintf(p.access_key_id, sizeof(p.access_key_id), "%s", AKID);
    auth_presign_blob(query, sizeof(query), &p, ACCOUNT, REPO, DIGEST, NOW + 3600);
    if (sscanf(query, "X-Berth-Account=" ACCOUNT "&X-Berth-Credential=" AKID "&X-Berth-Expires=%31[0-9]&X-Berth-Signature=%79s",
               expires, sig) != 2)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char path[256];
    keystore_close();
    snprintf(path, sizeof(path), "%s/keys/master.key", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/keys", dir);
    rmdir(path);
    rmdir(dir);
    return 0;
}

static int verify(const char *method, const char *akid, const char *exp, const char *s, const char *account, const char *name,
                  const char *digest, int64_t now)
{
    return auth_presign_verify(method, akid, exp, s, account, name, digest, now);
}

static void test_reads_until_expiry(void **state)
{
    assert_int_equal(strlen(sig), 64);
    assert_int_equal(verify("GET", AKID, expires, sig, ACCOUNT, REPO, DIGEST, NOW), 0);
    assert_int_equal(verify("HEAD", AKID, expires, sig, ACCOUNT, REPO, DIGEST, NOW), 0);
    assert_int_equal(verify("GET", AKID, expires, sig, ACCOUNT, REPO, DIGEST, NOW + 3600), 0);
    assert_int_equal(verify("GET", AKID, expires, sig, ACCOUNT, REPO, DIGEST, NOW + 3601), E_UNAUTH);
    assert_non_null(strstr(error_message(), "expired"));
}

static void test_no_other_method(void **state)
{
    static const char *const methods[] = {"DELETE", "PUT", "POST", "PATCH", "OPTIONS", "get", ""};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        assert_int_equal(verify(methods[i], AKID, expires, sig, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
        assert_non_null(strstr(error_message(), "GET and HEAD only"));
    }
}

static void test_one_blob_of_one_repository(void **state)
{
    char later[32];
    snprintf(later, sizeof(later), "%lld", (long long)NOW + 7200);
    assert_int_equal(verify("GET", AKID, expires, sig, ACCOUNT, REPO,
                            "sha256:2222222222222222222222222222222222222222222222222222222222222222", NOW),
                     E_UNAUTH);
    assert_int_equal(verify("GET", AKID, expires, sig, ACCOUNT, "team-a/other", DIGEST, NOW), E_UNAUTH);
    assert_int_equal(verify("GET", AKID, expires, sig, "210987654321", REPO, DIGEST, NOW), E_UNAUTH);
    assert_int_equal(verify("GET", "AKIAOTHERKEY00000000", expires, sig, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    assert_int_equal(verify("GET", AKID, later, sig, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    /* the fields are length-prefixed: moving a boundary changes the MAC */
    assert_int_equal(verify("GET", AKID, expires, sig, ACCOUNT "\n14:team-a", "web-app", DIGEST, NOW), E_UNAUTH);
}

static void test_malformed(void **state)
{
    char flipped[80];
    snprintf(flipped, sizeof(flipped), "%s", sig);
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    assert_int_equal(verify("GET", AKID, expires, flipped, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    assert_non_null(strstr(error_message(), "does not match"));
    flipped[10] = sig[10];
    flipped[63] = '\0';
    assert_int_equal(verify("GET", AKID, expires, flipped, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    assert_int_equal(verify("GET", NULL, expires, sig, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    assert_int_equal(verify("GET", AKID, NULL, sig, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    assert_int_equal(verify("GET", AKID, expires, NULL, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    assert_int_equal(verify("GET", AKID, "-5", sig, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    assert_int_equal(verify("GET", AKID, "99999999999999999999999", sig, ACCOUNT, REPO, DIGEST, NOW), E_UNAUTH);
    char huge[2048];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(verify("GET", AKID, expires, sig, ACCOUNT, huge, DIGEST, NOW), E_UNAUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_until_expiry),
        cmocka_unit_test(test_no_other_method),
        cmocka_unit_test(test_one_blob_of_one_repository),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
