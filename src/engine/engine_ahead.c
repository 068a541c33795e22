/*
 * Claiming ahead: the engine claims entries that fall due within the
 * configured claim_ahead window, loads what their attempts need, and
 * keeps them in memory until their due time. Then one store call starts
 * all attempts due at that instant, so that the claim, with its disk
 * sync, is not on the path from the due time to the request.
 *
 * An entry claimed ahead stays cancellable until start_claimed marks its
 * attempt started: a cancel or reschedule in the store puts the claim
 * back, start_claimed then reports it as not started, and the engine
 * drops its copy without posting.
 */
#include "engine/engine_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "util/log.h"

#include "util/banned.h"

/* How long to wait before trying start_claimed again after it failed. */
#define START_RETRY_MS 1000

/*
 * The engine's poll() takes whole milliseconds and its loop reads the
 * clock in whole milliseconds, so a wait for a due time ends up to 1 ms
 * after it. The loop therefore wakes up to AHEAD_EARLY_WAKE_MS early
 * (next_wait_ms), and engine_start_due_ahead sleeps the rest with
 * clock_nanosleep, which ends within the thread's timer slack (50 us by
 * default on Linux) of the due time.
 */
#define PRECISE_SLEEP_MAX_NS 2000000

/*
 * In the last STORE_WARM_WINDOW_MS before a due time, engine_warm_ahead
 * also has the store read the rows that start_claimed will change. On
 * the 2-core virtual machine of BENCHMARKS.md, start_claimed of 1,000
 * entries took 3.2 to 4.3 ms when the rows were last read at the claim,
 * 2 s before. After this read it took 2.2 to 2.3 ms (timestamps around
 * the call, two runs each).
 */
#define STORE_WARM_WINDOW_MS 50

/* Marks the listed claims stale: the list of entries changed. */
static void forget_batch(struct engine *engine)
{
    engine->ahead_batch_last = NULL;
    engine->ahead_batch_count = 0;
}

/*
 * Inserts in due order. A claim returns entries oldest due first, so
 * they go at the tail, but an entry put back and claimed again can be
 * due before some held already.
 */
static void insert_ahead(struct engine *engine, struct inflight *inflight)
{
    struct inflight **link = &engine->ahead_head;

    forget_batch(engine);
    inflight->platform->ahead++;
    if (engine->ahead_tail != NULL &&
        engine->ahead_tail->entry.due_at <= inflight->entry.due_at)
        link = &engine->ahead_tail->next;
    while (*link != NULL && (*link)->entry.due_at <= inflight->entry.due_at)
        link = &(*link)->next;
    inflight->next = *link;
    *link = inflight;
    if (inflight->next == NULL)
        engine->ahead_tail = inflight;
}

int engine_claim_ahead(struct engine *engine, uint32_t room)
{
    const struct pubq_config *config = engine->config;
    struct entry_list list = {0};
    int64_t now = engine_wall_ms();
    int rc;

    if (engine->store->ops->claim_ahead == NULL ||
        config->claim_ahead_ms <= 0 || room == 0 ||
        engine->open_platform_count == 0)
        return 0;

    rc = engine->store->ops->claim_ahead(
        engine->store, engine->node_id, engine->open_platforms,
        engine->open_platform_count, now, now + config->claim_ahead_ms,
        config->lease_ms, room, &list);
    if (rc != STORE_OK) {
        log_error("engine", "claim ahead failed node=%s: %s", engine->node_id,
                  store_errmsg(engine->store));
        return -1;
    }
    if (list.count > 0)
        log_info("engine", "claimed %zu entries ahead of their due time "
                 "node=%s", list.count, engine->node_id);
    for (size_t i = 0; i < list.count; i++) {
        struct inflight *inflight =
            engine_prepare_claimed(engine, &list.items[i]);

        if (inflight == NULL)
            continue;
        engine_prepare_request(inflight);
        insert_ahead(engine, inflight);
    }
    entry_list_free(&list);
    return 0;
}

/* Appends a claim to the listed claims; returns -1 out of memory. */
static int list_in_batch(struct engine *engine,
                         const struct inflight *inflight)
{
    struct claim_start *claim;

    if (engine->ahead_batch_count == engine->ahead_batch_capacity) {
        size_t grown = engine->ahead_batch_capacity == 0
                           ? 64
                           : engine->ahead_batch_capacity * 2;
        struct claim_start *more =
            realloc(engine->ahead_batch, grown * sizeof *more);

        if (more == NULL)
            return -1;
        engine->ahead_batch = more;
        engine->ahead_batch_capacity = grown;
    }
    claim = &engine->ahead_batch[engine->ahead_batch_count++];
    claim->entry_id = inflight->entry.id;
    claim->attempt_number = inflight->entry.attempt_count;
    claim->due_at = inflight->entry.due_at;
    claim->started = 0;
    return 0;
}

void engine_warm_ahead(struct engine *engine)
{
    unsigned int sum = 0;
    int64_t first_due;
    int listing = 1;

    if (engine->ahead_head == NULL)
        return;
    first_due = engine->ahead_head->entry.due_at;
    forget_batch(engine);

    for (struct inflight *it = engine->ahead_head; it != NULL;
         it = it->next) {
        const volatile unsigned char *bytes = (const unsigned char *)it;
        char *url = NULL;

        for (size_t offset = 0; offset < sizeof *it; offset += 4096)
            sum += bytes[offset];
        /* libcurl's handle is opaque: reading an option touches it. */
        if (it->prepared_easy != NULL &&
            curl_easy_getinfo(it->prepared_easy, CURLINFO_EFFECTIVE_URL,
                              &url) == CURLE_OK &&
            url != NULL)
            sum += (unsigned char)url[0];

        /* The list is in due order, so the first due are its head. */
        if (listing && it->entry.due_at == first_due) {
            if (list_in_batch(engine, it) != 0) {
                forget_batch(engine);
                listing = 0;
            } else {
                engine->ahead_batch_last = it;
            }
        } else {
            listing = 0;
        }
    }
    (void)sum;

    if (engine->ahead_batch_last != NULL &&
        engine->store->ops->warm_claimed != NULL &&
        first_due - engine_wall_ms() <= STORE_WARM_WINDOW_MS &&
        engine->store->ops->warm_claimed(engine->store, engine->node_id,
                                         engine->ahead_batch,
                                         engine->ahead_batch_count) !=
            STORE_OK)
        log_warn("engine", "reading claimed entries ahead of their start "
                 "failed node=%s: %s", engine->node_id,
                 store_errmsg(engine->store));
}

int64_t engine_next_ahead_due(const struct engine *engine)
{
    int64_t due;

    if (engine->ahead_head == NULL)
        return INT64_MAX;
    due = engine->ahead_head->entry.due_at;
    return due > engine->ahead_retry_at ? due : engine->ahead_retry_at;
}

/* Puts a detached list of due entries back at the head. */
static void put_back_due(struct engine *engine, struct inflight *due)
{
    struct inflight *last = due;

    forget_batch(engine);
    while (last->next != NULL)
        last = last->next;
    last->next = engine->ahead_head;
    if (engine->ahead_head == NULL)
        engine->ahead_tail = last;
    engine->ahead_head = due;
}

/*
 * Detaches the entries from the head to `last`, which the caller found
 * due. They stay counted in their platforms' `ahead` until
 * admit_started.
 */
static void detach_head(struct engine *engine, struct inflight *last,
                        struct inflight **due)
{
    *due = engine->ahead_head;
    engine->ahead_head = last->next;
    last->next = NULL;
    if (engine->ahead_head == NULL)
        engine->ahead_tail = NULL;
}

/*
 * Takes the entries due at or before `now` with the claims listed
 * before their due time, or returns 0 when these do not cover exactly
 * those entries.
 */
static size_t take_listed(struct engine *engine, int64_t now,
                          struct inflight **due)
{
    struct inflight *last = engine->ahead_batch_last;
    size_t count = engine->ahead_batch_count;

    if (last == NULL || last->entry.due_at > now ||
        (last->next != NULL && last->next->entry.due_at <= now))
        return 0;
    detach_head(engine, last, due);
    engine->ahead_batch_last = NULL;
    engine->ahead_batch_count = 0;
    return count;
}

/*
 * Detaches the entries due at or before `now` and lists their claims in
 * engine->ahead_batch; returns how many. Returns 0 when none is due,
 * and when the list runs out of memory, which start_due_ahead reports.
 */
static size_t take_due(struct engine *engine, int64_t now,
                       struct inflight **due, int *no_memory)
{
    struct inflight *last = NULL;
    size_t count;

    if (engine->ahead_head == NULL || engine->ahead_head->entry.due_at > now)
        return 0;
    forget_batch(engine);
    for (struct inflight *it = engine->ahead_head;
         it != NULL && it->entry.due_at <= now; it = it->next) {
        if (list_in_batch(engine, it) != 0) {
            forget_batch(engine);
            *no_memory = 1;
            return 0;
        }
        last = it;
    }
    if (last == NULL)
        return 0;
    count = engine->ahead_batch_count;
    detach_head(engine, last, due);
    engine->ahead_batch_last = NULL;
    engine->ahead_batch_count = 0;
    return count;
}

/* Frees an entry that the store took back before its attempt started. */
static void drop_unstarted(struct engine *engine, struct inflight *inflight)
{
    log_info("engine",
             "entry=%" PRId64 " platform=%s not started: it was cancelled, "
             "rescheduled, recovered or paused after it was claimed ahead",
             inflight->entry.id, inflight->entry.platform);
    engine_release_inflight(engine, inflight);
}

/* Hands the started attempts to their platforms' queues. */
static void admit_started(struct engine *engine, struct inflight *due,
                          const struct claim_start *claims)
{
    size_t i = 0;

    while (due != NULL) {
        struct inflight *next = due->next;

        due->next = NULL;
        due->platform->ahead--;
        if (claims[i].started)
            engine_admit(engine, due);
        else
            drop_unstarted(engine, due);
        due = next;
        i++;
    }
}

/*
 * Sleeps until the next due time of an entry claimed ahead when it is
 * at most PRECISE_SLEEP_MAX_NS away. Never returns before that time
 * unless a signal interrupts the sleep.
 */
static void sleep_until_due(const struct engine *engine)
{
    int64_t due = engine_next_ahead_due(engine);
    struct timespec now;
    struct timespec until;
    int64_t left_ns;

    if (due == INT64_MAX)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    left_ns = (due - (int64_t)now.tv_sec * 1000) * 1000000 - now.tv_nsec;
    if (left_ns <= 0 || left_ns > PRECISE_SLEEP_MAX_NS)
        return;
    until.tv_sec = (time_t)(due / 1000);
    until.tv_nsec = (long)(due % 1000) * 1000000;
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL) ==
           EINTR &&
           !engine->stop_requested) {
    }
}

/*
 * Starts every entry claimed ahead whose due time has come, with one
 * store call. When that call fails the entries stay held, unstarted,
 * and the engine tries again after START_RETRY_MS.
 */
void engine_start_due_ahead(struct engine *engine)
{
    struct inflight *due = NULL;
    size_t count;
    int no_memory = 0;
    int64_t now;
    int rc;

    sleep_until_due(engine);
    now = engine_wall_ms();
    if (now < engine->ahead_retry_at)
        return;
    count = take_listed(engine, now, &due);
    if (count == 0)
        count = take_due(engine, now, &due, &no_memory);
    if (no_memory) {
        log_error("engine", "starting claimed entries failed node=%s, "
                  "retrying in 1 s: out of memory", engine->node_id);
        engine->ahead_retry_at = now + START_RETRY_MS;
        return;
    }
    if (count == 0)
        return;

    rc = engine->store->ops->start_claimed(engine->store, engine->node_id,
                                           engine->ahead_batch, count, now);
    if (rc != STORE_OK) {
        log_error("engine", "starting %zu claimed entries failed node=%s, "
                  "retrying in 1 s: %s", count, engine->node_id,
                  store_errmsg(engine->store));
        put_back_due(engine, due);
        engine->ahead_retry_at = now + START_RETRY_MS;
        return;
    }
    engine->ahead_retry_at = 0;
    admit_started(engine, due, engine->ahead_batch);
}

/*
 * At shutdown: frees the entries claimed ahead. Their claims stay in
 * the store, where release_leases puts them back as never attempted.
 */
void engine_drop_ahead(struct engine *engine)
{
    while (engine->ahead_head != NULL) {
        struct inflight *inflight = engine->ahead_head;

        engine->ahead_head = inflight->next;
        inflight->platform->ahead--;
        engine_release_inflight(engine, inflight);
    }
    engine->ahead_tail = NULL;
    free(engine->ahead_batch);
    engine->ahead_batch = NULL;
    engine->ahead_batch_capacity = 0;
    forget_batch(engine);
}
