/*
 * complete_and_claim (SQLite store): complete_attempts and claim_due in
 * one transaction, so that the engine's round of results and claims
 * costs one commit and one sync of the log instead of two or more.
 */
#include "store/sqlite_internal.h"

#include <string.h>

#include "store/store_check.h"
#include "util/banned.h"

/* Claims in statements of claim->batch entries until max or a short one. */
static int claim_all(struct store *store, const struct claim_request *claim,
                     struct entry_list *list)
{
    size_t left = claim->max;

    while (left > 0) {
        struct entry_list part = {0};
        size_t want = left < claim->batch ? left : claim->batch;
        int result = sqlite_claim_due(store, claim->node, claim->platforms,
                                      claim->platform_count, claim->now,
                                      claim->lease_ms, want, &part);

        if (result == STORE_OK && entry_list_append(list, &part) != 0)
            result = sqlite_error(sqlite_store_of(store), STORE_ERROR,
                                  "out of memory claiming %zu entries",
                                  claim->max);
        if (result != STORE_OK) {
            entry_list_free(&part);
            return result;
        }
        if (list->count < claim->max - left + want)
            return STORE_OK;
        left -= want;
    }
    return STORE_OK;
}

int sqlite_complete_and_claim(struct store *store,
                              const struct attempt_completion *completions,
                              size_t count, int *applied,
                              const struct claim_request *claim,
                              struct entry_list *list)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int result;

    list->items = NULL;
    list->count = 0;
    result = store_check_completions(store, completions, count, applied);
    if (result == STORE_OK)
        result = store_check_claim(store, claim->node, claim->now,
                                   claim->lease_ms);
    if (result == STORE_OK && claim->max > 0 && claim->batch == 0)
        result = sqlite_error(s, STORE_INVALID,
                              "invalid claim batch of 0 entries: give 1 or "
                              "more");
    if (result != STORE_OK)
        return result;

    job_cache_clear(&s->job_cache);
    result = sqlite_begin(s, "complete attempts and claim");
    if (result != STORE_OK)
        return result;
    s->outer_transaction = 1;
    if (count > 0)
        result = sqlite_complete_attempts(store, completions, count, applied);
    if (result == STORE_OK)
        result = claim_all(store, claim, list);
    s->outer_transaction = 0;
    if (result == STORE_OK)
        result = sqlite_commit(s, "complete attempts and claim");
    else
        sqlite_rollback(s);

    /* Nothing was written, so nothing counts as applied or claimed. */
    if (result != STORE_OK) {
        if (count > 0)
            memset(applied, 0, count * sizeof *applied);
        entry_list_free(list);
    }
    return result;
}
