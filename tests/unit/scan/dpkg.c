/*
 * Unit tests for src/scan/dpkg.c: installed packages only (held ones too,
 * not removed ones that keep their configuration), the Source field with
 * and without its own version, continuation lines, distroless status.d
 * files without Status, malformed stanzas, and this machine's own
 * /var/lib/dpkg/status read whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan/scan.h"

static const char status[] =
    "Package: libc6\n"
    "Status: install ok installed\n"
    "Priority: optional\n"
    "Architecture: amd64\n"
    "Multi-Arch: same\n"
    "Source: glibc\n"
    "Version: 2.36-9+deb12u4\n"
    "Description: GNU C Library: Shared libraries\n"
    " Contains the standard libraries that are used by nearly all programs on\n"
    " the system.\n"
    " Package: not-a-field-this-is-a-continuation\n"
    "\n"
    "Package: libssl3\n"
    "Status: hold ok installed\n"
    "Source: openssl (3.0.11-1~deb12u2)\n"
    "Version: 3.0.11-1~deb12u2+b1\n"
    "\n"
    "Package: removed-pkg\n"
    "Status: deinstall ok config-files\n"
    "Version: 1.0-1\n"
    "\n"
    "Package: half-installed\n"
    "Status: install reinstreq half-installed\n"
    "Version: 1.0-1\n"
    "\n"
    "Package: bash\n"
    "Version: 5.2.15-2+b2\n"
    "Status: install ok installed\n"
    "\n"
    "Package: no-version\n"
    "Status: install ok installed\n"
    "\n"
    "Package: tzdata\r\n"
    "Status: install ok installed\r\n"
    "Version: 2024a-0+deb12u1\r\n"
    "Source:   tzdata   (  2024a-0+deb12u1 )  \r\n"
    "\r\n"
    "\n\n\n"
    "Package: zlib1g\n"
    "Status: install ok installed\n"
    "Source: zlib\n"
    "Version: 1:1.2.13.dfsg-1"; /* no final newline */

static void expect_pkg(const struct package *p, const char *name, const char *version, const char *src, const char *src_version)
{
    assert_int_equal(p->format, PKG_DPKG);
    assert_string_equal(p->name, name);
    assert_string_equal(p->version, version);
    assert_string_equal(p->source_name, src);
    assert_string_equal(p->source_version, src_version);
}

static void installed_only(void **state)
{
    struct inventory inv;
    inventory_init(&inv);
    assert_int_equal(dpkg_parse_status(&inv, status, sizeof(status) - 1, 0), 0);
    inventory_finish(&inv);
    assert_int_equal(inv.npkgs, 5);
    expect_pkg(&inv.pkgs[0], "bash", "5.2.15-2+b2", "bash", "5.2.15-2+b2");
    expect_pkg(&inv.pkgs[1], "libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4");
    expect_pkg(&inv.pkgs[2], "libssl3", "3.0.11-1~deb12u2+b1", "openssl", "3.0.11-1~deb12u2");
    expect_pkg(&inv.pkgs[3], "tzdata", "2024a-0+deb12u1", "tzdata", "2024a-0+deb12u1");
    expect_pkg(&inv.pkgs[4], "zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1");
    inventory_release(&inv);
}

static void status_d(void **state)
{
    /* distroless: one stanza per file, no Status */
    static const char base[] = "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n";
    static const char gone[] = "Package: gone\nVersion: 1\nStatus: purge ok not-installed\n";
    struct inventory inv;
    inventory_init(&inv);
    dpkg_parse_status(&inv, base, sizeof(base) - 1, 1);
    dpkg_parse_status(&inv, gone, sizeof(gone) - 1, 1);
    assert_int_equal(inv.npkgs, 1);
    expect_pkg(&inv.pkgs[0], "base-files", "12.4+deb12u5", "base-files", "12.4+deb12u5");
    /* in the main status file a missing Status is not installed */
    dpkg_parse_status(&inv, base, sizeof(base) - 1, 0);
    assert_int_equal(inv.npkgs, 1);
    inventory_release(&inv);
}

static void malformed(void **state)
{
    static const char bad[] = "Package: spaces in name\nStatus: install ok installed\nVersion: 1\n\n"
                              "Package: x\nStatus: install ok installed extra\nVersion: 1\n\n"
                              "Package: y\nStatus: install ok\nVersion: 1\n\n"
                              "Package: \xff\xfe\nStatus: install ok installed\nVersion: 1\n\n"
                              "Package: z\nStatus: install ok installed\nVersion: 1\nSource: (2)\n\n"
                              "Package: w\nStatus: install ok installed\nVersion: 1\nSource: w2 (unclosed\n\n"
                              "no colon line\n:\nPackage:\n";
    struct inventory inv;
    inventory_init(&inv);
    assert_int_equal(dpkg_parse_status(&inv, bad, sizeof(bad) - 1, 0), 0);
    inventory_finish(&inv);
    /* z has an empty source name: its own; w2's version never closes: the binary's */
    assert_int_equal(inv.npkgs, 2);
    expect_pkg(&inv.pkgs[0], "w", "1", "w2", "1");
    expect_pkg(&inv.pkgs[1], "z", "1", "z", "2");
    inventory_release(&inv);
}

/* The machine's own database: as many packages as stanzas that say
 * "install ok installed" (counted here without the parser). */
static void this_machine(void **state)
{
    FILE *f = fopen("/var/lib/dpkg/status", "rb");
    assert_non_null(f);
    struct buf b;
    char block[65536], line[4096];
    size_t n, want = 0;
    buf_init(&b, BUF_UNLIMITED);
    while ((n = fread(block, 1, sizeof(block), f)) > 0)
        buf_put(&b, block, n);
    rewind(f);
    while (fgets(line, sizeof(line), f))
        if (strcmp(line, "Status: install ok installed\n") == 0)
            want++;
    fclose(f);
    assert_true(want > 50);
    struct inventory inv;
    inventory_init(&inv);
    assert_int_equal(dpkg_parse_status(&inv, b.ptr, b.len, 0), 0);
    assert_int_equal(inv.npkgs, want);
    inventory_release(&inv);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(installed_only),
        cmocka_unit_test(status_d),
        cmocka_unit_test(malformed),
        cmocka_unit_test(this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
