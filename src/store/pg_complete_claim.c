/*
 * complete_and_claim (PostgreSQL store): the claims and the completions
 * of the engine's round in one transaction, so that they cost one
 * commit, one flush of the WAL, instead of two.
 */
#include "store/pg_internal.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_check.h"
#include "store/store_platform_set.h"
#include "util/banned.h"

struct round_args {
    const struct attempt_completion *completions;
    size_t count;
    int *applied;
    const struct claim_request *claim;
    const char *platform_set; /* JSON array */
    struct entry_list *list;
};

/*
 * A round claims in one statement, whatever claim->batch says: the rows
 * stay locked until the round commits either way, and a second
 * statement would add its planning, its scan of entries_due and its own
 * round trip. claim->max is bounded by the engine's free attempt slots
 * (max_in_flight).
 *
 * Sends BEGIN, the claim and the update of the completed entries in one
 * round trip, then the rest of the completion, which commits. The
 * claim runs first: a row it locks stays locked until the commit, and
 * other nodes' claims skip it.
 */
static int claim_and_complete(struct pg_store *s, struct round_args *a)
{
    const struct claim_request *claim = a->claim;
    struct pg_params claim_params;
    struct pg_params complete_params;
    struct pg_call calls[2];
    PGresult *results[2];
    int result;

    pg_claim_call(&claim_params, &calls[0], claim->node, a->platform_set,
                  claim->now, claim->lease_ms, claim->max);
    pg_complete_call(&complete_params, &calls[1], a->completions, a->count);
    result = pg_pipeline_begin(s, calls, 2, results,
                               "claim due entries and complete attempts");
    pg_params_clear(&claim_params);
    pg_params_clear(&complete_params);
    if (result != STORE_OK)
        return result;

    result = pg_claim_rows(s, results[0], a->list);
    if (result == STORE_OK)
        result = pg_complete_rows(s, a->completions, a->count, a->applied,
                                  results[1]);
    PQclear(results[0]);
    PQclear(results[1]);
    return result;
}

static int round_body(struct pg_store *s, void *arg)
{
    struct round_args *a = arg;
    const struct claim_request *claim = a->claim;

    entry_list_free(a->list);
    if (a->count > 0)
        memset(a->applied, 0, a->count * sizeof *a->applied);
    if (claim->max == 0 || claim->platform_count == 0)
        return pg_complete_statements(s, a->completions, a->count, a->applied);
    if (a->count == 0)
        return pg_claim_statement(s, claim->node, a->platform_set, claim->now,
                                  claim->lease_ms, claim->max, a->list);
    return claim_and_complete(s, a);
}

int pg_complete_and_claim(struct store *store,
                          const struct attempt_completion *completions,
                          size_t count, int *applied,
                          const struct claim_request *claim,
                          struct entry_list *list)
{
    struct round_args args = {completions, count, applied, claim, NULL, list};
    struct pg_op op = {"complete attempts and claim", PG_OP_TRANSACTION,
                       round_body, &args};
    char *platform_set = NULL;
    int result;

    list->items = NULL;
    list->count = 0;
    result = store_check_completions(store, completions, count, applied);
    if (result == STORE_OK)
        result =
            store_check_claim(store, claim->node, claim->now, claim->lease_ms);
    if (result == STORE_OK && claim->max > 0 && claim->batch == 0)
        result = pg_error(pg_store_of(store), STORE_INVALID,
                          "invalid claim batch of 0 entries: give 1 or "
                          "more");
    if (result == STORE_OK)
        result = store_platform_set_json(store, claim->platforms,
                                         claim->platform_count, &platform_set);
    if (result != STORE_OK) {
        free(platform_set);
        return result;
    }

    args.platform_set = platform_set;
    if (count > 0 || (claim->max > 0 && claim->platform_count > 0))
        result = pg_run_op(pg_store_of(store), &op);
    free(platform_set);

    /* Nothing was written, so nothing counts as applied or claimed. */
    if (result != STORE_OK) {
        if (count > 0)
            memset(applied, 0, count * sizeof *applied);
        entry_list_free(list);
    }
    return result;
}
