/*
 * Blank text: text that is empty or only whitespace, which intake
 * rejects as empty, because a post of spaces shows nothing.
 */
#include "intake/intake.h"

#include <stdint.h>

/*
 * Returns the length in bytes of the whitespace character at text
 * (Unicode White_Space: ASCII space, tab, line breaks, NEL, no-break
 * space, U+1680, U+2000 to U+200A, U+2028, U+2029, U+202F, U+205F and
 * U+3000), or 0 when text starts with another character. Written by
 * hand because the list is short and fixed, and pubq links no Unicode
 * library for it.
 */
static size_t whitespace_length(const unsigned char *text, size_t length)
{
    uint32_t code;

    if (text[0] == ' ' || (text[0] >= '\t' && text[0] <= '\r'))
        return 1;
    if (length >= 2 && text[0] == 0xc2 && (text[1] == 0x85 || text[1] == 0xa0))
        return 2;
    if (length < 3 || (text[0] & 0xf0) != 0xe0)
        return 0;

    code = ((uint32_t)(text[0] & 0x0f) << 12) |
           ((uint32_t)(text[1] & 0x3f) << 6) | (uint32_t)(text[2] & 0x3f);
    if (code == 0x1680 || (code >= 0x2000 && code <= 0x200a) ||
        code == 0x2028 || code == 0x2029 || code == 0x202f ||
        code == 0x205f || code == 0x3000)
        return 3;
    return 0;
}

int intake_text_is_blank(const char *text, size_t length)
{
    const unsigned char *p = (const unsigned char *)text;

    while (length > 0) {
        size_t step = whitespace_length(p, length);

        if (step == 0)
            return 0;
        p += step;
        length -= step;
    }
    return 1;
}
