/*
 * Unit tests for src/scan/osrelease.c: os-release files as the
 * distributions ship them (Debian, Ubuntu LTS and not, Alpine, RHEL/UBI,
 * Rocky, Alma, Fedora, Amazon Linux), quoting and escapes, and the OSV
 * ecosystem names they map to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan/scan.h"

static void expect(const char *text, const char *id, const char *version, const char *ecosystem)
{
    struct inventory inv;
    inventory_init(&inv);
    assert_int_equal(os_release_parse(&inv, text, strlen(text)), 0);
    if (id)
        assert_string_equal(inv.os_id, id);
    else
        assert_null(inv.os_id);
    if (version)
        assert_string_equal(inv.os_version, version);
    else
        assert_null(inv.os_version);
    if (ecosystem)
        assert_string_equal(inv.ecosystem, ecosystem);
    else
        assert_null(inv.ecosystem);
    inventory_release(&inv);
}

static void distributions(void **state)
{
    expect("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
           "VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
           "debian", "12", "Debian:12");
    expect("PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\n"
           "VERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\n",
           "ubuntu", "22.04", "Ubuntu:22.04:LTS");
    expect("NAME=\"Ubuntu\"\nVERSION_ID=\"23.10\"\nVERSION=\"23.10 (Mantic Minotaur)\"\nID=ubuntu\n", "ubuntu", "23.10",
           "Ubuntu:23.10");
    expect("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n", "alpine", "3.19.1",
           "Alpine:v3.19");
    expect("NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\n",
           "rhel", "9.3", "Red Hat:enterprise_linux:9");
    expect("NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n", "rocky", "9.3", "Rocky Linux:9");
    expect("NAME=\"AlmaLinux\"\nID=\"almalinux\"\nVERSION_ID=\"8.9\"\n", "almalinux", "8.9", "AlmaLinux:8");
    /* known distributions OSV has no ecosystem for */
    expect("NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=39\n", "fedora", "39", NULL);
    expect("NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n", "amzn", "2023", NULL);
    /* Debian testing has no VERSION_ID */
    expect("PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\n", "debian", NULL, NULL);
}

static void syntax(void **state)
{
    /* comments, blank lines, CRLF, single quotes, escapes, spaces around */
    expect("# comment\n\n  ID='debian'\r\nVERSION_ID=\"1\\\"2\"\n", "debian", "1\"2", "Debian:1");
    /* later assignments win; an unterminated quote is no value */
    expect("ID=alpine\nID=debian\nVERSION_ID=\"12\nVERSION_ID=\"12\"\n", "debian", "12", "Debian:12");
    expect("ID=\"debian\nVERSION_ID=12\n", NULL, "12", NULL);
    /* IDs are lowercase */
    expect("ID=Debian\nVERSION_ID=11\n", "debian", "11", "Debian:11");
    /* not a version */
    expect("ID=alpine\nVERSION_ID=edge\n", "alpine", "edge", NULL);
    expect("ID=ubuntu\nVERSION_ID=22\n", "ubuntu", "22", NULL);
    expect("", NULL, NULL, NULL);
    /* NUL and control characters in a value refuse it */
    struct inventory inv;
    inventory_init(&inv);
    assert_int_equal(os_release_parse(&inv, "ID=deb\0ian\nVERSION_ID=\"1\x01\"\n", 25), 0);
    assert_null(inv.os_id);
    assert_null(inv.os_version);
    inventory_release(&inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(distributions),
        cmocka_unit_test(syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
