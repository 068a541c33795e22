#include "publish/post_text.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define POST_TEXT_LINK_SEPARATOR "\n\n"

/* Returns 1 when `needle` occurs in the first `length` bytes of text. */
static int contains(const char *text, size_t length, const char *needle,
                    size_t needle_length)
{
    if (needle_length == 0 || needle_length > length)
        return 0;
    for (size_t i = 0; i + needle_length <= length; i++) {
        if (memcmp(text + i, needle, needle_length) == 0)
            return 1;
    }
    return 0;
}

char *post_text_compose(const json_t *content, size_t *length)
{
    const json_t *text_value = json_object_get(content, "text");
    const json_t *link_value = json_object_get(content, "link");
    const char *text =
        json_is_string(text_value) ? json_string_value(text_value) : "";
    size_t text_length =
        json_is_string(text_value) ? json_string_length(text_value) : 0;
    const char *link = json_string_value(link_value);
    size_t link_length = link != NULL ? json_string_length(link_value) : 0;
    size_t separator = 0;
    char *post;

    if (link_length == 0 || contains(text, text_length, link, link_length))
        link_length = 0;
    else if (text_length > 0)
        separator = strlen(POST_TEXT_LINK_SEPARATOR);

    post = malloc(text_length + separator + link_length + 1);
    if (post == NULL)
        return NULL;
    memcpy(post, text, text_length);
    memcpy(post + text_length, POST_TEXT_LINK_SEPARATOR, separator);
    if (link_length > 0)
        memcpy(post + text_length + separator, link, link_length);
    *length = text_length + separator + link_length;
    post[*length] = '\0';
    return post;
}

static const char *slack_entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    default:
        return NULL;
    }
}

char *post_text_slack_escape(const char *text, size_t length,
                             size_t *escaped_length)
{
    /* "&amp;" is the longest replacement: five bytes for one. */
    char *escaped = malloc(length * 5 + 1);
    size_t out = 0;

    if (escaped == NULL)
        return NULL;
    for (size_t i = 0; i < length; i++) {
        const char *entity = slack_entity(text[i]);
        size_t entity_length = entity != NULL ? strlen(entity) : 0;

        if (entity == NULL) {
            escaped[out++] = text[i];
            continue;
        }
        memcpy(escaped + out, entity, entity_length);
        out += entity_length;
    }
    escaped[out] = '\0';
    *escaped_length = out;
    return escaped;
}
