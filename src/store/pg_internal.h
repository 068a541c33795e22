/*
 * Private declarations shared by the files of the PostgreSQL back end.
 * Only src/store/pg_*.c and store_pg.c include this.
 *
 * Every statement is prepared once per connection, on first use, under
 * the name "pubq_<id>", and run with PQexecPrepared. Values always
 * travel as parameters in text form; the SQL text is a compile-time
 * constant. A reconnect drops the prepared statements, so they are
 * prepared again on the new connection.
 *
 * Each operation runs through pg_run_op(), which opens the transaction,
 * runs the operation's body, commits, and repeats the whole operation
 * after a deadlock, or after the connection broke before the commit was
 * sent (reconnecting first, with exponential backoff). A body therefore
 * starts by resetting its outputs and must not keep state between runs.
 */
#ifndef PUBQ_STORE_PG_INTERNAL_H
#define PUBQ_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stdint.h>

#include <jansson.h>

#include "store/job_cache.h"
#include "store/store.h"

/* One slot per prepared statement. */
enum pg_stmt_id {
    PG_BEGIN,
    PG_COMMIT,
    PG_ROLLBACK,
    PG_NOTIFY,
    PG_LISTEN,
    PG_MIGRATE_LOCK,
    PG_MIGRATE_UNLOCK,
    PG_MIGRATE_APPLIED,
    PG_SCHEMA_VERSION,
    PG_MIGRATE_RECORD,
    PG_AUDIT_INSERT,
    PG_AUDIT_LIST,
    PG_SEEN_EVENT_GET,
    PG_SEEN_EVENT_INSERT,
    PG_SUBMIT_LOCK,
    PG_SUBMIT_IDS,
    PG_SUBMIT_WRITE,
    PG_SUBMIT_SAVEPOINT,
    PG_SUBMIT_RELEASE,
    PG_SUBMIT_ROLLBACK_TO,
    PG_ANALYZE,
    PG_JOB_GET,
    PG_ENTRY_GET,
    PG_ENTRY_LIST,
    PG_ENTRY_LIST_JOB,
    PG_ENTRY_LIST_CONTENT,
    PG_ENTRY_LIST_UPDATED,
    PG_ATTEMPT_STATS,
    PG_ENTRY_COUNT,
    PG_ATTEMPT_LIST,
    PG_CLAIM,
    PG_NEXT_DUE,
    PG_COMPLETE,
    PG_PUBLISH_LOCK,
    PG_PUBLISH_MARK,
    PG_LEASE_EXPIRED,
    PG_LEASE_RECOVER,
    PG_LEASE_HELD,
    PG_LEASE_RELEASE,
    PG_LEASE_RENEW,
    PG_SWEEP_LOCK,
    PG_SWEEP_TICK,
    PG_SWEEP_PRUNE,
    PG_SWEEP_REQUEUE,
    PG_ENTRY_REQUEUE,
    PG_ENTRY_CANCEL,
    PG_ENTRY_MARK_PUBLISHED,
    PG_CONTENT_EXISTS,
    PG_CONTENT_CANCEL,
    PG_CONTENT_RESCHEDULE,
    PG_PLATFORM_PAUSE,
    PG_PLATFORM_RESUME,
    PG_PLATFORM_LIST,
    PG_PLATFORM_DATA_GET,
    PG_PLATFORM_DATA_SET,
    PG_CLAIM_AHEAD,
    PG_CLAIM_START_ASYNC,
    PG_CLAIM_START,
    PG_UNCLAIM_LOCK_ENTRY,
    PG_UNCLAIM_ENTRY,
    PG_UNCLAIM_LOCK_CONTENT,
    PG_UNCLAIM_CONTENT,
    PG_UNCLAIM_PAUSED,
    PG_STMT_COUNT,
};

struct pg_store {
    struct store base; /* first, so a struct store * converts back */
    PGconn *conn;
    unsigned char prepared[PG_STMT_COUNT];
    int listening;       /* LISTEN was issued; repeated after reconnects */
    int pending_wakeups; /* wake-ups owed to the caller (after reconnect) */
    int64_t backoff_ms;  /* sleep before the next reconnect try */
    int connection_lost; /* the last statement failed on a broken link */
    char sqlstate[6];    /* of the last failed statement, or "" */
    char constraint[64]; /* the constraint it broke, or "" */
    int write_sent;      /* PG_OP_SINGLE_WRITE: its write went out */
    int begin_pending;   /* BEGIN goes out with the next statement */
    int commit_sent;     /* COMMIT of the running transaction went out */
    int committed;       /* the body committed with pg_query_commit */
    struct job_cache job_cache; /* jobs of the last claim */
    int notify; /* the running operation created due work */
};

/*
 * The columns of an entry in the order pg_read_entry() expects. A
 * compile-time constant, spliced into SQL text with no values in it.
 */
#define PG_ENTRY_COLUMNS                                                       \
    "id, job_id, content_id, platform, status, retry_count, max_retries, "     \
    "attempt_count, scheduled_at, due_at, rate_limit_waited_ms, "              \
    "idempotency_key, lease_node, lease_expires_at, published_at, post_id, "   \
    "post_url, last_error, fail_reason, created_at, updated_at"

/*
 * The audit records in the JSON array $1 as rows r(at, agent, action,
 * job_id, entry_id, platform, status, metadata, ord), ord counting from
 * 1 in array order. The objects have the shape pg_audit_row() gives.
 * Compile-time constants like the one above.
 */
#define PG_AUDIT_ROWS_FROM                                                     \
    " FROM ROWS FROM (json_to_recordset($1::json) AS (at bigint,"              \
    "   agent text, action text, job_id text, entry_id bigint,"                \
    "   platform text, status text, metadata json))"                           \
    "   WITH ORDINALITY AS r(at, agent, action, job_id, entry_id, platform,"   \
    "   status, metadata, ord)"

/* Inserts those records in array order, so that ids follow it. */
#define PG_AUDIT_ROWS_INSERT                                                   \
    "INSERT INTO audit (at, agent_name, action, job_id, entry_id, platform,"   \
    " status, metadata)"                                                       \
    " SELECT r.at, r.agent, r.action, r.job_id, r.entry_id, r.platform,"       \
    " r.status, r.metadata" PG_AUDIT_ROWS_FROM " ORDER BY r.ord"

#define PG_PARAMS_MAX 16

/*
 * The parameters of one statement, as text. Numbers are formatted into
 * `numbers`; text is borrowed, or copied into `owned` when it had to be
 * cut or cleaned. pg_params_clear frees the copies.
 */
struct pg_params {
    const char *values[PG_PARAMS_MAX];
    char numbers[PG_PARAMS_MAX][24];
    char *owned[PG_PARAMS_MAX];
    int count;
    int failed; /* out of memory or too many parameters */
};

/* An audit record to write; strings may be NULL for "". */
struct pg_audit {
    int64_t at;
    const char *agent;
    const char *action;
    const char *content_id;
    int64_t entry_id;
    const char *platform;
    const char *status;
    json_t *metadata; /* borrowed; NULL writes {} */
};

/* Audit records collected in memory, to be written by one statement. */
struct pg_audit_batch {
    json_t *rows; /* JSON array of pg_audit_row() objects, or NULL */
    size_t count;
};

/* A job whose first round may have ended at `at`. */
struct pg_job_round {
    int64_t job_id;
    int64_t at;
};

static inline struct pg_store *pg_store_of(struct store *store)
{
    return (struct pg_store *)store;
}

/* ---- parameters (pg_util.c) ---- */

void pg_params_init(struct pg_params *p);
void pg_params_clear(struct pg_params *p);
void pg_param_int(struct pg_params *p, int64_t value);
void pg_param_bool(struct pg_params *p, int value);
/* Borrows text, which must be valid UTF-8; NULL binds SQL NULL. */
void pg_param_text(struct pg_params *p, const char *text);
/*
 * Copies at most max - 1 bytes of text, cut back to a character
 * boundary, with invalid UTF-8 bytes replaced by '?', or "" for NULL.
 * For text from outside (error messages, post ids and URLs).
 */
void pg_param_text_max(struct pg_params *p, const char *text, size_t max);
/*
 * Returns a heap copy of text cut and cleaned as pg_param_text_max
 * describes ("" for NULL), or NULL when out of memory.
 */
char *pg_text_clean(const char *text, size_t max);
/*
 * Returns text cleaned the same way as a new JSON string, JSON null for
 * NULL text, or NULL when out of memory. For rows sent as one JSON
 * parameter.
 */
json_t *pg_json_text_max(const char *text, size_t max);
/* Takes a heap string (json_dumps output), freed by pg_params_clear. */
void pg_param_owned(struct pg_params *p, char *text);

/*
 * An array literal under construction (pg_array.c). Adding never fails
 * outright: out of memory sets `failed`, and pg_array_finish then
 * returns NULL.
 */
struct pg_array {
    char *text;
    size_t length;
    size_t room;
    size_t count; /* elements added */
    int failed;
};

void pg_array_init(struct pg_array *array);
void pg_array_clear(struct pg_array *array);
void pg_array_add_int(struct pg_array *array, int64_t value);
/* Adds text as a quoted element, or NULL for a NULL element. */
void pg_array_add_text(struct pg_array *array, const char *text);
/*
 * Returns the literal as a heap string the caller frees (for
 * pg_param_owned), or NULL when out of memory, and leaves the array
 * empty.
 */
char *pg_array_finish(struct pg_array *array);

/* ---- results (pg_util.c) ---- */

int64_t pg_get_int(const PGresult *res, int row, int col);
int pg_get_bool(const PGresult *res, int row, int col);
/* Copies a text column into dst (size bytes, always terminated). */
void pg_get_text(const PGresult *res, int row, int col, char *dst, size_t size);
/* Reads PG_ENTRY_COLUMNS starting at column `col`. */
void pg_read_entry(const PGresult *res, int row, int col, struct entry *e);
/* Replaces *list with every row (PG_ENTRY_COLUMNS from column 0). */
int pg_read_entries(struct pg_store *s, const PGresult *res,
                    struct entry_list *list);

/* ---- statements and errors (pg_conn.c) ---- */

/* Fills errmsg with a formatted message and returns `result`. */
int pg_error(struct pg_store *s, int result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Runs prepared statement `id`, preparing `sql` on this connection
 * first if needed. Returns the result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK) for the caller to PQclear, or NULL with errmsg set
 * to "OP failed: MESSAGE" and *result set to the store result.
 */
PGresult *pg_query(struct pg_store *s, enum pg_stmt_id id, const char *sql,
                   const struct pg_params *p, const char *op, int *result);

/* Runs a statement whose rows are not needed; returns a store result. */
int pg_exec(struct pg_store *s, enum pg_stmt_id id, const char *sql,
            const struct pg_params *p, const char *op);

/* Like pg_exec, and sets *rows to the number of rows changed. */
int pg_exec_count(struct pg_store *s, enum pg_stmt_id id, const char *sql,
                  const struct pg_params *p, const char *op, size_t *rows);

/* The SQLSTATE of the last failed statement ("" when none). */
const char *pg_last_sqlstate(const struct pg_store *s);

/* Writes the name of prepared statement `id` into name. */
void pg_stmt_name(char *name, size_t size, enum pg_stmt_id id);

/* Prepares `sql` as statement `id` on this connection. */
int pg_prepare(struct pg_store *s, enum pg_stmt_id id, const char *sql,
               const char *op);

/*
 * Records a failed statement (res may be NULL for a failure of the
 * connection): sets errmsg, sqlstate, constraint and connection_lost,
 * and returns the store result.
 */
int pg_fail(struct pg_store *s, const PGresult *res, const char *op);

/* ---- pipelines (pg_pipeline.c) ---- */

/* One statement of a pipeline. */
struct pg_call {
    enum pg_stmt_id id;
    const char *sql;
    const struct pg_params *params; /* NULL for none */
};

/*
 * Runs `count` prepared statements in one round trip, preparing those
 * not yet prepared first. The server skips every statement after the
 * first that fails. Returns the result of calls[keep] for the caller to
 * PQclear, or NULL with *result and errmsg set from the first failure,
 * as pg_query does.
 */
PGresult *pg_pipeline(struct pg_store *s, const struct pg_call *calls,
                      int count, int keep, const char *op, int *result);

/* pg_query's path for the first statement of a transaction: BEGIN and
 * the statement in one round trip. */
PGresult *pg_query_begin(struct pg_store *s, enum pg_stmt_id id,
                         const char *sql, const struct pg_params *p,
                         const char *op, int *result);

/*
 * Runs the last statement of a PG_OP_TRANSACTION body together with
 * the NOTIFY the body asked for (s->notify, which must be set before)
 * and COMMIT, in one round trip. Returns as pg_query does; the body
 * must run no statement after it.
 */
PGresult *pg_query_commit(struct pg_store *s, enum pg_stmt_id id,
                          const char *sql, const struct pg_params *p,
                          const char *op, int *result);

/* Like pg_query_commit for a statement whose rows are not needed. */
int pg_exec_commit(struct pg_store *s, enum pg_stmt_id id, const char *sql,
                   const struct pg_params *p, const char *op);

/* Sends NOTIFY (if owed) and COMMIT, unless the body committed itself
 * or ran no statement. */
int pg_commit(struct pg_store *s, const char *op);

/* ---- operations (pg_conn.c) ---- */

enum pg_op_kind {
    /* Statements that commit one by one: reads, and writes that are
     * safe to repeat (a claim whose result was lost only leaves its
     * entries to lease recovery). Run again after a lost connection. */
    PG_OP_AUTOCOMMIT,
    /* One transaction; run again unless the link broke during COMMIT. */
    PG_OP_TRANSACTION,
    /* Statements that commit one by one, of which only the last writes,
     * so it commits whole or not at all. The body sets s->write_sent
     * just before it sends that statement; run again after a lost
     * connection unless it was sent. A body may instead end with a
     * transaction of its own (submit_groups after a failed write): it
     * sets s->write_sent just before COMMIT, and rolls back itself. */
    PG_OP_SINGLE_WRITE,
};

struct pg_op {
    const char *name;
    enum pg_op_kind kind;
    int (*body)(struct pg_store *s, void *arg);
    void *arg;
};

/*
 * Runs an operation: reconnects if the connection is broken, wraps a
 * PG_OP_TRANSACTION in BEGIN/COMMIT (plus NOTIFY when the body set s->notify),
 * and runs it again after a deadlock or a lost connection as the kind
 * allows. Returns the body's store result, or STORE_ERROR when the
 * database stays unreachable.
 */
int pg_run_op(struct pg_store *s, const struct pg_op *op);

/* Connects again after a failure, with backoff; returns a store result. */
int pg_reconnect(struct pg_store *s, const char *op);

/* Issues LISTEN on the current connection; returns a store result. */
int pg_listen(struct pg_store *s);

/* ---- shared steps inside a transaction ---- */

/* pg_jobs.c: reads one entry; STORE_NOT_FOUND when there is none. */
int pg_read_entry_by_id(struct pg_store *s, int64_t entry_id,
                        struct entry *entry);

/*
 * pg_jobs.c: looks up an event id inside the caller's transaction; sets
 * *seen, and *job_id to its job or 0 (unseen, or the id of a cancel or
 * reschedule).
 */
int pg_event_find(struct pg_store *s, const char *event_id, int *seen,
                  int64_t *job_id);

/*
 * pg_jobs.c: records an event id with its job, or job_id 0 for none.
 * When another node recorded the same id since pg_event_find() looked,
 * fails as a serialization failure, so that pg_run_op() runs the
 * operation again and finds the id on the second run.
 */
int pg_event_remember(struct pg_store *s, const char *event_id, int64_t job_id,
                      int64_t now);

/* pg_audit.c: writes one audit record. */
int pg_audit_insert(struct pg_store *s, const struct pg_audit *record);

/*
 * pg_audit.c: the record as a JSON object in the shape that
 * PG_AUDIT_ROWS_FROM reads, texts cleaned as pg_param_text_max does, or
 * NULL when out of memory.
 */
json_t *pg_audit_row(const struct pg_audit *record);

/*
 * pg_audit.c: collects audit records for pg_publish_rounds(), which
 * writes them in the order they were added. Add copies the record
 * (metadata by reference). Clear frees the records.
 */
void pg_audit_batch_init(struct pg_audit_batch *batch);
int pg_audit_batch_add(struct pg_store *s, struct pg_audit_batch *batch,
                       const struct pg_audit *record);
void pg_audit_batch_clear(struct pg_audit_batch *batch);

/*
 * pg_publish.c: writes the job's "publish" audit record if every entry
 * has finished its first round and the record was not written before.
 * Locks the job row first, so that two nodes finishing the last two
 * entries at once cannot both miss the moment.
 */
int pg_publish_check(struct pg_store *s, int64_t job_id, int64_t now);

/*
 * pg_claim_ahead.c: puts entries claimed ahead and not started back as
 * they were before the claim, inside the caller's transaction (see
 * claim_ahead in store.h): the one entry `entry_id` (setting *unclaimed,
 * which may be NULL, to 1 when it was put back), or those of
 * `content_id` on the platforms of `platform_set` (a JSON array, or NULL
 * for all). Cancels, reschedules, lease recovery and lease release call
 * it first.
 */
int pg_unclaim_entry(struct pg_store *s, int64_t entry_id, int64_t now,
                     int *unclaimed);
int pg_unclaim_content(struct pg_store *s, const char *content_id,
                       const char *platform_set, int64_t now);

/*
 * pg_publish.c: the same check for several jobs, in one statement that
 * also writes every record of *audit first. The caller has locked the
 * row of each job with more than one entry already (SELECT ... FOR
 * UPDATE in an earlier statement of the transaction, so that this one
 * reads what committed before the lock was granted). Each job whose first round
 * is over is marked audited and gets its "publish" record at the job's `at`.
 * Each job id may appear once. With `commit` the statement is the body's last
 * and commits (pg_exec_commit). Empties *audit; runs nothing when there is
 * nothing to check or write.
 */
int pg_publish_rounds(struct pg_store *s, const struct pg_job_round *rounds,
                      size_t count, struct pg_audit_batch *audit, int commit);

/* pg_leases.c: recovers expired leases, as recover_leases describes. */
int pg_recover_expired(struct pg_store *s, int64_t now, const char *agent,
                       size_t *recovered);

/*
 * pg_platforms.c: pauses a platform, as sqlite_pause describes. The
 * audit record goes to *audit when it is not NULL, else it is written
 * at once.
 */
int pg_pause(struct pg_store *s, const char *platform, int64_t until,
             const char *reason, int64_t now, const char *agent,
             int extend_only, struct pg_audit_batch *audit);

/*
 * pg_job_cache.c: replaces the cache with the jobs in the rows of res:
 * the job id in column job_id_col, and content_id, event_id (or ""),
 * content_json, scheduled_at and created_at from column col on.
 */
void pg_job_cache_fill(struct pg_store *s, const PGresult *res, int job_id_col,
                       int col);

/* pg_job_cache.c: copies the cached job into *job; 0 when not cached. */
int pg_job_cache_get(struct pg_store *s, int64_t job_id, struct job *job);

void pg_job_cache_clear(struct pg_store *s);

/* ---- submitting jobs (pg_submit.c) ---- */

/* An event id seen before or created, or a request that carries one. */
struct pg_event_ref {
    const char *event_id;
    int64_t job_id; /* its job, or 0 for a cancel or reschedule */
    size_t index;   /* request: its index in the batch */
};

/*
 * The ids reserved for a batch of requests, and the event ids that were
 * seen before. Request i gets job id first_job_id + i and the entry ids
 * from first_entry_id + entry_offsets[i] on, one per platform, whether
 * or not it turns out to be a duplicate: a duplicate leaves its ids
 * unused.
 */
struct pg_submit_ids {
    int64_t first_job_id;
    int64_t first_entry_id;
    size_t *entry_offsets;     /* one per request */
    struct pg_event_ref *seen; /* seen_count items, sorted by event id */
    size_t seen_count;
    size_t seen_room; /* seen has room for the batch's event ids too */
    PGresult *res;    /* contains the text of the seen event ids */
};

/* The columns of the rows that one write statement inserts. */
enum pg_submit_column {
    PG_COL_JOB_ID,
    PG_COL_JOB_CONTENT_ID,
    PG_COL_JOB_CONTENT,
    PG_COL_JOB_EVENT_ID,
    PG_COL_JOB_SCHEDULED_AT,
    PG_COL_JOB_ACCEPTED, /* metadata of the job's "accepted" record */
    PG_COL_ENTRY_ID,
    PG_COL_ENTRY_JOB_ID,
    PG_COL_ENTRY_CONTENT_ID,
    PG_COL_ENTRY_PLATFORM,
    PG_COL_ENTRY_KEY,
    PG_COL_ENTRY_MAX_RETRIES,
    PG_COL_ENTRY_SCHEDULED_AT,
    PG_COL_ENTRY_DUE_AT,
    PG_SUBMIT_COLUMNS,
};

/* The rows that one write statement inserts, one array per column. */
struct pg_submit_rows {
    struct pg_array columns[PG_SUBMIT_COLUMNS];
    size_t created; /* jobs in the rows */
    size_t entries; /* entries in the rows */
};

/*
 * Reserves the ids of `count` requests and reads which of their event
 * ids were seen before, in one round trip of its own transaction.
 * pg_submit_ids_clear frees *ids, also after a failure.
 */
int pg_submit_reserve(struct pg_store *s, const struct job_request *reqs,
                      size_t count, struct pg_submit_ids *ids);
void pg_submit_ids_clear(struct pg_submit_ids *ids);

/*
 * Fills the results of reqs[0 .. count - 1], which are requests
 * `first` on of the reserved batch: their ids, and which of them are
 * duplicates of an event id in ids->seen or of an earlier request among
 * them. Returns a store result (STORE_ERROR when out of memory).
 */
int pg_submit_assign(struct pg_store *s, const struct pg_submit_ids *ids,
                     const struct job_request *reqs, size_t count, size_t first,
                     struct submit_result *results);

/*
 * Adds the event ids that the requests created to ids->seen, so that
 * later requests of the batch find them as duplicates.
 */
void pg_submit_remember(struct pg_submit_ids *ids,
                        const struct job_request *reqs, size_t count,
                        const struct submit_result *results);

/*
 * Adds the rows of the requests that are no duplicates. STORE_INVALID
 * when a text is not UTF-8, and the rows are then incomplete.
 */
void pg_submit_rows_init(struct pg_submit_rows *rows);
int pg_submit_rows_add(struct pg_store *s, struct pg_submit_rows *rows,
                       const struct job_request *reqs, size_t count,
                       const struct submit_result *results, int64_t now);
void pg_submit_rows_clear(struct pg_submit_rows *rows);

/*
 * Writes the rows in one statement, which wakes daemons (NOTIFY) and
 * commits whole or not at all: on its own, or inside the caller's
 * transaction in a savepoint of its own with `savepoint` set. Empties
 * the arrays of the rows but keeps their counts. Sets
 * *analyzed to the entries counted at the last analysis (-1: never).
 * A unique violation on an event id, which another process submitted at
 * the same time, fails as a serialization failure (STORE_BUSY).
 */
int pg_submit_write(struct pg_store *s, struct pg_submit_rows *rows,
                    int64_t now, int savepoint, double *analyzed);

/*
 * Undoes the failed write of pg_submit_write with `savepoint` set and
 * ends its savepoint, keeping errmsg, sqlstate and constraint of the
 * failure. Returns a store result.
 */
int pg_submit_undo(struct pg_store *s);

/* Analyzes entries after a bulk submit of `entries` (see pg_submit.c). */
void pg_submit_analyze(struct pg_store *s, size_t entries, double analyzed);

/* pg_schema.c: the version of the newest schema migration. */
int pg_schema_latest(void);

/* ---- operations, one per function pointer of struct store_ops ---- */

int pg_migrate(struct store *store);
int pg_schema_version(struct store *store, int *version);
int pg_submit_jobs(struct store *store, const struct job_request *reqs,
                   size_t count, int64_t now, struct submit_result *results);
int pg_submit_groups(struct store *store, struct submit_group *groups,
                     size_t count, int64_t now);
int pg_get_job(struct store *store, int64_t job_id, struct job *job);
int pg_get_entry(struct store *store, int64_t entry_id, struct entry *entry);
int pg_list_entries(struct store *store, const struct entry_filter *filter,
                    struct entry_list *list);
int pg_list_attempts(struct store *store, int64_t entry_id,
                     struct attempt_list *list);
int pg_count_entries(struct store *store, const char *platform,
                     struct status_counts *counts);
int pg_claim_due(struct store *store, const char *node,
                 const char *const *platforms, size_t platform_count,
                 int64_t now, int64_t lease_ms, size_t max,
                 struct entry_list *list);
int pg_claim_ahead(struct store *store, const char *node,
                   const char *const *platforms, size_t platform_count,
                   int64_t now, int64_t until, int64_t lease_ms, size_t max,
                   struct entry_list *list);
int pg_start_claimed(struct store *store, const char *node,
                     struct claim_start *claims, size_t count, int64_t now);
int pg_next_due_at(struct store *store, const char *const *platforms,
                   size_t platform_count, int64_t *due_at);
int pg_complete_attempts(struct store *store,
                         const struct attempt_completion *completions,
                         size_t count, int *applied);
int pg_complete_and_claim(struct store *store,
                          const struct attempt_completion *completions,
                          size_t count, int *applied,
                          const struct claim_request *claim,
                          struct entry_list *list);
/*
 * The claim statement of pg_claim_due, over a platform set as a JSON
 * array; replaces *list. Commits on its own outside a transaction. The
 * claimed entries' jobs replace the job cache.
 */
int pg_claim_statement(struct pg_store *s, const char *node,
                       const char *platform_set, int64_t now,
                       int64_t lease_ms, size_t max,
                       struct entry_list *list);
/*
 * The statements of pg_complete_attempts, for a PG_OP_TRANSACTION body:
 * the last one commits, so the body runs nothing after them.
 */
int pg_complete_statements(struct pg_store *s,
                           const struct attempt_completion *completions,
                           size_t count, int *applied);
int pg_renew_leases(struct store *store, const char *node,
                    struct lease_renewal *leases, size_t count,
                    int64_t now, int64_t lease_ms, size_t *renewed);
int pg_release_leases(struct store *store, const char *node, int64_t now,
                      size_t *released);
int pg_recover_leases(struct store *store, int64_t now, size_t *recovered);
int pg_sweep(struct store *store, int64_t now, int64_t tick_at,
             const char *agent, struct sweep_result *result);
int pg_retry_entry(struct store *store, int64_t entry_id, int64_t now,
                   const char *agent);
int pg_cancel_entry(struct store *store, int64_t entry_id, int64_t now,
                    const char *agent);
int pg_mark_published(struct store *store, int64_t entry_id, int64_t now,
                      const char *agent);
int pg_cancel_content(struct store *store,
                      const struct content_change_request *request, int64_t now,
                      struct content_change_result *result);
int pg_reschedule_content(struct store *store,
                          const struct content_change_request *request,
                          int64_t now, struct content_change_result *result);
int pg_pause_platform(struct store *store, const char *platform, int64_t until,
                      const char *reason, int64_t now, const char *agent);
int pg_resume_platform(struct store *store, const char *platform, int64_t now,
                       const char *agent);
int pg_list_platform_states(struct store *store,
                            struct platform_state_list *list);
int pg_get_platform_data(struct store *store, const char *platform,
                         char **json);
int pg_set_platform_data(struct store *store, const char *platform,
                         const char *json, int64_t now);
int pg_list_audit(struct store *store, const struct audit_filter *filter,
                  struct audit_list *list);
int pg_attempt_stats(struct store *store, struct attempt_stats_list *list);
int pg_wake_fd(struct store *store);
int pg_consume_wakeups(struct store *store);

#endif
