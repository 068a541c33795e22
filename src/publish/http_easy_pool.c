#include "publish/http_easy_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

struct http_easy_pool {
    pthread_mutex_t lock;
    size_t references; /* the owner's, and one per handle taken */
    size_t idle_count;
    size_t max_idle;
    /* The request that idle handles with `configured` set have their
     * options for: the URL and timeout of the first request taken. */
    char *url;
    CURLU *parsed_url; /* url, for CURLOPT_CURLU */
    int64_t timeout_ms;
    struct idle_handle {
        CURL *easy;
        int configured;
    } idle[];
};

struct http_easy_pool *http_easy_pool_new(size_t max_idle)
{
    struct http_easy_pool *pool =
        calloc(1, sizeof *pool + max_idle * sizeof pool->idle[0]);

    if (pool == NULL)
        return NULL;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return NULL;
    }
    pool->references = 1;
    pool->max_idle = max_idle;
    return pool;
}

static void destroy(struct http_easy_pool *pool)
{
    for (size_t i = 0; i < pool->idle_count; i++)
        curl_easy_cleanup(pool->idle[i].easy);
    pthread_mutex_destroy(&pool->lock);
    free(pool->url);
    curl_url_cleanup(pool->parsed_url);
    free(pool);
}

/* Drops one reference with the lock held; frees the pool on the last. */
static void unref_locked(struct http_easy_pool *pool)
{
    int last = --pool->references == 0;

    pthread_mutex_unlock(&pool->lock);
    if (last)
        destroy(pool);
}

/* 1 when url and timeout_ms are the pool's, which the first request
 * that passes a URL sets. */
static int claim_key_locked(struct http_easy_pool *pool, const char *url,
                            int64_t timeout_ms)
{
    if (url == NULL)
        return 0;
    if (pool->url == NULL) {
        pool->url = strdup(url);
        pool->parsed_url = curl_url();
        if (pool->parsed_url != NULL &&
            curl_url_set(pool->parsed_url, CURLUPART_URL, url, 0) !=
                CURLUE_OK) {
            curl_url_cleanup(pool->parsed_url);
            pool->parsed_url = NULL;
        }
        pool->timeout_ms = timeout_ms;
    }
    return pool->url != NULL && pool->timeout_ms == timeout_ms &&
           strcmp(pool->url, url) == 0;
}

CURL *http_easy_pool_take(struct http_easy_pool *pool, const char *url,
                          int64_t timeout_ms, enum http_easy_state *state)
{
    CURL *easy = NULL;
    int configured = 0;
    int keyed;

    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count > 0) {
        pool->idle_count--;
        easy = pool->idle[pool->idle_count].easy;
        configured = pool->idle[pool->idle_count].configured;
    }
    keyed = claim_key_locked(pool, url, timeout_ms);
    pthread_mutex_unlock(&pool->lock);

    /* Configured for the pool's request, which this one is not: it
     * must behave like a new handle. */
    if (configured && !keyed)
        curl_easy_reset(easy);
    if (easy == NULL)
        easy = curl_easy_init();
    if (easy == NULL)
        return NULL;

    pthread_mutex_lock(&pool->lock);
    pool->references++;
    pthread_mutex_unlock(&pool->lock);
    *state = !keyed       ? HTTP_EASY_NEW
             : configured ? HTTP_EASY_CONFIGURED
                          : HTTP_EASY_KEYED;
    return easy;
}

void http_easy_pool_give(struct http_easy_pool *pool, CURL *easy,
                         int keep_options)
{
    /* Reset outside the lock: it frees the last transfer's state. */
    if (!keep_options)
        curl_easy_reset(easy);

    pthread_mutex_lock(&pool->lock);
    /* Kept only while another reference remains: the last one frees
     * the pool and would clean the handle up at once. */
    if (pool->references > 1 && pool->idle_count < pool->max_idle) {
        pool->idle[pool->idle_count].easy = easy;
        pool->idle[pool->idle_count].configured = keep_options;
        pool->idle_count++;
        easy = NULL;
    }
    unref_locked(pool);
    if (easy != NULL)
        curl_easy_cleanup(easy);
}

CURLU *http_easy_pool_url(struct http_easy_pool *pool)
{
    return pool->parsed_url;
}

void http_easy_pool_release(struct http_easy_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    unref_locked(pool);
}
