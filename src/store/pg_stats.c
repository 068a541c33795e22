/* Attempt totals per platform for the metrics endpoint (PostgreSQL). */
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/*
 * One row per (platform, outcome, finished): the count, the retries,
 * the latency sum and one cumulative count per bucket bound ($1..$12).
 */
static const char sql_attempt_stats[] =
    "SELECT e.platform, a.outcome, a.finished, count(*),"
    " count(*) FILTER (WHERE a.number > 1), coalesce(sum(a.latency_ms), 0),"
    " count(*) FILTER (WHERE a.latency_ms <= $1::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $2::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $3::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $4::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $5::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $6::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $7::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $8::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $9::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $10::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $11::bigint),"
    " count(*) FILTER (WHERE a.latency_ms <= $12::bigint)"
    " FROM attempts a JOIN entries e ON e.id = a.entry_id"
    " GROUP BY e.platform, a.outcome, a.finished ORDER BY e.platform";

static void add_row(const PGresult *res, int row, struct attempt_stats *item)
{
    int64_t count = pg_get_int(res, row, 3);
    enum outcome outcome;

    item->retries += pg_get_int(res, row, 4);
    /* A running attempt has no outcome yet. */
    if (!PQgetisnull(res, row, 1) &&
        outcome_parse(PQgetvalue(res, row, 1), &outcome) == 0)
        item->by_outcome[outcome] += count;

    /* Only a finished attempt has a measured latency. */
    if (!pg_get_bool(res, row, 2))
        return;
    item->latency_count += count;
    item->latency_sum_ms += pg_get_int(res, row, 5);
    for (int i = 0; i < STORE_LATENCY_BUCKETS; i++)
        item->latency_buckets[i] += pg_get_int(res, row, 6 + i);
}

/* Folds the rows, sorted by platform, into one item per platform. */
static int fold_rows(struct pg_store *s, const PGresult *res,
                     struct attempt_stats_list *list)
{
    int rows = PQntuples(res);

    if (rows == 0)
        return STORE_OK;
    list->items = calloc((size_t)rows, sizeof *list->items);
    if (list->items == NULL)
        return pg_error(s, STORE_ERROR, "out of memory reading attempt totals");
    for (int i = 0; i < rows; i++) {
        const char *platform = PQgetvalue(res, i, 0);
        struct attempt_stats *item =
            list->count > 0 ? &list->items[list->count - 1] : NULL;

        if (item == NULL || strcmp(item->platform, platform) != 0) {
            item = &list->items[list->count++];
            snprintf(item->platform, sizeof item->platform, "%s", platform);
        }
        add_row(res, i, item);
    }
    return STORE_OK;
}

static int stats_body(struct pg_store *s, void *arg)
{
    struct attempt_stats_list *list = arg;
    struct pg_params p;
    int result;

    attempt_stats_list_free(list);
    pg_params_init(&p);
    for (int i = 0; i < STORE_LATENCY_BUCKETS; i++)
        pg_param_int(&p, store_latency_bounds_ms[i]);
    PGresult *res = pg_query(s, PG_ATTEMPT_STATS, sql_attempt_stats, &p,
                             "read attempt totals", &result);
    if (res == NULL)
        return result;
    result = fold_rows(s, res, list);
    PQclear(res);
    if (result != STORE_OK)
        attempt_stats_list_free(list);
    return result;
}

int pg_attempt_stats(struct store *store, struct attempt_stats_list *list)
{
    struct pg_op op = {"read attempt totals", PG_OP_AUTOCOMMIT, stats_body,
                       list};

    list->items = NULL;
    list->count = 0;
    return pg_run_op(pg_store_of(store), &op);
}
