/*
 * GET /v1/platforms, POST /v1/platforms/{name}/pause and /resume. Only
 * a platform's name, type and limits are shown: its adapter options may
 * name secrets and stay private.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/timestamp.h"
#include "http/http_internal.h"
#include "util/log.h"

#include "util/banned.h"

#define HTTP_AGENT "api"
#define PAUSE_REASON_MAX 500

static const struct platform_state *
find_state(const struct platform_state_list *states, const char *name)
{
    for (size_t i = 0; i < states->count; i++) {
        if (strcmp(states->items[i].platform, name) == 0)
            return &states->items[i];
    }
    return NULL;
}

static json_t *platform_json(const struct platform_config *platform,
                             const struct platform_state *state, int64_t now)
{
    int paused = state != NULL && state->paused_until > now;
    json_t *until = json_null();

    if (paused && state->paused_until != INT64_MAX)
        until = http_time_json(state->paused_until);

    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:o, s:o}", "name",
                     platform->name, "type", platform->type, "concurrency",
                     (json_int_t)platform->concurrency, "maxRetries",
                     (json_int_t)platform->max_retries, "maxLatenessMs",
                     (json_int_t)platform->max_lateness_ms, "paused", paused,
                     "pausedUntil", until, "pauseReason",
                     paused ? http_text_json(state->pause_reason)
                            : json_null());
}

static int read_states(struct store *store, struct platform_state_list *states,
                       struct http_reply *reply)
{
    int result = store->ops->list_platform_states(store, states);

    if (result != STORE_OK)
        http_reply_store_error(reply, store, result,
                               "cannot read the platform states");
    return result == STORE_OK ? 0 : -1;
}

void http_handle_platform_list(struct http_request *request,
                               struct http_reply *reply)
{
    static const char *const known[] = {NULL};
    const struct pubq_config *config = request->server->config;
    struct platform_state_list states = {0};
    struct store *store;
    json_t *array;

    if (http_query_check_names(request, known, reply) != 0)
        return;
    store = http_request_store(request, reply);
    if (store == NULL || read_states(store, &states, reply) != 0)
        return;

    array = json_array();
    for (size_t i = 0; array != NULL && i < config->platform_count; i++) {
        const struct platform_config *platform = &config->platforms[i];

        json_array_append_new(
            array, platform_json(platform, find_state(&states, platform->name),
                                 request->now));
    }
    platform_state_list_free(&states);
    http_reply_json(reply, MHD_HTTP_OK, json_pack("{s:o}", "platforms", array));
}

/* Finds the configured platform named by the path, or replies 404. */
static const struct platform_config *path_platform(struct http_request *request,
                                                   struct http_reply *reply)
{
    const struct platform_config *platform =
        config_find_platform(request->server->config, request->params[0]);

    if (platform == NULL)
        http_reply_error(reply, MHD_HTTP_NOT_FOUND, NULL,
                         "platform not found: \"%.64s\"; list them with GET "
                         "/v1/platforms",
                         request->params[0]);
    return platform;
}

/* Replies with the platform's state after a change. */
static void reply_platform(struct http_request *request, struct store *store,
                           const struct platform_config *platform,
                           struct http_reply *reply)
{
    struct platform_state_list states = {0};

    if (read_states(store, &states, reply) != 0)
        return;
    http_reply_json(
        reply, MHD_HTTP_OK,
        json_pack("{s:o}", "platform",
                  platform_json(platform, find_state(&states, platform->name),
                                request->now)));
    platform_state_list_free(&states);
}

static int parse_reason(const json_t *body, const char **reason,
                        struct http_reply *reply)
{
    const json_t *value = json_object_get(body, "reason");
    size_t length = json_string_length(value);

    if (!json_is_string(value) || length == 0 || length > PAUSE_REASON_MAX) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "reason",
                         "%s; give a reason of 1 to %d bytes, shown on the "
                         "page",
                         value == NULL ? "missing reason" : "invalid reason",
                         PAUSE_REASON_MAX);
        return -1;
    }
    *reason = json_string_value(value);
    return 0;
}

static int parse_until(const struct http_request *request, const json_t *body,
                       int64_t *until, struct http_reply *reply)
{
    const json_t *value = json_object_get(body, "until");
    char why[256];

    *until = INT64_MAX;
    if (value == NULL || json_is_null(value))
        return 0;
    if (!json_is_string(value)) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "until",
                         "until must be an RFC 3339 time such as "
                         "\"2026-12-05T09:00:00Z\", or null for until "
                         "resumed");
        return -1;
    }
    if (timestamp_parse(json_string_value(value), request->server->default_zone,
                        until, why, sizeof why) != 0) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "until",
                         "invalid until: %s", why);
        return -1;
    }
    if (*until <= request->now) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "until",
                         "invalid until \"%s\": the time has passed; give a "
                         "later time",
                         json_string_value(value));
        return -1;
    }
    return 0;
}

static int parse_pause(const struct http_request *request, const json_t *body,
                       const char **reason, int64_t *until,
                       struct http_reply *reply)
{
    const char *key;
    const json_t *value;

    if (!json_is_object(body)) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "body",
                         "the body must be an object with reason and "
                         "optional until");
        return -1;
    }
    json_object_foreach((json_t *)body, key, value)
    {
        if (strcmp(key, "reason") != 0 && strcmp(key, "until") != 0) {
            http_reply_error(reply, MHD_HTTP_BAD_REQUEST, key,
                             "unknown field \"%.60s\"; the fields are "
                             "reason and until",
                             key);
            return -1;
        }
    }
    if (parse_reason(body, reason, reply) != 0)
        return -1;
    return parse_until(request, body, until, reply);
}

void http_handle_platform_pause(struct http_request *request,
                                struct http_reply *reply)
{
    const struct platform_config *platform = path_platform(request, reply);
    struct store *store;
    const char *reason = NULL;
    int64_t until = 0;
    json_t *body = NULL;
    int result;

    if (platform == NULL || http_request_json(request, &body, reply) != 0)
        return;
    store = parse_pause(request, body, &reason, &until, reply) == 0
                ? http_request_store(request, reply)
                : NULL;
    if (store == NULL) {
        json_decref(body);
        return;
    }

    result = store->ops->pause_platform(store, platform->name, until, reason,
                                        request->now, HTTP_AGENT);
    json_decref(body);
    if (result != STORE_OK) {
        http_reply_store_error(reply, store, result,
                               "cannot pause the platform");
        return;
    }
    log_info("http", "platform=%s paused by api", platform->name);
    reply_platform(request, store, platform, reply);
}

void http_handle_platform_resume(struct http_request *request,
                                 struct http_reply *reply)
{
    const struct platform_config *platform = path_platform(request, reply);
    struct store *store;
    int result;

    if (platform == NULL)
        return;
    store = http_request_store(request, reply);
    if (store == NULL)
        return;

    result = store->ops->resume_platform(store, platform->name, request->now,
                                         HTTP_AGENT);
    if (result != STORE_OK) {
        http_reply_store_error(reply, store, result,
                               "cannot resume the platform");
        return;
    }
    log_info("http", "platform=%s resumed by api", platform->name);
    http_server_wake(request->server);
    reply_platform(request, store, platform, reply);
}
