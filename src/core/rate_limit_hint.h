/*
 * Parsers for the rate-limit wait hints that platforms send besides
 * Retry-After (see http_date.h for that one). Each turns a header or body
 * value into a wait in milliseconds. A malformed, negative or overflowing
 * value is rejected with a message and *delay_ms is left unchanged, so it
 * is never read as a huge or negative delay.
 */
#ifndef PUBQ_CORE_RATE_LIMIT_HINT_H
#define PUBQ_CORE_RATE_LIMIT_HINT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a reset time in Unix seconds, ASCII digits only with optional
 * surrounding spaces or tabs (Bluesky "ratelimit-reset", X
 * "x-rate-limit-reset"). Sets *delay_ms to the wait from now_ms (Unix time
 * in ms), 0 when the time has passed. Returns 0, or -1 with a message.
 */
int rate_limit_parse_epoch_seconds(const char *value, int64_t now_ms,
                                   int64_t *delay_ms, char *err, size_t errlen);

/*
 * Parses a wait in seconds written as digits with an optional fraction,
 * such as "1.337" or "5" (Discord "X-RateLimit-Reset-After", a JSON
 * retry_after copied as text). Optional surrounding spaces or tabs. A
 * fraction finer than a millisecond rounds up, so the wait is never
 * shorter than requested. Returns 0, or -1 with a message for a sign, an
 * exponent, a bare "." or any other text.
 */
int rate_limit_parse_float_seconds(const char *value, int64_t *delay_ms,
                                   char *err, size_t errlen);

/*
 * Converts a wait in seconds held as a double (a JSON number such as
 * Discord's or Telegram's retry_after) to milliseconds: rounded to the
 * nearest microsecond, then up to a whole millisecond.
 * Returns 0, or -1 with a message for NaN, a negative value or a value
 * too large for milliseconds in 64 bits.
 */
int rate_limit_from_seconds(double seconds, int64_t *delay_ms, char *err,
                            size_t errlen);

/*
 * Parses an RFC 3339 timestamp with an offset (Mastodon
 * "X-RateLimit-Reset", such as "2026-12-04T17:00:00.000Z") with
 * timestamp_parse, so its rules apply: a fraction is truncated to
 * milliseconds and a naive time is rejected. Optional surrounding spaces
 * or tabs. Sets *delay_ms to the wait from now_ms, 0 when the time has
 * passed. Returns 0, or -1 with a message.
 */
int rate_limit_parse_iso8601(const char *value, int64_t now_ms,
                             int64_t *delay_ms, char *err, size_t errlen);

#endif
