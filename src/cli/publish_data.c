/*
 * The `data` object of a publishing.scheduled event, built from the
 * options of pubq publish, and the way back from an intake error's field
 * to the option that set it.
 */
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/publish_data.h"

#include "util/banned.h"

/*
 * Returns a JSON string for the value of `option`, or NULL after
 * reporting why: jansson rejects invalid UTF-8, and a NUL byte would cut
 * the text short further on.
 */
static json_t *option_string(const char *option, const char *value,
                             size_t length)
{
    json_t *string;

    if (memchr(value, '\0', length) != NULL) {
        cli_error("invalid %s: contains a NUL byte; pass UTF-8 text", option);
        return NULL;
    }

    string = json_stringn(value, length);
    if (string == NULL)
        cli_error("invalid %s: not valid UTF-8; convert the text to UTF-8",
                  option);
    return string;
}

/* Sets `key` to the value of `option` when given; returns -1 on failure. */
static int set_option(json_t *object, const char *key, const char *option,
                      const char *value)
{
    json_t *string;

    if (value == NULL)
        return 0;

    string = option_string(option, value, strlen(value));
    if (string == NULL)
        return -1;
    return json_object_set_new(object, key, string);
}

static json_t *build_content(const struct publish_options *opts,
                             const char *text, size_t length)
{
    const char *text_option = opts->file != NULL ? "--file" : "--text";
    json_t *content = json_object();
    json_t *text_value = option_string(text_option, text, length);

    if (content == NULL || text_value == NULL) {
        json_decref(content);
        json_decref(text_value);
        return NULL;
    }

    if (json_object_set_new(content, "text", text_value) != 0 ||
        set_option(content, "title", "--title", opts->title) != 0 ||
        set_option(content, "link", "--link", opts->link) != 0) {
        json_decref(content);
        return NULL;
    }
    return content;
}

static json_t *build_platforms(const struct publish_options *opts)
{
    json_t *array = json_array();

    for (size_t i = 0; array != NULL && i < opts->platform_count; i++) {
        json_t *name = option_string("--platform", opts->platforms[i],
                                     strlen(opts->platforms[i]));

        if (name == NULL || json_array_append_new(array, name) != 0) {
            json_decref(array);
            array = NULL;
        }
    }
    return array;
}

json_t *publish_build_data(const struct publish_options *opts,
                           const char *content_id, const char *text,
                           size_t length)
{
    json_t *data = json_object();
    json_t *content = build_content(opts, text, length);
    json_t *platforms = content != NULL ? build_platforms(opts) : NULL;
    int failed;

    if (data == NULL || content == NULL || platforms == NULL) {
        json_decref(data);
        json_decref(content);
        json_decref(platforms);
        return NULL;
    }

    /* Both calls run so that both references are taken, even on failure. */
    failed = json_object_set_new(data, "platforms", platforms);
    failed |= json_object_set_new(data, "content", content);

    if (failed != 0 ||
        set_option(data, "contentItemId", "--id", content_id) != 0 ||
        set_option(data, "scheduledAt", "--at", opts->at) != 0) {
        json_decref(data);
        return NULL;
    }
    return data;
}

const char *publish_option_for_field(const char *field,
                                     const struct publish_options *opts)
{
    /* Longer prefixes first; NULL stands for --text or --file. */
    static const struct {
        const char *prefix;
        const char *option;
    } fields[] = {
        {"data.contentItemId", "--id"},
        {"data.platforms", "--platform"},
        {"data.scheduledAt", "--at"},
        {"data.content.title", "--title"},
        {"data.content.link", "--link"},
        {"data.content", NULL},
        {"id", "--event-id"},
    };

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strncmp(field, fields[i].prefix, strlen(fields[i].prefix)) != 0)
            continue;
        if (fields[i].option != NULL)
            return fields[i].option;
        return opts->file != NULL ? "--file" : "--text";
    }
    return field;
}
