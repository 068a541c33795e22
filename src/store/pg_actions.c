/*
 * Operator and event actions on entries: manual retry, cancel, mark
 * published, and cancel or reschedule by content item (PostgreSQL
 * store).
 */
#include "store/pg_internal.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* A single-entry action: the event it applies and how to write it. */
struct entry_action {
    const char *op;
    enum entry_event event;
    enum pg_stmt_id stmt_id;
    /* $1 entry id, $2 status read, $3 now. */
    const char *sql;
    const char *audit_action;
};

static const struct entry_action retry_action = {
    "retry entry", ENTRY_EV_REQUEUE, PG_ENTRY_REQUEUE,
    /* A manual retry starts a fresh budget of retries and rate-limit
     * waiting; the attempt history stays. */
    "UPDATE entries SET status = 'pending', retry_count = 0,"
    " rate_limit_waited_ms = 0, fail_reason = '', due_at = $3::bigint,"
    " updated_at = $3::bigint WHERE id = $1::bigint AND status = $2::text",
    "manual_retry"};

static const struct entry_action cancel_action = {
    "cancel entry", ENTRY_EV_CANCEL, PG_ENTRY_CANCEL,
    "UPDATE entries SET status = 'cancelled',"
    " first_round_status = CASE WHEN first_round_done"
    "   THEN first_round_status ELSE 'cancelled' END,"
    " first_round_done = true, updated_at = $3::bigint"
    " WHERE id = $1::bigint AND status = $2::text",
    "cancel"};

static const struct entry_action mark_published_action = {
    "mark entry published", ENTRY_EV_MARK_PUBLISHED, PG_ENTRY_MARK_PUBLISHED,
    /* The error of the failed attempt stays in the attempt history. */
    "UPDATE entries SET status = 'published', published_at = $3::bigint,"
    " fail_reason = '', last_error = '', updated_at = $3::bigint"
    " WHERE id = $1::bigint AND status = $2::text",
    "mark_published"};

static int audit_entry(struct pg_store *s, const struct entry *before,
                       enum entry_status to, const char *action,
                       const char *agent, int64_t now)
{
    json_t *metadata = store_entry_action_metadata(before);
    struct pg_audit record = {
        .at = now,
        .agent = store_agent_or_default(agent),
        .action = action,
        .content_id = before->content_id,
        .entry_id = before->id,
        .platform = before->platform,
        .status = entry_status_name(to),
        .metadata = metadata,
    };
    int result = pg_audit_insert(s, &record);

    json_decref(metadata);
    return result;
}

struct action_args {
    const struct entry_action *action;
    int64_t entry_id;
    int64_t now;
    const char *agent;
};

static int action_body(struct pg_store *s, void *arg)
{
    struct action_args *a = arg;
    struct entry before;
    enum entry_status to;
    char why[256];
    struct pg_params p;
    size_t rows = 0;
    int result = STORE_OK;

    /* A cancel wins over a claim ahead whose attempt has not started. */
    if (a->action->event == ENTRY_EV_CANCEL)
        result = pg_unclaim_entry(s, a->entry_id, a->now, NULL);
    if (result == STORE_OK)
        result = pg_read_entry_by_id(s, a->entry_id, &before);
    if (result != STORE_OK)
        return result;
    if (entry_transition(before.status, a->action->event, &to, why,
                         sizeof why) != 0)
        return pg_error(s, STORE_INVALID, "entry %" PRId64 ": %s", a->entry_id,
                        why);

    pg_params_init(&p);
    pg_param_int(&p, a->entry_id);
    pg_param_text(&p, entry_status_name(before.status));
    pg_param_int(&p, a->now);
    result = pg_exec_count(s, a->action->stmt_id, a->action->sql, &p,
                           a->action->op, &rows);
    if (result == STORE_OK && rows != 1)
        result = pg_error(s, STORE_CONFLICT,
                          "entry %" PRId64 " changed while it was "
                          "read; reload it and try again",
                          a->entry_id);

    if (result == STORE_OK)
        result = audit_entry(s, &before, to, a->action->audit_action, a->agent,
                             a->now);
    if (result == STORE_OK && to == ENTRY_CANCELLED)
        result = pg_publish_check(s, before.job_id, a->now);
    if (result == STORE_OK && to == ENTRY_PENDING)
        s->notify = 1;
    return result;
}

static int run_action(struct store *store, const struct entry_action *action,
                      int64_t entry_id, int64_t now, const char *agent)
{
    struct action_args args = {action, entry_id, now, agent};
    struct pg_op op = {action->op, PG_OP_TRANSACTION, action_body, &args};

    return pg_run_op(pg_store_of(store), &op);
}

int pg_retry_entry(struct store *store, int64_t entry_id, int64_t now,
                   const char *agent)
{
    return run_action(store, &retry_action, entry_id, now, agent);
}

int pg_cancel_entry(struct store *store, int64_t entry_id, int64_t now,
                    const char *agent)
{
    return run_action(store, &cancel_action, entry_id, now, agent);
}

int pg_mark_published(struct store *store, int64_t entry_id, int64_t now,
                      const char *agent)
{
    return run_action(store, &mark_published_action, entry_id, now, agent);
}

/*
 * Encodes the platform filter as a JSON array for
 * json_array_elements_text(), or NULL for "all platforms". *json is a
 * heap string the caller frees.
 */
static int platform_filter(struct pg_store *s, const char *const *platforms,
                           size_t count, char **json)
{
    *json = NULL;
    if (count == 0)
        return STORE_OK;
    if (platforms == NULL)
        return pg_error(s, STORE_INVALID,
                        "invalid platform list: count set but no names");

    json_t *array = json_array();
    for (size_t i = 0; i < count; i++) {
        if (platforms[i] == NULL || platforms[i][0] == '\0') {
            json_decref(array);
            return pg_error(s, STORE_INVALID,
                            "invalid platform list: name %zu is empty", i);
        }
        json_array_append_new(array, json_string(platforms[i]));
    }
    *json = json_dumps(array, JSON_COMPACT);
    json_decref(array);
    if (*json == NULL)
        return pg_error(s, STORE_ERROR,
                        "invalid platform list: a name is not valid "
                        "UTF-8, or out of memory");
    return STORE_OK;
}

static int content_exists(struct pg_store *s, const char *content_id)
{
    static const char sql[] =
        "SELECT 1 FROM jobs WHERE content_id = $1::text LIMIT 1";
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_text(&p, content_id);
    PGresult *res =
        pg_query(s, PG_CONTENT_EXISTS, sql, &p, "find content item", &result);
    if (res == NULL)
        return result;
    if (PQntuples(res) == 0)
        result = pg_error(s, STORE_NOT_FOUND, "content item \"%s\" not found",
                          content_id);
    PQclear(res);
    return result;
}

struct content_change {
    const char *op;
    const char *action;
    const char *status;
    const char *agent;
    const char *content_id;
    const char *event_id; /* or NULL */
    int64_t now;
    int64_t due_at; /* reschedule only */
    enum pg_stmt_id stmt_id;
    const char *sql;
    const char *filter; /* JSON array of platforms, or NULL */
    struct content_change_result result;
};

static int audit_changed(struct pg_store *s,
                         const struct content_change *change,
                         const PGresult *res, int row)
{
    char platform[STORE_NAME_MAX];
    json_t *metadata =
        change->due_at != 0
            ? json_pack("{s:I}", "due_at", (json_int_t)change->due_at)
            : json_object();

    pg_get_text(res, row, 2, platform, sizeof platform);
    struct pg_audit record = {
        .at = change->now,
        .agent = store_agent_or_default(change->agent),
        .action = change->action,
        .content_id = change->content_id,
        .entry_id = pg_get_int(res, row, 0),
        .platform = platform,
        .status = change->status,
        .metadata = metadata,
    };
    int result = pg_audit_insert(s, &record);

    json_decref(metadata);
    return result;
}

/*
 * Failed entries are cancelled too: otherwise the sweeper could re-queue
 * and publish content its owner withdrew.
 */
static const char sql_content_cancel[] =
    "UPDATE entries SET status = 'cancelled',"
    " first_round_status = CASE WHEN first_round_done"
    "   THEN first_round_status ELSE 'cancelled' END,"
    " first_round_done = true, updated_at = $2::bigint"
    " WHERE content_id = $1::text"
    " AND status IN ('pending', 'retrying', 'failed')"
    " AND ($3::json IS NULL OR platform IN"
    "   (SELECT json_array_elements_text($3::json)))"
    " RETURNING id, job_id, platform";

static const char sql_content_reschedule[] =
    "UPDATE entries SET status = 'pending', scheduled_at = $4::bigint,"
    " due_at = greatest($4::bigint, $2::bigint), updated_at = $2::bigint"
    " WHERE content_id = $1::text AND status IN ('pending', 'retrying')"
    " AND ($3::json IS NULL OR platform IN"
    "   (SELECT json_array_elements_text($3::json)))"
    " RETURNING id, job_id, platform";

/*
 * Runs the UPDATE, then one audit record (and check) per entry. A seen
 * event id makes it a duplicate that changes nothing. A new id is
 * recorded before the UPDATE. Then a node that applies the same event at
 * the same time fails on it, and finds the id seen when run again.
 */
static int change_body(struct pg_store *s, void *arg)
{
    struct content_change *change = arg;
    struct pg_params p;
    int64_t job_id = 0;
    int result = STORE_OK;

    memset(&change->result, 0, sizeof change->result);
    if (change->event_id != NULL)
        result = pg_event_find(s, change->event_id, &change->result.duplicate,
                               &job_id);
    if (result != STORE_OK || change->result.duplicate)
        return result;

    result = content_exists(s, change->content_id);
    /* Entries claimed ahead and not started change like waiting ones. */
    if (result == STORE_OK)
        result = pg_unclaim_content(s, change->content_id, change->filter,
                                    change->now);
    if (result == STORE_OK && change->event_id != NULL)
        result = pg_event_remember(s, change->event_id, 0, change->now);
    if (result != STORE_OK)
        return result;
    pg_params_init(&p);
    pg_param_text(&p, change->content_id);
    pg_param_int(&p, change->now);
    pg_param_text(&p, change->filter);
    if (change->due_at != 0)
        pg_param_int(&p, change->due_at);
    PGresult *res =
        pg_query(s, change->stmt_id, change->sql, &p, change->op, &result);
    if (res == NULL)
        return result;

    int rows = PQntuples(res);
    for (int i = 0; result == STORE_OK && i < rows; i++) {
        result = audit_changed(s, change, res, i);
        if (result == STORE_OK && change->due_at == 0)
            result = pg_publish_check(s, pg_get_int(res, i, 1), change->now);
    }
    PQclear(res);
    if (result == STORE_OK)
        change->result.changed = (size_t)rows;
    if (rows > 0 && change->due_at != 0)
        s->notify = 1;
    return result;
}

static int run_content_change(struct pg_store *s, struct content_change *change,
                              const struct content_change_request *request,
                              struct content_change_result *out)
{
    char *filter = NULL;
    struct pg_op op = {change->op, PG_OP_TRANSACTION, change_body, change};
    int result = STORE_OK;

    if (change->content_id == NULL || change->content_id[0] == '\0')
        result = pg_error(s, STORE_INVALID, "missing content item id");
    if (result == STORE_OK && request->event_id != NULL)
        result = store_check_event_id(&s->base, request->event_id);
    if (result == STORE_OK)
        result = platform_filter(s, request->platforms, request->platform_count,
                                 &filter);
    change->filter = filter;
    if (result == STORE_OK)
        result = pg_run_op(s, &op);
    free(filter);
    if (out != NULL) {
        struct content_change_result none = {0};

        *out = result == STORE_OK ? change->result : none;
    }
    return result;
}

int pg_cancel_content(struct store *store,
                      const struct content_change_request *request, int64_t now,
                      struct content_change_result *result)
{
    struct content_change change = {
        .op = "cancel content",
        .action = "cancel",
        .status = "cancelled",
        .agent = request->agent,
        .content_id = request->content_id,
        .event_id = request->event_id,
        .now = now,
        .stmt_id = PG_CONTENT_CANCEL,
        .sql = sql_content_cancel,
    };

    return run_content_change(pg_store_of(store), &change, request, result);
}

int pg_reschedule_content(struct store *store,
                          const struct content_change_request *request,
                          int64_t now, struct content_change_result *result)
{
    struct pg_store *s = pg_store_of(store);
    struct content_change change = {
        .op = "reschedule content",
        .action = "reschedule",
        .status = "pending",
        .agent = request->agent,
        .content_id = request->content_id,
        .event_id = request->event_id,
        .now = now,
        .due_at = request->new_due,
        .stmt_id = PG_CONTENT_RESCHEDULE,
        .sql = sql_content_reschedule,
    };

    if (request->new_due <= 0)
        return pg_error(s, STORE_INVALID,
                        "invalid new due time %" PRId64
                        ": give milliseconds since the epoch",
                        request->new_due);
    return run_content_change(s, &change, request, result);
}
