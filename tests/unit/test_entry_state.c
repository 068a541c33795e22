#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/entry_state.h"

#define NONE (-1)

/*
 * Expected target for each (event, source status), written out by hand
 * from the lifecycle so that the test does not reuse the code's table.
 * Columns: pending, publishing, published, retrying, failed, cancelled.
 */
static const int expected[ENTRY_EVENT_COUNT][ENTRY_STATUS_COUNT] = {
    [ENTRY_EV_CLAIM] = {ENTRY_PUBLISHING, NONE, NONE, ENTRY_PUBLISHING, NONE,
                        NONE},
    [ENTRY_EV_SUCCEED] = {NONE, ENTRY_PUBLISHED, NONE, NONE, NONE, NONE},
    [ENTRY_EV_RETRY_LATER] = {NONE, ENTRY_RETRYING, NONE, NONE, NONE, NONE},
    [ENTRY_EV_FAIL] = {ENTRY_FAILED, ENTRY_FAILED, NONE, ENTRY_FAILED, NONE,
                       NONE},
    [ENTRY_EV_RECOVER] = {NONE, ENTRY_RETRYING, NONE, NONE, NONE, NONE},
    [ENTRY_EV_REQUEUE] = {NONE, NONE, NONE, NONE, ENTRY_PENDING, NONE},
    [ENTRY_EV_CANCEL] = {ENTRY_CANCELLED, NONE, NONE, ENTRY_CANCELLED,
                         ENTRY_CANCELLED, NONE},
    [ENTRY_EV_RESCHEDULE] = {ENTRY_PENDING, NONE, NONE, ENTRY_PENDING, NONE,
                             NONE},
    [ENTRY_EV_MARK_PUBLISHED] = {NONE, NONE, NONE, NONE, ENTRY_PUBLISHED, NONE},
};

static void transition_every_pair(void **state)
{
    (void)state;

    for (int e = 0; e < ENTRY_EVENT_COUNT; e++) {
        for (int s = 0; s < ENTRY_STATUS_COUNT; s++) {
            enum entry_status to = (enum entry_status)99;
            char err[256] = "";
            int rc = entry_transition((enum entry_status)s, (enum entry_event)e,
                                      &to, err, sizeof(err));

            if ((expected[e][s] == NONE) != (rc == -1))
                fail_msg("%s on %s returned %d: %s", entry_event_name(e),
                         entry_status_name(s), rc, err);
            if (expected[e][s] == NONE) {
                assert_int_equal(rc, -1);
                assert_int_equal(to, 99);
                assert_non_null(strstr(err, entry_status_name(s)));
                assert_int_equal(strncmp(err, "cannot ", 7), 0);
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(to, expected[e][s]);
                assert_string_equal(err, "");
            }
        }
    }
}

static void transition_cancel_message(void **state)
{
    enum entry_status to;
    char err[256];

    (void)state;
    assert_int_equal(entry_transition(ENTRY_PUBLISHED, ENTRY_EV_CANCEL, &to,
                                      err, sizeof(err)),
                     -1);
    assert_string_equal(err, "cannot cancel an entry that is published; "
                             "only pending, retrying or failed entries can "
                             "be cancelled");
}

static void transition_claim_message(void **state)
{
    enum entry_status to;
    char err[256];

    (void)state;
    assert_int_equal(
        entry_transition(ENTRY_FAILED, ENTRY_EV_CLAIM, &to, err, sizeof(err)),
        -1);
    assert_string_equal(err, "cannot claim an entry that is failed; only "
                             "pending or retrying entries can be claimed");
}

static void transition_out_of_range(void **state)
{
    enum entry_status to = ENTRY_PENDING;
    char err[128];

    (void)state;
    assert_int_equal(entry_transition((enum entry_status)42, ENTRY_EV_CLAIM,
                                      &to, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "invalid entry status 42");
    assert_int_equal(entry_transition(ENTRY_PENDING, (enum entry_event) - 1,
                                      &to, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "invalid entry event -1");
    assert_int_equal(to, ENTRY_PENDING);
}

static void transition_small_err_buffer(void **state)
{
    enum entry_status to;
    char err[8];

    (void)state;
    assert_int_equal(entry_transition(ENTRY_CANCELLED, ENTRY_EV_CANCEL, &to,
                                      err, sizeof(err)),
                     -1);
    assert_string_equal(err, "cannot ");
    assert_int_equal(
        entry_transition(ENTRY_CANCELLED, ENTRY_EV_CANCEL, &to, NULL, 0), -1);
}

static void status_names_round_trip(void **state)
{
    static const char *const names[] = {"pending",  "publishing", "published",
                                        "retrying", "failed",     "cancelled"};

    (void)state;
    for (int s = 0; s < ENTRY_STATUS_COUNT; s++) {
        enum entry_status parsed = ENTRY_CANCELLED;

        assert_string_equal(entry_status_name(s), names[s]);
        assert_int_equal(entry_status_parse(names[s], &parsed), 0);
        assert_int_equal(parsed, s);
    }
    assert_string_equal(entry_status_name((enum entry_status)6), "invalid");
}

static void status_parse_rejects(void **state)
{
    static const char *const bad[] = {"", "Pending", "pending ", "done",
                                      "invalid"};
    enum entry_status parsed = ENTRY_FAILED;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(entry_status_parse(bad[i], &parsed), -1);
    assert_int_equal(entry_status_parse(NULL, &parsed), -1);
    assert_int_equal(parsed, ENTRY_FAILED);
}

static void event_names(void **state)
{
    static const char *const names[] = {
        "claim",   "succeed", "retry_later", "fail",          "recover",
        "requeue", "cancel",  "reschedule",  "mark_published"};

    (void)state;
    for (int e = 0; e < ENTRY_EVENT_COUNT; e++)
        assert_string_equal(entry_event_name(e), names[e]);
    assert_string_equal(entry_event_name((enum entry_event)9), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transition_every_pair),
        cmocka_unit_test(transition_cancel_message),
        cmocka_unit_test(transition_claim_message),
        cmocka_unit_test(transition_out_of_range),
        cmocka_unit_test(transition_small_err_buffer),
        cmocka_unit_test(status_names_round_trip),
        cmocka_unit_test(status_parse_rejects),
        cmocka_unit_test(event_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
