#include "publish/http_easy_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/banned.h"

struct http_easy_pool {
    pthread_mutex_t lock;
    size_t references; /* the owner's, and one per handle taken */
    size_t idle_count;
    size_t max_idle;
    CURL *idle[];
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
        curl_easy_cleanup(pool->idle[i]);
    pthread_mutex_destroy(&pool->lock);
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

CURL *http_easy_pool_take(struct http_easy_pool *pool)
{
    CURL *easy = NULL;

    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count > 0)
        easy = pool->idle[--pool->idle_count];
    pthread_mutex_unlock(&pool->lock);

    if (easy == NULL)
        easy = curl_easy_init();
    if (easy == NULL)
        return NULL;

    pthread_mutex_lock(&pool->lock);
    pool->references++;
    pthread_mutex_unlock(&pool->lock);
    return easy;
}

void http_easy_pool_give(struct http_easy_pool *pool, CURL *easy)
{
    /* Reset outside the lock: it frees the last transfer's state. */
    curl_easy_reset(easy);

    pthread_mutex_lock(&pool->lock);
    /* Kept only while another reference remains: the last one frees
     * the pool and would clean the handle up at once. */
    if (pool->references > 1 && pool->idle_count < pool->max_idle) {
        pool->idle[pool->idle_count++] = easy;
        easy = NULL;
    }
    unref_locked(pool);
    if (easy != NULL)
        curl_easy_cleanup(easy);
}

void http_easy_pool_release(struct http_easy_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    unref_locked(pool);
}
