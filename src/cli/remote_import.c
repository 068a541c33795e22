/*
 * pubq import --url: sends the validated rows to the daemon in batches,
 * one POST /v1/events per batch, so that a calendar larger than the
 * daemon's max_body_bytes still goes through. The daemon stores each
 * batch all or none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/http_client.h"
#include "cli/remote.h"

#include "util/banned.h"

/* The rows as serialized events, each a heap string. */
struct event_texts {
    char **texts;
    size_t *sizes;
    size_t count;
};

static void event_texts_free(struct event_texts *events)
{
    for (size_t i = 0; events->texts != NULL && i < events->count; i++)
        free(events->texts[i]);
    free(events->texts);
    free(events->sizes);
    memset(events, 0, sizeof *events);
}

static int event_texts_build(const struct intake_job *jobs, size_t count,
                             struct event_texts *events)
{
    memset(events, 0, sizeof *events);
    events->texts = calloc(count, sizeof *events->texts);
    events->sizes = calloc(count, sizeof *events->sizes);
    if (events->texts == NULL || events->sizes == NULL)
        return -1;
    events->count = count;

    for (size_t i = 0; i < count; i++) {
        json_t *event = cli_http_event_of_job(&jobs[i]);

        events->texts[i] =
            event != NULL ? json_dumps(event, JSON_COMPACT) : NULL;
        json_decref(event);
        if (events->texts[i] == NULL)
            return -1;
        events->sizes[i] = strlen(events->texts[i]);
    }
    return 0;
}

/* Sets *end past the last row from `start` that fits `budget` bytes. */
static size_t batch_size(const struct event_texts *events, size_t start,
                         size_t budget, size_t *end)
{
    size_t total = 2; /* the brackets of the array */

    *end = start;
    while (*end < events->count) {
        size_t more = events->sizes[*end] + (*end > start ? 1 : 0);

        if (total + more > budget && *end > start)
            break;
        total += more;
        (*end)++;
        if (total > budget)
            break; /* one row alone is over the budget */
    }
    return total;
}

static char *batch_body(const struct event_texts *events, size_t start,
                        size_t end, size_t size)
{
    char *body = malloc(size + 1);
    size_t used = 0;

    if (body == NULL)
        return NULL;
    body[used++] = '[';
    for (size_t i = start; i < end; i++) {
        if (i > start)
            body[used++] = ',';
        memcpy(body + used, events->texts[i], events->sizes[i]);
        used += events->sizes[i];
    }
    body[used++] = ']';
    body[used] = '\0';
    return body;
}

static int read_batch_results(const json_t *reply_events, size_t start,
                              size_t end, struct submit_result *results)
{
    if (json_array_size(reply_events) != end - start)
        return -1;
    for (size_t i = start; i < end; i++) {
        const json_t *event = json_array_get(reply_events, i - start);

        results[i].job_id =
            (int64_t)json_integer_value(json_object_get(event, "jobId"));
        results[i].duplicate =
            json_is_true(json_object_get(event, "duplicate"));
        if (results[i].job_id <= 0 && !results[i].duplicate)
            return -1;
    }
    return 0;
}

/* The state of one import: where it is and how large a request may be. */
struct batch_run {
    struct cli *cli;
    const struct event_texts *events;
    struct submit_result *results;
    size_t start;  /* the first row not stored yet */
    size_t budget; /* request body bytes to aim for */
    char *err;
    size_t errlen;
};

/*
 * Sends the rows from run->start that fit the budget. Returns 0 when
 * they were stored (run->start moves on), 1 when the daemon replied 413
 * (run->budget shrinks), or -1 with run->err filled.
 */
static int send_batch(struct batch_run *run)
{
    size_t end;
    size_t size = batch_size(run->events, run->start, run->budget, &end);
    char *body = batch_body(run->events, run->start, end, size);
    struct cli_http_reply reply;
    int status = -1;

    if (body == NULL) {
        snprintf(run->err, run->errlen, "out of memory");
        return -1;
    }
    if (cli_http_request(run->cli, "POST", "/v1/events", body, &reply) != 0) {
        free(body);
        snprintf(run->err, run->errlen, "the daemon at %s could not be reached",
                 run->cli->shown_url);
        return -1;
    }
    free(body);

    if (reply.status == 413 && end - run->start > 1) {
        run->budget = size / 2;
        status = 1;
    } else if (reply.status == 413) {
        snprintf(run->err, run->errlen,
                 "row %zu alone is %zu bytes as an event, more than the "
                 "daemon's max_body_bytes; raise max_body_bytes in [server] "
                 "of the daemon's configuration",
                 run->start + 1, size);
    } else if (reply.status != 200) {
        const char *field = cli_http_error_field(&reply);

        snprintf(run->err, run->errlen, "%s%s%s", field,
                 field[0] != '\0' ? ": " : "", cli_http_error_message(&reply));
    } else if (read_batch_results(json_object_get(reply.json, "events"),
                                  run->start, end, run->results) != 0) {
        snprintf(run->err, run->errlen, "unexpected reply from %s",
                 run->cli->shown_url);
    } else {
        run->start = end;
        status = 0;
    }
    cli_http_reply_clear(&reply);
    return status;
}

int remote_import_jobs(struct cli *cli, const struct intake_job *jobs,
                       size_t count, size_t max_body,
                       struct submit_result *results, size_t *stored, char *err,
                       size_t errlen)
{
    struct event_texts events;
    struct batch_run run = {cli, &events, results, 0, max_body, err, errlen};
    int status = 0;

    *stored = 0;
    if (event_texts_build(jobs, count, &events) != 0) {
        event_texts_free(&events);
        snprintf(err, errlen, "out of memory for %zu rows", count);
        return -1;
    }

    /* Each round stores rows or halves the budget, so the loop ends. */
    while (status >= 0 && run.start < count)
        status = send_batch(&run);

    *stored = run.start;
    event_texts_free(&events);
    return status < 0 ? -1 : 0;
}
