#include "intake/intake_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "util/banned.h"

#define URL_MAX_BYTES 2048

int intake_fail(struct intake_error *error, const char *field, const char *fmt,
                ...)
{
    va_list args;

    snprintf(error->field, sizeof error->field, "%s", field);
    va_start(args, fmt);
    vsnprintf(error->message, sizeof error->message, fmt, args);
    va_end(args);
    return -1;
}

static int is_control(utf8proc_int32_t code_point)
{
    return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

/* Checks one code point at byte `offset` against the flags. */
static int check_code_point(utf8proc_int32_t code_point, size_t offset,
                            const char *field, int flags,
                            struct intake_error *error)
{
    if (is_control(code_point) && !((flags & INTAKE_TEXT_MULTILINE) &&
                                    (code_point == '\n' || code_point == '\t')))
        return intake_fail(error, field,
                           "control character U+%04X at byte %zu; "
                           "remove it%s",
                           (unsigned)code_point, offset,
                           (flags & INTAKE_TEXT_MULTILINE)
                               ? " (only newline and tab are allowed)"
                               : "");

    if ((flags & INTAKE_TEXT_NO_FORMAT) &&
        utf8proc_category(code_point) == UTF8PROC_CATEGORY_CF)
        return intake_fail(error, field,
                           "format character U+%04X at byte %zu; remove "
                           "it, because bidi controls and invisible "
                           "characters make an id look like another",
                           (unsigned)code_point, offset);
    return 0;
}

/*
 * jansson rejects invalid UTF-8 when it parses JSON text, but a json_t
 * built in code (json_stringn_nocheck) may hold anything, so the bytes
 * are checked again here.
 */
int intake_check_string(const json_t *value, const char *field, int flags,
                        struct intake_error *error)
{
    const utf8proc_uint8_t *bytes;
    size_t length = json_string_length(value);
    size_t offset = 0;

    if (!json_is_string(value))
        return intake_fail(error, field, "%s must be a string", field);
    bytes = (const utf8proc_uint8_t *)json_string_value(value);

    while (offset < length) {
        utf8proc_int32_t code_point;
        utf8proc_ssize_t used = utf8proc_iterate(
            bytes + offset, (utf8proc_ssize_t)(length - offset), &code_point);

        if (used <= 0)
            return intake_fail(error, field,
                               "invalid UTF-8 at byte %zu; send the text "
                               "encoded as UTF-8",
                               offset);
        if (check_code_point(code_point, offset, field, flags, error) != 0)
            return -1;
        offset += (size_t)used;
    }
    return 0;
}

int intake_check_url(const json_t *value, const char *field,
                     struct intake_error *error)
{
    const char *url;
    size_t scheme;

    if (intake_check_string(value, field, 0, error) != 0)
        return -1;
    url = json_string_value(value);

    if (strncasecmp(url, "https://", 8) == 0)
        scheme = 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        scheme = 7;
    else
        return intake_fail(error, field,
                           "invalid URL \"%.100s\"; use an http:// or "
                           "https:// URL",
                           url);

    if (strchr("/?#", url[scheme]) != NULL)
        return intake_fail(error, field,
                           "invalid URL \"%.100s\": missing host; use a URL "
                           "such as https://example.com/post",
                           url);
    if (strpbrk(url, " \"<>\\") != NULL || strlen(url) > URL_MAX_BYTES)
        return intake_fail(error, field,
                           "invalid URL \"%.100s\"; percent-encode spaces "
                           "and quotes and keep it within %d bytes",
                           url, URL_MAX_BYTES);
    return 0;
}

static int check_url_array(const json_t *array, const char *field,
                           struct intake_error *error)
{
    char item[64];
    size_t index;
    const json_t *value;

    if (!json_is_array(array))
        return intake_fail(error, field, "%s must be an array of URLs", field);

    json_array_foreach(array, index, value)
    {
        snprintf(item, sizeof item, "%s[%zu]", field, index);
        if (intake_check_url(value, item, error) != 0)
            return -1;
    }
    return 0;
}

static int check_tags(const json_t *tags, struct intake_error *error)
{
    char item[64];
    size_t index;
    const json_t *value;

    if (!json_is_array(tags))
        return intake_fail(error, "data.content.tags",
                           "data.content.tags must be an array of strings");

    json_array_foreach(tags, index, value)
    {
        snprintf(item, sizeof item, "data.content.tags[%zu]", index);
        if (intake_check_string(value, item, 0, error) != 0)
            return -1;
    }
    return 0;
}

static int check_text(const json_t *content, struct intake_error *error)
{
    const json_t *text = json_object_get(content, "text");
    const json_t *media = json_object_get(content, "media");

    if (text == NULL)
        return intake_fail(error, "data.content.text",
                           "missing text; set content.text to the text to "
                           "publish");

    if (intake_check_string(text, "data.content.text", INTAKE_TEXT_MULTILINE,
                            error) != 0)
        return -1;

    if (intake_text_is_blank(json_string_value(text),
                             json_string_length(text)) &&
        json_array_size(media) == 0)
        return intake_fail(error, "data.content.text",
                           "empty text; write the text to publish or "
                           "attach media");
    return 0;
}

/*
 * Rejects a key of the content object that pubq does not know, so a typo
 * such as "titel" is not stored as content nobody reads. Free-form data
 * goes into meta.
 */
static int check_content_keys(const json_t *content,
                              struct intake_error *error)
{
    static const char *const known[] = {"text", "title", "link",
                                        "media", "tags", "meta"};
    char field[96];
    const char *key;
    const json_t *value;

    json_object_foreach((json_t *)content, key, value)
    {
        size_t i = 0;

        while (i < sizeof known / sizeof known[0] && strcmp(key, known[i]) != 0)
            i++;
        if (i < sizeof known / sizeof known[0])
            continue;

        snprintf(field, sizeof field, "data.content.%.40s", key);
        return intake_fail(error, field,
                           "unknown field \"%.40s\" in data.content; the "
                           "fields are text, title, link, media, tags and "
                           "meta (put free-form data in meta)",
                           key);
    }
    return 0;
}

int intake_check_content(const json_t *content, struct intake_error *error)
{
    const json_t *value;

    if (!json_is_object(content))
        return intake_fail(error, "data.content",
                           content == NULL
                               ? "missing content; send an object with at "
                                 "least a text"
                               : "data.content must be an object with at "
                                 "least a text");

    if (check_content_keys(content, error) != 0 ||
        check_text(content, error) != 0)
        return -1;

    value = json_object_get(content, "title");
    if (value != NULL &&
        intake_check_string(value, "data.content.title", 0, error) != 0)
        return -1;

    value = json_object_get(content, "link");
    if (value != NULL &&
        intake_check_url(value, "data.content.link", error) != 0)
        return -1;

    value = json_object_get(content, "media");
    if (value != NULL &&
        check_url_array(value, "data.content.media", error) != 0)
        return -1;

    value = json_object_get(content, "tags");
    if (value != NULL && check_tags(value, error) != 0)
        return -1;

    value = json_object_get(content, "meta");
    if (value != NULL && !json_is_object(value))
        return intake_fail(error, "data.content.meta",
                           "data.content.meta must be an object");
    return 0;
}
