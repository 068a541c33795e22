/* The `show` output: one entry, its content and its attempt history. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/render.h"
#include "cli/table.h"
#include "core/outcome.h"
#include "core/timestamp.h"

#include "util/banned.h"

static void print_field(FILE *out, const char *label, const char *value)
{
    fprintf(out, "  %-16s %s\n", label,
            value != NULL && value[0] != '\0' ? value : "-");
}

static void print_time_field(FILE *out, const char *label, int64_t ms)
{
    char text[TIMESTAMP_MAX];

    render_time(ms, text, sizeof text);
    print_field(out, label, text);
}

static void print_number_field(FILE *out, const char *label, int64_t value)
{
    char text[24];

    snprintf(text, sizeof text, "%" PRId64, value);
    print_field(out, label, text);
}

static void print_entry_fields(const struct entry *entry, FILE *out)
{
    char retries[32];
    char waited[32];

    snprintf(retries, sizeof retries, "%" PRIu32 " / %" PRIu32,
             entry->retry_count, entry->max_retries);

    fprintf(out, "entry %" PRId64 "\n", entry->id);
    print_number_field(out, "job", entry->job_id);
    print_field(out, "content id", entry->content_id);
    print_field(out, "platform", entry->platform);
    print_field(out, "status", entry_status_name(entry->status));
    print_field(out, "retries", retries);
    print_number_field(out, "attempts made", entry->attempt_count);
    print_time_field(out, "scheduled at", entry->scheduled_at);
    print_time_field(out, "due at", entry->due_at);
    snprintf(waited, sizeof waited, "%" PRId64 " ms",
             entry->rate_limit_waited_ms);
    print_field(out, "rate limit wait", waited);
    print_field(out, "idempotency key", entry->idempotency_key);
    print_field(out, "lease node", entry->lease_node);
    print_time_field(out, "lease expires", entry->lease_expires_at);
    print_time_field(out, "published at", entry->published_at);
    print_field(out, "post id", entry->post_id);
    print_field(out, "post url", entry->post_url);
    print_field(out, "fail reason", entry->fail_reason);
    print_field(out, "last error", entry->last_error);
    print_time_field(out, "created at", entry->created_at);
    print_time_field(out, "updated at", entry->updated_at);
}

/* Prints each member of the content object: strings as they are. */
static void print_content(const struct job *job, FILE *out)
{
    json_t *content = json_loads(job->content_json, 0, NULL);
    const char *key;
    json_t *value;

    fputs("content\n", out);
    if (!json_is_object(content)) {
        print_field(out, "raw", job->content_json);
        json_decref(content);
        return;
    }

    json_object_foreach(content, key, value)
    {
        char *text = json_is_string(value)
                         ? NULL
                         : json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);

        print_field(out, key, text != NULL ? text : json_string_value(value));
        free(text);
    }
    json_decref(content);
}

static int add_attempt_row(struct table *table, const struct attempt *attempt)
{
    char number[16];
    char started[TIMESTAMP_MAX];
    char ended[TIMESTAMP_MAX];
    char http[16] = "-";
    char latency[32] = "-";
    const char *outcome = attempt->finished ? outcome_name(attempt->outcome)
                          : attempt->ended_at != 0 ? "abandoned"
                                                   : "running";

    snprintf(number, sizeof number, "%" PRIu32, attempt->number);
    render_time(attempt->started_at, started, sizeof started);
    render_time(attempt->ended_at, ended, sizeof ended);
    if (attempt->http_status != 0)
        snprintf(http, sizeof http, "%d", attempt->http_status);
    if (attempt->finished)
        snprintf(latency, sizeof latency, "%" PRId64 " ms",
                 attempt->latency_ms);

    return table_add_row(
        table,
        (const char *[]){number, started, ended, outcome, http, latency,
                         attempt->node,
                         attempt->error[0] != '\0' ? attempt->error : "-"});
}

static int print_attempts(const struct attempt_list *attempts, FILE *out)
{
    static const char *const headers[] = {"#",    "STARTED", "ENDED", "OUTCOME",
                                          "HTTP", "LATENCY", "NODE",  "ERROR"};
    struct table table;
    int result = 0;

    fputs("attempts\n", out);
    if (attempts->count == 0) {
        fputs("  none yet\n", out);
        return 0;
    }

    /* The error is the last column and uncapped: show prints it whole. */
    table_init(&table, headers, 8);
    for (size_t i = 0; i < attempts->count && result == 0; i++)
        result = add_attempt_row(&table, &attempts->items[i]);

    if (result == 0)
        table_print(&table, out);
    table_free(&table);
    return result;
}

static json_t *detail_json(const struct entry *entry, const struct job *job,
                           const struct attempt_list *attempts)
{
    json_t *object = render_entry_json(entry);
    json_t *list = json_array();
    json_t *content = NULL;

    if (job != NULL)
        content = json_loads(job->content_json, 0, NULL);

    for (size_t i = 0; list != NULL && i < attempts->count; i++)
        json_array_append_new(list, render_attempt_json(&attempts->items[i]));

    if (object == NULL || list == NULL) {
        json_decref(object);
        json_decref(list);
        json_decref(content);
        return NULL;
    }

    /* json_object_set_new takes the reference even when it fails. */
    if (json_object_set_new(object, "content",
                            content != NULL ? content : json_null()) != 0 ||
        json_object_set_new(object, "attempts", list) != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

int render_entry_detail(const struct entry *entry, const struct job *job,
                        const struct attempt_list *attempts, int json,
                        FILE *out)
{
    if (json)
        return render_json_print(detail_json(entry, job, attempts), out);

    print_entry_fields(entry, out);
    if (job != NULL)
        print_content(job, out);
    return print_attempts(attempts, out);
}
