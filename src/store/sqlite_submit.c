/*
 * Creating jobs (SQLite store): submit_jobs, and the writes that
 * submit_groups (sqlite_submit_groups.c) runs for each group. The rows
 * go through the buffers of sqlite_submit_rows.c, so that a request's
 * rows and those of the requests next to it share INSERT statements.
 */
#include "store/sqlite_submit_rows.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "util/decimal.h"

#include "util/banned.h"

/* The letter of the two-character escape of `c`, or 0 when it has none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

/*
 * Appends `text` as a JSON string at *out and advances it, with the
 * escapes of jansson's json_dumps: a backslash before " and \, the
 * short forms \b \f \n \r \t, \u00XX for the other control
 * characters, every other character as it is. A byte that is not valid
 * UTF-8 becomes U+FFFD.
 *
 * Written here because json_dumps of jansson 2.14 spent about 12,000
 * instructions on each of these small records (callgrind), mostly in a
 * call per output piece and in a reference-loop check per object.
 */
static void append_json_string(char **out, const char *text)
{
    const utf8proc_uint8_t *c = (const utf8proc_uint8_t *)text;
    char *p = *out;

    *p++ = '"';
    while (*c != 0) {
        char escape = short_escape(*c);
        utf8proc_int32_t code_point;
        utf8proc_ssize_t used = utf8proc_iterate(c, -1, &code_point);

        if (escape != 0) {
            *p++ = '\\';
            *p++ = escape;
        } else if (*c < 0x20) {
            p += snprintf(p, 7, "\\u%04X", *c);
        } else if (used < 0) {
            p += snprintf(p, 7, "\\uFFFD");
        } else {
            memcpy(p, c, (size_t)used);
            p += used;
        }
        c += used > 0 ? used : 1;
    }
    *p++ = '"';
    *out = p;
}

/* The bytes append_json_string may write for `text`, at most. */
static size_t json_string_bound(const char *text)
{
    return text != NULL ? 6 * strlen(text) + 2 : 4;
}

/* Appends `text` without its NUL at *out and advances it. */
static void append_text(char **out, const char *text)
{
    size_t length = strlen(text);

    memcpy(*out, text, length);
    *out += length;
}

/* Appends `value` in decimal at *out and advances it. */
static void append_int64(char **out, int64_t value)
{
    *out += decimal_format_int64(*out, value);
}

/*
 * Returns the metadata of the "accepted" record as heap JSON text,
 * {"job", "platforms", "scheduled_at", "source", "event_id"}, or NULL
 * when out of memory. The numbers go through decimal_format_int64,
 * because glibc 2.36's snprintf took about 750 instructions a call
 * (callgrind, `pubq import`) and this runs for every job.
 */
static char *accepted_metadata(const struct job_request *req, int64_t job_id,
                               int64_t scheduled_at)
{
    const char *source = req->source != NULL ? req->source : "unknown";
    size_t size =
        128 + json_string_bound(source) + json_string_bound(req->event_id);
    char *text;
    char *p;

    for (size_t i = 0; i < req->platform_count; i++)
        size += json_string_bound(req->platforms[i]) + 1;
    text = malloc(size);
    if (text == NULL)
        return NULL;

    p = text;
    append_text(&p, "{\"job\":");
    append_int64(&p, job_id);
    append_text(&p, ",\"platforms\":[");
    for (size_t i = 0; i < req->platform_count; i++) {
        if (i > 0)
            *p++ = ',';
        append_json_string(&p, req->platforms[i]);
    }
    append_text(&p, "],\"scheduled_at\":");
    append_int64(&p, scheduled_at);
    append_text(&p, ",\"source\":");
    append_json_string(&p, source);
    append_text(&p, ",\"event_id\":");
    if (req->event_id != NULL)
        append_json_string(&p, req->event_id);
    else
        append_text(&p, "null");
    memcpy(p, "}", 2);
    return text;
}

static int add_entries(struct submit_rows *rows, const struct job_request *req,
                       int64_t job_id, int64_t scheduled_at)
{
    struct entry_row entry = {
        .job_id = job_id,
        .content_id = req->content_id,
        .max_retries = req->max_retries,
        .scheduled_at = scheduled_at,
        .due_at = scheduled_at > rows->now ? scheduled_at : rows->now,
    };
    int result = STORE_OK;

    for (size_t i = 0; result == STORE_OK && i < req->platform_count; i++) {
        entry.platform = req->platforms[i];
        if (req->platform_max_retries != NULL)
            entry.max_retries = req->platform_max_retries[i];
        result = submit_rows_add_entry(rows, &entry);
    }
    return result;
}

static int add_accepted(struct submit_rows *rows, const struct job_request *req,
                        int64_t job_id, int64_t scheduled_at)
{
    char *metadata = accepted_metadata(req, job_id, scheduled_at);

    if (metadata == NULL)
        return sqlite_error(rows->s, STORE_ERROR,
                            "out of memory writing the audit record "
                            "\"accepted\"");
    return submit_rows_add_accepted(rows, req->content_id, metadata);
}

/*
 * Sets out->duplicate and out->job_id when the event id was seen
 * before: in the database, or earlier in this submit among the rows not
 * written yet.
 */
static int find_event(struct submit_rows *rows, const char *event_id,
                      struct submit_result *out)
{
    if (submit_rows_find_event(rows, event_id, &out->job_id)) {
        out->duplicate = 1;
        return STORE_OK;
    }
    return sqlite_event_find(rows->s, event_id, &out->duplicate, &out->job_id);
}

/* Buffers one request inside the open transaction. */
static int submit_one(struct submit_rows *rows, const struct job_request *req,
                      struct submit_result *out)
{
    int64_t scheduled_at =
        req->scheduled_at > 0 ? req->scheduled_at : rows->now;
    int result = STORE_OK;

    memset(out, 0, sizeof *out);
    if (req->event_id != NULL) {
        result = find_event(rows, req->event_id, out);
        if (result != STORE_OK || out->duplicate)
            return result;
    }

    result = submit_rows_add_job(rows, req, scheduled_at, &out->job_id);
    out->first_entry_id = rows->next_entry_id;
    if (result == STORE_OK)
        result = add_entries(rows, req, out->job_id, scheduled_at);
    if (result == STORE_OK)
        result = add_accepted(rows, req, out->job_id, scheduled_at);
    return result;
}

int sqlite_submit_requests(struct sqlite_store *s,
                           const struct job_request *reqs, size_t count,
                           int64_t now, struct submit_result *results)
{
    struct submit_rows rows;
    int result = submit_rows_init(&rows, s, now);

    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = submit_one(&rows, &reqs[i], &results[i]);
    if (result == STORE_OK)
        result = submit_rows_flush(&rows);
    submit_rows_clear(&rows);
    return result;
}

int sqlite_submit_jobs(struct store *store, const struct job_request *reqs,
                       size_t count, int64_t now, struct submit_result *results)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int result = store_check_requests(store, reqs, count, results);

    if (result != STORE_OK)
        return result;
    if (count == 0)
        return STORE_OK;

    result = sqlite_begin(s, "submit jobs");
    if (result == STORE_OK)
        result = sqlite_submit_requests(s, reqs, count, now, results);
    if (result != STORE_OK) {
        sqlite_rollback(s);
        return result;
    }
    return sqlite_commit(s, "submit jobs");
}
