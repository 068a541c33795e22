/*
 * Timestamp identifiers (TIDs), the record keys of app.bsky.feed.post
 * (https://atproto.com/specs/tid). A TID is a 64-bit integer: the top
 * bit is 0, the next 53 bits count microseconds since the Unix epoch and
 * the last 10 are a clock identifier. It is written as 13 characters of
 * base32-sortable ("234567abcdefghijklmnopqrstuvwxyz"), most significant
 * first.
 */
#ifndef PUBQ_ATPROTO_TID_H
#define PUBQ_ATPROTO_TID_H

#include <stdint.h>

#define ATPROTO_TID_LEN 13

/*
 * Writes the TID of `micros` (only the low 53 bits are used) and
 * `clock_id` (only the low 10 bits) into out, NUL-terminated.
 */
void atproto_tid_encode(uint64_t micros, unsigned clock_id,
                        char out[ATPROTO_TID_LEN + 1]);

/* Returns 1 when text is a syntactically valid TID, otherwise 0. */
int atproto_tid_is_valid(const char *text);

#endif
