/*
 * The payload of the webhook and command adapters. The envelope is
 * written by hand, and only the content goes through jansson's dump.
 * Built with json_pack, a deep copy of the content and json_dumps, the
 * payload cost about 30,000 instructions per attempt (callgrind of
 * `pubq serve` posting to nginx), a tenth of the daemon's work per
 * entry. The text is the one json_dumps(..., JSON_COMPACT) of that
 * object gave, which test_adapter_payload checks.
 */
#include "publish/adapter_payload.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/decimal.h"
#include "util/text_buffer.h"

#include "util/banned.h"

/*
 * Returns the length of the UTF-8 sequence at p, or 0 when it is not
 * one that jansson 2.14 accepts: no overlong forms, no surrogates,
 * nothing above U+10FFFF.
 */
static size_t utf8_length(const unsigned char *p)
{
    size_t len;
    uint32_t value;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        value = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        value = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        value = p[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        value = (value << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && value < 0x800) || (len == 4 && value < 0x10000) ||
        (value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff)
        return 0;
    return len;
}

/*
 * Appends a JSON string as jansson's compact dump writes it: quote,
 * backslash and control characters escaped, other characters as UTF-8.
 * Text that is not valid UTF-8 fails the payload, as json_pack did.
 */
static void append_string(struct text_buffer *t, const char *value)
{
    static const char short_escape[32] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
    };
    const unsigned char *p = (const unsigned char *)value;
    size_t start = 0;
    size_t i = 0;

    text_buffer_append_str(t, "\"");
    while (p[i] != '\0') {
        char escaped[8];
        size_t len = utf8_length(p + i);

        if (len == 0) {
            t->failed = 1;
            return;
        }
        if (len > 1 || (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')) {
            i += len;
            continue;
        }
        if (p[i] == '"' || p[i] == '\\')
            snprintf(escaped, sizeof escaped, "\\%c", p[i]);
        else if (short_escape[p[i]] != 0)
            snprintf(escaped, sizeof escaped, "\\%c", short_escape[p[i]]);
        else
            snprintf(escaped, sizeof escaped, "\\u%04X", p[i]);
        text_buffer_append(t, value + start, i - start);
        text_buffer_append_str(t, escaped);
        i++;
        start = i;
    }
    text_buffer_append(t, value + start, i - start);
    text_buffer_append_str(t, "\"");
}

static int append_dump(const char *buffer, size_t size, void *data)
{
    struct text_buffer *t = data;

    text_buffer_append(t, buffer, size);
    return t->failed ? -1 : 0;
}

/* Appends value in decimal, without snprintf's cost per number. */
static void append_integer(struct text_buffer *t, int64_t value)
{
    char digits[DECIMAL_INT64_SIZE];

    text_buffer_append(t, digits, decimal_format_int64(digits, value));
}

char *adapter_payload_dump(const struct publish_attempt *attempt, size_t *len)
{
    const struct entry *entry = attempt->entry;
    struct text_buffer t = {0};

    if (attempt->content == NULL || !json_is_object(attempt->content))
        return NULL;

    text_buffer_append_str(&t, "{\"entry_id\":");
    append_integer(&t, entry->id);
    text_buffer_append_str(&t, ",\"content_id\":");
    append_string(&t, entry->content_id);
    text_buffer_append_str(&t, ",\"platform\":");
    append_string(&t, entry->platform);
    text_buffer_append_str(&t, ",\"attempt\":");
    append_integer(&t, entry->attempt_count);
    text_buffer_append_str(&t, ",\"idempotency_key\":");
    append_string(&t, entry->idempotency_key);
    text_buffer_append_str(&t, ",\"content\":");
    if (!t.failed && json_dump_callback(attempt->content, append_dump, &t,
                                        JSON_COMPACT) != 0)
        t.failed = 1;
    text_buffer_append_str(&t, "}");

    if (t.failed) {
        free(t.text);
        return NULL;
    }
    *len = t.used;
    return t.text;
}
