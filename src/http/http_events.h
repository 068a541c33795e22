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
    char *seed_id;  /* heap; the id made from the seed header, or NULL */

    struct intake_job job; /* publishing.scheduled */

    const char *content_id; /* publishing.cancelled and .rescheduled */
    const char **platforms; /* heap array; NULL means every platform */
    size_t platform_count;
    int64_t new_due; /* publishing.rescheduled */

    /* Results, filled when the batch is stored. */
    struct submit_result submitted;
    struct content_change_result change;
};

struct http_event_batch {
    json_t *root;
    struct http_event *events;
    size_t count;
    const char *seed; /* the retry seed header, or NULL */
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

/*
 * The Inngest SDK sends this header with every request of one send()
 * call, the same value on each of its retries: the time of the call in
 * milliseconds and 10 random bytes in base64 ("1764867000000,AAEC...").
 */
#define HTTP_INNGEST_SEED_HEADER "x-inngest-event-id-seed"

/*
 * Reads the seed header. Returns 0 with *seed set, or NULL when the
 * header is absent; -1 with a 400 reply when it is empty, longer than
 * 100 bytes or not visible ASCII. *seed lives as long as the request.
 */
int http_inngest_seed(struct http_request *request, const char **seed,
                      struct http_reply *reply);

/*
 * Returns the event id of the event at `index` (from 0) of a request
 * that carries `seed`: "inngest-seed:SEED:INDEX", a heap string the
 * caller frees, or NULL when out of memory.
 */
char *http_inngest_seed_id(const char *seed, size_t index);

#endif
