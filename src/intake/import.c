#include "intake/import.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "intake/import_internal.h"
#include "util/banned.h"

enum import_format { FORMAT_UNKNOWN, FORMAT_CSV, FORMAT_JSONL };

int import_fail(struct intake_error *error, int line, const char *field,
                const char *fmt, ...)
{
    va_list args;

    if (field != NULL)
        snprintf(error->field, sizeof error->field, "line %d: %s", line, field);
    else
        snprintf(error->field, sizeof error->field, "line %d", line);

    va_start(args, fmt);
    vsnprintf(error->message, sizeof error->message, fmt, args);
    va_end(args);
    return -1;
}

int import_next_line(struct import_line_reader *reader,
                     struct intake_error *error)
{
    size_t length = 0;
    int c = EOF;

    /* Only this thread reads the file, so the stream lock that getc
     * takes per byte buys nothing. */
    while (length < IMPORT_MAX_ROW_BYTES &&
           (c = getc_unlocked(reader->file)) != EOF) {
        reader->buffer[length++] = (char)c;
        if (c == '\n')
            break;
    }
    reader->buffer[length] = '\0';

    if (ferror(reader->file))
        return import_fail(error, reader->line + 1, NULL,
                           "failed to read the file: %s", strerror(errno));
    if (length == 0)
        return 0;

    reader->line++;
    if (length == IMPORT_MAX_ROW_BYTES && c != '\n' &&
        (c = getc(reader->file)) != EOF)
        return import_fail(error, reader->line, NULL,
                           "line longer than %d bytes; shorten the row",
                           IMPORT_MAX_ROW_BYTES);

    if (reader->line == 1 && strncmp(reader->buffer, "\xEF\xBB\xBF", 3) == 0) {
        length -= 3;
        memmove(reader->buffer, reader->buffer + 3, length + 1);
    }
    reader->length = length;
    return 1;
}

static int append_job(struct import_context *ctx, struct intake_job *job)
{
    if (ctx->count == ctx->capacity) {
        size_t capacity = ctx->capacity == 0 ? 64 : ctx->capacity * 2;
        struct intake_job *jobs = realloc(ctx->jobs, capacity * sizeof *jobs);

        if (jobs == NULL)
            return -1;
        ctx->jobs = jobs;
        ctx->capacity = capacity;
    }
    ctx->jobs[ctx->count++] = *job;
    return 0;
}

/*
 * Remembers the line of each event id in a jansson object, a hash table,
 * because the store keeps only the first row of an event id and would
 * drop the others as duplicates.
 */
static int check_event_id(struct import_context *ctx, int line,
                          const char *event_id)
{
    const json_t *first;

    if (event_id == NULL)
        return 0;

    first = json_object_get(ctx->event_lines, event_id);
    if (first != NULL)
        return import_fail(ctx->error, line, NULL,
                           "%s \"%.200s\" repeats line %d; give each row its "
                           "own %s",
                           ctx->event_id_name, event_id,
                           (int)json_integer_value(first), ctx->event_id_name);

    if (json_object_set_new_nocheck(ctx->event_lines, event_id,
                                    json_integer(line)) != 0)
        return import_fail(ctx->error, line, NULL, "out of memory");
    return 0;
}

/*
 * Reports an intake error of the row on `line`, with the field renamed to
 * the input's own name (a CSV column) when the reader has one.
 */
static int fail_row(struct import_context *ctx, int line,
                    struct intake_error *row_error)
{
    const char *name = ctx->name_for_field != NULL
                           ? ctx->name_for_field(row_error->field)
                           : NULL;

    if (name != NULL && intake_error_rename(row_error, name))
        return import_fail(ctx->error, line, NULL, "%s", row_error->message);
    return import_fail(ctx->error, line, row_error->field, "%s",
                       row_error->message);
}

int import_add_row(struct import_context *ctx, int line, const json_t *data,
                   const char *event_id)
{
    struct intake_error row_error;
    struct intake_job job;

    if (ctx->count == IMPORT_MAX_ROWS)
        return import_fail(ctx->error, line, NULL,
                           "more than %d rows; split the file",
                           IMPORT_MAX_ROWS);

    if (intake_parse_scheduled(data, event_id, ctx->config, ctx->default_zone,
                               ctx->now, &job, &row_error) != 0)
        return fail_row(ctx, line, &row_error);

    if (check_event_id(ctx, line, event_id) != 0) {
        intake_job_clear(&job);
        return -1;
    }

    if (append_job(ctx, &job) != 0) {
        intake_job_clear(&job);
        return import_fail(ctx->error, line, NULL, "out of memory");
    }
    return 0;
}

static enum import_format format_of(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot == NULL || strchr(dot, '/') != NULL)
        return FORMAT_UNKNOWN;
    if (strcasecmp(dot, ".csv") == 0)
        return FORMAT_CSV;
    if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0)
        return FORMAT_JSONL;
    return FORMAT_UNKNOWN;
}

static int fail_file(struct intake_error *error, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail_file(struct intake_error *error, const char *fmt, ...)
{
    va_list args;

    snprintf(error->field, sizeof error->field, "file");
    va_start(args, fmt);
    vsnprintf(error->message, sizeof error->message, fmt, args);
    va_end(args);
    return -1;
}

static int read_format(const char *path, enum import_format format,
                       struct import_context *ctx)
{
    struct import_line_reader reader = {0};
    int result;

    reader.file = fopen(path, "rb");
    if (reader.file == NULL)
        return fail_file(ctx->error,
                         "failed to open \"%s\": %s; check the "
                         "path",
                         path, strerror(errno));

    reader.buffer = malloc(IMPORT_MAX_ROW_BYTES + 1);
    if (reader.buffer == NULL) {
        fclose(reader.file);
        return fail_file(ctx->error, "out of memory");
    }

    if (format == FORMAT_CSV)
        result = import_read_csv(&reader, ctx);
    else
        result = import_read_jsonl(&reader, ctx);

    free(reader.buffer);
    fclose(reader.file);
    if (result == 0 && ctx->count == 0)
        return fail_file(ctx->error,
                         "\"%s\" contains no rows; add one row "
                         "per content item",
                         path);
    return result;
}

int import_read_file(const char *path, const struct pubq_config *config,
                     const struct zone *default_zone, int64_t now,
                     struct intake_job **jobs, size_t *count,
                     struct intake_error *error)
{
    enum import_format format = format_of(path);
    struct import_context ctx = {0};

    *jobs = NULL;
    *count = 0;
    memset(error, 0, sizeof *error);
    if (format == FORMAT_UNKNOWN)
        return fail_file(error,
                         "unknown file type \"%s\"; name a CSV file *.csv "
                         "or a JSON Lines file *.jsonl or *.ndjson",
                         path);

    ctx.config = config;
    ctx.default_zone = default_zone;
    ctx.now = now;
    ctx.error = error;
    ctx.event_id_name = format == FORMAT_CSV ? "event_id" : "id";
    ctx.event_lines = json_object();
    if (ctx.event_lines == NULL)
        return fail_file(error, "out of memory");

    if (read_format(path, format, &ctx) != 0) {
        json_decref(ctx.event_lines);
        import_jobs_free(ctx.jobs, ctx.count);
        return -1;
    }
    json_decref(ctx.event_lines);

    *jobs = ctx.jobs;
    *count = ctx.count;
    return 0;
}

void import_jobs_free(struct intake_job *jobs, size_t count)
{
    if (jobs == NULL)
        return;

    for (size_t i = 0; i < count; i++)
        intake_job_clear(&jobs[i]);
    free(jobs);
}
