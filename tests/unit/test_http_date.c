#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/http_date.h"
#include "core/rate_limit_hint.h"

#define UNCHANGED 777
/* 2026-12-04T16:59:00Z in Unix milliseconds. */
#define NOW_2026_MS 1796403540000LL

static void date_three_forms(void **state)
{
    static const char *const forms[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun Nov 06 08:49:37 1994",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        int64_t epoch = UNCHANGED;

        if (http_date_parse(forms[i], &epoch) != 0)
            fail_msg("rejected \"%s\"", forms[i]);
        assert_int_equal(epoch, 784111777);

        epoch = UNCHANGED;
        assert_int_equal(
            http_date_parse_at(forms[i], NOW_2026_MS / 1000, &epoch), 0);
        assert_int_equal(epoch, 784111777);
    }
}

static void date_known_values(void **state)
{
    int64_t epoch;

    (void)state;
    assert_int_equal(http_date_parse("Wed, 21 Oct 2015 07:28:00 GMT", &epoch),
                     0);
    assert_int_equal(epoch, 1445412480);
    assert_int_equal(http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", &epoch),
                     0);
    assert_int_equal(epoch, 0);
    assert_int_equal(http_date_parse("Thu, 01 Mar 1900 00:00:00 GMT", &epoch),
                     0);
    assert_int_equal(epoch, -2203891200LL);
    /* A leap second counts as second 0 of the next minute. */
    assert_int_equal(http_date_parse("Sat, 31 Dec 2016 23:59:60 GMT", &epoch),
                     0);
    assert_int_equal(epoch, 1483228800);
}

static void date_leap_days(void **state)
{
    int64_t epoch = UNCHANGED;

    (void)state;
    assert_int_equal(http_date_parse("Thu, 29 Feb 2024 12:00:00 GMT", &epoch),
                     0);
    assert_int_equal(epoch, 1709208000);
    assert_int_equal(http_date_parse("Tue, 29 Feb 2000 00:00:00 GMT", &epoch),
                     0);
    assert_int_equal(epoch, 951782400);

    epoch = UNCHANGED;
    assert_int_equal(http_date_parse("Sat, 29 Feb 2025 00:00:00 GMT", &epoch),
                     -1);
    assert_int_equal(http_date_parse("Thu, 29 Feb 1900 00:00:00 GMT", &epoch),
                     -1);
    assert_int_equal(http_date_parse("Mon, 29 Feb 2100 00:00:00 GMT", &epoch),
                     -1);
    assert_int_equal(http_date_parse("Tue Feb 29 00:00:00 2000", &epoch), 0);
    assert_int_equal(epoch, 951782400);
    assert_int_equal(http_date_parse("Tuesday, 29-Feb-00 00:00:00 GMT", &epoch),
                     0);
    assert_int_equal(epoch, 951782400);
}

static void date_two_digit_year_window(void **state)
{
    int64_t now = NOW_2026_MS / 1000;
    int64_t epoch;

    (void)state;
    /* 2076 is exactly 50 years ahead of 2026, so it stays in 20xx. */
    assert_int_equal(
        http_date_parse_at("Wednesday, 01-Jan-76 00:00:00 GMT", now, &epoch),
        0);
    assert_int_equal(epoch, 3345062400LL);
    /* 2077 would be 51 years ahead, so it means 1977. */
    assert_int_equal(
        http_date_parse_at("Saturday, 01-Jan-77 00:00:00 GMT", now, &epoch), 0);
    assert_int_equal(epoch, 220924800);
    /* 1970-01-01 was a Thursday, but "70" means 2070 in 2026. */
    assert_int_equal(
        http_date_parse_at("Thursday, 01-Jan-70 00:00:00 GMT", now, &epoch),
        -1);
    /* Without a clock the weekday picks the century. */
    assert_int_equal(
        http_date_parse("Thursday, 01-Jan-70 00:00:00 GMT", &epoch), 0);
    assert_int_equal(epoch, 0);
    assert_int_equal(
        http_date_parse("Wednesday, 01-Jan-76 00:00:00 GMT", &epoch), 0);
    assert_int_equal(epoch, 3345062400LL);
}

static void date_garbage_rejected(void **state)
{
    static const char *const bad[] = {
        "",
        "Sun",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 06 Nov 1994 08:49:37 GMTx",
        "Sun, 06 Nov 1994 08:49:37 GMT\n",
        "Mon, 06 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Thu, 31 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov -994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 ",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Mon Nov  6 08:49:37 1994",
        "1994-11-06T08:49:37Z",
        "120",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t epoch = UNCHANGED;

        if (http_date_parse(bad[i], &epoch) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(epoch, UNCHANGED);
        assert_int_equal(http_date_parse_at(bad[i], 0, &epoch), -1);
    }
    assert_int_equal(http_date_parse(NULL, NULL), -1);
}

static void date_days_helpers(void **state)
{
    (void)state;
    assert_int_equal(http_date_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(http_date_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(http_date_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(http_date_days_in_month(2024, 2), 29);
    assert_int_equal(http_date_days_in_month(2023, 2), 28);
    assert_int_equal(http_date_days_in_month(1900, 2), 28);
    assert_int_equal(http_date_days_in_month(2000, 2), 29);
    assert_int_equal(http_date_days_in_month(2026, 4), 30);
    assert_int_equal(http_date_days_in_month(2026, 12), 31);
    assert_int_equal(http_date_days_in_month(2026, 0), 0);
    assert_int_equal(http_date_days_in_month(2026, 13), 0);
}

struct delay_case {
    const char *value;
    int64_t delay_ms;
};

static void retry_after_accepts(void **state)
{
    /* now is 2015-10-21 07:27:00 GMT. */
    const int64_t now = 1445412420000LL;
    static const struct delay_case cases[] = {
        {"120", 120000},
        {"0", 0},
        {" 120 ", 120000},
        {"\t7\t", 7000},
        {"007", 7000},
        {"9223372036854775", 9223372036854775000LL},
        {"Wed, 21 Oct 2015 07:28:00 GMT", 60000},
        {"  Wed, 21 Oct 2015 07:28:00 GMT ", 60000},
        {"Wednesday, 21-Oct-15 07:28:00 GMT", 60000},
        {"Wed Oct 21 07:28:00 2015", 60000},
        {"Wed, 21 Oct 2015 07:27:00 GMT", 0},
        {"Sun, 06 Nov 1994 08:49:37 GMT", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t delay = -1;
        char err[256] = "";

        if (retry_after_parse(cases[i].value, now, &delay, err, sizeof(err)) !=
            0)
            fail_msg("rejected \"%s\": %s", cases[i].value, err);
        assert_int_equal(delay, cases[i].delay_ms);
    }
}

static void retry_after_subsecond_now(void **state)
{
    int64_t delay;
    char err[256];

    (void)state;
    /* now is 07:27:59.250, so 07:28:00 is 750 ms away. */
    assert_int_equal(retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT",
                                       1445412479250LL, &delay, err,
                                       sizeof(err)),
                     0);
    assert_int_equal(delay, 750);
}

static void retry_after_rejects(void **state)
{
    static const char *const bad[] = {
        "soon",
        "-5",
        "+5",
        "1.5",
        "",
        "   ",
        "1 2",
        "0x10",
        "120s",
        "1e3",
        "9223372036854776",
        "99999999999999999999999",
        "Wed, 21 Oct 2015 07:28:00",
        "Thu, 21 Oct 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 GMT; x",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t delay = UNCHANGED;
        char err[256] = "";

        if (retry_after_parse(bad[i], 0, &delay, err, sizeof(err)) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(delay, UNCHANGED);
        assert_int_equal(strncmp(err, "invalid Retry-After \"", 21), 0);
    }
}

static void retry_after_messages(void **state)
{
    int64_t delay;
    char err[256];

    (void)state;
    assert_int_equal(retry_after_parse("soon", 0, &delay, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "invalid Retry-After \"soon\": expected "
                             "delta-seconds such as \"120\" or an HTTP-date "
                             "such as \"Wed, 21 Oct 2015 07:28:00 GMT\"");
    assert_int_equal(
        retry_after_parse("99999999999999999999", 0, &delay, err, sizeof(err)),
        -1);
    assert_string_equal(err, "invalid Retry-After \"99999999999999999999\": "
                             "the number of seconds is too large");
    assert_int_equal(retry_after_parse(NULL, 0, &delay, err, sizeof(err)), -1);
}

static void epoch_reset_parses(void **state)
{
    int64_t delay = -1;
    char err[256] = "";

    (void)state;
    assert_int_equal(rate_limit_parse_epoch_seconds("1796403600", NOW_2026_MS,
                                                    &delay, err, sizeof(err)),
                     0);
    assert_int_equal(delay, 60000);
    assert_int_equal(rate_limit_parse_epoch_seconds(" 1796403600\t",
                                                    NOW_2026_MS, &delay, err,
                                                    sizeof(err)),
                     0);
    assert_int_equal(delay, 60000);
    assert_int_equal(rate_limit_parse_epoch_seconds("1796403000", NOW_2026_MS,
                                                    &delay, err, sizeof(err)),
                     0);
    assert_int_equal(delay, 0);
    /* Unix time 0 with a negative clock still gives a bounded wait. */
    assert_int_equal(rate_limit_parse_epoch_seconds("9223372036854775",
                                                    INT64_MIN, &delay, err,
                                                    sizeof(err)),
                     0);
    assert_int_equal(delay, INT64_MAX);
}

static void epoch_reset_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "-1",
        "+1796403600",
        "1796403600.5",
        "soon",
        "1e9",
        "0x10",
        "9223372036854776",
        "99999999999999999999999999",
        "17964 03600",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t delay = UNCHANGED;
        char err[256] = "";

        if (rate_limit_parse_epoch_seconds(bad[i], NOW_2026_MS, &delay, err,
                                           sizeof(err)) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(delay, UNCHANGED);
        assert_non_null(strstr(err, "invalid rate-limit reset"));
    }
    assert_int_equal(rate_limit_parse_epoch_seconds(NULL, 0, NULL, NULL, 0),
                     -1);
}

static void float_seconds_parses(void **state)
{
    static const struct delay_case cases[] = {
        {"1.337", 1337},
        {"5", 5000},
        {"0", 0},
        {"0.000", 0},
        {"0.0001", 1},
        {"1.2345", 1235},
        {"64.57", 64570},
        {"0.5", 500},
        {" 2.25 ", 2250},
        {"1.3370000", 1337},
        {"9223372036854774.999", 9223372036854774999LL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t delay = -1;
        char err[256] = "";

        if (rate_limit_parse_float_seconds(cases[i].value, &delay, err,
                                           sizeof(err)) != 0)
            fail_msg("rejected \"%s\": %s", cases[i].value, err);
        assert_int_equal(delay, cases[i].delay_ms);
    }
}

static void float_seconds_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "-1",
        "+1",
        "-0.5",
        "1e3",
        ".5",
        "5.",
        "inf",
        "nan",
        "1.2.3",
        "1,5",
        "soon",
        "9223372036854775",
        "99999999999999999999",
        "1 .5",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t delay = UNCHANGED;
        char err[256] = "";

        if (rate_limit_parse_float_seconds(bad[i], &delay, err, sizeof(err)) !=
            -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(delay, UNCHANGED);
        assert_non_null(strstr(err, "invalid rate-limit wait"));
    }
}

static void seconds_double_converts(void **state)
{
    int64_t delay = UNCHANGED;
    char err[256];

    (void)state;
    assert_int_equal(rate_limit_from_seconds(1.337, &delay, err, sizeof(err)),
                     0);
    assert_int_equal(delay, 1337);
    assert_int_equal(rate_limit_from_seconds(64.57, &delay, err, sizeof(err)),
                     0);
    assert_int_equal(delay, 64570);
    assert_int_equal(rate_limit_from_seconds(0.0004, &delay, err, sizeof(err)),
                     0);
    assert_int_equal(delay, 1);
    assert_int_equal(rate_limit_from_seconds(30, &delay, err, sizeof(err)), 0);
    assert_int_equal(delay, 30000);

    delay = UNCHANGED;
    assert_int_equal(rate_limit_from_seconds(-1, &delay, err, sizeof(err)), -1);
    assert_int_equal(rate_limit_from_seconds(NAN, &delay, err, sizeof(err)),
                     -1);
    assert_int_equal(
        rate_limit_from_seconds(INFINITY, &delay, err, sizeof(err)), -1);
    assert_int_equal(rate_limit_from_seconds(1e17, &delay, err, sizeof(err)),
                     -1);
    assert_int_equal(delay, UNCHANGED);
    assert_string_equal(err, "invalid rate-limit wait 1e+17 seconds: the "
                             "value is too large");
}

static void iso8601_parses(void **state)
{
    static const struct delay_case cases[] = {
        {"2026-12-04T17:00:00.000Z", 60000},
        {"2026-12-04T17:00:00Z", 60000},
        {"2026-12-04t17:00:00z", 60000},
        {"2026-12-04T18:00:00+01:00", 60000},
        {"2026-12-04T12:30:00-04:30", 60000},
        {" 2026-12-04T17:00:00.5Z ", 60500},
        {"2026-12-04T17:00:00.0009Z", 60000},
        {"2026-12-04 17:00:00Z", 60000},
        {"2026-12-04T16:00:00Z", 0},
        {"2024-02-29T00:00:00Z", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t delay = -1;
        char err[256] = "";

        if (rate_limit_parse_iso8601(cases[i].value, NOW_2026_MS, &delay, err,
                                     sizeof(err)) != 0)
            fail_msg("rejected \"%s\": %s", cases[i].value, err);
        assert_int_equal(delay, cases[i].delay_ms);
    }
}

static void iso8601_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "soon",
        "2026-12-04T17:00:00",
        "2026-12-04T17:00Z",
        "2026-12-04T17:00:00.Z",
        "2026-12-04T17:00:00+0100",
        "2026-12-04T17:00:00+24:00",
        "2026-12-04T17:00:00+01:60",
        "2026-12-04T17:00:00ZZ",
        "2026-12-04T17:00:00Z trailing",
        "+2026-12-04T17:00:00Z",
        "26-12-04T17:00:00Z",
        "2026-12-4T17:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-12-00T00:00:00Z",
        "2026-12-04T24:00:00Z",
        "2026-12-04T17:60:00Z",
        "2026-12-04T17:00:61Z",
        "1796403600",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t delay = UNCHANGED;
        char err[256] = "";

        if (rate_limit_parse_iso8601(bad[i], NOW_2026_MS, &delay, err,
                                     sizeof(err)) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(delay, UNCHANGED);
        assert_non_null(strstr(err, "rate-limit reset"));
    }
    assert_int_equal(rate_limit_parse_iso8601(NULL, 0, NULL, NULL, 0), -1);
}

static void iso8601_messages(void **state)
{
    int64_t delay;
    char err[256];

    (void)state;
    assert_int_equal(rate_limit_parse_iso8601("2026-02-30T10:00:00Z", 0, &delay,
                                              err, sizeof(err)),
                     -1);
    assert_string_equal(err, "rate-limit reset: invalid timestamp "
                             "\"2026-02-30T10:00:00Z\": day 30 does not "
                             "exist in February 2026");
    assert_int_equal(rate_limit_parse_iso8601("2026-12-04T17:00:00", 0, &delay,
                                              err, sizeof(err)),
                     -1);
    assert_string_equal(err, "invalid rate-limit reset "
                             "\"2026-12-04T17:00:00\": expected an RFC 3339 "
                             "time with an offset, such as "
                             "\"2026-12-04T17:00:00.000Z\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(date_three_forms),
        cmocka_unit_test(date_known_values),
        cmocka_unit_test(date_leap_days),
        cmocka_unit_test(date_two_digit_year_window),
        cmocka_unit_test(date_garbage_rejected),
        cmocka_unit_test(date_days_helpers),
        cmocka_unit_test(retry_after_accepts),
        cmocka_unit_test(retry_after_subsecond_now),
        cmocka_unit_test(retry_after_rejects),
        cmocka_unit_test(retry_after_messages),
        cmocka_unit_test(epoch_reset_parses),
        cmocka_unit_test(epoch_reset_rejects),
        cmocka_unit_test(float_seconds_parses),
        cmocka_unit_test(float_seconds_rejects),
        cmocka_unit_test(seconds_double_converts),
        cmocka_unit_test(iso8601_parses),
        cmocka_unit_test(iso8601_rejects),
        cmocka_unit_test(iso8601_messages),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
