/*
 * Idle curl easy handles kept for reuse. Each attempt of an HTTP
 * adapter used to create a handle with curl_easy_init and drop it with
 * curl_easy_cleanup, about 18,000 instructions per attempt (callgrind
 * of `pubq serve` posting to nginx). A handle given back is reset with
 * curl_easy_reset, which clears every option and the last transfer's
 * information, so a handle taken from the pool behaves like a new one,
 * unless it served the pool's own request: the URL and timeout of the
 * first request taken with a URL. Such a handle may go back with its
 * options set, and a later request with the same URL and timeout sets
 * only what differs (reset and setting every option again took about
 * 5,700 instructions per webhook attempt). Any other request gets the
 * handle reset.
 *
 * The pool is thread-safe. It counts references: its owner holds one
 * and every taken handle another, so the owner may release it while
 * handles are still out, and the last give or release frees it.
 */
#ifndef PUBQ_HTTP_EASY_POOL_H
#define PUBQ_HTTP_EASY_POOL_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

struct http_easy_pool;

/* The options a handle taken from the pool has set. */
enum http_easy_state {
    HTTP_EASY_NEW,        /* no option set; reset when given back */
    HTTP_EASY_KEYED,      /* no option set; for the pool's own request */
    HTTP_EASY_CONFIGURED, /* the options of the pool's own request */
};

/*
 * Creates a pool that keeps at most max_idle handles. Returns NULL when
 * memory runs out.
 */
struct http_easy_pool *http_easy_pool_new(size_t max_idle);

/*
 * Returns an idle handle, or a new one from curl_easy_init, for a
 * request to `url` (NULL: none in particular) with a total timeout of
 * timeout_ms, and sets *state. Returns NULL when curl cannot create
 * one.
 */
CURL *http_easy_pool_take(struct http_easy_pool *pool, const char *url,
                          int64_t timeout_ms, enum http_easy_state *state);

/*
 * Gives back a handle from http_easy_pool_take. The handle must not be
 * in a multi handle. With keep_options 0 it is reset. keep_options 1 is
 * allowed only for a handle taken as HTTP_EASY_KEYED or
 * HTTP_EASY_CONFIGURED whose request set no more than every request of
 * the pool sets again. The handle is kept while the pool has room,
 * else cleaned up.
 */
void http_easy_pool_give(struct http_easy_pool *pool, CURL *easy,
                         int keep_options);

/*
 * Returns the pool's URL parsed, for CURLOPT_CURLU, or NULL before the
 * first request with a URL. With it libcurl 7.88 does not parse the URL
 * text again for every transfer (about 12,000 instructions per webhook
 * request, callgrind of `pubq serve` posting to nginx).
 */
CURLU *http_easy_pool_url(struct http_easy_pool *pool);

/* Drops the owner's reference; NULL is ignored. */
void http_easy_pool_release(struct http_easy_pool *pool);

#endif
