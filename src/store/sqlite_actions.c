/*
 * Operator and event actions on entries: manual retry, cancel, mark
 * published, and cancel or reschedule by content item (SQLite store).
 */
#include "store/sqlite_internal.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* A single-entry action: the event it applies and how to write it. */
struct entry_action {
    const char *op;
    enum entry_event event;
    enum sqlite_stmt_id stmt_id;
    /* ?1 entry id, ?2 status read, ?3 now. */
    const char *sql;
    const char *audit_action;
};

static const struct entry_action retry_action = {
    "retry entry", ENTRY_EV_REQUEUE, STMT_ENTRY_REQUEUE,
    /* A manual retry starts a fresh budget of retries and rate-limit
     * waiting; the attempt history stays. */
    "UPDATE entries SET status = 'pending', retry_count = 0,"
    " rate_limit_waited_ms = 0, fail_reason = '', due_at = ?3,"
    " updated_at = ?3 WHERE id = ?1 AND status = ?2",
    "manual_retry"};

static const struct entry_action cancel_action = {
    "cancel entry", ENTRY_EV_CANCEL, STMT_ENTRY_CANCEL,
    "UPDATE entries SET status = 'cancelled',"
    " first_round_status = CASE WHEN first_round_done = 0 THEN 'cancelled'"
    "   ELSE first_round_status END,"
    " first_round_done = 1, updated_at = ?3 WHERE id = ?1 AND status = ?2",
    "cancel"};

static const struct entry_action mark_published_action = {
    "mark entry published", ENTRY_EV_MARK_PUBLISHED, STMT_ENTRY_MARK_PUBLISHED,
    /* The error of the failed attempt stays in the attempt history. */
    "UPDATE entries SET status = 'published', published_at = ?3,"
    " fail_reason = '', last_error = '', updated_at = ?3"
    " WHERE id = ?1 AND status = ?2",
    "mark_published"};

static int audit_entry(struct sqlite_store *s, const struct entry *before,
                       enum entry_status to, const char *action,
                       const char *agent, int64_t now)
{
    json_t *metadata = store_entry_action_metadata(before);
    struct sqlite_audit record = {
        .at = now,
        .agent = store_agent_or_default(agent),
        .action = action,
        .content_id = before->content_id,
        .entry_id = before->id,
        .platform = before->platform,
        .status = entry_status_name(to),
        .metadata = metadata,
    };
    int result = sqlite_audit_insert(s, &record);

    json_decref(metadata);
    return result;
}

/* Runs one action inside the open transaction. */
static int act_on_entry(struct sqlite_store *s,
                        const struct entry_action *action, int64_t entry_id,
                        int64_t now, const char *agent)
{
    struct entry before;
    enum entry_status to;
    char why[256];
    int result = STORE_OK;

    /* A cancel wins over a claim ahead whose attempt has not started. */
    if (action->event == ENTRY_EV_CANCEL)
        result = sqlite_unclaim_entry(s, entry_id, now, NULL);
    if (result == STORE_OK)
        result = sqlite_get_entry(&s->base, entry_id, &before);
    if (result != STORE_OK)
        return result;
    if (entry_transition(before.status, action->event, &to, why, sizeof why) !=
        0)
        return sqlite_error(s, STORE_INVALID, "entry %" PRId64 ": %s", entry_id,
                            why);

    sqlite3_stmt *stmt =
        sqlite_stmt(s, action->stmt_id, action->sql, action->op);
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, entry_id);
    sqlite_bind_text(stmt, 2, entry_status_name(before.status));
    sqlite3_bind_int64(stmt, 3, now);
    result = sqlite_exec_stmt(s, stmt, action->op);
    if (result == STORE_OK && sqlite3_changes(s->db) != 1)
        result = sqlite_error(s, STORE_CONFLICT,
                              "entry %" PRId64 " changed while it was "
                              "read; reload it and try again",
                              entry_id);

    if (result == STORE_OK)
        result = audit_entry(s, &before, to, action->audit_action, agent, now);
    if (result == STORE_OK && to == ENTRY_CANCELLED)
        result = sqlite_publish_check(s, before.job_id, now);
    return result;
}

static int run_action(struct store *store, const struct entry_action *action,
                      int64_t entry_id, int64_t now, const char *agent)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int result = sqlite_begin(s, action->op);

    if (result == STORE_OK)
        result = act_on_entry(s, action, entry_id, now, agent);
    if (result == STORE_OK)
        return sqlite_commit(s, action->op);
    sqlite_rollback(s);
    return result;
}

int sqlite_retry_entry(struct store *store, int64_t entry_id, int64_t now,
                       const char *agent)
{
    return run_action(store, &retry_action, entry_id, now, agent);
}

int sqlite_cancel_entry(struct store *store, int64_t entry_id, int64_t now,
                        const char *agent)
{
    return run_action(store, &cancel_action, entry_id, now, agent);
}

int sqlite_mark_published(struct store *store, int64_t entry_id, int64_t now,
                          const char *agent)
{
    return run_action(store, &mark_published_action, entry_id, now, agent);
}

/*
 * Encodes the platform filter as a JSON array for json_each(), or NULL
 * for "all platforms". *json is a heap string the caller frees.
 */
static int platform_filter(struct sqlite_store *s, const char *const *platforms,
                           size_t count, char **json)
{
    *json = NULL;
    if (count == 0)
        return STORE_OK;
    if (platforms == NULL)
        return sqlite_error(s, STORE_INVALID,
                            "invalid platform list: "
                            "count set but no names");

    json_t *array = json_array();
    for (size_t i = 0; i < count; i++) {
        if (platforms[i] == NULL || platforms[i][0] == '\0') {
            json_decref(array);
            return sqlite_error(s, STORE_INVALID,
                                "invalid platform list: name %zu is empty", i);
        }
        json_array_append_new(array, json_string(platforms[i]));
    }
    *json = json_dumps(array, JSON_COMPACT);
    json_decref(array);
    if (*json == NULL)
        return sqlite_error(s, STORE_ERROR,
                            "invalid platform list: a name is not valid "
                            "UTF-8, or out of memory");
    return STORE_OK;
}

static int content_exists(struct sqlite_store *s, const char *content_id)
{
    static const char sql[] = "SELECT 1 FROM jobs WHERE content_id = ?";
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_CONTENT_EXISTS, sql, "find content item");

    if (content_id == NULL || content_id[0] == '\0')
        return sqlite_error(s, STORE_INVALID, "missing content item id");
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, content_id);

    int rc = sqlite3_step(stmt);
    sqlite_done(stmt);
    if (rc == SQLITE_DONE)
        return sqlite_error(s, STORE_NOT_FOUND, "content item \"%s\" not found",
                            content_id);
    if (rc != SQLITE_ROW)
        return sqlite_fail(s, rc, "find content item");
    return STORE_OK;
}

/* An entry a content-wide action changed, as RETURNING gave it back. */
struct changed_entry {
    int64_t id;
    int64_t job_id;
    char platform[STORE_NAME_MAX];
};

struct content_change {
    const char *op;
    const char *action;
    const char *status;
    const char *agent;
    const char *content_id;
    const char *event_id; /* or NULL */
    int64_t now;
    int64_t due_at; /* reschedule only */
};

static int audit_changed(struct sqlite_store *s,
                         const struct content_change *change,
                         const struct changed_entry *e)
{
    json_t *metadata =
        change->due_at != 0
            ? json_pack("{s:I}", "due_at", (json_int_t)change->due_at)
            : json_object();
    struct sqlite_audit record = {
        .at = change->now,
        .agent = store_agent_or_default(change->agent),
        .action = change->action,
        .content_id = change->content_id,
        .entry_id = e->id,
        .platform = e->platform,
        .status = change->status,
        .metadata = metadata,
    };
    int result = sqlite_audit_insert(s, &record);

    json_decref(metadata);
    return result;
}

/*
 * Steps a bound UPDATE ... RETURNING id, job_id, platform, then writes
 * one audit record per entry (and, for cancels, the publish check).
 * RETURNING has made every change by the first step, so the rows can be
 * collected before other statements run.
 */
static int apply_change(struct sqlite_store *s, sqlite3_stmt *stmt,
                        const struct content_change *change, size_t *changed)
{
    struct changed_entry *rows = NULL;
    size_t count = 0;
    size_t capacity = 0;
    int result = STORE_OK;
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == capacity) {
            size_t grown = capacity == 0 ? 8 : capacity * 2;
            struct changed_entry *more = realloc(rows, grown * sizeof *rows);

            if (more == NULL) {
                result = sqlite_error(s, STORE_ERROR, "out of memory");
                break;
            }
            rows = more;
            capacity = grown;
        }
        rows[count].id = sqlite3_column_int64(stmt, 0);
        rows[count].job_id = sqlite3_column_int64(stmt, 1);
        sqlite_copy_column(stmt, 2, rows[count].platform,
                           sizeof rows[count].platform);
        count++;
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, change->op);
    sqlite_done(stmt);

    for (size_t i = 0; result == STORE_OK && i < count; i++) {
        result = audit_changed(s, change, &rows[i]);
        if (result == STORE_OK && change->due_at == 0)
            result = sqlite_publish_check(s, rows[i].job_id, change->now);
    }
    free(rows);
    *changed = result == STORE_OK ? count : 0;
    return result;
}

/*
 * Failed entries are cancelled too: otherwise the sweeper could re-queue
 * and publish content its owner withdrew.
 */
static const char sql_content_cancel[] =
    "UPDATE entries SET status = 'cancelled',"
    " first_round_status = CASE WHEN first_round_done = 0 THEN 'cancelled'"
    "   ELSE first_round_status END,"
    " first_round_done = 1, updated_at = ?2"
    " WHERE content_id = ?1"
    " AND status IN ('pending', 'retrying', 'failed')"
    " AND (?3 IS NULL OR platform IN (SELECT value FROM json_each(?3)))"
    " RETURNING id, job_id, platform";

static const char sql_content_reschedule[] =
    "UPDATE entries SET status = 'pending', scheduled_at = ?4,"
    " due_at = max(?4, ?2), updated_at = ?2"
    " WHERE content_id = ?1 AND status IN ('pending', 'retrying')"
    " AND (?3 IS NULL OR platform IN (SELECT value FROM json_each(?3)))"
    " RETURNING id, job_id, platform";

/*
 * Runs the change inside the open transaction. A seen event id makes it
 * a duplicate that changes nothing; a new one is recorded with the
 * change.
 */
static int change_content(struct sqlite_store *s,
                          const struct content_change *change,
                          enum sqlite_stmt_id id, const char *sql,
                          const char *filter, struct content_change_result *out)
{
    int64_t job_id = 0;
    sqlite3_stmt *stmt = NULL;
    int result = STORE_OK;

    if (change->event_id != NULL)
        result =
            sqlite_event_find(s, change->event_id, &out->duplicate, &job_id);
    if (result != STORE_OK || out->duplicate)
        return result;

    result = content_exists(s, change->content_id);
    /* Entries claimed ahead and not started change like waiting ones. */
    if (result == STORE_OK)
        result = sqlite_unclaim_content(s, change->content_id, filter,
                                        change->now);
    if (result == STORE_OK) {
        stmt = sqlite_stmt(s, id, sql, change->op);
        result = stmt == NULL ? sqlite_stmt_error(s) : STORE_OK;
    }
    if (result != STORE_OK)
        return result;

    sqlite_bind_text(stmt, 1, change->content_id);
    sqlite3_bind_int64(stmt, 2, change->now);
    sqlite_bind_text(stmt, 3, filter);
    if (change->due_at != 0)
        sqlite3_bind_int64(stmt, 4, change->due_at);
    result = apply_change(s, stmt, change, &out->changed);
    if (result == STORE_OK && change->event_id != NULL)
        result = sqlite_event_remember(s, change->event_id, 0, change->now);
    return result;
}

static int run_content_change(struct sqlite_store *s,
                              const struct content_change *change,
                              enum sqlite_stmt_id id, const char *sql,
                              const struct content_change_request *request,
                              struct content_change_result *out)
{
    struct content_change_result done = {0};
    char *filter = NULL;
    int result = platform_filter(s, request->platforms, request->platform_count,
                                 &filter);

    if (result == STORE_OK && request->event_id != NULL)
        result = store_check_event_id(&s->base, request->event_id);
    if (result == STORE_OK)
        result = sqlite_begin(s, change->op);
    if (result == STORE_OK) {
        result = change_content(s, change, id, sql, filter, &done);
        if (result == STORE_OK)
            result = sqlite_commit(s, change->op);
        else
            sqlite_rollback(s);
    }
    free(filter);
    if (out != NULL) {
        struct content_change_result none = {0};

        *out = result == STORE_OK ? done : none;
    }
    return result;
}

int sqlite_cancel_content(struct store *store,
                          const struct content_change_request *request,
                          int64_t now, struct content_change_result *result)
{
    struct content_change change = {
        .op = "cancel content",
        .action = "cancel",
        .status = "cancelled",
        .agent = request->agent,
        .content_id = request->content_id,
        .event_id = request->event_id,
        .now = now,
    };

    return run_content_change(sqlite_store_of(store), &change,
                              STMT_CONTENT_CANCEL, sql_content_cancel, request,
                              result);
}

int sqlite_reschedule_content(struct store *store,
                              const struct content_change_request *request,
                              int64_t now, struct content_change_result *result)
{
    struct sqlite_store *s = sqlite_store_of(store);
    struct content_change change = {
        .op = "reschedule content",
        .action = "reschedule",
        .status = "pending",
        .agent = request->agent,
        .content_id = request->content_id,
        .event_id = request->event_id,
        .now = now,
        .due_at = request->new_due,
    };

    if (request->new_due <= 0)
        return sqlite_error(s, STORE_INVALID,
                            "invalid new due time %" PRId64
                            ": give milliseconds since the epoch",
                            request->new_due);
    return run_content_change(s, &change, STMT_CONTENT_RESCHEDULE,
                              sql_content_reschedule, request, result);
}
