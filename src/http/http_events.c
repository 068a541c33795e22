/*
 * POST /v1/events and POST /e/{event-key}: stores a validated event
 * batch. Every publishing.scheduled event of the request goes into one
 * group of the submit queue, so they are stored all or none, in one
 * transaction with the events of the requests that arrive meanwhile.
 * Cancels and reschedules run after it, in request order, each in its
 * own transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "http/http_events.h"
#include "util/log.h"

#include "util/banned.h"

#define HTTP_AGENT "api"

static size_t count_scheduled(const struct http_event_batch *batch)
{
    size_t count = 0;

    for (size_t i = 0; i < batch->count; i++)
        count += batch->events[i].kind == HTTP_EVENT_SCHEDULED;
    return count;
}

static int submit_scheduled(struct http_request *request, struct store *store,
                            struct http_event_batch *batch,
                            struct http_reply *reply)
{
    size_t count = count_scheduled(batch);
    struct job_request *requests = calloc(count + 1, sizeof *requests);
    struct submit_result *results = calloc(count + 1, sizeof *results);
    size_t next = 0;
    int status = -1;

    if (requests == NULL || results == NULL) {
        http_reply_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                         "out of memory for %zu jobs", count);
        goto done;
    }
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->events[i].kind == HTTP_EVENT_SCHEDULED)
            intake_job_to_request(&batch->events[i].job, "api",
                                  &requests[next++]);
    }

    struct http_submit_waiter waiter = {
        .group = {.reqs = requests, .count = count, .results = results},
        .now = request->now,
    };
    http_submit_queue_run(&request->server->submit_queue, store, &waiter);
    if (waiter.group.result != STORE_OK) {
        http_reply_store_failure(reply, waiter.group.result,
                                 waiter.group.errmsg,
                                 "cannot store the events; nothing was stored");
        goto done;
    }

    next = 0;
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->events[i].kind == HTTP_EVENT_SCHEDULED)
            batch->events[i].submitted = results[next++];
    }
    status = 0;
done:
    free(requests);
    free(results);
    return status;
}

static int apply_change(struct http_request *request, struct store *store,
                        size_t index, struct http_event *event,
                        struct http_reply *reply)
{
    struct content_change_request change = {
        .event_id = event->id,
        .content_id = event->content_id,
        .platforms = event->platforms,
        .platform_count = event->platform_count,
        .new_due = event->new_due,
        .agent = HTTP_AGENT,
    };
    char what[160];
    int result;

    if (event->kind == HTTP_EVENT_CANCELLED)
        result = store->ops->cancel_content(store, &change, request->now,
                                            &event->change);
    else
        result = store->ops->reschedule_content(store, &change, request->now,
                                                &event->change);
    if (result == STORE_OK)
        return 0;

    /*
     * Content that was never scheduled has nothing to change. The store
     * then records no event id, so a replay is checked again.
     */
    if (result == STORE_NOT_FOUND) {
        memset(&event->change, 0, sizeof event->change);
        return 0;
    }
    snprintf(what, sizeof what,
             "cannot apply event %zu (%s); the events before it were "
             "stored",
             index, event->name);
    http_reply_store_error(reply, store, result, what);
    return -1;
}

/* Stores the batch; returns 0, or -1 with the reply filled. */
static int store_batch(struct http_request *request,
                       struct http_event_batch *batch, struct http_reply *reply)
{
    struct store *store = http_request_store(request, reply);
    int changed = 0;
    int status = 0;

    if (store == NULL)
        return -1;
    if (count_scheduled(batch) > 0 &&
        submit_scheduled(request, store, batch, reply) != 0)
        return -1;

    for (size_t i = 0; status == 0 && i < batch->count; i++) {
        if (batch->events[i].kind != HTTP_EVENT_SCHEDULED) {
            status = apply_change(request, store, i, &batch->events[i], reply);
            changed = 1;
        }
    }

    /* The submit queue woke the engine for the scheduled events. Wake it
     * for the changes even after a partial failure: some may be new. */
    if (changed)
        http_server_wake(request->server);
    return status;
}

/*
 * Returns the ids of the job's entries, oldest first, or an empty array
 * on error. A new job's entries have consecutive ids from the first one
 * the store reports. Where it reports none, they are listed.
 */
static json_t *entry_ids_json(struct store *store,
                              const struct http_event *event)
{
    int64_t job_id = event->submitted.job_id;
    int64_t first = event->submitted.first_entry_id;
    struct entry_filter filter = {.job_id = job_id,
                                  .limit = HTTP_LIST_LIMIT_MAX};
    struct entry_list list = {0};
    json_t *ids = json_array();

    if (first != 0) {
        for (size_t i = 0; i < event->job.platform_count; i++)
            json_array_append_new(ids, json_integer(first + (int64_t)i));
        return ids;
    }
    if (store->ops->list_entries(store, &filter, &list) != STORE_OK) {
        log_warn("http", "cannot list the entries of job=%" PRId64 ": %s",
                 job_id, store_errmsg(store));
        return ids;
    }
    for (size_t i = list.count; i > 0; i--)
        json_array_append_new(ids, json_integer(list.items[i - 1].id));
    entry_list_free(&list);
    return ids;
}

static json_t *event_result_json(struct store *store,
                                 const struct http_event *event)
{
    json_t *object =
        json_pack("{s:s, s:o}", "name", event->name, "id",
                  event->id != NULL ? json_string(event->id) : json_null());

    if (object == NULL)
        return NULL;
    if (event->kind == HTTP_EVENT_SCHEDULED && event->submitted.job_id == 0) {
        /* A duplicate of an id that a cancel or reschedule used. */
        json_object_set_new(object, "jobId", json_null());
        json_object_set_new(object, "duplicate", json_true());
        json_object_set_new(object, "entryIds", json_array());
    } else if (event->kind == HTTP_EVENT_SCHEDULED) {
        json_object_set_new(object, "jobId",
                            json_integer(event->submitted.job_id));
        json_object_set_new(object, "duplicate",
                            json_boolean(event->submitted.duplicate));
        json_object_set_new(object, "entryIds", entry_ids_json(store, event));
    } else {
        json_object_set_new(object, "changed",
                            json_integer((json_int_t)event->change.changed));
        json_object_set_new(object, "duplicate",
                            json_boolean(event->change.duplicate));
    }
    return object;
}

static void reply_results(struct http_request *request,
                          const struct http_event_batch *batch,
                          struct http_reply *reply)
{
    json_t *events = json_array();

    for (size_t i = 0; events != NULL && i < batch->count; i++)
        json_array_append_new(
            events, event_result_json(request->store, &batch->events[i]));
    http_reply_json(reply, MHD_HTTP_OK, json_pack("{s:o}", "events", events));
}

/* An id for an event sent without one, as the Inngest reply needs one. */
static json_t *generated_id_json(void)
{
    unsigned char bytes[8];
    char text[32];

    if (getrandom(bytes, sizeof bytes, 0) != sizeof bytes)
        memset(bytes, 0, sizeof bytes);
    snprintf(text, sizeof text, "pubq-%02x%02x%02x%02x%02x%02x%02x%02x",
             bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5],
             bytes[6], bytes[7]);
    return json_string(text);
}

static void reply_inngest(const struct http_event_batch *batch,
                          struct http_reply *reply)
{
    json_t *ids = json_array();

    for (size_t i = 0; ids != NULL && i < batch->count; i++) {
        const char *id = batch->events[i].id;

        json_array_append_new(ids, id != NULL ? json_string(id)
                                              : generated_id_json());
    }
    http_reply_json(reply, MHD_HTTP_OK,
                    json_pack("{s:o, s:i}", "ids", ids, "status", 200));
}

static void handle(struct http_request *request, struct http_reply *reply,
                   int inngest)
{
    struct http_event_batch batch;

    if (http_event_batch_parse(request, &batch, reply) == 0 &&
        store_batch(request, &batch, reply) == 0) {
        if (inngest)
            reply_inngest(&batch, reply);
        else
            reply_results(request, &batch, reply);
    }
    http_event_batch_clear(&batch);
}

void http_handle_events(struct http_request *request, struct http_reply *reply)
{
    handle(request, reply, 0);
}

void http_handle_inngest(struct http_request *request, struct http_reply *reply)
{
    handle(request, reply, 1);
}
