#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "store/store_check.h"
#include "util/decimal.h"

/*
 * Keys already stored must keep matching, so the expected keys are fixed
 * here: FNV-1a 64 of "<content id>\0<platform>\0<job id in decimal>".
 */
static void key_matches_stored_format(void **state)
{
    char key[STORE_KEY_MAX];

    (void)state;
    store_key_make(key, sizeof key, 7, "post-1", "blog", 42);
    assert_string_equal(key, "pubq-7-15f2180cafb9607b");

    store_key_make(key, sizeof key, INT64_MAX, "c", "x", INT64_MAX);
    assert_string_equal(key, "pubq-9223372036854775807-acdc34996af11a82");

    store_key_make(key, sizeof key, 0, "", "", 0);
    assert_string_equal(key, "pubq-0-d94d02186c0f1487");
}

static void key_hash_alone(void **state)
{
    char hex[17];

    (void)state;
    store_key_hash(hex, sizeof hex, "post-1", "blog", 42);
    assert_string_equal(hex, "15f2180cafb9607b");
}

/* A short buffer gets the start of the key, as snprintf would write. */
static void key_truncated(void **state)
{
    char key[10];
    char hex[5];

    (void)state;
    memset(key, 'z', sizeof key);
    store_key_make(key, sizeof key, 7, "post-1", "blog", 42);
    assert_string_equal(key, "pubq-7-15");

    store_key_hash(hex, sizeof hex, "post-1", "blog", 42);
    assert_string_equal(hex, "15f2");
}

static void format_int64_values(void **state)
{
    static const struct {
        int64_t value;
        const char *text;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {-1, "-1"},
        {1234567890123, "1234567890123"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    char out[DECIMAL_INT64_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t length = decimal_format_int64(out, cases[i].value);

        assert_string_equal(out, cases[i].text);
        assert_int_equal(length, strlen(cases[i].text));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_matches_stored_format),
        cmocka_unit_test(key_hash_alone),
        cmocka_unit_test(key_truncated),
        cmocka_unit_test(format_int64_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
