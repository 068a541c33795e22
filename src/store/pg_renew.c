/*
 * Lease renewal for the PostgreSQL store: a node extends the leases of
 * the entries whose attempts it still runs.
 */
#include "store/pg_internal.h"

#include "util/banned.h"

static const char sql_lease_renew[] =
    "UPDATE entries SET lease_expires_at = greatest(lease_expires_at, $1)"
    " WHERE id = $2 AND status = 'publishing' AND lease_node = $3"
    " AND attempt_count = $4";

struct renew_args {
    const char *node;
    struct lease_renewal *leases;
    size_t count;
    int64_t expires_at;
    size_t renewed;
};

static int renew_body(struct pg_store *s, void *arg)
{
    struct renew_args *a = arg;
    int result = STORE_OK;

    /* Run again after a lost connection, so count from zero. */
    a->renewed = 0;
    for (size_t i = 0; i < a->count; i++)
        a->leases[i].renewed = 0;
    for (size_t i = 0; result == STORE_OK && i < a->count; i++) {
        struct pg_params p;
        size_t rows = 0;

        pg_params_init(&p);
        pg_param_int(&p, a->expires_at);
        pg_param_int(&p, a->leases[i].entry_id);
        pg_param_text(&p, a->node);
        pg_param_int(&p, a->leases[i].attempt_number);
        result = pg_exec_count(s, PG_LEASE_RENEW, sql_lease_renew, &p,
                               "renew lease", &rows);
        a->leases[i].renewed = rows == 1;
        a->renewed += rows;
    }
    return result;
}

int pg_renew_leases(struct store *store, const char *node,
                    struct lease_renewal *leases, size_t count,
                    int64_t now, int64_t lease_ms, size_t *renewed)
{
    struct pg_store *s = pg_store_of(store);
    struct renew_args args = {node, leases, count, now + lease_ms, 0};
    struct pg_op op = {"renew leases", PG_OP_TRANSACTION, renew_body,
                       &args};
    int result;

    if (renewed != NULL)
        *renewed = 0;
    if (node == NULL || node[0] == '\0')
        return pg_error(s, STORE_INVALID, "invalid renewal: missing node id");
    if (lease_ms <= 0)
        return pg_error(s, STORE_INVALID,
                        "invalid renewal: lease of %lld ms; use a positive "
                        "lease",
                        (long long)lease_ms);
    for (size_t i = 0; i < count; i++)
        leases[i].renewed = 0;
    if (count == 0)
        return STORE_OK;

    result = pg_run_op(s, &op);
    for (size_t i = 0; result != STORE_OK && i < count; i++)
        leases[i].renewed = 0;
    if (renewed != NULL)
        *renewed = result == STORE_OK ? args.renewed : 0;
    return result;
}
