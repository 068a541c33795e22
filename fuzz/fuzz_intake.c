/*
 * Fuzzes the event intake: the input is a request body. Each event of an
 * object or array goes through intake_parse_scheduled, with and without
 * a default zone, and the whole body through http_event_batch_parse, the
 * parser behind POST /v1/events and POST /e/{event-key}.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "http/http_events.h"
#include "intake/intake.h"

#include "util/banned.h"

static struct http_server server;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    server.config = fuzz_config();
    server.default_zone = fuzz_berlin();
    return 0;
}

static void check_job(const struct intake_job *job)
{
    struct job_request request;
    json_t *content;

    if (job->platform_count == 0 || job->content_id == NULL)
        fuzz_fail("intake accepted a job without platforms or content id");
    content = json_loads(job->content_json, 0, NULL);
    if (!json_is_object(content))
        fuzz_fail("intake stored content that is not a JSON object: %s",
                  job->content_json);
    json_decref(content);
    if (job->scheduled_at < FUZZ_NOW_MS)
        fuzz_fail("intake scheduled a job in the past: %lld",
                  (long long)job->scheduled_at);
    intake_job_to_request(job, "fuzz", &request);
}

static void parse_event(const json_t *event, const struct zone *zone)
{
    const json_t *data = json_object_get(event, "data");
    const char *event_id = json_string_value(json_object_get(event, "id"));
    struct intake_job job;
    struct intake_error error;

    /* A JSON Lines row is the data object itself. */
    if (data == NULL)
        data = event;

    memset(&error, 0, sizeof error);
    if (intake_parse_scheduled(data, event_id, fuzz_config(), zone, FUZZ_NOW_MS,
                               &job, &error) != 0) {
        if (error.message[0] == '\0')
            fuzz_fail("intake failed without a message");
        return;
    }
    check_job(&job);
    intake_job_clear(&job);
}

static void parse_events(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    size_t count = json_is_array(root) ? json_array_size(root) : 1;

    if (root == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        const json_t *event =
            json_is_array(root) ? json_array_get(root, i) : root;

        parse_event(event, NULL);
        parse_event(event, fuzz_berlin());
    }
    json_decref(root);
}

static void parse_batch(const uint8_t *data, size_t size)
{
    struct http_request request;
    struct http_event_batch batch;
    struct http_reply reply;
    char *body = fuzz_string(data, size);

    memset(&request, 0, sizeof request);
    memset(&reply, 0, sizeof reply);
    request.server = &server;
    request.body = body;
    request.body_size = size;
    request.now = FUZZ_NOW_MS;

    if (http_event_batch_parse(&request, &batch, &reply) != 0 &&
        (reply.status < 400 || reply.body == NULL))
        fuzz_fail("event batch rejected with status %u and no error body",
                  reply.status);
    http_event_batch_clear(&batch);
    http_reply_clear(&reply);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_events(data, size);
    parse_batch(data, size);
    return 0;
}
