/*
 * Reused curl easy handles against a fake HTTP server on loopback: a
 * handle from the pool carries nothing of its last request, and the
 * pool lives until its last handle is back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fake_platform.h"
#include "publish/http_easy_pool.h"
#include "publish/http_exchange.h"

#define TIMEOUT_MS 5000

static struct fake_platform *fake;

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
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

/* An exchange for PATH on the fake, from `pool`. */
static struct http_exchange *pooled_exchange(struct http_easy_pool *pool,
                                             const char *path)
{
    char url[256];
    char err[256] = "";
    struct http_exchange *ex;

    snprintf(url, sizeof url, "%s%s", fake_platform_url(fake), path);
    ex = http_exchange_new_pooled(pool, url, "127.0.0.1", TIMEOUT_MS, err,
                                  sizeof err);
    assert_non_null(ex);
    return ex;
}

static void pool_reuses_handle(void **unused)
{
    struct http_easy_pool *pool = http_easy_pool_new(4);
    CURL *first;
    CURL *again;
    enum http_easy_state state;

    (void)unused;
    assert_non_null(pool);
    first = http_easy_pool_take(pool, NULL, TIMEOUT_MS, &state);
    assert_non_null(first);
    http_easy_pool_give(pool, first, 0);
    again = http_easy_pool_take(pool, NULL, TIMEOUT_MS, &state);
    assert_ptr_equal(again, first);
    http_easy_pool_give(pool, again, 0);
    http_easy_pool_release(pool);
}

/* A handle that posted and got 500 then sends a GET and reads a 200. */
static void pool_handle_starts_fresh(void **unused)
{
    struct http_easy_pool *pool = http_easy_pool_new(1);
    size_t before = fake_platform_request_count(fake);
    struct http_exchange *ex = pooled_exchange(pool, "/first");
    const struct fake_request *request;
    CURL *easy;
    CURL *used;

    (void)unused;
    assert_int_equal(
        fake_platform_push_response(fake, "/first",
                                    &(struct fake_response){
                                        .status = 500,
                                        .headers = "Retry-After: 7",
                                    }),
        0);
    assert_int_equal(http_exchange_add_header(ex, "X-Old: 1"), 0);
    assert_int_equal(http_exchange_set_body(ex, "{\"a\":1}", 7), 0);
    easy = http_exchange_easy(ex);
    assert_non_null(easy);
    assert_int_equal(curl_easy_perform(easy), CURLE_OK);
    assert_int_equal(http_exchange_status(ex), 500);
    used = easy;
    http_exchange_free(ex);

    ex = pooled_exchange(pool, "/second");
    easy = http_exchange_easy(ex);
    assert_ptr_equal(easy, used);
    assert_int_equal(http_exchange_status(ex), 0);
    assert_int_equal(curl_easy_perform(easy), CURLE_OK);
    assert_int_equal(http_exchange_status(ex), 200);
    assert_null(http_exchange_header(ex, "Retry-After"));
    http_exchange_free(ex);
    http_easy_pool_release(pool);

    assert_int_equal(fake_platform_request_count(fake), before + 2);
    request = fake_platform_request(fake, before + 1);
    assert_non_null(request);
    assert_string_equal(request->method, "GET");
    assert_string_equal(request->path, "/second");
    assert_null(fake_request_header(request, "X-Old"));
    assert_int_equal(request->body_len, 0);
}

/* Runs a POST of body with one extra header on the fake; returns the
 * handle it used. */
static CURL *post_once(struct http_easy_pool *pool, const char *path,
                       const char *header, const char *body)
{
    struct http_exchange *ex = pooled_exchange(pool, path);
    CURL *easy;

    assert_int_equal(http_exchange_add_header(ex, header), 0);
    assert_int_equal(http_exchange_set_body(ex, body, strlen(body)), 0);
    easy = http_exchange_easy(ex);
    assert_non_null(easy);
    assert_int_equal(curl_easy_perform(easy), CURLE_OK);
    assert_int_equal(http_exchange_status(ex), 200);
    http_exchange_free(ex);
    return easy;
}

/*
 * A handle that kept its options after a POST to the pool's URL sends
 * the next request's headers and body alone, and a DELETE after it
 * sends no body.
 */
static void pool_kept_options_carry_nothing(void **unused)
{
    struct http_easy_pool *pool = http_easy_pool_new(1);
    size_t before = fake_platform_request_count(fake);
    const struct fake_request *request;
    struct http_exchange *ex;
    CURL *first;

    (void)unused;
    first = post_once(pool, "/kept", "X-First: 1", "{\"n\":1}");
    assert_ptr_equal(post_once(pool, "/kept", "X-Second: 2", "{\"n\":22}"),
                     first);
    ex = pooled_exchange(pool, "/kept");
    assert_int_equal(http_exchange_set_method(ex, "DELETE"), 0);
    assert_ptr_equal(http_exchange_easy(ex), first);
    assert_int_equal(curl_easy_perform(first), CURLE_OK);
    assert_int_equal(http_exchange_status(ex), 200);
    http_exchange_free(ex);
    http_easy_pool_release(pool);

    assert_int_equal(fake_platform_request_count(fake), before + 3);
    request = fake_platform_request(fake, before + 1);
    assert_non_null(request);
    assert_string_equal(request->method, "POST");
    assert_null(fake_request_header(request, "X-First"));
    assert_non_null(fake_request_header(request, "X-Second"));
    assert_int_equal(request->body_len, 8);
    request = fake_platform_request(fake, before + 2);
    assert_non_null(request);
    assert_string_equal(request->method, "DELETE");
    assert_null(fake_request_header(request, "X-Second"));
    assert_int_equal(request->body_len, 0);
}

/* Handles taken before the owner released the pool still come back. */
static void pool_outlives_owner(void **unused)
{
    struct http_easy_pool *pool = http_easy_pool_new(2);
    struct http_exchange *ex;
    CURL *spare;
    enum http_easy_state state;

    (void)unused;
    assert_non_null(pool);
    ex = pooled_exchange(pool, "/late");
    spare = http_easy_pool_take(pool, NULL, TIMEOUT_MS, &state);
    assert_non_null(spare);
    http_easy_pool_release(pool);

    assert_int_equal(curl_easy_perform(http_exchange_easy(ex)), CURLE_OK);
    assert_int_equal(http_exchange_status(ex), 200);
    http_exchange_free(ex);
    http_easy_pool_give(pool, spare, 0);
}

/* Past max_idle, a handle given back is cleaned up, not kept. */
static void pool_keeps_max_idle(void **unused)
{
    struct http_easy_pool *pool = http_easy_pool_new(1);
    enum http_easy_state state;
    CURL *first = http_easy_pool_take(pool, NULL, TIMEOUT_MS, &state);
    CURL *second = http_easy_pool_take(pool, NULL, TIMEOUT_MS, &state);
    CURL *kept;

    (void)unused;
    assert_non_null(first);
    assert_non_null(second);
    http_easy_pool_give(pool, first, 0);
    http_easy_pool_give(pool, second, 0);
    kept = http_easy_pool_take(pool, NULL, TIMEOUT_MS, &state);
    assert_ptr_equal(kept, first);
    http_easy_pool_give(pool, kept, 0);
    http_easy_pool_release(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_reuses_handle),
        cmocka_unit_test(pool_handle_starts_fresh),
        cmocka_unit_test(pool_kept_options_carry_nothing),
        cmocka_unit_test(pool_outlives_owner),
        cmocka_unit_test(pool_keeps_max_idle),
    };

    return cmocka_run_group_tests_name("http_easy_pool", tests, group_setup,
                                       group_teardown);
}
