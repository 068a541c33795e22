#include "core/backoff.h"

#include <math.h>
#include <stdio.h>

#include "util/banned.h"

#define HOUR_MS (60LL * 60 * 1000)

void retry_policy_init(struct retry_policy *policy)
{
    policy->base_ms = 30 * 1000;
    policy->max_delay_ms = HOUR_MS;
    policy->max_retries = 3;
    policy->jitter = 0.0;
    policy->max_hint_ms = HOUR_MS;
    policy->max_rate_limit_wait_ms = 24 * HOUR_MS;
}

int retry_policy_check(const struct retry_policy *policy, char *err,
                       size_t errlen)
{
    if (policy->base_ms < 1) {
        snprintf(err, errlen,
                 "invalid retry base_ms %lld: set it to 1 or more "
                 "milliseconds",
                 (long long)policy->base_ms);
        return -1;
    }
    if (policy->max_delay_ms < policy->base_ms) {
        snprintf(err, errlen,
                 "invalid retry max_delay_ms %lld: it is below base_ms "
                 "%lld; set it to at least base_ms",
                 (long long)policy->max_delay_ms, (long long)policy->base_ms);
        return -1;
    }
    if (!(policy->jitter >= 0.0 && policy->jitter <= 1.0)) {
        snprintf(err, errlen,
                 "invalid retry jitter %g: set a fraction between 0 and 1",
                 policy->jitter);
        return -1;
    }
    if (policy->max_hint_ms < 0) {
        snprintf(err, errlen,
                 "invalid retry max_hint_ms %lld: set it to 0 or more "
                 "milliseconds",
                 (long long)policy->max_hint_ms);
        return -1;
    }
    if (policy->max_rate_limit_wait_ms < 0) {
        snprintf(err, errlen,
                 "invalid retry max_rate_limit_wait_ms %lld: set it to 0 "
                 "or more milliseconds",
                 (long long)policy->max_rate_limit_wait_ms);
        return -1;
    }
    return 0;
}

static double clamp_fraction(double value)
{
    if (!(value > 0.0))
        return 0.0;
    if (value > 1.0)
        return 1.0;
    return value;
}

/* Doubles base up to retry-1 times, stopping at the cap before overflow. */
static int64_t uncapped_delay(int64_t base, int64_t cap, uint32_t retry)
{
    int64_t delay = base;

    for (uint32_t i = 1; i < retry; i++) {
        if (delay > cap / 2)
            return cap;
        delay *= 2;
    }
    return delay < cap ? delay : cap;
}

static int64_t apply_jitter(int64_t delay, double jitter, double sample)
{
    double shortened = (double)delay * (1.0 - jitter * sample);
    double rounded = ceil(shortened);

    /*
     * (double)delay may round up past INT64_MAX, so compare in double
     * before converting back: only values below it are safe to convert.
     */
    if (rounded >= (double)delay)
        return delay;
    if (rounded <= 0.0)
        return 0;
    return (int64_t)rounded;
}

int64_t backoff_delay_ms(const struct retry_policy *policy, uint32_t retry,
                         double jitter_sample)
{
    int64_t delay;

    if (policy->base_ms <= 0 || policy->max_delay_ms <= 0)
        return 0;

    if (retry == 0)
        retry = 1;
    delay = uncapped_delay(policy->base_ms, policy->max_delay_ms, retry);

    return apply_jitter(delay, clamp_fraction(policy->jitter),
                        clamp_fraction(jitter_sample));
}
