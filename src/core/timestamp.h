/*
 * RFC 3339 timestamps and configuration durations.
 *
 * Accepted timestamps: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM),
 * with "t", "z" or a space in place of "T" and "Z" as RFC 3339 allows,
 * a fraction of 1 to 9 digits, truncated to milliseconds. The instant,
 * converted to UTC, must fall from 1970-01-01T00:00:00.000Z to
 * 9999-12-31T23:59:59.999Z, so timestamp_format can print every parsed
 * value. A leap second (":60") is rejected because instants here count
 * POSIX seconds, which have no 61st second.
 *
 * All arithmetic is done here, with no mktime, timegm or strptime, so
 * results depend neither on the TZ variable nor on the locale.
 */
#ifndef PUBQ_CORE_TIMESTAMP_H
#define PUBQ_CORE_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

#include "core/zone.h"

/* Buffer size for timestamp_format: "2026-12-05T08:00:00.000Z" and NUL. */
#define TIMESTAMP_MAX 25

/*
 * Parses an RFC 3339 timestamp into milliseconds since the epoch.
 * A timestamp without an offset ("naive") is read as wall-clock time in
 * default_zone, with gaps and overlaps resolved as zone_resolve_local
 * does. When default_zone is NULL, a naive timestamp is rejected.
 * Returns 0, or -1 with a message in err naming the value and the fix;
 * *epoch_ms is unchanged on failure.
 */
int timestamp_parse(const char *text, const struct zone *default_zone,
                    int64_t *epoch_ms, char *err, size_t errlen);

/*
 * Writes epoch_ms as UTC with milliseconds, "2026-12-05T08:00:00.000Z",
 * into buf (at least TIMESTAMP_MAX bytes). Returns 0, or -1 when buf is
 * too small or the year falls outside 0000-9999 (buf then contains "").
 */
int timestamp_format(int64_t epoch_ms, char *buf, size_t buflen);

/*
 * Parses a duration such as "30s", "500ms", "2m", "1h" or "7d" (units
 * ms, s, m, h, d) into milliseconds. "0" needs no unit. Negative values,
 * fractions, spaces, a missing or unknown unit and values above INT64_MAX
 * milliseconds are rejected. Returns 0, or -1 with a message in err;
 * *ms is unchanged on failure.
 */
int timestamp_parse_duration(const char *text, int64_t *ms, char *err,
                             size_t errlen);

#endif
