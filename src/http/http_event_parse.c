/*
 * Parsing and validation of an event request body. Every event is
 * checked before anything is stored, so a bad event anywhere in an
 * array rejects the whole request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timestamp.h"
#include "http/http_events.h"
#include "intake/intake_check.h"

#include "util/banned.h"

/* Content item ids and event ids, in bytes, as intake allows them. */
#define EVENT_ID_MAX_BYTES 200

static const char *const event_fields[] = {"name", "data", "id",   "ts",
                                           "user", "v",    "meta", NULL};

static int is_known(const char *key, const char *const *known)
{
    for (; *known != NULL; known++) {
        if (strcmp(key, *known) == 0)
            return 1;
    }
    return 0;
}

static int check_fields(const json_t *object, const char *prefix,
                        const char *const *known, const char *list,
                        struct intake_error *error)
{
    char field[96];
    const char *key;
    const json_t *value;

    json_object_foreach((json_t *)object, key, value)
    {
        if (is_known(key, known))
            continue;
        snprintf(field, sizeof field, "%s%.60s", prefix, key);
        return intake_fail(error, field,
                           "unknown field \"%.60s\"; the fields are %s", key,
                           list);
    }
    return 0;
}

static int check_id_text(const json_t *value, const char *field,
                         const char *what, struct intake_error *error)
{
    size_t length;

    if (value == NULL)
        return intake_fail(error, field, "missing %s; set it to %s", field,
                           what);
    if (intake_check_string(value, field, 0, error) != 0)
        return -1;

    length = json_string_length(value);
    if (length == 0 || length > EVENT_ID_MAX_BYTES)
        return intake_fail(error, field, "%s is %zu bytes; use 1 to %d bytes",
                           field, length, EVENT_ID_MAX_BYTES);
    return 0;
}

/* Checks the Inngest fields that pubq accepts but does not use. */
static int check_envelope_extras(const json_t *event,
                                 struct intake_error *error)
{
    const json_t *ts = json_object_get(event, "ts");
    const json_t *user = json_object_get(event, "user");
    const json_t *version = json_object_get(event, "v");
    const json_t *meta = json_object_get(event, "meta");

    if (ts != NULL && !json_is_null(ts) &&
        !(json_is_integer(ts) && json_integer_value(ts) >= 0))
        return intake_fail(error, "ts",
                           "ts must be a whole number of milliseconds "
                           "since the Unix epoch");
    if (user != NULL && !json_is_null(user) && !json_is_object(user))
        return intake_fail(error, "user", "user must be an object");
    if (version != NULL && !json_is_null(version) && !json_is_string(version))
        return intake_fail(error, "v", "v must be a string");
    if (meta != NULL && !json_is_null(meta) && !json_is_object(meta))
        return intake_fail(error, "meta", "meta must be an object");
    return 0;
}

static int parse_kind(const json_t *name, struct http_event *event,
                      struct intake_error *error)
{
    static const struct {
        const char *name;
        enum http_event_kind kind;
    } kinds[] = {{"publishing.scheduled", HTTP_EVENT_SCHEDULED},
                 {"publishing.cancelled", HTTP_EVENT_CANCELLED},
                 {"publishing.rescheduled", HTTP_EVENT_RESCHEDULED}};

    if (!json_is_string(name))
        return intake_fail(error, "name",
                           name == NULL ? "missing name; set it to "
                                          "publishing.scheduled, "
                                          "publishing.cancelled or "
                                          "publishing.rescheduled"
                                        : "name must be a string");

    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(json_string_value(name), kinds[i].name) == 0) {
            event->name = kinds[i].name;
            event->kind = kinds[i].kind;
            return 0;
        }
    }
    return intake_fail(error, "name",
                       "unknown event name \"%.80s\"; use "
                       "publishing.scheduled, publishing.cancelled or "
                       "publishing.rescheduled",
                       json_string_value(name));
}

/* Checks name, id and the unused Inngest fields of one event. */
static int parse_envelope(const json_t *object, struct http_event *event,
                          struct intake_error *error)
{
    const json_t *id = json_object_get(object, "id");

    if (!json_is_object(object))
        return intake_fail(error, "",
                           "event must be an object with name and data");
    if (check_fields(object, "", event_fields,
                     "name, data, id, ts, user, v and meta", error) != 0 ||
        parse_kind(json_object_get(object, "name"), event, error) != 0 ||
        check_envelope_extras(object, error) != 0)
        return -1;

    if (id != NULL && !json_is_null(id)) {
        if (check_id_text(id, "id", "a deduplication key", error) != 0)
            return -1;
        event->id = json_string_value(id);
    }
    return 0;
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

static int check_platform_item(const json_t *item, size_t index,
                               const struct http_event *event,
                               const struct pubq_config *config,
                               struct intake_error *error)
{
    const char *name = json_string_value(item);
    char field[64];

    snprintf(field, sizeof field, "data.platforms[%zu]", index);
    if (name == NULL)
        return intake_fail(error, field,
                           "platform must be a string, the name of a "
                           "configured platform");
    if (config_find_platform(config, name) == NULL)
        return fail_unknown_platform(config, field, name, error);

    for (size_t before = 0; before < index; before++) {
        if (strcmp(event->platforms[before], name) == 0)
            return intake_fail(error, field,
                               "platform \"%s\" appears twice; list each "
                               "platform once",
                               name);
    }
    return 0;
}

/* Reads the optional platform list of a cancel or reschedule. */
static int parse_platforms(const json_t *list, struct http_event *event,
                           const struct pubq_config *config,
                           struct intake_error *error)
{
    size_t index;
    const json_t *item;

    if (list == NULL || json_is_null(list))
        return 0;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return intake_fail(error, "data.platforms",
                           "data.platforms must be a non-empty array of "
                           "platform names; leave it out for every "
                           "platform");

    event->platforms = calloc(json_array_size(list), sizeof *event->platforms);
    if (event->platforms == NULL)
        return intake_fail(error, "data.platforms", "out of memory");

    json_array_foreach(list, index, item)
    {
        if (check_platform_item(item, index, event, config, error) != 0)
            return -1;
        event->platforms[index] = json_string_value(item);
        event->platform_count = index + 1;
    }
    return 0;
}

static int parse_new_due(const json_t *value, const struct zone *zone,
                         int64_t now, struct http_event *event,
                         struct intake_error *error)
{
    char why[sizeof error->message];
    int64_t at;

    if (value == NULL || !json_is_string(value))
        return intake_fail(error, "data.scheduledAt",
                           "%s; set it to the new time, such as "
                           "\"2026-12-05T09:00:00+01:00\"",
                           value == NULL ? "missing scheduledAt"
                                         : "scheduledAt must be a string");
    if (timestamp_parse(json_string_value(value), zone, &at, why, sizeof why) !=
        0)
        return intake_fail(error, "data.scheduledAt", "%s", why);

    event->new_due = at > now ? at : now;
    return 0;
}

/* Checks the data of publishing.cancelled and publishing.rescheduled. */
static int parse_content_change(const json_t *data, struct http_event *event,
                                const struct http_request *request,
                                struct intake_error *error)
{
    static const char *const cancel_fields[] = {"contentItemId", "platforms",
                                                NULL};
    static const char *const move_fields[] = {"contentItemId", "scheduledAt",
                                              "platforms", NULL};
    const int move = event->kind == HTTP_EVENT_RESCHEDULED;
    const json_t *content_id = json_object_get(data, "contentItemId");

    if (!json_is_object(data))
        return intake_fail(error, "data",
                           data == NULL ? "missing data; send an object "
                                          "with contentItemId"
                                        : "data must be an object");
    if (check_fields(data, "data.", move ? move_fields : cancel_fields,
                     move ? "contentItemId, scheduledAt and platforms"
                          : "contentItemId and platforms",
                     error) != 0 ||
        check_id_text(content_id, "data.contentItemId",
                      "the id of the content item", error) != 0)
        return -1;
    event->content_id = json_string_value(content_id);

    if (move && parse_new_due(json_object_get(data, "scheduledAt"),
                              request->server->default_zone, request->now,
                              event, error) != 0)
        return -1;
    return parse_platforms(json_object_get(data, "platforms"), event,
                           request->server->config, error);
}

/*
 * Gives an event without an id the id made from the retry seed and its
 * position in the request, so a retried request stores nothing twice.
 */
static int assign_seed_id(struct http_event *event, const char *seed,
                          size_t index, struct intake_error *error)
{
    if (event->id != NULL || seed == NULL)
        return 0;
    event->seed_id = http_inngest_seed_id(seed, index);
    if (event->seed_id == NULL)
        return intake_fail(error, "id", "out of memory");
    event->id = event->seed_id;
    return 0;
}

static int parse_event(const json_t *object, struct http_event *event,
                       const struct http_event_batch *batch, size_t index,
                       const struct http_request *request,
                       struct intake_error *error)
{
    const json_t *data;

    if (parse_envelope(object, event, error) != 0 ||
        assign_seed_id(event, batch->seed, index, error) != 0)
        return -1;

    data = json_object_get(object, "data");
    if (event->kind != HTTP_EVENT_SCHEDULED)
        return parse_content_change(data, event, request, error);

    if (data == NULL)
        return intake_fail(error, "data",
                           "missing data; send an object with "
                           "contentItemId, platforms and content");
    return intake_parse_scheduled(data, event->id, request->server->config,
                                  request->server->default_zone, request->now,
                                  &event->job, error);
}

static int fail_event(size_t index, int in_array,
                      const struct intake_error *error,
                      struct http_reply *reply)
{
    char field[sizeof error->field + 32];

    if (!in_array)
        snprintf(field, sizeof field, "%s", error->field);
    else if (error->field[0] == '\0')
        snprintf(field, sizeof field, "[%zu]", index);
    else
        snprintf(field, sizeof field, "[%zu].%s", index, error->field);

    http_reply_error(reply, MHD_HTTP_BAD_REQUEST, field, "%s", error->message);
    return -1;
}

static int allocate_events(json_t *root, struct http_event_batch *batch,
                           struct http_reply *reply)
{
    batch->count = json_is_array(root) ? json_array_size(root) : 1;
    if (json_is_array(root) && batch->count == 0) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "body",
                         "empty event array; send at least one event");
        return -1;
    }
    if (!json_is_array(root) && !json_is_object(root)) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "body",
                         "the body must be one event object or an array of "
                         "events");
        return -1;
    }

    batch->events = calloc(batch->count, sizeof *batch->events);
    if (batch->events == NULL) {
        http_reply_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                         "out of memory for %zu events", batch->count);
        return -1;
    }
    return 0;
}

int http_event_batch_parse(struct http_request *request,
                           struct http_event_batch *batch,
                           struct http_reply *reply)
{
    struct intake_error error;

    memset(batch, 0, sizeof *batch);
    if (http_inngest_seed(request, &batch->seed, reply) != 0 ||
        http_request_json(request, &batch->root, reply) != 0 ||
        allocate_events(batch->root, batch, reply) != 0)
        return -1;

    for (size_t i = 0; i < batch->count; i++) {
        const json_t *object = json_is_array(batch->root)
                                   ? json_array_get(batch->root, i)
                                   : batch->root;

        memset(&error, 0, sizeof error);
        if (parse_event(object, &batch->events[i], batch, i, request, &error) !=
            0)
            return fail_event(i, json_is_array(batch->root), &error, reply);
    }
    return 0;
}

void http_event_batch_clear(struct http_event_batch *batch)
{
    for (size_t i = 0; batch->events != NULL && i < batch->count; i++) {
        intake_job_clear(&batch->events[i].job);
        free(batch->events[i].platforms);
        free(batch->events[i].seed_id);
    }
    free(batch->events);
    json_decref(batch->root);
    memset(batch, 0, sizeof *batch);
}
