/*
 * Shared parts of the calendar readers: the import state, a bounded line
 * reader and the step that turns one row into a job.
 */
#ifndef PUBQ_IMPORT_INTERNAL_H
#define PUBQ_IMPORT_INTERNAL_H

#include <jansson.h>
#include <stdio.h>

#include "intake/import.h"

struct import_context {
    const struct pubq_config *config;
    const struct zone *default_zone;
    int64_t now;
    struct intake_job *jobs;
    size_t count;
    size_t capacity;
    struct intake_error *error;
    const char *event_id_name; /* "id" (JSON Lines) or "event_id" (CSV) */
    json_t *event_lines;       /* event id -> line of its first row */
    /* The input's name for an intake field, or NULL to keep the field. */
    const char *(*name_for_field)(const char *field);
};

/* Reads one physical line at a time, bounded by IMPORT_MAX_ROW_BYTES. */
struct import_line_reader {
    FILE *file;
    char *buffer;  /* IMPORT_MAX_ROW_BYTES + 1 bytes, NUL-terminated */
    size_t length; /* bytes in buffer, with the newline if any */
    int line;      /* number of the line in buffer, from 1 */
};

/*
 * Reads the next line into reader->buffer, dropping a UTF-8 byte order
 * mark at the start of the file. Returns 1 for a line, 0 at the end of
 * the file, or -1 with *error filled when the line is too long or the
 * file cannot be read.
 */
int import_next_line(struct import_line_reader *reader,
                     struct intake_error *error);

/*
 * Fills *error with field "line N: FIELD" (or "line N" when field is
 * NULL) and a printf-style message; returns -1.
 */
int import_fail(struct intake_error *error, int line, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Checks the `data` object of the row starting on `line` with intake,
 * rejects an event id that an earlier row of the file already has, and
 * appends the job. Returns 0, or -1 with *ctx->error naming the line.
 */
int import_add_row(struct import_context *ctx, int line, const json_t *data,
                   const char *event_id);

/* Readers of one format; each returns 0 or -1 with *ctx->error set. */
int import_read_csv(struct import_line_reader *reader,
                    struct import_context *ctx);
int import_read_jsonl(struct import_line_reader *reader,
                      struct import_context *ctx);

#endif
