/* Attempt totals per platform for the metrics endpoint (SQLite store). */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

const int64_t store_latency_bounds_ms[STORE_LATENCY_BUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000};

/*
 * One row per (platform, outcome, finished): the count, the retries,
 * the latency sum and one cumulative count per bucket bound (?1..?12).
 */
static const char sql_attempt_stats[] =
    "SELECT e.platform, a.outcome, a.finished, count(*),"
    " sum(a.number > 1), sum(a.latency_ms),"
    " sum(a.latency_ms <= ?1), sum(a.latency_ms <= ?2),"
    " sum(a.latency_ms <= ?3), sum(a.latency_ms <= ?4),"
    " sum(a.latency_ms <= ?5), sum(a.latency_ms <= ?6),"
    " sum(a.latency_ms <= ?7), sum(a.latency_ms <= ?8),"
    " sum(a.latency_ms <= ?9), sum(a.latency_ms <= ?10),"
    " sum(a.latency_ms <= ?11), sum(a.latency_ms <= ?12)"
    " FROM attempts a JOIN entries e ON e.id = a.entry_id"
    " GROUP BY e.platform, a.outcome, a.finished ORDER BY e.platform";

/* Returns the list item of `platform`, appending one when it is new. */
static struct attempt_stats *stats_for(struct attempt_stats_list *list,
                                       size_t *capacity, const char *platform)
{
    struct attempt_stats *item;

    if (list->count > 0 &&
        strcmp(list->items[list->count - 1].platform, platform) == 0)
        return &list->items[list->count - 1];

    if (list->count == *capacity) {
        size_t grown = *capacity == 0 ? 8 : *capacity * 2;
        struct attempt_stats *items =
            realloc(list->items, grown * sizeof *items);

        if (items == NULL)
            return NULL;
        list->items = items;
        *capacity = grown;
    }
    item = &list->items[list->count++];
    memset(item, 0, sizeof *item);
    snprintf(item->platform, sizeof item->platform, "%s", platform);
    return item;
}

static void add_row(sqlite3_stmt *stmt, struct attempt_stats *item)
{
    const char *name = (const char *)sqlite3_column_text(stmt, 1);
    int64_t count = sqlite3_column_int64(stmt, 3);
    enum outcome outcome;

    item->retries += sqlite3_column_int64(stmt, 4);
    /* A running attempt has no outcome yet. */
    if (name != NULL && outcome_parse(name, &outcome) == 0)
        item->by_outcome[outcome] += count;

    /* Only a finished attempt has a measured latency. */
    if (sqlite3_column_int(stmt, 2) == 0)
        return;
    item->latency_count += count;
    item->latency_sum_ms += sqlite3_column_int64(stmt, 5);
    for (int i = 0; i < STORE_LATENCY_BUCKETS; i++)
        item->latency_buckets[i] += sqlite3_column_int64(stmt, 6 + i);
}

int sqlite_attempt_stats(struct store *store, struct attempt_stats_list *list)
{
    struct sqlite_store *s = sqlite_store_of(store);
    size_t capacity = 0;
    int result = STORE_OK;
    int rc;
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ATTEMPT_STATS, sql_attempt_stats,
                                     "read attempt totals");

    list->items = NULL;
    list->count = 0;
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    for (int i = 0; i < STORE_LATENCY_BUCKETS; i++)
        sqlite3_bind_int64(stmt, i + 1, store_latency_bounds_ms[i]);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *platform = (const char *)sqlite3_column_text(stmt, 0);
        struct attempt_stats *item =
            stats_for(list, &capacity, platform != NULL ? platform : "");

        if (item == NULL) {
            result = sqlite_error(s, STORE_ERROR,
                                  "out of memory reading attempt totals");
            break;
        }
        add_row(stmt, item);
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, "read attempt totals");

    sqlite_done(stmt);
    if (result != STORE_OK)
        attempt_stats_list_free(list);
    return result;
}
