/* Applying attempt results to entries (PostgreSQL store). */
#include "store/pg_internal.h"

#include <inttypes.h>
#include <string.h>

#include "store/store_check.h"
#include "util/log.h"
#include "util/banned.h"

/* Fields of the changed entry, as the conditional update returns them. */
struct completed {
    int64_t job_id;
    char content_id[STORE_ID_MAX];
    char platform[STORE_NAME_MAX];
    uint32_t max_retries;
};

/*
 * The conditional update of the entry and the closing of its attempt in
 * one statement: the attempt changes only when the entry did.
 */
static const char sql_complete[] =
    "WITH done AS ("
    "  UPDATE entries SET status = $1::text, retry_count = $2::integer,"
    "  due_at = CASE WHEN $1::text = 'retrying' THEN $3::bigint"
    "    ELSE due_at END,"
    "  rate_limit_waited_ms = $4::bigint, fail_reason = $5::text,"
    "  last_error = coalesce($6::text,"
    "    CASE WHEN $1::text = 'published' THEN '' ELSE last_error END),"
    "  published_at = CASE WHEN $1::text = 'published' THEN $7::bigint"
    "    ELSE published_at END,"
    "  post_id = coalesce($8::text, post_id),"
    "  post_url = coalesce($9::text, post_url),"
    "  lease_node = NULL, lease_expires_at = 0, claimed_from = NULL,"
    "  first_round_status = CASE WHEN first_round_done"
    "    THEN first_round_status ELSE $1::text END,"
    "  first_round_done = true, updated_at = $7::bigint"
    "  WHERE id = $10::bigint AND status = 'publishing'"
    "  AND lease_node = $11::text AND attempt_count = $12::integer"
    "  RETURNING job_id, content_id, platform, max_retries),"
    " closed AS ("
    "  UPDATE attempts SET ended_at = $7::bigint, finished = true,"
    "  outcome = $13::text, http_status = $14::integer,"
    "  latency_ms = $15::bigint, error = coalesce($6::text, ''),"
    "  started_at = CASE WHEN $16::bigint > 0 THEN $16::bigint"
    "    ELSE started_at END"
    "  WHERE entry_id = $10::bigint AND number = $12::integer"
    "  AND EXISTS (SELECT 1 FROM done))"
    " SELECT job_id, content_id, platform, max_retries FROM done";

static void bind_completion(struct pg_params *p,
                            const struct attempt_completion *c)
{
    const char *fail_reason =
        c->next_status == ENTRY_FAILED ? c->fail_reason : NULL;

    pg_param_text(p, entry_status_name(c->next_status));
    pg_param_int(p, c->retry_count);
    pg_param_int(p, c->due_at);
    pg_param_int(p, c->rate_limit_waited_ms);
    pg_param_text_max(p, fail_reason, STORE_NAME_MAX);
    if (c->error != NULL)
        pg_param_text_max(p, c->error, STORE_TEXT_MAX);
    else
        pg_param_text(p, NULL);
    pg_param_int(p, c->ended_at);
    if (c->post_id != NULL)
        pg_param_text_max(p, c->post_id, STORE_ID_MAX);
    else
        pg_param_text(p, NULL);
    if (c->post_url != NULL)
        pg_param_text_max(p, c->post_url, STORE_URL_MAX);
    else
        pg_param_text(p, NULL);
    pg_param_int(p, c->entry_id);
    pg_param_text(p, c->node);
    pg_param_int(p, c->attempt_number);
    pg_param_text(p, outcome_name(c->outcome));
    pg_param_int(p, c->http_status);
    pg_param_int(p, c->latency_ms);
    pg_param_int(p, c->started_at);
}

/* Runs the conditional update; *won is 0 when the entry moved on. */
static int update_entry(struct pg_store *s, const struct attempt_completion *c,
                        int *won, struct completed *out)
{
    struct pg_params p;
    int result;

    *won = 0;
    pg_params_init(&p);
    bind_completion(&p, c);
    PGresult *res =
        pg_query(s, PG_COMPLETE, sql_complete, &p, "complete attempt", &result);
    pg_params_clear(&p);
    if (res == NULL)
        return result;

    if (PQntuples(res) > 0) {
        *won = 1;
        out->job_id = pg_get_int(res, 0, 0);
        pg_get_text(res, 0, 1, out->content_id, sizeof out->content_id);
        pg_get_text(res, 0, 2, out->platform, sizeof out->platform);
        out->max_retries = (uint32_t)pg_get_int(res, 0, 3);
    }
    PQclear(res);
    return STORE_OK;
}

/* Writes the "retry" audit record of an applied result, if one is due. */
static int audit_retry(struct pg_store *s, const struct attempt_completion *c,
                       const struct completed *done)
{
    json_t *metadata = NULL;
    const char *status = store_retry_audit(c, done->max_retries, &metadata);

    if (status == NULL)
        return STORE_OK;

    struct pg_audit record = {
        .at = c->ended_at,
        .agent = "queue-manager",
        .action = "retry",
        .content_id = done->content_id,
        .entry_id = c->entry_id,
        .platform = done->platform,
        .status = status,
        .metadata = metadata,
    };
    int result = pg_audit_insert(s, &record);
    json_decref(metadata);
    return result;
}

static int apply_one(struct pg_store *s, const struct attempt_completion *c,
                     int *applied)
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

    /* A retry may now be due before anything another node waits for. */
    if (c->next_status == ENTRY_RETRYING)
        s->notify = 1;
    result = audit_retry(s, c, &done);
    if (result == STORE_OK && c->pause_until > 0)
        result = pg_pause(s, done.platform, c->pause_until, c->pause_reason,
                          c->ended_at, "queue-manager", 1);
    if (result == STORE_OK)
        result = pg_publish_check(s, done.job_id, c->ended_at);
    return result;
}

struct complete_args {
    const struct attempt_completion *completions;
    size_t count;
    int *applied;
};

static int complete_body(struct pg_store *s, void *arg)
{
    struct complete_args *a = arg;
    int result = STORE_OK;

    for (size_t i = 0; i < a->count; i++)
        a->applied[i] = 0;
    for (size_t i = 0; result == STORE_OK && i < a->count; i++)
        result = apply_one(s, &a->completions[i], &a->applied[i]);
    return result;
}

/*
 * NOTE: the batch runs one statement per completion (two more when the
 * job's first round ends) inside one transaction, not one statement for
 * the whole batch: the publish audit and pauses need per-entry results.
 */
int pg_complete_attempts(struct store *store,
                         const struct attempt_completion *completions,
                         size_t count, int *applied)
{
    struct complete_args args = {completions, count, applied};
    struct pg_op op = {"complete attempts", PG_OP_TRANSACTION, complete_body,
                       &args};
    int result = store_check_completions(store, completions, count, applied);

    if (result != STORE_OK || count == 0)
        return result;

    result = pg_run_op(pg_store_of(store), &op);
    /* Nothing was written, so nothing counts as applied. */
    if (result != STORE_OK) {
        for (size_t i = 0; i < count; i++)
            applied[i] = 0;
    }
    return result;
}
