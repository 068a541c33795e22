/*
 * Group commit for event intake. Every connection has its own thread,
 * and with synchronous=FULL each SQLite commit waits for a sync of the
 * log, during which the other threads wait for the one write lock. So
 * the requests that arrive during one commit queue up here, and the
 * next leader stores all of them in one transaction: the cost of a
 * sync is shared by as many requests as arrived while the last one ran.
 * PostgreSQL gains too: one reservation and one write statement serve
 * the whole group, where each request would pay two round trips and a
 * commit of its own.
 *
 * A request joins the queue and waits. When no leader is active, it
 * becomes the leader: it takes every queued group, stores them with
 * store_submit_groups on the queue's writer handle, hands the lead to
 * the first request queued meanwhile, wakes the requests of its groups
 * and then the engine, once. Each request still returns only after its
 * own jobs are committed, with its own result.
 *
 * Waiters sleep on a semaphore of their own, posted outside the lock.
 * A condition variable signalled under the lock, as before, woke each
 * waiter only for it to block again on the lock the leader still held:
 * two more futex calls and thread switches per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "util/log.h"

#include "util/banned.h"

void http_submit_queue_init(struct http_submit_queue *queue,
                            const char *database, void (*committed)(void *arg),
                            void *arg)
{
    memset(queue, 0, sizeof *queue);
    queue->database = database;
    queue->committed = committed;
    queue->committed_arg = arg;
    pthread_mutex_init(&queue->lock, NULL);
}

void http_submit_queue_free(struct http_submit_queue *queue)
{
    if (queue->writer != NULL)
        store_close(queue->writer);
    pthread_mutex_destroy(&queue->lock);
}

static size_t count_waiters(const struct http_submit_waiter *first)
{
    size_t count = 0;

    for (const struct http_submit_waiter *w = first; w != NULL; w = w->next)
        count++;
    return count;
}

/* Sets every waiter's result to `result` with `errmsg`. */
static void fail_waiters(struct http_submit_waiter *first, int result,
                         const char *errmsg)
{
    for (struct http_submit_waiter *w = first; w != NULL; w = w->next) {
        w->group.result = result;
        snprintf(w->group.errmsg, sizeof w->group.errmsg, "%s", errmsg);
    }
}

/*
 * Stores the groups of the waiters from `first` on, outside the lock.
 * The store takes a contiguous array, so the groups are copied into one
 * and their results copied back. The job results are written in place.
 */
static void store_waiters(struct store *store, struct http_submit_waiter *first)
{
    size_t count = count_waiters(first);
    struct submit_group *groups = calloc(count, sizeof *groups);
    int64_t now = 0;
    size_t i = 0;

    if (groups == NULL) {
        fail_waiters(first, STORE_ERROR, "out of memory grouping requests");
        return;
    }
    for (struct http_submit_waiter *w = first; w != NULL; w = w->next) {
        groups[i++] = w->group;
        if (w->now > now)
            now = w->now;
    }

    store_submit_groups(store, groups, count, now);

    i = 0;
    for (struct http_submit_waiter *w = first; w != NULL; w = w->next) {
        w->group.result = groups[i].result;
        memcpy(w->group.errmsg, groups[i].errmsg, sizeof w->group.errmsg);
        i++;
    }
    free(groups);
}

/*
 * Returns the queue's writer handle, opening it on first use, or
 * `fallback` when it cannot be opened. Only the leader calls it.
 */
static struct store *writer_store(struct http_submit_queue *queue,
                                  struct store *fallback)
{
    char err[STORE_ERR_MAX];

    if (queue->writer != NULL)
        return queue->writer;
    if (store_open_existing(queue->database, &queue->writer, err,
                            sizeof err) != STORE_OK) {
        log_warn("http",
                 "failed to open the intake writer handle, so the request's "
                 "handle writes this group: %s",
                 err);
        queue->writer = NULL;
        return fallback;
    }
    return queue->writer;
}

/* Closes the writer handle after a server-side failure, as the pool
 * does with its handles, so the next group starts from a fresh one. */
static void drop_writer(struct http_submit_queue *queue,
                        const struct http_submit_waiter *first)
{
    for (const struct http_submit_waiter *w = first; w != NULL; w = w->next) {
        if (w->group.result == STORE_ERROR && queue->writer != NULL) {
            store_close(queue->writer);
            queue->writer = NULL;
        }
    }
}

static void notify_committed(const struct http_submit_queue *queue)
{
    if (queue->committed != NULL)
        queue->committed(queue->committed_arg);
}

/*
 * Posts the semaphore of every waiter from `first` on but `self`, which
 * is not waiting. A waiter may return and free itself as soon as its
 * semaphore is posted, so its successor is read first. glibc's sem_post
 * (2.21 and later) reads and writes the semaphore no more once sem_wait
 * can return, and its futex wake-up only passes the address. That makes
 * this safe where pthread_cond_signal outside the lock would not be.
 */
static void post_done(struct http_submit_waiter *first,
                      const struct http_submit_waiter *self)
{
    struct http_submit_waiter *next;

    for (struct http_submit_waiter *w = first; w != NULL; w = next) {
        next = w->next;
        if (w != self)
            sem_post(&w->wake);
    }
}

/*
 * Stores every queued group, including the leader's own (`self`), then
 * hands the lead to the first request queued meanwhile and wakes each
 * request of the groups. Called with the lock free and leader_active
 * set.
 */
static void lead(struct http_submit_queue *queue, struct store *store,
                 struct http_submit_waiter *self)
{
    struct http_submit_waiter *first;
    struct http_submit_waiter *next_leader;

    pthread_mutex_lock(&queue->lock);
    first = queue->head;
    queue->head = NULL;
    queue->tail = NULL;
    pthread_mutex_unlock(&queue->lock);

    store_waiters(writer_store(queue, store), first);
    drop_writer(queue, first);
    for (struct http_submit_waiter *w = first; w != NULL; w = w->next)
        w->done = 1;

    /* leader_active stays set while the lead passes on, so no request
     * that arrives meanwhile starts a second leader. */
    pthread_mutex_lock(&queue->lock);
    next_leader = queue->head;
    if (next_leader == NULL)
        queue->leader_active = 0;
    pthread_mutex_unlock(&queue->lock);

    /* The next commit waits for its leader, so that one wakes first. */
    if (next_leader != NULL)
        sem_post(&next_leader->wake);
    post_done(first, self);
    notify_committed(queue);
}

/* Waits for the waiter's semaphore, through interrupting signals. */
static void wait_posted(struct http_submit_waiter *waiter)
{
    while (sem_wait(&waiter->wake) != 0) {
    }
}

void http_submit_queue_run(struct http_submit_queue *queue, struct store *store,
                           struct http_submit_waiter *waiter)
{
    int leading;

    waiter->done = 0;
    waiter->next = NULL;

    /* A back end without submit_groups would store the queued groups
     * one transaction after another, one leader at a time, where the
     * requests' own handles can commit side by side. */
    if (store->ops->submit_groups == NULL) {
        store_submit_groups(store, &waiter->group, 1, waiter->now);
        notify_committed(queue);
        waiter->done = 1;
        return;
    }

    sem_init(&waiter->wake, 0, 0);
    pthread_mutex_lock(&queue->lock);
    if (queue->tail != NULL)
        queue->tail->next = waiter;
    else
        queue->head = waiter;
    queue->tail = waiter;
    leading = !queue->leader_active;
    queue->leader_active = 1;
    pthread_mutex_unlock(&queue->lock);

    /*
     * A waiter is always in the queue or in the leader's batch. Its
     * semaphore is posted once: by the leader whose batch contains it
     * (done), or by a leader that finds it first in the queue afterwards.
     * Then it leads, and its own batch contains it.
     */
    if (!leading) {
        wait_posted(waiter);
        leading = !waiter->done;
    }
    if (leading)
        lead(queue, store, waiter);
    sem_destroy(&waiter->wake);
}
