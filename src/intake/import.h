/*
 * Import of a content calendar file: every row becomes one job, checked
 * by the same intake as the event API. docs/import.md describes the CSV
 * and JSON Lines formats.
 *
 *   struct intake_job *jobs;
 *   size_t count;
 *   struct intake_error error;
 *
 *   if (import_read_file("calendar.csv", &config, zone, now, &jobs, &count,
 *                        &error) != 0)
 *       report(error.field, error.message);   // "line 3: data.platforms[0]"
 *   ... submit each job ...
 *   import_jobs_free(jobs, count);
 */
#ifndef PUBQ_IMPORT_H
#define PUBQ_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/zone.h"
#include "intake/intake.h"

/* At most this many rows per file. */
#define IMPORT_MAX_ROWS 100000

/* At most this many bytes per row (a CSV record or a JSON line). */
#define IMPORT_MAX_ROW_BYTES (1024 * 1024)

/*
 * Reads the calendar at `path`. A name ending in .csv is read as CSV, one
 * ending in .jsonl or .ndjson (any case) as JSON Lines, and other names
 * are rejected. Every row goes through intake_parse_scheduled with
 * `config`, `default_zone` and `now`.
 *
 * Returns 0 and sets *jobs (an array that import_jobs_free releases) and
 * *count (at least 1). Returns -1 when any row is bad, the file cannot be
 * read, has no rows or breaks a limit. Then *jobs is NULL, *count is 0,
 * and error->field names the row ("line 3: data.platforms[0]") or is
 * "file" for the file as a whole.
 */
int import_read_file(const char *path, const struct pubq_config *config,
                     const struct zone *default_zone, int64_t now,
                     struct intake_job **jobs, size_t *count,
                     struct intake_error *error);

/* Clears each job and frees the array. NULL is allowed. */
void import_jobs_free(struct intake_job *jobs, size_t count);

#endif
