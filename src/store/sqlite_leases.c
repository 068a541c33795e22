/* Lease release and recovery, and the sweeper (SQLite store). */
#include "store/sqlite_internal.h"
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
    size_t capacity;
};

#define LEASED_COLUMNS                                                         \
    "id, job_id, content_id, platform, lease_node, claimed_from,"              \
    " attempt_count, retry_count, max_retries"

static int push_leased(struct leased_list *list, sqlite3_stmt *stmt)
{
    if (list->count == list->capacity) {
        size_t grown = list->capacity == 0 ? 16 : list->capacity * 2;
        struct leased *items = realloc(list->items, grown * sizeof *items);

        if (items == NULL)
            return -1;
        list->items = items;
        list->capacity = grown;
    }

    struct leased *l = &list->items[list->count++];
    l->id = sqlite3_column_int64(stmt, 0);
    l->job_id = sqlite3_column_int64(stmt, 1);
    sqlite_copy_column(stmt, 2, l->content_id, sizeof l->content_id);
    sqlite_copy_column(stmt, 3, l->platform, sizeof l->platform);
    sqlite_copy_column(stmt, 4, l->node, sizeof l->node);
    sqlite_copy_column(stmt, 5, l->claimed_from, sizeof l->claimed_from);
    l->attempt_count = (uint32_t)sqlite3_column_int64(stmt, 6);
    l->retry_count = (uint32_t)sqlite3_column_int64(stmt, 7);
    l->max_retries = (uint32_t)sqlite3_column_int64(stmt, 8);
    return 0;
}

/* Reads every row of a bound statement into *list. */
static int read_leased(struct sqlite_store *s, sqlite3_stmt *stmt,
                       struct leased_list *list, const char *op)
{
    int result = STORE_OK;
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (push_leased(list, stmt) != 0) {
            result = sqlite_error(s, STORE_ERROR, "out of memory in %s", op);
            break;
        }
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, op);
    sqlite_done(stmt);
    return result;
}

/* `fail_reason` is the reason of an entry failed by the recovery, or
 * NULL, which leaves it out of the metadata. */
static int audit_lease(struct sqlite_store *s, const struct leased *l,
                       const char *action, const char *agent,
                       const char *status, const char *fail_reason,
                       int64_t now)
{
    json_t *metadata =
        store_lease_audit_metadata(l->node, l->attempt_count, l->retry_count,
                                   l->max_retries, fail_reason);
    struct sqlite_audit record = {
        .at = now,
        .agent = agent,
        .action = action,
        .content_id = l->content_id,
        .entry_id = l->id,
        .platform = l->platform,
        .status = status,
        .metadata = metadata,
    };
    int result = sqlite_audit_insert(s, &record);

    json_decref(metadata);
    return result;
}

static const char sql_lease_expired[] =
    "SELECT " LEASED_COLUMNS " FROM entries INDEXED BY entries_lease"
    " WHERE status = 'publishing' AND lease_expires_at < ?1";

static const char sql_lease_recover[] =
    "UPDATE entries SET status = ?1, retry_count = ?2, due_at = ?3,"
    " last_error = ?4, fail_reason = ?8, lease_node = NULL,"
    " lease_expires_at = 0,"
    " claimed_from = NULL,"
    " first_round_status = CASE WHEN first_round_done = 0 THEN ?1"
    "   ELSE first_round_status END,"
    " first_round_done = 1, updated_at = ?3"
    " WHERE id = ?5 AND status = 'publishing' AND lease_node = ?6"
    " AND attempt_count = ?7";

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
static int put_back_unstarted(struct sqlite_store *s, const struct leased *l,
                              const char *action, const char *agent,
                              int64_t now, int *done)
{
    const char *back = l->claimed_from[0] != '\0' ? l->claimed_from
                                                    : "pending";
    int result = sqlite_unclaim_entry(s, l->id, now, done);

    if (result == STORE_OK && *done)
        result = audit_lease(s, l, action, agent, back, NULL, now);
    return result;
}

static int recover_one(struct sqlite_store *s, const struct leased *l,
                       int64_t now, const char *agent, int *won)
{
    int retry = l->retry_count < l->max_retries;
    enum entry_status to = retry ? ENTRY_RETRYING : ENTRY_FAILED;
    /* It fails as an attempt that ends unknown with no retries left
     * does, because the operator must check whether the post exists. */
    const char *fail_reason = retry ? NULL : RETRY_REASON_UNKNOWN;
    char error[STORE_TEXT_MAX];
    int result = put_back_unstarted(s, l, "lease_recovered", agent, now, won);

    if (result != STORE_OK || *won)
        return result;

    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_LEASE_RECOVER, sql_lease_recover, "recover lease");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    snprintf(error, sizeof error,
             "lease of node %s expired before attempt %" PRIu32
             " finished; the outcome is unknown",
             l->node, l->attempt_count);
    sqlite_bind_text(stmt, 1, entry_status_name(to));
    sqlite3_bind_int64(stmt, 2, l->retry_count + (retry ? 1 : 0));
    sqlite3_bind_int64(stmt, 3, now);
    sqlite_bind_text(stmt, 4, error);
    sqlite3_bind_int64(stmt, 5, l->id);
    sqlite_bind_text(stmt, 6, l->node);
    sqlite3_bind_int64(stmt, 7, l->attempt_count);
    sqlite_bind_text(stmt, 8, fail_reason != NULL ? fail_reason : "");

    result = sqlite_exec_stmt(s, stmt, "recover lease");
    *won = result == STORE_OK && sqlite3_changes(s->db) == 1;
    if (!*won)
        return result;

    struct sqlite_attempt_end end = {
        .entry_id = l->id,
        .number = l->attempt_count,
        .ended_at = now,
        .outcome = OUTCOME_UNKNOWN,
        .error = error,
    };
    result = sqlite_attempt_close(s, &end);
    if (result == STORE_OK)
        result = audit_lease(s, l, "lease_recovered", agent,
                             entry_status_name(to), fail_reason, now);
    if (result == STORE_OK)
        result = sqlite_publish_check(s, l->job_id, now);
    return result;
}

int sqlite_recover_expired(struct sqlite_store *s, int64_t now,
                           const char *agent, size_t *recovered)
{
    struct leased_list list = {0};
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_LEASE_EXPIRED, sql_lease_expired, "recover leases");
    int result;
    int won = 0;

    *recovered = 0;
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, now);
    result = read_leased(s, stmt, &list, "find expired leases");

    for (size_t i = 0; result == STORE_OK && i < list.count; i++) {
        result = recover_one(s, &list.items[i], now, agent, &won);
        *recovered += (size_t)won;
    }
    free(list.items);
    return result;
}

int sqlite_recover_leases(struct store *store, int64_t now, size_t *recovered)
{
    struct sqlite_store *s = sqlite_store_of(store);
    size_t count = 0;
    int result = sqlite_begin(s, "recover leases");

    if (result == STORE_OK)
        result = sqlite_recover_expired(s, now, "queue-manager", &count);
    if (result == STORE_OK)
        result = sqlite_commit(s, "recover leases");
    else
        sqlite_rollback(s);

    if (recovered != NULL)
        *recovered = result == STORE_OK ? count : 0;
    return result;
}

static const char sql_lease_held[] =
    "SELECT " LEASED_COLUMNS " FROM entries"
    " WHERE status = 'publishing' AND lease_node = ?1";

static const char sql_lease_release[] =
    "UPDATE entries SET status = coalesce(claimed_from, 'pending'),"
    " lease_node = NULL, lease_expires_at = 0, claimed_from = NULL,"
    " updated_at = ?1"
    " WHERE id = ?2 AND status = 'publishing' AND lease_node = ?3"
    " AND attempt_count = ?4";

static int release_one(struct sqlite_store *s, const struct leased *l,
                       int64_t now, int *won)
{
    const char *back = l->claimed_from[0] != '\0' ? l->claimed_from : "pending";
    int result = put_back_unstarted(s, l, "lease_released", "queue-manager",
                                    now, won);

    if (result != STORE_OK || *won)
        return result;

    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_LEASE_RELEASE, sql_lease_release, "release lease");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, l->id);
    sqlite_bind_text(stmt, 3, l->node);
    sqlite3_bind_int64(stmt, 4, l->attempt_count);

    result = sqlite_exec_stmt(s, stmt, "release lease");
    *won = result == STORE_OK && sqlite3_changes(s->db) == 1;
    if (!*won)
        return result;

    struct sqlite_attempt_end end = {
        .entry_id = l->id,
        .number = l->attempt_count,
        .ended_at = now,
        .outcome = OUTCOME_UNKNOWN,
        .error = "abandoned: the node released its lease while stopping",
    };
    result = sqlite_attempt_close(s, &end);
    if (result == STORE_OK)
        result =
            audit_lease(s, l, "lease_released", "queue-manager", back, NULL,
                        now);
    return result;
}

int sqlite_release_leases(struct store *store, const char *node, int64_t now,
                          size_t *released)
{
    struct sqlite_store *s = sqlite_store_of(store);
    struct leased_list list = {0};
    size_t count = 0;
    int won = 0;

    if (node == NULL || node[0] == '\0')
        return sqlite_error(s, STORE_INVALID,
                            "invalid release: missing node id");

    int result = sqlite_begin(s, "release leases");
    sqlite3_stmt *stmt = NULL;
    if (result == STORE_OK) {
        stmt =
            sqlite_stmt(s, STMT_LEASE_HELD, sql_lease_held, "release leases");
        result = stmt == NULL ? sqlite_stmt_error(s) : STORE_OK;
    }
    if (result == STORE_OK) {
        sqlite_bind_text(stmt, 1, node);
        result = read_leased(s, stmt, &list, "find leases to release");
    }
    for (size_t i = 0; result == STORE_OK && i < list.count; i++) {
        result = release_one(s, &list.items[i], now, &won);
        count += (size_t)won;
    }
    free(list.items);

    if (result == STORE_OK)
        result = sqlite_commit(s, "release leases");
    else
        sqlite_rollback(s);
    if (released != NULL)
        *released = result == STORE_OK ? count : 0;
    return result;
}

/*
 * Entries that failed as "expired" or "outcome unknown" wait for an
 * operator: re-posting them could post late or twice. The term status
 * <> 'publishing' lets SQLite 3.40 read the partial index
 * entries_status, which it cannot infer from status = 'failed'.
 */
static const char sql_sweep_requeue[] =
    "UPDATE entries SET status = 'pending', retry_count = retry_count + 1,"
    " fail_reason = '', due_at = ?1, updated_at = ?1"
    " WHERE status = 'failed' AND status <> 'publishing'"
    " AND retry_count < max_retries"
    " AND fail_reason NOT IN ('expired', 'outcome unknown')"
    " RETURNING id";

static int requeue_failed(struct sqlite_store *s, int64_t now, json_t *ids,
                          size_t *requeued)
{
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_SWEEP_REQUEUE, sql_sweep_requeue, "sweep");
    int rc;

    *requeued = 0;
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, now);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_array_append_new(ids, json_integer(sqlite3_column_int64(stmt, 0)));
        (*requeued)++;
    }
    sqlite_done(stmt);
    if (rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "re-queue failed entries");
    return STORE_OK;
}

static int audit_sweep(struct sqlite_store *s, int64_t now, const char *agent,
                       const struct sweep_result *r, json_t *ids)
{
    json_t *metadata =
        json_pack("{s:I, s:I, s:O}", "requeued", (json_int_t)r->requeued,
                  "recovered", (json_int_t)r->recovered, "entries", ids);
    struct sqlite_audit record = {
        .at = now,
        .agent = agent,
        .action = "sweep",
        .status = "ok",
        .metadata = metadata,
    };
    int result = sqlite_audit_insert(s, &record);

    json_decref(metadata);
    return result;
}

/* Sweeper ticks older than this are forgotten: no node runs that late. */
#define TICK_KEEP_MS (INT64_C(7) * 24 * 3600 * 1000)

/*
 * Records the cron tick; *taken is 0 when another process recorded it
 * first. Old ticks are pruned in the same step to keep the table small.
 */
static int take_tick(struct sqlite_store *s, int64_t tick_at, int64_t now,
                     const char *agent, int *taken)
{
    static const char sql_tick[] =
        "INSERT INTO sweeper_ticks (tick_at, agent_name, swept_at)"
        " VALUES (?1, ?2, ?3) ON CONFLICT (tick_at) DO NOTHING";
    static const char sql_prune[] =
        "DELETE FROM sweeper_ticks WHERE tick_at < ?1";
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_SWEEP_TICK, sql_tick, "sweep");
    int result;

    *taken = 0;
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, tick_at);
    sqlite_bind_text(stmt, 2, agent);
    sqlite3_bind_int64(stmt, 3, now);
    result = sqlite_exec_stmt(s, stmt, "record sweeper tick");
    if (result != STORE_OK)
        return result;
    *taken = sqlite3_changes(s->db) == 1;

    stmt = sqlite_stmt(s, STMT_SWEEP_PRUNE, sql_prune, "sweep");
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, tick_at - TICK_KEEP_MS);
    return sqlite_exec_stmt(s, stmt, "prune sweeper ticks");
}

int sqlite_sweep(struct store *store, int64_t now, int64_t tick_at,
                 const char *agent, struct sweep_result *result_out)
{
    struct sqlite_store *s = sqlite_store_of(store);
    struct sweep_result counts = {0};
    const char *name = agent != NULL ? agent : "sweeper";
    json_t *ids = json_array();
    int taken = 1;
    int result = sqlite_begin(s, "sweep");

    if (result == STORE_OK && tick_at != 0)
        result = take_tick(s, tick_at, now, name, &taken);
    if (result == STORE_OK && taken)
        result = sqlite_recover_expired(s, now, name, &counts.recovered);
    if (result == STORE_OK && taken)
        result = requeue_failed(s, now, ids, &counts.requeued);
    if (result == STORE_OK && taken)
        result = audit_sweep(s, now, name, &counts, ids);
    json_decref(ids);

    if (result == STORE_OK && taken)
        result = sqlite_commit(s, "sweep");
    else
        sqlite_rollback(s);
    counts.skipped = !taken;
    if (result_out != NULL)
        *result_out = result == STORE_OK ? counts : (struct sweep_result){0};
    return result;
}
