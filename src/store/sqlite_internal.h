/*
 * Private declarations shared by the files of the SQLite back end. Only
 * src/store/sqlite_*.c and the SQLite-specific tests include this.
 *
 * Every statement is prepared once, on first use, and kept in the
 * per-connection cache `stmts`. sqlite_stmt() returns it reset, and the
 * caller passes it to sqlite_done() when finished, so that no statement
 * keeps a read transaction open between calls. Values always travel as
 * bound parameters, and the SQL text is a compile-time constant.
 */
#ifndef PUBQ_STORE_SQLITE_INTERNAL_H
#define PUBQ_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <sys/stat.h>
#include <stdint.h>

#include <jansson.h>

#include "store/job_cache.h"
#include "store/store.h"

/* One slot per cached statement. */
enum sqlite_stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_AUDIT_INSERT,
    STMT_AUDIT_LIST,
    STMT_AUDIT_LIST_BY_JOB,
    STMT_AUDIT_LIST_BY_PLATFORM,
    STMT_AUDIT_LIST_BY_ACTION,
    STMT_CONTENT_UPSERT,
    STMT_SEEN_EVENT_GET,
    STMT_SEEN_EVENT_INSERT,
    STMT_JOB_INSERT,
    STMT_JOB_GET,
    STMT_ENTRY_INSERT,
    STMT_ENTRY_INSERT_ROWS_4,
    STMT_ENTRY_INSERT_ROWS_16,
    STMT_ENTRY_INSERT_ROWS_64,
    STMT_ENTRY_MAX_ID,
    STMT_JOB_MAX_ID,
    STMT_JOB_INSERT_ROWS_4,
    STMT_JOB_INSERT_ROWS_16,
    STMT_JOB_INSERT_ROWS_64,
    STMT_CONTENT_UPSERT_ROWS_4,
    STMT_CONTENT_UPSERT_ROWS_16,
    STMT_CONTENT_UPSERT_ROWS_64,
    STMT_SEEN_EVENT_ROW,
    STMT_SEEN_EVENT_ROWS_4,
    STMT_SEEN_EVENT_ROWS_16,
    STMT_SEEN_EVENT_ROWS_64,
    STMT_ACCEPTED_INSERT,
    STMT_ACCEPTED_INSERT_ROWS_4,
    STMT_ACCEPTED_INSERT_ROWS_16,
    STMT_ACCEPTED_INSERT_ROWS_64,
    STMT_SUBMIT_SAVEPOINT,
    STMT_SUBMIT_RELEASE,
    STMT_SUBMIT_ROLLBACK_TO,
    STMT_ENTRY_GET,
    STMT_ENTRY_LIST,
    STMT_ENTRY_LIST_BY_JOB,
    STMT_ENTRY_LIST_BY_CONTENT,
    STMT_ENTRY_LIST_BY_STATUS,
    STMT_ENTRY_LIST_PUBLISHING,
    STMT_ENTRY_LIST_BY_PLATFORM,
    STMT_ENTRY_LIST_UPDATED,
    STMT_ATTEMPT_STATS,
    STMT_ENTRY_COUNT,
    STMT_ATTEMPT_LIST,
    STMT_ATTEMPT_START,
    STMT_ATTEMPT_CLOSE,
    STMT_ATTEMPT_DROP,
    STMT_ATTEMPT_UNCOUNT,
    STMT_CLAIM,
    STMT_CLAIM_UPDATE,
    STMT_CLAIM_JOBS,
    STMT_NEXT_DUE_ENTRY,
    STMT_NEXT_DUE_PAUSE,
    STMT_COMPLETE,
    STMT_COMPLETED_READ,
    STMT_PUBLISH_MARK,
    STMT_PUBLISH_ROUND,
    STMT_PUBLISH_AUDIT,
    STMT_LEASE_EXPIRED,
    STMT_LEASE_RECOVER,
    STMT_LEASE_HELD,
    STMT_LEASE_RELEASE,
    STMT_LEASE_RENEW,
    STMT_SWEEP_REQUEUE,
    STMT_SWEEP_TICK,
    STMT_SWEEP_PRUNE,
    STMT_ENTRY_REQUEUE,
    STMT_ENTRY_CANCEL,
    STMT_ENTRY_MARK_PUBLISHED,
    STMT_CONTENT_EXISTS,
    STMT_CONTENT_CANCEL,
    STMT_CONTENT_RESCHEDULE,
    STMT_PLATFORM_PAUSE,
    STMT_PLATFORM_RESUME,
    STMT_PLATFORM_LIST,
    STMT_PLATFORM_DATA_GET,
    STMT_PLATFORM_DATA_SET,
    STMT_CLAIM_AHEAD,
    STMT_AHEAD_EXISTS,
    STMT_ATTEMPT_RESERVE,
    STMT_CLAIM_START,
    STMT_CLAIM_START_READ,
    STMT_UNCLAIM_ENTRY,
    STMT_UNCLAIM_CONTENT,
    STMT_ATTEMPT_DELETE,
    STMT_ANY_PAUSED,
    STMT_UNCLAIM_PAUSED,
    STMT_COUNT,
};

struct sqlite_store {
    struct store base; /* first, so a struct store * converts back */
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT];
    int wake_fd; /* inotify descriptor, SQLITE_WAKE_UNOPENED or -1 */

    /* The file this handle opened, to notice when the path no longer
     * names it (deleted or replaced); file_known is 0 for ":memory:". */
    char *file_path;
    dev_t file_dev;
    ino_t file_ino;
    int file_known;

    /* An operation that runs others in its own transaction has it open
     * (see sqlite_complete_and_claim): their sqlite_begin, sqlite_commit
     * and sqlite_rollback then leave it to that operation. */
    int outer_transaction;

    struct job_cache job_cache; /* jobs of the last claim (sqlite_job_cache.c) */
};

/*
 * Returns STORE_OK while the database path still names the file this
 * handle has open, else STORE_FULL with a message: writes to a deleted
 * file would be lost when the daemon stops. Every write transaction and
 * the health check call it; it costs one stat().
 */
int sqlite_check_file(struct sqlite_store *s);

/*
 * The columns of an entry in the order sqlite_read_entry() expects. A
 * compile-time constant, spliced into SQL text with no values in it.
 */
#define SQLITE_ENTRY_COLUMNS                                                   \
    "id, job_id, content_id, platform, status, retry_count, max_retries, "     \
    "attempt_count, scheduled_at, due_at, rate_limit_waited_ms, "              \
    "idempotency_key, lease_node, lease_expires_at, published_at, post_id, "   \
    "post_url, last_error, fail_reason, created_at, updated_at"

/* The columns of a job in the order sqlite_read_job() expects. */
#define SQLITE_JOB_COLUMNS                                                     \
    "id, content_id, event_id, content_json, scheduled_at, created_at"

/* An audit record to write; strings may be NULL for "". */
struct sqlite_audit {
    int64_t at;
    const char *agent;
    const char *action;
    const char *content_id;
    int64_t entry_id;
    const char *platform;
    const char *status;
    json_t *metadata; /* borrowed; NULL writes {} */
};

static inline struct sqlite_store *sqlite_store_of(struct store *store)
{
    return (struct sqlite_store *)store;
}

/*
 * Returns the cached statement `id`, preparing `sql` on first use, reset
 * and with no bindings. On failure returns NULL and fills errmsg with
 * `op` and the database message.
 */
sqlite3_stmt *sqlite_stmt(struct sqlite_store *s, enum sqlite_stmt_id id,
                          const char *sql, const char *op);

/* Returns the store result for the failure sqlite_stmt() reported. */
int sqlite_stmt_error(struct sqlite_store *s);

/* Resets a statement after use and drops its bindings. */
void sqlite_done(sqlite3_stmt *stmt);

/*
 * Maps an SQLite result code to a store result and fills errmsg with
 * "OP failed: DATABASE MESSAGE" plus a hint for full or busy databases.
 * Returns the (negative) store result.
 */
int sqlite_fail(struct sqlite_store *s, int rc, const char *op);

/* Fills errmsg with a formatted message and returns `result`. */
int sqlite_error(struct sqlite_store *s, int result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Transaction steps. sqlite_begin takes the write lock at once (BEGIN
 * IMMEDIATE), waiting up to the busy timeout. Both return a store
 * result; sqlite_rollback keeps the errmsg already set.
 */
int sqlite_begin(struct sqlite_store *s, const char *op);
int sqlite_commit(struct sqlite_store *s, const char *op);
void sqlite_rollback(struct sqlite_store *s);

/* Steps a statement that returns no rows; returns a store result. */
int sqlite_exec_stmt(struct sqlite_store *s, sqlite3_stmt *stmt,
                     const char *op);

/* Binds text, or NULL when text is NULL. */
int sqlite_bind_text(sqlite3_stmt *stmt, int index, const char *text);

/*
 * Binds at most max - 1 bytes of text, cut back to a UTF-8 character
 * boundary, or "" when text is NULL.
 */
int sqlite_bind_text_max(sqlite3_stmt *stmt, int index, const char *text,
                         size_t max);

/* Copies a text column into dst (size bytes, always terminated). */
void sqlite_copy_column(sqlite3_stmt *stmt, int col, char *dst, size_t size);

/* Reads SQLITE_ENTRY_COLUMNS starting at column `col`. */
void sqlite_read_entry(sqlite3_stmt *stmt, int col, struct entry *entry);

/* The id of each entry that sqlite_list_ids_json() writes. */
enum sqlite_list_ids {
    SQLITE_ENTRY_IDS,
    SQLITE_JOB_IDS,
};

/*
 * Writes the entry or job ids of `count` entries as a JSON array into *json (the
 * caller frees it), for statements that read them with json_each.
 */
int sqlite_list_ids_json(struct sqlite_store *s, const struct entry *entries,
                         size_t count, enum sqlite_list_ids which,
                         char **json);

/*
 * Reads SQLITE_JOB_COLUMNS from column 0 into *job (the caller frees it
 * with job_clear). Returns -1 when out of memory.
 */
int sqlite_read_job(sqlite3_stmt *stmt, struct job *job);

/*
 * Adds the jobs of `count` entries to the job cache, read inside the
 * caller's transaction (sqlite_job_cache.c).
 */
int sqlite_job_cache_fill(struct sqlite_store *s, const struct entry *entries,
                          size_t count);

/* Appends an entry to a list; returns STORE_OK or STORE_ERROR (memory). */
int sqlite_entry_list_push(struct sqlite_store *s, struct entry_list *list,
                           size_t *capacity, const struct entry *entry);

/*
 * Looks up an event id inside the caller's transaction: sets *seen, and
 * *job_id to its job or 0 (unseen, or the id of a cancel or reschedule).
 */
int sqlite_event_find(struct sqlite_store *s, const char *event_id, int *seen,
                      int64_t *job_id);

/*
 * Writes the jobs of `reqs` inside the caller's transaction, without
 * checking them (store_check_requests does) and without a savepoint:
 * on failure the caller rolls back.
 */
int sqlite_submit_requests(struct sqlite_store *s,
                           const struct job_request *reqs, size_t count,
                           int64_t now, struct submit_result *results);

/* Records an event id with its job, or job_id 0 for none. */
int sqlite_event_remember(struct sqlite_store *s, const char *event_id,
                          int64_t job_id, int64_t now);

/* Writes one audit record inside the caller's transaction. */
int sqlite_audit_insert(struct sqlite_store *s,
                        const struct sqlite_audit *record);

/*
 * Writes the job's "publish" audit record if every entry has finished
 * its first round and the record was not written before. Runs inside
 * the caller's transaction.
 */
int sqlite_publish_check(struct sqlite_store *s, int64_t job_id, int64_t now);

/*
 * Recovers expired leases inside the caller's transaction, writing one
 * "lease_recovered" record per entry as `agent`; sets *recovered.
 * Shared by recover_leases and sweep.
 */
int sqlite_recover_expired(struct sqlite_store *s, int64_t now,
                           const char *agent, size_t *recovered);

/*
 * Pauses a platform until `until` inside the caller's transaction and
 * writes a "platform_paused" record. With `extend_only` an existing
 * longer pause is kept (pauses from attempt results); without it the
 * new time replaces the old (an operator's pause).
 */
int sqlite_pause(struct sqlite_store *s, const char *platform, int64_t until,
                 const char *reason, int64_t now, const char *agent,
                 int extend_only);

/*
 * Closes the open attempt `number` of an entry. `finished` is 0 when the
 * node never saw the attempt end (lease expired or released).
 */
struct sqlite_attempt_end {
    int64_t entry_id;
    uint32_t number;
    int64_t started_at; /* when the request was sent; 0 keeps the row's */
    int64_t ended_at;
    int finished;
    enum outcome outcome;
    int http_status;
    int64_t latency_ms;
    const char *error;
};
int sqlite_attempt_close(struct sqlite_store *s,
                         const struct sqlite_attempt_end *end);

/* Deletes attempt `number` of an entry, opened by a claim but never
 * sent, and takes it off the entry's attempt_count. */
int sqlite_attempt_drop(struct sqlite_store *s, int64_t entry_id,
                        uint32_t number);

/*
 * Puts entries claimed ahead and not started back as they were before
 * the claim, inside the caller's transaction (see claim_ahead in
 * store.h): the one entry `entry_id` (setting *unclaimed, which may be
 * NULL, to 1 when it was put back), or those of `content_id` on the
 * platforms of `platform_set` (a JSON array, or NULL for all). Cancels,
 * reschedules, lease recovery and lease release call it first.
 */
int sqlite_unclaim_entry(struct sqlite_store *s, int64_t entry_id,
                         int64_t now, int *unclaimed);
int sqlite_unclaim_content(struct sqlite_store *s, const char *content_id,
                           const char *platform_set, int64_t now);

/* Returns the version of the newest schema migration. */
int sqlite_schema_latest(void);

/*
 * Checks that the database of `db` is empty or pubq's own. One with
 * tables but no schema_migrations (version, applied_at) table belongs to
 * another application, and migrating it would add pubq's tables to it.
 * Returns STORE_OK, STORE_INVALID for another application's database,
 * or STORE_ERROR when the schema cannot be read (for example a file that
 * is not a database). Writes the message of a failure into err.
 */
int sqlite_schema_check_owner(sqlite3 *db, char *err, size_t errlen);

/* A claim of due entries for one node (sqlite_claim.c). */
struct sqlite_claim {
    const char *node;
    const char *platform_set; /* JSON array of platform names */
    int64_t now;
    int64_t lease_ms;
};

/*
 * The maximum number of entries a claim allocates room for at once. An
 * entry is about 4 KiB, and growing the list by doubling copied each
 * claimed entry about twice.
 */
#define SQLITE_CLAIM_RESERVE_MAX 256

/*
 * Makes room in list for max entries, at most SQLITE_CLAIM_RESERVE_MAX,
 * with *capacity the items allocated, as sqlite_entry_list_push keeps
 * it. Returns STORE_OK or STORE_ERROR when out of memory.
 */
int sqlite_claim_reserve(struct sqlite_store *s, struct entry_list *list,
                         size_t *capacity, size_t max);

/*
 * Claims up to max due entries inside the caller's transaction: appends
 * them to list in due order, leases them, opens their attempts and adds
 * their jobs to the job cache. Returns STORE_OK or an error, after
 * which the caller rolls back.
 */
int sqlite_claim_batch(struct sqlite_store *s, const struct sqlite_claim *claim,
                       size_t max, struct entry_list *list, size_t *capacity);

/* Returns the text of the claim statement, for query-plan tests. */
const char *store_sqlite_claim_sql(void);

/* Operations, one per function pointer of struct store_ops. */
int sqlite_migrate(struct store *store);
int sqlite_schema_version(struct store *store, int *version);
int sqlite_submit_jobs(struct store *store, const struct job_request *reqs,
                       size_t count, int64_t now,
                       struct submit_result *results);
int sqlite_submit_groups(struct store *store, struct submit_group *groups,
                         size_t count, int64_t now);
int sqlite_get_job(struct store *store, int64_t job_id, struct job *job);
int sqlite_get_entry(struct store *store, int64_t entry_id,
                     struct entry *entry);
int sqlite_list_entries(struct store *store, const struct entry_filter *filter,
                        struct entry_list *list);
int sqlite_list_attempts(struct store *store, int64_t entry_id,
                         struct attempt_list *list);
int sqlite_count_entries(struct store *store, const char *platform,
                         struct status_counts *counts);
int sqlite_claim_due(struct store *store, const char *node,
                     const char *const *platforms, size_t platform_count,
                     int64_t now, int64_t lease_ms, size_t max,
                     struct entry_list *list);
int sqlite_next_due_at(struct store *store, const char *const *platforms,
                       size_t platform_count, int64_t *due_at);
int sqlite_claim_ahead(struct store *store, const char *node,
                       const char *const *platforms, size_t platform_count,
                       int64_t now, int64_t until, int64_t lease_ms,
                       size_t max, struct entry_list *list);
int sqlite_start_claimed(struct store *store, const char *node,
                         struct claim_start *claims, size_t count,
                         int64_t now);
int sqlite_warm_claimed(struct store *store, const char *node,
                        const struct claim_start *claims, size_t count);
int sqlite_complete_and_claim(struct store *store,
                              const struct attempt_completion *completions,
                              size_t count, int *applied,
                              const struct claim_request *claim,
                              struct entry_list *list);
int sqlite_complete_attempts(struct store *store,
                             const struct attempt_completion *completions,
                             size_t count, int *applied);
int sqlite_renew_leases(struct store *store, const char *node,
                        struct lease_renewal *leases, size_t count,
                        int64_t now, int64_t lease_ms, size_t *renewed);
int sqlite_release_leases(struct store *store, const char *node, int64_t now,
                          size_t *released);
int sqlite_recover_leases(struct store *store, int64_t now, size_t *recovered);
int sqlite_sweep(struct store *store, int64_t now, int64_t tick_at,
                 const char *agent, struct sweep_result *result);
int sqlite_retry_entry(struct store *store, int64_t entry_id, int64_t now,
                       const char *agent);
int sqlite_cancel_entry(struct store *store, int64_t entry_id, int64_t now,
                        const char *agent);
int sqlite_mark_published(struct store *store, int64_t entry_id, int64_t now,
                          const char *agent);
int sqlite_cancel_content(struct store *store,
                          const struct content_change_request *request,
                          int64_t now, struct content_change_result *result);
int sqlite_reschedule_content(struct store *store,
                              const struct content_change_request *request,
                              int64_t now,
                              struct content_change_result *result);
int sqlite_pause_platform(struct store *store, const char *platform,
                          int64_t until, const char *reason, int64_t now,
                          const char *agent);
int sqlite_resume_platform(struct store *store, const char *platform,
                           int64_t now, const char *agent);
int sqlite_list_platform_states(struct store *store,
                                struct platform_state_list *list);
int sqlite_get_platform_data(struct store *store, const char *platform,
                             char **json);
int sqlite_set_platform_data(struct store *store, const char *platform,
                             const char *json, int64_t now);
int sqlite_list_audit(struct store *store, const struct audit_filter *filter,
                      struct audit_list *list);
int sqlite_attempt_stats(struct store *store,
                         struct attempt_stats_list *list);

/* sqlite_wake.c */
#define SQLITE_WAKE_UNOPENED (-2)
int sqlite_wake_fd(struct store *store);
int sqlite_consume_wakeups(struct store *store);
void sqlite_wake_close(struct sqlite_store *s);

#endif
