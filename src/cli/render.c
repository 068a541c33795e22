/* Text output of the CLI for people, and the switch to JSON output. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/render.h"
#include "cli/table.h"
#include "core/outcome.h"
#include "core/timestamp.h"

#include "util/banned.h"

/* Widest content id and metadata shown in a table cell. */
#define CONTENT_ID_WIDTH 32
#define METADATA_WIDTH 60

void render_time(int64_t ms, char *out, size_t size)
{
    if (ms == 0 || timestamp_format(ms, out, size) != 0)
        snprintf(out, size, "-");
}

static const char *or_dash(const char *text)
{
    return text != NULL && text[0] != '\0' ? text : "-";
}

/* Cells of one entry row; the buffers live in the struct. */
struct entry_cells {
    char id[24];
    char job[24];
    char retries[32];
    char scheduled[TIMESTAMP_MAX];
    char next[TIMESTAMP_MAX];
};

static int add_entry_row(struct table *table, const struct entry *entry)
{
    struct entry_cells cells;
    int waiting =
        entry->status == ENTRY_PENDING || entry->status == ENTRY_RETRYING;

    snprintf(cells.id, sizeof cells.id, "%" PRId64, entry->id);
    snprintf(cells.job, sizeof cells.job, "%" PRId64, entry->job_id);
    snprintf(cells.retries, sizeof cells.retries, "%" PRIu32 " / %" PRIu32,
             entry->retry_count, entry->max_retries);
    render_time(entry->scheduled_at, cells.scheduled, sizeof cells.scheduled);
    render_time(waiting ? entry->due_at : 0, cells.next, sizeof cells.next);

    return table_add_row(
        table, (const char *[]){
                   cells.id, cells.job, entry->content_id, entry->platform,
                   entry_status_name(entry->status), cells.retries,
                   cells.scheduled, cells.next, or_dash(entry->last_error)});
}

static int print_entry_table(const struct entry_list *list, FILE *out)
{
    static const char *const headers[] = {"ID",        "JOB",    "CONTENT",
                                          "PLATFORM",  "STATUS", "RETRIES",
                                          "SCHEDULED", "NEXT",   "ERROR"};
    struct table table;
    int result = 0;

    if (list->count == 0) {
        fputs("no entries\n", out);
        return 0;
    }

    table_init(&table, headers, 9);
    table_set_max_width(&table, 2, CONTENT_ID_WIDTH);
    table_set_max_width(&table, 8, RENDER_ERROR_WIDTH);
    for (size_t i = 0; i < list->count && result == 0; i++)
        result = add_entry_row(&table, &list->items[i]);

    if (result == 0)
        table_print(&table, out);
    table_free(&table);
    return result;
}

static json_t *entries_json(const struct entry_list *list)
{
    json_t *array = json_array();

    for (size_t i = 0; array != NULL && i < list->count; i++) {
        if (json_array_append_new(array, render_entry_json(&list->items[i])) !=
            0) {
            json_decref(array);
            array = NULL;
        }
    }
    return array;
}

int render_entries(const struct entry_list *list, int json, FILE *out)
{
    if (json)
        return render_json_print(entries_json(list), out);
    return print_entry_table(list, out);
}

int render_submitted(const char *content_id, const struct submit_result *result,
                     const struct entry_list *entries, int json, FILE *out)
{
    if (json) {
        return render_json_print(json_pack("{s:I, s:s, s:b, s:o}", "job_id",
                                           (json_int_t)result->job_id,
                                           "content_id", content_id,
                                           "duplicate", result->duplicate,
                                           "entries", entries_json(entries)),
                                 out);
    }

    if (result->duplicate)
        fprintf(out,
                "event id seen before: job %" PRId64 " already exists, "
                "nothing created\n",
                result->job_id);
    else
        fprintf(out, "job %" PRId64 " created for content %s: %zu %s\n",
                result->job_id, content_id, entries->count,
                entries->count == 1 ? "entry" : "entries");
    return print_entry_table(entries, out);
}

static int add_audit_row(struct table *table, const struct audit_record *record)
{
    char id[24];
    char at[TIMESTAMP_MAX];
    char entry[24] = "-";

    snprintf(id, sizeof id, "%" PRId64, record->id);
    render_time(record->at, at, sizeof at);
    if (record->entry_id != 0)
        snprintf(entry, sizeof entry, "%" PRId64, record->entry_id);

    return table_add_row(
        table, (const char *[]){
                   id, at, or_dash(record->agent_name), or_dash(record->action),
                   or_dash(record->job_id), entry, or_dash(record->platform),
                   or_dash(record->status), or_dash(record->metadata_json)});
}

static int print_audit_table(const struct audit_list *list, FILE *out)
{
    static const char *const headers[] = {"ID",       "AT",     "AGENT",
                                          "ACTION",   "JOB",    "ENTRY",
                                          "PLATFORM", "STATUS", "METADATA"};
    struct table table;
    int result = 0;

    if (list->count == 0) {
        fputs("no audit records\n", out);
        return 0;
    }

    table_init(&table, headers, 9);
    table_set_max_width(&table, 4, CONTENT_ID_WIDTH);
    table_set_max_width(&table, 8, METADATA_WIDTH);
    for (size_t i = 0; i < list->count && result == 0; i++)
        result = add_audit_row(&table, &list->items[i]);

    if (result == 0)
        table_print(&table, out);
    table_free(&table);
    return result;
}

int render_audit(const struct audit_list *list, int json, FILE *out)
{
    json_t *array;

    if (!json)
        return print_audit_table(list, out);

    array = json_array();
    for (size_t i = 0; array != NULL && i < list->count; i++) {
        if (json_array_append_new(array, render_audit_json(&list->items[i])) !=
            0) {
            json_decref(array);
            array = NULL;
        }
    }
    return render_json_print(array, out);
}
