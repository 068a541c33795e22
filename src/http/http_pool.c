/*
 * The database handles of the HTTP server: at most HTTP_POOL_MAX exist
 * at once, idle ones wait in the pool, and a request that finds none
 * free waits for one.
 *
 * The bound matters for SQLite. Each handle has its own page cache. It
 * is kept small here because the pool's handles serve short reads and
 * single writes, and with SQLite's default of 2 MB per handle the RSS
 * grew for as long as the caches were filling. SQLite also keeps the descriptor of a closed
 * handle open while another handle of the process has a lock on the
 * file, because closing it would drop that POSIX lock, and in WAL mode
 * every open handle has one. A handle per connection would make memory
 * and open descriptors grow with the number of clients.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "http/http_internal.h"
#include "util/log.h"

#include "util/banned.h"

/* How long a request waits for a free handle before it gets 503. */
#define HTTP_POOL_WAIT_S 5

int http_open_store(const struct http_server *server, struct store **store,
                    char *err, size_t errlen)
{
    /* The daemon created the database at start-up; a file missing now
     * was deleted, and a new empty one would hide that. */
    int result =
        store_open_existing(server->config->database, store, err, errlen);

    if (result != STORE_OK)
        return result;

    /* A handle with the default cache still works, so only warn. */
    if (store_shrink_cache(*store) != STORE_OK)
        log_warn("http", "cannot shrink the page cache: %s",
                 store_errmsg(*store));
    return STORE_OK;
}

void http_pool_init(struct http_server *server)
{
    pthread_mutex_init(&server->pool_lock, NULL);
    pthread_cond_init(&server->pool_ready, NULL);
}

void http_pool_add(struct http_server *server, struct store *store)
{
    pthread_mutex_lock(&server->pool_lock);
    server->pool[server->pool_count++] = store;
    server->store_count++;
    pthread_mutex_unlock(&server->pool_lock);
}

void http_pool_free(struct http_server *server)
{
    for (size_t i = 0; i < server->pool_count; i++)
        store_close(server->pool[i]);
    server->pool_count = 0;
    pthread_cond_destroy(&server->pool_ready);
    pthread_mutex_destroy(&server->pool_lock);
}

/*
 * Takes an idle handle into *store, or reserves room for a new one and
 * sets *store to NULL. Returns -1 when neither happened within
 * HTTP_POOL_WAIT_S.
 */
static int pool_take(struct http_server *server, struct store **store)
{
    struct timespec deadline;
    int waited = 0;
    int result = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += HTTP_POOL_WAIT_S;

    pthread_mutex_lock(&server->pool_lock);
    while (server->pool_count == 0 && server->store_count >= HTTP_POOL_MAX &&
           waited != ETIMEDOUT)
        waited = pthread_cond_timedwait(&server->pool_ready,
                                        &server->pool_lock, &deadline);

    *store = NULL;
    if (server->pool_count > 0)
        *store = server->pool[--server->pool_count];
    else if (server->store_count < HTTP_POOL_MAX)
        server->store_count++;
    else
        result = -1;
    pthread_mutex_unlock(&server->pool_lock);
    return result;
}

/* Closes `store` (NULL for a reserved room) and every idle handle. */
static void pool_discard(struct http_server *server, struct store *store)
{
    struct store *idle[HTTP_POOL_MAX];
    size_t count;

    pthread_mutex_lock(&server->pool_lock);
    count = server->pool_count;
    memcpy(idle, server->pool, count * sizeof idle[0]);
    server->pool_count = 0;
    server->store_count -= count + 1;
    pthread_cond_broadcast(&server->pool_ready);
    pthread_mutex_unlock(&server->pool_lock);

    store_close(store);
    for (size_t i = 0; i < count; i++)
        store_close(idle[i]);
}

struct store *http_request_store(struct http_request *request,
                                 struct http_reply *reply)
{
    struct http_server *server = request->server;
    char why[STORE_ERR_MAX];

    if (request->store != NULL)
        return request->store;

    if (pool_take(server, &request->store) != 0) {
        log_warn("http", "all %d database handles busy for %d s",
                 HTTP_POOL_MAX, HTTP_POOL_WAIT_S);
        http_reply_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                         "server busy: all %d database handles were in use "
                         "for %d s; retry later",
                         HTTP_POOL_MAX, HTTP_POOL_WAIT_S);
        http_reply_header(reply, "Retry-After", "1");
        return NULL;
    }
    if (request->store != NULL)
        return request->store;

    if (http_open_store(server, &request->store, why, sizeof why) !=
        STORE_OK) {
        request->store = NULL;
        pool_discard(server, NULL);
        log_warn("http", "cannot open the database: %s", why);
        http_reply_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                         "cannot open the database: %s", why);
        http_reply_header(reply, "Retry-After", "1");
    }
    return request->store;
}

/*
 * After a server error the handle and every idle one are closed. SQLite
 * opens a handle read-only when the database file is not writable at
 * that moment, and the handle stays read-only after the file is
 * writable again. An I/O error may leave a handle unusable too.
 */
void http_request_release_store(struct http_request *request, int failed)
{
    struct http_server *server = request->server;
    struct store *store = request->store;

    if (store == NULL)
        return;
    request->store = NULL;

    if (failed) {
        pool_discard(server, store);
        return;
    }
    pthread_mutex_lock(&server->pool_lock);
    server->pool[server->pool_count++] = store;
    pthread_cond_signal(&server->pool_ready);
    pthread_mutex_unlock(&server->pool_lock);
}
