/*
 * The webhook adapter against a fake HTTP server: the request it sends,
 * its signature, and how each kind of response is classified.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "fake_platform.h"
#include "publish/adapter.h"
#include "publish/http_exchange.h"
#include "test_support.h"

#define SECRET_VAR "PUBQ_TEST_WEBHOOK_SECRET"
#define SECRET "s3cret-key"
#define FIXED_NOW 1700000000000LL /* Tue, 14 Nov 2023 22:13:20 GMT */

static struct fake_platform *fake;

/* A platform section built in memory, as config_load would produce. */
struct test_platform {
    struct platform_config config;
    struct config_option options[8];
    char text[8][2][512];
};

static void platform_init(struct test_platform *platform)
{
    memset(platform, 0, sizeof *platform);
    platform->config.name = "hook";
    platform->config.type = "webhook";
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

/* A webhook platform posting to PATH on the fake with `timeout`. */
static void *webhook_create(const char *path, const char *timeout,
                            int signed_requests)
{
    const struct adapter_ops *ops = adapter_find("webhook");
    struct test_platform platform;
    char url[256];
    char err[512] = "";
    void *state = NULL;

    snprintf(url, sizeof url, "%s%s", fake_platform_url(fake), path);
    platform_init(&platform);
    platform_set(&platform, "url", url);
    if (timeout != NULL)
        platform_set(&platform, "timeout", timeout);
    if (signed_requests)
        platform_set(&platform, "secret_env", SECRET_VAR);
    platform_set(&platform, "header_X-Team", "blog");

    assert_non_null(ops);
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err), 0);
    return state;
}

static struct entry test_entry(uint32_t attempt)
{
    struct entry entry = {.id = 42, .attempt_count = attempt};

    snprintf(entry.content_id, sizeof entry.content_id, "post-1");
    snprintf(entry.platform, sizeof entry.platform, "hook");
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key,
             "pubq-42-7f3a");
    return entry;
}

/* Runs one attempt the way the engine does, with curl_easy_perform. */
static void run_attempt(void *state, const struct entry *entry,
                        struct adapter_result *result)
{
    const struct adapter_ops *ops = adapter_find("webhook");
    json_t *content = json_pack("{s:s}", "text", "Hello, world");
    struct publish_attempt attempt = {
        .entry = entry,
        .content = content,
        .now = FIXED_NOW,
    };
    CURL *easy = NULL;
    CURL *next = NULL;
    enum adapter_step step;

    attempt.result.hint_ms = -1;
    step = adapter_start(ops, state, &attempt, &easy);
    assert_int_equal(step, ADAPTER_HTTP);
    assert_non_null(easy);

    step = adapter_on_response(ops, state, &attempt, easy,
                               curl_easy_perform(easy), &next);
    assert_int_equal(step, ADAPTER_DONE);
    ops->end(state, &attempt);

    *result = attempt.result;
    json_decref(content);
}

static void run_once(const char *path, const struct fake_response *response,
                     struct adapter_result *result)
{
    void *state = webhook_create(path, NULL, 0);
    struct entry entry = test_entry(1);

    assert_int_equal(fake_platform_push_response(fake, path, response), 0);
    run_attempt(state, &entry, result);
    adapter_find("webhook")->destroy(state);
}

/* HMAC-SHA256 through the EVP_MAC interface, apart from the adapter's. */
static void hmac_hex(const char *key, const char *data, size_t len, char *hex)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    size_t digest_len = 0;

    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key,
                              strlen(key), (const unsigned char *)data, len,
                              digest, sizeof digest, &digest_len));
    for (size_t i = 0; i < digest_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv(SECRET_VAR, SECRET, 1);
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

static void hmac_helper_known_vector(void **state)
{
    const char *data = "what do ya want for nothing?";
    char hex[2 * EVP_MAX_MD_SIZE + 1];

    (void)state;
    /* RFC 4231, test case 2. */
    hmac_hex("Jefe", data, strlen(data), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c7"
                             "5a003f089d2739839dec58b964ec3843");
}

static void webhook_signed_request(void **unused)
{
    void *state = webhook_create("/signed", NULL, 1);
    struct entry entry = test_entry(1);
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;
    const struct fake_request *request;
    char expected[128] = "sha256=";
    json_t *body;

    (void)unused;
    fake_platform_push_response(
        fake, "/signed",
        &(struct fake_response){
            .status = 201,
            .headers = "Content-Type: application/json\n",
            .body =
                "{\"id\":\"abc-1\",\"url\":\"https://blog.test/p/abc-1\"}"});
    run_attempt(state, &entry, &result);
    adapter_find("webhook")->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(result.http_status, 201);
    assert_string_equal(result.post_id, "abc-1");
    assert_string_equal(result.post_url, "https://blog.test/p/abc-1");
    assert_string_equal(result.error, "");

    request = fake_platform_request(fake, before);
    assert_non_null(request);
    assert_string_equal(request->method, "POST");
    assert_string_equal(request->path, "/signed");
    assert_string_equal(fake_request_header(request, "Content-Type"),
                        "application/json");
    assert_string_equal(fake_request_header(request, "User-Agent"), "pubq/0.1");
    assert_string_equal(fake_request_header(request, "X-Team"), "blog");
    assert_string_equal(fake_request_header(request, "Idempotency-Key"),
                        "pubq-42-7f3a");

    hmac_hex(SECRET, request->body, request->body_len, expected + 7);
    assert_string_equal(fake_request_header(request, "X-Pubq-Signature"),
                        expected);

    body = json_loads(request->body, 0, NULL);
    assert_non_null(body);
    assert_int_equal(json_integer_value(json_object_get(body, "entry_id")), 42);
    assert_string_equal(json_string_value(json_object_get(body, "content_id")),
                        "post-1");
    assert_string_equal(json_string_value(json_object_get(body, "platform")),
                        "hook");
    assert_int_equal(json_integer_value(json_object_get(body, "attempt")), 1);
    assert_string_equal(
        json_string_value(json_object_get(body, "idempotency_key")),
        "pubq-42-7f3a");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(body, "content"), "text")),
                        "Hello, world");
    json_decref(body);
}

static void webhook_unsigned_has_no_signature(void **unused)
{
    struct adapter_result result;
    size_t before = fake_platform_request_count(fake);
    const struct fake_request *request;

    (void)unused;
    run_once("/unsigned", &(struct fake_response){.status = 204}, &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "");

    request = fake_platform_request(fake, before);
    assert_non_null(request);
    assert_null(fake_request_header(request, "X-Pubq-Signature"));
}

static void webhook_same_key_each_attempt(void **unused)
{
    void *state = webhook_create("/twice", NULL, 1);
    struct entry first = test_entry(1);
    struct entry second = test_entry(2);
    size_t before = fake_platform_requests_with_key(fake, "pubq-42-7f3a");
    size_t index = fake_platform_request_count(fake);
    struct adapter_result result;
    json_t *body;

    (void)unused;
    fake_platform_push_response(fake, "/twice",
                                &(struct fake_response){.status = 500});
    run_attempt(state, &first, &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    run_attempt(state, &second, &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    adapter_find("webhook")->destroy(state);

    assert_int_equal(fake_platform_requests_with_key(fake, "pubq-42-7f3a"),
                     before + 2);
    body = json_loads(fake_platform_request(fake, index + 1)->body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(body, "attempt")), 2);
    json_decref(body);
}

static void webhook_500_transient(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once("/500",
             &(struct fake_response){.status = 500, .body = "database down"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.http_status, 500);
    assert_int_equal(result.rate_limited, 0);
    assert_non_null(strstr(result.error, "HTTP 500"));
    assert_non_null(strstr(result.error, "database down"));
    assert_int_equal(result.pause_ms, 0);
}

/* An empty body leaves the message ending at the reason, with no colon. */
static void webhook_empty_body_no_colon(void **unused)
{
    struct adapter_result result;
    const char *suffix = "returned HTTP 429 (rate limited)";
    size_t length;

    (void)unused;
    run_once("/429-empty", &(struct fake_response){.status = 429}, &result);
    length = strlen(result.error);
    assert_int_equal(result.http_status, 429);
    assert_true(length >= strlen(suffix));
    assert_string_equal(result.error + length - strlen(suffix), suffix);
}

static void webhook_502_unknown(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once("/502", &(struct fake_response){.status = 502}, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
}

static void webhook_429_retry_after_seconds(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        "/429",
        &(struct fake_response){.status = 429, .headers = "Retry-After: 120\n"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.http_status, 429);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 120000);
}

static void webhook_429_retry_after_date(void **unused)
{
    struct adapter_result result;

    (void)unused;
    /* 90 s after FIXED_NOW. */
    run_once("/429-date",
             &(struct fake_response){
                 .status = 429,
                 .headers = "Retry-After: Tue, 14 Nov 2023 22:14:50 GMT\n"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 90000);
}

static void webhook_503_retry_after(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        "/503",
        &(struct fake_response){.status = 503, .headers = "Retry-After: 5\n"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 5000);
}

static void webhook_malformed_retry_after(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        "/429-bad",
        &(struct fake_response){.status = 429, .headers = "Retry-After: -5\n"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, -1);
    assert_non_null(strstr(result.error, "ignored malformed Retry-After"));
}

static void webhook_400_permanent(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        "/400",
        &(struct fake_response){.status = 400, .body = "{\"error\":\"bad\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.http_status, 400);
    assert_int_equal(result.pause_ms, 0);
    assert_string_equal(result.post_id, "");
}

static void webhook_410_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once("/410", &(struct fake_response){.status = 410}, &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_string_equal(result.pause_reason,
                        "webhook endpoint is gone (HTTP 410)");
}

static void webhook_401_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once("/401", &(struct fake_response){.status = 401}, &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_string_equal(result.pause_reason,
                        "authentication rejected (HTTP 401)");
}

/* A receiver that echoes the signing key must not put it into results. */
static void webhook_echoed_secret_removed(void **unused)
{
    void *state = webhook_create("/echo", NULL, 1);
    struct entry entry = test_entry(1);
    struct adapter_result result;

    (void)unused;
    assert_int_equal(fake_platform_push_response(
                         fake, "/echo",
                         &(struct fake_response){.status = 401,
                                                 .body = "signature key " SECRET
                                                         " does not match"}),
                     0);
    run_attempt(state, &entry, &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_null(strstr(result.error, SECRET));
    assert_non_null(strstr(result.error, "key [secret] does not match"));

    assert_int_equal(fake_platform_push_response(
                         fake, "/echo",
                         &(struct fake_response){
                             .status = 200,
                             .body = "{\"id\":\"" SECRET "\",\"url\":"
                                     "\"https://example.test/p/" SECRET "\"}"}),
                     0);
    run_attempt(state, &entry, &result);
    adapter_find("webhook")->destroy(state);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "[secret]");
    assert_string_equal(result.post_url, "https://example.test/p/[secret]");
}

/* secret_header_NAME sends the variable's value, never its name. */
static void webhook_secret_header_sent(void **unused)
{
    const struct adapter_ops *ops = adapter_find("webhook");
    char body[256];
    size_t before = fake_platform_request_count(fake);
    struct entry entry = test_entry(1);
    const struct fake_request *request;
    struct adapter_result result;
    struct test_platform platform;
    char url[256];
    char err[512] = "";
    void *state = NULL;

    (void)unused;
    assert_int_equal(setenv("PUBQ_TEST_HOOK_TOKEN", "Bearer tok-7731", 1), 0);
    snprintf(url, sizeof url, "%s/bearer", fake_platform_url(fake));
    platform_init(&platform);
    platform_set(&platform, "url", url);
    platform_set(&platform, "secret_header_Authorization",
                 "PUBQ_TEST_HOOK_TOKEN");
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err),
                     0);
    assert_int_equal(unsetenv("PUBQ_TEST_HOOK_TOKEN"), 0);

    assert_int_equal(fake_platform_push_response(
                         fake, "/bearer",
                         &(struct fake_response){
                             .status = 403,
                             .body = "token tok-7731 is revoked"}),
                     0);
    run_attempt(state, &entry, &result);

    request = fake_platform_request(fake, before);
    assert_non_null(request);
    assert_string_equal(fake_request_header(request, "Authorization"),
                        "Bearer tok-7731");
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_null(strstr(result.error, "tok-7731"));
    assert_non_null(strstr(result.error, "[secret]"));

    /* Echoed across the 200-byte cut of the error text: no part stays. */
    memset(body, 'x', 195);
    snprintf(body + 195, sizeof body - 195, "tok-7731 rejected");
    assert_int_equal(fake_platform_push_response(
                         fake, "/bearer",
                         &(struct fake_response){.status = 403, .body = body}),
                     0);
    run_attempt(state, &entry, &result);
    assert_null(strstr(result.error, "xtok"));
    assert_null(strstr(result.error, "tok-"));
    ops->destroy(state);
}

/* A token echoed JSON-escaped or percent-encoded is removed as well. */
static void webhook_secret_header_encoded(void **unused)
{
    const struct adapter_ops *ops = adapter_find("webhook");
    static const char *const bodies[] = {
        "{\"error\":\"bad token ab\\/cd+ef==XY12\"}",
        "token=ab%2Fcd%2Bef%3D%3DXY12",
    };
    struct entry entry = test_entry(1);
    struct adapter_result result;
    struct test_platform platform;
    char url[256];
    char err[512] = "";
    void *state = NULL;

    (void)unused;
    assert_int_equal(setenv("PUBQ_TEST_HOOK_TOKEN", "Bearer ab/cd+ef==XY12", 1),
                     0);
    snprintf(url, sizeof url, "%s/encoded", fake_platform_url(fake));
    platform_init(&platform);
    platform_set(&platform, "url", url);
    platform_set(&platform, "secret_header_Authorization",
                 "PUBQ_TEST_HOOK_TOKEN");
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err),
                     0);
    assert_int_equal(unsetenv("PUBQ_TEST_HOOK_TOKEN"), 0);

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        assert_int_equal(fake_platform_push_response(
                             fake, "/encoded",
                             &(struct fake_response){.status = 400,
                                                     .body = bodies[i]}),
                         0);
        run_attempt(state, &entry, &result);
        if (strstr(result.error, "XY12") != NULL)
            fail_msg("body %zu leaked into: %s", i, result.error);
        assert_non_null(strstr(result.error, "[secret]"));
    }
    ops->destroy(state);
}

static void webhook_connection_refused(void **unused)
{
    const struct adapter_ops *ops = adapter_find("webhook");
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t length = sizeof address;
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct test_platform platform;
    struct entry entry = test_entry(1);
    struct adapter_result result;
    char url[128];
    char err[512];
    void *state = NULL;

    (void)unused;
    /* A bound socket that never listens reserves a port that refuses. */
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(sock >= 0);
    assert_int_equal(bind(sock, (struct sockaddr *)&address, sizeof address),
                     0);
    assert_int_equal(getsockname(sock, (struct sockaddr *)&address, &length),
                     0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hook?token=hidden",
             (unsigned)ntohs(address.sin_port));

    platform_init(&platform);
    platform_set(&platform, "url", url);
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err), 0);
    run_attempt(state, &entry, &result);
    ops->destroy(state);
    close(sock);

    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.http_status, 0);
    assert_non_null(strstr(result.error, "127.0.0.1"));
    assert_null(strstr(result.error, "hidden"));
}

static void webhook_no_answer_unknown(void **unused)
{
    void *state = webhook_create("/slow", "1s", 0);
    struct entry entry = test_entry(1);
    struct adapter_result result;
    struct timespec start;
    struct timespec end;
    double elapsed;

    (void)unused;
    fake_platform_push_response(
        fake, "/slow",
        &(struct fake_response){.status = 200, .delay_ms = 4000});
    clock_gettime(CLOCK_MONOTONIC, &start);
    run_attempt(state, &entry, &result);
    clock_gettime(CLOCK_MONOTONIC, &end);
    adapter_find("webhook")->destroy(state);

    elapsed = (double)(end.tv_sec - start.tv_sec) +
              (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_true(elapsed >= 0.9);
    assert_true(elapsed < 3.0);
    assert_non_null(strstr(result.error, "may exist"));
}

static void webhook_body_over_cap(void **unused)
{
    size_t len = 2 * HTTP_EXCHANGE_MAX_BODY;
    char *big = malloc(len + 1);
    struct adapter_result result;

    (void)unused;
    assert_non_null(big);
    memset(big, 'x', len);
    big[len] = '\0';
    run_once("/big", &(struct fake_response){.status = 200, .body = big},
             &result);
    free(big);

    assert_int_not_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_non_null(strstr(result.error, "cut off"));
}

static void webhook_create_rejects(void **unused)
{
    const struct adapter_ops *ops = adapter_find("webhook");
    struct test_platform platform;
    char err[512];
    void *state = NULL;

    (void)unused;
    platform_init(&platform);
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "missing option url"));

    platform_set(&platform, "url", "ftp://127.0.0.1/hook");
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "scheme"));

    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "secret_env", "PUBQ_TEST_UNSET_SECRET");
    unsetenv("PUBQ_TEST_UNSET_SECRET");
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "PUBQ_TEST_UNSET_SECRET"));

    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "header_X-Token", "abc\r\nEvil: 1");
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "header_X-Token"));
    assert_null(strstr(err, "Evil"));

    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "timeout", "soon");
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "timeout"));

    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "urll", "http://127.0.0.1/other");
    assert_int_equal(ops->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "unknown option \"urll\""));
}

/* Creates a webhook platform expected to fail with `expected` in err. */
static void expect_create_error(struct test_platform *platform,
                                const char *expected)
{
    char err[512] = "";
    void *state = NULL;

    assert_int_equal(adapter_find("webhook")->create(&platform->config, &state,
                                                     err, sizeof err),
                     -1);
    assert_null(state);
    if (strstr(err, expected) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", expected, err);
}

static void webhook_rejects_url_without_host(void **unused)
{
    static const char *const urls[] = {"http:///x", "https:///hook", "http:/x",
                                       "http://?q", "http://"};
    struct test_platform platform;

    (void)unused;
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        platform_init(&platform);
        platform_set(&platform, "url", urls[i]);
        print_message("url %s\n", urls[i]);
        expect_create_error(&platform, "missing host");
    }
}

static void webhook_rejects_userinfo(void **unused)
{
    char err[512] = "";
    void *state = NULL;
    struct test_platform platform;

    (void)unused;
    platform_init(&platform);
    platform_set(&platform, "url", "http://user:pa55@127.0.0.1/hook");
    assert_int_equal(adapter_find("webhook")->create(&platform.config, &state,
                                                     err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "put credentials in an environment variable"));
    assert_null(strstr(err, "pa55"));

    platform_init(&platform);
    platform_set(&platform, "url", "http://token@127.0.0.1/hook");
    expect_create_error(&platform, "user name or password");
}

static void webhook_rejects_bad_headers(void **unused)
{
    struct test_platform platform;

    (void)unused;
    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "header_X-Dup", "a");
    platform_set(&platform, "header_x-dup", "b");
    expect_create_error(&platform,
                        "option header_x-dup of webhook platform \"hook\" "
                        "repeats the header X-Dup");

    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "header_X A", "v");
    expect_create_error(&platform, "invalid header name \"X A\"");

    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "header_X(A)", "v");
    expect_create_error(&platform, "RFC 9110 token");
}

static void webhook_secret_header_unset(void **unused)
{
    struct test_platform platform;

    (void)unused;
    unsetenv("PUBQ_TEST_UNSET_TOKEN");
    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "secret_header_Authorization",
                 "PUBQ_TEST_UNSET_TOKEN");
    expect_create_error(&platform,
                        "environment variable PUBQ_TEST_UNSET_TOKEN named by "
                        "secret_header_Authorization");

    platform_init(&platform);
    platform_set(&platform, "url", "http://127.0.0.1/hook");
    platform_set(&platform, "secret_header_Authorization", "not a name");
    expect_create_error(&platform, "invalid secret_header_Authorization");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hmac_helper_known_vector),
        cmocka_unit_test(webhook_signed_request),
        cmocka_unit_test(webhook_unsigned_has_no_signature),
        cmocka_unit_test(webhook_same_key_each_attempt),
        cmocka_unit_test(webhook_500_transient),
        cmocka_unit_test(webhook_empty_body_no_colon),
        cmocka_unit_test(webhook_502_unknown),
        cmocka_unit_test(webhook_429_retry_after_seconds),
        cmocka_unit_test(webhook_429_retry_after_date),
        cmocka_unit_test(webhook_503_retry_after),
        cmocka_unit_test(webhook_malformed_retry_after),
        cmocka_unit_test(webhook_400_permanent),
        cmocka_unit_test(webhook_410_pauses),
        cmocka_unit_test(webhook_401_pauses),
        cmocka_unit_test(webhook_echoed_secret_removed),
        cmocka_unit_test(webhook_secret_header_sent),
        cmocka_unit_test(webhook_secret_header_encoded),
        cmocka_unit_test(webhook_secret_header_unset),
        cmocka_unit_test(webhook_connection_refused),
        cmocka_unit_test(webhook_no_answer_unknown),
        cmocka_unit_test(webhook_body_over_cap),
        cmocka_unit_test(webhook_create_rejects),
        cmocka_unit_test(webhook_rejects_url_without_host),
        cmocka_unit_test(webhook_rejects_userinfo),
        cmocka_unit_test(webhook_rejects_bad_headers),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
