/* Applying attempt results to entries (SQLite store). */
#include "store/sqlite_internal.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/banned.h"

int sqlite_attempt_close(struct sqlite_store *s,
                         const struct sqlite_attempt_end *end)
{
    static const char sql[] =
        "UPDATE attempts SET ended_at = ?1, finished = ?2, outcome = ?3,"
        " http_status = ?4, latency_ms = ?5, error = ?6,"
        " started_at = CASE WHEN ?9 > 0 THEN ?9 ELSE started_at END"
        " WHERE entry_id = ?7 AND number = ?8";
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_ATTEMPT_CLOSE, sql, "close attempt");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, end->ended_at);
    sqlite3_bind_int(stmt, 2, end->finished);
    sqlite_bind_text(stmt, 3, outcome_name(end->outcome));
    sqlite3_bind_int(stmt, 4, end->http_status);
    sqlite3_bind_int64(stmt, 5, end->latency_ms);
    sqlite_bind_text_max(stmt, 6, end->error, STORE_TEXT_MAX);
    sqlite3_bind_int64(stmt, 7, end->entry_id);
    sqlite3_bind_int64(stmt, 8, end->number);
    sqlite3_bind_int64(stmt, 9, end->started_at);
    return sqlite_exec_stmt(s, stmt, "close attempt");
}

/* Fields of the changed entry, read after the conditional update. */
struct completed {
    int64_t job_id;
    char content_id[STORE_ID_MAX];
    char platform[STORE_NAME_MAX];
    uint32_t max_retries;
    int job_audited; /* the job's "publish" record was already written */
};

/*
 * No RETURNING: SQLite 3.40 buffers RETURNING rows in a temporary
 * B-tree that it opens and closes on every call, which costs more than
 * the primary-key read of the changed row that follows a win.
 */
static const char sql_complete[] =
    "UPDATE entries SET status = ?1, retry_count = ?2,"
    " due_at = CASE WHEN ?1 = 'retrying' THEN ?3 ELSE due_at END,"
    " rate_limit_waited_ms = ?4, fail_reason = ?5,"
    " last_error = coalesce(?6,"
    "   CASE WHEN ?1 = 'published' THEN '' ELSE last_error END),"
    " published_at = CASE WHEN ?1 = 'published' THEN ?7"
    "   ELSE published_at END,"
    " post_id = coalesce(?8, post_id), post_url = coalesce(?9, post_url),"
    " lease_node = NULL, lease_expires_at = 0, claimed_from = NULL,"
    " first_round_status = CASE WHEN first_round_done = 0 THEN ?1"
    "   ELSE first_round_status END,"
    " first_round_done = 1, updated_at = ?7"
    " WHERE id = ?10 AND status = 'publishing' AND lease_node = ?11"
    " AND attempt_count = ?12";

static const char sql_completed[] =
    "SELECT e.job_id, e.content_id, e.platform, e.max_retries,"
    " j.publish_audited FROM entries e JOIN jobs j ON j.id = e.job_id"
    " WHERE e.id = ?1";

static void bind_completion(sqlite3_stmt *stmt,
                            const struct attempt_completion *c)
{
    sqlite_bind_text(stmt, 1, entry_status_name(c->next_status));
    sqlite3_bind_int64(stmt, 2, c->retry_count);
    sqlite3_bind_int64(stmt, 3, c->due_at);
    sqlite3_bind_int64(stmt, 4, c->rate_limit_waited_ms);
    sqlite_bind_text_max(stmt, 5,
                         c->next_status == ENTRY_FAILED ? c->fail_reason : NULL,
                         STORE_NAME_MAX);
    if (c->error != NULL)
        sqlite_bind_text_max(stmt, 6, c->error, STORE_TEXT_MAX);
    sqlite3_bind_int64(stmt, 7, c->ended_at);
    if (c->post_id != NULL)
        sqlite_bind_text_max(stmt, 8, c->post_id, STORE_ID_MAX);
    if (c->post_url != NULL)
        sqlite_bind_text_max(stmt, 9, c->post_url, STORE_URL_MAX);
    sqlite3_bind_int64(stmt, 10, c->entry_id);
    sqlite_bind_text(stmt, 11, c->node);
    sqlite3_bind_int64(stmt, 12, c->attempt_number);
}

/* Reads the fields of a completed entry that the audit records need. */
static int read_completed(struct sqlite_store *s, int64_t entry_id,
                          struct completed *out)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_COMPLETED_READ, sql_completed,
                                     "complete attempt");
    int rc;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, entry_id);

    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        out->job_id = sqlite3_column_int64(stmt, 0);
        sqlite_copy_column(stmt, 1, out->content_id, sizeof out->content_id);
        sqlite_copy_column(stmt, 2, out->platform, sizeof out->platform);
        out->max_retries = (uint32_t)sqlite3_column_int64(stmt, 3);
        out->job_audited = sqlite3_column_int(stmt, 4);
    }
    sqlite_done(stmt);
    if (rc == SQLITE_DONE)
        return sqlite_error(s, STORE_ERROR,
                            "entry %" PRId64 " or its job is missing right "
                            "after its update",
                            entry_id);
    if (rc != SQLITE_ROW)
        return sqlite_fail(s, rc, "read completed entry");
    return STORE_OK;
}

/* Runs the conditional update; *won is 0 when the entry moved on. */
static int update_entry(struct sqlite_store *s,
                        const struct attempt_completion *c, int *won,
                        struct completed *out)
{
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_COMPLETE, sql_complete, "complete attempt");
    int result;

    *won = 0;
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    bind_completion(stmt, c);

    result = sqlite_exec_stmt(s, stmt, "complete attempt");
    if (result != STORE_OK || sqlite3_changes(s->db) == 0)
        return result;
    *won = 1;
    return read_completed(s, c->entry_id, out);
}

/* Writes the "retry" audit record of an applied result, if one is due. */
static int audit_retry(struct sqlite_store *s,
                       const struct attempt_completion *c,
                       const struct completed *done)
{
    json_t *metadata = NULL;
    const char *status = store_retry_audit(c, done->max_retries, &metadata);

    if (status == NULL)
        return STORE_OK;

    struct sqlite_audit record = {
        .at = c->ended_at,
        .agent = "queue-manager",
        .action = "retry",
        .content_id = done->content_id,
        .entry_id = c->entry_id,
        .platform = done->platform,
        .status = status,
        .metadata = metadata,
    };
    int result = sqlite_audit_insert(s, &record);
    json_decref(metadata);
    return result;
}

/*
 * Jobs whose "publish" record may be due after a batch of completions,
 * each once. `at` is the end time of the job's last result in the
 * batch, which is when its first round ended if that result ended it.
 * A batch has at most a few hundred entries, so a linear search finds
 * duplicates.
 */
struct job_check {
    int64_t job_id;
    int64_t at;
};

struct job_set {
    struct job_check *items;
    size_t count;
};

static void job_set_add(struct job_set *set, int64_t job_id, int64_t at)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->items[i].job_id == job_id) {
            set->items[i].at = at;
            return;
        }
    }
    set->items[set->count++] = (struct job_check){job_id, at};
}

static int apply_one(struct sqlite_store *s, const struct attempt_completion *c,
                     int *applied, struct job_set *jobs)
{
    struct completed done;
    int result = update_entry(s, c, applied, &done);

    if (result != STORE_OK)
        return result;
    if (!*applied) {
        log_warn("store",
                 "lost race completing attempt entry=%" PRId64
                 " attempt=%" PRIu32 " node=%s: the entry moved on",
                 c->entry_id, c->attempt_number, c->node);
        return STORE_OK;
    }

    struct sqlite_attempt_end end = {
        .entry_id = c->entry_id,
        .number = c->attempt_number,
        .started_at = c->started_at,
        .ended_at = c->ended_at,
        .finished = 1,
        .outcome = c->outcome,
        .http_status = c->http_status,
        .latency_ms = c->latency_ms,
        .error = c->error,
    };
    if (c->not_attempted)
        result = sqlite_attempt_drop(s, c->entry_id, c->attempt_number);
    else
        result = sqlite_attempt_close(s, &end);
    if (result == STORE_OK)
        result = audit_retry(s, c, &done);
    if (result == STORE_OK && c->pause_until > 0)
        result = sqlite_pause(s, done.platform, c->pause_until, c->pause_reason,
                              c->ended_at, "queue-manager", 1);
    /* Once written, the record is never written again: skip the check. */
    if (result == STORE_OK && !done.job_audited)
        job_set_add(jobs, done.job_id, c->ended_at);
    return result;
}

/*
 * Runs the first-round check once per job after every entry of the
 * batch is applied, so a job with several entries in one batch is
 * checked once instead of once per entry.
 */
static int check_jobs(struct sqlite_store *s, const struct job_set *jobs)
{
    int result = STORE_OK;

    for (size_t i = 0; result == STORE_OK && i < jobs->count; i++)
        result = sqlite_publish_check(s, jobs->items[i].job_id,
                                      jobs->items[i].at);
    return result;
}

int sqlite_complete_attempts(struct store *store,
                             const struct attempt_completion *completions,
                             size_t count, int *applied)
{
    struct sqlite_store *s = sqlite_store_of(store);
    struct job_set jobs = {0};
    int result = STORE_OK;

    result = store_check_completions(store, completions, count, applied);
    if (result != STORE_OK)
        return result;
    if (count == 0)
        return STORE_OK;
    jobs.items = malloc(count * sizeof *jobs.items);
    if (jobs.items == NULL)
        return sqlite_error(s, STORE_ERROR,
                            "out of memory completing %zu attempts", count);

    result = sqlite_begin(s, "complete attempts");
    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = apply_one(s, &completions[i], &applied[i], &jobs);
    if (result == STORE_OK)
        result = check_jobs(s, &jobs);
    if (result == STORE_OK)
        result = sqlite_commit(s, "complete attempts");
    else
        sqlite_rollback(s);
    free(jobs.items);

    /* Nothing was written, so nothing counts as applied. */
    if (result != STORE_OK) {
        for (size_t i = 0; i < count; i++)
            applied[i] = 0;
    }
    return result;
}
