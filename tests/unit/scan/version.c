/*
 * Unit tests for src/scan/version.c: the cases each package manager
 * documents or tests itself -- Debian Policy 5.6.12's '~' ordering and
 * dpkg's epoch/revision rules, apk-tools' suffix and revision grammar, and
 * rpm's rpmvercmp table (tests/rpmvercmp.at: '~', '^', alphanumeric
 * segments, leading zeros, separators) -- plus versions seen in real
 * advisories. Every pair is checked in both directions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scan/version.h"

struct vcase {
    const char *a, *b;
    int want;
};

static int norm(int v)
{
    return v < 0 ? -1 : v > 0;
}

static void check(enum version_kind kind, const struct vcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int got = norm(version_compare(kind, c[i].a, c[i].b));
        int back = norm(version_compare(kind, c[i].b, c[i].a));
        if (got != c[i].want || back != -c[i].want)
            fail_msg("kind %d: '%s' vs '%s' gave %d (reverse %d), want %d", (int)kind, c[i].a, c[i].b, got, back, c[i].want);
    }
}

#define CHECK(kind, cases) check(kind, cases, sizeof(cases) / sizeof(cases[0]))

static void test_dpkg(void **state)
{
    static const struct vcase cases[] = {
        /* Debian Policy: ~~ < ~~a < ~ < (nothing) < a */
        {"1.0~~", "1.0~~a", -1},
        {"1.0~~a", "1.0~", -1},
        {"1.0~", "1.0", -1},
        {"1.0", "1.0a", -1},
        {"1.0~rc1", "1.0", -1},
        {"1.0~rc1", "1.0~rc2", -1},
        /* letters sort before non-letters */
        {"1.0a", "1.0+", -1},
        {"1.0+dfsg", "1.0", 1},
        {"1.0.", "1.0a", 1},
        /* numbers are numbers */
        {"1.2.3", "1.2.10", -1},
        {"1.002", "1.2", 0},
        {"00", "0", 0},
        /* epochs */
        {"1:1.0", "2.0", 1},
        {"0:1.0", "1.0", 0},
        {"2:0.1", "10:0.1", -1},
        /* revisions: none equals 0 */
        {"1.0-1", "1.0-2", -1},
        {"1.0", "1.0-0", 0},
        {"1.0-1", "1.0", 1},
        /* the upstream part may contain hyphens: the revision follows the last */
        {"1.0-beta-1", "1.0-beta-2", -1},
        {"1.0-beta-1", "1.0-1", 1},
        /* real advisories */
        {"3.0.11-1~deb12u1", "3.0.11-1", -1},
        {"3.0.11-1~deb12u2", "3.0.11-1~deb12u1", 1},
        {"1.1.1f-1ubuntu2.21", "1.1.1f-1ubuntu2.20", 1},
        {"2.30-21ubuntu1~18.04.4", "2.30-21ubuntu1~18.04.8", -1},
        {"1.0.2g-1ubuntu4.20+esm11", "1.0.2g-1ubuntu4.20+esm10", 1},
        {"1.0.2g-1ubuntu4.20+esm1", "1.0.2g-1ubuntu4.20", 1},
        {"0~20191122.bd85bf54-2ubuntu3.5", "2021.08~rc0-2", -1},
        {"2022.02~rc1-1ubuntu1", "2022.02-1", -1},
        {"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
        {"", "0", 0},
        {"", "a", -1},
    };
    (void)state;
    CHECK(VERSION_DPKG, cases);
}

static void test_apk(void **state)
{
    static const struct vcase cases[] = {
        {"2.34", "0.1.0_alpha", 1},
        {"0.1.0_alpha", "0.1.0_alpha", 0},
        {"0.1.0_alpha", "0.1.3_alpha", -1},
        {"0.1.0_alpha2", "0.1.0_alpha", 1},
        /* pre-release suffixes before the bare version, post-release after */
        {"1.0_alpha", "1.0_beta", -1},
        {"1.0_beta", "1.0_pre", -1},
        {"1.0_pre", "1.0_rc", -1},
        {"1.0_rc1", "1.0", -1},
        {"1.0", "1.0_cvs", -1},
        {"1.0_cvs", "1.0_svn", -1},
        {"1.0_svn", "1.0_git", -1},
        {"1.0_git", "1.0_hg", -1},
        {"1.0_hg", "1.0_p", -1},
        {"1.0", "1.0_p1", -1},
        {"1.0_p1", "1.0_p2", -1},
        {"1.0_rc1", "1.0_rc10", -1},
        {"1.0_alpha_p1", "1.0_alpha", 1},
        /* revisions */
        {"1.0-r1", "1.0-r0", 1},
        {"1.0-r10", "1.0-r9", 1},
        {"1.36.1-r20", "1.36.1-r2", 1},
        {"1.0-r1", "1.0", 1},
        {"1.0_rc1-r5", "1.0-r0", -1},
        {"1.2.3_pre1-r1", "1.2.3_pre1", 1},
        {"1.2.3_pre1", "1.2.3_rc1", -1},
        /* one letter after the digits */
        {"1.0a", "1.0", 1},
        {"1.0b", "1.0a", 1},
        {"1.0a", "1.0.1", -1},
        {"1.0z", "1.1", -1},
        /* leading zeros compare as strings */
        {"1.01", "1.1", -1},
        {"1.001", "1.01", -1},
        {"1.0", "1.0.1", -1},
        {"3.0.13-r0", "3.0.12-r1", 1},
        {"1.2.3", "1.2.3", 0},
        {"1.10", "1.9", 1},
        /* real advisories */
        {"2.4.55-r0", "2.4.54-r5", 1},
        {"3.1.4-r5", "3.1.4-r6", -1},
        {"1.5.0_rc1", "1.5.0", -1},
        {"8.5.0-r0", "8.12.1-r0", -1},
    };
    (void)state;
    CHECK(VERSION_APK, cases);
}

static void test_rpmvercmp(void **state)
{
    /* rpm's own table (tests/rpmvercmp.at) */
    static const struct vcase cases[] = {
        {"1.0", "1.0", 0},
        {"1.0", "2.0", -1},
        {"2.0.1", "2.0.1", 0},
        {"2.0", "2.0.1", -1},
        {"2.0.1a", "2.0.1a", 0},
        {"2.0.1a", "2.0.1", 1},
        {"5.5p1", "5.5p1", 0},
        {"5.5p1", "5.5p2", -1},
        {"5.5p10", "5.5p10", 0},
        {"5.5p1", "5.5p10", -1},
        {"10xyz", "10.1xyz", -1},
        {"xyz10", "xyz10", 0},
        {"xyz10", "xyz10.1", -1},
        {"xyz.4", "xyz.4", 0},
        {"xyz.4", "8", -1},
        {"xyz.4", "2", -1},
        {"5.5p2", "5.6p1", -1},
        {"5.6p1", "6.5p1", -1},
        {"6.0.rc1", "6.0", 1},
        {"10b2", "10a1", 1},
        {"10a2", "10b2", -1},
        {"1.0aa", "1.0aa", 0},
        {"1.0a", "1.0aa", -1},
        {"10.0001", "10.0001", 0},
        {"10.0001", "10.1", 0},
        {"10.0001", "10.0039", -1},
        {"4.999.9", "5.0", -1},
        {"20101121", "20101122", -1},
        {"2_0", "2_0", 0},
        {"2.0", "2_0", 0},
        {"a", "a", 0},
        {"a+", "a+", 0},
        {"a+", "a_", 0},
        {"+a", "+a", 0},
        {"+a", "_a", 0},
        {"+_", "+_", 0},
        {"_+", "+_", 0},
        {"+", "_", 0},
        {"1.0~rc1", "1.0~rc1", 0},
        {"1.0~rc1", "1.0", -1},
        {"1.0~rc1", "1.0~rc2", -1},
        {"1.0~rc1~git123", "1.0~rc1~git123", 0},
        {"1.0~rc1~git123", "1.0~rc1", -1},
        {"1.0^", "1.0^", 0},
        {"1.0^", "1.0", 1},
        {"1.0^git1", "1.0^git1", 0},
        {"1.0^git1", "1.0", 1},
        {"1.0^git1", "1.0^git2", -1},
        {"1.0^git1", "1.01", -1},
        {"1.0^20160101", "1.0^20160101", 0},
        {"1.0^20160101", "1.0.1", -1},
        {"1.0^20160101^git1", "1.0^20160101^git1", 0},
        {"1.0^20160102", "1.0^20160101^git1", 1},
        {"1.0~rc1^git1", "1.0~rc1^git1", 0},
        {"1.0~rc1^git1", "1.0~rc1", 1},
        {"1.0^git1~pre", "1.0^git1~pre", 0},
        {"1.0^git1", "1.0^git1~pre", 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = norm(version_rpmvercmp(cases[i].a, cases[i].b));
        int back = norm(version_rpmvercmp(cases[i].b, cases[i].a));
        if (got != cases[i].want || back != -cases[i].want)
            fail_msg("rpmvercmp '%s' vs '%s' gave %d (reverse %d), want %d", cases[i].a, cases[i].b, got, back,
                     cases[i].want);
    }
}

static void test_rpm_evr(void **state)
{
    static const struct vcase cases[] = {
        {"1:1.0-1", "2.0-1", 1},
        {"0:1.0-1", "1.0-1", 0},
        {"3.0.7-27.el9", "3.0.7-28.el9", -1},
        {"1:3.0.7-27.el9", "3.0.7-28.el9", 1},
        {"1:3.0.7-27.el9", "1:3.0.7-27.el9_4", -1},
        /* a side without a release matches any release */
        {"1.0", "1.0-5", 0},
        {"1.0", "1.1-1", -1},
        {"2.35.2-43.el9", "2.35.2-9.el9", 1},
        {"1.0~rc1-1", "1.0-1", -1},
        {"7.76.1-26.el9_3.2", "7.76.1-26.el9_3.3", -1},
        {"7.76.1-26.el9_3.2", "7.76.1-26.el9", 1},
    };
    (void)state;
    CHECK(VERSION_RPM, cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dpkg),
        cmocka_unit_test(test_apk),
        cmocka_unit_test(test_rpmvercmp),
        cmocka_unit_test(test_rpm_evr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
