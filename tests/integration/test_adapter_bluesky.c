/*
 * The bluesky adapter against a fake PDS that keeps sessions and records:
 * session reuse across many posts and a restart, reconciliation after an
 * unknown outcome, link facets, content limits and error mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_bluesky.h"
#include "intake/content_limits.h"
#include "publish/adapter.h"
#include "publish/atproto_tid.h"
#include "publish/bluesky_facets.h"
#include "store/store.h"
#include "test_support.h"

#define HANDLE "alice.test"
#define DID "did:plc:alice123"
#define PASSWORD "app-pass-1234"
#define PASSWORD_VAR "PUBQ_TEST_BLUESKY_PASSWORD"
#define WRONG_VAR "PUBQ_TEST_BLUESKY_WRONG"
#define FIXED_NOW 1700000000000LL /* 2023-11-14T22:13:20Z */
#define CREATE "com.atproto.repo.createRecord"
#define LOGIN "com.atproto.server.createSession"
#define REFRESH "com.atproto.server.refreshSession"
#define GET "com.atproto.repo.getRecord"
/* The family emoji: four emoji joined by three ZWJ, one grapheme, 25 bytes. */
#define FAMILY                                                                 \
    "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"                 \
    "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6"
/* "é" written as e and U+0301 COMBINING ACUTE ACCENT: 3 bytes. */
#define E_ACUTE "e\xCC\x81"

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

static void platform_init(struct test_platform *platform, const char *service,
                          const char *password_var)
{
    memset(platform, 0, sizeof *platform);
    platform->config.name = "sky";
    platform->config.type = "bluesky";
    platform->config.options = platform->options;
    if (service != NULL)
        platform_set(platform, "service", service);
    platform_set(platform, "handle", HANDLE);
    platform_set(platform, "app_password_env", password_var);
    platform_set(platform, "timeout", "10s");
}

static const struct adapter_ops *ops(void)
{
    const struct adapter_ops *found = adapter_find("bluesky");

    assert_non_null(found);
    return found;
}

static void *adapter_new(struct fake_bluesky *fake, const char *password_var)
{
    struct test_platform platform;
    char err[512] = "";
    void *state = NULL;

    platform_init(&platform, fake_bluesky_url(fake), password_var);
    assert_int_equal(ops()->create(&platform.config, &state, err, sizeof err),
                     0);
    return state;
}

static struct store *store_new(void)
{
    struct store *store = NULL;
    char err[STORE_ERR_MAX];
    const char *path = test_path(test_tmpdir(), "pubq.db");

    assert_int_equal(store_open(path, &store, err, sizeof err), STORE_OK);
    assert_int_equal(store_migrate(store), STORE_OK);
    return store;
}

static struct entry test_entry(int64_t id)
{
    struct entry entry = {
        .id = id,
        .job_id = 1000 + id,
        .attempt_count = 1,
        .created_at = FIXED_NOW - 60000,
        .scheduled_at = FIXED_NOW,
    };

    snprintf(entry.platform, sizeof entry.platform, "sky");
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key,
             "pubq-%lld-abc", (long long)id);
    return entry;
}

/* Runs one attempt the way the engine does, step by step. */
static void run_attempt(void *state, const struct entry *entry,
                        const char *text, int previous_unknown,
                        struct store *store, struct adapter_result *result)
{
    json_t *content = json_pack("{s:s}", "text", text);
    struct publish_attempt attempt = {
        .entry = entry,
        .content = content,
        .now = FIXED_NOW,
        .previous_unknown = previous_unknown,
        .store = store,
    };
    CURL *easy = NULL;
    enum adapter_step step;
    int steps = 0;

    attempt.result.hint_ms = -1;
    step = adapter_start(ops(), state, &attempt, &easy);
    while (step == ADAPTER_HTTP && steps++ < 10) {
        CURL *next = NULL;
        CURLcode code = curl_easy_perform(easy);

        step = adapter_on_response(ops(), state, &attempt, easy, code, &next);
        easy = next;
    }
    assert_int_equal(step, ADAPTER_DONE);
    ops()->end(state, &attempt);
    *result = attempt.result;
    json_decref(content);
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv(PASSWORD_VAR, PASSWORD, 1);
    setenv(WRONG_VAR, "not-the-password", 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

static void bluesky_hundred_posts_one_login(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 10);
    struct store *store = store_new();
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct adapter_result result;
    char *stored = NULL;

    (void)unused;
    for (int64_t id = 1; id <= 100; id++) {
        struct entry entry = test_entry(id);
        char text[64];

        snprintf(text, sizeof text, "post number %lld", (long long)id);
        run_attempt(state, &entry, text, 0, store, &result);
        assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    }
    ops()->destroy(state);

    /* Ten tokens of ten posts each: one login, nine refreshes, and each
     * refresh costs one refused createRecord. */
    assert_int_equal(fake_bluesky_calls(fake, LOGIN), 1);
    assert_int_equal(fake_bluesky_calls(fake, REFRESH), 9);
    assert_int_equal(fake_bluesky_calls(fake, CREATE), 109);
    assert_int_equal(fake_bluesky_record_count(fake), 100);
    assert_int_equal(fake_bluesky_protocol_errors(fake), 0);

    assert_int_equal(store->ops->get_platform_data(store, "sky", &stored),
                     STORE_OK);
    assert_non_null(strstr(stored, "\"refreshJwt\":\"refresh-10\""));
    free(stored);

    /* A restarted adapter takes the stored session: no new login. */
    state = adapter_new(fake, PASSWORD_VAR);
    {
        struct entry entry = test_entry(101);

        run_attempt(state, &entry, "after restart", 0, store, &result);
    }
    ops()->destroy(state);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(fake_bluesky_calls(fake, LOGIN), 1);
    assert_int_equal(fake_bluesky_calls(fake, REFRESH), 10);
    assert_int_equal(fake_bluesky_protocol_errors(fake), 0);

    store_close(store);
    fake_bluesky_stop(fake);
}

static void bluesky_post_ids_and_request(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(7);
    struct adapter_result result;
    char expected_id[256];
    char expected_url[256];
    const char *rkey;
    json_t *body;
    char *text;

    (void)unused;
    run_attempt(state, &entry, "Hello, Bluesky", 0, NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(result.http_status, 200);
    assert_string_equal(result.error, "");
    rkey = strrchr(result.post_id, '/') + 1;
    assert_true(atproto_tid_is_valid(rkey));
    snprintf(expected_id, sizeof expected_id, "at://%s/app.bsky.feed.post/%s",
             DID, rkey);
    assert_string_equal(result.post_id, expected_id);
    snprintf(expected_url, sizeof expected_url,
             "https://bsky.app/profile/%s/post/%s", DID, rkey);
    assert_string_equal(result.post_url, expected_url);

    text = fake_bluesky_last_create_body(fake);
    body = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "repo")), DID);
    assert_string_equal(json_string_value(json_object_get(body, "rkey")), rkey);
    {
        json_t *record = json_object_get(body, "record");

        assert_string_equal(json_string_value(json_object_get(record, "$type")),
                            "app.bsky.feed.post");
        assert_string_equal(json_string_value(json_object_get(record, "text")),
                            "Hello, Bluesky");
        assert_string_equal(
            json_string_value(json_object_get(record, "createdAt")),
            "2023-11-14T22:13:20.000Z");
        assert_int_equal(json_array_size(json_object_get(record, "facets")), 0);
    }
    json_decref(body);
    assert_int_equal(fake_bluesky_protocol_errors(fake), 0);
    fake_bluesky_stop(fake);
}

static void bluesky_reconcile_after_unknown(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    struct store *store = store_new();
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(42);
    struct adapter_result first;
    struct adapter_result second;

    (void)unused;
    fake_bluesky_drop_next_create(fake);
    run_attempt(state, &entry, "maybe posted", 0, store, &first);
    assert_int_equal(first.outcome, OUTCOME_UNKNOWN);
    assert_int_equal(fake_bluesky_record_count(fake), 1);

    entry.attempt_count = 2;
    run_attempt(state, &entry, "maybe posted", 1, store, &second);
    ops()->destroy(state);

    assert_int_equal(second.outcome, OUTCOME_SUCCESS);
    assert_int_equal(fake_bluesky_calls(fake, GET), 1);
    assert_int_equal(fake_bluesky_calls(fake, CREATE), 1);
    assert_int_equal(fake_bluesky_record_count(fake), 1);
    assert_non_null(strstr(second.post_id, "at://" DID "/app.bsky.feed.post/"));
    assert_int_equal(fake_bluesky_protocol_errors(fake), 0);

    store_close(store);
    fake_bluesky_stop(fake);
}

static void bluesky_lookup_absent_posts(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(43);
    struct adapter_result result;

    (void)unused;
    run_attempt(state, &entry, "never arrived", 1, NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(fake_bluesky_calls(fake, GET), 1);
    assert_int_equal(fake_bluesky_calls(fake, CREATE), 1);
    assert_int_equal(fake_bluesky_record_count(fake), 1);
    assert_int_equal(fake_bluesky_protocol_errors(fake), 0);
    fake_bluesky_stop(fake);
}

/* A retry without the unknown flag meets its own record and keeps it. */
static void check_taken_key(int duplicate_status)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(44);
    struct adapter_result result;

    fake_bluesky_set_duplicate_status(fake, duplicate_status);
    fake_bluesky_drop_next_create(fake);
    run_attempt(state, &entry, "posted once", 0, NULL, &result);
    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);

    run_attempt(state, &entry, "posted once", 0, NULL, &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(fake_bluesky_calls(fake, CREATE), 2);
    assert_int_equal(fake_bluesky_calls(fake, GET), 1);
    assert_int_equal(fake_bluesky_record_count(fake), 1);

    /* Another text under the same key is a collision, not a success. */
    run_attempt(state, &entry, "a different text", 0, NULL, &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "already holds a different post"));

    ops()->destroy(state);
    assert_int_equal(fake_bluesky_protocol_errors(fake), 0);
    fake_bluesky_stop(fake);
}

static void bluesky_taken_key_500(void **unused)
{
    (void)unused;
    check_taken_key(500);
}

static void bluesky_taken_key_409(void **unused)
{
    (void)unused;
    check_taken_key(409);
}

static void bluesky_facet_byte_offsets(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(50);
    struct adapter_result result;
    const char *text = FAMILY " " E_ACUTE " https://example.com";
    json_t *body;
    json_t *facets;
    json_t *facet;
    char *sent;

    (void)unused;
    run_attempt(state, &entry, text, 0, NULL, &result);
    ops()->destroy(state);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);

    sent = fake_bluesky_last_create_body(fake);
    body = json_loads(sent, 0, NULL);
    free(sent);
    facets = json_object_get(json_object_get(body, "record"), "facets");
    assert_int_equal(json_array_size(facets), 1);
    facet = json_array_get(facets, 0);

    /* 25 bytes of emoji, a space, 3 bytes of é, a space. */
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(facet, "index"), "byteStart")),
                     30);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(facet, "index"), "byteEnd")),
                     49);
    facet = json_array_get(json_object_get(facet, "features"), 0);
    assert_string_equal(json_string_value(json_object_get(facet, "$type")),
                        "app.bsky.richtext.facet#link");
    assert_string_equal(json_string_value(json_object_get(facet, "uri")),
                        "https://example.com");
    json_decref(body);
    fake_bluesky_stop(fake);
}

/* Returns "start-end uri" of facet i, for short assertions. */
static void facet_at(json_t *facets, size_t i, char *out, size_t outlen)
{
    json_t *facet = json_array_get(facets, i);
    json_t *index = json_object_get(facet, "index");
    json_t *feature = json_array_get(json_object_get(facet, "features"), 0);

    snprintf(out, outlen, "%lld-%lld %s",
             (long long)json_integer_value(json_object_get(index, "byteStart")),
             (long long)json_integer_value(json_object_get(index, "byteEnd")),
             json_string_value(json_object_get(feature, "uri")));
}

static void bluesky_facets_trim_marks(void **unused)
{
    const char *text = "see https://a.test/x. (https://b.test/y) "
                       "https://c.test/w_(1) xhttps://d.test "
                       "\xE3\x80\x80https://e.test/z?";
    json_t *facets = bluesky_link_facets(text, strlen(text));
    char facet[128];

    (void)unused;
    assert_non_null(facets);
    assert_int_equal(json_array_size(facets), 4);
    facet_at(facets, 0, facet, sizeof facet);
    assert_string_equal(facet, "4-20 https://a.test/x");
    facet_at(facets, 1, facet, sizeof facet);
    assert_string_equal(facet, "23-39 https://b.test/y");
    facet_at(facets, 2, facet, sizeof facet);
    assert_string_equal(facet, "41-61 https://c.test/w_(1)");
    /* After U+3000 IDEOGRAPHIC SPACE, 3 bytes at 78. */
    facet_at(facets, 3, facet, sizeof facet);
    assert_string_equal(facet, "81-97 https://e.test/z");
    json_decref(facets);

    assert_null(bluesky_link_facets("bad \xC3", 5));
}

static void bluesky_family_is_one_grapheme(void **unused)
{
    (void)unused;
    assert_int_equal(content_grapheme_count(FAMILY, strlen(FAMILY)), 1);
    assert_int_equal(strlen(FAMILY), 25);
    assert_int_equal(content_grapheme_count(E_ACUTE, strlen(E_ACUTE)), 1);
}

static int check_text(const char *text)
{
    struct test_platform platform;
    json_t *content = json_pack("{s:s}", "text", text);
    char err[512] = "";
    int result;

    platform_init(&platform, NULL, PASSWORD_VAR);
    result = ops()->check_content(&platform.config, content, err, sizeof err);
    json_decref(content);
    return result;
}

static void bluesky_check_content_limits(void **unused)
{
    char text[4096];
    size_t len = 0;

    (void)unused;
    memset(text, 'a', 300);
    text[300] = '\0';
    assert_int_equal(check_text(text), 0);
    text[300] = 'a';
    text[301] = '\0';
    assert_int_equal(check_text(text), -1);

    /* 300 graphemes of e + combining acute: 900 bytes, allowed. */
    for (int i = 0; i < 300; i++, len += 3)
        memcpy(text + len, E_ACUTE, 3);
    text[len] = '\0';
    assert_int_equal(check_text(text), 0);

    /* 121 families: 121 graphemes but 3025 bytes, over 3000. */
    len = 0;
    for (int i = 0; i < 121; i++, len += 25)
        memcpy(text + len, FAMILY, 25);
    text[len] = '\0';
    assert_int_equal(check_text(text), -1);
}

static void bluesky_check_content_message(void **unused)
{
    struct test_platform platform;
    char text[302];
    json_t *content;
    char err[512] = "";

    (void)unused;
    memset(text, 'a', 301);
    text[301] = '\0';
    content = json_pack("{s:s}", "text", text);
    platform_init(&platform, NULL, PASSWORD_VAR);
    assert_int_equal(
        ops()->check_content(&platform.config, content, err, sizeof err), -1);
    assert_non_null(strstr(err, "301 graphemes"));
    assert_non_null(strstr(err, "300"));
    json_decref(content);
}

static void bluesky_rate_limit_reset(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(60);
    struct adapter_result result;
    char headers[128];

    (void)unused;
    snprintf(headers, sizeof headers,
             "ratelimit-limit: 5000\nratelimit-remaining: 0\n"
             "ratelimit-reset: %lld\n",
             (long long)(FIXED_NOW / 1000 + 120));
    fake_bluesky_fail_next(fake, CREATE, 429, headers,
                           "{\"error\":\"RateLimitExceeded\","
                           "\"message\":\"Rate Limit Exceeded\"}");
    run_attempt(state, &entry, "too fast", 0, NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_TRANSIENT);
    assert_int_equal(result.http_status, 429);
    assert_int_equal(result.rate_limited, 1);
    assert_int_equal(result.hint_ms, 120000);
    assert_non_null(strstr(result.error, "RateLimitExceeded"));
    fake_bluesky_stop(fake);
}

static void bluesky_wrong_password_pauses(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, WRONG_VAR);
    struct entry entry = test_entry(61);
    struct adapter_result result;

    (void)unused;
    run_attempt(state, &entry, "locked out", 0, NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.http_status, 401);
    assert_int_equal(result.pause_ms, -1);
    assert_non_null(strstr(result.pause_reason, WRONG_VAR));
    assert_null(strstr(result.error, "not-the-password"));
    assert_null(strstr(result.pause_reason, "not-the-password"));
    assert_int_equal(fake_bluesky_calls(fake, LOGIN), 1);
    assert_int_equal(fake_bluesky_calls(fake, CREATE), 0);
    fake_bluesky_stop(fake);
}

static void bluesky_refresh_rejected_logs_in(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 1);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry first = test_entry(70);
    struct entry second = test_entry(71);
    struct adapter_result result;

    (void)unused;
    run_attempt(state, &first, "first", 0, NULL, &result);
    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    fake_bluesky_revoke_refresh(fake);

    run_attempt(state, &second, "second", 0, NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_SUCCESS);
    assert_int_equal(fake_bluesky_calls(fake, LOGIN), 2);
    assert_int_equal(fake_bluesky_calls(fake, REFRESH), 1);
    assert_int_equal(fake_bluesky_record_count(fake), 2);
    assert_int_equal(fake_bluesky_protocol_errors(fake), 0);
    fake_bluesky_stop(fake);
}

static void bluesky_invalid_request_permanent(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(80);
    struct adapter_result result;

    (void)unused;
    fake_bluesky_fail_next(
        fake, CREATE, 400, NULL,
        "{\"error\":\"InvalidRequest\","
        "\"message\":\"Invalid app.bsky.feed.post record\"}");
    run_attempt(state, &entry, "rejected", 0, NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.http_status, 400);
    assert_int_equal(result.rate_limited, 0);
    assert_non_null(strstr(result.error, "InvalidRequest"));
    assert_int_equal(result.pause_ms, 0);
    fake_bluesky_stop(fake);
}

/* A PDS that echoes the app password or the access token back. */
static void bluesky_echoed_secrets_removed(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(82);
    struct adapter_result result;

    (void)unused;
    fake_bluesky_fail_next(
        fake, LOGIN, 401, NULL,
        "{\"error\":\"AuthenticationRequired\","
        "\"message\":\"Invalid identifier or password: " PASSWORD "\"}");
    run_attempt(state, &entry, "echoed", 0, NULL, &result);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_int_equal(result.pause_ms, -1);
    assert_null(strstr(result.error, PASSWORD));
    assert_null(strstr(result.pause_reason, PASSWORD));
    assert_non_null(strstr(result.error, "or password: [secret]"));

    /* The first login that succeeds gets the access token "access-1". */
    fake_bluesky_fail_next(fake, CREATE, 400, NULL,
                           "{\"error\":\"InvalidRequest\","
                           "\"message\":\"token access-1 may not post\"}");
    run_attempt(state, &entry, "echoed", 0, NULL, &result);
    ops()->destroy(state);
    assert_int_equal(result.outcome, OUTCOME_PERMANENT);
    assert_non_null(strstr(result.error, "token [secret] may not post"));
    fake_bluesky_stop(fake);
}

static void bluesky_gateway_error_unknown(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(81);
    struct adapter_result result;

    (void)unused;
    fake_bluesky_fail_next(fake, CREATE, 504, NULL, "gateway timeout");
    run_attempt(state, &entry, "in doubt", 0, NULL, &result);
    ops()->destroy(state);

    assert_int_equal(result.outcome, OUTCOME_UNKNOWN);
    assert_int_equal(result.http_status, 504);
    fake_bluesky_stop(fake);
}

static void bluesky_rkey_stable(void **unused)
{
    struct fake_bluesky *fake = fake_bluesky_start(HANDLE, DID, PASSWORD, 0);
    void *state = adapter_new(fake, PASSWORD_VAR);
    struct entry entry = test_entry(90);
    struct entry other = test_entry(91);
    struct adapter_result first;
    struct adapter_result second;
    char rkey[32];
    char tid[ATPROTO_TID_LEN + 1];

    (void)unused;
    fake_bluesky_fail_next(fake, CREATE, 503, NULL, "{}");
    run_attempt(state, &entry, "stable key", 0, NULL, &first);
    assert_int_equal(first.outcome, OUTCOME_TRANSIENT);
    run_attempt(state, &entry, "stable key", 0, NULL, &first);
    run_attempt(state, &other, "other key", 0, NULL, &second);
    ops()->destroy(state);

    assert_int_equal(first.outcome, OUTCOME_SUCCESS);
    assert_int_equal(second.outcome, OUTCOME_SUCCESS);
    assert_string_not_equal(first.post_id, second.post_id);
    snprintf(rkey, sizeof rkey, "%s", strrchr(first.post_id, '/') + 1);
    assert_true(atproto_tid_is_valid(rkey));

    atproto_tid_encode(0, 0, tid);
    assert_string_equal(tid, "2222222222222");
    atproto_tid_encode(UINT64_MAX, 1023, tid);
    assert_string_equal(tid, "bzzzzzzzzzzzz");
    assert_true(atproto_tid_is_valid(tid));
    assert_false(atproto_tid_is_valid("kzzzzzzzzzzzz"));
    assert_false(atproto_tid_is_valid("222222222222"));
    fake_bluesky_stop(fake);
}

static void bluesky_options_checked(void **unused)
{
    struct test_platform platform;
    char err[512] = "";
    void *state = NULL;

    (void)unused;
    platform_init(&platform, "https://pds.test", PASSWORD_VAR);
    platform_set(&platform, "pasword_env", "X");
    assert_int_equal(ops()->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "unknown option \"pasword_env\""));

    platform_init(&platform, "https://pds.test", "PUBQ_TEST_UNSET_VARIABLE");
    unsetenv("PUBQ_TEST_UNSET_VARIABLE");
    assert_int_equal(ops()->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "PUBQ_TEST_UNSET_VARIABLE"));

    platform_init(&platform, "ftp://pds.test", PASSWORD_VAR);
    assert_int_equal(ops()->create(&platform.config, &state, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "invalid service"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bluesky_hundred_posts_one_login),
        cmocka_unit_test(bluesky_post_ids_and_request),
        cmocka_unit_test(bluesky_reconcile_after_unknown),
        cmocka_unit_test(bluesky_lookup_absent_posts),
        cmocka_unit_test(bluesky_taken_key_500),
        cmocka_unit_test(bluesky_taken_key_409),
        cmocka_unit_test(bluesky_facet_byte_offsets),
        cmocka_unit_test(bluesky_facets_trim_marks),
        cmocka_unit_test(bluesky_family_is_one_grapheme),
        cmocka_unit_test(bluesky_check_content_limits),
        cmocka_unit_test(bluesky_check_content_message),
        cmocka_unit_test(bluesky_rate_limit_reset),
        cmocka_unit_test(bluesky_wrong_password_pauses),
        cmocka_unit_test(bluesky_refresh_rejected_logs_in),
        cmocka_unit_test(bluesky_invalid_request_permanent),
        cmocka_unit_test(bluesky_echoed_secrets_removed),
        cmocka_unit_test(bluesky_gateway_error_unknown),
        cmocka_unit_test(bluesky_rkey_stable),
        cmocka_unit_test(bluesky_options_checked),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
