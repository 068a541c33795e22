/*
 * Intake: the one validation path for new jobs, shared by the HTTP event
 * API, the CLI's publish command and the import of a content calendar.
 * Each front end turns its input into the `data` object of a
 * `publishing.scheduled` event; intake checks it against the
 * configuration and produces a request the store can take.
 *
 *   struct intake_job job;
 *   struct intake_error error;
 *
 *   if (intake_parse_scheduled(data, event_id, &config, zone, now, &job,
 *                              &error) != 0)
 *       report(error.field, error.message);
 *   intake_job_to_request(&job, "cli", &request);
 *   store->ops->submit_jobs(store, &request, 1, now, &result);
 *   intake_job_clear(&job);
 */
#ifndef PUBQ_INTAKE_H
#define PUBQ_INTAKE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/zone.h"
#include "store/store.h"

/* The field that failed ("data.platforms[1]") and why, with the fix. */
struct intake_error {
    char field[128];
    char message[512];
};

/*
 * Renames the field of *error to `name`, such as the CSV column "at" or
 * the CLI option "--at" for "data.scheduledAt", and replaces the old
 * field name in the message too. Returns 1 when the message named the
 * field, so the caller need not print the name before it, else 0.
 */
int intake_error_rename(struct intake_error *error, const char *name);

/*
 * Returns 1 when the `length` bytes of UTF-8 at text are empty or only
 * whitespace (Unicode White_Space), which intake rejects as empty text.
 */
int intake_text_is_blank(const char *text, size_t length);

/* A validated job; intake_job_clear frees it. */
struct intake_job {
    char *event_id; /* or NULL */
    char *content_id;
    char *content_json; /* canonical content object */
    int64_t scheduled_at;
    char **platforms;
    size_t platform_count;
    uint32_t max_retries; /* the largest of its platforms' max_retries */
    uint32_t *platform_max_retries; /* each platform's, in platforms order */
};

/*
 * Validates the `data` object of a publishing.scheduled event: content
 * item id, content (text valid UTF-8 and within every platform's limit),
 * platforms (known, not empty, no duplicate), scheduledAt (RFC 3339 with
 * an offset, or naive in `default_zone` when that is not NULL; absent,
 * null or past means now). Returns 0 and fills *job, or -1 and fills
 * *error; nothing is allocated on failure.
 */
int intake_parse_scheduled(const json_t *data, const char *event_id,
                           const struct pubq_config *config,
                           const struct zone *default_zone, int64_t now,
                           struct intake_job *job,
                           struct intake_error *error);

/*
 * Fills a store request that borrows the strings and arrays of `job`.
 * Each entry gets its own platform's max_retries.
 */
void intake_job_to_request(const struct intake_job *job, const char *source,
                           struct job_request *request);

void intake_job_clear(struct intake_job *job);

#endif
