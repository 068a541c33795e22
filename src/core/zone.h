/*
 * IANA time zones read from the system tzdata (TZif files, RFC 8536),
 * plus the proleptic Gregorian calendar arithmetic that the timestamp
 * and cron modules share.
 *
 * Calling sequence:
 *
 *   struct zone *berlin = zone_load("Europe/Berlin", err, sizeof err);
 *   zone_offset_at(berlin, now, &offset);
 *   zone_resolve_local(berlin, wall_clock, &epoch, &how);
 *   zone_free(berlin);
 *
 * A loaded zone is immutable, so several threads may share one.
 * Instants are seconds since 1970-01-01T00:00:00Z without leap seconds.
 * Functions taking an instant accept |seconds| <= ZONE_SECONDS_LIMIT.
 */
#ifndef PUBQ_CORE_ZONE_H
#define PUBQ_CORE_ZONE_H

#include <stddef.h>
#include <stdint.h>

/* 2^40 seconds, about 34,800 years either side of 1970. */
#define ZONE_SECONDS_LIMIT ((int64_t)1 << 40)

struct zone;

/* Outcome of zone_resolve_local: how often the wall-clock time occurs. */
enum zone_resolution {
    /* The wall-clock time occurs exactly once. */
    ZONE_EXACT,
    /*
     * The wall-clock time does not exist because the clocks jumped
     * forward over it. It is read with the offset in force before the
     * jump, so the result lies after the jump by the length of the gap.
     */
    ZONE_GAP,
    /*
     * The wall-clock time occurs twice because the clocks went back.
     * The result is the earlier instant (the offset before the change).
     */
    ZONE_OVERLAP,
};

/*
 * Loads the zone `name` (an IANA name such as "Europe/Berlin", or "UTC")
 * from $TZDIR, or from /usr/share/zoneinfo when TZDIR is unset or empty.
 * Names containing "..", starting with "/" or using characters outside
 * [A-Za-z0-9_+-/] are rejected without touching the file system.
 * Returns a zone that the caller releases with zone_free, or NULL with a
 * message in err naming the zone and the fix.
 */
struct zone *zone_load(const char *name, char *err, size_t errlen);

/*
 * Parses the TZif bytes data[0..len) (RFC 8536), as zone_load does with
 * the bytes of a file, and names the zone `name` (any label; it is not
 * checked and no file is read). Returns a zone that the caller releases
 * with zone_free, or NULL with a message in err naming the problem.
 */
struct zone *zone_parse_tzif(const unsigned char *data, size_t len,
                             const char *name, char *err, size_t errlen);

/* Releases a zone from zone_load or zone_parse_tzif. NULL is allowed. */
void zone_free(struct zone *zone);

/* Returns the name passed to zone_load. It lives as long as the zone. */
const char *zone_name(const struct zone *zone);

/*
 * Stores in *utc_offset_seconds the offset from UTC (east positive) in
 * force at the instant epoch_seconds: local = epoch + offset.
 * Returns 0, or -1 when epoch_seconds is beyond ZONE_SECONDS_LIMIT.
 */
int zone_offset_at(const struct zone *zone, int64_t epoch_seconds,
                   int32_t *utc_offset_seconds);

/*
 * Finds the instant at which the zone's clocks show local_seconds (the
 * wall-clock time counted as if it were UTC, e.g. 2026-03-29T02:30:00
 * is 1774751400). Gaps and overlaps are resolved as described at
 * enum zone_resolution, the rule of RFC 5545 and java.time: in
 * Europe/Berlin 2026-03-29T02:30 (a gap) gives 01:30Z and
 * 2026-10-25T02:30 (an overlap) gives 00:30Z.
 * Stores the instant in *epoch_seconds and the case in *how (how may be
 * NULL). Returns 0, or -1 when local_seconds is beyond the limit.
 */
int zone_resolve_local(const struct zone *zone, int64_t local_seconds,
                       int64_t *epoch_seconds, enum zone_resolution *how);

/*
 * Stores in *transition the first transition after `after`, an instant at
 * which the offset, the DST flag or the abbreviation may change (a few
 * transitions change nothing). Stores INT64_MAX when none follows.
 * Returns 0, or -1 when `after` is beyond the limit.
 */
int zone_next_transition(const struct zone *zone, int64_t after,
                         int64_t *transition);

/* A date in the proleptic Gregorian calendar. */
struct zone_civil_date {
    int64_t year;
    int month;   /* 1-12 */
    int day;     /* 1-31 */
    int weekday; /* 0 = Sunday ... 6 = Saturday */
};

/* Returns 1 if year is a Gregorian leap year, else 0. */
int zone_is_leap_year(int64_t year);

/* Returns the number of days in month (1-12) of year. */
int zone_days_in_month(int64_t year, int month);

/*
 * Returns the days from 1970-01-01 to year-month-day. The caller checks
 * the date first, because out-of-range months or days give a meaningless
 * count.
 */
int64_t zone_days_from_civil(int64_t year, int month, int day);

/* Converts days since 1970-01-01 (negative before) to a calendar date. */
void zone_civil_from_days(int64_t days, struct zone_civil_date *date);

#endif
