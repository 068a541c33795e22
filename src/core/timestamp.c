#include "core/timestamp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define SHAPE_HINT                                                             \
    "expected YYYY-MM-DDTHH:MM:SS followed by Z or an offset, such as "        \
    "2026-12-05T09:00:00+01:00"

/* The fields of a timestamp as written, before range checks. */
struct written_time {
    int year;
    int month;
    int day;
    int hour;
    int minute;
    int second;
    int millisecond;
    int has_offset;
    int offset_sign;
    int offset_hours;
    int offset_minutes;
};

static const char *const month_names[] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

__attribute__((format(printf, 4, 5))) static int
reject(char *err, size_t errlen, const char *text, const char *fmt, ...)
{
    char detail[192];
    va_list args;

    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    snprintf(err, errlen, "invalid timestamp \"%.80s\": %s", text, detail);
    return -1;
}

/* Reads exactly `digits` decimal digits. */
static int read_fixed(const char **p, int digits, int *value)
{
    *value = 0;
    for (int i = 0; i < digits; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        *value = *value * 10 + ((*p)[i] - '0');
    }
    *p += digits;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

static int read_date(const char **p, struct written_time *time)
{
    if (read_fixed(p, 4, &time->year) != 0 || expect(p, '-') != 0 ||
        read_fixed(p, 2, &time->month) != 0 || expect(p, '-') != 0 ||
        read_fixed(p, 2, &time->day) != 0)
        return -1;
    return 0;
}

static int read_clock(const char **p, struct written_time *time)
{
    if (read_fixed(p, 2, &time->hour) != 0 || expect(p, ':') != 0 ||
        read_fixed(p, 2, &time->minute) != 0 || expect(p, ':') != 0 ||
        read_fixed(p, 2, &time->second) != 0)
        return -1;
    return 0;
}

/* Reads an optional ".digits" and drops digits past milliseconds. */
static int read_fraction(const char **p, struct written_time *time,
                         const char *text, char *err, size_t errlen)
{
    int count = 0;

    time->millisecond = 0;
    if (**p != '.')
        return 0;
    (*p)++;
    while (**p >= '0' && **p <= '9') {
        if (count < 3)
            time->millisecond = time->millisecond * 10 + (**p - '0');
        count++;
        (*p)++;
    }
    if (count == 0)
        return reject(err, errlen, text, "missing digits after \".\"");
    if (count > 9)
        return reject(err, errlen, text,
                      "fraction has %d digits; use at most 9", count);
    for (int i = count; i < 3; i++)
        time->millisecond *= 10;
    return 0;
}

static int read_offset(const char **p, struct written_time *time,
                       const char *text, char *err, size_t errlen)
{
    time->has_offset = 1;
    time->offset_sign = 1;
    time->offset_hours = 0;
    time->offset_minutes = 0;

    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        return 0;
    }
    if (**p != '+' && **p != '-') {
        time->has_offset = 0;
        return 0;
    }

    time->offset_sign = **p == '-' ? -1 : 1;
    (*p)++;
    if (read_fixed(p, 2, &time->offset_hours) != 0 || expect(p, ':') != 0 ||
        read_fixed(p, 2, &time->offset_minutes) != 0)
        return reject(err, errlen, text,
                      "offset must be written as +HH:MM or -HH:MM, such as "
                      "+01:00");
    return 0;
}

/* Reads the text into fields, checking its shape but not the ranges. */
static int read_timestamp(const char *text, struct written_time *time,
                          char *err, size_t errlen)
{
    const char *p = text;

    if (text[0] == '\0')
        return reject(err, errlen, text, "empty value; %s", SHAPE_HINT);
    if (read_date(&p, time) != 0)
        return reject(err, errlen, text, "%s", SHAPE_HINT);
    if (*p == '\0')
        return reject(err, errlen, text,
                      "missing time of day; add one such as "
                      "T09:00:00+01:00");
    if (*p != 'T' && *p != 't' && *p != ' ')
        return reject(err, errlen, text, "%s", SHAPE_HINT);
    p++;
    if (read_clock(&p, time) != 0)
        return reject(err, errlen, text, "%s", SHAPE_HINT);

    if (read_fraction(&p, time, text, err, errlen) != 0 ||
        read_offset(&p, time, text, err, errlen) != 0)
        return -1;
    if (*p != '\0')
        return reject(err, errlen, text,
                      "unexpected text \"%.32s\" after the timestamp", p);
    return 0;
}

static int check_date(const struct written_time *time, const char *text,
                      char *err, size_t errlen)
{
    if (time->month < 1 || time->month > 12)
        return reject(err, errlen, text, "month %02d is out of range 01-12",
                      time->month);
    if (time->day < 1 ||
        time->day > zone_days_in_month(time->year, time->month))
        return reject(err, errlen, text, "day %d does not exist in %s %04d",
                      time->day, month_names[time->month - 1], time->year);
    return 0;
}

static int check_clock(const struct written_time *time, const char *text,
                       char *err, size_t errlen)
{
    if (time->hour > 23)
        return reject(err, errlen, text, "hour %02d is out of range 00-23",
                      time->hour);
    if (time->minute > 59)
        return reject(err, errlen, text, "minute %02d is out of range 00-59",
                      time->minute);
    if (time->second == 60)
        return reject(err, errlen, text,
                      "leap second :60 is not supported; use :59");
    if (time->second > 59)
        return reject(err, errlen, text, "second %02d is out of range 00-59",
                      time->second);
    if (time->offset_hours > 23 || time->offset_minutes > 59)
        return reject(err, errlen, text,
                      "offset %c%02d:%02d is out of range; use -23:59 to "
                      "+23:59",
                      time->offset_sign < 0 ? '-' : '+', time->offset_hours,
                      time->offset_minutes);
    return 0;
}

/* 10000-01-01T00:00:00Z in milliseconds since the epoch. */
#define YEAR_10000_MS 253402300800000LL

#define RANGE_HINT                                                             \
    "use a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z"

/*
 * An offset can move a written 9999-12-31 into year 10000, which
 * timestamp_format cannot print; an instant before 1970 would be a
 * negative count that no stored time uses.
 */
static int check_range(int64_t epoch_ms, const char *text, char *err,
                       size_t errlen)
{
    if (epoch_ms < 0)
        return reject(err, errlen, text,
                      "it falls before 1970-01-01T00:00:00Z in UTC; %s",
                      RANGE_HINT);
    if (epoch_ms >= YEAR_10000_MS)
        return reject(err, errlen, text,
                      "it falls after 9999-12-31T23:59:59.999Z in UTC; %s",
                      RANGE_HINT);
    return 0;
}

/* Seconds of the written date and time, counted as if it were UTC. */
static int64_t wall_seconds(const struct written_time *time)
{
    return zone_days_from_civil(time->year, time->month, time->day) * 86400 +
           time->hour * 3600 + time->minute * 60 + time->second;
}

int timestamp_parse(const char *text, const struct zone *default_zone,
                    int64_t *epoch_ms, char *err, size_t errlen)
{
    struct written_time time = {0};
    int64_t seconds = 0;

    if (read_timestamp(text, &time, err, errlen) != 0 ||
        check_date(&time, text, err, errlen) != 0 ||
        check_clock(&time, text, err, errlen) != 0)
        return -1;

    if (time.has_offset) {
        seconds = wall_seconds(&time) -
                  time.offset_sign *
                      (time.offset_hours * 3600 + time.offset_minutes * 60);
    } else if (!default_zone) {
        return reject(err, errlen, text,
                      "no UTC offset; add an offset such as +01:00 or Z, or "
                      "set default_zone in the config");
    } else if (zone_resolve_local(default_zone, wall_seconds(&time), &seconds,
                                  NULL) != 0) {
        return reject(err, errlen, text, "cannot resolve it in zone %s",
                      zone_name(default_zone));
    }

    if (check_range(seconds * 1000 + time.millisecond, text, err, errlen) != 0)
        return -1;

    *epoch_ms = seconds * 1000 + time.millisecond;
    return 0;
}

int timestamp_format(int64_t epoch_ms, char *buf, size_t buflen)
{
    int64_t seconds = epoch_ms / 1000;
    int64_t millis = epoch_ms % 1000;
    int64_t days;
    int64_t second_of_day;
    struct zone_civil_date date;

    if (buflen < TIMESTAMP_MAX) {
        if (buflen > 0)
            buf[0] = '\0';
        return -1;
    }
    if (millis < 0) {
        millis += 1000;
        seconds--;
    }
    days = seconds / 86400;
    second_of_day = seconds % 86400;
    if (second_of_day < 0) {
        second_of_day += 86400;
        days--;
    }

    zone_civil_from_days(days, &date);
    if (date.year < 0 || date.year > 9999) {
        buf[0] = '\0';
        return -1;
    }
    snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)date.year,
             date.month, date.day, (int)(second_of_day / 3600),
             (int)(second_of_day / 60 % 60), (int)(second_of_day % 60),
             (int)millis);
    return 0;
}

/* ---- durations ------------------------------------------------------ */

struct duration_unit {
    const char *name;
    int64_t milliseconds;
};

static const struct duration_unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

#define DURATION_HINT "use a number and a unit such as 30s, 500ms or 1h"

__attribute__((format(printf, 4, 5))) static int
reject_duration(char *err, size_t errlen, const char *text, const char *fmt,
                ...)
{
    char detail[160];
    va_list args;

    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    snprintf(err, errlen, "invalid duration \"%.64s\": %s", text, detail);
    return -1;
}

/* Reads leading digits. Returns -1 when the value exceeds INT64_MAX. */
static int read_count(const char **p, int64_t *value)
{
    *value = 0;
    while (**p >= '0' && **p <= '9') {
        int digit = **p - '0';

        if (*value > (INT64_MAX - digit) / 10)
            return -1;
        *value = *value * 10 + digit;
        (*p)++;
    }
    return 0;
}

static const struct duration_unit *find_unit(const char *name)
{
    size_t count = sizeof duration_units / sizeof duration_units[0];

    for (size_t i = 0; i < count; i++) {
        if (strcmp(name, duration_units[i].name) == 0)
            return &duration_units[i];
    }
    return NULL;
}

int timestamp_parse_duration(const char *text, int64_t *ms, char *err,
                             size_t errlen)
{
    const char *p = text;
    const struct duration_unit *unit;
    int64_t count;

    if (text[0] == '\0')
        return reject_duration(err, errlen, text, "empty value; %s",
                               DURATION_HINT);
    if (text[0] == '-')
        return reject_duration(err, errlen, text,
                               "negative durations are not allowed");
    if (text[0] < '0' || text[0] > '9')
        return reject_duration(err, errlen, text, "%s", DURATION_HINT);
    if (read_count(&p, &count) != 0)
        return reject_duration(err, errlen, text, "value is too large");

    if (*p == '.')
        return reject_duration(err, errlen, text,
                               "fractions are not supported; use a smaller "
                               "unit, such as 90m for 1.5h");
    if (*p == '\0' && count != 0)
        return reject_duration(err, errlen, text,
                               "missing unit; add ms, s, m, h or d, such as "
                               "%.20ss",
                               text);
    unit = *p == '\0' ? &duration_units[0] : find_unit(p);
    if (!unit)
        return reject_duration(err, errlen, text,
                               "unknown unit \"%.16s\"; use ms, s, m, h or d",
                               p);
    if (count > INT64_MAX / unit->milliseconds)
        return reject_duration(err, errlen, text, "value is too large");

    *ms = count * unit->milliseconds;
    return 0;
}
