/*
 * The read side of the queue: GET /v1/entries (filters and cursor
 * pagination), GET /v1/entries/{id}, GET /v1/jobs/{id} and
 * GET /v1/counts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/http_internal.h"

#include "util/banned.h"

#define ENTRY_LIST_DEFAULT_LIMIT 100

static int parse_status(struct http_request *request,
                        struct entry_filter *filter, struct http_reply *reply)
{
    const char *text = http_query_get(request, "status");

    if (text == NULL)
        return 0;
    if (entry_status_parse(text, &filter->status) == 0) {
        filter->has_status = 1;
        return 0;
    }
    http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "status",
                     "invalid status \"%.60s\"; use pending, publishing, "
                     "published, retrying, failed or cancelled",
                     text);
    return -1;
}

static int check_range(int64_t from, int64_t to, struct http_reply *reply)
{
    if (from == 0 || to == 0 || to > from)
        return 0;
    http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "to",
                     "invalid to: it is not after from; swap the two times");
    return -1;
}

static int parse_entry_filter(struct http_request *request,
                              struct entry_filter *filter,
                              struct http_reply *reply)
{
    static const char *const known[] = {"status", "platform", "contentId",
                                        "jobId",  "from",     "to",
                                        "before", "limit",    NULL};

    filter->limit = ENTRY_LIST_DEFAULT_LIMIT;
    if (http_query_check_names(request, known, reply) != 0 ||
        parse_status(request, filter, reply) != 0 ||
        http_query_text(request, "platform", STORE_NAME_MAX, &filter->platform,
                        reply) != 0 ||
        http_query_text(request, "contentId", STORE_ID_MAX, &filter->content_id,
                        reply) != 0 ||
        http_query_id(request, "jobId", &filter->job_id, reply) != 0 ||
        http_query_time(request, "from", &filter->scheduled_from, reply) != 0 ||
        http_query_time(request, "to", &filter->scheduled_to, reply) != 0 ||
        http_query_id(request, "before", &filter->before_id, reply) != 0 ||
        http_query_limit(request, &filter->limit, reply) != 0)
        return -1;
    return check_range(filter->scheduled_from, filter->scheduled_to, reply);
}

static json_t *entries_json(const struct entry_list *list, size_t count,
                            int64_t now)
{
    json_t *array = json_array();

    for (size_t i = 0; array != NULL && i < count; i++)
        json_array_append_new(array, http_entry_json(&list->items[i], now));
    return array;
}

/* The cursor of the next page: the last id shown, when more rows exist. */
static json_t *next_cursor(const struct entry_list *list, size_t limit)
{
    char text[24];

    if (list->count <= limit)
        return json_null();
    snprintf(text, sizeof text, "%" PRId64, list->items[limit - 1].id);
    return json_string(text);
}

void http_handle_entry_list(struct http_request *request,
                            struct http_reply *reply)
{
    struct entry_filter filter = {0};
    struct entry_list list = {0};
    struct store *store;
    size_t limit;
    int result;

    if (parse_entry_filter(request, &filter, reply) != 0)
        return;
    store = http_request_store(request, reply);
    if (store == NULL)
        return;

    /* One row more than shown tells whether a next page exists. */
    limit = filter.limit;
    filter.limit = limit + 1;
    result = store->ops->list_entries(store, &filter, &list);
    if (result != STORE_OK) {
        http_reply_store_error(reply, store, result, "cannot list entries");
        return;
    }

    http_reply_json(
        reply, MHD_HTTP_OK,
        json_pack("{s:o, s:o}", "entries",
                  entries_json(&list, list.count < limit ? list.count : limit,
                               request->now),
                  "next", next_cursor(&list, limit)));
    entry_list_free(&list);
}

static json_t *attempts_json(const struct attempt_list *list)
{
    json_t *array = json_array();

    for (size_t i = 0; array != NULL && i < list->count; i++)
        json_array_append_new(array, http_attempt_json(&list->items[i]));
    return array;
}

void http_handle_entry_get(struct http_request *request,
                           struct http_reply *reply)
{
    struct store *store;
    struct entry entry;
    struct job job = {0};
    struct attempt_list attempts = {0};
    int64_t id;
    int result;

    if (http_path_id(request, 0, "entry", &id, reply) != 0)
        return;
    store = http_request_store(request, reply);
    if (store == NULL)
        return;

    result = store->ops->get_entry(store, id, &entry);
    if (result == STORE_OK)
        result = store->ops->list_attempts(store, id, &attempts);
    if (result == STORE_OK)
        result = store->ops->get_job(store, entry.job_id, &job);
    if (result != STORE_OK) {
        http_reply_store_error(reply, store, result, "cannot read the entry");
        attempt_list_free(&attempts);
        return;
    }

    http_reply_json(reply, MHD_HTTP_OK,
                    json_pack("{s:o, s:o, s:o}", "entry",
                              http_entry_json(&entry, request->now), "attempts",
                              attempts_json(&attempts), "job",
                              http_job_json(&job)));
    job_clear(&job);
    attempt_list_free(&attempts);
}

void http_handle_job_get(struct http_request *request, struct http_reply *reply)
{
    struct entry_filter filter = {.limit = HTTP_LIST_LIMIT_MAX};
    struct entry_list list = {0};
    struct job job = {0};
    struct store *store;
    int result;

    if (http_path_id(request, 0, "job", &filter.job_id, reply) != 0)
        return;
    store = http_request_store(request, reply);
    if (store == NULL)
        return;

    result = store->ops->get_job(store, filter.job_id, &job);
    if (result == STORE_OK)
        result = store->ops->list_entries(store, &filter, &list);
    if (result != STORE_OK) {
        http_reply_store_error(reply, store, result, "cannot read the job");
        job_clear(&job);
        return;
    }

    http_reply_json(reply, MHD_HTTP_OK,
                    json_pack("{s:o, s:o}", "job", http_job_json(&job),
                              "entries",
                              entries_json(&list, list.count, request->now)));
    job_clear(&job);
    entry_list_free(&list);
}

static int add_platform_counts(struct store *store,
                               const struct pubq_config *config,
                               json_t *platforms)
{
    struct status_counts counts;

    for (size_t i = 0; i < config->platform_count; i++) {
        const char *name = config->platforms[i].name;
        int result = store->ops->count_entries(store, name, &counts);

        if (result != STORE_OK)
            return result;
        json_object_set_new(platforms, name, http_counts_json(&counts));
    }
    return STORE_OK;
}

int http_counts_build(struct store *store, const struct pubq_config *config,
                      json_t **out)
{
    struct status_counts all;
    json_t *platforms = json_object();
    int result = store->ops->count_entries(store, NULL, &all);

    if (result == STORE_OK)
        result = add_platform_counts(store, config, platforms);
    if (result != STORE_OK) {
        json_decref(platforms);
        return result;
    }
    *out = json_pack("{s:o, s:o}", "all", http_counts_json(&all), "platforms",
                     platforms);
    return *out != NULL ? STORE_OK : STORE_ERROR;
}

void http_handle_counts(struct http_request *request, struct http_reply *reply)
{
    static const char *const known[] = {NULL};
    struct store *store;
    json_t *counts = NULL;
    int result;

    if (http_query_check_names(request, known, reply) != 0)
        return;
    store = http_request_store(request, reply);
    if (store == NULL)
        return;

    result = http_counts_build(store, request->server->config, &counts);
    if (result != STORE_OK) {
        http_reply_store_error(reply, store, result, "cannot count entries");
        return;
    }
    http_reply_json(reply, MHD_HTTP_OK, counts);
}
