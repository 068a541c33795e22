/*
 * The decision after one publish attempt: which status the entry moves to,
 * how long it waits, and how its retry and rate-limit budgets change.
 * Pure: the caller stores the result.
 */
#ifndef PUBQ_CORE_RETRY_DECISION_H
#define PUBQ_CORE_RETRY_DECISION_H

#include <stdint.h>

#include "core/backoff.h"
#include "core/entry_state.h"
#include "core/outcome.h"

/* Reasons stored with a failed entry. */
#define RETRY_REASON_EXHAUSTED "retries exhausted"
#define RETRY_REASON_PERMANENT "permanent error"
#define RETRY_REASON_UNKNOWN "outcome unknown"
#define RETRY_REASON_RATE_LIMIT "rate-limit wait budget exhausted"

/*
 * Shortest wait after a rate-limited attempt, in milliseconds. A hint of 0
 * (or a reset time already past) would otherwise retry at once without
 * using a retry, so this floor keeps such entries bounded by
 * max_rate_limit_wait_ms.
 */
#define RETRY_MIN_RATE_LIMIT_WAIT_MS 1000

struct attempt_result {
    enum outcome outcome;
    /* Nonzero when the platform rejected the attempt as rate limited. */
    int rate_limited;
    /* Server wait hint in milliseconds, or -1 when there is none. */
    int64_t hint_ms;
};

struct entry_retry_state {
    /* Retries already scheduled; the first attempt has 0. */
    uint32_t retry_count;
    /* Rate-limit waiting already spent, in milliseconds. */
    int64_t rate_limit_waited_ms;
};

enum on_unknown {
    /* Fail with RETRY_REASON_UNKNOWN so that an operator checks. */
    ON_UNKNOWN_HOLD,
    /* Retry like a transient error, risking a duplicate post. */
    ON_UNKNOWN_RETRY,
};

struct retry_decision {
    /* ENTRY_PUBLISHED, ENTRY_RETRYING or ENTRY_FAILED. */
    enum entry_status next_status;
    /* New retry_count. */
    uint32_t retry_count;
    /* Wait before the next attempt in ms; 0 unless next is retrying. */
    int64_t delay_ms;
    /* New rate-limit waiting total in ms. */
    int64_t rate_limit_waited_ms;
    /* Nonzero when this decision used one retry of the budget. */
    int counts_as_retry;
    /* One of the RETRY_REASON_ strings when failed, otherwise NULL. */
    const char *reason;
};

/*
 * Decides what follows an attempt. Fills every field of *out and never
 * fails. The policy should pass retry_policy_check. Rules:
 *
 * - success: published.
 * - permanent: failed at once with RETRY_REASON_PERMANENT.
 * - transient and rate limited with a hint (hint_ms >= 0): retrying after
 *   max(min(hint, max_hint_ms), RETRY_MIN_RATE_LIMIT_WAIT_MS) without
 *   using a retry, and the wait is added to rate_limit_waited_ms. Once the
 *   new total would exceed max_rate_limit_wait_ms: failed with
 *   RETRY_REASON_RATE_LIMIT and both counters unchanged.
 * - other transient: when retry_count < max_retries, retrying with
 *   retry_count + 1 after max(backoff_delay_ms(retry_count + 1),
 *   min(hint, max_hint_ms)), the hint counting only if present; otherwise
 *   failed with RETRY_REASON_EXHAUSTED and retry_count unchanged.
 * - unknown: with ON_UNKNOWN_HOLD failed with RETRY_REASON_UNKNOWN; with
 *   ON_UNKNOWN_RETRY as a transient error, except that running out of
 *   retries also reports RETRY_REASON_UNKNOWN, because the operator must
 *   still check whether the post exists. An outcome outside the enum is
 *   handled as unknown with ON_UNKNOWN_HOLD.
 *
 * jitter_sample is passed to backoff_delay_ms.
 */
void retry_decide(const struct retry_policy *policy,
                  const struct entry_retry_state *state,
                  const struct attempt_result *result,
                  enum on_unknown on_unknown, double jitter_sample,
                  struct retry_decision *out);

#endif
