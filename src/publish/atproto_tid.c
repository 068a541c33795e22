#include "publish/atproto_tid.h"

#include <string.h>

#include "util/banned.h"

static const char tid_alphabet[] = "234567abcdefghijklmnopqrstuvwxyz";

#define TID_MICROS_MASK ((UINT64_C(1) << 53) - 1)
#define TID_CLOCK_MASK 0x3FFu

void atproto_tid_encode(uint64_t micros, unsigned clock_id,
                        char out[ATPROTO_TID_LEN + 1])
{
    uint64_t value =
        ((micros & TID_MICROS_MASK) << 10) | (clock_id & TID_CLOCK_MASK);

    for (int i = ATPROTO_TID_LEN - 1; i >= 0; i--) {
        out[i] = tid_alphabet[value & 0x1F];
        value >>= 5;
    }
    out[ATPROTO_TID_LEN] = '\0';
}

int atproto_tid_is_valid(const char *text)
{
    if (text == NULL || strlen(text) != ATPROTO_TID_LEN)
        return 0;

    /* The spec's reference regex: the first character stands for the
     * top bits, which must start with 0, so only half the alphabet. */
    if (strchr("234567abcdefghij", text[0]) == NULL)
        return 0;
    for (int i = 1; i < ATPROTO_TID_LEN; i++) {
        if (strchr(tid_alphabet, text[i]) == NULL)
            return 0;
    }
    return 1;
}
