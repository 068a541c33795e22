/*
 * Claiming entries ahead of their due time, starting their attempts at
 * the due time, and putting back claims whose attempt never started
 * (PostgreSQL store). An attempt claimed ahead has started_at = 0 until
 * start_claimed stamps it.
 *
 * A start and a cancel must never both win. The start locks the entry
 * row before it stamps the attempt, and every writer that takes a claim
 * back locks the entry row first and reads the attempt in a later
 * statement. Under READ COMMITTED that statement sees a start that
 * committed while the lock waited, and a start that waited for the lock
 * finds the entry changed and starts nothing.
 */
#include "store/pg_internal.h"

#include <stdint.h>
#include <stdlib.h>

#include "store/store_check.h"
#include "store/store_platform_set.h"
#include "util/banned.h"

/*
 * The claim statement of claim_due, for entries due in ($3, $6]. The
 * lease runs from the due time, so that the wait before it uses none of
 * the lease. The attempt row starts with started_at 0: not started.
 */
static const char sql_claim_ahead[] =
    "WITH claimed AS ("
    "  UPDATE entries SET status = 'publishing', claimed_from = status,"
    "  lease_node = $1::text, lease_expires_at = due_at + $2::bigint,"
    "  attempt_count = attempt_count + 1, updated_at = $3::bigint"
    "  WHERE id IN (SELECT id FROM entries e"
    "    WHERE status IN ('pending', 'retrying')"
    "    AND due_at > $3::bigint AND due_at <= $6::bigint"
    "    AND platform = ANY (ARRAY(SELECT jsonb_array_elements_text("
    "      $5::jsonb)))"
    "    AND NOT EXISTS (SELECT 1 FROM platform_state p"
    "      WHERE p.platform = e.platform AND p.paused_until > e.due_at)"
    "    ORDER BY due_at, id LIMIT $4::bigint FOR UPDATE SKIP LOCKED)"
    "  RETURNING " PG_ENTRY_COLUMNS "),"
    " reserved AS ("
    "  INSERT INTO attempts (entry_id, number, started_at, node)"
    "  SELECT id, attempt_count, 0, $1::text FROM claimed)"
    " SELECT " PG_ENTRY_COLUMNS " FROM claimed ORDER BY due_at, id";

/*
 * $2, $3 and $4 are arrays of entry ids, attempt numbers and due times.
 * FOR UPDATE makes a concurrent take-back wait for this transaction, or
 * this statement wait for it and then skip the entry it changed. The
 * IN list becomes a hash join; a join with unnest() directly was planned
 * as a nested loop, a million comparisons for 1,000 claims.
 */
static const char sql_claim_start[] =
    "WITH locked AS ("
    "  SELECT e.id, e.attempt_count FROM entries e"
    "  WHERE e.id = ANY ($2::bigint[])"
    "  AND (e.id, e.attempt_count::bigint, e.due_at) IN (SELECT * FROM"
    "    unnest($2::bigint[], $3::bigint[], $4::bigint[]))"
    "  AND e.status = 'publishing' AND e.lease_node = $5::text"
    "  FOR UPDATE)"
    " UPDATE attempts a SET started_at = $1::bigint FROM locked l"
    " WHERE a.entry_id = l.id AND a.number = l.attempt_count"
    " AND a.started_at = 0"
    " RETURNING a.entry_id";

/* Locks the entries a take-back may change; see the file comment. */
static const char sql_lock_entry[] =
    "SELECT id FROM entries WHERE id = $1::bigint"
    " AND status = 'publishing' FOR UPDATE";

static const char sql_lock_content[] =
    "SELECT id FROM entries WHERE content_id = $1::text"
    " AND status = 'publishing'"
    " AND ($2::json IS NULL OR platform IN"
    "   (SELECT json_array_elements_text($2::json)))"
    " FOR UPDATE";

#define UNSTARTED                                                              \
    " e.status = 'publishing' AND EXISTS (SELECT 1 FROM attempts a"            \
    "   WHERE a.entry_id = e.id AND a.number = e.attempt_count"                \
    "   AND a.started_at = 0)"

#define UNCLAIM_SET                                                            \
    "WITH back AS (UPDATE entries e"                                           \
    " SET status = coalesce(claimed_from, 'pending'),"                         \
    " attempt_count = attempt_count - 1, lease_node = NULL,"                   \
    " lease_expires_at = 0, claimed_from = NULL, updated_at = $1::bigint"

#define UNCLAIM_END                                                            \
    " RETURNING e.id, e.attempt_count + 1 AS number)"                          \
    " DELETE FROM attempts a USING back b"                                     \
    " WHERE a.entry_id = b.id AND a.number = b.number AND a.started_at = 0"    \
    " RETURNING a.entry_id"

static const char sql_unclaim_entry[] =
    UNCLAIM_SET " WHERE e.id = $2::bigint AND" UNSTARTED UNCLAIM_END;

static const char sql_unclaim_content[] =
    UNCLAIM_SET " WHERE e.content_id = $2::text"
    " AND ($3::json IS NULL OR e.platform IN"
    "   (SELECT json_array_elements_text($3::json)))"
    " AND" UNSTARTED UNCLAIM_END;

/* The claims ($2, entry ids) of $3 whose platform is paused at $4. */
static const char sql_unclaim_paused[] =
    UNCLAIM_SET " WHERE e.id = ANY ($2::bigint[]) AND e.lease_node = $3::text"
    " AND e.platform IN (SELECT platform FROM platform_state"
    "   WHERE paused_until > $4::bigint)"
    " AND" UNSTARTED UNCLAIM_END;

struct claim_ahead_args {
    const char *node;
    const char *platform_set; /* JSON array */
    int64_t now;
    int64_t until;
    int64_t lease_ms;
    size_t max;
    struct entry_list *list;
};

static int claim_ahead_body(struct pg_store *s, void *arg)
{
    struct claim_ahead_args *a = arg;
    struct pg_params p;
    int result;

    entry_list_free(a->list);
    pg_params_init(&p);
    pg_param_text(&p, a->node);
    pg_param_int(&p, a->lease_ms);
    pg_param_int(&p, a->now);
    pg_param_int(&p, a->max > INT64_MAX ? INT64_MAX : (int64_t)a->max);
    pg_param_text(&p, a->platform_set);
    pg_param_int(&p, a->until);

    PGresult *res = pg_query(s, PG_CLAIM_AHEAD, sql_claim_ahead, &p,
                             "claim entries ahead", &result);
    if (res == NULL)
        return result;
    result = pg_read_entries(s, res, a->list);
    PQclear(res);
    return result;
}

int pg_claim_ahead(struct store *store, const char *node,
                   const char *const *platforms, size_t platform_count,
                   int64_t now, int64_t until, int64_t lease_ms, size_t max,
                   struct entry_list *list)
{
    struct claim_ahead_args args = {node, NULL, now, until, lease_ms, max,
                                    list};
    struct pg_op op = {"claim entries ahead", PG_OP_AUTOCOMMIT,
                       claim_ahead_body, &args};
    char *platform_set = NULL;
    int result;

    list->items = NULL;
    list->count = 0;
    result = store_check_claim(store, node, now, lease_ms);
    if (result == STORE_OK)
        result = store_platform_set_json(store, platforms, platform_count,
                                         &platform_set);
    if (result == STORE_OK && max > 0 && platform_count > 0 && until > now) {
        args.platform_set = platform_set;
        result = pg_run_op(pg_store_of(store), &op);
    }
    free(platform_set);
    return result;
}

/* Formats one field of every claim as an array literal "{1,2,3}". */
static char *int_array(const struct claim_start *claims, size_t count,
                       int field)
{
    size_t size = count * 21 + 3;
    char *text = malloc(size);
    size_t used = 0;

    if (text == NULL)
        return NULL;
    text[used++] = '{';
    for (size_t i = 0; i < count; i++) {
        long long value = field == 0   ? (long long)claims[i].entry_id
                          : field == 1 ? (long long)claims[i].attempt_number
                                       : (long long)claims[i].due_at;
        int n = snprintf(text + used, size - used, "%s%lld",
                         i > 0 ? "," : "", value);

        if (n < 0 || (size_t)n >= size - used) {
            free(text);
            return NULL;
        }
        used += (size_t)n;
    }
    text[used++] = '}';
    text[used] = '\0';
    return text;
}

struct start_args {
    const char *node;
    struct claim_start *claims;
    size_t count;
    int64_t now;
};

static int compare_claim_id(const void *a, const void *b)
{
    const struct claim_start *const *x = a;
    const struct claim_start *const *y = b;

    if ((*x)->entry_id != (*y)->entry_id)
        return (*x)->entry_id < (*y)->entry_id ? -1 : 1;
    return 0;
}

/*
 * Sets started on the claims of the returned entry ids, found by binary
 * search: a linear search for each row would cost about a million
 * comparisons for 1,000 claims, on the path to the requests.
 */
static int mark_returned(struct pg_store *s, const PGresult *res,
                         struct claim_start *claims, size_t count)
{
    struct claim_start **by_id = malloc(count * sizeof *by_id);

    if (by_id == NULL)
        return pg_error(s, STORE_ERROR,
                        "out of memory starting claimed attempts");
    for (size_t i = 0; i < count; i++)
        by_id[i] = &claims[i];
    qsort(by_id, count, sizeof *by_id, compare_claim_id);

    for (int row = 0; row < PQntuples(res); row++) {
        int64_t id = pg_get_int(res, row, 0);
        size_t low = 0;
        size_t high = count;

        while (low < high) {
            size_t mid = low + (high - low) / 2;

            if (by_id[mid]->entry_id < id)
                low = mid + 1;
            else
                high = mid;
        }
        if (low < count && by_id[low]->entry_id == id)
            by_id[low]->started = 1;
    }
    free(by_id);
    return STORE_OK;
}

static int start_body(struct pg_store *s, void *arg)
{
    struct start_args *a = arg;
    char *ids = int_array(a->claims, a->count, 0);
    char *numbers = int_array(a->claims, a->count, 1);
    char *dues = int_array(a->claims, a->count, 2);
    struct pg_params p;
    int result = STORE_OK;

    for (size_t i = 0; i < a->count; i++)
        a->claims[i].started = 0;
    if (ids == NULL || numbers == NULL || dues == NULL) {
        free(ids);
        free(numbers);
        free(dues);
        return pg_error(s, STORE_ERROR,
                        "out of memory starting claimed attempts");
    }

    /*
     * The commit need not wait for the WAL flush: the attempts start
     * right after it, and a server crash that loses it leaves them
     * unstarted, so lease recovery puts them back as never attempted.
     */
    result = pg_exec(s, PG_CLAIM_START_ASYNC,
                     "SELECT set_config('synchronous_commit', 'off', true)",
                     NULL, "start claimed attempts");

    /* Claims of platforms paused since the claim wait for the pause. */
    pg_params_init(&p);
    pg_param_int(&p, a->now);
    pg_param_text(&p, ids);
    pg_param_text(&p, a->node);
    pg_param_int(&p, a->now);
    if (result == STORE_OK)
        result = pg_exec(s, PG_UNCLAIM_PAUSED, sql_unclaim_paused, &p,
                         "put back claims of paused platforms");

    pg_params_init(&p);
    pg_param_int(&p, a->now);
    pg_param_owned(&p, ids);
    pg_param_owned(&p, numbers);
    pg_param_owned(&p, dues);
    pg_param_text(&p, a->node);
    PGresult *res = result != STORE_OK
                        ? NULL
                        : pg_query(s, PG_CLAIM_START, sql_claim_start, &p,
                                   "start claimed attempts", &result);
    pg_params_clear(&p);
    if (res == NULL)
        return result;
    result = mark_returned(s, res, a->claims, a->count);
    PQclear(res);
    return result;
}

int pg_start_claimed(struct store *store, const char *node,
                     struct claim_start *claims, size_t count, int64_t now)
{
    struct start_args args = {node, claims, count, now};
    struct pg_op op = {"start claimed attempts", PG_OP_TRANSACTION,
                       start_body, &args};
    int result;

    for (size_t i = 0; i < count; i++)
        claims[i].started = 0;
    if (node == NULL || node[0] == '\0')
        return pg_error(pg_store_of(store), STORE_INVALID,
                        "invalid start of claimed attempts: missing node "
                        "id");
    if (count == 0)
        return STORE_OK;
    result = pg_run_op(pg_store_of(store), &op);
    if (result != STORE_OK) {
        for (size_t i = 0; i < count; i++)
            claims[i].started = 0;
    }
    return result;
}

int pg_unclaim_entry(struct pg_store *s, int64_t entry_id, int64_t now,
                     int *unclaimed)
{
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_int(&p, entry_id);
    result = pg_exec(s, PG_UNCLAIM_LOCK_ENTRY, sql_lock_entry, &p,
                     "lock a claimed entry");
    if (result != STORE_OK)
        return result;

    size_t rows = 0;
    pg_params_init(&p);
    pg_param_int(&p, now);
    pg_param_int(&p, entry_id);
    result = pg_exec_count(s, PG_UNCLAIM_ENTRY, sql_unclaim_entry, &p,
                           "put back a claimed entry", &rows);
    if (unclaimed != NULL)
        *unclaimed = result == STORE_OK && rows > 0;
    return result;
}

int pg_unclaim_content(struct pg_store *s, const char *content_id,
                       const char *platform_set, int64_t now)
{
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_text(&p, content_id);
    pg_param_text(&p, platform_set);
    result = pg_exec(s, PG_UNCLAIM_LOCK_CONTENT, sql_lock_content, &p,
                     "lock claimed entries");
    if (result != STORE_OK)
        return result;

    pg_params_init(&p);
    pg_param_int(&p, now);
    pg_param_text(&p, content_id);
    pg_param_text(&p, platform_set);
    return pg_exec(s, PG_UNCLAIM_CONTENT, sql_unclaim_content, &p,
                   "put back claimed entries");
}
