/*
 * Retry policy and exponential backoff. Pure arithmetic: the caller
 * supplies the random jitter sample, so results are reproducible.
 */
#ifndef PUBQ_CORE_BACKOFF_H
#define PUBQ_CORE_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

struct retry_policy {
    /* Delay before the first retry, in milliseconds (default 30000). */
    int64_t base_ms;
    /* Cap on any backoff delay, in milliseconds (default 3600000). */
    int64_t max_delay_ms;
    /* Retries after the first attempt (default 3, so 4 attempts). */
    uint32_t max_retries;
    /* Fraction of the delay that jitter may remove, 0..1 (default 0). */
    double jitter;
    /* Cap on a server's rate-limit wait hint, in ms (default 1 h). */
    int64_t max_hint_ms;
    /* Total rate-limit waiting allowed per entry, in ms (default 24 h). */
    int64_t max_rate_limit_wait_ms;
};

/* Sets every field of *policy to its default. */
void retry_policy_init(struct retry_policy *policy);

/*
 * Checks that a policy makes sense: base_ms >= 1, max_delay_ms >= base_ms,
 * jitter within [0, 1], max_hint_ms >= 0, max_rate_limit_wait_ms >= 0.
 * Returns 0 if so, or -1 with a message in err naming the first bad field.
 */
int retry_policy_check(const struct retry_policy *policy, char *err,
                       size_t errlen);

/*
 * Returns the delay in milliseconds before retry number `retry` (1 for the
 * first retry; 0 is treated as 1): d = min(base_ms * 2^(retry-1),
 * max_delay_ms), computed without overflow for any retry number.
 *
 * Jitter rule: with j = policy->jitter and s = jitter_sample, the result
 * is ceil(d * (1 - j * s)), which lies in [d * (1 - j), d]: jitter only
 * shortens the delay, so it never exceeds the cap and never goes below
 * zero. The caller draws s uniformly from [0, 1). A NaN or negative
 * sample counts as 0 and a sample above 1 as 1. A jitter outside [0, 1]
 * is clamped the same way.
 *
 * For a policy that fails retry_policy_check, the result is 0 when base_ms
 * or max_delay_ms is not positive, and otherwise still within
 * [0, max_delay_ms].
 */
int64_t backoff_delay_ms(const struct retry_policy *policy, uint32_t retry,
                         double jitter_sample);

#endif
