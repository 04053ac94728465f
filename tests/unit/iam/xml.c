/*
 * Unit tests for the reading half of src/iam/xml.c (xml_to_json): what the
 * writing half produced reads back as CloudTrail's JSON (lowerCamelCase
 * names, <member> lists, entities undone), and anything else is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/buf.h"
#include "iam/xml.h"

static char *read_back(const char *xml)
{
    json_t *v = xml_to_json(xml, strlen(xml));
    char *z = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return z;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    xml_open(&b, "AccessKey");
    xml_text(&b, "UserName", "bob & <alice> \"q\" 'x'");
    xml_text(&b, "SecretAccessKey", "s3cr3t");
    xml_bool(&b, "Active", true);
    xml_close(&b, "AccessKey");
    xml_open(&b, "Users");
    xml_open(&b, "member");
    xml_text(&b, "Path", "/");
    xml_close(&b, "member");
    xml_open(&b, "member");
    xml_text(&b, "Path", "/team/");
    xml_close(&b, "member");
    xml_close(&b, "Users");
    xml_text(&b, "Marker", "");
    char *z = read_back(b.ptr);
    assert_string_equal(z, "{\"accessKey\":{\"userName\":\"bob & <alice> \\\"q\\\" 'x'\",\"secretAccessKey\":\"s3cr3t\","
                           "\"active\":\"true\"},\"users\":[{\"path\":\"/\"},{\"path\":\"/team/\"}],\"marker\":\"\"}");
    free(z);
    buf_release(&b);
    z = read_back("");
    assert_string_equal(z, "{}");
    free(z);
    z = read_back("<A>a&amp;</A><B>&lt;</B>");
    assert_string_equal(z, "{\"a\":\"a&\",\"b\":\"<\"}");
    free(z);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"text only", "<A>x</B>", "<A>x", "<A x=\"1\">y</A>", "<A>x</A>trailing", "<>x</>",
                                      "<A><B>x</B>", "</A>", "{\"Event&lt;", "x&amp;"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(read_back(bad[i]));
    /* deeper than anything IAM answers */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (int i = 0; i < 40; i++)
        buf_puts(&b, "<A>");
    for (int i = 0; i < 40; i++)
        buf_puts(&b, "</A>");
    assert_null(read_back(b.ptr));
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
