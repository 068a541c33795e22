#include "intake/intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timestamp.h"
#include "intake/content_limits.h"
#include "intake/intake_check.h"
#include "publish/adapter.h"
#include "util/banned.h"

/* Content item ids and event ids, in bytes; the store keeps 255. */
#define INTAKE_ID_MAX_BYTES 200

static int check_data_fields(const json_t *data, struct intake_error *error)
{
    static const char *const known[] = {"contentItemId", "platforms",
                                        "scheduledAt", "content"};
    char field[96];
    const char *key;
    const json_t *value;

    json_object_foreach((json_t *)data, key, value)
    {
        size_t i = 0;

        while (i < sizeof known / sizeof known[0] && strcmp(key, known[i]) != 0)
            i++;
        if (i < sizeof known / sizeof known[0])
            continue;

        snprintf(field, sizeof field, "data.%.60s", key);
        return intake_fail(error, field,
                           "unknown field \"%.60s\"; the fields are "
                           "contentItemId, platforms, scheduledAt and "
                           "content",
                           key);
    }
    return 0;
}

static int check_identifier(const json_t *value, const char *field,
                            struct intake_error *error)
{
    size_t length;

    if (value == NULL)
        return intake_fail(error, field,
                           "missing %s; set it to the id of "
                           "the content item",
                           field);

    if (intake_check_string(value, field, INTAKE_TEXT_NO_FORMAT, error) != 0)
        return -1;

    length = json_string_length(value);
    if (length == 0 || length > INTAKE_ID_MAX_BYTES)
        return intake_fail(error, field, "%s is %zu bytes; use 1 to %d bytes",
                           field, length, INTAKE_ID_MAX_BYTES);
    return 0;
}

static int check_event_id(const char *event_id, struct intake_error *error)
{
    json_t *value;
    int result;

    if (event_id == NULL)
        return 0;

    value = json_stringn_nocheck(event_id, strlen(event_id));
    if (value == NULL)
        return intake_fail(error, "id", "out of memory");
    result = check_identifier(value, "id", error);
    json_decref(value);
    return result;
}

static int fail_unknown_platform(const struct pubq_config *config,
                                 const char *field, const char *name,
                                 struct intake_error *error)
{
    char names[256] = "";
    size_t used = 0;

    for (size_t i = 0; i < config->platform_count && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                 i == 0 ? "" : ", ", config->platforms[i].name);

    return intake_fail(error, field,
                       "unknown platform \"%.64s\"; use a configured "
                       "platform (%s)",
                       name, used == 0 ? "none configured" : names);
}

/*
 * Writes the field name of platform `index` into `field` and returns it.
 * Only the error paths call it, because snprintf for every platform of
 * every event cost about 780 instructions each (callgrind, `pubq
 * import`).
 */
static const char *platform_field(char *field, size_t size, size_t index)
{
    snprintf(field, size, "data.platforms[%zu]", index);
    return field;
}

/* Resolves every name of the list to its configured platform. */
static int check_platforms(const json_t *list, const struct pubq_config *config,
                           const struct platform_config **found,
                           struct intake_error *error)
{
    char field[64];
    size_t index;
    const json_t *item;

    json_array_foreach(list, index, item)
    {
        const char *name = json_string_value(item);

        if (name == NULL)
            return intake_fail(error,
                               platform_field(field, sizeof field, index),
                               "platform must be a string, the name of a "
                               "configured platform");

        found[index] = config_find_platform(config, name);
        if (found[index] == NULL)
            return fail_unknown_platform(
                config, platform_field(field, sizeof field, index), name,
                error);

        for (size_t before = 0; before < index; before++) {
            if (found[before] == found[index])
                return intake_fail(error,
                                   platform_field(field, sizeof field, index),
                                   "platform \"%s\" appears twice; list "
                                   "each platform once",
                                   name);
        }
    }
    return 0;
}

static int check_platform_list(const json_t *list, struct intake_error *error)
{
    if (list == NULL)
        return intake_fail(error, "data.platforms",
                           "missing platforms; list at least one "
                           "configured platform");

    if (!json_is_array(list))
        return intake_fail(error, "data.platforms",
                           "data.platforms must be an array of platform "
                           "names");

    if (json_array_size(list) == 0)
        return intake_fail(error, "data.platforms",
                           "empty platform list; list at least one "
                           "configured platform");
    return 0;
}

static int parse_scheduled_at(const json_t *value,
                              const struct zone *default_zone, int64_t now,
                              int64_t *scheduled_at, struct intake_error *error)
{
    char message[sizeof error->message];
    int64_t at;

    *scheduled_at = now;
    if (value == NULL || json_is_null(value))
        return 0;

    if (!json_is_string(value))
        return intake_fail(error, "data.scheduledAt",
                           "scheduledAt must be a string such as "
                           "\"2026-12-05T09:00:00+01:00\", or null for now");

    if (timestamp_parse(json_string_value(value), default_zone, &at, message,
                        sizeof message) != 0)
        return intake_fail(error, "data.scheduledAt", "%s", message);

    if (at > now)
        *scheduled_at = at;
    return 0;
}

/*
 * Checks the content with the platform's adapter, so intake rejects what
 * the adapter would reject when it publishes. Types whose adapter has no
 * check_content (or is not built in) use the generic text limits.
 */
static int check_platform_content(const struct platform_config *platform,
                                  const json_t *content, char *message,
                                  size_t length)
{
    const struct adapter_ops *adapter = adapter_find(platform->type);

    if (adapter != NULL && adapter->check_content != NULL)
        return adapter->check_content(platform, content, message, length);
    return content_check_limits(platform->type, content, message, length);
}

static int check_limits(const json_t *content,
                        const struct platform_config *const *platforms,
                        size_t count, struct intake_error *error)
{
    char message[384];

    for (size_t i = 0; i < count; i++) {
        if (check_platform_content(platforms[i], content, message,
                                   sizeof message) != 0)
            return intake_fail(error, "data.content.text",
                               "platform \"%s\" (type %s): %s",
                               platforms[i]->name, platforms[i]->type, message);
    }
    return 0;
}

static int fill_job(const json_t *data, const char *event_id,
                    const struct platform_config *const *platforms,
                    size_t count, struct intake_job *job)
{
    const json_t *content = json_object_get(data, "content");
    const char *content_id =
        json_string_value(json_object_get(data, "contentItemId"));

    job->content_id = strdup(content_id);
    job->content_json = json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS);
    job->event_id = event_id == NULL ? NULL : strdup(event_id);
    job->platforms = calloc(count, sizeof *job->platforms);
    job->platform_max_retries =
        calloc(count, sizeof *job->platform_max_retries);
    if (job->content_id == NULL || job->content_json == NULL ||
        (event_id != NULL && job->event_id == NULL) || job->platforms == NULL ||
        job->platform_max_retries == NULL)
        return -1;

    for (size_t i = 0; i < count; i++) {
        job->platforms[i] = strdup(platforms[i]->name);
        if (job->platforms[i] == NULL)
            return -1;
        job->platform_count = i + 1;
        job->platform_max_retries[i] = platforms[i]->max_retries;
        if (platforms[i]->max_retries > job->max_retries)
            job->max_retries = platforms[i]->max_retries;
    }
    return 0;
}

/* Runs every check in the order a sender would fix them. */
static int check_data(const json_t *data, const char *event_id,
                      const struct pubq_config *config,
                      const struct platform_config **found,
                      struct intake_error *error)
{
    const json_t *list = json_object_get(data, "platforms");
    const json_t *content = json_object_get(data, "content");

    if (check_data_fields(data, error) != 0 ||
        check_event_id(event_id, error) != 0 ||
        check_identifier(json_object_get(data, "contentItemId"),
                         "data.contentItemId", error) != 0 ||
        intake_check_content(content, error) != 0 ||
        check_platform_list(list, error) != 0)
        return -1;

    if (check_platforms(list, config, found, error) != 0)
        return -1;
    return check_limits(content, found, json_array_size(list), error);
}

int intake_parse_scheduled(const json_t *data, const char *event_id,
                           const struct pubq_config *config,
                           const struct zone *default_zone, int64_t now,
                           struct intake_job *job, struct intake_error *error)
{
    const struct platform_config **found;
    size_t count;
    int64_t scheduled_at;

    memset(job, 0, sizeof *job);
    memset(error, 0, sizeof *error);
    if (!json_is_object(data))
        return intake_fail(error, "data",
                           "data must be an object with contentItemId, "
                           "platforms, scheduledAt and content");

    count = json_array_size(json_object_get(data, "platforms"));
    found = calloc(count == 0 ? 1 : count, sizeof *found);
    if (found == NULL)
        return intake_fail(error, "data", "out of memory");

    if (check_data(data, event_id, config, found, error) != 0 ||
        parse_scheduled_at(json_object_get(data, "scheduledAt"), default_zone,
                           now, &scheduled_at, error) != 0) {
        free(found);
        return -1;
    }

    job->scheduled_at = scheduled_at;
    if (fill_job(data, event_id, found, count, job) != 0) {
        intake_job_clear(job);
        free(found);
        return intake_fail(error, "data", "out of memory");
    }
    free(found);
    return 0;
}

void intake_job_to_request(const struct intake_job *job, const char *source,
                           struct job_request *request)
{
    memset(request, 0, sizeof *request);
    request->event_id = job->event_id;
    request->content_id = job->content_id;
    request->content_json = job->content_json;
    request->scheduled_at = job->scheduled_at;
    request->platforms = (const char *const *)job->platforms;
    request->platform_count = job->platform_count;
    request->max_retries = job->max_retries;
    request->platform_max_retries = job->platform_max_retries;
    request->source = source;
}

void intake_job_clear(struct intake_job *job)
{
    if (job == NULL)
        return;

    for (size_t i = 0; i < job->platform_count; i++)
        free(job->platforms[i]);
    free(job->platforms);
    free(job->platform_max_retries);
    free(job->event_id);
    free(job->content_id);
    free(job->content_json);
    memset(job, 0, sizeof *job);
}
