/*
 * Unit tests for src/scan/apk.c: Alpine's installed database with the
 * fields it really has, origins (the aport) kept as source, stanzas
 * without a name or version skipped, CRLF and a missing final newline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan/scan.h"

static const char installed[] = "C:Q1Zx1fV0bJ4qGg1uUa6Z0pA0e6v8w=\n"
                                "P:musl\n"
                                "V:1.2.4_git20230717-r4\n"
                                "A:x86_64\n"
                                "S:407353\n"
                                "I:667648\n"
                                "T:the musl c library (libc) implementation\n"
                                "U:https://musl.libc.org/\n"
                                "L:MIT\n"
                                "o:musl\n"
                                "m:Natanael Copa <ncopa@alpinelinux.org>\n"
                                "t:1705324413\n"
                                "F:lib\n"
                                "R:libc.musl-x86_64.so.1\n"
                                "\n"
                                "P:libcrypto3\n"
                                "V:3.1.4-r5\n"
                                "o:openssl\n"
                                "D:so:libc.musl-x86_64.so.1\n"
                                "\n"
                                "P:no-version\n"
                                "o:x\n"
                                "\n"
                                "V:2-r0\n"
                                "o:no-name\n"
                                "\n"
                                "\n"
                                "P:busybox\r\n"
                                "V:1.36.1-r15\r\n"
                                "\r\n"
                                "P:bad name\n"
                                "V:1\n"
                                "\n"
                                "P:zlib\n"
                                "V:1.3.1-r0\n"
                                "X\n"
                                "o:zlib";

static void packages(void **state)
{
    struct inventory inv;
    inventory_init(&inv);
    assert_int_equal(apk_parse_installed(&inv, installed, sizeof(installed) - 1), 0);
    inventory_finish(&inv);
    assert_int_equal(inv.npkgs, 4);
    const char *want[4][3] = {{"busybox", "1.36.1-r15", "busybox"},
                              {"libcrypto3", "3.1.4-r5", "openssl"},
                              {"musl", "1.2.4_git20230717-r4", "musl"},
                              {"zlib", "1.3.1-r0", "zlib"}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(inv.pkgs[i].format, PKG_APK);
        assert_string_equal(inv.pkgs[i].name, want[i][0]);
        assert_string_equal(inv.pkgs[i].version, want[i][1]);
        assert_string_equal(inv.pkgs[i].source_name, want[i][2]);
        assert_string_equal(inv.pkgs[i].source_version, want[i][1]);
    }
    inventory_release(&inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(packages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
