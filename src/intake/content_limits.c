#include "intake/content_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util/banned.h"

/* Mastodon replaces every URL by 23 characters before counting. */
#define MASTODON_URL_LENGTH 23

enum count_unit {
    COUNT_MASTODON,
    COUNT_GRAPHEMES,
    COUNT_CODE_POINTS,
    COUNT_UTF16_UNITS,
    COUNT_BYTES,
};

struct text_limit {
    const char *type;
    enum count_unit unit;
    int64_t max;
    const char *unit_name;
};

/*
 * NOTE: Discord and Slack document their limits in "characters" without
 * naming the unit; code points are assumed here.
 */
static const struct text_limit text_limits[] = {
    {"mastodon", COUNT_MASTODON, 500,
     "characters as mastodon counts them (a URL counts as 23, a mention "
     "@user@domain as @user)"},
    {"bluesky", COUNT_GRAPHEMES, 300, "graphemes"},
    {"bluesky", COUNT_BYTES, 3000, "bytes of UTF-8"},
    {"discord", COUNT_CODE_POINTS, 2000, "characters"},
    {"telegram", COUNT_UTF16_UNITS, 4096, "UTF-16 code units"},
    {"slack", COUNT_CODE_POINTS, 40000, "characters"},
};

int64_t content_grapheme_count(const char *text, size_t length)
{
    const utf8proc_uint8_t *bytes = (const utf8proc_uint8_t *)text;
    utf8proc_int32_t state = 0;
    utf8proc_int32_t previous = -1;
    int64_t count = 0;
    size_t offset = 0;

    while (offset < length) {
        utf8proc_int32_t code_point;
        utf8proc_ssize_t used = utf8proc_iterate(
            bytes + offset, (utf8proc_ssize_t)(length - offset), &code_point);

        if (used <= 0)
            return -1;
        if (previous < 0 ||
            utf8proc_grapheme_break_stateful(previous, code_point, &state))
            count++;
        previous = code_point;
        offset += (size_t)used;
    }
    return count;
}

/* Counts code points, or UTF-16 code units when utf16 is nonzero. */
static int64_t code_point_count(const char *text, size_t length, int utf16)
{
    const utf8proc_uint8_t *bytes = (const utf8proc_uint8_t *)text;
    int64_t count = 0;
    size_t offset = 0;

    while (offset < length) {
        utf8proc_int32_t code_point;
        utf8proc_ssize_t used = utf8proc_iterate(
            bytes + offset, (utf8proc_ssize_t)(length - offset), &code_point);

        if (used <= 0)
            return -1;
        count += utf16 && code_point > 0xFFFF ? 2 : 1;
        offset += (size_t)used;
    }
    return count;
}

int64_t content_code_point_count(const char *text, size_t length)
{
    return code_point_count(text, length, 0);
}

static int is_word_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static int is_url_end(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '<' ||
           c == '>' || c == '"';
}

/*
 * Returns the length of an http or https URL starting at text[0], or 0.
 * The URL ends at white space, <, > or ", trailing punctuation is left
 * out, and the host must contain a dot.
 * NOTE: Mastodon's extractor (twitter-text) has more rules. Where it ends
 * a URL earlier than this, the count here is lower than Mastodon's and
 * the post may be rejected when it is published.
 */
static size_t url_length(const char *text, size_t length)
{
    size_t scheme;
    size_t end;
    size_t host_end;
    const char *dot;

    if (length >= 8 && strncmp(text, "https://", 8) == 0)
        scheme = 8;
    else if (length >= 7 && strncmp(text, "http://", 7) == 0)
        scheme = 7;
    else
        return 0;

    end = scheme;
    while (end < length && !is_url_end(text[end]))
        end++;
    while (end > scheme && strchr(".,:;!?')]", text[end - 1]) != NULL)
        end--;

    host_end = scheme;
    while (host_end < end && strchr("/?#", text[host_end]) == NULL)
        host_end++;
    dot = memchr(text + scheme, '.', host_end - scheme);
    if (dot == NULL || dot == text + scheme ||
        (size_t)(dot - text) + 1 >= host_end)
        return 0;
    return end;
}

/*
 * Returns the length of the "@domain" part of a mention @user@domain
 * starting at text[0] (the first '@'), or 0 when it is no such mention.
 * A username is [A-Za-z0-9_]+ with single '.' or '-' inside.
 */
static size_t mention_domain_offset(const char *text, size_t length,
                                    size_t *domain_length)
{
    size_t end = 1;
    size_t domain;

    while (end < length &&
           (is_word_byte(text[end]) ||
            ((text[end] == '.' || text[end] == '-') && end + 1 < length &&
             is_word_byte(text[end - 1]) && is_word_byte(text[end + 1]))))
        end++;
    if (end == 1 || end >= length || text[end] != '@')
        return 0;

    domain = end + 1;
    while (domain < length && (is_word_byte(text[domain]) ||
                               text[domain] == '.' || text[domain] == '-'))
        domain++;
    while (domain > end + 1 && !is_word_byte(text[domain - 1]))
        domain--;
    if (domain == end + 1)
        return 0;

    *domain_length = domain - end;
    return end;
}

int64_t content_mastodon_length(const char *text, size_t length)
{
    /* The shortest URL, "http://a.b", grows from 10 to 23 bytes. */
    char *countable = malloc(length * 3 + 1);
    size_t in = 0;
    size_t out = 0;
    int64_t count;

    if (countable == NULL)
        return -1;

    while (in < length) {
        int boundary = in == 0 || !is_word_byte(text[in - 1]);
        size_t url = boundary ? url_length(text + in, length - in) : 0;
        size_t domain_length = 0;
        size_t user = 0;

        if (url > 0) {
            memset(countable + out, 'x', MASTODON_URL_LENGTH);
            out += MASTODON_URL_LENGTH;
            in += url;
            continue;
        }
        if (text[in] == '@' && boundary &&
            (in == 0 || (text[in - 1] != '=' && text[in - 1] != '/')))
            user =
                mention_domain_offset(text + in, length - in, &domain_length);
        if (user > 0) {
            memcpy(countable + out, text + in, user);
            out += user;
            in += user + domain_length;
            continue;
        }
        countable[out++] = text[in++];
    }

    count = content_grapheme_count(countable, out);
    free(countable);
    return count;
}

static int64_t count_text(enum count_unit unit, const char *text, size_t length)
{
    switch (unit) {
    case COUNT_MASTODON:
        return content_mastodon_length(text, length);
    case COUNT_GRAPHEMES:
        return content_grapheme_count(text, length);
    case COUNT_CODE_POINTS:
        return code_point_count(text, length, 0);
    case COUNT_UTF16_UNITS:
        return code_point_count(text, length, 1);
    default:
        return (int64_t)length;
    }
}

int content_check_limits(const char *platform_type, const json_t *content,
                         char *msg, size_t msglen)
{
    const json_t *text = json_object_get(content, "text");
    const char *value = json_string_value(text);
    size_t length = json_string_length(text);

    if (value == NULL)
        return 0;

    for (size_t i = 0; i < sizeof text_limits / sizeof text_limits[0]; i++) {
        const struct text_limit *limit = &text_limits[i];
        int64_t count;

        if (strcmp(limit->type, platform_type) != 0)
            continue;

        count = count_text(limit->unit, value, length);
        if (count < 0) {
            snprintf(msg, msglen, "text is not valid UTF-8; send UTF-8");
            return -1;
        }
        if (count > limit->max) {
            snprintf(msg, msglen,
                     "text is %lld %s, over the %s limit of %lld; shorten "
                     "the text",
                     (long long)count, limit->unit_name, limit->type,
                     (long long)limit->max);
            return -1;
        }
    }
    return 0;
}
