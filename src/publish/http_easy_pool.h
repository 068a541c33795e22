/*
 * Idle curl easy handles kept for reuse. Each attempt of an HTTP
 * adapter used to create a handle with curl_easy_init and drop it with
 * curl_easy_cleanup, about 18,000 instructions per attempt (callgrind
 * of `pubq serve` posting to nginx). A handle given back is reset with
 * curl_easy_reset, which clears every option and the last transfer's
 * information, so a handle taken from the pool behaves like a new one.
 *
 * The pool is thread-safe. It counts references: its owner holds one
 * and every taken handle another, so the owner may release it while
 * handles are still out, and the last give or release frees it.
 */
#ifndef PUBQ_HTTP_EASY_POOL_H
#define PUBQ_HTTP_EASY_POOL_H

#include <curl/curl.h>
#include <stddef.h>

struct http_easy_pool;

/*
 * Creates a pool that keeps at most max_idle handles. Returns NULL when
 * memory runs out.
 */
struct http_easy_pool *http_easy_pool_new(size_t max_idle);

/*
 * Returns an idle handle, or a new one from curl_easy_init. Returns
 * NULL when curl cannot create one.
 */
CURL *http_easy_pool_take(struct http_easy_pool *pool);

/*
 * Gives back a handle from http_easy_pool_take. The handle must not be
 * in a multi handle. It is reset and kept while the pool has room, else
 * cleaned up.
 */
void http_easy_pool_give(struct http_easy_pool *pool, CURL *easy);

/* Drops the owner's reference; NULL is ignored. */
void http_easy_pool_release(struct http_easy_pool *pool);

#endif
