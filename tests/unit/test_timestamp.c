#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/timestamp.h"

/* UTC "YYYY-MM-DD HH:MM:SS" to epoch milliseconds, via glibc's timegm. */
static int64_t utc_ms(const char *text)
{
    struct tm tm = {0};
    int matched = sscanf(text, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
                         &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);

    assert_int_equal(matched, 6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

static int64_t parse_ok(const char *text, const struct zone *zone)
{
    char err[256];
    int64_t ms = INT64_MIN;

    if (timestamp_parse(text, zone, &ms, err, sizeof err) != 0)
        fail_msg("timestamp_parse(%s): %s", text, err);
    return ms;
}

/* Parses text, expecting a failure whose message contains `expected`. */
static void parse_fails(const char *text, const struct zone *zone,
                        const char *expected)
{
    char err[256] = "";
    int64_t ms = 42;

    if (timestamp_parse(text, zone, &ms, err, sizeof err) == 0)
        fail_msg("timestamp_parse(%s) accepted it", text);
    assert_int_equal(ms, 42);
    if (!strstr(err, expected))
        fail_msg("timestamp_parse(%s): message \"%s\" lacks \"%s\"", text, err,
                 expected);
}

static struct zone *load(const char *name)
{
    char err[256];
    struct zone *zone = zone_load(name, err, sizeof err);

    if (!zone)
        fail_msg("zone_load(%s): %s", name, err);
    return zone;
}

static void timestamp_offsets(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-12-05T09:00:00+01:00", NULL),
                     utc_ms("2026-12-05 08:00:00"));
    assert_int_equal(parse_ok("2026-12-05T08:00:00Z", NULL),
                     utc_ms("2026-12-05 08:00:00"));
    assert_int_equal(parse_ok("2026-12-05T03:00:00-05:00", NULL),
                     utc_ms("2026-12-05 08:00:00"));
    assert_int_equal(parse_ok("2026-12-05T13:45:00+05:45", NULL),
                     utc_ms("2026-12-05 08:00:00"));
    assert_int_equal(parse_ok("2026-12-05T08:00:00-00:00", NULL),
                     utc_ms("2026-12-05 08:00:00"));
    assert_int_equal(parse_ok("2026-12-31T23:30:00-23:59", NULL),
                     utc_ms("2027-01-01 23:29:00"));
    assert_int_equal(parse_ok("2026-01-01T00:00:00+14:00", NULL),
                     utc_ms("2025-12-31 10:00:00"));
}

static void timestamp_separators(void **state)
{
    int64_t expected = utc_ms("2026-12-05 08:00:00");

    (void)state;
    assert_int_equal(parse_ok("2026-12-05t08:00:00z", NULL), expected);
    assert_int_equal(parse_ok("2026-12-05 08:00:00Z", NULL), expected);
    assert_int_equal(parse_ok("2026-12-05T08:00:00z", NULL), expected);
}

static void timestamp_fractions(void **state)
{
    int64_t base = utc_ms("2026-12-05 08:00:00");

    (void)state;
    assert_int_equal(parse_ok("2026-12-05T08:00:00.5Z", NULL), base + 500);
    assert_int_equal(parse_ok("2026-12-05T08:00:00.05Z", NULL), base + 50);
    assert_int_equal(parse_ok("2026-12-05T08:00:00.123Z", NULL), base + 123);
    assert_int_equal(parse_ok("2026-12-05T08:00:00.1239Z", NULL), base + 123);
    assert_int_equal(parse_ok("2026-12-05T08:00:00.999999999Z", NULL),
                     base + 999);
    assert_int_equal(parse_ok("2026-12-05T09:00:00.250+01:00", NULL),
                     base + 250);
    parse_fails("2026-12-05T08:00:00.Z", NULL, "missing digits after \".\"");
    parse_fails("2026-12-05T08:00:00.1234567890Z", NULL, "at most 9");
}

static void timestamp_gap_berlin(void **state)
{
    struct zone *berlin = load("Europe/Berlin");

    (void)state;
    /* 02:30 does not exist on 2026-03-29: read with CET, it is 03:30 CEST. */
    assert_int_equal(parse_ok("2026-03-29T02:30:00", berlin),
                     utc_ms("2026-03-29 01:30:00"));
    assert_int_equal(parse_ok("2026-03-29T01:59:59", berlin),
                     utc_ms("2026-03-29 00:59:59"));
    assert_int_equal(parse_ok("2026-03-29T03:00:00", berlin),
                     utc_ms("2026-03-29 01:00:00"));
    zone_free(berlin);
}

static void timestamp_overlap_berlin(void **state)
{
    struct zone *berlin = load("Europe/Berlin");

    (void)state;
    /* 02:30 occurs twice on 2026-10-25, first in CEST. */
    assert_int_equal(parse_ok("2026-10-25T02:30:00", berlin),
                     utc_ms("2026-10-25 00:30:00"));
    assert_int_equal(parse_ok("2026-10-25T03:00:00", berlin),
                     utc_ms("2026-10-25 02:00:00"));

    /* An explicit offset picks either occurrence. */
    assert_int_equal(parse_ok("2026-10-25T02:30:00+01:00", berlin),
                     utc_ms("2026-10-25 01:30:00"));
    assert_int_equal(parse_ok("2026-12-05T09:00:00.125", berlin),
                     utc_ms("2026-12-05 08:00:00") + 125);
    zone_free(berlin);
}

static void timestamp_naive_without_zone(void **state)
{
    char err[256];
    int64_t ms = 0;

    (void)state;
    assert_int_equal(
        timestamp_parse("2026-12-05T09:00:00", NULL, &ms, err, sizeof err), -1);
    assert_string_equal(err, "invalid timestamp \"2026-12-05T09:00:00\": no "
                             "UTC offset; add an offset such as +01:00 or "
                             "Z, or set default_zone in the config");
}

static void timestamp_bad_calendar(void **state)
{
    (void)state;
    parse_fails("2026-02-30T10:00:00Z", NULL,
                "invalid timestamp \"2026-02-30T10:00:00Z\": day 30 does not "
                "exist in February 2026");
    parse_fails("2026-02-29T10:00:00Z", NULL, "day 29 does not exist");
    parse_fails("2026-04-31T10:00:00Z", NULL, "day 31 does not exist in April");
    parse_fails("2026-01-00T10:00:00Z", NULL, "day 0 does not exist");
    parse_fails("2026-13-01T10:00:00Z", NULL, "month 13 is out of range");
    parse_fails("2026-00-01T10:00:00Z", NULL, "month 00 is out of range");
    parse_fails("2026-06-01T24:00:00Z", NULL, "hour 24 is out of range");
    parse_fails("2026-06-01T10:60:00Z", NULL, "minute 60 is out of range");
    parse_fails("2026-06-01T10:00:61Z", NULL, "second 61 is out of range");
    parse_fails("2026-12-31T23:59:60Z", NULL, "leap second");

    /* 2024 and 2000 are leap years, but 2100 is not. */
    assert_int_equal(parse_ok("2024-02-29T10:00:00Z", NULL),
                     utc_ms("2024-02-29 10:00:00"));
    assert_int_equal(parse_ok("2000-02-29T10:00:00Z", NULL),
                     utc_ms("2000-02-29 10:00:00"));
    parse_fails("2100-02-29T10:00:00Z", NULL, "day 29 does not exist");
}

static void timestamp_bad_shape(void **state)
{
    (void)state;
    parse_fails("", NULL, "empty value");
    parse_fails("2026-12-05", NULL, "missing time of day");
    parse_fails("2026-12-05T09:00", NULL, "expected YYYY-MM-DDTHH:MM:SS");
    parse_fails("26-12-05T09:00:00Z", NULL, "expected YYYY-MM-DDTHH:MM:SS");
    parse_fails("2026-12-05X09:00:00Z", NULL, "expected YYYY");
    parse_fails("2026-12-05T09:00:00Zjunk", NULL,
                "unexpected text \"junk\" after the timestamp");
    parse_fails("2026-12-05T09:00:00+01:00 ", NULL, "unexpected text");
    parse_fails(" 2026-12-05T09:00:00Z", NULL, "expected YYYY");
    parse_fails("2026-12-05T09:00:00+0100", NULL, "+HH:MM");
    parse_fails("2026-12-05T09:00:00+1", NULL, "+HH:MM");
    parse_fails("2026-12-05T09:00:00+24:00", NULL,
                "offset +24:00 is out of range");
    parse_fails("2026-12-05T09:00:00-01:60", NULL,
                "offset -01:60 is out of range");
    parse_fails("2026-12-05T09:00:00 UTC", NULL, "unexpected text");
}

static void timestamp_utc_range(void **state)
{
    struct zone *new_york = load("America/New_York");
    char buf[TIMESTAMP_MAX];

    (void)state;
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z", NULL), 0);
    assert_int_equal(parse_ok("1970-01-01T01:00:00+01:00", NULL), 0);
    assert_int_equal(parse_ok("9999-12-31T23:59:59.999Z", NULL),
                     utc_ms("9999-12-31 23:59:59") + 999);
    assert_int_equal(parse_ok("9999-12-31T23:59:59.999+23:59", NULL),
                     utc_ms("9999-12-31 00:00:59") + 999);

    /* Written in 9999 but 10000-01-01 in UTC: formatting would fail. */
    parse_fails("9999-12-31T23:59:59.999-23:59", NULL,
                "invalid timestamp \"9999-12-31T23:59:59.999-23:59\": it "
                "falls after 9999-12-31T23:59:59.999Z in UTC; use a time "
                "from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z");
    parse_fails("9999-12-31T20:00:00", new_york, "after 9999-12-31");
    parse_fails("1970-01-01T00:59:59+01:00", NULL,
                "it falls before 1970-01-01T00:00:00Z in UTC");
    parse_fails("1969-12-31T23:59:59.999Z", NULL, "before 1970");
    parse_fails("0000-01-01T00:00:00Z", NULL, "before 1970");

    /* Every accepted instant can be printed. */
    assert_int_equal(
        timestamp_format(parse_ok("9999-12-31T23:59:59.999Z", NULL), buf,
                         sizeof buf),
        0);
    assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
    zone_free(new_york);
}

static void timestamp_format_values(void **state)
{
    char buf[TIMESTAMP_MAX];

    (void)state;
    assert_int_equal(
        timestamp_format(utc_ms("2026-12-05 08:00:00"), buf, sizeof buf), 0);
    assert_string_equal(buf, "2026-12-05T08:00:00.000Z");
    assert_int_equal(timestamp_format(0, buf, sizeof buf), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    assert_int_equal(timestamp_format(-1, buf, sizeof buf), 0);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    assert_int_equal(
        timestamp_format(utc_ms("2024-02-29 23:59:59") + 7, buf, sizeof buf),
        0);
    assert_string_equal(buf, "2024-02-29T23:59:59.007Z");

    assert_int_equal(timestamp_format(0, buf, sizeof buf - 1), -1);
    assert_int_equal(timestamp_format(INT64_MAX, buf, sizeof buf), -1);
    assert_string_equal(buf, "");
}

static void timestamp_format_round_trip(void **state)
{
    const char *texts[] = {
        "2026-12-05T08:00:00.000Z", "1970-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z", "1970-07-20T20:17:40.123Z",
        "2000-02-29T12:00:00.001Z",
    };
    char buf[TIMESTAMP_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        assert_int_equal(
            timestamp_format(parse_ok(texts[i], NULL), buf, sizeof buf), 0);
        assert_string_equal(buf, texts[i]);
    }

    /* Every 997 seconds across 30 years: format, parse, compare. */
    for (int64_t ms = 0; ms < 946771200000; ms += 997003) {
        assert_int_equal(timestamp_format(ms, buf, sizeof buf), 0);
        assert_int_equal(parse_ok(buf, NULL), ms);
    }
}

static void timestamp_durations(void **state)
{
    const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"0", 0},
        {"0s", 0},
        {"500ms", 500},
        {"30s", 30000},
        {"2m", 120000},
        {"1h", 3600000},
        {"24h", 86400000},
        {"7d", 604800000},
        {"9223372036854775807ms", INT64_MAX},
    };
    char err[256];
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ms = -1;
        if (timestamp_parse_duration(good[i].text, &ms, err, sizeof err))
            fail_msg("duration %s: %s", good[i].text, err);
        assert_int_equal(ms, good[i].ms);
    }
}

static void timestamp_bad_durations(void **state)
{
    const struct {
        const char *text;
        const char *message;
    } bad[] = {
        {"", "empty value"},
        {"-5s", "negative durations are not allowed"},
        {"30", "missing unit; add ms, s, m, h or d, such as 30s"},
        {"5w", "unknown unit \"w\""},
        {"5 s", "unknown unit \" s\""},
        {"1.5h", "fractions are not supported"},
        {"h", "use a number and a unit"},
        {"9223372036854775808ms", "too large"},
        {"106751991168d", "too large"},
        {"99999999999999999999999s", "too large"},
    };
    char err[256];
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms = 42;
        err[0] = '\0';
        assert_int_equal(
            timestamp_parse_duration(bad[i].text, &ms, err, sizeof err), -1);
        assert_int_equal(ms, 42);
        if (!strstr(err, bad[i].message))
            fail_msg("duration \"%s\": message \"%s\" lacks \"%s\"",
                     bad[i].text, err, bad[i].message);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timestamp_offsets),
        cmocka_unit_test(timestamp_separators),
        cmocka_unit_test(timestamp_fractions),
        cmocka_unit_test(timestamp_gap_berlin),
        cmocka_unit_test(timestamp_overlap_berlin),
        cmocka_unit_test(timestamp_naive_without_zone),
        cmocka_unit_test(timestamp_bad_calendar),
        cmocka_unit_test(timestamp_bad_shape),
        cmocka_unit_test(timestamp_utc_range),
        cmocka_unit_test(timestamp_format_values),
        cmocka_unit_test(timestamp_format_round_trip),
        cmocka_unit_test(timestamp_durations),
        cmocka_unit_test(timestamp_bad_durations),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
