#include "core/rate_limit_hint.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/timestamp.h"
#include "util/banned.h"

/* Room for an RFC 3339 time with nanoseconds and an offset. */
#define MAX_HINT_LENGTH 64

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Copies value without leading and trailing spaces or tabs into buf.
 * Returns -1 for NULL or when the trimmed value does not fit.
 */
static int copy_trimmed(const char *value, char *buf, size_t buflen)
{
    size_t start = 0;
    size_t end;

    if (value == NULL)
        return -1;

    end = strlen(value);
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

/* Reads one or more digits, stopping before overflow past `limit`. */
static int take_number(const char **p, int64_t limit, int64_t *value)
{
    int64_t result = 0;

    if (!is_digit(**p))
        return -1;

    for (; is_digit(**p); (*p)++) {
        int digit = **p - '0';

        if (result > (limit - digit) / 10)
            return -1;
        result = result * 10 + digit;
    }
    *value = result;
    return 0;
}

/*
 * Reads a fraction of a second after the '.', one or more digits, as
 * milliseconds rounded up.
 */
static int take_fraction_ms(const char **p, int64_t *ms)
{
    int64_t result = 0;
    int digits = 0;
    int remainder = 0;

    for (; is_digit(**p); (*p)++, digits++) {
        if (digits < 3)
            result = result * 10 + (**p - '0');
        else if (**p != '0')
            remainder = 1;
    }
    if (digits == 0)
        return -1;

    for (int i = digits; i < 3; i++)
        result *= 10;
    *ms = result + remainder;
    return 0;
}

static int64_t delay_until(int64_t target_ms, int64_t now_ms)
{
    if (target_ms <= now_ms)
        return 0;
    /* Only a negative now_ms can make the difference overflow. */
    if (now_ms < 0 && target_ms > INT64_MAX + now_ms)
        return INT64_MAX;
    return target_ms - now_ms;
}

int rate_limit_parse_epoch_seconds(const char *value, int64_t now_ms,
                                   int64_t *delay_ms, char *err, size_t errlen)
{
    char text[MAX_HINT_LENGTH];
    const char *p = text;
    int64_t seconds;

    if (copy_trimmed(value, text, sizeof(text)) < 0 ||
        take_number(&p, INT64_MAX / 1000, &seconds) < 0 || *p != '\0') {
        snprintf(err, errlen,
                 "invalid rate-limit reset \"%.64s\": expected Unix time in "
                 "whole seconds, such as \"1733331600\"",
                 value == NULL ? "" : value);
        return -1;
    }

    *delay_ms = delay_until(seconds * 1000, now_ms);
    return 0;
}

int rate_limit_parse_float_seconds(const char *value, int64_t *delay_ms,
                                   char *err, size_t errlen)
{
    char text[MAX_HINT_LENGTH];
    const char *p = text;
    int64_t seconds;
    int64_t fraction_ms = 0;

    if (copy_trimmed(value, text, sizeof(text)) < 0 ||
        take_number(&p, INT64_MAX / 1000 - 1, &seconds) < 0)
        goto invalid;
    if (*p == '.') {
        p++;
        if (take_fraction_ms(&p, &fraction_ms) < 0)
            goto invalid;
    }
    if (*p != '\0')
        goto invalid;

    /* The limit above leaves room for up to 1000 ms of fraction. */
    *delay_ms = seconds * 1000 + fraction_ms;
    return 0;

invalid:
    snprintf(err, errlen,
             "invalid rate-limit wait \"%.64s\": expected seconds such as "
             "\"1.337\" or \"5\"",
             value == NULL ? "" : value);
    return -1;
}

int rate_limit_from_seconds(double seconds, int64_t *delay_ms, char *err,
                            size_t errlen)
{
    double ms;

    if (!(seconds >= 0.0)) {
        snprintf(err, errlen,
                 "invalid rate-limit wait %g seconds: expected 0 or more",
                 seconds);
        return -1;
    }

    /*
     * Rounding to whole microseconds first drops binary noise, so 1.337
     * gives 1337 ms even if seconds * 1000 is 1337.0000000000002.
     */
    ms = ceil(round(seconds * 1e6) / 1000.0);
    /* 2^63 is exact as a double; anything at or above it cannot fit. */
    if (!(ms < 9223372036854775808.0)) {
        snprintf(err, errlen,
                 "invalid rate-limit wait %g seconds: the value is too large",
                 seconds);
        return -1;
    }

    *delay_ms = (int64_t)ms;
    return 0;
}

/* Tells whether text ends in "Z" or an offset such as "+01:00". */
static int has_utc_offset(const char *text)
{
    size_t len = strlen(text);

    if (len >= 1 && (text[len - 1] == 'Z' || text[len - 1] == 'z'))
        return 1;
    return len >= 6 && (text[len - 6] == '+' || text[len - 6] == '-') &&
           text[len - 3] == ':';
}

int rate_limit_parse_iso8601(const char *value, int64_t now_ms,
                             int64_t *delay_ms, char *err, size_t errlen)
{
    char text[MAX_HINT_LENGTH];
    char detail[192];
    int64_t target_ms;

    /*
     * Checked here because timestamp_parse's message for a naive time
     * points at the configuration, which cannot fix a server's header.
     */
    if (copy_trimmed(value, text, sizeof(text)) < 0 || !has_utc_offset(text)) {
        snprintf(err, errlen,
                 "invalid rate-limit reset \"%.64s\": expected an RFC 3339 "
                 "time with an offset, such as \"2026-12-04T17:00:00.000Z\"",
                 value == NULL ? "" : value);
        return -1;
    }

    if (timestamp_parse(text, NULL, &target_ms, detail, sizeof(detail)) < 0) {
        snprintf(err, errlen, "rate-limit reset: %s", detail);
        return -1;
    }

    *delay_ms = delay_until(target_ms, now_ms);
    return 0;
}
