/*
 * The configuration file's mode: pubq refuses a file that other users
 * may write when it names secret variables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "test_support.h"

static const char with_token[] = "[server]\n"
                                 "api_token_env = PUBQ_API_TOKEN\n";

static const char with_platform_secret[] =
    "[platform social]\n"
    "type = mastodon\n"
    "instance = https://social.example\n"
    "access_token_env = PUBQ_MASTODON_TOKEN\n";

static const char without_secrets[] = "[platform blog]\n"
                                      "type = file\n"
                                      "path = blog.jsonl\n";

/* Writes text to a fresh file with `mode` and loads it. */
static int load_with_mode(const char *text, mode_t mode,
                          struct pubq_config *config, char *err,
                          size_t errlen, const char **path)
{
    *path = test_path(test_tmpdir(), "pubq.conf");
    test_write_file(*path, text);
    assert_int_equal(chmod(*path, mode), 0);
    return config_load(*path, config, err, errlen);
}

static void mode_world_writable_token(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const char *path;

    (void)state;
    assert_int_equal(
        load_with_mode(with_token, 0666, &config, err, sizeof err, &path), -1);
    print_message("  -> %s\n", err);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "file mode 0666"));
    assert_non_null(strstr(err, "api_token_env"));
    assert_non_null(strstr(err, "chmod o-w"));
}

static void mode_world_writable_platform(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const char *path;

    (void)state;
    assert_int_equal(load_with_mode(with_platform_secret, 0602, &config, err,
                                    sizeof err, &path),
                     -1);
    assert_non_null(strstr(err, "file mode 0602"));
    assert_non_null(strstr(err, "access_token_env"));
}

static void mode_world_writable_no_secret(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const char *path;

    (void)state;
    assert_int_equal(load_with_mode(without_secrets, 0666, &config, err,
                                    sizeof err, &path),
                     0);
    config_free(&config);
}

static void mode_private_with_secret(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const char *path;

    (void)state;
    assert_int_equal(
        load_with_mode(with_token, 0600, &config, err, sizeof err, &path), 0);
    config_free(&config);
}

/* Only other users count: the group is the operator's choice. */
static void mode_group_writable_with_secret(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const char *path;

    (void)state;
    assert_int_equal(
        load_with_mode(with_token, 0664, &config, err, sizeof err, &path), 0);
    config_free(&config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mode_world_writable_token),
        cmocka_unit_test(mode_world_writable_platform),
        cmocka_unit_test(mode_world_writable_no_secret),
        cmocka_unit_test(mode_private_with_secret),
        cmocka_unit_test(mode_group_writable_with_secret),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
