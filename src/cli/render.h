/*
 * Output of the CLI: each render_* function prints data already fetched
 * from the store, either as aligned tables for people or, when `json` is
 * set, as one JSON document (an array for lists, an object otherwise).
 * Times print as RFC 3339 UTC; a time of 0 prints as "-" or null.
 *
 * Every function returns 0, or -1 when out of memory (output may then be
 * incomplete).
 */
#ifndef PUBQ_CLI_RENDER_H
#define PUBQ_CLI_RENDER_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* Widest error text shown in a table cell before it is cut with "...". */
#define RENDER_ERROR_WIDTH 48

/* Lists entries: a table, or a JSON array of entry objects. */
int render_entries(const struct entry_list *list, int json, FILE *out);

/*
 * Shows one entry with every field, full error text, the content of its
 * job (`job` may be NULL) and its attempts, oldest first.
 */
int render_entry_detail(const struct entry *entry, const struct job *job,
                        const struct attempt_list *attempts, int json,
                        FILE *out);

/* Lists audit records: a table, or a JSON array. */
int render_audit(const struct audit_list *list, int json, FILE *out);

/*
 * Reports a submitted job: its id and entries, or that its event id was
 * seen before and nothing was created.
 */
int render_submitted(const char *content_id, const struct submit_result *result,
                     const struct entry_list *entries, int json, FILE *out);

/* Formats ms since the epoch as RFC 3339 UTC, or "-" for 0. */
void render_time(int64_t ms, char *out, size_t size);

/* JSON builders; each returns a new reference, or NULL when out of memory. */
json_t *render_entry_json(const struct entry *entry);
json_t *render_attempt_json(const struct attempt *attempt);
json_t *render_audit_json(const struct audit_record *record);

/*
 * Writes `document` as indented JSON and a newline, then releases it.
 * Returns 0, or -1 when `document` is NULL or writing fails.
 */
int render_json_print(json_t *document, FILE *out);

#endif
