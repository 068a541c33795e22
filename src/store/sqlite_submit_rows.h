/*
 * The rows of one SQLite submit that wait for their multi-row INSERTs
 * (sqlite_submit_rows.c). Only sqlite_submit.c includes it.
 *
 *   struct submit_rows rows;
 *
 *   result = submit_rows_init(&rows, s, now);
 *   ... submit_rows_add_job(&rows, ...), add_entry, add_accepted ...
 *   result = submit_rows_flush(&rows);
 *   submit_rows_clear(&rows);
 *
 * Every function runs inside the caller's write transaction and returns
 * a store result. An add writes every buffered row first when a buffer
 * is full. After a failure the caller rolls back and clears the rows.
 */
#ifndef PUBQ_STORE_SQLITE_SUBMIT_ROWS_H
#define PUBQ_STORE_SQLITE_SUBMIT_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "store/sqlite_internal.h"

#define SUBMIT_ROWS 64 /* rows buffered, and rows of the largest INSERT */

/* Rows borrow their strings from the requests, which outlive them. */
struct content_row {
    const char *id;
    const char *content_json;
};

struct job_row {
    int64_t id;
    const char *content_id;
    const char *event_id; /* or NULL */
    const char *content_json;
    int64_t scheduled_at;
};

struct seen_row {
    const char *event_id;
    int64_t job_id;
};

struct entry_row {
    int64_t id;
    int64_t job_id;
    const char *content_id;
    const char *platform;
    uint32_t max_retries;
    int64_t scheduled_at;
    int64_t due_at;
    char idempotency_key[STORE_KEY_MAX];
};

struct accepted_row {
    const char *content_id;
    char *metadata; /* heap JSON text, owned by the rows */
};

struct submit_rows {
    struct sqlite_store *s;
    int64_t now;
    int64_t next_job_id;
    int64_t next_entry_id;
    struct content_row contents[SUBMIT_ROWS];
    size_t content_count;
    struct job_row jobs[SUBMIT_ROWS];
    size_t job_count;
    struct seen_row seen[SUBMIT_ROWS];
    size_t seen_count;
    struct entry_row entries[SUBMIT_ROWS];
    size_t entry_count;
    struct accepted_row accepted[SUBMIT_ROWS];
    size_t accepted_count;
};

/* Reads the largest job and entry ids, so that new rows take the next. */
int submit_rows_init(struct submit_rows *rows, struct sqlite_store *s,
                     int64_t now);

/*
 * Buffers the content item, the job and, with an event id, the event id
 * of `req`, and sets *job_id to the job's new id.
 */
int submit_rows_add_job(struct submit_rows *rows, const struct job_request *req,
                        int64_t scheduled_at, int64_t *job_id);

/* Buffers an entry; sets entry->id and its idempotency key. */
int submit_rows_add_entry(struct submit_rows *rows, struct entry_row *entry);

/* Buffers an "accepted" record and takes ownership of `metadata`. */
int submit_rows_add_accepted(struct submit_rows *rows, const char *content_id,
                             char *metadata);

/*
 * Returns 1 and sets *job_id when `event_id` is among the buffered event
 * ids, which the database does not contain yet; 0 otherwise.
 */
int submit_rows_find_event(const struct submit_rows *rows, const char *event_id,
                           int64_t *job_id);

/* Writes every buffered row. */
int submit_rows_flush(struct submit_rows *rows);

/* Drops the buffered rows and frees what they own. */
void submit_rows_clear(struct submit_rows *rows);

#endif
