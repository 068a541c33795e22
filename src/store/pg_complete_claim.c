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
 * Claims the whole round in one statement and ignores claim->batch.
 * The rows stay locked until the round commits either way, and a
 * second statement would add its planning, its scan of entries_due and
 * its own round trip. claim->max is at most the engine's free attempt
 * slots (max_in_flight).
 */
static int claim_all(struct pg_store *s, struct round_args *a)
{
    const struct claim_request *claim = a->claim;

    if (claim->max == 0 || claim->platform_count == 0)
        return STORE_OK;

    /* Every job of the round stays cached for the engine's get_job. */
    return pg_claim_statement(s, claim->node, a->platform_set, claim->now,
                              claim->lease_ms, claim->max, a->list);
}

/*
 * The claims go first: their first statement carries BEGIN, and the
 * completion's last statement carries COMMIT. A claim row locked here
 * stays locked until then, and other nodes' claims skip it.
 */
static int round_body(struct pg_store *s, void *arg)
{
    struct round_args *a = arg;
    int result;

    entry_list_free(a->list);
    if (a->count > 0)
        memset(a->applied, 0, a->count * sizeof *a->applied);
    result = claim_all(s, a);
    if (result == STORE_OK && a->count > 0)
        result =
            pg_complete_statements(s, a->completions, a->count, a->applied);
    return result;
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
