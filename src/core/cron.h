/*
 * Standard 5-field cron expressions: minute, hour, day of month, month,
 * day of week.
 *
 * Each field is a comma-separated list of items: "*", "*" "/n", "a",
 * "a-b" or "a-b/n". Months accept JAN-DEC and days of the week SUN-SAT
 * (any case). Day of week 7 is Sunday, like 0.
 *
 * As in Vixie cron, a field that does not start with "*" is restricted.
 * When both the day-of-month and day-of-week fields are restricted, a day
 * matches if either field matches. Otherwise both must match.
 *
 * Calling sequence:
 *
 *   struct cron_expr expr;
 *   if (cron_parse("0 * * * *", &expr, err, sizeof err) == 0)
 *       cron_next(&expr, zone, now, &next);
 */
#ifndef PUBQ_CORE_CRON_H
#define PUBQ_CORE_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "core/zone.h"

/* cron_next searches this far ahead before giving up. February 29 can be
 * eight years apart (2096 to 2104), so 9 years finds every date that
 * exists at all. */
#define CRON_SEARCH_YEARS 9

/* A parsed expression: bit n of each mask is set when value n matches. */
struct cron_expr {
    uint64_t minutes;       /* bits 0-59 */
    uint32_t hours;         /* bits 0-23 */
    uint32_t days_of_month; /* bits 1-31 */
    uint16_t months;        /* bits 1-12 */
    uint8_t days_of_week;   /* bits 0-6, 0 = Sunday */
    uint8_t day_of_month_restricted;
    uint8_t day_of_week_restricted;
};

/*
 * Parses text into *out. Returns 0, or -1 with a message in err naming
 * the field and value, e.g. "hour field \"25\" is out of range 0-23".
 * *out is unchanged on failure.
 */
int cron_parse(const char *text, struct cron_expr *out, char *err,
               size_t errlen);

/*
 * Finds the first instant strictly after `after` at which the expression
 * fires, reading the fields as wall-clock time in `zone`, and stores it
 * in *next. Daylight saving time:
 *
 * - A matching wall-clock time skipped by a forward jump fires at the
 *   instant the jump happens (in Europe/Berlin, "30 2 * * *" fires at
 *   03:00 CEST on the spring-forward day). Several such times fire once.
 * - A matching wall-clock time repeated by a backward jump fires only at
 *   its first occurrence, unless the hour field matches all 24 hours:
 *   then it fires at both, because they are different real hours. So
 *   "0 2 * * *" runs once on the fall-back day, and "0 * * * *" runs once
 *   in every real hour, on either change.
 *
 * Returns 0, or -1 when nothing matches within CRON_SEARCH_YEARS (as for
 * "0 0 31 2 *") or `after` is outside the zone's supported range.
 */
int cron_next(const struct cron_expr *expr, const struct zone *zone,
              int64_t after, int64_t *next);

#endif
