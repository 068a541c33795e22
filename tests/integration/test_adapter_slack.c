/*
 * The slack adapter against a fake Slack incoming webhook: the message
 * it posts, escaping and the 40,000-character limit, and the mapping of
 * every documented plain-text error. The webhook URL is a secret and
 * must not appear in a result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapter_harness.h"
#include "fake_platform.h"
#include "publish/adapter.h"

#define HOOK_VAR "PUBQ_TEST_SLACK_HOOK"
#define HOOK_SECRET "xQ9vR2mK7pL4sT8wZ1yB6nC3"
#define HOOK_PATH "/services/T0001/B0002/" HOOK_SECRET
#define FIXED_NOW 1700000000000LL

static struct fake_platform *fake;
static char hook_url[256];

static const struct adapter_ops *ops(void)
{
    const struct adapter_ops *found = adapter_find("slack");

    assert_non_null(found);
    return found;
}

static void *create_default(void)
{
    struct harness_platform platform;
    char err[512] = "";
    void *state = NULL;

    harness_platform_init(&platform, "team", "slack");
    harness_platform_set(&platform, "webhook_url_env", HOOK_VAR);
    if (ops()->create(&platform.config, &state, err, sizeof err) != 0)
        fail_msg("create failed: %s", err);
    return state;
}

static void assert_no_secret(const struct adapter_result *result)
{
    const char *texts[] = {result->error, result->pause_reason, result->post_id,
                           result->post_url};

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        assert_null(strstr(texts[i], hook_url));
        assert_null(strstr(texts[i], HOOK_SECRET));
    }
}

static int run_content(const json_t *content,
                       const struct fake_response *response,
                       struct adapter_result *result)
{
    void *state = create_default();
    struct entry entry = harness_entry(1);
    int requests;

    if (response != NULL)
        assert_int_equal(fake_platform_push_response(fake, HOOK_PATH, response),
                         0);
    requests = harness_run(ops(), state, &entry, content, 0, FIXED_NOW, result);
    ops()->destroy(state);
    assert_no_secret(result);
    return requests;
}

static void run_once(const struct fake_response *response,
                     struct adapter_result *result)
{
    json_t *content = json_pack("{s:s}", "text", "Hello");

    assert_int_equal(run_content(content, response, result), 1);
    json_decref(content);
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake = fake_platform_start();
    if (fake == NULL)
        return -1;
    snprintf(hook_url, sizeof hook_url, "%s%s", fake_platform_url(fake),
             HOOK_PATH);
    setenv(HOOK_VAR, hook_url, 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_platform_stop(fake);
    curl_global_cleanup();
    return 0;
}

static void slack_posts_message(void **unused)
{
    json_t *content = json_pack("{s:s, s:s}", "text", "Fish & chips <b> @here",
                                "link", "https://blog.test/p/1?a=1&b=2");
    size_t index = fake_platform_request_count(fake);
    const struct fake_request *request;
    struct adapter_result result;
    json_t *body;

    (void)unused;
    run_content(content,
                &(struct fake_response){.status = 200,
                                        .headers = "Content-Type: text/html\n",
                                        .body = "ok"},
                &result);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(result.http_status, 200);
    assert_string_equal(result.error, "");
    /* Incoming webhooks return no message ts, so there is no id. */
    assert_string_equal(result.post_id, "");
    assert_int_equal(result.pause_ms, 0);

    request = fake_platform_request(fake, index);
    assert_non_null(request);
    assert_string_equal(request->method, "POST");
    assert_string_equal(request->path, HOOK_PATH);
    assert_string_equal(fake_request_header(request, "Content-Type"),
                        "application/json");
    body = json_loadb(request->body, request->body_len, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "text")),
                        "Fish &amp; chips &lt;b&gt; @here\n\n"
                        "https://blog.test/p/1?a=1&amp;b=2");
    assert_int_equal(json_object_size(body), 1);
    json_decref(body);
}

/* Every documented error body, its HTTP status, and whether it pauses. */
static void slack_error_mapping(void **unused)
{
    static const struct {
        int status;
        const char *body;
        const char *pause; /* NULL: no pause */
    } cases[] = {
        {400, "invalid_payload", NULL},
        {400, "no_text", NULL},
        {400, "too_many_attachments", NULL},
        {400, "missing_text_or_fallback_or_attachments", NULL},
        {400, "user_not_found", "(user_not_found)"},
        {404, "channel_not_found", "(channel_not_found)"},
        {410, "channel_is_archived", "(channel_is_archived)"},
        {403, "action_prohibited", "(action_prohibited)"},
        {403, "posting_to_general_channel_denied",
         "(posting_to_general_channel_denied)"},
        {404, "no_service", "(no_service)"},
        {400, "no_service_id", "(no_service_id)"},
        {404, "no_active_hooks", "(no_active_hooks)"},
        {404, "no_team", "(no_team)"},
        {403, "team_disabled", "(team_disabled)"},
        {403, "invalid_token", "(invalid_token)"},
    };

    (void)unused;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct adapter_result result;
        char expected[128];

        run_once(&(struct fake_response){.status = cases[i].status,
                                         .body = cases[i].body},
                 &result);
        snprintf(expected, sizeof expected, "HTTP %d (slack error): %s",
                 cases[i].status, cases[i].body);
        if (strstr(result.error, expected) == NULL)
            fail_msg("case %s: error \"%s\"", cases[i].body, result.error);
        assert_int_equal(result.outcome, OUTCOME_PERMANENT);
        assert_int_equal(result.http_status, cases[i].status);
        assert_int_equal(result.rate_limited, 0);
        if (cases[i].pause == NULL) {
            assert_int_equal(result.pause_ms, 0);
            assert_string_equal(result.pause_reason, "");
        } else {
            assert_int_equal(result.pause_ms, -1);
            assert_non_null(strstr(result.pause_reason, cases[i].pause));
        }
    }
}

static void slack_unknown_403_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 403, .body = "some_new_error"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_string_equal(result.pause_reason,
                        "slack webhook rejected (HTTP 403)");
    assert_non_null(strstr(result.error, "some_new_error"));
}

static void slack_unknown_400_fails_entry(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 400, .body = "invalid_blocks"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, 0);
    assert_non_null(strstr(result.error, "invalid_blocks"));
}

static void slack_429_retry_after(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 429,
                                     .headers = "Retry-After: 30\n",
                                     .body = "rate_limited"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.http_status, 429);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 30000);
    assert_int_equal(result.pause_ms, 0);
}

static void slack_429_bad_retry_after(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){.status = 429, .headers = "Retry-After: 1.5\n"},
        &result);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, -1);
    assert_non_null(strstr(result.error, "ignored malformed Retry-After"));
}

static void slack_5xx_outcomes(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 500, .body = "rollup_error"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_non_null(strstr(result.error, "rollup_error"));
    assert_int_equal(result.pause_ms, 0);

    run_once(&(struct fake_response){.status = 503}, &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    run_once(&(struct fake_response){.status = 502}, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    run_once(&(struct fake_response){.status = 504}, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
}

static void slack_dropped_unknown(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.drop = 1}, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_non_null(strstr(result.error, "slack webhook: request failed "
                                         "after it was sent"));
}

static void slack_echoed_secret_removed(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){.status = 400, .body = "bad hook " HOOK_SECRET},
        &result);
    assert_non_null(strstr(result.error, "bad hook [secret]"));
}

static char *repeat(const char *unit, size_t count)
{
    size_t length = strlen(unit);
    char *text = malloc(length * count + 1);

    assert_non_null(text);
    for (size_t i = 0; i < count; i++)
        memcpy(text + i * length, unit, length);
    text[length * count] = '\0';
    return text;
}

static int check(const char *unit, size_t count, char *err, size_t errlen)
{
    struct harness_platform platform;
    char *text = repeat(unit, count);
    json_t *content = json_pack("{s:s}", "text", text);
    int result;

    harness_platform_init(&platform, "team", "slack");
    result = ops()->check_content(&platform.config, content, err, errlen);
    json_decref(content);
    free(text);
    return result;
}

static void slack_limit_40000(void **unused)
{
    char err[512];

    (void)unused;
    assert_int_equal(check("a", 40000, err, sizeof err), 0);
    assert_int_equal(check("a", 40001, err, sizeof err), -1);
    assert_non_null(strstr(err, "40001 characters"));
    assert_non_null(strstr(err, "limit of 40000"));

    /* "&" is sent as "&amp;": 8000 of them are 40000 characters. */
    assert_int_equal(check("&", 8000, err, sizeof err), 0);
    assert_int_equal(check("&", 8001, err, sizeof err), -1);
    assert_non_null(strstr(err, "40005 characters"));

    assert_int_equal(check("a", 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "nothing to post"));
}

static void slack_start_checks_limit(void **unused)
{
    char *text = repeat("a", 40001);
    json_t *content = json_pack("{s:s}", "text", text);
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;

    (void)unused;
    assert_int_equal(run_content(content, NULL, &result), 0);
    json_decref(content);
    free(text);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "limit of 40000"));
    assert_int_equal(fake_platform_request_count(fake), before);
}

static void assert_create_fails(struct harness_platform *platform,
                                const char *expected)
{
    char err[512] = "";
    void *state = NULL;

    assert_int_equal(ops()->create(&platform->config, &state, err, sizeof err),
                     -1);
    if (strstr(err, expected) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", expected, err);
    assert_null(strstr(err, HOOK_SECRET));
}

static void slack_create_rejects(void **unused)
{
    struct harness_platform platform;

    (void)unused;
    harness_platform_init(&platform, "team", "slack");
    assert_create_fails(&platform, "missing option webhook_url_env");

    unsetenv("PUBQ_TEST_UNSET_HOOK");
    harness_platform_init(&platform, "team", "slack");
    harness_platform_set(&platform, "webhook_url_env", "PUBQ_TEST_UNSET_HOOK");
    assert_create_fails(&platform, "PUBQ_TEST_UNSET_HOOK");

    setenv("PUBQ_TEST_BAD_HOOK", "http://hooks.slack.test" HOOK_PATH, 1);
    harness_platform_init(&platform, "team", "slack");
    harness_platform_set(&platform, "webhook_url_env", "PUBQ_TEST_BAD_HOOK");
    assert_create_fails(&platform, "https://");
    unsetenv("PUBQ_TEST_BAD_HOOK");

    harness_platform_init(&platform, "team", "slack");
    harness_platform_set(&platform, "webhook_url_env", HOOK_VAR);
    harness_platform_set(&platform, "channel", "#general");
    assert_create_fails(&platform, "unknown option \"channel\"");

    harness_platform_init(&platform, "team", "slack");
    harness_platform_set(&platform, "webhook_url_env", HOOK_VAR);
    harness_platform_set(&platform, "timeout", "0s");
    assert_create_fails(&platform, "invalid timeout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slack_posts_message),
        cmocka_unit_test(slack_error_mapping),
        cmocka_unit_test(slack_unknown_403_pauses),
        cmocka_unit_test(slack_unknown_400_fails_entry),
        cmocka_unit_test(slack_429_retry_after),
        cmocka_unit_test(slack_429_bad_retry_after),
        cmocka_unit_test(slack_5xx_outcomes),
        cmocka_unit_test(slack_dropped_unknown),
        cmocka_unit_test(slack_echoed_secret_removed),
        cmocka_unit_test(slack_limit_40000),
        cmocka_unit_test(slack_start_checks_limit),
        cmocka_unit_test(slack_create_rejects),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
