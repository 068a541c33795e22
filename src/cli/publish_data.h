/*
 * The options of pubq publish turned into the `data` object of a
 * publishing.scheduled event, so that intake checks them exactly as it
 * checks events from the HTTP API.
 */
#ifndef PUBQ_CLI_PUBLISH_DATA_H
#define PUBQ_CLI_PUBLISH_DATA_H

#include <jansson.h>
#include <stddef.h>

struct publish_options {
    const char *text;
    const char *file;
    const char *at;
    const char *content_id;
    const char *title;
    const char *link;
    const char *event_id;
    const char **platforms; /* borrowed from argv */
    size_t platform_count;
};

/*
 * Builds {contentItemId, platforms, scheduledAt?, content: {text, title?,
 * link?}} from the options; `text` of `length` bytes is the text of
 * --text or --file. Returns a new reference, or NULL: after printing
 * the error when a value is not UTF-8 or contains a NUL byte, and
 * without a message when out of memory.
 */
json_t *publish_build_data(const struct publish_options *opts,
                           const char *content_id, const char *text,
                           size_t length);

/*
 * Returns the option that sets an intake error's field, such as
 * "--platform" for "data.platforms[1]", or the field itself when no
 * option sets it. The string is static or borrowed from `field`.
 */
const char *publish_option_for_field(const char *field,
                                     const struct publish_options *opts);

#endif
