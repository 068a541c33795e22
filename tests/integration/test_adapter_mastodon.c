/*
 * The mastodon adapter against a fake Mastodon server: the status it
 * posts, how it counts the 500-character limit, and how each documented
 * answer is classified. The access token must never appear in a result.
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

#define TOKEN_VAR "PUBQ_TEST_MASTODON_TOKEN"
#define TOKEN "tok-3f9a1c7e5b2d4a6f8e0c"
#define STATUSES "/api/v1/statuses"
#define FIXED_NOW 1700000000000LL /* 2023-11-14T22:13:20Z */

static struct fake_platform *fake;

static const struct adapter_ops *ops(void)
{
    const struct adapter_ops *found = adapter_find("mastodon");

    assert_non_null(found);
    return found;
}

static void base_platform(struct harness_platform *platform)
{
    harness_platform_init(platform, "main", "mastodon");
    harness_platform_set(platform, "instance", fake_platform_url(fake));
    harness_platform_set(platform, "access_token_env", TOKEN_VAR);
}

static void *create_from(struct harness_platform *platform)
{
    char err[512] = "";
    void *state = NULL;

    if (ops()->create(&platform->config, &state, err, sizeof err) != 0)
        fail_msg("create failed: %s", err);
    return state;
}

static void *create_default(void)
{
    struct harness_platform platform;

    base_platform(&platform);
    return create_from(&platform);
}

/* Every text a result carries, checked for the token. */
static void assert_no_token(const struct adapter_result *result)
{
    assert_null(strstr(result->error, TOKEN));
    assert_null(strstr(result->pause_reason, TOKEN));
    assert_null(strstr(result->post_id, TOKEN));
    assert_null(strstr(result->post_url, TOKEN));
}

/* Posts {"text": "Hello"} once against one canned response. */
static void run_once(const struct fake_response *response,
                     struct adapter_result *result)
{
    void *state = create_default();
    struct entry entry = harness_entry(1);
    json_t *content = json_pack("{s:s}", "text", "Hello");

    assert_int_equal(fake_platform_push_response(fake, STATUSES, response), 0);
    assert_int_equal(
        harness_run(ops(), state, &entry, content, 0, FIXED_NOW, result), 1);
    json_decref(content);
    ops()->destroy(state);
    assert_no_token(result);
}

static json_t *request_json(size_t index)
{
    const struct fake_request *request = fake_platform_request(fake, index);
    json_t *body;

    assert_non_null(request);
    body = json_loadb(request->body, request->body_len, 0, NULL);
    assert_non_null(body);
    return body;
}

static const char *json_text(const json_t *object, const char *key)
{
    const char *value = json_string_value(json_object_get(object, key));

    assert_non_null(value);
    return value;
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

static void mastodon_posts_status(void **unused)
{
    struct harness_platform platform;
    struct entry entry = harness_entry(1);
    json_t *content = json_pack("{s:s, s:s, s:s}", "text", "New post", "link",
                                "https://blog.test/p/1", "title", "Not sent");
    size_t index = fake_platform_request_count(fake);
    const struct fake_request *request;
    struct adapter_result result;
    void *state;
    json_t *body;

    (void)unused;
    base_platform(&platform);
    harness_platform_set(&platform, "visibility", "unlisted");
    harness_platform_set(&platform, "spoiler_text", "Release notes");
    harness_platform_set(&platform, "language", "en");
    state = create_from(&platform);
    fake_platform_push_response(
        fake, STATUSES,
        &(struct fake_response){
            .status = 200,
            .headers = "Content-Type: application/json\n",
            .body = "{\"id\":\"109348\",\"url\":\"https://social.test/@pubq/"
                    "109348\",\"uri\":\"https://social.test/users/pubq/"
                    "statuses/109348\"}"});
    assert_int_equal(
        harness_run(ops(), state, &entry, content, 0, FIXED_NOW, &result), 1);
    ops()->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(result.http_status, 200);
    assert_string_equal(result.post_id, "109348");
    assert_string_equal(result.post_url, "https://social.test/@pubq/109348");
    assert_string_equal(result.error, "");
    assert_int_equal(result.pause_ms, 0);

    request = fake_platform_request(fake, index);
    assert_non_null(request);
    assert_string_equal(request->method, "POST");
    assert_string_equal(request->path, STATUSES);
    assert_string_equal(fake_request_header(request, "Authorization"),
                        "Bearer " TOKEN);
    assert_string_equal(fake_request_header(request, "Content-Type"),
                        "application/json");
    assert_string_equal(fake_request_header(request, "Idempotency-Key"),
                        HARNESS_KEY);

    body = request_json(index);
    assert_string_equal(json_text(body, "status"),
                        "New post\n\nhttps://blog.test/p/1");
    assert_string_equal(json_text(body, "visibility"), "unlisted");
    assert_string_equal(json_text(body, "spoiler_text"), "Release notes");
    assert_string_equal(json_text(body, "language"), "en");
    json_decref(body);
}

static void mastodon_default_fields(void **unused)
{
    void *state = create_default();
    struct entry entry = harness_entry(1);
    json_t *content =
        json_pack("{s:s, s:s}", "text", "Read https://blog.test/p/2 today",
                  "link", "https://blog.test/p/2");
    size_t index = fake_platform_request_count(fake);
    struct adapter_result result;
    json_t *body;

    (void)unused;
    fake_platform_push_response(
        fake, STATUSES,
        &(struct fake_response){
            .body = "{\"id\":\"7\",\"url\":null,"
                    "\"uri\":\"https://social.test/users/pubq/statuses/7\"}"});
    harness_run(ops(), state, &entry, content, 0, FIXED_NOW, &result);
    ops()->destroy(state);
    json_decref(content);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    /* Without a web URL the ActivityPub URI is stored. */
    assert_string_equal(result.post_url,
                        "https://social.test/users/pubq/statuses/7");

    body = request_json(index);
    /* The link is already in the text, so it is not appended again. */
    assert_string_equal(json_text(body, "status"),
                        "Read https://blog.test/p/2 today");
    assert_string_equal(json_text(body, "visibility"), "public");
    assert_null(json_object_get(body, "spoiler_text"));
    assert_null(json_object_get(body, "language"));
    json_decref(body);
}

/*
 * An unknown outcome, then the next attempt with previous_unknown: the
 * same Idempotency-Key goes out again, and the status Mastodon returns
 * for it (the one created the first time) is recorded.
 */
static void mastodon_same_key_reconciles(void **unused)
{
    void *state = create_default();
    struct entry first = harness_entry(1);
    struct entry second = harness_entry(2);
    json_t *content = json_pack("{s:s}", "text", "Once only");
    size_t before = fake_platform_requests_with_key(fake, HARNESS_KEY);
    size_t index = fake_platform_request_count(fake);
    struct adapter_result result;
    const char *first_key;
    const char *second_key;

    (void)unused;
    fake_platform_push_response(fake, STATUSES,
                                &(struct fake_response){.status = 504});
    fake_platform_push_response(
        fake, STATUSES,
        &(struct fake_response){
            .body = "{\"id\":\"555\",\"url\":\"https://social.test/@pubq/"
                    "555\"}"});

    harness_run(ops(), state, &first, content, 0, FIXED_NOW, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_no_token(&result);

    assert_int_equal(harness_run(ops(), state, &second, content, 1,
                                 FIXED_NOW + 60000, &result),
                     1);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "555");
    ops()->destroy(state);
    json_decref(content);

    assert_int_equal(fake_platform_requests_with_key(fake, HARNESS_KEY),
                     before + 2);
    first_key = fake_request_header(fake_platform_request(fake, index),
                                    "Idempotency-Key");
    second_key = fake_request_header(fake_platform_request(fake, index + 1),
                                     "Idempotency-Key");
    assert_non_null(first_key);
    assert_non_null(second_key);
    assert_string_equal(first_key, second_key);
}

static void mastodon_401_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){
            .status = 401,
            .body = "{\"error\":\"The access token is invalid\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.http_status, 401);
    assert_int_equal(result.pause_ms, -1);
    assert_string_equal(result.pause_reason,
                        "access token rejected (HTTP 401)");
    assert_non_null(strstr(result.error, "The access token is invalid"));
}

static void mastodon_403_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){
            .status = 403,
            .body = "{\"error\":\"This action is outside the authorized "
                    "scopes\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_string_equal(result.pause_reason,
                        "access token rejected (HTTP 403)");
}

/* A server that echoes the token back must not put it into stored text. */
static void mastodon_echoed_token_removed(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 401,
                                     .body = "{\"error\":\"Bearer " TOKEN
                                             " was revoked\"}"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_null(strstr(result.error, TOKEN));
    assert_non_null(strstr(result.error, "[secret] was revoked"));

    run_once(&(struct fake_response){.status = 200,
                                     .body =
                                         "{\"id\":\"" TOKEN "\",\"url\":"
                                         "\"https://social.test/@pubq/" TOKEN
                                         "\"}"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "[secret]");
    assert_string_equal(result.post_url, "https://social.test/@pubq/[secret]");
}

static void mastodon_422_permanent(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(
        &(struct fake_response){
            .status = 422,
            .body = "{\"error\":\"Validation failed: Text character "
                    "limit of 500 exceeded\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.http_status, 422);
    assert_int_equal(result.pause_ms, 0);
    assert_int_equal(result.rate_limited, 0);
    assert_non_null(strstr(result.error,
                           "Validation failed: Text character limit of 500 "
                           "exceeded"));
    assert_string_equal(result.post_id, "");
}

/* An empty body leaves the message ending at the reason, with no colon. */
static void mastodon_empty_body_no_colon(void **unused)
{
    struct adapter_result result;
    const char *suffix = "returned HTTP 500 (server error)";
    size_t length;

    (void)unused;
    run_once(&(struct fake_response){.status = 500}, &result);
    length = strlen(result.error);
    assert_int_equal(result.http_status, 500);
    assert_true(length >= strlen(suffix));
    assert_string_equal(result.error + length - strlen(suffix), suffix);
}

static void mastodon_404_pauses(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 404,
                                     .body = "<html>Not Found</html>"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, "check the instance option"));
}

static void mastodon_429_reset_hint(void **unused)
{
    struct adapter_result result;

    (void)unused;
    /* 90 s after FIXED_NOW. */
    run_once(
        &(struct fake_response){
            .status = 429,
            .headers = "X-RateLimit-Limit: 300\n"
                       "X-RateLimit-Remaining: 0\n"
                       "X-RateLimit-Reset: 2023-11-14T22:14:50.000Z\n",
            .body = "{\"error\":\"Too many requests\"}"},
        &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.http_status, 429);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 90000);
    assert_non_null(strstr(result.error, "Too many requests"));
}

static void mastodon_429_bad_reset(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 429,
                                     .headers = "X-RateLimit-Reset: soon\n"},
             &result);
    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, -1);
    assert_non_null(
        strstr(result.error, "ignored malformed X-RateLimit-Reset"));
}

static void mastodon_5xx_outcomes(void **unused)
{
    static const struct {
        int status;
        enum outcome outcome;
    } cases[] = {
        {500, OUTCOME_TRANSIENT},
        {503, OUTCOME_TRANSIENT},
        {502, OUTCOME_UNKNOWN},
        {504, OUTCOME_UNKNOWN},
    };

    (void)unused;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct adapter_result result;

        run_once(&(struct fake_response){.status = cases[i].status,
                                         .body = "upstream trouble"},
                 &result);
        assert_int_equal(result.outcome, cases[i].outcome);
        assert_int_equal(result.http_status, cases[i].status);
        assert_int_equal(result.pause_ms, 0);
        assert_non_null(strstr(result.error, "upstream trouble"));
    }
}

static void mastodon_dropped_unknown(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.drop = 1}, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_int_equal(result.http_status, 0);
    assert_non_null(strstr(result.error, "may exist"));
    assert_non_null(strstr(result.error, "mastodon 127.0.0.1"));
}

static void mastodon_unreadable_success(void **unused)
{
    struct adapter_result result;

    (void)unused;
    run_once(&(struct fake_response){.status = 200, .body = "<html>"}, &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_string_equal(result.post_id, "");
    assert_string_equal(result.error, "");
}

/* Runs check_content for a platform on one text (and optional link). */
static int check_text(const struct harness_platform *platform, const char *text,
                      const char *link, char *err, size_t errlen)
{
    json_t *content = json_pack("{s:s}", "text", text);
    int result;

    if (link != NULL)
        json_object_set_new(content, "link", json_string(link));
    result = ops()->check_content(&platform->config, content, err, errlen);
    json_decref(content);
    return result;
}

static char *repeat(const char *unit, size_t count, const char *prefix)
{
    size_t length = strlen(unit);
    size_t start = strlen(prefix);
    char *text = malloc(start + length * count + 1);

    assert_non_null(text);
    memcpy(text, prefix, start);
    for (size_t i = 0; i < count; i++)
        memcpy(text + start + i * length, unit, length);
    text[start + length * count] = '\0';
    return text;
}

/* Checks prefix + count letters; returns check_content's result. */
static int check_letters(const struct harness_platform *platform,
                         const char *prefix, size_t count, const char *link,
                         char *err, size_t errlen)
{
    char *text = repeat("a", count, prefix);
    int result = check_text(platform, text, link, err, errlen);

    free(text);
    return result;
}

static void mastodon_counts_like_mastodon(void **unused)
{
    struct harness_platform platform;
    char url[256];
    char err[512];

    (void)unused;
    harness_platform_init(&platform, "main", "mastodon");
    assert_int_equal(check_letters(&platform, "", 500, NULL, err, sizeof err),
                     0);
    assert_int_equal(check_letters(&platform, "", 501, NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "501 characters"));
    assert_non_null(strstr(err, "limit of 500"));

    /* A 200-byte URL counts as 23: 23 + 1 + 476 = 500. */
    snprintf(url, sizeof url, "https://example.com/%0180d ", 0);
    assert_int_equal(strlen(url), 201);
    assert_int_equal(check_letters(&platform, url, 476, NULL, err, sizeof err),
                     0);
    assert_int_equal(check_letters(&platform, url, 477, NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "501 characters"));

    /* A mention @alice@social.example.org counts as @alice: 6 + 1 + 493. */
    assert_int_equal(check_letters(&platform, "@alice@social.example.org ", 493,
                                   NULL, err, sizeof err),
                     0);
    assert_int_equal(check_letters(&platform, "@alice@social.example.org ", 494,
                                   NULL, err, sizeof err),
                     -1);
}

static void mastodon_counts_link_and_spoiler(void **unused)
{
    struct harness_platform platform;
    char err[512];

    (void)unused;
    harness_platform_init(&platform, "main", "mastodon");
    /* The appended link: 475 + 2 newlines + 23 = 500. */
    assert_int_equal(check_letters(&platform, "", 475, "https://blog.test/x",
                                   err, sizeof err),
                     0);
    assert_int_equal(check_letters(&platform, "", 476, "https://blog.test/x",
                                   err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "with the link appended is 501"));

    /* spoiler_text counts as written: 12 + 488 = 500. */
    harness_platform_set(&platform, "spoiler_text", "CW: spoilers");
    assert_int_equal(check_letters(&platform, "", 488, NULL, err, sizeof err),
                     0);
    assert_int_equal(check_letters(&platform, "", 489, NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "12 of them in spoiler_text"));
}

static void mastodon_rejects_empty_post(void **unused)
{
    struct harness_platform platform;
    json_t *content = json_pack("{s:s, s:[s]}", "text", "", "media",
                                "https://blog.test/a.png");
    char err[512];

    (void)unused;
    harness_platform_init(&platform, "main", "mastodon");
    assert_int_equal(
        ops()->check_content(&platform.config, content, err, sizeof err), -1);
    assert_non_null(strstr(err, "nothing to post"));
    json_decref(content);
}

/* Content over the limit fails at start, before any request. */
static void mastodon_start_checks_limit(void **unused)
{
    void *state = create_default();
    struct entry entry = harness_entry(1);
    char *text = repeat("a", 501, "");
    json_t *content = json_pack("{s:s}", "text", text);
    size_t before = fake_platform_request_count(fake);
    struct adapter_result result;

    (void)unused;
    assert_int_equal(
        harness_run(ops(), state, &entry, content, 0, FIXED_NOW, &result), 0);
    ops()->destroy(state);
    json_decref(content);
    free(text);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "limit of 500"));
    assert_int_equal(fake_platform_request_count(fake), before);
}

/* Expects create to fail with a message containing `expected`. */
static void assert_create_fails(struct harness_platform *platform,
                                const char *expected)
{
    char err[512] = "";
    void *state = NULL;

    assert_int_equal(ops()->create(&platform->config, &state, err, sizeof err),
                     -1);
    if (strstr(err, expected) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", expected, err);
    assert_null(strstr(err, TOKEN));
}

static void mastodon_create_rejects(void **unused)
{
    struct harness_platform platform;

    (void)unused;
    harness_platform_init(&platform, "main", "mastodon");
    harness_platform_set(&platform, "access_token_env", TOKEN_VAR);
    assert_create_fails(&platform, "missing option instance");

    harness_platform_init(&platform, "main", "mastodon");
    harness_platform_set(&platform, "instance", "http://social.test");
    harness_platform_set(&platform, "access_token_env", TOKEN_VAR);
    assert_create_fails(&platform, "https://");

    harness_platform_init(&platform, "main", "mastodon");
    harness_platform_set(&platform, "instance", "https:///social.test");
    harness_platform_set(&platform, "access_token_env", TOKEN_VAR);
    assert_create_fails(&platform, "missing host");

    harness_platform_init(&platform, "main", "mastodon");
    harness_platform_set(&platform, "instance", "https://me:pa55@social.test");
    harness_platform_set(&platform, "access_token_env", TOKEN_VAR);
    assert_create_fails(&platform, "put credentials in an environment "
                                   "variable");
    assert_create_fails(&platform, "invalid option instance of mastodon");

    harness_platform_init(&platform, "main", "mastodon");
    harness_platform_set(&platform, "instance", "https://social.test/@pubq");
    harness_platform_set(&platform, "access_token_env", TOKEN_VAR);
    assert_create_fails(&platform, "no path");

    harness_platform_init(&platform, "main", "mastodon");
    harness_platform_set(&platform, "instance", "https://social.test");
    assert_create_fails(&platform, "missing option access_token_env");

    unsetenv("PUBQ_TEST_UNSET_TOKEN");
    harness_platform_init(&platform, "main", "mastodon");
    harness_platform_set(&platform, "instance", "https://social.test");
    harness_platform_set(&platform, "access_token_env",
                         "PUBQ_TEST_UNSET_TOKEN");
    assert_create_fails(&platform, "PUBQ_TEST_UNSET_TOKEN");

    base_platform(&platform);
    harness_platform_set(&platform, "visibility", "friends");
    assert_create_fails(&platform, "public, unlisted, private or direct");

    base_platform(&platform);
    harness_platform_set(&platform, "language", "English");
    assert_create_fails(&platform, "ISO 639");

    base_platform(&platform);
    harness_platform_set(&platform, "timeout", "soon");
    assert_create_fails(&platform, "invalid timeout");

    base_platform(&platform);
    harness_platform_set(&platform, "access_token", TOKEN);
    assert_create_fails(&platform, "unknown option \"access_token\"");
}

static void mastodon_token_with_newline(void **unused)
{
    struct harness_platform platform;

    (void)unused;
    setenv("PUBQ_TEST_BAD_TOKEN", TOKEN "\r\nX-Evil: 1", 1);
    harness_platform_init(&platform, "main", "mastodon");
    harness_platform_set(&platform, "instance", "https://social.test");
    harness_platform_set(&platform, "access_token_env", "PUBQ_TEST_BAD_TOKEN");
    assert_create_fails(&platform, "control character");
    unsetenv("PUBQ_TEST_BAD_TOKEN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mastodon_posts_status),
        cmocka_unit_test(mastodon_default_fields),
        cmocka_unit_test(mastodon_same_key_reconciles),
        cmocka_unit_test(mastodon_401_pauses),
        cmocka_unit_test(mastodon_403_pauses),
        cmocka_unit_test(mastodon_echoed_token_removed),
        cmocka_unit_test(mastodon_422_permanent),
        cmocka_unit_test(mastodon_empty_body_no_colon),
        cmocka_unit_test(mastodon_404_pauses),
        cmocka_unit_test(mastodon_429_reset_hint),
        cmocka_unit_test(mastodon_429_bad_reset),
        cmocka_unit_test(mastodon_5xx_outcomes),
        cmocka_unit_test(mastodon_dropped_unknown),
        cmocka_unit_test(mastodon_unreadable_success),
        cmocka_unit_test(mastodon_counts_like_mastodon),
        cmocka_unit_test(mastodon_counts_link_and_spoiler),
        cmocka_unit_test(mastodon_rejects_empty_post),
        cmocka_unit_test(mastodon_start_checks_limit),
        cmocka_unit_test(mastodon_create_rejects),
        cmocka_unit_test(mastodon_token_with_newline),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
