/* JSON output of the CLI, built with jansson. */
#include <jansson.h>

#include "cli/render.h"
#include "core/outcome.h"
#include "core/timestamp.h"

#include "util/banned.h"

/* A time as an RFC 3339 string, or null for 0 (none). */
static json_t *time_json(int64_t ms)
{
    char text[TIMESTAMP_MAX];

    if (ms == 0 || timestamp_format(ms, text, sizeof text) != 0)
        return json_null();
    return json_string(text);
}

/*
 * A stored string, or null when empty. Stored text is not guaranteed to
 * be valid UTF-8 (error text quoted from a platform), so it is checked
 * here and replaced by "(invalid UTF-8)" rather than dropping the record.
 */
static json_t *text_json(const char *text)
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

json_t *render_entry_json(const struct entry *entry)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
        " s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "id", int_json(entry->id), "job_id", int_json(entry->job_id),
        "content_id", text_json(entry->content_id), "platform",
        text_json(entry->platform), "status", entry_status_name(entry->status),
        "retry_count", int_json(entry->retry_count), "max_retries",
        int_json(entry->max_retries), "attempt_count",
        int_json(entry->attempt_count), "scheduled_at",
        time_json(entry->scheduled_at), "due_at", time_json(entry->due_at),
        "rate_limit_waited_ms", int_json(entry->rate_limit_waited_ms),
        "idempotency_key", text_json(entry->idempotency_key), "lease_node",
        text_json(entry->lease_node), "lease_expires_at",
        time_json(entry->lease_expires_at), "published_at",
        time_json(entry->published_at), "post_id", text_json(entry->post_id),
        "post_url", text_json(entry->post_url), "last_error",
        text_json(entry->last_error), "fail_reason",
        text_json(entry->fail_reason), "created_at",
        time_json(entry->created_at), "updated_at",
        time_json(entry->updated_at));
}

json_t *render_attempt_json(const struct attempt *attempt)
{
    json_t *outcome = attempt->finished
                          ? json_string(outcome_name(attempt->outcome))
                          : json_null();

    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o}", "id",
        int_json(attempt->id), "number", int_json(attempt->number),
        "started_at", time_json(attempt->started_at), "ended_at",
        time_json(attempt->ended_at), "outcome", outcome, "finished",
        attempt->finished, "http_status",
        attempt->http_status != 0 ? int_json(attempt->http_status)
                                  : json_null(),
        "latency_ms",
        attempt->finished ? int_json(attempt->latency_ms) : json_null(), "node",
        text_json(attempt->node), "error", text_json(attempt->error));
}

/* Metadata is stored as JSON text; it is embedded as JSON, not a string. */
static json_t *metadata_json(const char *text)
{
    json_t *value;

    if (text == NULL || text[0] == '\0')
        return json_null();

    value = json_loads(text, JSON_DECODE_ANY, NULL);
    return value != NULL ? value : text_json(text);
}

json_t *render_audit_json(const struct audit_record *record)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
        int_json(record->id), "at", time_json(record->at), "agent_name",
        text_json(record->agent_name), "action", text_json(record->action),
        "job_id", text_json(record->job_id), "entry_id",
        record->entry_id != 0 ? int_json(record->entry_id) : json_null(),
        "platform", text_json(record->platform), "status",
        text_json(record->status), "metadata",
        metadata_json(record->metadata_json));
}

int render_json_print(json_t *document, FILE *out)
{
    int result;

    if (document == NULL)
        return -1;

    result = json_dumpf(document, out, JSON_INDENT(2));
    json_decref(document);
    if (result != 0)
        return -1;

    fputc('\n', out);
    return 0;
}
