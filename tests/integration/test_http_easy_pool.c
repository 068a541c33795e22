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

    (void)unused;
    assert_non_null(pool);
    first = http_easy_pool_take(pool);
    assert_non_null(first);
    http_easy_pool_give(pool, first);
    again = http_easy_pool_take(pool);
    assert_ptr_equal(again, first);
    http_easy_pool_give(pool, again);
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

/* Handles taken before the owner released the pool still come back. */
static void pool_outlives_owner(void **unused)
{
    struct http_easy_pool *pool = http_easy_pool_new(2);
    struct http_exchange *ex;
    CURL *spare;

    (void)unused;
    assert_non_null(pool);
    ex = pooled_exchange(pool, "/late");
    spare = http_easy_pool_take(pool);
    assert_non_null(spare);
    http_easy_pool_release(pool);

    assert_int_equal(curl_easy_perform(http_exchange_easy(ex)), CURLE_OK);
    assert_int_equal(http_exchange_status(ex), 200);
    http_exchange_free(ex);
    http_easy_pool_give(pool, spare);
}

/* Past max_idle, a handle given back is cleaned up, not kept. */
static void pool_keeps_max_idle(void **unused)
{
    struct http_easy_pool *pool = http_easy_pool_new(1);
    CURL *first = http_easy_pool_take(pool);
    CURL *second = http_easy_pool_take(pool);
    CURL *kept;

    (void)unused;
    assert_non_null(first);
    assert_non_null(second);
    http_easy_pool_give(pool, first);
    http_easy_pool_give(pool, second);
    kept = http_easy_pool_take(pool);
    assert_ptr_equal(kept, first);
    http_easy_pool_give(pool, kept);
    http_easy_pool_release(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_reuses_handle),
        cmocka_unit_test(pool_handle_starts_fresh),
        cmocka_unit_test(pool_outlives_owner),
        cmocka_unit_test(pool_keeps_max_idle),
    };

    return cmocka_run_group_tests_name("http_easy_pool", tests, group_setup,
                                       group_teardown);
}
