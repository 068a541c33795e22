#include "core/http_date.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/*
 * Hand-written because the C library offers only strptime and timegm,
 * which depend on the locale and the process time zone.
 */

#define SECONDS_PER_DAY 86400

/* Room for the longest HTTP-date, "Wednesday, 09-Nov-94 08:49:37 GMT". */
#define MAX_DATE_LENGTH 64

static const char *const short_days[7] = {"Sun", "Mon", "Tue", "Wed",
                                          "Thu", "Fri", "Sat"};
static const char *const long_days[7] = {"Sunday",    "Monday",   "Tuesday",
                                         "Wednesday", "Thursday", "Friday",
                                         "Saturday"};
static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};

struct date_fields {
    int64_t year;
    int two_digit_year;
    int month;
    int day;
    int hour;
    int minute;
    int second;
    int weekday;
};

int64_t http_date_days_from_civil(int64_t year, int month, int day)
{
    /* Counts from 1 March so that the leap day ends each cycle. */
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t year_of_era = y - era * 400;
    int64_t shifted_month = month > 2 ? month - 3 : month + 9;
    int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    return era * 146097 + day_of_era - 719468;
}

static int is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int http_date_days_in_month(int64_t year, int month)
{
    static const int lengths[12] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};

    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && is_leap_year(year))
        return 29;
    return lengths[month - 1];
}

/* Returns the proleptic Gregorian year containing the given day number. */
static int64_t year_from_days(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t day_of_era = z - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 -
                           day_of_era / 146096) /
                          365;
    int64_t day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153;
    int64_t year = year_of_era + era * 400;

    /* January and February belong to the next civil year. */
    return shifted_month >= 10 ? year + 1 : year;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int weekday_of(int64_t days)
{
    /* 1970-01-01 was a Thursday; 0 is Sunday. */
    int64_t w = (days + 4) % 7;

    return (int)(w < 0 ? w + 7 : w);
}

static int take_literal(const char **p, const char *literal)
{
    size_t len = strlen(literal);

    if (strncmp(*p, literal, len) != 0)
        return -1;
    *p += len;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads exactly `count` ASCII digits. */
static int take_digits(const char **p, int count, int *value)
{
    int result = 0;

    for (int i = 0; i < count; i++) {
        if (!is_digit((*p)[i]))
            return -1;
        result = result * 10 + ((*p)[i] - '0');
    }
    *p += count;
    *value = result;
    return 0;
}

/* Matches one of `names` exactly (case-sensitive), setting its index. */
static int take_name(const char **p, const char *const *names, int count,
                     int *index)
{
    for (int i = 0; i < count; i++) {
        if (take_literal(p, names[i]) == 0) {
            *index = i;
            return 0;
        }
    }
    return -1;
}

/* Reads "HH:MM:SS". Ranges are checked later. */
static int take_time(const char **p, struct date_fields *d)
{
    if (take_digits(p, 2, &d->hour) < 0 || take_literal(p, ":") < 0 ||
        take_digits(p, 2, &d->minute) < 0 || take_literal(p, ":") < 0 ||
        take_digits(p, 2, &d->second) < 0)
        return -1;
    return 0;
}

static int take_month(const char **p, struct date_fields *d)
{
    int index;

    if (take_name(p, months, 12, &index) < 0)
        return -1;
    d->month = index + 1;
    return 0;
}

/* Sun, 06 Nov 1994 08:49:37 GMT */
static int parse_imf_fixdate(const char *p, struct date_fields *d)
{
    int year;

    if (take_name(&p, short_days, 7, &d->weekday) < 0 ||
        take_literal(&p, ", ") < 0 || take_digits(&p, 2, &d->day) < 0 ||
        take_literal(&p, " ") < 0 || take_month(&p, d) < 0 ||
        take_literal(&p, " ") < 0 || take_digits(&p, 4, &year) < 0 ||
        take_literal(&p, " ") < 0 || take_time(&p, d) < 0 ||
        take_literal(&p, " GMT") < 0 || *p != '\0')
        return -1;

    d->year = year;
    d->two_digit_year = 0;
    return 0;
}

/* Sunday, 06-Nov-94 08:49:37 GMT */
static int parse_rfc850(const char *p, struct date_fields *d)
{
    int year;

    if (take_name(&p, long_days, 7, &d->weekday) < 0 ||
        take_literal(&p, ", ") < 0 || take_digits(&p, 2, &d->day) < 0 ||
        take_literal(&p, "-") < 0 || take_month(&p, d) < 0 ||
        take_literal(&p, "-") < 0 || take_digits(&p, 2, &year) < 0 ||
        take_literal(&p, " ") < 0 || take_time(&p, d) < 0 ||
        take_literal(&p, " GMT") < 0 || *p != '\0')
        return -1;

    d->year = year;
    d->two_digit_year = 1;
    return 0;
}

/* Sun Nov  6 08:49:37 1994, where the day is 2DIGIT or SP DIGIT. */
static int parse_asctime(const char *p, struct date_fields *d)
{
    int year;

    if (take_name(&p, short_days, 7, &d->weekday) < 0 ||
        take_literal(&p, " ") < 0 || take_month(&p, d) < 0 ||
        take_literal(&p, " ") < 0)
        return -1;

    if (*p == ' ') {
        p++;
        if (take_digits(&p, 1, &d->day) < 0)
            return -1;
    } else if (take_digits(&p, 2, &d->day) < 0) {
        return -1;
    }

    if (take_literal(&p, " ") < 0 || take_time(&p, d) < 0 ||
        take_literal(&p, " ") < 0 || take_digits(&p, 4, &year) < 0 ||
        *p != '\0')
        return -1;

    d->year = year;
    d->two_digit_year = 0;
    return 0;
}

static int parse_fields(const char *text, struct date_fields *d)
{
    if (text == NULL)
        return -1;
    if (parse_imf_fixdate(text, d) == 0 || parse_rfc850(text, d) == 0 ||
        parse_asctime(text, d) == 0)
        return 0;
    return -1;
}

/* Checks ranges and the weekday, then converts to Unix time. */
static int fields_to_epoch(const struct date_fields *d, int64_t *epoch)
{
    int64_t days;

    if (d->day < 1 || d->day > http_date_days_in_month(d->year, d->month))
        return -1;
    if (d->hour > 23 || d->minute > 59 || d->second > 60)
        return -1;

    days = http_date_days_from_civil(d->year, d->month, d->day);
    if (weekday_of(days) != d->weekday)
        return -1;

    *epoch =
        days * SECONDS_PER_DAY + d->hour * 3600 + d->minute * 60 + d->second;
    return 0;
}

/* Places a two-digit year within (now_year - 50, now_year + 50]. */
static int64_t resolve_two_digit_year(int yy, int64_t now_seconds)
{
    int64_t now_year = year_from_days(floor_div(now_seconds, SECONDS_PER_DAY));
    int64_t year;

    /* Keeps the result within four digits for any clock value. */
    if (now_year < 100)
        now_year = 100;
    if (now_year > 9899)
        now_year = 9899;

    year = now_year - now_year % 100 + yy;
    if (year > now_year + 50)
        year -= 100;
    else if (year <= now_year - 50)
        year += 100;
    return year;
}

int http_date_parse_at(const char *text, int64_t now_seconds,
                       int64_t *epoch_seconds)
{
    struct date_fields d;

    if (parse_fields(text, &d) < 0)
        return -1;
    if (d.two_digit_year)
        d.year = resolve_two_digit_year((int)d.year, now_seconds);
    return fields_to_epoch(&d, epoch_seconds);
}

int http_date_parse(const char *text, int64_t *epoch_seconds)
{
    struct date_fields d;
    int yy;

    if (parse_fields(text, &d) < 0)
        return -1;
    if (!d.two_digit_year)
        return fields_to_epoch(&d, epoch_seconds);

    /*
     * 19xx and 20xx differ by 36524 days, which is not a whole number of
     * weeks, so at most one of them has the stated weekday.
     */
    yy = (int)d.year;
    d.year = 1900 + yy;
    if (fields_to_epoch(&d, epoch_seconds) == 0)
        return 0;
    d.year = 2000 + yy;
    return fields_to_epoch(&d, epoch_seconds);
}

/*
 * Copies value without leading and trailing spaces or tabs into buf.
 * Returns -1 when the trimmed value does not fit.
 */
static int copy_trimmed(const char *value, char *buf, size_t buflen)
{
    size_t start = 0;
    size_t end = strlen(value);

    while (value[start] == ' ' || value[start] == '\t')
        start++;
    while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
        end--;

    if (end - start >= buflen)
        return -1;
    memcpy(buf, value + start, end - start);
    buf[end - start] = '\0';
    return 0;
}

/* Parses ASCII digits into milliseconds; -1 when not all digits. */
static int parse_delta_seconds(const char *text, int64_t *ms, int *overflow)
{
    int64_t seconds = 0;

    *overflow = 0;
    if (!is_digit(text[0]))
        return -1;

    for (const char *p = text; *p != '\0'; p++) {
        if (!is_digit(*p))
            return -1;
        if (seconds > (INT64_MAX / 1000 - (*p - '0')) / 10) {
            *overflow = 1;
            return -1;
        }
        seconds = seconds * 10 + (*p - '0');
    }
    *ms = seconds * 1000;
    return 0;
}

static int64_t delay_until(int64_t target_ms, int64_t now_ms)
{
    /* Only a negative now_ms can make the difference overflow. */
    if (target_ms <= now_ms)
        return 0;
    if (now_ms < 0 && target_ms > INT64_MAX + now_ms)
        return INT64_MAX;
    return target_ms - now_ms;
}

int retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms,
                      char *err, size_t errlen)
{
    char text[MAX_DATE_LENGTH];
    int64_t parsed;
    int overflow;

    if (value == NULL || copy_trimmed(value, text, sizeof(text)) < 0) {
        snprintf(err, errlen,
                 "invalid Retry-After \"%.64s\": expected delta-seconds "
                 "such as \"120\" or an HTTP-date",
                 value == NULL ? "" : value);
        return -1;
    }

    if (parse_delta_seconds(text, &parsed, &overflow) == 0) {
        *delay_ms = parsed;
        return 0;
    }
    if (overflow) {
        snprintf(err, errlen,
                 "invalid Retry-After \"%s\": the number of seconds is "
                 "too large",
                 text);
        return -1;
    }

    if (http_date_parse_at(text, floor_div(now_ms, 1000), &parsed) == 0) {
        /* Dates have four-digit years, so seconds * 1000 fits. */
        *delay_ms = delay_until(parsed * 1000, now_ms);
        return 0;
    }

    snprintf(err, errlen,
             "invalid Retry-After \"%s\": expected delta-seconds such as "
             "\"120\" or an HTTP-date such as "
             "\"Wed, 21 Oct 2015 07:28:00 GMT\"",
             text);
    return -1;
}
