/*
 * The sweeper of the PostgreSQL store. Each cron tick runs on one node:
 * a transaction-level advisory lock keeps two nodes from sweeping at the
 * same moment, and the tick's row in sweeper_ticks, written in the same
 * transaction, makes every node that comes later for the same tick
 * skip it.
 */
#include "store/pg_internal.h"

#include "util/banned.h"

/* The advisory lock key of the sweeper: "pubq" in ASCII, then 2. */
#define SWEEP_LOCK_KEY "8103491341993902082"

/* Sweeper ticks older than this are forgotten: no node runs that late. */
#define TICK_KEEP_MS (INT64_C(7) * 24 * 3600 * 1000)

/*
 * Takes the sweeper lock until the transaction ends, waiting up to
 * 30 s for a sweep running on another node. A cron tick does not merely
 * try the lock (pg_try_advisory_xact_lock): the holder may be sweeping
 * another tick (a run by hand, or a retry after a failure), and then
 * every node that found the lock taken would drop this tick. After the
 * wait, take_tick() finds out whether the holder did this tick.
 */
static int lock_sweeper(struct pg_store *s)
{
    static const char sql[] =
        "SELECT pg_advisory_xact_lock($1::bigint)"
        " FROM (SELECT set_config('lock_timeout', '30s', true)) AS t";
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, SWEEP_LOCK_KEY);
    return pg_exec(s, PG_SWEEP_LOCK, sql, &p, "take the sweeper lock");
}

/* Records the tick; *taken is 0 when another node recorded it first. */
static int take_tick(struct pg_store *s, int64_t tick_at, int64_t now,
                     const char *agent, int *taken)
{
    static const char sql_tick[] =
        "INSERT INTO sweeper_ticks (tick_at, agent_name, swept_at)"
        " VALUES ($1::bigint, $2::text, $3::bigint)"
        " ON CONFLICT (tick_at) DO NOTHING";
    static const char sql_prune[] =
        "DELETE FROM sweeper_ticks WHERE tick_at < $1::bigint";
    struct pg_params p;
    size_t rows = 0;

    pg_params_init(&p);
    pg_param_int(&p, tick_at);
    pg_param_text(&p, agent);
    pg_param_int(&p, now);
    int result = pg_exec_count(s, PG_SWEEP_TICK, sql_tick, &p,
                               "record sweeper tick", &rows);
    *taken = rows == 1;
    if (result != STORE_OK || !*taken)
        return result;

    pg_params_init(&p);
    pg_param_int(&p, tick_at - TICK_KEEP_MS);
    return pg_exec(s, PG_SWEEP_PRUNE, sql_prune, &p, "prune sweeper ticks");
}

/*
 * Entries that failed as "expired" or "outcome unknown" wait for an
 * operator: re-posting them could post late or twice.
 */
static const char sql_sweep_requeue[] =
    "UPDATE entries SET status = 'pending', retry_count = retry_count + 1,"
    " fail_reason = '', due_at = $1::bigint, updated_at = $1::bigint"
    " WHERE status = 'failed' AND retry_count < max_retries"
    " AND fail_reason NOT IN ('expired', 'outcome unknown')"
    " RETURNING id";

static int requeue_failed(struct pg_store *s, int64_t now, json_t *ids,
                          size_t *requeued)
{
    struct pg_params p;
    int result;

    *requeued = 0;
    pg_params_init(&p);
    pg_param_int(&p, now);
    PGresult *res = pg_query(s, PG_SWEEP_REQUEUE, sql_sweep_requeue, &p,
                             "re-queue failed entries", &result);
    if (res == NULL)
        return result;
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(ids, json_integer(pg_get_int(res, i, 0)));
    *requeued = (size_t)PQntuples(res);
    PQclear(res);
    return STORE_OK;
}

static int audit_sweep(struct pg_store *s, int64_t now, const char *agent,
                       const struct sweep_result *r, json_t *ids)
{
    json_t *metadata =
        json_pack("{s:I, s:I, s:O}", "requeued", (json_int_t)r->requeued,
                  "recovered", (json_int_t)r->recovered, "entries", ids);
    struct pg_audit record = {
        .at = now,
        .agent = agent,
        .action = "sweep",
        .status = "ok",
        .metadata = metadata,
    };
    int result = pg_audit_insert(s, &record);

    json_decref(metadata);
    return result;
}

struct sweep_args {
    int64_t now;
    int64_t tick_at;
    const char *agent;
    struct sweep_result counts;
};

/* Runs the sweep unless another node has done this tick. */
static int sweep_body(struct pg_store *s, void *arg)
{
    struct sweep_args *a = arg;
    struct sweep_result *counts = &a->counts;
    int taken = 1;
    int result = lock_sweeper(s);

    *counts = (struct sweep_result){0};
    if (result == STORE_OK && a->tick_at != 0)
        result = take_tick(s, a->tick_at, a->now, a->agent, &taken);
    if (result != STORE_OK || !taken) {
        counts->skipped = result == STORE_OK;
        return result;
    }

    json_t *ids = json_array();
    result = pg_recover_expired(s, a->now, a->agent, &counts->recovered);
    if (result == STORE_OK)
        result = requeue_failed(s, a->now, ids, &counts->requeued);
    if (result == STORE_OK)
        result = audit_sweep(s, a->now, a->agent, counts, ids);
    json_decref(ids);
    if (counts->requeued > 0)
        s->notify = 1;
    return result;
}

int pg_sweep(struct store *store, int64_t now, int64_t tick_at,
             const char *agent, struct sweep_result *result_out)
{
    struct sweep_args args = {
        .now = now,
        .tick_at = tick_at,
        .agent = agent != NULL ? agent : "sweeper",
    };
    struct pg_op op = {"sweep", PG_OP_TRANSACTION, sweep_body, &args};
    int result = pg_run_op(pg_store_of(store), &op);

    if (result_out != NULL)
        *result_out =
            result == STORE_OK ? args.counts : (struct sweep_result){0};
    return result;
}
