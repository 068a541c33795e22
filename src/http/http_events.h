/*
 * The event intake of the HTTP server, split in two steps: parsing and
 * validating the whole request body (http_event_parse.c), then storing
 * and replying (http_events.c). Only the event files of src/http include it.
 */
#ifndef PUBQ_HTTP_EVENTS_H
#define PUBQ_HTTP_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_internal.h"
#include "intake/intake.h"

enum http_event_kind {
    HTTP_EVENT_SCHEDULED,
    HTTP_EVENT_CANCELLED,
    HTTP_EVENT_RESCHEDULED,
};

/* One validated event; strings are borrowed from the parsed body. */
struct http_event {
    enum http_event_kind kind;
    const char *name;
    const char *id; /* NULL when the event has none */

    struct intake_job job; /* publishing.scheduled */

    const char *content_id; /* publishing.cancelled and .rescheduled */
    const char **platforms; /* heap array; NULL means every platform */
    size_t platform_count;
    int64_t new_due; /* publishing.rescheduled */

    /* Results, filled when the batch is stored. */
    struct submit_result submitted;
    size_t changed;
};

struct http_event_batch {
    json_t *root;
    struct http_event *events;
    size_t count;
};

/*
 * Parses and validates the request body: one event object or a
 * non-empty array of them. Returns 0 with *batch filled, or -1 with a
 * 400 reply whose field names the event ("[2].data.platforms[0]").
 * Either way http_event_batch_clear frees the batch.
 */
int http_event_batch_parse(struct http_request *request,
                           struct http_event_batch *batch,
                           struct http_reply *reply);

void http_event_batch_clear(struct http_event_batch *batch);

#endif
