/* Claiming due entries and finding the next due time (PostgreSQL store). */
#include "store/pg_internal.h"

#include <stdint.h>
#include <stdlib.h>

#include "store/store_check.h"
#include "store/store_platform_set.h"
#include "util/banned.h"

/*
 * One statement, so one round trip per batch. The ARRAY(SELECT ...)
 * walks the partial index entries_due in due order and locks up to $4
 * rows. It skips rows that another node has locked (FOR UPDATE SKIP
 * LOCKED), so concurrent claims neither wait for each other nor return
 * the same entry. $5 is the node's platform set as a JSON array, turned
 * into a text array once per statement, so the filter needs no SQL
 * built from values. The UPDATE takes the entries, the second CTE
 * starts their attempt rows, and the statement commits on its own.
 * Each row also carries the entry's job, for pg_job_cache_fill().
 *
 * The ids go through an array, not `id IN (SELECT ...)`, so that every
 * plan reaches the claimed rows by entries_pkey: the generic plan of
 * the IN form (LIMIT $4 unknown) hashed a scan of the whole table. The
 * job is read in a LATERAL subquery that OFFSET 0 keeps from being
 * flattened into a join. As a join, the planner hashed a scan of every
 * job for each claim, 1.8 ms of a 13 ms claim of 125 entries out of
 * 10,000 (EXPLAIN ANALYZE, PostgreSQL 15, loaded 2-core host).
 */
static const char sql_claim[] =
    "WITH claimed AS ("
    "  UPDATE entries SET status = 'publishing', claimed_from = status,"
    "  lease_node = $1::text, lease_expires_at = $2::bigint,"
    "  attempt_count = attempt_count + 1, updated_at = $3::bigint"
    "  WHERE id = ANY (ARRAY(SELECT id FROM entries"
    "    WHERE status IN ('pending', 'retrying') AND due_at <= $3::bigint"
    "    AND platform = ANY (ARRAY(SELECT jsonb_array_elements_text("
    "      $5::jsonb)))"
    "    AND platform NOT IN (SELECT platform FROM platform_state"
    "      WHERE paused_until > $3::bigint)"
    "    ORDER BY due_at, id LIMIT $4::bigint FOR UPDATE SKIP LOCKED))"
    "  RETURNING " PG_ENTRY_COLUMNS "),"
    " started AS ("
    "  INSERT INTO attempts (entry_id, number, started_at, node)"
    "  SELECT id, attempt_count, $3::bigint, $1::text FROM claimed)"
    " SELECT c.*, j.content_id, coalesce(j.event_id, ''), j.content_json,"
    " j.scheduled_at, j.created_at"
    " FROM claimed c CROSS JOIN LATERAL (SELECT * FROM jobs"
    "   WHERE jobs.id = c.job_id OFFSET 0) AS j"
    " ORDER BY c.due_at, c.id";

/* Columns of a claim row: the entry's job_id, and the job's first. */
#define CLAIM_JOB_COL 21
#define CLAIM_JOB_ID_COL 1

struct claim_args {
    const char *node;
    const char *platform_set; /* JSON array */
    int64_t now;
    int64_t lease_ms;
    size_t max;
    struct entry_list *list;
};

int pg_claim_statement(struct pg_store *s, const char *node,
                       const char *platform_set, int64_t now, int64_t lease_ms,
                       size_t max, struct entry_list *list)
{
    struct pg_params p;
    int result;

    entry_list_free(list);
    pg_params_init(&p);
    pg_param_text(&p, node);
    pg_param_int(&p, now + lease_ms);
    pg_param_int(&p, now);
    pg_param_int(&p, max > INT64_MAX ? INT64_MAX : (int64_t)max);
    pg_param_text(&p, platform_set);

    PGresult *res =
        pg_query(s, PG_CLAIM, sql_claim, &p, "claim due entries", &result);
    if (res == NULL)
        return result;
    result = pg_read_entries(s, res, list);
    if (result == STORE_OK)
        pg_job_cache_fill(s, res, CLAIM_JOB_ID_COL, CLAIM_JOB_COL);
    PQclear(res);
    return result;
}

static int claim_body(struct pg_store *s, void *arg)
{
    struct claim_args *a = arg;

    return pg_claim_statement(s, a->node, a->platform_set, a->now, a->lease_ms,
                              a->max, a->list);
}

int pg_claim_due(struct store *store, const char *node,
                 const char *const *platforms, size_t platform_count,
                 int64_t now, int64_t lease_ms, size_t max,
                 struct entry_list *list)
{
    struct claim_args args = {node, NULL, now, lease_ms, max, list};
    struct pg_op op = {"claim due entries", PG_OP_AUTOCOMMIT, claim_body,
                       &args};
    char *platform_set = NULL;
    int result;

    list->items = NULL;
    list->count = 0;
    result = store_check_claim(store, node, now, lease_ms);
    if (result == STORE_OK)
        result = store_platform_set_json(store, platforms, platform_count,
                                         &platform_set);
    if (result == STORE_OK && max > 0 && platform_count > 0) {
        args.platform_set = platform_set;
        result = pg_run_op(pg_store_of(store), &op);
    }
    free(platform_set);
    return result;
}

/*
 * Reads both times in one round trip, for the platforms of the JSON
 * array $1 only. The first is the earliest waiting entry whose platform
 * is not paused at its due time: per platform, read in due order from
 * entries_due_platform and stopping at the first hit, then the least of
 * those. The second is the earliest end of a pause that keeps a waiting
 * entry back.
 *
 * The walk goes one platform at a time because with `platform = ANY`
 * and no statistics of entries (a new table that small submits never
 * analyze, see pg_submit.c) PostgreSQL 15 planned a scan of every
 * waiting entry of the platforms and a sort: 3.9 ms for 5,400 entries,
 * against 0.16 ms for this form (EXPLAIN ANALYZE, loaded 2-core host).
 */
static const char sql_next_due[] =
    "SELECT (SELECT min(first.due_at)"
    "    FROM jsonb_array_elements_text($1::jsonb) AS wanted(platform),"
    "    LATERAL (SELECT due_at FROM entries AS e"
    "      WHERE status IN ('pending', 'retrying')"
    "      AND e.platform = wanted.platform"
    "      AND NOT EXISTS (SELECT 1 FROM platform_state p"
    "        WHERE p.platform = e.platform AND p.paused_until > e.due_at)"
    "      ORDER BY due_at LIMIT 1) AS first),"
    " (SELECT min(paused_until) FROM platform_state p"
    "    WHERE paused_until > 0"
    "    AND paused_until < 9223372036854775807"
    "    AND platform = ANY (ARRAY(SELECT jsonb_array_elements_text("
    "      $1::jsonb)))"
    "    AND EXISTS (SELECT 1 FROM entries e"
    "      WHERE e.platform = p.platform"
    "      AND e.status IN ('pending', 'retrying')"
    "      AND e.due_at < p.paused_until))";

struct next_due_args {
    const char *platform_set; /* JSON array */
    int64_t *due_at;
};

static int next_due_body(struct pg_store *s, void *arg)
{
    struct next_due_args *a = arg;
    int64_t *due_at = a->due_at;
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_text(&p, a->platform_set);

    PGresult *res = pg_query(s, PG_NEXT_DUE, sql_next_due, &p,
                             "find next due time", &result);

    if (res == NULL)
        return result;

    int has_entry = !PQgetisnull(res, 0, 0);
    int has_pause = !PQgetisnull(res, 0, 1);
    int64_t entry_due = pg_get_int(res, 0, 0);
    int64_t pause_end = pg_get_int(res, 0, 1);
    PQclear(res);

    if (!has_entry && !has_pause)
        return pg_error(s, STORE_NOT_FOUND,
                        "no entry of the given platforms is waiting");
    if (has_entry && (!has_pause || entry_due <= pause_end))
        *due_at = entry_due;
    else
        *due_at = pause_end;
    return STORE_OK;
}

int pg_next_due_at(struct store *store, const char *const *platforms,
                   size_t platform_count, int64_t *due_at)
{
    struct next_due_args args = {NULL, due_at};
    struct pg_op op = {"find next due time", PG_OP_AUTOCOMMIT, next_due_body,
                       &args};
    char *platform_set = NULL;
    int result = store_platform_set_json(store, platforms, platform_count,
                                         &platform_set);

    if (result != STORE_OK)
        return result;
    if (platform_count == 0) {
        result = pg_error(pg_store_of(store), STORE_NOT_FOUND,
                          "no entry is waiting: the platform set is empty");
    } else {
        args.platform_set = platform_set;
        result = pg_run_op(pg_store_of(store), &op);
    }
    free(platform_set);
    return result;
}
