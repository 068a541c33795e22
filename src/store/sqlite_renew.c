/*
 * Lease renewal for the SQLite store: a node extends the leases of the
 * entries whose attempts it still runs.
 */
#include "store/sqlite_internal.h"

#include "util/banned.h"

static const char sql_lease_renew[] =
    "UPDATE entries SET lease_expires_at = max(lease_expires_at, ?1)"
    " WHERE id = ?2 AND status = 'publishing' AND lease_node = ?3"
    " AND attempt_count = ?4";

static int renew_one(struct sqlite_store *s, const char *node,
                     struct lease_renewal *lease, int64_t expires_at,
                     size_t *renewed)
{
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_LEASE_RENEW, sql_lease_renew, "renew lease");
    int result;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, expires_at);
    sqlite3_bind_int64(stmt, 2, lease->entry_id);
    sqlite_bind_text(stmt, 3, node);
    sqlite3_bind_int64(stmt, 4, lease->attempt_number);

    result = sqlite_exec_stmt(s, stmt, "renew lease");
    lease->renewed = result == STORE_OK && sqlite3_changes(s->db) == 1;
    *renewed += (size_t)lease->renewed;
    return result;
}

int sqlite_renew_leases(struct store *store, const char *node,
                        struct lease_renewal *leases, size_t count,
                        int64_t now, int64_t lease_ms, size_t *renewed)
{
    struct sqlite_store *s = sqlite_store_of(store);
    size_t renewed_count = 0;
    int result;

    if (renewed != NULL)
        *renewed = 0;
    if (node == NULL || node[0] == '\0')
        return sqlite_error(s, STORE_INVALID,
                            "invalid renewal: missing node id");
    if (lease_ms <= 0)
        return sqlite_error(s, STORE_INVALID,
                            "invalid renewal: lease of %lld ms; use a "
                            "positive lease",
                            (long long)lease_ms);
    for (size_t i = 0; i < count; i++)
        leases[i].renewed = 0;
    if (count == 0)
        return STORE_OK;

    result = sqlite_begin(s, "renew leases");
    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = renew_one(s, node, &leases[i], now + lease_ms, &renewed_count);
    if (result == STORE_OK)
        result = sqlite_commit(s, "renew leases");
    else
        sqlite_rollback(s);
    for (size_t i = 0; result != STORE_OK && i < count; i++)
        leases[i].renewed = 0;

    if (renewed != NULL)
        *renewed = result == STORE_OK ? renewed_count : 0;
    return result;
}
