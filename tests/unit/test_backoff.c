#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/backoff.h"

#define SECOND_MS 1000LL
#define HOUR_MS (3600 * SECOND_MS)

static void policy_defaults(void **state)
{
    struct retry_policy p;
    char err[128];

    (void)state;
    memset(&p, 0xff, sizeof(p));
    retry_policy_init(&p);
    assert_int_equal(p.base_ms, 30 * SECOND_MS);
    assert_int_equal(p.max_delay_ms, HOUR_MS);
    assert_int_equal(p.max_retries, 3);
    assert_true(p.jitter == 0.0);
    assert_int_equal(p.max_hint_ms, HOUR_MS);
    assert_int_equal(p.max_rate_limit_wait_ms, 24 * HOUR_MS);
    assert_int_equal(retry_policy_check(&p, err, sizeof(err)), 0);
}

struct bad_policy {
    const char *field;
    int64_t base_ms;
    int64_t max_delay_ms;
    double jitter;
    int64_t max_hint_ms;
    int64_t max_rate_limit_wait_ms;
};

static void policy_check_rejects(void **state)
{
    static const struct bad_policy cases[] = {
        {"base_ms 0", 0, 1000, 0, 0, 0},
        {"base_ms -5", -5, 1000, 0, 0, 0},
        {"max_delay_ms 999", 1000, 999, 0, 0, 0},
        {"jitter -0.1", 1000, 1000, -0.1, 0, 0},
        {"jitter 1.5", 1000, 1000, 1.5, 0, 0},
        {"jitter nan", 1000, 1000, NAN, 0, 0},
        {"max_hint_ms -1", 1000, 1000, 0, -1, 0},
        {"max_rate_limit_wait_ms -1", 1000, 1000, 0, 0, -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct retry_policy p;
        char err[160] = "";

        retry_policy_init(&p);
        p.base_ms = cases[i].base_ms;
        p.max_delay_ms = cases[i].max_delay_ms;
        p.jitter = cases[i].jitter;
        p.max_hint_ms = cases[i].max_hint_ms;
        p.max_rate_limit_wait_ms = cases[i].max_rate_limit_wait_ms;
        assert_int_equal(retry_policy_check(&p, err, sizeof(err)), -1);
        if (strstr(err, cases[i].field) == NULL)
            fail_msg("message \"%s\" does not name \"%s\"", err,
                     cases[i].field);
    }
}

static void policy_check_edges_accepted(void **state)
{
    struct retry_policy p;
    char err[128];

    (void)state;
    retry_policy_init(&p);
    p.base_ms = 1;
    p.max_delay_ms = 1;
    p.jitter = 1.0;
    p.max_hint_ms = 0;
    p.max_rate_limit_wait_ms = 0;
    p.max_retries = 0;
    assert_int_equal(retry_policy_check(&p, err, sizeof(err)), 0);
}

static void delay_defaults_double(void **state)
{
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    assert_int_equal(backoff_delay_ms(&p, 1, 0.0), 30 * SECOND_MS);
    assert_int_equal(backoff_delay_ms(&p, 2, 0.0), 60 * SECOND_MS);
    assert_int_equal(backoff_delay_ms(&p, 3, 0.0), 120 * SECOND_MS);
    assert_int_equal(backoff_delay_ms(&p, 4, 0.0), 240 * SECOND_MS);
    assert_int_equal(backoff_delay_ms(&p, 7, 0.0), 1920 * SECOND_MS);
    assert_int_equal(backoff_delay_ms(&p, 8, 0.0), 3600 * SECOND_MS);
}

static void delay_zero_is_first(void **state)
{
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    assert_int_equal(backoff_delay_ms(&p, 0, 0.0), 30 * SECOND_MS);
}

static void delay_huge_retry_caps(void **state)
{
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    assert_int_equal(backoff_delay_ms(&p, 64, 0.0), HOUR_MS);
    assert_int_equal(backoff_delay_ms(&p, 65, 0.0), HOUR_MS);
    assert_int_equal(backoff_delay_ms(&p, 10000, 0.0), HOUR_MS);
    assert_int_equal(backoff_delay_ms(&p, UINT32_MAX, 0.0), HOUR_MS);
}

static void delay_huge_base(void **state)
{
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    p.base_ms = INT64_MAX / 2 + 1;
    p.max_delay_ms = INT64_MAX;
    assert_int_equal(backoff_delay_ms(&p, 1, 0.0), INT64_MAX / 2 + 1);
    assert_int_equal(backoff_delay_ms(&p, 2, 0.0), INT64_MAX);
    assert_int_equal(backoff_delay_ms(&p, UINT32_MAX, 0.0), INT64_MAX);

    p.base_ms = INT64_MAX;
    p.jitter = 1.0;
    assert_int_equal(backoff_delay_ms(&p, 3, 0.0), INT64_MAX);
    assert_true(backoff_delay_ms(&p, 3, 0.5) >= INT64_MAX / 2 - 1);
    assert_true(backoff_delay_ms(&p, 3, 0.5) <= INT64_MAX / 2 + 1024);
    assert_true(backoff_delay_ms(&p, 3, 0.999999) >= 0);
}

static void delay_exact_cap_boundary(void **state)
{
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    p.base_ms = 1000;
    p.max_delay_ms = 4000;
    assert_int_equal(backoff_delay_ms(&p, 3, 0.0), 4000);
    assert_int_equal(backoff_delay_ms(&p, 4, 0.0), 4000);
    p.max_delay_ms = 3999;
    assert_int_equal(backoff_delay_ms(&p, 2, 0.0), 2000);
    assert_int_equal(backoff_delay_ms(&p, 3, 0.0), 3999);
}

/* Deterministic samples spread over [0, 1), including both ends. */
static double sample_at(unsigned i)
{
    if (i == 0)
        return 0.0;
    if (i == 1)
        return nextafter(1.0, 0.0);
    return (double)((i * 2654435761u) % 1000003u) / 1000003.0;
}

static void delay_jitter_bounds(void **state)
{
    static const double jitters[] = {0.0, 0.1, 0.5, 1.0};
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    for (size_t j = 0; j < sizeof(jitters) / sizeof(jitters[0]); j++) {
        p.jitter = jitters[j];
        for (uint32_t n = 1; n <= 9; n++) {
            int64_t full = backoff_delay_ms(&p, n, 0.0);
            double low = floor((double)full * (1.0 - p.jitter));
            int64_t min_seen = full;

            for (unsigned i = 0; i < 2000; i++) {
                int64_t d = backoff_delay_ms(&p, n, sample_at(i));

                assert_true(d >= (int64_t)low);
                assert_true(d <= full);
                assert_true(d <= p.max_delay_ms);
                if (d < min_seen)
                    min_seen = d;
            }
            /* With jitter the samples must actually spread the delay. */
            if (p.jitter > 0.0)
                assert_true(min_seen < full);
        }
    }
}

static void delay_jitter_half_sample(void **state)
{
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    p.jitter = 0.5;
    assert_int_equal(backoff_delay_ms(&p, 1, 0.0), 30000);
    assert_int_equal(backoff_delay_ms(&p, 1, 0.5), 22500);
    assert_int_equal(backoff_delay_ms(&p, 8, 0.5), 2700000);
}

static void delay_bad_samples_clamped(void **state)
{
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    p.jitter = 0.5;
    assert_int_equal(backoff_delay_ms(&p, 1, NAN), 30000);
    assert_int_equal(backoff_delay_ms(&p, 1, -3.0), 30000);
    assert_int_equal(backoff_delay_ms(&p, 1, 7.0), 15000);
    assert_int_equal(backoff_delay_ms(&p, 1, INFINITY), 15000);
}

static void delay_unchecked_policy(void **state)
{
    struct retry_policy p;

    (void)state;
    retry_policy_init(&p);
    p.base_ms = 0;
    assert_int_equal(backoff_delay_ms(&p, 3, 0.0), 0);
    p.base_ms = -30;
    assert_int_equal(backoff_delay_ms(&p, 3, 0.0), 0);
    p.base_ms = 5000;
    p.max_delay_ms = 100;
    assert_int_equal(backoff_delay_ms(&p, 1, 0.0), 100);
    p.max_delay_ms = 10000;
    p.jitter = 3.0;
    assert_int_equal(backoff_delay_ms(&p, 1, 0.5), 2500);
    p.jitter = -1.0;
    assert_int_equal(backoff_delay_ms(&p, 1, 0.5), 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_defaults),
        cmocka_unit_test(policy_check_rejects),
        cmocka_unit_test(policy_check_edges_accepted),
        cmocka_unit_test(delay_defaults_double),
        cmocka_unit_test(delay_zero_is_first),
        cmocka_unit_test(delay_huge_retry_caps),
        cmocka_unit_test(delay_huge_base),
        cmocka_unit_test(delay_exact_cap_boundary),
        cmocka_unit_test(delay_jitter_bounds),
        cmocka_unit_test(delay_jitter_half_sample),
        cmocka_unit_test(delay_bad_samples_clamped),
        cmocka_unit_test(delay_unchecked_policy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
