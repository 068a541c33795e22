/*
 * The wordpress adapter against a fake WordPress REST API: the request
 * it sends (Basic auth, JSON body, slug), the mapping of each documented
 * reply, and reconciliation by slug after an unknown outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "fake_platform.h"
#include "publish/adapter.h"
#include "test_support.h"

#define PASSWORD_VAR "PUBQ_TEST_WORDPRESS_PASSWORD"
#define PASSWORD "abcd EFGH 1234 ijkl"
/* base64("editor:" PASSWORD) */
#define PASSWORD_BASIC "ZWRpdG9yOmFiY2QgRUZHSCAxMjM0IGlqa2w="
#define POSTS "/wp-json/wp/v2/posts"
#define FIXED_NOW 1700000000000LL /* Tue, 14 Nov 2023 22:13:20 GMT */
#define SCHEDULED 1699999200000LL /* 2023-11-14T22:00:00Z */
#define MAX_STEPS 5

static struct fake_platform *fake;

/* A platform section built in memory, as config_load would produce. */
struct test_platform {
    struct platform_config config;
    struct config_option options[8];
    char text[8][2][256];
};

static void platform_init(struct test_platform *platform)
{
    memset(platform, 0, sizeof *platform);
    platform->config.name = "blog";
    platform->config.type = "wordpress";
    platform->config.options = platform->options;
}

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

/* The usual options; `status` and `timeout` may be NULL. */
static void platform_default(struct test_platform *platform, const char *status,
                             const char *timeout)
{
    char site[256];

    snprintf(site, sizeof site, "%s/", fake_platform_url(fake));
    platform_init(platform);
    platform_set(platform, "site", site);
    platform_set(platform, "username", "editor");
    platform_set(platform, "app_password_env", PASSWORD_VAR);
    if (status != NULL)
        platform_set(platform, "status", status);
    if (timeout != NULL)
        platform_set(platform, "timeout", timeout);
}

static void *wordpress_create(const char *status, const char *timeout)
{
    const struct adapter_ops *ops = adapter_find("wordpress");
    struct test_platform platform;
    char err[512] = "";
    void *state = NULL;

    platform_default(&platform, status, timeout);
    assert_non_null(ops);
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err), 0);
    return state;
}

static struct entry test_entry(uint32_t attempt)
{
    struct entry entry = {.id = 42, .attempt_count = attempt};

    snprintf(entry.content_id, sizeof entry.content_id, "post-1");
    snprintf(entry.platform, sizeof entry.platform, "blog");
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key,
             "pubq-42-7f3a");
    entry.scheduled_at = SCHEDULED;
    return entry;
}

/* The slug the adapter must derive, computed here apart from it. */
static void expected_slug(char *slug, size_t len)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    size_t digest_len = 0;
    int used;

    assert_true(EVP_Q_digest(NULL, "SHA256", NULL, "pubq-42-7f3a", 12, digest,
                             &digest_len));
    used = snprintf(slug, len, "pubq-42-");
    for (size_t i = 0; i < 6; i++)
        used += snprintf(slug + used, len - (size_t)used, "%02x", digest[i]);
}

/* Runs one attempt the way the engine does, step by step. */
static void run_attempt(void *state, const struct entry *entry,
                        const json_t *content, int previous_unknown,
                        struct adapter_result *result)
{
    const struct adapter_ops *ops = adapter_find("wordpress");
    struct publish_attempt attempt = {
        .entry = entry,
        .content = content,
        .now = FIXED_NOW,
        .previous_unknown = previous_unknown,
    };
    CURL *easy = NULL;
    enum adapter_step step;
    int steps = 0;

    attempt.result.hint_ms = -1;
    step = adapter_start(ops, state, &attempt, &easy);
    while (step == ADAPTER_HTTP && steps++ < MAX_STEPS) {
        CURL *next = NULL;

        assert_non_null(easy);
        step = adapter_on_response(ops, state, &attempt, easy,
                                   curl_easy_perform(easy), &next);
        easy = next;
    }
    assert_int_equal(step, ADAPTER_DONE);
    ops->end(state, &attempt);
    *result = attempt.result;

    /* Whatever happened, no text of the result contains a credential. */
    const char *texts[] = {result->error, result->pause_reason, result->post_id,
                           result->post_url};

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        assert_null(strstr(texts[i], PASSWORD));
        assert_null(strstr(texts[i], PASSWORD_BASIC));
    }
}

static json_t *hello_content(void)
{
    return json_pack("{s:s, s:s, s:s}", "title", "Hello & welcome", "text",
                     "First <b>line</b>\nSecond line", "link",
                     "https://example.test/a?b=1&c=2");
}

/* Runs a first attempt whose create request gets `response`. */
static void run_create(const struct fake_response *response,
                       struct adapter_result *result)
{
    void *state = wordpress_create(NULL, NULL);
    struct entry entry = test_entry(1);
    json_t *content = hello_content();

    assert_int_equal(fake_platform_push_response(fake, POSTS, response), 0);
    run_attempt(state, &entry, content, 0, result);
    json_decref(content);
    adapter_find("wordpress")->destroy(state);
}

static size_t count_method(size_t from, const char *method)
{
    size_t count = 0;

    for (size_t i = from; i < fake_platform_request_count(fake); i++) {
        if (strcmp(fake_platform_request(fake, i)->method, method) == 0)
            count++;
    }
    return count;
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv(PASSWORD_VAR, PASSWORD, 1);
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

static void wordpress_creates_post(void **unused)
{
    size_t before = fake_platform_request_count(fake);
    const struct fake_request *request;
    struct adapter_result result;
    char slug[64];
    json_t *body;

    (void)unused;
    run_create(
        &(struct fake_response){.status = 201,
                                .body =
                                    "{\"id\":123,\"slug\":\"x\","
                                    "\"link\":\"https://blog.test/?p=123\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(result.http_status, 201);
    assert_string_equal(result.post_id, "123");
    assert_string_equal(result.post_url, "https://blog.test/?p=123");
    assert_string_equal(result.error, "");

    assert_int_equal(fake_platform_request_count(fake), before + 1);
    request = fake_platform_request(fake, before);
    assert_string_equal(request->method, "POST");
    assert_string_equal(request->path, POSTS);
    assert_string_equal(fake_request_header(request, "Authorization"),
                        "Basic " PASSWORD_BASIC);
    assert_string_equal(fake_request_header(request, "Content-Type"),
                        "application/json");

    expected_slug(slug, sizeof slug);
    body = json_loads(request->body, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "title")),
                        "Hello & welcome");
    assert_string_equal(json_string_value(json_object_get(body, "content")),
                        "First &lt;b&gt;line&lt;/b&gt;\nSecond line\n\n"
                        "<a href=\"https://example.test/a?b=1&amp;c=2\">"
                        "https://example.test/a?b=1&amp;c=2</a>");
    assert_string_equal(json_string_value(json_object_get(body, "status")),
                        "publish");
    assert_string_equal(json_string_value(json_object_get(body, "slug")), slug);
    assert_null(json_object_get(body, "date_gmt"));
    json_decref(body);
}

static void wordpress_title_from_text(void **unused)
{
    void *state = wordpress_create("draft", NULL);
    struct entry entry = test_entry(1);
    json_t *content = json_pack("{s:s}", "text", "Headline\nBody text");
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;
    json_t *body;

    (void)unused;
    fake_platform_push_response(
        fake, POSTS,
        &(struct fake_response){.status = 201, .body = "{\"id\":5}"});
    run_attempt(state, &entry, content, 0, &result);
    json_decref(content);
    adapter_find("wordpress")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "5");
    assert_string_equal(result.post_url, "");
    body = json_loads(fake_platform_request(fake, before)->body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "title")),
                        "Headline");
    assert_string_equal(json_string_value(json_object_get(body, "content")),
                        "Headline\nBody text");
    assert_string_equal(json_string_value(json_object_get(body, "status")),
                        "draft");
    json_decref(body);
}

static void wordpress_future_sends_date(void **unused)
{
    void *state = wordpress_create("future", NULL);
    struct entry entry = test_entry(1);
    json_t *content = hello_content();
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;
    json_t *body;

    (void)unused;
    fake_platform_push_response(
        fake, POSTS,
        &(struct fake_response){.status = 201, .body = "{\"id\":6}"});
    run_attempt(state, &entry, content, 0, &result);
    json_decref(content);
    adapter_find("wordpress")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    body = json_loads(fake_platform_request(fake, before)->body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "status")),
                        "future");
    assert_string_equal(json_string_value(json_object_get(body, "date_gmt")),
                        "2023-11-14T22:00:00");
    json_decref(body);
}

static void wordpress_401_pauses(void **unused)
{
    static const char *const bodies[] = {
        "{\"code\":\"incorrect_password\",\"message\":\"The provided "
        "password is an invalid application password.\",\"data\":"
        "{\"status\":401}}",
        "{\"code\":\"rest_cannot_create\",\"message\":\"Sorry, you are not "
        "allowed to create posts as this user.\",\"data\":{\"status\":401}}",
    };

    (void)unused;
    for (size_t i = 0; i < 2; i++) {
        struct adapter_result result;

        run_create(&(struct fake_response){.status = 401, .body = bodies[i]},
                   &result);
        assert_int_equal(result.outcome, OUTCOME_PERMANENT);
        assert_int_equal(result.http_status, 401);
        assert_int_equal(result.pause_ms, -1);
        assert_non_null(
            strstr(result.pause_reason, "application password rejected"));
        assert_non_null(strstr(result.error, i == 0 ? "incorrect_password"
                                                    : "rest_cannot_create"));
    }
}

/* A server that echoes the password or the Basic credentials back. */
static void wordpress_echoed_password_removed(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_create(
        &(struct fake_response){
            .status = 401,
            .body = "{\"code\":\"incorrect_password\",\"message\":"
                    "\"password " PASSWORD " is invalid\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "password [secret] is invalid"));

    run_create(
        &(struct fake_response){
            .status = 400,
            .body = "bad header Authorization: Basic " PASSWORD_BASIC},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "Authorization: Basic [secret]"));

    run_create(
        &(struct fake_response){
            .status = 201,
            .body = "{\"id\":7,\"link\":\"https://blog.test/?p=" PASSWORD_BASIC
                    "\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_url, "https://blog.test/?p=[secret]");
}

static void wordpress_403_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_create(
        &(struct fake_response){
            .status = 403,
            .body = "{\"code\":\"rest_cannot_create\",\"message\":"
                    "\"Sorry, you are not allowed to create posts as "
                    "this user.\",\"data\":{\"status\":403}}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, "may not create posts"));
    assert_non_null(strstr(result.error, "not allowed to create posts"));
}

static void wordpress_400_permanent(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_create(
        &(struct fake_response){
            .status = 400,
            .body = "{\"code\":\"rest_invalid_param\",\"message\":"
                    "\"Invalid parameter(s): status\",\"data\":"
                    "{\"status\":400,\"params\":{\"status\":\"x\"}}}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.http_status, 400);
    assert_int_equal(result.pause_ms, 0);
    assert_non_null(strstr(result.error, "rest_invalid_param"));
    assert_non_null(strstr(result.error, "Invalid parameter(s): status"));
}

static void wordpress_404_no_route_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_create(
        &(struct fake_response){
            .status = 404,
            .body = "{\"code\":\"rest_no_route\",\"message\":\"No "
                    "route was found matching the URL and request "
                    "method.\",\"data\":{\"status\":404}}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, "REST API"));
    assert_non_null(strstr(result.pause_reason, "site URL is wrong"));
}

static void wordpress_429_retry_after(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_create(&(struct fake_response){.status = 429,
                                       .headers = "Retry-After: 120\n",
                                       .body = "{}"},
               &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 120000);
    assert_int_equal(result.pause_ms, 0);
}

static void wordpress_5xx_outcomes(void **unused)
{
    static const struct {
        int status;
        enum outcome outcome;
    } cases[] = {
        {500, OUTCOME_TRANSIENT},
        {502, OUTCOME_UNKNOWN},
        {503, OUTCOME_TRANSIENT},
        {504, OUTCOME_UNKNOWN},
    };

    (void)unused;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct adapter_result result;

        run_create(&(struct fake_response){.status = cases[i].status}, &result);
        assert_int_equal(result.outcome, cases[i].outcome);
        assert_int_equal(result.http_status, cases[i].status);
        assert_int_equal(result.pause_ms, 0);
    }
}

/*
 * The first attempt loses its connection after the request was sent, so
 * its outcome is unknown. The second looks the slug up, finds the post
 * and does not post again.
 */
static void wordpress_reconciles_unknown(void **unused)
{
    void *state = wordpress_create(NULL, NULL);
    struct entry first = test_entry(1);
    struct entry second = test_entry(2);
    json_t *content = hello_content();
    size_t before = fake_platform_request_count(fake);
    const struct fake_request *lookup;
    struct adapter_result result;
    char slug[64];

    (void)unused;
    expected_slug(slug, sizeof slug);
    fake_platform_push_response(fake, POSTS,
                                &(struct fake_response){.drop = 1});
    run_attempt(state, &first, content, 0, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);

    fake_platform_push_response(
        fake, POSTS,
        &(struct fake_response){
            .status = 200,
            .body = "[{\"id\":77,\"slug\":\"s\",\"status\":\"publish\","
                    "\"link\":\"https://blog.test/hello/\"}]"});
    run_attempt(state, &second, content, 1, &result);
    json_decref(content);
    adapter_find("wordpress")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "77");
    assert_string_equal(result.post_url, "https://blog.test/hello/");
    assert_int_equal(fake_platform_wait_requests(fake, before + 2, 5000),
                     before + 2);
    assert_int_equal(count_method(before, "POST"), 1);

    lookup = fake_platform_request(fake, before + 1);
    assert_string_equal(lookup->method, "GET");
    assert_string_equal(lookup->path, POSTS);
    assert_string_equal(fake_request_query(lookup, "slug"), slug);
    assert_string_equal(fake_request_query(lookup, "status"), "any");
    assert_string_equal(fake_request_query(lookup, "context"), "edit");
    assert_string_equal(fake_request_header(lookup, "Authorization"),
                        "Basic " PASSWORD_BASIC);
}

static void wordpress_lookup_empty_posts(void **unused)
{
    void *state = wordpress_create(NULL, NULL);
    struct entry entry = test_entry(3);
    json_t *content = hello_content();
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;
    char slug[64];
    json_t *body;

    (void)unused;
    expected_slug(slug, sizeof slug);
    fake_platform_push_response(
        fake, POSTS, &(struct fake_response){.status = 200, .body = "[]"});
    fake_platform_push_response(
        fake, POSTS,
        &(struct fake_response){.status = 201, .body = "{\"id\":8}"});
    run_attempt(state, &entry, content, 1, &result);
    json_decref(content);
    adapter_find("wordpress")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "8");
    assert_int_equal(fake_platform_request_count(fake), before + 2);
    assert_string_equal(fake_platform_request(fake, before)->method, "GET");
    assert_string_equal(fake_platform_request(fake, before + 1)->method,
                        "POST");
    body = json_loads(fake_platform_request(fake, before + 1)->body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "slug")), slug);
    json_decref(body);
}

static void wordpress_lookup_failure_no_post(void **unused)
{
    void *state = wordpress_create(NULL, NULL);
    struct entry entry = test_entry(2);
    json_t *content = hello_content();
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;

    (void)unused;
    fake_platform_push_response(fake, POSTS,
                                &(struct fake_response){.status = 502});
    run_attempt(state, &entry, content, 1, &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_non_null(strstr(result.error, "lookup"));

    fake_platform_push_response(
        fake, POSTS,
        &(struct fake_response){.status = 200, .body = "<html>oops</html>"});
    run_attempt(state, &entry, content, 1, &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    json_decref(content);
    adapter_find("wordpress")->destroy(state);

    assert_int_equal(count_method(before, "POST"), 0);
}

static void wordpress_created_without_id(void **unused)
{
    void *state = wordpress_create(NULL, NULL);
    struct entry entry = test_entry(1);
    json_t *content = hello_content();
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;

    (void)unused;
    fake_platform_push_response(
        fake, POSTS, &(struct fake_response){.status = 201, .body = "<p>ok"});
    fake_platform_push_response(
        fake, POSTS,
        &(struct fake_response){.status = 200,
                                .body = "[{\"id\":91,\"link\":\"https://"
                                        "blog.test/?p=91\"}]"});
    run_attempt(state, &entry, content, 0, &result);
    json_decref(content);
    adapter_find("wordpress")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "91");
    assert_string_equal(result.post_url, "https://blog.test/?p=91");
    assert_int_equal(count_method(before, "POST"), 1);
    assert_int_equal(count_method(before, "GET"), 1);
}

static void expect_create_error(struct test_platform *platform,
                                const char *fragment)
{
    char err[512] = "";
    void *state = NULL;

    assert_int_equal(adapter_find("wordpress")
                         ->create(&platform->config, &state, err, sizeof err),
                     -1);
    assert_null(state);
    assert_non_null(strstr(err, fragment));
    assert_null(strstr(err, PASSWORD));
}

static void wordpress_rejects_options(void **unused)
{
    struct test_platform platform;

    (void)unused;
    platform_default(&platform, "published", NULL);
    expect_create_error(&platform, "invalid status \"published\"");

    platform_default(&platform, NULL, NULL);
    platform_set(&platform, "categories", "3");
    expect_create_error(&platform, "unknown option \"categories\"");

    platform_default(&platform, NULL, NULL);
    snprintf(platform.text[1][1], sizeof platform.text[1][1], "ed:itor");
    expect_create_error(&platform, "invalid username");

    platform_default(&platform, NULL, NULL);
    snprintf(platform.text[0][1], sizeof platform.text[0][1],
             "ftp://blog.test");
    expect_create_error(&platform, "invalid site");

    /* The application password must not cross the network in clear. */
    platform_default(&platform, NULL, NULL);
    snprintf(platform.text[0][1], sizeof platform.text[0][1],
             "http://blog.test");
    expect_create_error(&platform, "it must start with https://");

    platform_default(&platform, NULL, NULL);
    snprintf(platform.text[0][1], sizeof platform.text[0][1],
             "https://editor:pa55@blog.test");
    expect_create_error(&platform, "put credentials in an environment "
                                   "variable");

    platform_default(&platform, NULL, NULL);
    snprintf(platform.text[0][1], sizeof platform.text[0][1],
             "https:///blog.test");
    expect_create_error(&platform, "missing host");

    platform_default(&platform, NULL, NULL);
    snprintf(platform.text[2][1], sizeof platform.text[2][1],
             "PUBQ_TEST_WORDPRESS_UNSET");
    unsetenv("PUBQ_TEST_WORDPRESS_UNSET");
    expect_create_error(&platform, "PUBQ_TEST_WORDPRESS_UNSET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wordpress_creates_post),
        cmocka_unit_test(wordpress_title_from_text),
        cmocka_unit_test(wordpress_future_sends_date),
        cmocka_unit_test(wordpress_401_pauses),
        cmocka_unit_test(wordpress_echoed_password_removed),
        cmocka_unit_test(wordpress_403_pauses),
        cmocka_unit_test(wordpress_400_permanent),
        cmocka_unit_test(wordpress_404_no_route_pauses),
        cmocka_unit_test(wordpress_429_retry_after),
        cmocka_unit_test(wordpress_5xx_outcomes),
        cmocka_unit_test(wordpress_reconciles_unknown),
        cmocka_unit_test(wordpress_lookup_empty_posts),
        cmocka_unit_test(wordpress_lookup_failure_no_post),
        cmocka_unit_test(wordpress_created_without_id),
        cmocka_unit_test(wordpress_rejects_options),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
