#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/cron.h"

/* UTC "YYYY-MM-DD HH:MM:SS" to epoch seconds, via glibc's timegm. */
static int64_t utc(const char *text)
{
    struct tm tm = {0};
    int matched = sscanf(text, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
                         &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);

    assert_int_equal(matched, 6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

static struct zone *load(const char *name)
{
    char err[256];
    struct zone *zone = zone_load(name, err, sizeof err);

    if (!zone)
        fail_msg("zone_load(%s): %s", name, err);
    return zone;
}

static struct cron_expr parse_ok(const char *text)
{
    struct cron_expr expr;
    char err[256];

    if (cron_parse(text, &expr, err, sizeof err) != 0)
        fail_msg("cron_parse(%s): %s", text, err);
    return expr;
}

/* Checks that `text` in zone `name` fires first at each of `expected`
 * (UTC texts, NULL-terminated) after `after`. */
static void expect_runs(const char *text, const char *name, const char *after,
                        const char *const *expected)
{
    struct cron_expr expr = parse_ok(text);
    struct zone *zone = load(name);
    int64_t at = utc(after);
    int64_t next;

    for (size_t i = 0; expected[i]; i++) {
        if (cron_next(&expr, zone, at, &next) != 0)
            fail_msg("\"%s\" in %s: no run after %lld, expected %s", text, name,
                     (long long)at, expected[i]);
        if (next != utc(expected[i]))
            fail_msg("\"%s\" in %s: run %zu at %lld, expected %s (%lld)", text,
                     name, i, (long long)next, expected[i],
                     (long long)utc(expected[i]));
        at = next;
    }
    zone_free(zone);
}

static void cron_parse_errors(void **state)
{
    const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"", "expected 5 fields (minute hour day-of-month month "
             "day-of-week), found 0"},
        {"* * * *", "found 4"},
        {"* * * * * *", "found 6"},
        {"0 25 * * *", "hour field \"25\" is out of range 0-23"},
        {"60 * * * *", "minute field \"60\" is out of range 0-59"},
        {"0 0 0 * *", "day-of-month field \"0\" is out of range 1-31"},
        {"0 0 32 * *", "day-of-month field \"32\" is out of range 1-31"},
        {"0 0 * 13 *", "month field \"13\" is out of range 1-12"},
        {"0 0 * * 8", "day-of-week field \"8\" is out of range 0-7"},
        {"0 20-25 * * *", "hour field \"20-25\": \"25\" is out of range"},
        {"0 99999999999 * * *", "hour field \"99999999999\" is out of "
                                "range 0-23"},
        {"0 0 * FOO *", "month field \"FOO\" is not a number 1-12 or a "
                        "name such as JAN"},
        {"0 0 * * SUNDAY", "day-of-week field \"SUNDAY\" is not a number"},
        {"0 0 * * MON-FOO", "day-of-week field \"MON-FOO\": \"FOO\" is not"},
        {"0 x * * *", "hour field \"x\" is not a number 0-23"},
        {"0 JAN * * *", "hour field \"JAN\" is not a number 0-23"},
        {"*/0 * * * *", "minute field \"*/0\" has step 0, outside 1-59"},
        {"*/60 * * * *", "minute field \"*/60\" has step 60, outside 1-59"},
        {"* * * * */", "day-of-week field \"*/\" has no number after \"/\""},
        {"0 5-2 * * *", "hour field \"5-2\" has range start 5 after end 2"},
        {"5/10 * * * *", "minute field \"5/10\" needs a range before"},
        {"1,,2 * * * *", "minute field \"\" is empty"},
        {"0 0 1* * *", "day-of-month field \"1*\" has unexpected text"},
        {"0 0 1-5/2x * *", "has unexpected text \"x\""},
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cron_expr expr = {.minutes = 7};

        err[0] = '\0';
        assert_int_equal(cron_parse(cases[i].text, &expr, err, sizeof err), -1);
        assert_true(expr.minutes == 7);
        if (!strstr(err, cases[i].message))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", cases[i].text, err,
                     cases[i].message);
    }
}

static void cron_parse_fields(void **state)
{
    struct cron_expr expr = parse_ok("*/15 9-17 * JAN,jul mon-FRI");

    (void)state;
    assert_true(expr.minutes ==
                (1ull << 0 | 1ull << 15 | 1ull << 30 | 1ull << 45));
    assert_int_equal(expr.hours, 0x3FE00);
    assert_int_equal(expr.days_of_month, 0xFFFFFFFE);
    assert_int_equal(expr.months, 1 << 1 | 1 << 7);
    assert_int_equal(expr.days_of_week, 0x3E);
    assert_false(expr.day_of_month_restricted);
    assert_true(expr.day_of_week_restricted);

    expr = parse_ok("0 0 * * 7");
    assert_int_equal(expr.days_of_week, 1);
    expr = parse_ok("0 0 * * 5-7");
    assert_int_equal(expr.days_of_week, 1 | 1 << 5 | 1 << 6);
    expr = parse_ok("0 0 1-31/10 * *");
    assert_int_equal(expr.days_of_month, 1 << 1 | 1 << 11 | 1 << 21 | 1u << 31);
    assert_true(expr.day_of_month_restricted);
    expr = parse_ok("  0\t*  *\t* *  ");
    assert_true(expr.minutes == 1);
    assert_int_equal(expr.hours, 0xFFFFFF);
}

static void cron_next_basic(void **state)
{
    (void)state;
    expect_runs(
        "0 * * * *", "UTC", "2026-05-10 10:00:00",
        (const char *[]){"2026-05-10 11:00:00", "2026-05-10 12:00:00", NULL});
    expect_runs("0 * * * *", "UTC", "2026-05-10 10:59:59",
                (const char *[]){"2026-05-10 11:00:00", NULL});
    expect_runs(
        "*/20 8-9 * * *", "UTC", "2026-05-10 09:41:00",
        (const char *[]){"2026-05-11 08:00:00", "2026-05-11 08:20:00", NULL});
}

static void cron_next_month_ends(void **state)
{
    (void)state;
    expect_runs(
        "0 0 1 * *", "UTC", "2026-01-31 12:00:00",
        (const char *[]){"2026-02-01 00:00:00", "2026-03-01 00:00:00", NULL});
    expect_runs(
        "0 12 31 * *", "UTC", "2026-01-31 13:00:00",
        (const char *[]){"2026-03-31 12:00:00", "2026-05-31 12:00:00", NULL});
    expect_runs("59 23 * * *", "UTC", "2026-12-31 23:59:00",
                (const char *[]){"2027-01-01 23:59:00", NULL});
    expect_runs("0 0 1 JAN *", "UTC", "2026-06-01 00:00:00",
                (const char *[]){"2027-01-01 00:00:00", NULL});
}

static void cron_next_leap_years(void **state)
{
    (void)state;
    expect_runs(
        "0 0 29 2 *", "UTC", "2026-01-01 00:00:00",
        (const char *[]){"2028-02-29 00:00:00", "2032-02-29 00:00:00", NULL});

    /* 2100 is not a leap year, so the gap is eight years. */
    expect_runs("0 0 29 2 *", "UTC", "2096-03-01 00:00:00",
                (const char *[]){"2104-02-29 00:00:00", NULL});
}

static void cron_next_day_rules(void **state)
{
    (void)state;
    /* Both day fields restricted: either one matches (2026-01-02 is a
     * Friday, 2026-01-13 a Tuesday). */
    expect_runs("0 0 13 * FRI", "UTC", "2026-01-01 00:00:00",
                (const char *[]){"2026-01-02 00:00:00", "2026-01-09 00:00:00",
                                 "2026-01-13 00:00:00", NULL});

    /* A day-of-month starting with "*" does not count as restricted, so
     * both fields must match: odd days that are Fridays. */
    expect_runs(
        "0 0 */2 * FRI", "UTC", "2026-01-01 00:00:00",
        (const char *[]){"2026-01-09 00:00:00", "2026-01-23 00:00:00", NULL});

    expect_runs(
        "0 0 * * 7", "UTC", "2026-01-01 00:00:00",
        (const char *[]){"2026-01-04 00:00:00", "2026-01-11 00:00:00", NULL});
}

static void cron_next_never(void **state)
{
    const char *never[] = {"0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"};
    struct zone *berlin = load("Europe/Berlin");
    int64_t next = 42;

    (void)state;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        struct cron_expr expr = parse_ok(never[i]);

        assert_int_equal(
            cron_next(&expr, berlin, utc("2026-01-01 00:00:00"), &next), -1);
        assert_int_equal(next, 42);
    }
    zone_free(berlin);
}

static void cron_next_out_of_range(void **state)
{
    struct cron_expr expr = parse_ok("* * * * *");
    struct zone *utc_zone = load("UTC");
    int64_t next;

    (void)state;
    assert_int_equal(cron_next(&expr, utc_zone, ZONE_SECONDS_LIMIT, &next), -1);
    assert_int_equal(cron_next(&expr, utc_zone, INT64_MIN, &next), -1);
    assert_int_equal(cron_next(&expr, utc_zone, INT64_MAX, &next), -1);
    zone_free(utc_zone);
}

/* Spring forward in Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST at
 * 01:00Z, so wall times 02:00-02:59 do not exist that day. */
static void cron_berlin_spring_forward(void **state)
{
    (void)state;
    /* Every real hour fires once. 02:00 CET would have been 01:00Z. */
    expect_runs("0 * * * *", "Europe/Berlin", "2026-03-28 22:30:00",
                (const char *[]){"2026-03-28 23:00:00", "2026-03-29 00:00:00",
                                 "2026-03-29 01:00:00", "2026-03-29 02:00:00",
                                 "2026-03-29 03:00:00", NULL});

    /* 02:30 is skipped, so the job runs when the gap ends, 03:00 CEST. */
    expect_runs(
        "30 2 * * *", "Europe/Berlin", "2026-03-28 12:00:00",
        (const char *[]){"2026-03-29 01:00:00", "2026-03-30 00:30:00", NULL});

    /* Four skipped wall times still fire only once. */
    expect_runs(
        "*/15 2 * * *", "Europe/Berlin", "2026-03-28 12:00:00",
        (const char *[]){"2026-03-29 01:00:00", "2026-03-30 00:00:00", NULL});

    /* 03:00 CEST exists and fires once, not again for the gap. */
    expect_runs(
        "0 3 * * *", "Europe/Berlin", "2026-03-28 12:00:00",
        (const char *[]){"2026-03-29 01:00:00", "2026-03-30 01:00:00", NULL});
}

/* Fall back in Berlin: 2026-10-25 03:00 CEST becomes 02:00 CET at
 * 01:00Z, so wall times 02:00-02:59 occur twice. */
static void cron_berlin_fall_back(void **state)
{
    (void)state;
    /* 02:00 CEST (00:00Z) and 02:00 CET (01:00Z) are both real hours. */
    expect_runs("0 * * * *", "Europe/Berlin", "2026-10-24 21:30:00",
                (const char *[]){"2026-10-24 22:00:00", "2026-10-24 23:00:00",
                                 "2026-10-25 00:00:00", "2026-10-25 01:00:00",
                                 "2026-10-25 02:00:00", NULL});

    /* A fixed wall time runs once, at its first occurrence. */
    expect_runs(
        "0 2 * * *", "Europe/Berlin", "2026-10-24 12:00:00",
        (const char *[]){"2026-10-25 00:00:00", "2026-10-26 01:00:00", NULL});

    /* Between the two occurrences: the second one is skipped. */
    expect_runs("30 2 * * *", "Europe/Berlin", "2026-10-25 00:45:00",
                (const char *[]){"2026-10-26 01:30:00", NULL});

    /* Every 30 real minutes through the repeated hour. */
    expect_runs("*/30 * * * *", "Europe/Berlin", "2026-10-24 23:45:00",
                (const char *[]){"2026-10-25 00:00:00", "2026-10-25 00:30:00",
                                 "2026-10-25 01:00:00", "2026-10-25 01:30:00",
                                 "2026-10-25 02:00:00", NULL});

    /* A job in the repeated hour, other hours restricted, runs once. */
    expect_runs("*/30 1-3 * * *", "Europe/Berlin", "2026-10-24 23:15:00",
                (const char *[]){"2026-10-24 23:30:00", "2026-10-25 00:00:00",
                                 "2026-10-25 00:30:00", "2026-10-25 02:00:00",
                                 "2026-10-25 02:30:00", NULL});
}

static void cron_new_york_fall_back(void **state)
{
    (void)state;
    /* 01:30 occurs at 05:30Z (EDT) and 06:30Z (EST) on 2026-11-01. */
    expect_runs(
        "30 1 * * *", "America/New_York", "2026-10-31 12:00:00",
        (const char *[]){"2026-11-01 05:30:00", "2026-11-02 06:30:00", NULL});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cron_parse_errors),
        cmocka_unit_test(cron_parse_fields),
        cmocka_unit_test(cron_next_basic),
        cmocka_unit_test(cron_next_month_ends),
        cmocka_unit_test(cron_next_leap_years),
        cmocka_unit_test(cron_next_day_rules),
        cmocka_unit_test(cron_next_never),
        cmocka_unit_test(cron_next_out_of_range),
        cmocka_unit_test(cron_berlin_spring_forward),
        cmocka_unit_test(cron_berlin_fall_back),
        cmocka_unit_test(cron_new_york_fall_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
