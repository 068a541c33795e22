/*
 * Checks of operation arguments that every back end applies before it
 * writes anything. Each returns STORE_OK, or STORE_INVALID with a
 * message in store->errmsg.
 */
#ifndef PUBQ_STORE_CHECK_H
#define PUBQ_STORE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* Fills store->errmsg with a formatted message and returns `result`. */
int store_fail(struct store *store, int result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Checks a submit_jobs batch: ids, platforms, content JSON. Sets every
 * result to zero first, so that a field a back end does not fill reads
 * as "not reported".
 */
int store_check_requests(struct store *store, const struct job_request *reqs,
                         size_t count, struct submit_result *results);

/* Checks a complete_attempts batch and sets every applied[i] to 0. */
int store_check_completions(struct store *store,
                            const struct attempt_completion *completions,
                            size_t count, int *applied);

/* Checks the event id of a content change: 1 to STORE_ID_MAX - 1 bytes. */
int store_check_event_id(struct store *store, const char *event_id);

/* Checks claim_due's node id and lease. */
int store_check_claim(struct store *store, const char *node, int64_t now,
                      int64_t lease_ms);

/* Checks a platform name: 1 to STORE_NAME_MAX - 1 bytes. */
int store_check_platform(struct store *store, const char *platform);

/*
 * Writes the idempotency key of an entry, "pubq-<entry id>-<16 hex
 * digits>", into key (size bytes). The id makes it unique in one
 * database. The hash of content id, platform and job id keeps keys from
 * two databases (a reset, a second install) from colliding.
 */
void store_key_make(char *key, size_t size, int64_t entry_id,
                    const char *content_id, const char *platform,
                    int64_t job_id);


/* Writes the 16 hex digits alone, for a back end that adds the id. */
void store_key_hash(char *hex, size_t size, const char *content_id,
                    const char *platform, int64_t job_id);

/*
 * Decides the "retry" audit record of an applied attempt result, shared
 * by both back ends: "scheduled" for a retry, "success" when a retried
 * entry is published, "exhausted" when a failure a retry could have
 * fixed found no retries left. Returns NULL when no record is due, else
 * the status and sets *metadata to a new JSON object the caller frees.
 */
const char *store_retry_audit(const struct attempt_completion *completion,
                              uint32_t max_retries, json_t **metadata);

/*
 * Builds the metadata of a lease audit record (lease_recovered or
 * lease_released), shared by both back ends. `fail_reason` is the reason
 * of an entry the recovery failed, or NULL, which leaves it out. Returns
 * a new JSON object the caller frees, or NULL when out of memory.
 */
json_t *store_lease_audit_metadata(const char *node, uint32_t attempt,
                                   uint32_t retry_count, uint32_t max_retries,
                                   const char *fail_reason);

/* Returns the audit agent name of a manual action, "operator" if none. */
const char *store_agent_or_default(const char *agent);

/*
 * Builds the audit metadata of a manual action on an entry (retry,
 * cancel, mark published) from the entry as it was before: a new JSON
 * object the caller frees, or NULL when out of memory.
 */
json_t *store_entry_action_metadata(const struct entry *before);

#endif
