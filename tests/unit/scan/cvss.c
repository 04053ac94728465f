/*
 * Unit tests for src/scan/cvss.c: the CVSS v3.1 specification's example
 * vectors (section 3 of the examples document) with their published base
 * scores, v3.0 vectors, the v2 guide's examples, malformed vectors, and
 * the severity mappings at each boundary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "scan/cvss.h"

struct score_case {
    const char *vector;
    double want;
};

static void test_v3_examples(void **state)
{
    static const struct score_case cases[] = {
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1},  /* CVE-2013-1937 phpMyAdmin XSS */
        {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4},  /* CVE-2013-0375 MySQL */
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1},  /* CVE-2014-3566 POODLE */
        {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9},  /* CVE-2012-1516 VMware */
        {"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2},  /* CVE-2009-0783 Tomcat */
        {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8},  /* CVE-2012-0384 Cisco IOS */
        {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8},  /* CVE-2015-1098 iWork */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5},  /* CVE-2014-0160 Heartbleed */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},  /* CVE-2014-6271 Shellshock */
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8},  /* CVE-2008-1447 DNS */
        {"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8},  /* CVE-2014-2005 Sophos */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8},  /* CVE-2010-0467 Joomla */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N", 5.8},  /* CVE-2012-1342 Cisco */
        {"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3},  /* CVE-2013-6014 Juniper */
        {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H", 5.5},  /* CVE-2024-0727 OpenSSL, as Ubuntu's record has it */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0}, /* the maximum */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0},  /* no impact */
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
        /* temporal metrics follow and are ignored; metric order is free */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/E:P/RL:O/RC:C", 7.5},
        {"CVSS:3.1/S:U/C:H/I:N/A:N/AV:N/AC:L/PR:N/UI:N", 7.5},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = -1;
        if (cvss3_base_score(cases[i].vector, &got) != 0)
            fail_msg("'%s' refused: %s", cases[i].vector, error_message());
        if (got < cases[i].want - 1e-9 || got > cases[i].want + 1e-9)
            fail_msg("'%s' scored %.1f, want %.1f", cases[i].vector, got, cases[i].want);
    }
}

static void test_v3_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "CVSS:3.1/",
        "CVSS:2.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",         /* A missing */
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",     /* unknown value */
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", /* repeated */
        "CVSS:3.1/AV:NN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1//AC:L",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double got;
        if (cvss3_base_score(bad[i], &got) != E_INVALID)
            fail_msg("'%s' was accepted", bad[i]);
    }
}

static void test_v2(void **state)
{
    static const struct score_case cases[] = {
        {"AV:N/AC:L/Au:N/C:N/I:N/A:C", 7.8},   /* CVE-2002-0392 Apache chunked encoding */
        {"AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0},  /* CVE-2003-0818 Windows ASN.1 */
        {"AV:L/AC:H/Au:N/C:C/I:C/A:C", 6.2},   /* CVE-2003-0062 NOD32 */
        {"(AV:N/AC:L/Au:N/C:P/I:P/A:P)", 7.5}, /* in parentheses, as NVD wrote them */
        {"AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3},
        {"AV:N/AC:L/Au:N/C:N/I:N/A:N", 0.0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = -1;
        if (cvss2_base_score(cases[i].vector, &got) != 0)
            fail_msg("'%s' refused: %s", cases[i].vector, error_message());
        if (got < cases[i].want - 1e-9 || got > cases[i].want + 1e-9)
            fail_msg("'%s' scored %.1f, want %.1f", cases[i].vector, got, cases[i].want);
    }
    double got;
    assert_int_equal(cvss2_base_score("AV:N/AC:L/Au:N/C:P/I:P", &got), E_INVALID);
    assert_int_equal(cvss2_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", &got), E_INVALID);
}

static void test_severity(void **state)
{
    (void)state;
    assert_string_equal(severity_from_cvss3(0.0), "INFORMATIONAL");
    assert_string_equal(severity_from_cvss3(0.1), "LOW");
    assert_string_equal(severity_from_cvss3(3.9), "LOW");
    assert_string_equal(severity_from_cvss3(4.0), "MEDIUM");
    assert_string_equal(severity_from_cvss3(6.9), "MEDIUM");
    assert_string_equal(severity_from_cvss3(7.0), "HIGH");
    assert_string_equal(severity_from_cvss3(8.9), "HIGH");
    assert_string_equal(severity_from_cvss3(9.0), "CRITICAL");
    assert_string_equal(severity_from_cvss3(10.0), "CRITICAL");
    assert_string_equal(severity_from_priority("negligible"), "INFORMATIONAL");
    assert_string_equal(severity_from_priority("Medium"), "MEDIUM");
    assert_string_equal(severity_from_priority("low**"), "LOW");
    assert_string_equal(severity_from_priority("unimportant"), "INFORMATIONAL");
    assert_string_equal(severity_from_priority("Important"), "HIGH");
    assert_string_equal(severity_from_priority("Moderate"), "MEDIUM");
    assert_string_equal(severity_from_priority("untriaged"), "UNDEFINED");
    assert_null(severity_from_priority("bogus"));
    assert_null(severity_from_priority(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v3_examples),
        cmocka_unit_test(test_v3_malformed),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_severity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
