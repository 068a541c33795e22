/*
 * JSON replies: the reply helpers, the error body, and the JSON form of
 * entries, attempts, jobs, audit records and counts. Field names are
 * camelCase and times RFC 3339 UTC with milliseconds, null when unset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/outcome.h"
#include "core/timestamp.h"
#include "http/http_internal.h"
#include "util/log.h"

#include "util/banned.h"

void http_reply_clear(struct http_reply *reply)
{
    free(reply->body);
    if (reply->response != NULL)
        MHD_destroy_response(reply->response);
    memset(reply, 0, sizeof *reply);
}

void http_reply_header(struct http_reply *reply, const char *name,
                       const char *fmt, ...)
{
    struct http_header *header;
    va_list args;

    if (reply->header_count == HTTP_HEADER_MAX)
        return;
    header = &reply->headers[reply->header_count++];
    header->name = name;
    va_start(args, fmt);
    vsnprintf(header->value, sizeof header->value, fmt, args);
    va_end(args);
}

void http_reply_json(struct http_reply *reply, unsigned int status,
                     json_t *document)
{
    char *text = document != NULL ? json_dumps(document, JSON_COMPACT) : NULL;

    json_decref(document);
    http_reply_clear(reply);
    if (text == NULL) {
        static const char fallback[] =
            "{\"error\":{\"field\":null,\"message\":\"out of memory\"}}";

        reply->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        reply->static_body = fallback;
        reply->size = sizeof fallback - 1;
    } else {
        reply->status = status;
        reply->body = text;
        reply->size = strlen(text);
    }
    reply->content_type = "application/json";
}

void http_reply_error(struct http_reply *reply, unsigned int status,
                      const char *field, const char *fmt, ...)
{
    char message[1024];
    va_list args;
    json_t *text;

    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);

    /* A message may quote request text that is not valid UTF-8. */
    text = json_string(message);
    if (text == NULL)
        text = json_string("invalid request (the details are not valid "
                           "UTF-8)");

    http_reply_json(
        reply, status,
        json_pack("{s:{s:o, s:o}}", "error", "field",
                  field != NULL ? http_text_json(field) : json_null(),
                  "message", text));
}

void http_reply_store_error(struct http_reply *reply, struct store *store,
                            int result, const char *what)
{
    http_reply_store_failure(reply, result, store_errmsg(store), what);
}

void http_reply_store_failure(struct http_reply *reply, int result,
                              const char *errmsg, const char *what)
{
    unsigned int status = MHD_HTTP_INTERNAL_SERVER_ERROR;

    if (result == STORE_NOT_FOUND)
        status = MHD_HTTP_NOT_FOUND;
    else if (result == STORE_CONFLICT)
        status = MHD_HTTP_CONFLICT;
    else if (result == STORE_INVALID)
        status = MHD_HTTP_BAD_REQUEST;
    else if (result == STORE_BUSY || result == STORE_FULL)
        status = MHD_HTTP_SERVICE_UNAVAILABLE;

    if (status >= 500)
        log_warn("http", "%s: %s", what, errmsg);
    http_reply_error(reply, status, NULL, "%s: %s", what, errmsg);

    /* A lock passes within seconds; freeing disk space takes an operator. */
    if (result == STORE_BUSY)
        http_reply_header(reply, "Retry-After", "1");
    else if (result == STORE_FULL)
        http_reply_header(reply, "Retry-After", "30");
}

json_t *http_time_json(int64_t ms)
{
    char text[TIMESTAMP_MAX];

    if (ms == 0 || timestamp_format(ms, text, sizeof text) != 0)
        return json_null();
    return json_string(text);
}

/*
 * A stored string, or null when empty. Error text quoted from a platform
 * may not be valid UTF-8; it is replaced rather than losing the record.
 */
json_t *http_text_json(const char *text)
{
    json_t *value;

    if (text == NULL || text[0] == '\0')
        return json_null();
    value = json_string(text);
    return value != NULL ? value : json_string("(invalid UTF-8)");
}

static json_t *int_json(int64_t value)
{
    return json_integer((json_int_t)value);
}

static int is_waiting(enum entry_status status)
{
    return status == ENTRY_PENDING || status == ENTRY_RETRYING;
}

/*
 * How late past its scheduled time the entry was published, or is
 * while it still waits or runs; null for failed and cancelled entries.
 */
static json_t *late_json(const struct entry *entry, int64_t now)
{
    int64_t until;

    if (entry->status == ENTRY_PUBLISHED)
        until = entry->published_at;
    else if (is_waiting(entry->status) || entry->status == ENTRY_PUBLISHING)
        until = now;
    else
        return json_null();
    return int_json(until > entry->scheduled_at ? until - entry->scheduled_at
                                                : 0);
}

static int add_times(json_t *object, const struct entry *entry, int64_t now)
{
    return json_object_set_new(object, "scheduledAt",
                               http_time_json(entry->scheduled_at)) |
           json_object_set_new(object, "dueAt", http_time_json(entry->due_at)) |
           json_object_set_new(object, "nextAttemptAt",
                               is_waiting(entry->status)
                                   ? http_time_json(entry->due_at)
                                   : json_null()) |
           json_object_set_new(object, "lateMs", late_json(entry, now)) |
           json_object_set_new(object, "publishedAt",
                               http_time_json(entry->published_at)) |
           json_object_set_new(object, "leaseExpiresAt",
                               http_time_json(entry->lease_expires_at)) |
           json_object_set_new(object, "createdAt",
                               http_time_json(entry->created_at)) |
           json_object_set_new(object, "updatedAt",
                               http_time_json(entry->updated_at));
}

json_t *http_entry_json(const struct entry *entry, int64_t now)
{
    json_t *object = json_pack(
        "{s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
        " s:o, s:o}",
        "id", int_json(entry->id), "jobId", int_json(entry->job_id),
        "contentId", http_text_json(entry->content_id), "platform",
        http_text_json(entry->platform), "status",
        entry_status_name(entry->status), "retryCount",
        int_json(entry->retry_count), "maxRetries",
        int_json(entry->max_retries), "attemptCount",
        int_json(entry->attempt_count), "postId",
        http_text_json(entry->post_id), "postUrl",
        http_text_json(entry->post_url), "lastError",
        http_text_json(entry->last_error), "failReason",
        http_text_json(entry->fail_reason), "leaseNode",
        http_text_json(entry->lease_node), "idempotencyKey",
        http_text_json(entry->idempotency_key), "rateLimitWaitedMs",
        int_json(entry->rate_limit_waited_ms));

    if (object != NULL && add_times(object, entry, now) != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

json_t *http_attempt_json(const struct attempt *attempt)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o}", "id",
        int_json(attempt->id), "number", int_json(attempt->number), "startedAt",
        http_time_json(attempt->started_at), "endedAt",
        http_time_json(attempt->ended_at), "finished", attempt->finished,
        "outcome",
        attempt->finished ? json_string(outcome_name(attempt->outcome))
                          : json_null(),
        "httpStatus",
        attempt->http_status != 0 ? int_json(attempt->http_status)
                                  : json_null(),
        "latencyMs",
        attempt->finished ? int_json(attempt->latency_ms) : json_null(), "node",
        http_text_json(attempt->node), "error", http_text_json(attempt->error));
}

/* Stored JSON text embedded as JSON; text that does not parse stays text. */
static json_t *embedded_json(const char *text)
{
    json_t *value;

    if (text == NULL || text[0] == '\0')
        return json_null();
    value = json_loads(text, JSON_DECODE_ANY, NULL);
    return value != NULL ? value : http_text_json(text);
}

json_t *http_job_json(const struct job *job)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "id", int_json(job->id),
                     "contentId", http_text_json(job->content_id), "eventId",
                     http_text_json(job->event_id), "scheduledAt",
                     http_time_json(job->scheduled_at), "createdAt",
                     http_time_json(job->created_at), "content",
                     embedded_json(job->content_json));
}

json_t *http_audit_json(const struct audit_record *record)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     int_json(record->id), "at", http_time_json(record->at),
                     "agentName", http_text_json(record->agent_name), "action",
                     http_text_json(record->action), "jobId",
                     http_text_json(record->job_id), "entryId",
                     record->entry_id != 0 ? int_json(record->entry_id)
                                           : json_null(),
                     "platform", http_text_json(record->platform), "status",
                     http_text_json(record->status), "metadata",
                     embedded_json(record->metadata_json));
}

json_t *http_counts_json(const struct status_counts *counts)
{
    json_t *object = json_object();
    int64_t total = 0;

    for (int i = 0; object != NULL && i < ENTRY_STATUS_COUNT; i++) {
        total += counts->by_status[i];
        json_object_set_new(object, entry_status_name((enum entry_status)i),
                            int_json(counts->by_status[i]));
    }
    if (object != NULL)
        json_object_set_new(object, "total", int_json(total));
    return object;
}

/*
 * Describes a jansson parse error. Invalid UTF-8, a NUL character and a
 * truncated body get their own words.
 */
static void reply_bad_json(const json_error_t *json_error,
                           struct http_reply *reply)
{
    enum json_error_code code = json_error_code(json_error);

    if (code == json_error_invalid_utf8)
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "body",
                         "invalid UTF-8 in the request body at line %d, "
                         "column %d; send the body encoded as UTF-8",
                         json_error->line, json_error->column);
    else if (code == json_error_null_character)
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "body",
                         "NUL character (\\u0000) in a JSON string at line "
                         "%d, column %d; NUL characters are not allowed in "
                         "text, so remove them",
                         json_error->line, json_error->column);
    else if (code == json_error_premature_end_of_input)
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "body",
                         "truncated JSON body: it ends at line %d, column "
                         "%d before the value is complete; send the whole "
                         "body",
                         json_error->line, json_error->column);
    else
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "body",
                         "malformed JSON at line %d, column %d: %s; send "
                         "a valid JSON document",
                         json_error->line, json_error->column,
                         json_error->text);
}

int http_request_json(const struct http_request *request, json_t **root,
                      struct http_reply *reply)
{
    json_error_t json_error;

    if (request->body_size == 0) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "body",
                         "empty request body; send a JSON document");
        return -1;
    }

    *root = json_loadb(request->body, request->body_size,
                       JSON_REJECT_DUPLICATES, &json_error);
    if (*root == NULL) {
        reply_bad_json(&json_error, reply);
        return -1;
    }
    return 0;
}
