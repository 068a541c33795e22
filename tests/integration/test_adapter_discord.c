/*
 * The discord adapter against a fake Discord webhook endpoint: the
 * message it posts, the 2000-character limit, rate limits and errors.
 * The webhook URL contains the webhook's token, so neither may appear in a
 * result.
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

#define HOOK_VAR "PUBQ_TEST_DISCORD_HOOK"
#define HOOK_TOKEN "hT0k3n-9f8e7d6c5b4a39281706"
#define HOOK_PATH "/api/webhooks/1180000000000000042/" HOOK_TOKEN
#define FIXED_NOW 1700000000000LL

static struct fake_platform *fake;
static char hook_url[256];

static const struct adapter_ops *ops(void)
{
    const struct adapter_ops *found = adapter_find("discord");

    assert_non_null(found);
    return found;
}

static void base_platform(struct harness_platform *platform)
{
    harness_platform_init(platform, "chat", "discord");
    harness_platform_set(platform, "webhook_url_env", HOOK_VAR);
}

static void *create_from(struct harness_platform *platform)
{
    char err[512] = "";
    void *state = NULL;

    if (ops()->create(&platform->config, &state, err, sizeof err) != 0)
        fail_msg("create failed: %s", err);
    return state;
}

/* Neither the webhook URL nor its token may appear in any result text. */
static void assert_no_secret(const struct adapter_result *result)
{
    const char *texts[] = {result->error, result->pause_reason, result->post_id,
                           result->post_url};

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        assert_null(strstr(texts[i], hook_url));
        assert_null(strstr(texts[i], HOOK_TOKEN));
        assert_null(strstr(texts[i], "/api/webhooks/"));
    }
}

static void run_content(const json_t *content,
                        const struct fake_response *response,
                        struct adapter_result *result)
{
    struct harness_platform platform;
    struct entry entry = harness_entry(1);
    void *state;

    base_platform(&platform);
    state = create_from(&platform);
    if (response != NULL)
        assert_int_equal(fake_platform_push_response(fake, HOOK_PATH, response),
                         0);
    harness_run(ops(), state, &entry, content, 0, FIXED_NOW, result);
    ops()->destroy(state);
    assert_no_secret(result);
}

static void run_once(const struct fake_response *response,
                     struct adapter_result *result)
{
    json_t *content = json_pack("{s:s}", "text", "Hello");

    run_content(content, response, result);
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

static void discord_posts_message(void **unused)
{
    struct harness_platform platform;
    struct entry entry = harness_entry(1);
    json_t *content = json_pack("{s:s, s:s}", "text", "Hello @everyone", "link",
                                "https://blog.test/p/1");
    size_t index = fake_platform_request_count(fake);
    const struct fake_request *request;
    struct adapter_result result;
    json_t *body;
    void *state;

    (void)unused;
    base_platform(&platform);
    harness_platform_set(&platform, "username", "pubq bot");
    state = create_from(&platform);
    fake_platform_push_response(
        fake, HOOK_PATH,
        &(struct fake_response){
            .status = 200,
            .headers = "Content-Type: application/json\n",
            .body = "{\"id\":\"1180000000000000099\",\"type\":0,"
                    "\"channel_id\":\"1180000000000000007\","
                    "\"guild_id\":\"1180000000000000001\","
                    "\"webhook_id\":\"1180000000000000042\"}"});
    assert_int_equal(
        harness_run(ops(), state, &entry, content, 0, FIXED_NOW, &result), 1);
    ops()->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(result.http_status, 200);
    assert_string_equal(result.post_id, "1180000000000000099");
    assert_string_equal(result.post_url,
                        "https://discord.com/channels/1180000000000000001/"
                        "1180000000000000007/1180000000000000099");
    assert_string_equal(result.error, "");
    assert_no_secret(&result);

    request = fake_platform_request(fake, index);
    assert_non_null(request);
    assert_string_equal(request->method, "POST");
    assert_string_equal(request->path, HOOK_PATH);
    assert_string_equal(fake_request_query(request, "wait"), "true");
    assert_string_equal(fake_request_header(request, "Content-Type"),
                        "application/json");
    assert_null(fake_request_header(request, "Authorization"));

    body = json_loadb(request->body, request->body_len, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "content")),
                        "Hello @everyone\n\nhttps://blog.test/p/1");
    assert_string_equal(json_string_value(json_object_get(body, "username")),
                        "pubq bot");
    assert_true(json_is_array(
        json_object_get(json_object_get(body, "allowed_mentions"), "parse")));
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(body, "allowed_mentions"), "parse")),
                     0);
    json_decref(body);
}

static void discord_reply_without_guild(void **unused)
{
    struct adapter_result result;
    size_t index = fake_platform_request_count(fake);
    json_t *body;

    (void)unused;
    run_once(
        &(struct fake_response){.body = "{\"id\":\"99\",\"channel_id\":\"7\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "99");
    assert_string_equal(result.post_url, "");

    body = json_loadb(fake_platform_request(fake, index)->body,
                      fake_platform_request(fake, index)->body_len, 0, NULL);
    assert_null(json_object_get(body, "username"));
    json_decref(body);
}

static void discord_429_body_retry_after(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){
            .status = 429,
            .headers = "X-RateLimit-Reset-After: 9.000\n"
                       "Retry-After: 10\n",
            .body = "{\"message\":\"You are being rate limited.\","
                    "\"retry_after\":1.337,\"global\":false}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.http_status, 429);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 1337);
    assert_null(strstr(result.error, "global"));
    assert_non_null(strstr(result.error, "You are being rate limited."));
}

static void discord_429_reset_after_header(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){
            .status = 429,
            .headers = "X-RateLimit-Reset-After: 2.25\n"
                       "X-RateLimit-Scope: shared\n",
            .body = "{\"message\":\"You are being rate limited.\"}"},
        &result);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 2250);
}

static void discord_429_retry_after_only(void **unused)
{
    struct adapter_result result;

    (void)unused;
    /* A Cloudflare ban: an HTML page and Retry-After. */
    run_once(&(struct fake_response){.status = 429,
                                     .headers = "Retry-After: 3600\n",
                                     .body = "<html>Error 1015</html>"},
             &result);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 3600000);
}

static void discord_429_global(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){
            .status = 429,
            .headers = "X-RateLimit-Global: true\n"
                       "X-RateLimit-Scope: global\n",
            .body = "{\"message\":\"You are being rate limited.\","
                    "\"retry_after\":64.57,\"global\":true}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.hint_ms, 64570);
    assert_non_null(strstr(result.error, "global limit"));
}

static void discord_429_bad_wait(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 429,
                                     .headers = "X-RateLimit-Reset-After: -4\n",
                                     .body = "{\"retry_after\":-1}"},
             &result);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, -1);
    assert_non_null(strstr(result.error, "ignored malformed"));
}

static void discord_404_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){
            .status = 404,
            .body = "{\"message\":\"Unknown Webhook\",\"code\":10015}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_string_equal(result.pause_reason, "webhook deleted (HTTP 404)");
    assert_non_null(strstr(result.error, "Unknown Webhook (code 10015)"));
    assert_non_null(strstr(result.error, "discord webhook"));
}

static void discord_401_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){.status = 401,
                                .body =
                                    "{\"message\":\"Invalid Webhook Token\","
                                    "\"code\":50027}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_string_equal(result.pause_reason,
                        "webhook token rejected (HTTP 401)");
}

static void discord_400_permanent(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){
            .status = 400,
            .body = "{\"message\":\"Invalid Form Body\",\"code\":50035,"
                    "\"errors\":{\"content\":{\"_errors\":[{\"code\":"
                    "\"BASE_TYPE_MAX_LENGTH\",\"message\":\"Must be "
                    "2000 or fewer in length.\"}]}}}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.http_status, 400);
    assert_int_equal(result.pause_ms, 0);
    assert_non_null(strstr(result.error,
                           "Invalid Form Body (code 50035; content: Must be "
                           "2000 or fewer in length.)"));
}

static void discord_echoed_token_removed(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 400,
                                     .body =
                                         "{\"message\":\"bad token " HOOK_TOKEN
                                         "\"}"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "bad token [secret]"));

    run_once(&(struct fake_response){.status = 200,
                                     .body = "{\"id\":\"" HOOK_TOKEN "\","
                                             "\"channel_id\":\"11\","
                                             "\"guild_id\":\"22\"}"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "[secret]");
    assert_string_equal(result.post_url,
                        "https://discord.com/channels/22/11/[secret]");
}

static void discord_5xx_outcomes(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 500}, &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    run_once(&(struct fake_response){.status = 503}, &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    run_once(&(struct fake_response){.status = 502}, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    run_once(&(struct fake_response){.status = 504}, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_int_equal(result.pause_ms, 0);
}

static void discord_dropped_unknown(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.drop = 1}, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_int_equal(result.http_status, 0);
    assert_non_null(strstr(result.error, "discord webhook: request failed "
                                         "after it was sent"));
    assert_null(strstr(result.error, "127.0.0.1"));
}

/* No idempotency at Discord: an attempt after an unknown one posts again. */
static void discord_posts_again_after_unknown(void **unused)
{
    struct harness_platform platform;
    struct entry entry = harness_entry(2);
    json_t *content = json_pack("{s:s}", "text", "Again");
    size_t before = fake_platform_requests_to(fake, HOOK_PATH);
    struct adapter_result result;
    void *state;

    (void)unused;
    base_platform(&platform);
    state = create_from(&platform);
    assert_int_equal(
        harness_run(ops(), state, &entry, content, 1, FIXED_NOW, &result), 1);
    ops()->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(fake_platform_requests_to(fake, HOOK_PATH), before + 1);
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

static int check(const char *unit, size_t count, const char *link, char *err,
                 size_t errlen)
{
    struct harness_platform platform;
    char *text = repeat(unit, count);
    json_t *content = json_pack("{s:s}", "text", text);
    int result;

    harness_platform_init(&platform, "chat", "discord");
    if (link != NULL)
        json_object_set_new(content, "link", json_string(link));
    result = ops()->check_content(&platform.config, content, err, errlen);
    json_decref(content);
    free(text);
    return result;
}

static void discord_limit_2000(void **unused)
{
    char err[512];

    (void)unused;
    assert_int_equal(check("a", 2000, NULL, err, sizeof err), 0);
    assert_int_equal(check("a", 2001, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "2001 characters"));
    assert_non_null(strstr(err, "limit of 2000"));

    /* An emoji outside the BMP is one code point. */
    assert_int_equal(check("\xf0\x9f\x98\x80", 2000, NULL, err, sizeof err), 0);

    /* The appended link: 1980 + 2 + 18 = 2000. */
    assert_int_equal(check("a", 1980, "https://blog.test/", err, sizeof err),
                     0);
    assert_int_equal(check("a", 1981, "https://blog.test/", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "with the link appended"));

    assert_int_equal(check("a", 0, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "nothing to post"));
}

static void discord_start_checks_limit(void **unused)
{
    char *text = repeat("a", 2001);
    json_t *content = json_pack("{s:s}", "text", text);
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;

    (void)unused;
    run_content(content, NULL, &result);
    json_decref(content);
    free(text);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "limit of 2000"));
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
    assert_null(strstr(err, HOOK_TOKEN));
    assert_null(strstr(err, "discord.test"));
}

static void discord_create_rejects(void **unused)
{
    struct harness_platform platform;
    char name[128];

    (void)unused;
    harness_platform_init(&platform, "chat", "discord");
    assert_create_fails(&platform, "missing option webhook_url_env");

    unsetenv("PUBQ_TEST_UNSET_HOOK");
    harness_platform_init(&platform, "chat", "discord");
    harness_platform_set(&platform, "webhook_url_env", "PUBQ_TEST_UNSET_HOOK");
    assert_create_fails(&platform, "PUBQ_TEST_UNSET_HOOK");

    setenv("PUBQ_TEST_BAD_HOOK",
           "http://discord.test/api/webhooks/1/" HOOK_TOKEN, 1);
    harness_platform_init(&platform, "chat", "discord");
    harness_platform_set(&platform, "webhook_url_env", "PUBQ_TEST_BAD_HOOK");
    assert_create_fails(&platform, "https://");

    setenv("PUBQ_TEST_BAD_HOOK", "https://discord.test/api/hooks/" HOOK_TOKEN,
           1);
    assert_create_fails(&platform, "ID/TOKEN");
    unsetenv("PUBQ_TEST_BAD_HOOK");

    memset(name, 'n', 81);
    name[81] = '\0';
    base_platform(&platform);
    harness_platform_set(&platform, "username", name);
    assert_create_fails(&platform, "1 to 80 characters");

    base_platform(&platform);
    harness_platform_set(&platform, "webhook_url", hook_url);
    assert_create_fails(&platform, "unknown option \"webhook_url\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discord_posts_message),
        cmocka_unit_test(discord_reply_without_guild),
        cmocka_unit_test(discord_429_body_retry_after),
        cmocka_unit_test(discord_429_reset_after_header),
        cmocka_unit_test(discord_429_retry_after_only),
        cmocka_unit_test(discord_429_global),
        cmocka_unit_test(discord_429_bad_wait),
        cmocka_unit_test(discord_404_pauses),
        cmocka_unit_test(discord_401_pauses),
        cmocka_unit_test(discord_400_permanent),
        cmocka_unit_test(discord_echoed_token_removed),
        cmocka_unit_test(discord_5xx_outcomes),
        cmocka_unit_test(discord_dropped_unknown),
        cmocka_unit_test(discord_posts_again_after_unknown),
        cmocka_unit_test(discord_limit_2000),
        cmocka_unit_test(discord_start_checks_limit),
        cmocka_unit_test(discord_create_rejects),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
