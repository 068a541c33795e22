/*
 * complete_and_claim (SQLite store): complete_attempts and claim_due in
 * one transaction, so that the engine's round of results and claims
 * costs one commit and one sync of the log instead of two or more.
 */
#include "store/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_check.h"
#include "store/store_platform_set.h"
#include "util/banned.h"

/*
 * Claims in statements of claim->batch entries until max or a short
 * one, all into one list, inside the round's transaction.
 */
static int claim_all(struct sqlite_store *s, const struct claim_request *claim,
                     const char *platform_set, struct entry_list *list)
{
    struct sqlite_claim batch_claim = {claim->node, platform_set, claim->now,
                                       claim->lease_ms};
    size_t capacity = 0;
    size_t left = claim->max;
    int result = sqlite_claim_reserve(s, list, &capacity, claim->max);

    while (result == STORE_OK && left > 0) {
        size_t want = left < claim->batch ? left : claim->batch;
        size_t before = list->count;

        result = sqlite_claim_batch(s, &batch_claim, want, list, &capacity);
        if (list->count - before < want)
            break;
        left -= want;
    }
    return result;
}

int sqlite_complete_and_claim(struct store *store,
                              const struct attempt_completion *completions,
                              size_t count, int *applied,
                              const struct claim_request *claim,
                              struct entry_list *list)
{
    struct sqlite_store *s = sqlite_store_of(store);
    char *platform_set = NULL;
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
    if (result == STORE_OK)
        result = store_platform_set_json(store, claim->platforms,
                                         claim->platform_count,
                                         &platform_set);
    if (result != STORE_OK) {
        free(platform_set);
        return result;
    }

    job_cache_clear(&s->job_cache);
    result = sqlite_begin(s, "complete attempts and claim");
    if (result != STORE_OK) {
        free(platform_set);
        return result;
    }
    s->outer_transaction = 1;
    if (count > 0)
        result = sqlite_complete_attempts(store, completions, count, applied);
    if (result == STORE_OK && claim->platform_count > 0)
        result = claim_all(s, claim, platform_set, list);
    s->outer_transaction = 0;
    if (result == STORE_OK)
        result = sqlite_commit(s, "complete attempts and claim");
    else
        sqlite_rollback(s);
    free(platform_set);

    /* Nothing was written, so nothing counts as applied or claimed. */
    if (result != STORE_OK) {
        if (count > 0)
            memset(applied, 0, count * sizeof *applied);
        entry_list_free(list);
    }
    return result;
}
