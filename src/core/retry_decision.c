#include "core/retry_decision.h"

#include "util/banned.h"

static int64_t capped_hint(const struct retry_policy *policy, int64_t hint)
{
    int64_t cap = policy->max_hint_ms > 0 ? policy->max_hint_ms : 0;

    return hint < cap ? hint : cap;
}

static void decide_failed(const struct entry_retry_state *state,
                          const char *reason, struct retry_decision *out)
{
    out->next_status = ENTRY_FAILED;
    out->reason = reason;
    out->retry_count = state->retry_count;
    out->rate_limit_waited_ms = state->rate_limit_waited_ms;
}

static void decide_rate_limited(const struct retry_policy *policy,
                                const struct entry_retry_state *state,
                                int64_t hint, struct retry_decision *out)
{
    int64_t wait = capped_hint(policy, hint);
    int64_t waited = state->rate_limit_waited_ms;

    if (wait < RETRY_MIN_RATE_LIMIT_WAIT_MS)
        wait = RETRY_MIN_RATE_LIMIT_WAIT_MS;
    if (waited < 0)
        waited = 0;

    /* Written as a subtraction so that the sum cannot overflow. */
    if (waited > policy->max_rate_limit_wait_ms ||
        wait > policy->max_rate_limit_wait_ms - waited) {
        decide_failed(state, RETRY_REASON_RATE_LIMIT, out);
        return;
    }

    out->next_status = ENTRY_RETRYING;
    out->retry_count = state->retry_count;
    out->delay_ms = wait;
    out->rate_limit_waited_ms = waited + wait;
}

static void decide_retry(const struct retry_policy *policy,
                         const struct entry_retry_state *state,
                         const struct attempt_result *result,
                         const char *exhausted_reason, double jitter_sample,
                         struct retry_decision *out)
{
    int64_t delay;

    if (state->retry_count >= policy->max_retries) {
        decide_failed(state, exhausted_reason, out);
        return;
    }

    delay = backoff_delay_ms(policy, state->retry_count + 1, jitter_sample);
    if (result->hint_ms >= 0) {
        int64_t hint = capped_hint(policy, result->hint_ms);

        if (hint > delay)
            delay = hint;
    }

    out->next_status = ENTRY_RETRYING;
    out->retry_count = state->retry_count + 1;
    out->delay_ms = delay;
    out->rate_limit_waited_ms = state->rate_limit_waited_ms;
    out->counts_as_retry = 1;
}

void retry_decide(const struct retry_policy *policy,
                  const struct entry_retry_state *state,
                  const struct attempt_result *result,
                  enum on_unknown on_unknown, double jitter_sample,
                  struct retry_decision *out)
{
    *out = (struct retry_decision){
        .next_status = ENTRY_PUBLISHED,
        .retry_count = state->retry_count,
        .rate_limit_waited_ms = state->rate_limit_waited_ms,
    };

    switch (result->outcome) {
    case OUTCOME_SUCCESS:
        return;
    case OUTCOME_PERMANENT:
        decide_failed(state, RETRY_REASON_PERMANENT, out);
        return;
    case OUTCOME_TRANSIENT:
        if (result->rate_limited && result->hint_ms >= 0) {
            decide_rate_limited(policy, state, result->hint_ms, out);
            return;
        }
        decide_retry(policy, state, result, RETRY_REASON_EXHAUSTED,
                     jitter_sample, out);
        return;
    case OUTCOME_UNKNOWN:
    default:
        if (result->outcome == OUTCOME_UNKNOWN &&
            on_unknown == ON_UNKNOWN_RETRY) {
            decide_retry(policy, state, result, RETRY_REASON_UNKNOWN,
                         jitter_sample, out);
            return;
        }
        decide_failed(state, RETRY_REASON_UNKNOWN, out);
        return;
    }
}
