/* Applying attempt results to entries (PostgreSQL store). */
#include "store/pg_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_check.h"
#include "util/log.h"
#include "util/banned.h"

/* Fields of a changed entry, as the batch update returns them. */
struct completed {
    int64_t job_id;
    char content_id[STORE_ID_MAX];
    char platform[STORE_NAME_MAX];
    uint32_t max_retries;
    int job_open; /* the job's round is to be checked (see sql_complete) */
};

/*
 * The whole batch in one statement. $1 is a JSON array with one object
 * per completion, and `ord` is its index in the batch. The conditional
 * update changes each entry that is still `publishing` under the same
 * lease node and attempt number. The attempts of exactly those entries
 * are closed, but for an attempt that sent no request (`dropped`), which
 * is deleted and taken off attempt_count. One row comes back per changed
 * entry, with a flag that is true when its job goes to
 * pg_publish_rounds().
 *
 * A job with several entries goes there only while its "publish"
 * record is missing, and is locked first, in id order, because another
 * node may finish one of its other entries at the same time. A job with
 * one entry always goes there unlocked: only a change of that entry,
 * which the update holds, could finish its round, and the check itself
 * skips a job whose record exists.
 *
 * Of several results for one entry, the first that matches wins, as if
 * they were applied one by one: the later ones find the entry moved on.
 *
 * The update compares the status with c.leased, not with a constant,
 * so that the planner cannot walk the partial index entries_lease and
 * test every leased entry against every result. Its statistics of that
 * index are seldom right, because the index grows and empties within
 * seconds. It then reaches each entry by its primary key.
 */
static const char sql_complete[] =
    "WITH input AS ("
    "  SELECT * FROM json_to_recordset($1::json) AS r(ord integer,"
    "  entry_id bigint, attempt integer, node text, status text,"
    "  retry_count integer, due_at bigint, waited bigint,"
    "  fail_reason text, error text, ended_at bigint, post_id text,"
    "  post_url text, outcome text, http_status integer,"
    "  latency_ms bigint, started_at bigint, dropped boolean)),"
    " chosen AS MATERIALIZED ("
    "  SELECT DISTINCT ON (i.entry_id) i.*, 'publishing' AS leased"
    "  FROM input i"
    "  JOIN entries e ON e.id = i.entry_id AND e.status = 'publishing'"
    "  AND e.lease_node = i.node AND e.attempt_count = i.attempt"
    "  ORDER BY i.entry_id, i.ord),"
    " done AS ("
    "  UPDATE entries e SET status = c.status, retry_count = c.retry_count,"
    "  due_at = CASE WHEN c.status = 'retrying' THEN c.due_at"
    "    ELSE e.due_at END,"
    "  rate_limit_waited_ms = c.waited, fail_reason = c.fail_reason,"
    "  last_error = coalesce(c.error,"
    "    CASE WHEN c.status = 'published' THEN '' ELSE e.last_error END),"
    "  published_at = CASE WHEN c.status = 'published' THEN c.ended_at"
    "    ELSE e.published_at END,"
    "  post_id = coalesce(c.post_id, e.post_id),"
    "  post_url = coalesce(c.post_url, e.post_url),"
    "  lease_node = NULL, lease_expires_at = 0, claimed_from = NULL,"
    "  first_round_status = CASE WHEN e.first_round_done"
    "    THEN e.first_round_status ELSE c.status END,"
    "  first_round_done = true, updated_at = c.ended_at,"
    "  attempt_count = e.attempt_count - CASE WHEN c.dropped THEN 1 ELSE 0"
    "    END"
    "  FROM chosen c WHERE e.id = c.entry_id AND e.status = c.leased"
    "  AND e.lease_node = c.node AND e.attempt_count = c.attempt"
    "  RETURNING c.ord, c.entry_id, c.attempt, c.ended_at, c.outcome,"
    "  c.http_status, c.latency_ms, c.error, c.started_at, c.dropped,"
    "  e.job_id, e.content_id, e.platform, e.max_retries),"
    " closed AS ("
    "  UPDATE attempts a SET ended_at = d.ended_at, finished = true,"
    "  outcome = d.outcome, http_status = d.http_status,"
    "  latency_ms = d.latency_ms, error = coalesce(d.error, ''),"
    "  started_at = CASE WHEN d.started_at > 0 THEN d.started_at"
    "    ELSE a.started_at END"
    "  FROM done d WHERE a.entry_id = d.entry_id AND a.number = d.attempt"
    "  AND NOT d.dropped),"
    " dropped AS ("
    "  DELETE FROM attempts a USING done d WHERE a.entry_id = d.entry_id"
    "  AND a.number = d.attempt AND d.dropped),"
    " shared AS MATERIALIZED ("
    "  SELECT DISTINCT d.job_id FROM done d WHERE EXISTS (SELECT 1"
    "    FROM entries o WHERE o.job_id = d.job_id OFFSET 1)),"
    " locked AS MATERIALIZED ("
    "  SELECT id FROM jobs WHERE id IN (SELECT job_id FROM shared)"
    "  AND NOT publish_audited ORDER BY id FOR UPDATE)"
    " SELECT d.ord, d.job_id, d.content_id, d.platform, d.max_retries,"
    " d.job_id IN (SELECT id FROM locked)"
    " OR d.job_id NOT IN (SELECT job_id FROM shared)"
    " FROM done d ORDER BY d.ord";

struct complete_args {
    const struct attempt_completion *completions;
    size_t count;
    int *applied;
    struct completed *done; /* count items; valid where applied[i] */
};

/* The completion as one object of sql_complete's $1. */
static json_t *completion_row(size_t index, const struct attempt_completion *c)
{
    const char *fail_reason =
        c->next_status == ENTRY_FAILED && c->fail_reason != NULL
            ? c->fail_reason
            : "";

    /* The node is compared, not stored, so it is never cut short. */
    return json_pack(
        "{s:I, s:I, s:I, s:o, s:s, s:I, s:I, s:I, s:o, s:o, s:I, s:o, s:o,"
        " s:s, s:i, s:I, s:I, s:b}",
        "ord", (json_int_t)index, "entry_id", (json_int_t)c->entry_id,
        "attempt", (json_int_t)c->attempt_number, "node",
        pg_json_text_max(c->node, strlen(c->node) + 1), "status",
        entry_status_name(c->next_status), "retry_count",
        (json_int_t)c->retry_count, "due_at", (json_int_t)c->due_at, "waited",
        (json_int_t)c->rate_limit_waited_ms, "fail_reason",
        pg_json_text_max(fail_reason, STORE_NAME_MAX), "error",
        pg_json_text_max(c->error, STORE_TEXT_MAX), "ended_at",
        (json_int_t)c->ended_at, "post_id",
        pg_json_text_max(c->post_id, STORE_ID_MAX), "post_url",
        pg_json_text_max(c->post_url, STORE_URL_MAX), "outcome",
        outcome_name(c->outcome), "http_status", c->http_status, "latency_ms",
        (json_int_t)c->latency_ms, "started_at", (json_int_t)c->started_at,
        "dropped", c->not_attempted != 0);
}

static char *completion_rows(const struct complete_args *a)
{
    json_t *rows = json_array();
    char *text = NULL;
    size_t i = 0;

    while (rows != NULL && i < a->count &&
           json_array_append_new(rows, completion_row(i, &a->completions[i])) ==
               0)
        i++;
    if (rows != NULL && i == a->count)
        text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    return text;
}

/* Runs sql_complete and fills applied[] and done[] from its rows. */
static int update_entries(struct pg_store *s, const struct complete_args *a)
{
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_owned(&p, completion_rows(a));
    PGresult *res = pg_query(s, PG_COMPLETE, sql_complete, &p,
                             "complete attempts", &result);
    pg_params_clear(&p);
    if (res == NULL)
        return result;

    for (int row = 0; row < PQntuples(res); row++) {
        int64_t ord = pg_get_int(res, row, 0);
        struct completed *out;

        if (ord < 0 || (uint64_t)ord >= a->count)
            continue;
        out = &a->done[ord];
        a->applied[ord] = 1;
        out->job_id = pg_get_int(res, row, 1);
        pg_get_text(res, row, 2, out->content_id, sizeof out->content_id);
        pg_get_text(res, row, 3, out->platform, sizeof out->platform);
        out->max_retries = (uint32_t)pg_get_int(res, row, 4);
        out->job_open = pg_get_bool(res, row, 5);
    }
    PQclear(res);
    return STORE_OK;
}

/* Adds the "retry" audit record of an applied result, if one is due. */
static int audit_retry(struct pg_store *s, const struct attempt_completion *c,
                       const struct completed *done,
                       struct pg_audit_batch *audit)
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
    int result = pg_audit_batch_add(s, audit, &record);
    json_decref(metadata);
    return result;
}

/* Writes what follows from each applied result but the publish check. */
static int apply_effects(struct pg_store *s, const struct complete_args *a,
                         struct pg_audit_batch *audit)
{
    int result = STORE_OK;

    for (size_t i = 0; result == STORE_OK && i < a->count; i++) {
        const struct attempt_completion *c = &a->completions[i];

        if (!a->applied[i]) {
            log_warn("store",
                     "lost race completing attempt entry=%" PRId64
                     " attempt=%" PRIu32 " node=%s: the entry moved on",
                     c->entry_id, c->attempt_number, c->node);
            continue;
        }

        /* A retry may now be due before anything another node waits for. */
        if (c->next_status == ENTRY_RETRYING)
            s->notify = 1;
        result = audit_retry(s, c, &a->done[i], audit);
        if (result == STORE_OK && c->pause_until > 0)
            result = pg_pause(s, a->done[i].platform, c->pause_until,
                              c->pause_reason, c->ended_at, "queue-manager", 1,
                              audit);
    }
    return result;
}

/* A job's round and the index of its last result in the batch. */
struct job_pick {
    struct pg_job_round round;
    size_t index;
};

static int by_job_then_index(const void *x, const void *y)
{
    const struct job_pick *a = x;
    const struct job_pick *b = y;

    if (a->round.job_id != b->round.job_id)
        return a->round.job_id < b->round.job_id ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int by_index(const void *x, const void *y)
{
    const struct job_pick *a = x;
    const struct job_pick *b = y;

    return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * Lists each job to check once, at the time of its last applied result,
 * in the order of those results: the order and time in which results
 * applied one by one would have found the round over.
 */
static size_t pick_open_jobs(const struct complete_args *a,
                             struct job_pick *picks)
{
    size_t count = 0;
    size_t kept = 0;

    for (size_t i = 0; i < a->count; i++) {
        if (!a->applied[i] || !a->done[i].job_open)
            continue;
        picks[count].round.job_id = a->done[i].job_id;
        picks[count].round.at = a->completions[i].ended_at;
        picks[count].index = i;
        count++;
    }
    qsort(picks, count, sizeof *picks, by_job_then_index);
    for (size_t i = 0; i < count; i++) {
        if (i + 1 < count && picks[i + 1].round.job_id == picks[i].round.job_id)
            continue;
        picks[kept++] = picks[i];
    }
    qsort(picks, kept, sizeof *picks, by_index);
    return kept;
}

/*
 * Checks the rounds of those jobs and writes every audit record of
 * the batch, in the statement that commits.
 */
static int check_rounds(struct pg_store *s, const struct complete_args *a,
                        struct pg_audit_batch *audit)
{
    struct job_pick *picks = calloc(a->count, sizeof *picks);
    struct pg_job_round *rounds = calloc(a->count, sizeof *rounds);
    int result = STORE_OK;

    if (picks == NULL || rounds == NULL)
        result =
            pg_error(s, STORE_ERROR,
                     "out of memory checking %zu publish rounds", a->count);
    size_t count = result == STORE_OK ? pick_open_jobs(a, picks) : 0;

    for (size_t i = 0; i < count; i++)
        rounds[i] = picks[i].round;
    if (result == STORE_OK)
        result = pg_publish_rounds(s, rounds, count, audit, 1);
    free(picks);
    free(rounds);
    return result;
}

static int complete_body(struct pg_store *s, void *arg)
{
    struct complete_args *a = arg;
    struct pg_audit_batch audit;
    int result;

    memset(a->applied, 0, a->count * sizeof *a->applied);
    pg_audit_batch_init(&audit);
    result = update_entries(s, a);
    if (result == STORE_OK)
        result = apply_effects(s, a, &audit);
    if (result == STORE_OK)
        result = check_rounds(s, a, &audit);
    pg_audit_batch_clear(&audit);
    return result;
}

int pg_complete_statements(struct pg_store *s,
                           const struct attempt_completion *completions,
                           size_t count, int *applied)
{
    struct complete_args args = {completions, count, applied, NULL};
    int result;

    args.done = calloc(count, sizeof *args.done);
    if (args.done == NULL)
        return pg_error(s, STORE_ERROR,
                        "out of memory completing %zu attempts", count);
    result = complete_body(s, &args);
    free(args.done);
    return result;
}

/*
 * The batch costs two round trips whatever its size. The first sends
 * BEGIN with the update of every entry and its attempt, and the locks
 * of jobs with several entries. The second sends the publish check of
 * the jobs and the insert of every audit record with NOTIFY and
 * COMMIT. Only pauses, which are rare, add a statement each.
 */
int pg_complete_attempts(struct store *store,
                         const struct attempt_completion *completions,
                         size_t count, int *applied)
{
    struct complete_args args = {completions, count, applied, NULL};
    struct pg_op op = {"complete attempts", PG_OP_TRANSACTION, complete_body,
                       &args};
    int result = store_check_completions(store, completions, count, applied);

    if (result != STORE_OK || count == 0)
        return result;

    args.done = calloc(count, sizeof *args.done);
    if (args.done == NULL)
        return pg_error(pg_store_of(store), STORE_ERROR,
                        "out of memory completing %zu attempts", count);
    result = pg_run_op(pg_store_of(store), &op);
    free(args.done);

    /* Nothing was written, so nothing counts as applied. */
    if (result != STORE_OK) {
        for (size_t i = 0; i < count; i++)
            applied[i] = 0;
    }
    return result;
}
