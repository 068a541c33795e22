#include "publish/bluesky_facets.h"

#include <string.h>
#include <utf8proc.h>

#include "util/banned.h"

/*
 * JavaScript's \s, which Bluesky's link detection uses: ASCII white
 * space, NEL, the byte order mark and the Unicode space, line and
 * paragraph separators.
 */
static int is_space(utf8proc_int32_t code_point)
{
    utf8proc_category_t category;

    if (code_point == ' ' || (code_point >= '\t' && code_point <= '\r') ||
        code_point == 0x85 || code_point == 0xFEFF)
        return 1;
    category = utf8proc_category(code_point);
    return category == UTF8PROC_CATEGORY_ZS ||
           category == UTF8PROC_CATEGORY_ZL || category == UTF8PROC_CATEGORY_ZP;
}

/* Decodes the code point at text[0]; returns its byte length, or 0. */
static size_t next_code_point(const char *text, size_t length,
                              utf8proc_int32_t *code_point)
{
    utf8proc_ssize_t used = utf8proc_iterate(
        (const utf8proc_uint8_t *)text, (utf8proc_ssize_t)length, code_point);

    return used > 0 ? (size_t)used : 0;
}

/*
 * Returns the end of the URL that starts at `start`, trailing marks cut,
 * or 0 when the text is not valid UTF-8.
 */
static size_t url_end(const char *text, size_t length, size_t start)
{
    size_t end = start;

    while (end < length) {
        utf8proc_int32_t code_point;
        size_t used = next_code_point(text + end, length - end, &code_point);

        if (used == 0)
            return 0;
        if (is_space(code_point))
            break;
        end += used;
    }

    if (strchr(".,;:!?", text[end - 1]) != NULL)
        end--;
    if (text[end - 1] == ')' && memchr(text + start, '(', end - start) == NULL)
        end--;
    return end;
}

static size_t scheme_length(const char *text, size_t length)
{
    if (length > 8 && strncmp(text, "https://", 8) == 0)
        return 8;
    if (length > 7 && strncmp(text, "http://", 7) == 0)
        return 7;
    return 0;
}

static int append_facet(json_t *facets, const char *text, size_t start,
                        size_t end)
{
    json_t *facet = json_pack(
        "{s:{s:I,s:I},s:[{s:s,s:s%}]}", "index", "byteStart", (json_int_t)start,
        "byteEnd", (json_int_t)end, "features", "$type",
        "app.bsky.richtext.facet#link", "uri", text + start, end - start);

    if (facet == NULL)
        return -1;
    return json_array_append_new(facets, facet);
}

json_t *bluesky_link_facets(const char *text, size_t length)
{
    json_t *facets = json_array();
    int at_boundary = 1; /* start of text, or after white space or "(" */
    size_t offset = 0;

    while (facets != NULL && offset < length) {
        size_t scheme =
            at_boundary ? scheme_length(text + offset, length - offset) : 0;
        utf8proc_int32_t code_point;
        size_t used;

        if (scheme > 0) {
            size_t end = url_end(text, length, offset);

            if (end == 0 || (end > offset + scheme &&
                             append_facet(facets, text, offset, end) != 0))
                break;
            at_boundary = 0;
            offset = end;
            continue;
        }

        used = next_code_point(text + offset, length - offset, &code_point);
        if (used == 0)
            break;
        at_boundary = is_space(code_point) || code_point == '(';
        offset += used;
    }

    if (offset < length) {
        json_decref(facets);
        return NULL;
    }
    return facets;
}
