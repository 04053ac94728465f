/*
 * Unit tests for src/core/config.c: defaults, the config file, BERTH_*
 * environment variables and --flags, their precedence (default < file <
 * environment < command line, as berth serve applies them), bounds and the
 * errors each source reports.
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

#include "core/config.h"
#include "core/error.h"

static const char *const env_names[] = {
    "BERTH_LISTEN",          "BERTH_DATA",          "BERTH_TLS_CERT",
    "BERTH_TLS_KEY",         "BERTH_REGION",        "BERTH_DOMAIN",
    "BERTH_LOG_LEVEL",       "BERTH_AUTH",          "BERTH_THREADS",
    "BERTH_MAX_REPOSITORIES", "BERTH_MAX_IMAGES_PER_REPOSITORY", "BERTH_MAX_TAGS_PER_IMAGE",
    "BERTH_MAX_LAYER_SIZE_MB", "BERTH_MAX_LAYER_PARTS", "BERTH_TOKEN_HOURS",
    "BERTH_CLIENT_HEADER_TIMEOUT", "BERTH_MAX_CONNECTIONS", "BERTH_MAX_CONNECTIONS_PER_IP",
    "BERTH_BODY_BUFFER_BUDGET_MB", "BERTH_DEFER_THREADS",
};

static char path[64];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        unsetenv(env_names[i]);
    snprintf(path, sizeof(path), "/tmp/berth-config-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        unsetenv(env_names[i]);
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults(void **state)
{
    struct config c;
    (void)state;
    config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:5000");
    assert_string_equal(c.data_dir, "./data");
    assert_string_equal(c.tls_cert, "");
    assert_string_equal(c.tls_key, "");
    assert_string_equal(c.region, "us-east-1");
    assert_string_equal(c.domain, "");
    assert_string_equal(c.log_level, "info");
    assert_string_equal(c.auth, "on"); /* safe by default */
    assert_int_equal(c.threads, 8);
    assert_int_equal(c.token_hours, 12); /* GetAuthorizationToken: valid 12 hours */
    /* quotas follow ECR's and may move with it: only that they are set */
    assert_true(c.max_repositories >= 1);
    assert_true(c.max_images_per_repo >= 1);
    assert_true(c.max_tags_per_image >= 1);
    assert_true(c.max_layer_size_mb >= 1);
    assert_true(c.max_layer_parts >= 1);
    config_release(&c);
    assert_null(c.listen);
    assert_null(c.data_dir);
    config_release(&c); /* twice is harmless */
}

static void test_file(void **state)
{
    struct config c;
    (void)state;
    write_file("# berth settings\n"
               "\n"
               "   # indented comment\n"
               "listen = 0.0.0.0:5443\r\n"
               "data=/var/lib/berth\n"
               "\tregion\t=\teu-west-1  \n"
               "tls-cert = /etc/berth/cert.pem\n"
               "log-level = debug\n"
               "threads = 32\n"
               "max-images-per-repository = 1\n"
               "token-hours = 168\n"
               "domain = a=b\n");
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path), 0);
    assert_string_equal(c.listen, "0.0.0.0:5443");
    assert_string_equal(c.data_dir, "/var/lib/berth");
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.tls_cert, "/etc/berth/cert.pem");
    assert_string_equal(c.log_level, "debug");
    assert_int_equal(c.threads, 32);
    assert_int_equal(c.max_images_per_repo, 1);
    assert_int_equal(c.token_hours, 168);
    assert_string_equal(c.domain, "a=b"); /* split at the first '=' */
    assert_string_equal(c.auth, "on");    /* untouched */
    config_release(&c);

    /* an empty value empties a string */
    write_file("region =\n");
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path), 0);
    assert_string_equal(c.region, "");
    config_release(&c);
}

static void expect_file_error(const char *text, int want, const char *msg_part)
{
    struct config c;
    write_file(text);
    config_defaults(&c);
    int rc = config_load_file(&c, path);
    if (rc != want)
        fail_msg("config_load_file(\"%s\") = %d (%s), want %d", text, rc, error_message(), want);
    if (msg_part && !strstr(error_message(), msg_part))
        fail_msg("config_load_file(\"%s\"): '%s' lacks '%s'", text, error_message(), msg_part);
    config_release(&c);
}

static void test_file_errors(void **state)
{
    struct config c;
    (void)state;
    expect_file_error("listen 127.0.0.1:1\n", E_INVALID, ":1: expected 'name = value'");
    expect_file_error("region = x\nbogus = 1\n", E_INVALID, ":2: unknown setting 'bogus'");
    expect_file_error("data_dir = /x\n", E_INVALID, "unknown setting 'data_dir'"); /* the struct field is not the name */
    expect_file_error("--threads = 4\n", E_INVALID, "unknown setting");
    expect_file_error("THREADS = 4\n", E_INVALID, "unknown setting");
    expect_file_error("threads = 0\n", E_INVALID, "'threads' must be a number from 1 to 256, not '0'");
    expect_file_error("threads = 257\n", E_INVALID, "from 1 to 256");
    expect_file_error("threads = -1\n", E_INVALID, NULL);
    expect_file_error("threads = four\n", E_INVALID, NULL);
    expect_file_error("threads = 4x\n", E_INVALID, NULL);
    expect_file_error("threads = 4 4\n", E_INVALID, NULL);
    expect_file_error("threads =\n", E_INVALID, NULL);
    expect_file_error("threads = 99999999999999999999999\n", E_INVALID, NULL);
    expect_file_error("token-hours = 169\n", E_INVALID, NULL);
    expect_file_error("= 5\n", E_INVALID, "unknown setting ''");

    /* settings before the bad line are applied, the rest are not */
    write_file("region = ap-south-1\nthreads = 0\nlisten = :1\n");
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path), E_INVALID);
    assert_string_equal(c.region, "ap-south-1");
    assert_int_equal(c.threads, 8);
    assert_string_equal(c.listen, "127.0.0.1:5000");
    config_release(&c);

    config_defaults(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/berth.conf"), E_NOTFOUND);
    assert_non_null(strstr(error_message(), "/nonexistent/berth.conf"));
    config_release(&c);
}

static void test_env(void **state)
{
    struct config c;
    (void)state;
    setenv("BERTH_REGION", "us-west-2", 1);
    setenv("BERTH_THREADS", "4", 1);
    setenv("BERTH_DATA", "/srv/berth", 1);
    setenv("BERTH_DOMAIN", "", 1); /* empty: not set */
    setenv("BERTH_MAX_LAYER_PARTS", "1000000", 1);
    config_defaults(&c);
    assert_int_equal(config_load_env(&c), 0);
    assert_string_equal(c.region, "us-west-2");
    assert_int_equal(c.threads, 4);
    assert_string_equal(c.data_dir, "/srv/berth");
    assert_string_equal(c.domain, "");
    assert_int_equal(c.max_layer_parts, 1000000);
    config_release(&c);

    setenv("BERTH_MAX_LAYER_PARTS", "1000001", 1);
    config_defaults(&c);
    assert_int_equal(config_load_env(&c), E_INVALID);
    assert_non_null(strstr(error_message(), "max-layer-parts"));
    config_release(&c);
    unsetenv("BERTH_MAX_LAYER_PARTS");
}

static void test_flags(void **state)
{
    struct config c;
    char *argv[] = {"berth", "serve", "--listen", "[::1]:6000", "--threads=2", "--data", "/d", "--log-level=", "--verbose",
                    "--region"};
    int argc = (int)(sizeof(argv) / sizeof(argv[0]));
    int i = 1;
    (void)state;
    config_defaults(&c);
    assert_int_equal(config_apply_flag(&c, argc, argv, &i), 1); /* "serve" is not a flag */
    assert_int_equal(i, 1);
    i = 2;
    assert_int_equal(config_apply_flag(&c, argc, argv, &i), 0);
    assert_int_equal(i, 4);
    assert_string_equal(c.listen, "[::1]:6000");
    assert_int_equal(config_apply_flag(&c, argc, argv, &i), 0);
    assert_int_equal(i, 5);
    assert_int_equal(c.threads, 2);
    assert_int_equal(config_apply_flag(&c, argc, argv, &i), 0);
    assert_int_equal(i, 7);
    assert_string_equal(c.data_dir, "/d");
    assert_int_equal(config_apply_flag(&c, argc, argv, &i), 0);
    assert_int_equal(i, 8);
    assert_string_equal(c.log_level, "");
    assert_int_equal(config_apply_flag(&c, argc, argv, &i), 1); /* unknown flag: the caller's business */
    assert_int_equal(i, 8);
    i = 9;
    assert_int_equal(config_apply_flag(&c, argc, argv, &i), E_INVALID); /* no value after the last flag */
    assert_non_null(strstr(error_message(), "'--region' needs a value"));
    assert_string_equal(c.region, "us-east-1");
    config_release(&c);

    char *bad[] = {"--threads", "x", "--threads=300", "--", "-threads", "--threads-x=1", "--listen=a=b"};
    config_defaults(&c);
    i = 0;
    assert_int_equal(config_apply_flag(&c, 7, bad, &i), E_INVALID);
    i = 2;
    assert_int_equal(config_apply_flag(&c, 7, bad, &i), E_INVALID);
    assert_int_equal(c.threads, 8);
    i = 3;
    assert_int_equal(config_apply_flag(&c, 7, bad, &i), 1);
    i = 4;
    assert_int_equal(config_apply_flag(&c, 7, bad, &i), 1);
    i = 5;
    assert_int_equal(config_apply_flag(&c, 7, bad, &i), 1);
    i = 6;
    assert_int_equal(config_apply_flag(&c, 7, bad, &i), 0);
    assert_string_equal(c.listen, "a=b");
    config_release(&c);
}

/* The limits against hostile clients: defaults, each source, and bounds
 * that keep a typo from switching a limit off. */
static void test_client_limits(void **state)
{
    struct config c;
    (void)state;
    config_defaults(&c);
    assert_int_equal(c.client_header_timeout, 60);
    assert_int_equal(c.max_connections, 2048);
    assert_int_equal(c.max_connections_per_ip, 0);
    assert_int_equal(c.body_buffer_budget_mb, 256);
    assert_int_equal(c.defer_threads, 32);

    write_file("client-header-timeout = 15\nmax-connections-per-ip = 64\n");
    assert_int_equal(config_load_file(&c, path), 0);
    setenv("BERTH_BODY_BUFFER_BUDGET_MB", "32", 1);
    assert_int_equal(config_load_env(&c), 0);
    char *argv[] = {"--max-connections", "500", "--defer-threads=2", "--client-header-timeout=0",
                    "--max-connections=15", "--body-buffer-budget-mb=0"};
    int i = 0;
    assert_int_equal(config_apply_flag(&c, 6, argv, &i), 0);
    assert_int_equal(config_apply_flag(&c, 6, argv, &i), 0);
    assert_int_equal(c.client_header_timeout, 15);
    assert_int_equal(c.max_connections_per_ip, 64);
    assert_int_equal(c.body_buffer_budget_mb, 32);
    assert_int_equal(c.max_connections, 500);
    assert_int_equal(c.defer_threads, 2);
    for (i = 3; i < 6;) {
        int at = i;
        assert_int_equal(config_apply_flag(&c, 6, argv, &i), E_INVALID);
        i = at + 1;
    }
    assert_int_equal(c.client_header_timeout, 15);
    assert_int_equal(c.max_connections, 500);
    assert_int_equal(c.body_buffer_budget_mb, 32);
    config_release(&c);
}

static void test_precedence(void **state)
{
    struct config c;
    char *argv[] = {"--region", "from-flag"};
    int i = 0;
    (void)state;
    write_file("region = from-file\nthreads = 3\nlisten = file:1\n");
    setenv("BERTH_REGION", "from-env", 1);
    setenv("BERTH_THREADS", "5", 1);
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path), 0);
    assert_int_equal(config_load_env(&c), 0);
    assert_int_equal(config_apply_flag(&c, 2, argv, &i), 0);
    assert_string_equal(c.region, "from-flag"); /* flag over env over file */
    assert_int_equal(c.threads, 5);             /* env over file */
    assert_string_equal(c.listen, "file:1");    /* file over default */
    assert_string_equal(c.data_dir, "./data");  /* default */
    config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
