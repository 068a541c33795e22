/* Integers written in decimal without snprintf, for hot paths. */
#ifndef PUBQ_DECIMAL_H
#define PUBQ_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* The room decimal_format_int64 needs: a sign, 19 digits and a NUL. */
#define DECIMAL_INT64_SIZE 21

/*
 * Writes `value` in decimal and a NUL at `out`, which has room for
 * DECIMAL_INT64_SIZE bytes, and returns the number of characters before
 * the NUL.
 */
size_t decimal_format_int64(char *out, int64_t value);

#endif
