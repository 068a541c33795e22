/*
 * The telegram adapter against a fake Bot API: the sendMessage request,
 * post ids and links, rate limits, chat migration, pauses, and that the
 * bot token never appears in a result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_platform.h"
#include "publish/adapter.h"
#include "store/store.h"
#include "test_support.h"

#define TOKEN_VAR "PUBQ_TEST_TELEGRAM_TOKEN"
#define TOKEN "123456:TEST-secret_token"
#define SEND_PATH "/bot" TOKEN "/sendMessage"
#define CHAT "-1001234"
#define FIXED_NOW 1700000000000LL

static struct fake_platform *fake;

/* A platform section built in memory, as config_load would produce. */
struct test_platform {
    struct platform_config config;
    struct config_option options[8];
    char text[8][2][512];
};

static void platform_set(struct test_platform *platform, const char *key,
                         const char *value)
{
    size_t i = platform->config.option_count++;

    assert_true(i < 8);
    snprintf(platform->text[i][0], sizeof platform->text[i][0], "%s", key);
    snprintf(platform->text[i][1], sizeof platform->text[i][1], "%s", value);
    platform->options[i].key = platform->text[i][0];
    platform->options[i].value = platform->text[i][1];
}

static void platform_init(struct test_platform *platform, const char *api)
{
    memset(platform, 0, sizeof *platform);
    platform->config.name = "tg";
    platform->config.type = "telegram";
    platform->config.options = platform->options;
    platform_set(platform, "api_base", api);
    platform_set(platform, "bot_token_env", TOKEN_VAR);
    platform_set(platform, "chat_id", CHAT);
    platform_set(platform, "timeout", "5s");
}

static const struct adapter_ops *ops(void)
{
    const struct adapter_ops *found = adapter_find("telegram");

    assert_non_null(found);
    return found;
}

static void *create_with(struct test_platform *platform)
{
    char err[512] = "";
    void *state = NULL;

    assert_int_equal(ops()->create(&platform->config, &state, err, sizeof err),
                     0);
    return state;
}

static void *adapter_new(void)
{
    struct test_platform platform;

    platform_init(&platform, fake_platform_url(fake));
    return create_with(&platform);
}

static void run_attempt(void *state, const char *text, struct store *store,
                        struct adapter_result *result)
{
    struct entry entry = {.id = 5, .attempt_count = 1};
    json_t *content = json_pack("{s:s}", "text", text);
    struct publish_attempt attempt = {
        .entry = &entry,
        .content = content,
        .now = FIXED_NOW,
        .store = store,
    };
    CURL *easy = NULL;
    enum adapter_step step;
    int steps = 0;

    attempt.result.hint_ms = -1;
    step = adapter_start(ops(), state, &attempt, &easy);
    while (step == ADAPTER_HTTP && steps++ < 5) {
        CURL *next = NULL;
        CURLcode code = curl_easy_perform(easy);

        step = adapter_on_response(ops(), state, &attempt, easy, code, &next);
        easy = next;
    }
    assert_int_equal(step, ADAPTER_DONE);
    ops()->end(state, &attempt);
    *result = attempt.result;
    json_decref(content);

    /* Whatever happened, the token is in no text of the result. */
    assert_null(strstr(result->error, "secret_token"));
    assert_null(strstr(result->pause_reason, "secret_token"));
    assert_null(strstr(result->post_url, "secret_token"));
    assert_null(strstr(result->post_id, "secret_token"));
}

static void push(int status, const char *body)
{
    assert_int_equal(fake_platform_push_response(
                         fake, SEND_PATH,
                         &(struct fake_response){
                             .status = status,
                             .headers = "Content-Type: application/json\n",
                             .body = body}),
                     0);
}

static json_t *request_json(size_t index)
{
    const struct fake_request *request = fake_platform_request(fake, index);

    assert_non_null(request);
    assert_string_equal(request->method, "POST");
    assert_string_equal(request->path, SEND_PATH);
    assert_string_equal(fake_request_header(request, "Content-Type"),
                        "application/json");
    return json_loads(request->body, 0, NULL);
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv(TOKEN_VAR, TOKEN, 1);
    fake = fake_platform_start();
    return fake == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_platform_stop(fake);
    curl_global_cleanup();
    return 0;
}

static void telegram_success_channel(void **unused)
{
    void *state = adapter_new();
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;
    json_t *body;

    (void)unused;
    push(200, "{\"ok\":true,\"result\":{\"message_id\":77,\"date\":1700000000,"
              "\"chat\":{\"id\":-1001234,\"type\":\"channel\","
              "\"username\":\"pubqnews\"},\"text\":\"Hello\"}}");
    run_attempt(state, "Hello", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(result.http_status, 200);
    assert_string_equal(result.post_id, "77");
    assert_string_equal(result.post_url, "https://t.me/pubqnews/77");
    assert_string_equal(result.error, "");

    body = request_json(before);
    assert_non_null(body);
    assert_int_equal(json_integer_value(json_object_get(body, "chat_id")),
                     -1001234);
    assert_string_equal(json_string_value(json_object_get(body, "text")),
                        "Hello");
    assert_null(json_object_get(body, "parse_mode"));
    assert_null(json_object_get(body, "link_preview_options"));
    json_decref(body);
}

static void telegram_private_chat_no_url(void **unused)
{
    void *state = adapter_new();
    struct adapter_result result;

    (void)unused;
    push(200, "{\"ok\":true,\"result\":{\"message_id\":9,"
              "\"chat\":{\"id\":42,\"type\":\"private\"}}}");
    run_attempt(state, "Hi", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "9");
    assert_string_equal(result.post_url, "");
}

static void telegram_retry_after(void **unused)
{
    void *state = adapter_new();
    struct adapter_result result;

    (void)unused;
    push(429, "{\"ok\":false,\"error_code\":429,\"description\":"
              "\"Too Many Requests: retry after 35\","
              "\"parameters\":{\"retry_after\":35}}");
    run_attempt(state, "Flood", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.http_status, 429);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 35000);
    assert_non_null(strstr(result.error, "Too Many Requests"));
    assert_non_null(strstr(result.error, "/bot***/sendMessage"));
}

static void telegram_migration_followed(void **unused)
{
    struct store *store = NULL;
    char err[STORE_ERR_MAX];
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;
    char *stored = NULL;
    void *state;
    json_t *body;

    (void)unused;
    assert_int_equal(store_open(test_path(test_tmpdir(), "pubq.db"), &store,
                                err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_migrate(store), STORE_OK);

    push(400, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad "
              "Request: group chat was upgraded to a supergroup chat\","
              "\"parameters\":{\"migrate_to_chat_id\":-1009876543210}}");
    push(200, "{\"ok\":true,\"result\":{\"message_id\":1,"
              "\"chat\":{\"id\":-1009876543210,\"type\":\"supergroup\"}}}");
    state = adapter_new();
    run_attempt(state, "Moved", store, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(fake_platform_request_count(fake), before + 2);
    body = request_json(before + 1);
    assert_int_equal(json_integer_value(json_object_get(body, "chat_id")),
                     -1009876543210LL);
    json_decref(body);
    assert_int_equal(store->ops->get_platform_data(store, "tg", &stored),
                     STORE_OK);
    assert_non_null(strstr(stored, "-1009876543210"));
    free(stored);

    /* A new adapter (a restart) posts to the new chat at once. */
    push(200, "{\"ok\":true,\"result\":{\"message_id\":2,"
              "\"chat\":{\"id\":-1009876543210,\"type\":\"supergroup\"}}}");
    state = adapter_new();
    run_attempt(state, "Again", store, &result);
    ops()->destroy(state);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(fake_platform_request_count(fake), before + 3);
    body = request_json(before + 2);
    assert_int_equal(json_integer_value(json_object_get(body, "chat_id")),
                     -1009876543210LL);
    json_decref(body);
    store_close(store);
}

static void telegram_migration_once(void **unused)
{
    void *state = adapter_new();
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;
    const char *migrate =
        "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: "
        "group chat was upgraded to a supergroup chat\","
        "\"parameters\":{\"migrate_to_chat_id\":-1005}}";

    (void)unused;
    push(400, migrate);
    push(400, migrate);
    run_attempt(state, "Loop", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(fake_platform_request_count(fake), before + 2);
}

static void telegram_forbidden_pauses(void **unused)
{
    void *state = adapter_new();
    struct adapter_result result;

    (void)unused;
    push(403, "{\"ok\":false,\"error_code\":403,\"description\":"
              "\"Forbidden: bot was kicked from the supergroup chat\"}");
    run_attempt(state, "Blocked", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.http_status, 403);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, "bot was kicked"));
}

static void telegram_unauthorized_pauses(void **unused)
{
    void *state = adapter_new();
    struct adapter_result result;

    (void)unused;
    push(401, "{\"ok\":false,\"error_code\":401,\"description\":"
              "\"Unauthorized\"}");
    run_attempt(state, "Revoked", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, TOKEN_VAR));
}

static void telegram_bad_request_permanent(void **unused)
{
    void *state = adapter_new();
    struct adapter_result result;

    (void)unused;
    push(400, "{\"ok\":false,\"error_code\":400,\"description\":"
              "\"Bad Request: chat not found\"}");
    run_attempt(state, "Nowhere", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, 0);
    assert_int_equal(result.rate_limited, 0);
    assert_non_null(strstr(result.error, "chat not found"));
}

/* A server that quotes the request path or echoes the token elsewhere. */
static void telegram_echoed_token_removed(void **unused)
{
    void *state = adapter_new();
    struct adapter_result result;

    (void)unused;
    push(401, "{\"ok\":false,\"error_code\":401,\"description\":"
              "\"Unauthorized: POST " SEND_PATH "\"}");
    run_attempt(state, "Echoed", NULL, &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.error, "POST /bot[secret]/sendMessage"));
    assert_non_null(
        strstr(result.pause_reason, "POST /bot[secret]/sendMessage"));

    push(200, "{\"ok\":true,\"result\":{\"message_id\":77,"
              "\"chat\":{\"id\":-1001234,\"username\":\"" TOKEN "\"}}}");
    run_attempt(state, "Echoed again", NULL, &result);
    ops()->destroy(state);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_url, "https://t.me/[secret]/77");
}

static void telegram_transport_error_hides_token(void **unused)
{
    struct test_platform platform;
    struct adapter_result result;
    void *state;

    (void)unused;
    /* Port 1 on loopback refuses the connection. */
    platform_init(&platform, "http://127.0.0.1:1");
    state = create_with(&platform);
    run_attempt(state, "Refused", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_non_null(strstr(result.error, "127.0.0.1"));
}

static void telegram_format_options(void **unused)
{
    struct test_platform platform;
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;
    void *state;
    json_t *body;

    (void)unused;
    platform_init(&platform, fake_platform_url(fake));
    platform_set(&platform, "parse_mode", "HTML");
    platform_set(&platform, "disable_web_page_preview", "true");
    state = create_with(&platform);
    push(200, "{\"ok\":true,\"result\":{\"message_id\":3,"
              "\"chat\":{\"id\":-1001234,\"type\":\"channel\"}}}");
    run_attempt(state, "<b>bold</b>", NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    body = request_json(before);
    assert_string_equal(json_string_value(json_object_get(body, "parse_mode")),
                        "HTML");
    assert_true(json_is_true(json_object_get(
        json_object_get(body, "link_preview_options"), "is_disabled")));
    json_decref(body);
}

static void telegram_options_checked(void **unused)
{
    struct test_platform platform;
    char err[512] = "";
    void *state = NULL;

    (void)unused;
    platform_init(&platform, "https://api.telegram.test");
    platform_set(&platform, "parse_mode", "Markdown3");
    assert_int_equal(ops()->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "invalid parse_mode \"Markdown3\""));

    platform_init(&platform, "https://api.telegram.test");
    platform_set(&platform, "token", "x");
    assert_int_equal(ops()->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "unknown option \"token\""));

    setenv("PUBQ_TEST_TELEGRAM_BAD", "not a token", 1);
    platform_init(&platform, "https://api.telegram.test");
    platform.options[1].value = "PUBQ_TEST_TELEGRAM_BAD";
    assert_int_equal(ops()->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "PUBQ_TEST_TELEGRAM_BAD"));
    assert_null(strstr(err, "not a token"));
}

static int check_text(const char *text)
{
    struct test_platform platform;
    json_t *content = json_pack("{s:s}", "text", text);
    char err[512];
    int result;

    platform_init(&platform, "https://api.telegram.test");
    result = ops()->check_content(&platform.config, content, err, sizeof err);
    json_decref(content);
    return result;
}

static void telegram_check_content_limit(void **unused)
{
    static char text[4 * 2049 + 1];
    size_t len = 0;

    (void)unused;
    memset(text, 'a', 4096);
    text[4096] = '\0';
    assert_int_equal(check_text(text), 0);
    text[4096] = 'a';
    text[4097] = '\0';
    assert_int_equal(check_text(text), -1);

    /* U+1F600 is two UTF-16 code units: 2048 fit, 2049 do not. */
    for (int i = 0; i < 2048; i++, len += 4)
        memcpy(text + len, "\xF0\x9F\x98\x80", 4);
    text[len] = '\0';
    assert_int_equal(check_text(text), 0);
    memcpy(text + len, "\xF0\x9F\x98\x80", 4);
    text[len + 4] = '\0';
    assert_int_equal(check_text(text), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(telegram_success_channel),
        cmocka_unit_test(telegram_private_chat_no_url),
        cmocka_unit_test(telegram_retry_after),
        cmocka_unit_test(telegram_migration_followed),
        cmocka_unit_test(telegram_migration_once),
        cmocka_unit_test(telegram_forbidden_pauses),
        cmocka_unit_test(telegram_unauthorized_pauses),
        cmocka_unit_test(telegram_bad_request_permanent),
        cmocka_unit_test(telegram_echoed_token_removed),
        cmocka_unit_test(telegram_transport_error_hides_token),
        cmocka_unit_test(telegram_format_options),
        cmocka_unit_test(telegram_options_checked),
        cmocka_unit_test(telegram_check_content_limit),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
