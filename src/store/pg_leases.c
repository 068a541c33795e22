/* Lease release and recovery (PostgreSQL store). */
#include "store/pg_internal.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/retry_decision.h"

#include "util/banned.h"

/* An entry under lease, as read before changing it. */
struct leased {
    int64_t id;
    int64_t job_id;
    char content_id[STORE_ID_MAX];
    char platform[STORE_NAME_MAX];
    char node[STORE_NAME_MAX];
    char claimed_from[STORE_NAME_MAX];
    uint32_t attempt_count;
    uint32_t retry_count;
    uint32_t max_retries;
};

struct leased_list {
    struct leased *items;
    size_t count;
};

#define LEASED_COLUMNS                                                         \
    "id, job_id, content_id, platform, lease_node,"                            \
    " coalesce(claimed_from, ''), attempt_count, retry_count, max_retries"

/*
 * Runs a statement selecting LEASED_COLUMNS into *list. The statements
 * lock the rows and skip rows another node holds, so two nodes
 * recovering at once split the work instead of waiting.
 */
static int read_leased(struct pg_store *s, enum pg_stmt_id id, const char *sql,
                       const struct pg_params *p, struct leased_list *list,
                       const char *op)
{
    int result;
    PGresult *res = pg_query(s, id, sql, p, op, &result);

    list->items = NULL;
    list->count = 0;
    if (res == NULL)
        return result;

    int rows = PQntuples(res);
    if (rows > 0)
        list->items = calloc((size_t)rows, sizeof *list->items);
    if (rows > 0 && list->items == NULL) {
        PQclear(res);
        return pg_error(s, STORE_ERROR, "out of memory in %s", op);
    }
    for (int i = 0; i < rows; i++) {
        struct leased *l = &list->items[i];

        l->id = pg_get_int(res, i, 0);
        l->job_id = pg_get_int(res, i, 1);
        pg_get_text(res, i, 2, l->content_id, sizeof l->content_id);
        pg_get_text(res, i, 3, l->platform, sizeof l->platform);
        pg_get_text(res, i, 4, l->node, sizeof l->node);
        pg_get_text(res, i, 5, l->claimed_from, sizeof l->claimed_from);
        l->attempt_count = (uint32_t)pg_get_int(res, i, 6);
        l->retry_count = (uint32_t)pg_get_int(res, i, 7);
        l->max_retries = (uint32_t)pg_get_int(res, i, 8);
    }
    list->count = (size_t)rows;
    PQclear(res);
    return STORE_OK;
}

/* `fail_reason` is the reason of an entry failed by the recovery, or
 * NULL, which leaves it out of the metadata. */
static int audit_lease(struct pg_store *s, const struct leased *l,
                       const char *action, const char *agent,
                       const char *status, const char *fail_reason,
                       int64_t now)
{
    json_t *metadata =
        store_lease_audit_metadata(l->node, l->attempt_count, l->retry_count,
                                   l->max_retries, fail_reason);
    struct pg_audit record = {
        .at = now,
        .agent = agent,
        .action = action,
        .content_id = l->content_id,
        .entry_id = l->id,
        .platform = l->platform,
        .status = status,
        .metadata = metadata,
    };
    int result = pg_audit_insert(s, &record);

    json_decref(metadata);
    return result;
}

static const char sql_lease_expired[] =
    "SELECT " LEASED_COLUMNS " FROM entries"
    " WHERE status = 'publishing' AND lease_expires_at < $1::bigint"
    " ORDER BY id FOR UPDATE SKIP LOCKED";

/*
 * The conditional update and the closing of the open attempt (outcome
 * unknown, not finished) in one statement.
 */
static const char sql_lease_recover[] =
    "WITH recovered AS ("
    "  UPDATE entries SET status = $1::text, retry_count = $2::integer,"
    "  due_at = $3::bigint, last_error = $4::text,"
    "  fail_reason = $8::text, lease_node = NULL,"
    "  lease_expires_at = 0, claimed_from = NULL,"
    "  first_round_status = CASE WHEN first_round_done"
    "    THEN first_round_status ELSE $1::text END,"
    "  first_round_done = true, updated_at = $3::bigint"
    "  WHERE id = $5::bigint AND status = 'publishing'"
    "  AND lease_node = $6::text AND attempt_count = $7::integer"
    "  RETURNING id),"
    " closed AS ("
    "  UPDATE attempts SET ended_at = $3::bigint, finished = false,"
    "  outcome = 'unknown', error = $4::text"
    "  WHERE entry_id = $5::bigint AND number = $7::integer"
    "  AND EXISTS (SELECT 1 FROM recovered))"
    " SELECT id FROM recovered";

/*
 * With retries left the entry retries now under the same idempotency
 * key; without, it fails. Either way the attempt's outcome is unknown:
 * the node may have posted before it died.
 */
/*
 * An entry claimed ahead whose attempt never started goes back as it
 * was before the claim, due at its own time: nothing was attempted.
 * Sets *done when it was such an entry.
 */
static int put_back_unstarted(struct pg_store *s, const struct leased *l,
                              const char *action, const char *agent,
                              int64_t now, int *done)
{
    const char *back = l->claimed_from[0] != '\0' ? l->claimed_from
                                                    : "pending";
    int result = pg_unclaim_entry(s, l->id, now, done);

    if (result != STORE_OK || !*done)
        return result;
    s->notify = 1;
    return audit_lease(s, l, action, agent, back, NULL, now);
}

static int recover_one(struct pg_store *s, const struct leased *l, int64_t now,
                       const char *agent, int *won)
{
    int retry = l->retry_count < l->max_retries;
    enum entry_status to = retry ? ENTRY_RETRYING : ENTRY_FAILED;
    /* It fails as an attempt that ends unknown with no retries left
     * does, because the operator must check whether the post exists. */
    const char *fail_reason = retry ? NULL : RETRY_REASON_UNKNOWN;
    char error[STORE_TEXT_MAX];
    struct pg_params p;
    int result = put_back_unstarted(s, l, "lease_recovered", agent, now, won);

    if (result != STORE_OK || *won)
        return result;

    snprintf(error, sizeof error,
             "lease of node %s expired before attempt %" PRIu32
             " finished; the outcome is unknown",
             l->node, l->attempt_count);
    pg_params_init(&p);
    pg_param_text(&p, entry_status_name(to));
    pg_param_int(&p, l->retry_count + (retry ? 1 : 0));
    pg_param_int(&p, now);
    pg_param_text_max(&p, error, STORE_TEXT_MAX);
    pg_param_int(&p, l->id);
    pg_param_text(&p, l->node);
    pg_param_int(&p, l->attempt_count);
    pg_param_text(&p, fail_reason != NULL ? fail_reason : "");
    PGresult *res = pg_query(s, PG_LEASE_RECOVER, sql_lease_recover, &p,
                             "recover lease", &result);
    pg_params_clear(&p);
    *won = res != NULL && PQntuples(res) == 1;
    PQclear(res);
    if (!*won)
        return result;

    if (retry)
        s->notify = 1;
    result =
        audit_lease(s, l, "lease_recovered", agent, entry_status_name(to),
                    fail_reason, now);
    if (result == STORE_OK)
        result = pg_publish_check(s, l->job_id, now);
    return result;
}

int pg_recover_expired(struct pg_store *s, int64_t now, const char *agent,
                       size_t *recovered)
{
    struct leased_list list;
    struct pg_params p;
    int won = 0;

    *recovered = 0;
    pg_params_init(&p);
    pg_param_int(&p, now);
    int result = read_leased(s, PG_LEASE_EXPIRED, sql_lease_expired, &p, &list,
                             "find expired leases");

    for (size_t i = 0; result == STORE_OK && i < list.count; i++) {
        result = recover_one(s, &list.items[i], now, agent, &won);
        *recovered += (size_t)won;
    }
    free(list.items);
    return result;
}

struct recover_args {
    int64_t now;
    size_t count;
};

static int recover_body(struct pg_store *s, void *arg)
{
    struct recover_args *a = arg;

    return pg_recover_expired(s, a->now, "queue-manager", &a->count);
}

int pg_recover_leases(struct store *store, int64_t now, size_t *recovered)
{
    struct recover_args args = {now, 0};
    struct pg_op op = {"recover leases", PG_OP_TRANSACTION, recover_body,
                       &args};
    int result = pg_run_op(pg_store_of(store), &op);

    if (recovered != NULL)
        *recovered = result == STORE_OK ? args.count : 0;
    return result;
}

static const char sql_lease_held[] =
    "SELECT " LEASED_COLUMNS " FROM entries"
    " WHERE status = 'publishing' AND lease_node = $1::text"
    " ORDER BY id FOR UPDATE SKIP LOCKED";

static const char sql_lease_release[] =
    "WITH released AS ("
    "  UPDATE entries SET status = coalesce(claimed_from, 'pending'),"
    "  lease_node = NULL, lease_expires_at = 0, claimed_from = NULL,"
    "  updated_at = $1::bigint"
    "  WHERE id = $2::bigint AND status = 'publishing'"
    "  AND lease_node = $3::text AND attempt_count = $4::integer"
    "  RETURNING id),"
    " closed AS ("
    "  UPDATE attempts SET ended_at = $1::bigint, finished = false,"
    "  outcome = 'unknown',"
    "  error = 'abandoned: the node released its lease while stopping'"
    "  WHERE entry_id = $2::bigint AND number = $4::integer"
    "  AND EXISTS (SELECT 1 FROM released))"
    " SELECT id FROM released";

static int release_one(struct pg_store *s, const struct leased *l, int64_t now,
                       int *won)
{
    const char *back = l->claimed_from[0] != '\0' ? l->claimed_from : "pending";
    struct pg_params p;
    int result = put_back_unstarted(s, l, "lease_released", "queue-manager",
                                    now, won);

    if (result != STORE_OK || *won)
        return result;
    pg_params_init(&p);
    pg_param_int(&p, now);
    pg_param_int(&p, l->id);
    pg_param_text(&p, l->node);
    pg_param_int(&p, l->attempt_count);
    PGresult *res = pg_query(s, PG_LEASE_RELEASE, sql_lease_release, &p,
                             "release lease", &result);
    *won = res != NULL && PQntuples(res) == 1;
    PQclear(res);
    if (!*won)
        return result;

    s->notify = 1;
    return audit_lease(s, l, "lease_released", "queue-manager", back, NULL,
                       now);
}

struct release_args {
    const char *node;
    int64_t now;
    size_t count;
};

static int release_body(struct pg_store *s, void *arg)
{
    struct release_args *a = arg;
    struct leased_list list;
    struct pg_params p;
    int won = 0;

    a->count = 0;
    pg_params_init(&p);
    pg_param_text(&p, a->node);
    int result = read_leased(s, PG_LEASE_HELD, sql_lease_held, &p, &list,
                             "find leases to release");

    for (size_t i = 0; result == STORE_OK && i < list.count; i++) {
        result = release_one(s, &list.items[i], a->now, &won);
        a->count += (size_t)won;
    }
    free(list.items);
    return result;
}

int pg_release_leases(struct store *store, const char *node, int64_t now,
                      size_t *released)
{
    struct release_args args = {node, now, 0};
    struct pg_op op = {"release leases", PG_OP_TRANSACTION, release_body,
                       &args};

    if (node == NULL || node[0] == '\0')
        return pg_error(pg_store_of(store), STORE_INVALID,
                        "invalid release: missing node id");

    int result = pg_run_op(pg_store_of(store), &op);
    if (released != NULL)
        *released = result == STORE_OK ? args.count : 0;
    return result;
}
