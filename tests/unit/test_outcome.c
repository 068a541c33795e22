#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/outcome.h"
#include "core/retry_decision.h"

#define SECOND_MS 1000LL
#define HOUR_MS (3600 * SECOND_MS)
#define DAY_MS (24 * HOUR_MS)

static void outcome_names_round_trip(void **state)
{
    static const char *const names[] = {"success", "transient", "permanent",
                                        "unknown"};

    (void)state;
    for (int i = 0; i < OUTCOME_COUNT; i++) {
        enum outcome parsed = OUTCOME_UNKNOWN;

        assert_string_equal(outcome_name(i), names[i]);
        assert_int_equal(outcome_parse(names[i], &parsed), 0);
        assert_int_equal(parsed, i);
    }
    assert_string_equal(outcome_name((enum outcome)4), "invalid");
}

static void outcome_parse_rejects(void **state)
{
    enum outcome parsed = OUTCOME_PERMANENT;

    (void)state;
    assert_int_equal(outcome_parse("Success", &parsed), -1);
    assert_int_equal(outcome_parse("", &parsed), -1);
    assert_int_equal(outcome_parse("ok", &parsed), -1);
    assert_int_equal(outcome_parse(NULL, &parsed), -1);
    assert_int_equal(parsed, OUTCOME_PERMANENT);
}

struct http_case {
    long status;
    enum outcome outcome;
};

static void http_status_table(void **state)
{
    static const struct http_case cases[] = {
        {200, OUTCOME_SUCCESS},   {201, OUTCOME_SUCCESS},
        {204, OUTCOME_SUCCESS},   {299, OUTCOME_SUCCESS},
        {408, OUTCOME_TRANSIENT}, {425, OUTCOME_TRANSIENT},
        {429, OUTCOME_TRANSIENT}, {500, OUTCOME_TRANSIENT},
        {503, OUTCOME_TRANSIENT}, {502, OUTCOME_UNKNOWN},
        {504, OUTCOME_UNKNOWN},   {400, OUTCOME_PERMANENT},
        {401, OUTCOME_PERMANENT}, {403, OUTCOME_PERMANENT},
        {404, OUTCOME_PERMANENT}, {409, OUTCOME_PERMANENT},
        {413, OUTCOME_PERMANENT}, {422, OUTCOME_PERMANENT},
        {499, OUTCOME_PERMANENT}, {501, OUTCOME_TRANSIENT},
        {507, OUTCOME_TRANSIENT}, {599, OUTCOME_TRANSIENT},
        {100, OUTCOME_PERMANENT}, {101, OUTCOME_PERMANENT},
        {301, OUTCOME_PERMANENT}, {302, OUTCOME_PERMANENT},
        {304, OUTCOME_PERMANENT}, {0, OUTCOME_PERMANENT},
        {-1, OUTCOME_PERMANENT},  {99, OUTCOME_PERMANENT},
        {600, OUTCOME_PERMANENT}, {999, OUTCOME_PERMANENT},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum outcome got = outcome_from_http_status(cases[i].status);

        if (got != cases[i].outcome)
            fail_msg("HTTP %ld: got %s, expected %s", cases[i].status,
                     outcome_name(got), outcome_name(cases[i].outcome));
    }
}

static void http_reason_phrases(void **state)
{
    (void)state;
    assert_string_equal(outcome_http_reason(200), "success");
    assert_string_equal(outcome_http_reason(429), "rate limited");
    assert_string_equal(outcome_http_reason(502),
                        "gateway error, the post may exist");
    assert_string_equal(outcome_http_reason(401),
                        "request rejected by the server");
    assert_string_equal(outcome_http_reason(503), "server error");
    assert_string_equal(outcome_http_reason(302), "unexpected redirect");
    assert_string_equal(outcome_http_reason(100),
                        "unexpected informational response");
    assert_string_equal(outcome_http_reason(0), "invalid HTTP status");
}

static void transport_table(void **state)
{
    (void)state;
    assert_int_equal(outcome_from_transport(TRANSPORT_OK, 1), OUTCOME_SUCCESS);
    assert_int_equal(outcome_from_transport(TRANSPORT_CONNECT_FAILED, 0),
                     OUTCOME_TRANSIENT);
    assert_int_equal(outcome_from_transport(TRANSPORT_CONNECT_FAILED, 1),
                     OUTCOME_TRANSIENT);
    assert_int_equal(outcome_from_transport(TRANSPORT_TIMEOUT, 0),
                     OUTCOME_TRANSIENT);
    assert_int_equal(outcome_from_transport(TRANSPORT_TIMEOUT, 1),
                     OUTCOME_UNKNOWN);
    assert_int_equal(outcome_from_transport(TRANSPORT_CONNECTION_LOST, 0),
                     OUTCOME_TRANSIENT);
    assert_int_equal(outcome_from_transport(TRANSPORT_CONNECTION_LOST, 1),
                     OUTCOME_UNKNOWN);
    assert_int_equal(outcome_from_transport((enum transport_error)9, 1),
                     OUTCOME_UNKNOWN);
}

#define NO_HINT (-1)

struct decide_case {
    const char *name;
    /* Input. */
    uint32_t retry_count;
    int64_t waited_ms;
    enum outcome outcome;
    int rate_limited;
    int64_t hint_ms;
    enum on_unknown on_unknown;
    /* Expected decision. */
    enum entry_status next;
    uint32_t new_retry_count;
    int64_t delay_ms;
    int64_t new_waited_ms;
    int counts_as_retry;
    const char *reason;
};

/* Default policy: base 30 s, max 1 h, 3 retries, hint cap 1 h, 24 h. */
static const struct decide_case decide_cases[] = {
    {"success first try", 0, 0, OUTCOME_SUCCESS, 0, NO_HINT, ON_UNKNOWN_HOLD,
     ENTRY_PUBLISHED, 0, 0, 0, 0, NULL},
    {"success keeps counters", 2, 5000, OUTCOME_SUCCESS, 0, NO_HINT,
     ON_UNKNOWN_HOLD, ENTRY_PUBLISHED, 2, 0, 5000, 0, NULL},
    {"transient first", 0, 0, OUTCOME_TRANSIENT, 0, NO_HINT, ON_UNKNOWN_HOLD,
     ENTRY_RETRYING, 1, 30 * SECOND_MS, 0, 1, NULL},
    {"transient second", 1, 0, OUTCOME_TRANSIENT, 0, NO_HINT, ON_UNKNOWN_HOLD,
     ENTRY_RETRYING, 2, 60 * SECOND_MS, 0, 1, NULL},
    {"transient last retry", 2, 0, OUTCOME_TRANSIENT, 0, NO_HINT,
     ON_UNKNOWN_HOLD, ENTRY_RETRYING, 3, 120 * SECOND_MS, 0, 1, NULL},
    {"transient exhausted", 3, 0, OUTCOME_TRANSIENT, 0, NO_HINT,
     ON_UNKNOWN_HOLD, ENTRY_FAILED, 3, 0, 0, 0, "retries exhausted"},
    {"transient over max", 7, 0, OUTCOME_TRANSIENT, 0, NO_HINT, ON_UNKNOWN_HOLD,
     ENTRY_FAILED, 7, 0, 0, 0, "retries exhausted"},
    {"transient hint raises delay", 0, 0, OUTCOME_TRANSIENT, 0, 90 * SECOND_MS,
     ON_UNKNOWN_HOLD, ENTRY_RETRYING, 1, 90 * SECOND_MS, 0, 1, NULL},
    {"transient short hint ignored", 1, 0, OUTCOME_TRANSIENT, 0, 5 * SECOND_MS,
     ON_UNKNOWN_HOLD, ENTRY_RETRYING, 2, 60 * SECOND_MS, 0, 1, NULL},
    {"transient hint capped", 0, 0, OUTCOME_TRANSIENT, 0, 5 * HOUR_MS,
     ON_UNKNOWN_HOLD, ENTRY_RETRYING, 1, HOUR_MS, 0, 1, NULL},
    {"429 without hint", 0, 0, OUTCOME_TRANSIENT, 1, NO_HINT, ON_UNKNOWN_HOLD,
     ENTRY_RETRYING, 1, 30 * SECOND_MS, 0, 1, NULL},
    {"429 without hint exhausted", 3, 0, OUTCOME_TRANSIENT, 1, NO_HINT,
     ON_UNKNOWN_HOLD, ENTRY_FAILED, 3, 0, 0, 0, "retries exhausted"},
    {"429 with hint", 0, 0, OUTCOME_TRANSIENT, 1, 120 * SECOND_MS,
     ON_UNKNOWN_HOLD, ENTRY_RETRYING, 0, 120 * SECOND_MS, 120 * SECOND_MS, 0,
     NULL},
    {"429 with hint adds up", 2, 600 * SECOND_MS, OUTCOME_TRANSIENT, 1,
     5 * SECOND_MS, ON_UNKNOWN_HOLD, ENTRY_RETRYING, 2, 5 * SECOND_MS,
     605 * SECOND_MS, 0, NULL},
    {"429 ignores exhausted retries", 3, 0, OUTCOME_TRANSIENT, 1,
     10 * SECOND_MS, ON_UNKNOWN_HOLD, ENTRY_RETRYING, 3, 10 * SECOND_MS,
     10 * SECOND_MS, 0, NULL},
    {"429 hint capped", 0, 0, OUTCOME_TRANSIENT, 1, 3 * HOUR_MS,
     ON_UNKNOWN_HOLD, ENTRY_RETRYING, 0, HOUR_MS, HOUR_MS, 0, NULL},
    {"429 zero hint floor", 0, 0, OUTCOME_TRANSIENT, 1, 0, ON_UNKNOWN_HOLD,
     ENTRY_RETRYING, 0, RETRY_MIN_RATE_LIMIT_WAIT_MS,
     RETRY_MIN_RATE_LIMIT_WAIT_MS, 0, NULL},
    {"429 budget exactly used", 1, DAY_MS - HOUR_MS, OUTCOME_TRANSIENT, 1,
     HOUR_MS, ON_UNKNOWN_HOLD, ENTRY_RETRYING, 1, HOUR_MS, DAY_MS, 0, NULL},
    {"429 budget exceeded", 1, DAY_MS - HOUR_MS + 1, OUTCOME_TRANSIENT, 1,
     HOUR_MS, ON_UNKNOWN_HOLD, ENTRY_FAILED, 1, 0, DAY_MS - HOUR_MS + 1, 0,
     "rate-limit wait budget exhausted"},
    {"429 budget near overflow", 0, INT64_MAX - 10, OUTCOME_TRANSIENT, 1,
     HOUR_MS, ON_UNKNOWN_HOLD, ENTRY_FAILED, 0, 0, INT64_MAX - 10, 0,
     "rate-limit wait budget exhausted"},
    {"permanent first try", 0, 0, OUTCOME_PERMANENT, 0, NO_HINT,
     ON_UNKNOWN_RETRY, ENTRY_FAILED, 0, 0, 0, 0, "permanent error"},
    {"permanent ignores 429 flag", 1, 0, OUTCOME_PERMANENT, 1, 30 * SECOND_MS,
     ON_UNKNOWN_HOLD, ENTRY_FAILED, 1, 0, 0, 0, "permanent error"},
    {"unknown hold", 0, 0, OUTCOME_UNKNOWN, 0, NO_HINT, ON_UNKNOWN_HOLD,
     ENTRY_FAILED, 0, 0, 0, 0, "outcome unknown"},
    {"unknown retry", 1, 0, OUTCOME_UNKNOWN, 0, NO_HINT, ON_UNKNOWN_RETRY,
     ENTRY_RETRYING, 2, 60 * SECOND_MS, 0, 1, NULL},
    {"unknown retry exhausted", 3, 0, OUTCOME_UNKNOWN, 0, NO_HINT,
     ON_UNKNOWN_RETRY, ENTRY_FAILED, 3, 0, 0, 0, "outcome unknown"},
    {"invalid outcome held", 0, 0, (enum outcome)17, 0, NO_HINT,
     ON_UNKNOWN_RETRY, ENTRY_FAILED, 0, 0, 0, 0, "outcome unknown"},
};

static void check_decision(const struct decide_case *c,
                           const struct retry_decision *d)
{
    if (d->next_status != c->next)
        fail_msg("%s: status %s, expected %s", c->name,
                 entry_status_name(d->next_status), entry_status_name(c->next));
    if (d->retry_count != c->new_retry_count)
        fail_msg("%s: retry_count %u, expected %u", c->name, d->retry_count,
                 c->new_retry_count);
    if (d->delay_ms != c->delay_ms)
        fail_msg("%s: delay %lld, expected %lld", c->name,
                 (long long)d->delay_ms, (long long)c->delay_ms);
    if (d->rate_limit_waited_ms != c->new_waited_ms)
        fail_msg("%s: waited %lld, expected %lld", c->name,
                 (long long)d->rate_limit_waited_ms,
                 (long long)c->new_waited_ms);
    if (d->counts_as_retry != c->counts_as_retry)
        fail_msg("%s: counts_as_retry %d", c->name, d->counts_as_retry);
    if (c->reason == NULL && d->reason != NULL)
        fail_msg("%s: unexpected reason \"%s\"", c->name, d->reason);
    if (c->reason != NULL &&
        (d->reason == NULL || strcmp(d->reason, c->reason) != 0))
        fail_msg("%s: reason \"%s\", expected \"%s\"", c->name,
                 d->reason == NULL ? "(null)" : d->reason, c->reason);
}

static void decide_table(void **state)
{
    struct retry_policy policy;

    (void)state;
    retry_policy_init(&policy);
    for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]);
         i++) {
        const struct decide_case *c = &decide_cases[i];
        struct entry_retry_state entry = {c->retry_count, c->waited_ms};
        struct attempt_result result = {c->outcome, c->rate_limited,
                                        c->hint_ms};
        struct retry_decision d;

        memset(&d, 0x5a, sizeof(d));
        retry_decide(&policy, &entry, &result, c->on_unknown, 0.0, &d);
        check_decision(c, &d);
    }
}

/* Walks one entry through every attempt until it fails. */
static void decide_four_attempts_total(void **state)
{
    struct retry_policy policy;
    struct entry_retry_state entry = {0, 0};
    struct attempt_result result = {OUTCOME_TRANSIENT, 0, NO_HINT};
    struct retry_decision d;
    int attempts = 0;

    (void)state;
    retry_policy_init(&policy);
    do {
        attempts++;
        retry_decide(&policy, &entry, &result, ON_UNKNOWN_HOLD, 0.0, &d);
        entry.retry_count = d.retry_count;
    } while (d.next_status == ENTRY_RETRYING && attempts < 100);

    assert_int_equal(attempts, 4);
    assert_int_equal(d.next_status, ENTRY_FAILED);
    assert_int_equal(d.retry_count, 3);
    assert_string_equal(d.reason, RETRY_REASON_EXHAUSTED);
}

/* Rate-limited attempts stop once 24 h of waiting is used up. */
static void decide_rate_limit_budget_ends(void **state)
{
    struct retry_policy policy;
    struct entry_retry_state entry = {0, 0};
    struct attempt_result result = {OUTCOME_TRANSIENT, 1, HOUR_MS};
    struct retry_decision d;
    int attempts = 0;

    (void)state;
    retry_policy_init(&policy);
    do {
        attempts++;
        retry_decide(&policy, &entry, &result, ON_UNKNOWN_HOLD, 0.0, &d);
        entry.rate_limit_waited_ms = d.rate_limit_waited_ms;
    } while (d.next_status == ENTRY_RETRYING && attempts < 1000);

    assert_int_equal(attempts, 25);
    assert_int_equal(d.retry_count, 0);
    assert_int_equal(d.rate_limit_waited_ms, DAY_MS);
    assert_string_equal(d.reason, RETRY_REASON_RATE_LIMIT);
}

static void decide_jitter_applies(void **state)
{
    struct retry_policy policy;
    struct entry_retry_state entry = {1, 0};
    struct attempt_result result = {OUTCOME_TRANSIENT, 0, NO_HINT};
    struct retry_decision d;

    (void)state;
    retry_policy_init(&policy);
    policy.jitter = 0.5;
    retry_decide(&policy, &entry, &result, ON_UNKNOWN_HOLD, 0.5, &d);
    assert_int_equal(d.delay_ms, 45 * SECOND_MS);

    /* The hint is a floor that jitter cannot lower. */
    result.hint_ms = 60 * SECOND_MS;
    retry_decide(&policy, &entry, &result, ON_UNKNOWN_HOLD, 0.5, &d);
    assert_int_equal(d.delay_ms, 60 * SECOND_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outcome_names_round_trip),
        cmocka_unit_test(outcome_parse_rejects),
        cmocka_unit_test(http_status_table),
        cmocka_unit_test(http_reason_phrases),
        cmocka_unit_test(transport_table),
        cmocka_unit_test(decide_table),
        cmocka_unit_test(decide_four_attempts_total),
        cmocka_unit_test(decide_rate_limit_budget_ends),
        cmocka_unit_test(decide_jitter_applies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
