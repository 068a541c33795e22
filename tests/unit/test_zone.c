#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/zone.h"
#include "test_support.h"

/* UTC "YYYY-MM-DD HH:MM:SS" to epoch seconds, via glibc's timegm so the
 * expected values do not come from the code under test. */
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

/* A wall-clock time counted as if it were UTC. */
static int64_t wall(const char *text)
{
    return utc(text);
}

static struct zone *load(const char *name)
{
    char err[256];
    struct zone *zone = zone_load(name, err, sizeof err);

    if (!zone)
        fail_msg("zone_load(%s): %s", name, err);
    return zone;
}

static int32_t offset(const struct zone *zone, const char *when)
{
    int32_t seconds = INT32_MIN;

    assert_int_equal(zone_offset_at(zone, utc(when), &seconds), 0);
    return seconds;
}

static void zone_berlin_offsets(void **state)
{
    struct zone *berlin = load("Europe/Berlin");

    (void)state;
    assert_string_equal(zone_name(berlin), "Europe/Berlin");
    assert_int_equal(offset(berlin, "2026-01-15 12:00:00"), 3600);
    assert_int_equal(offset(berlin, "2026-07-15 12:00:00"), 7200);

    /* Spring forward and fall back both happen at 01:00 UTC. */
    assert_int_equal(offset(berlin, "2026-03-29 00:59:59"), 3600);
    assert_int_equal(offset(berlin, "2026-03-29 01:00:00"), 7200);
    assert_int_equal(offset(berlin, "2026-10-25 00:59:59"), 7200);
    assert_int_equal(offset(berlin, "2026-10-25 01:00:00"), 3600);
    zone_free(berlin);
}

static void zone_new_york_offsets(void **state)
{
    struct zone *new_york = load("America/New_York");

    (void)state;
    assert_int_equal(offset(new_york, "2026-03-08 06:59:59"), -18000);
    assert_int_equal(offset(new_york, "2026-03-08 07:00:00"), -14400);
    assert_int_equal(offset(new_york, "2026-11-01 05:59:59"), -14400);
    assert_int_equal(offset(new_york, "2026-11-01 06:00:00"), -18000);
    zone_free(new_york);
}

static void zone_utc_names(void **state)
{
    const char *names[] = {"UTC", "Etc/UTC"};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct zone *zone = load(names[i]);
        int64_t epoch;
        enum zone_resolution how;

        assert_string_equal(zone_name(zone), names[i]);
        assert_int_equal(offset(zone, "2026-07-01 00:00:00"), 0);
        assert_int_equal(zone_resolve_local(zone, 1000, &epoch, &how), 0);
        assert_int_equal(epoch, 1000);
        assert_int_equal(how, ZONE_EXACT);
        zone_free(zone);
    }
}

static void zone_utc_without_tzdata(void **state)
{
    char err[256];
    struct zone *zone;

    (void)state;
    setenv("TZDIR", test_tmpdir(), 1);
    zone = zone_load("UTC", err, sizeof err);
    assert_non_null(zone);
    zone_free(zone);

    assert_null(zone_load("Europe/Berlin", err, sizeof err));
    unsetenv("TZDIR");
}

static void zone_lord_howe_half_hour(void **state)
{
    struct zone *lord_howe = load("Australia/Lord_Howe");
    int64_t epoch;
    enum zone_resolution how;

    (void)state;
    assert_int_equal(offset(lord_howe, "2026-04-04 14:59:59"), 39600);
    assert_int_equal(offset(lord_howe, "2026-04-04 15:00:00"), 37800);
    assert_int_equal(offset(lord_howe, "2026-10-03 15:29:59"), 37800);
    assert_int_equal(offset(lord_howe, "2026-10-03 15:30:00"), 39600);

    /* 02:00-02:30 on 2026-10-04 does not exist there. */
    assert_int_equal(zone_resolve_local(lord_howe, wall("2026-10-04 02:15:00"),
                                        &epoch, &how),
                     0);
    assert_int_equal(how, ZONE_GAP);
    assert_int_equal(epoch, utc("2026-10-03 15:45:00"));

    /* 01:30-02:00 on 2026-04-05 occurs twice, and the earlier one is +11. */
    assert_int_equal(zone_resolve_local(lord_howe, wall("2026-04-05 01:45:00"),
                                        &epoch, &how),
                     0);
    assert_int_equal(how, ZONE_OVERLAP);
    assert_int_equal(epoch, utc("2026-04-04 14:45:00"));
    zone_free(lord_howe);
}

static void zone_far_future_footer(void **state)
{
    struct zone *berlin = load("Europe/Berlin");
    struct zone *new_york = load("America/New_York");
    int64_t transition;

    (void)state;
    assert_int_equal(offset(berlin, "2100-03-28 00:59:59"), 3600);
    assert_int_equal(offset(berlin, "2100-03-28 01:00:00"), 7200);
    assert_int_equal(offset(berlin, "2100-10-31 00:59:59"), 7200);
    assert_int_equal(offset(berlin, "2100-10-31 01:00:00"), 3600);
    assert_int_equal(offset(new_york, "2100-03-14 07:00:00"), -14400);
    assert_int_equal(offset(new_york, "2100-11-07 05:59:59"), -14400);
    assert_int_equal(offset(new_york, "2100-11-07 06:00:00"), -18000);

    assert_int_equal(
        zone_next_transition(berlin, utc("2100-01-01 00:00:00"), &transition),
        0);
    assert_int_equal(transition, utc("2100-03-28 01:00:00"));
    zone_free(berlin);
    zone_free(new_york);
}

static void zone_resolve_berlin(void **state)
{
    struct zone *berlin = load("Europe/Berlin");
    int64_t epoch;
    enum zone_resolution how;

    (void)state;
    assert_int_equal(
        zone_resolve_local(berlin, wall("2026-03-29 02:30:00"), &epoch, &how),
        0);
    assert_int_equal(how, ZONE_GAP);
    assert_int_equal(epoch, utc("2026-03-29 01:30:00"));

    assert_int_equal(
        zone_resolve_local(berlin, wall("2026-10-25 02:30:00"), &epoch, &how),
        0);
    assert_int_equal(how, ZONE_OVERLAP);
    assert_int_equal(epoch, utc("2026-10-25 00:30:00"));

    assert_int_equal(
        zone_resolve_local(berlin, wall("2026-10-25 03:00:00"), &epoch, &how),
        0);
    assert_int_equal(how, ZONE_EXACT);
    assert_int_equal(epoch, utc("2026-10-25 02:00:00"));

    assert_int_equal(
        zone_resolve_local(berlin, wall("2026-03-29 03:00:00"), &epoch, NULL),
        0);
    assert_int_equal(epoch, utc("2026-03-29 01:00:00"));
    zone_free(berlin);
}

static void zone_next_transitions(void **state)
{
    struct zone *berlin = load("Europe/Berlin");
    struct zone *utc_zone = load("UTC");
    int64_t transition;

    (void)state;
    assert_int_equal(
        zone_next_transition(berlin, utc("2026-01-01 00:00:00"), &transition),
        0);
    assert_int_equal(transition, utc("2026-03-29 01:00:00"));
    assert_int_equal(zone_next_transition(berlin, transition, &transition), 0);
    assert_int_equal(transition, utc("2026-10-25 01:00:00"));

    assert_int_equal(zone_next_transition(utc_zone, 0, &transition), 0);
    assert_true(transition == INT64_MAX);

    assert_int_equal(
        zone_offset_at(berlin, ZONE_SECONDS_LIMIT + 1, &(int32_t){0}), -1);
    zone_free(berlin);
    zone_free(utc_zone);
}

static void zone_bad_names(void **state)
{
    const char *names[] = {
        "../etc/passwd",
        "/etc/localtime",
        "Europe/../UTC",
        "Europe/Berlin;rm",
        "",
        "Europe/Berlin ",
        "Mars/Olympus_Mons",
        "Europe",
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        err[0] = '\0';
        assert_null(zone_load(names[i], err, sizeof err));
        if (!strstr(err, names[i]) || !strstr(err, "\"Europe/Berlin\""))
            fail_msg("name \"%s\": message \"%s\"", names[i], err);
    }
}

/* ---- hand-built TZif files ------------------------------------------ */

struct tzif_buffer {
    unsigned char bytes[512];
    size_t length;
};

static void put(struct tzif_buffer *buffer, const void *data, size_t length)
{
    assert_true(buffer->length + length <= sizeof buffer->bytes);
    memcpy(buffer->bytes + buffer->length, data, length);
    buffer->length += length;
}

static void put_be(struct tzif_buffer *buffer, int64_t value, int size)
{
    for (int i = size - 1; i >= 0; i--) {
        unsigned char byte = (unsigned char)((uint64_t)value >> (8 * i));

        put(buffer, &byte, 1);
    }
}

/* Header with counts isut, isstd, leap, time, type, char. */
static void put_header(struct tzif_buffer *buffer, char version,
                       const uint32_t counts[6])
{
    static const unsigned char unused[15];

    put(buffer, "TZif", 4);
    put(buffer, &version, 1);
    put(buffer, unused, sizeof unused);
    for (int i = 0; i < 6; i++)
        put_be(buffer, counts[i], 4);
}

static void put_type(struct tzif_buffer *buffer, int32_t offset, int dst,
                     int name_index)
{
    unsigned char flags[2] = {(unsigned char)dst, (unsigned char)name_index};

    put_be(buffer, offset, 4);
    put(buffer, flags, 2);
}

static const char *write_zone(const char *dir, const char *name,
                              const struct tzif_buffer *buffer)
{
    const char *path = test_path(dir, name);
    FILE *file = fopen(path, "wb");

    assert_non_null(file);
    assert_int_equal(fwrite(buffer->bytes, 1, buffer->length, file),
                     buffer->length);
    assert_int_equal(fclose(file), 0);
    return path;
}

/* A "slim" v2 file: no transitions at all, only a type and the footer. */
static void zone_slim_footer_only(void **state)
{
    const uint32_t counts[6] = {0, 0, 0, 0, 1, 4};
    const char *footer = "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
    struct tzif_buffer buffer = {0};
    const char *dir = test_tmpdir();
    struct zone *zone;

    (void)state;
    for (int block = 0; block < 2; block++) {
        put_header(&buffer, '2', counts);
        put_type(&buffer, 3600, 0, 0);
        put(&buffer, "CET", 4);
    }
    put(&buffer, footer, strlen(footer));
    write_zone(dir, "Slim", &buffer);

    setenv("TZDIR", dir, 1);
    zone = load("Slim");
    unsetenv("TZDIR");
    assert_int_equal(offset(zone, "2026-03-29 00:59:59"), 3600);
    assert_int_equal(offset(zone, "2026-03-29 01:00:00"), 7200);
    assert_int_equal(offset(zone, "2026-10-25 01:00:00"), 3600);
    assert_int_equal(offset(zone, "2100-10-31 00:59:59"), 7200);
    assert_int_equal(offset(zone, "1950-07-01 00:00:00"), 7200);
    zone_free(zone);
}

/* A version 1 file: 32-bit times and no footer. */
static void zone_version1_file(void **state)
{
    const uint32_t counts[6] = {0, 0, 0, 1, 2, 8};
    struct tzif_buffer buffer = {0};
    const char *dir = test_tmpdir();
    unsigned char type_index = 1;
    struct zone *zone;
    int64_t transition;

    (void)state;
    put_header(&buffer, 0, counts);
    put_be(&buffer, 1000000000, 4);
    put(&buffer, &type_index, 1);
    put_type(&buffer, 0, 0, 0);
    put_type(&buffer, 5400, 0, 4);
    put(&buffer, "AAA\0BBB", 8);
    write_zone(dir, "Old", &buffer);

    setenv("TZDIR", dir, 1);
    zone = load("Old");
    unsetenv("TZDIR");
    assert_int_equal(zone_offset_at(zone, 999999999, &(int32_t){0}), 0);
    assert_int_equal(offset(zone, "2001-09-09 01:46:39"), 0);
    assert_int_equal(offset(zone, "2001-09-09 01:46:40"), 5400);
    assert_int_equal(offset(zone, "2200-01-01 00:00:00"), 5400);
    assert_int_equal(zone_next_transition(zone, 0, &transition), 0);
    assert_int_equal(transition, 1000000000);
    zone_free(zone);
}

/*
 * DST from the last Sunday to the last Monday of February: in 2099 the
 * Sunday comes first, in 2100 the Monday, so the 2100 rules put January
 * in DST and the offset changes at the new year.
 */
static void zone_footer_swap_new_year(void **state)
{
    const uint32_t counts[6] = {0, 0, 0, 0, 1, 4};
    const char *footer = "\nAAA2BBB,M2.5.0,M2.5.1\n";
    struct tzif_buffer buffer = {0};
    char err[256] = "";
    struct zone *zone;
    int64_t transition;
    int64_t epoch;
    enum zone_resolution how;

    (void)state;
    for (int block = 0; block < 2; block++) {
        put_header(&buffer, '2', counts);
        put_type(&buffer, -7200, 0, 0);
        put(&buffer, "AAA", 4);
    }
    put(&buffer, footer, strlen(footer));
    zone =
        zone_parse_tzif(buffer.bytes, buffer.length, "Swap", err, sizeof err);
    if (zone == NULL)
        fail_msg("zone_parse_tzif: %s", err);

    assert_int_equal(offset(zone, "2100-01-01 01:59:59"), -7200);
    assert_int_equal(offset(zone, "2100-01-01 02:00:00"), -3600);
    assert_int_equal(
        zone_next_transition(zone, utc("2099-12-01 00:00:00"), &transition), 0);
    assert_int_equal(transition, utc("2100-01-01 02:00:00"));
    assert_int_equal(zone_next_transition(zone, transition, &transition), 0);
    assert_int_equal(transition, utc("2100-02-22 03:00:00"));

    assert_int_equal(
        zone_resolve_local(zone, wall("2100-01-01 00:00:00"), &epoch, &how), 0);
    assert_int_equal(how, ZONE_GAP);
    assert_int_equal(epoch, utc("2100-01-01 02:00:00"));
    assert_int_equal(
        zone_resolve_local(zone, wall("2100-01-01 01:00:00"), &epoch, &how), 0);
    assert_int_equal(how, ZONE_EXACT);
    assert_int_equal(epoch, utc("2100-01-01 02:00:00"));
    zone_free(zone);
}

static void zone_broken_files(void **state)
{
    const uint32_t leap_counts[6] = {0, 0, 1, 0, 1, 4};
    struct tzif_buffer leap = {0};
    struct tzif_buffer truncated = {0};
    const char *dir = test_tmpdir();
    char err[256];

    (void)state;
    put_header(&leap, 0, leap_counts);
    put_type(&leap, 0, 0, 0);
    put(&leap, "UTC", 4);
    put_be(&leap, 78796800, 4);
    put_be(&leap, 1, 4);
    write_zone(dir, "Leap", &leap);

    put_header(&truncated, '2', (const uint32_t[6]){0, 0, 0, 5, 1, 4});
    write_zone(dir, "Short", &truncated);
    write_zone(dir, "Text", &(struct tzif_buffer){"not a zone", 10});

    setenv("TZDIR", dir, 1);
    assert_null(zone_load("Leap", err, sizeof err));
    assert_non_null(strstr(err, "leap-second"));
    assert_null(zone_load("Short", err, sizeof err));
    assert_non_null(strstr(err, "truncated"));
    assert_null(zone_load("Text", err, sizeof err));
    assert_non_null(strstr(err, "not a TZif file"));
    unsetenv("TZDIR");
}

static void zone_civil_dates(void **state)
{
    struct zone_civil_date date;

    (void)state;
    assert_int_equal(zone_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(zone_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(zone_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(zone_days_in_month(2024, 2), 29);
    assert_int_equal(zone_days_in_month(2100, 2), 28);
    assert_int_equal(zone_days_in_month(2000, 2), 29);

    zone_civil_from_days(zone_days_from_civil(2026, 3, 29), &date);
    assert_int_equal(date.year, 2026);
    assert_int_equal(date.month, 3);
    assert_int_equal(date.day, 29);
    assert_int_equal(date.weekday, 0);

    /* Every day from 1600 to 2400 converts back to itself. */
    for (int64_t day = -135140; day <= 157000; day++) {
        zone_civil_from_days(day, &date);
        if (zone_days_from_civil(date.year, date.month, date.day) != day)
            fail_msg("day %lld does not round-trip", (long long)day);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zone_berlin_offsets),
        cmocka_unit_test(zone_new_york_offsets),
        cmocka_unit_test(zone_utc_names),
        cmocka_unit_test(zone_utc_without_tzdata),
        cmocka_unit_test(zone_lord_howe_half_hour),
        cmocka_unit_test(zone_far_future_footer),
        cmocka_unit_test(zone_resolve_berlin),
        cmocka_unit_test(zone_next_transitions),
        cmocka_unit_test(zone_bad_names),
        cmocka_unit_test(zone_slim_footer_only),
        cmocka_unit_test(zone_version1_file),
        cmocka_unit_test(zone_footer_swap_new_year),
        cmocka_unit_test(zone_broken_files),
        cmocka_unit_test(zone_civil_dates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
