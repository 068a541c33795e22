/*
 * Decimal formatting by hand: glibc 2.36's snprintf took 600 to 900
 * instructions per number (callgrind) on paths that format one or more
 * numbers per job or per attempt.
 */
#include "util/decimal.h"

#include "util/banned.h"

size_t decimal_format_int64(char *out, int64_t value)
{
    char digits[20];
    /* Negated as unsigned, so that INT64_MIN has a magnitude too. */
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    size_t count = 0;
    size_t length = 0;

    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);

    if (value < 0)
        out[length++] = '-';
    while (count > 0)
        out[length++] = digits[--count];
    out[length] = '\0';
    return length;
}
