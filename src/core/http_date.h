/*
 * HTTP-date parsing (RFC 9110 section 5.6.7) and the Retry-After field
 * (RFC 9110 section 10.2.3). Pure: the current time is a parameter.
 */
#ifndef PUBQ_CORE_HTTP_DATE_H
#define PUBQ_CORE_HTTP_DATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses an HTTP-date in any of its three forms, exactly as written (no
 * surrounding whitespace, case-sensitive names, GMT only):
 *
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *   RFC 850      Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime      Sun Nov  6 08:49:37 1994
 *
 * The weekday must match the date and the day must exist in its month.
 * Second 60 is accepted for a leap second and counts as the next
 * minute's second 0. Without a clock, the two-digit RFC 850 year is
 * placed in 19xx or 20xx, whichever matches the weekday. Use
 * http_date_parse_at for the RFC 9110 rule instead. Returns 0 and sets
 * *epoch_seconds (Unix time), or -1 leaving it unchanged.
 */
int http_date_parse(const char *text, int64_t *epoch_seconds);

/*
 * Same as http_date_parse, but resolves a two-digit RFC 850 year as
 * RFC 9110 requires: a year that would be more than 50 years after the
 * year of now_seconds (Unix time) is taken from the previous century.
 * The weekday must then match.
 */
int http_date_parse_at(const char *text, int64_t now_seconds,
                       int64_t *epoch_seconds);

/*
 * Parses a Retry-After value: delta-seconds (ASCII digits only) or an
 * HTTP-date, with optional surrounding spaces or tabs. Sets *delay_ms to
 * the wait from now_ms (Unix time in ms); a date in the past gives 0.
 * Returns 0, or -1 with a message in err for a sign, a fraction, any
 * other text, an empty value or a number too large for milliseconds in
 * 64 bits; *delay_ms is then unchanged.
 */
int retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms,
                      char *err, size_t errlen);

/*
 * Returns the number of days from 1970-01-01 to the given proleptic
 * Gregorian date (negative before 1970). month is 1..12 and day 1..31;
 * the date is not checked.
 */
int64_t http_date_days_from_civil(int64_t year, int month, int day);

/* Returns the number of days in month (1..12) of year, or 0 if invalid. */
int http_date_days_in_month(int64_t year, int month);

#endif
