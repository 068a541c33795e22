/* pipe2() is a Linux call. */
#define _GNU_SOURCE

#include "engine/engine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#include "util/banned.h"

/* Longest sleep with nothing due. Other processes wake the loop through
 * the store's wake-up descriptor when it has one (an inotify watch for
 * SQLite, LISTEN/NOTIFY for PostgreSQL); this safety poll covers a store
 * without one and wake-ups lost on a broken connection. */
#define IDLE_POLL_MS 1000
#define IDLE_POLL_WITH_WAKEUPS_MS 30000

/* Maximum interval between recoveries of leases that expired on other
 * nodes. A shorter lease shortens the interval to the lease. */
#define RECOVERY_INTERVAL_MS 30000
/* The last sleep before a due time is at most this long (see
 * next_wait_ms). */
#define FINAL_SLEEP_MS 50
/*
 * In the last AHEAD_WARM_WINDOW_MS before entries claimed ahead fall
 * due, the loop wakes at least every AHEAD_WARM_INTERVAL_MS to touch
 * their memory (engine_warm_ahead). On the 2-core virtual machine of
 * BENCHMARKS.md, reading 1,000 attempts untouched for 2 s took 6 to
 * 50 ms, and 1 to 2 ms when they had been read 100 ms before. At their
 * due time that delay was the whole lateness. The window keeps the
 * wake-ups, about 2.5 % of a core plus 4 % per 1,000 entries held, to
 * the moments before a due time.
 */
#define AHEAD_WARM_WINDOW_MS 200
#define AHEAD_WARM_INTERVAL_MS 20
/* The wait for entries claimed ahead ends this early, and
 * engine_start_due_ahead sleeps the rest with clock_nanosleep. */
#define AHEAD_EARLY_WAKE_MS 1

int64_t engine_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t engine_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void choose_node_id(struct engine *engine)
{
    char host[64] = "host";

    if (engine->config->node_id != NULL) {
        snprintf(engine->node_id, sizeof engine->node_id, "%s",
                 engine->config->node_id);
        return;
    }
    gethostname(host, sizeof host - 1);
    snprintf(engine->node_id, sizeof engine->node_id, "%.40s-%ld", host,
             (long)getpid());
}

static int open_wake_pipe(struct engine *engine, char *err, size_t errlen)
{
    if (pipe2(engine->wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot create the wake-up pipe: %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}

struct engine *engine_new(const struct pubq_config *config,
                          struct store *store, char *err, size_t errlen)
{
    struct engine *engine = calloc(1, sizeof *engine);

    if (engine == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    engine->config = config;
    engine->store = store;
    engine->wake_pipe[0] = engine->wake_pipe[1] = -1;
    pthread_mutex_init(&engine->async_lock, NULL);
    choose_node_id(engine);

    if (open_wake_pipe(engine, err, errlen) != 0)
        goto fail;
    engine->multi = curl_multi_init();
    if (engine->multi == NULL) {
        snprintf(err, errlen, "cannot create a curl multi handle");
        goto fail;
    }
    curl_multi_setopt(engine->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)config->max_in_flight);
    if (engine_platforms_load(engine, err, errlen) != 0)
        goto fail;
    if (engine_sweeper_init(engine, err, errlen) != 0)
        goto fail;
    return engine;

fail:
    engine_free(engine);
    return NULL;
}

int engine_start_writer(struct engine *engine, const char *url, char *err,
                        size_t errlen)
{
    return engine_writer_start(engine, url, err, errlen);
}

void engine_free(struct engine *engine)
{
    if (engine == NULL)
        return;
    engine_writer_stop(engine);
    engine_drop_ahead(engine);
    engine_free_spares(engine);
    engine_platforms_free(engine);
    engine_sweeper_free(engine);
    if (engine->multi != NULL)
        curl_multi_cleanup(engine->multi);
    if (engine->wake_pipe[0] >= 0)
        close(engine->wake_pipe[0]);
    if (engine->wake_pipe[1] >= 0)
        close(engine->wake_pipe[1]);
    pthread_mutex_destroy(&engine->async_lock);
    free(engine);
}

const char *engine_node_id(const struct engine *engine)
{
    return engine->node_id;
}

void engine_wake(struct engine *engine)
{
    char byte = 1;

    /* A full pipe already contains a pending wake-up, so EAGAIN is fine. */
    if (write(engine->wake_pipe[1], &byte, 1) < 0 && errno != EAGAIN)
        log_warn("engine", "wake-up failed: %s", strerror(errno));
}

void engine_stop(struct engine *engine)
{
    char byte = 0;
    int saved = errno;

    engine->stop_requested = 1;
    if (write(engine->wake_pipe[1], &byte, 1) < 0) {
        /* Nothing to do in a signal handler; the flag is set. */
    }
    errno = saved;
}

/* Empties the wake-up pipe; returns 1 when a byte came from other than
 * the store writer. */
static int drain_wake_pipe(struct engine *engine)
{
    char buf[256];
    ssize_t got;
    int woken = 0;

    while ((got = read(engine->wake_pipe[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++)
            woken |= buf[i] != ENGINE_WAKE_WRITER;
    }
    return woken;
}

/*
 * Room for more attempts under max_in_flight. With a store writer,
 * attempts that finished and wait for their results to be stored take
 * none, so that transfers go on while the writer stores a batch: the
 * engine then holds at most about twice max_in_flight attempts, since
 * each work item stores every result that finished before it.
 */
static uint32_t in_flight_room(const struct engine *engine)
{
    uint32_t busy = engine->held;

    if (engine->writer != NULL)
        busy -= engine->unstored;
    return busy < engine->config->max_in_flight
               ? engine->config->max_in_flight - busy
               : 0;
}

/* Attempt slots of one platform not taken by running or waiting ones. */
static uint32_t platform_free_slots(const struct platform_runtime *platform)
{
    uint64_t busy = (uint64_t)platform->running + platform->ahead;

    for (const struct inflight *it = platform->wait_head; it != NULL;
         it = it->next)
        busy++;
    if (busy >= platform->config->concurrency)
        return 0;
    return (uint32_t)(platform->config->concurrency - busy);
}

/*
 * Fills engine->open_platforms with the configured platforms that have a
 * free attempt slot and returns the free slots over all of them. The
 * store claims and considers only entries of these platforms: an entry
 * of a platform this node lacks is left to the nodes that serve it, and
 * one of a busy platform stays in the store for any node with room.
 *
 * A claimed entry's lease runs from the claim, so the engine claims no
 * more than it can start at once: an entry that waited in memory for a
 * slot longer than its lease would be recovered, and posted again, while
 * this node still held it.
 * NOTE: one claim can still take more entries of one platform than that
 * platform's free slots when several platforms are open, and the extra
 * ones wait here. The engine renews the leases of what it holds
 * (engine_leases.c), and an entry whose lease expired anyway does not
 * start.
 */
static uint32_t collect_open_platforms(struct engine *engine)
{
    uint64_t slots = 0;

    engine->open_platform_count = 0;
    for (size_t i = 0; i < engine->platform_count; i++) {
        const struct platform_runtime *platform = &engine->platforms[i];
        uint32_t free_here = platform_free_slots(platform);

        if (free_here == 0)
            continue;
        engine->open_platforms[engine->open_platform_count++] =
            platform->config->name;
        slots += free_here;
    }
    return slots < UINT32_MAX ? (uint32_t)slots : UINT32_MAX;
}

/*
 * Ends this node's copy of a platform's pause when a claim returns an
 * entry of that platform. A claim skips platforms paused in the store,
 * so the pause was lifted elsewhere: by a resume through the API or the
 * CLI, or by another node.
 */
static void resume_if_claimed(struct engine *engine, const char *name)
{
    struct platform_runtime *platform = engine_platform_find(engine, name);

    if (platform == NULL || platform->paused_until <= engine_wall_ms())
        return;
    platform->paused_until = 0;
    log_info("engine", "platform %s resumed: the store has no pause for it",
             name);
}

void engine_accept_loaded(struct engine *engine, struct engine_claim *claim)
{
    struct inflight *inflight;

    resume_if_claimed(engine, claim->entry.platform);
    inflight = engine_prepare_loaded(engine, claim);
    if (inflight != NULL)
        engine_admit(engine, inflight);
}

/* Claims as many due entries as there is room for. */
static int claim_due(struct engine *engine)
{
    uint32_t room = engine->config->max_in_flight - engine->held;

    while (room > 0) {
        struct entry_list list = {0};
        uint32_t slots = collect_open_platforms(engine);
        size_t want;
        size_t claimed;

        if (slots < room)
            room = slots;
        if (room == 0)
            break;
        want = room < engine->config->claim_batch
                   ? room
                   : engine->config->claim_batch;

        int rc = engine->store->ops->claim_due(
            engine->store, engine->node_id, engine->open_platforms,
            engine->open_platform_count, engine_wall_ms(),
            engine->config->lease_ms, want, &list);

        if (rc != STORE_OK) {
            log_error("engine", "claim failed node=%s: %s", engine->node_id,
                      store_errmsg(engine->store));
            return -1;
        }
        claimed = list.count;
        if (claimed > 0)
            log_info("engine", "claimed %zu entries node=%s", claimed,
                     engine->node_id);
        for (size_t i = 0; i < claimed; i++) {
            resume_if_claimed(engine, list.items[i].platform);
            engine_accept_claimed(engine, &list.items[i]);
        }
        room -= (uint32_t)claimed;
        entry_list_free(&list);
        if (claimed < want)
            break;
    }
    return 0;
}

/*
 * Claims entries due within the claim_ahead window, as many as there is
 * room for after claim_due. Like claim_due it takes no more than the
 * free slots, so that each can start at its due time.
 */
static int claim_ahead(struct engine *engine)
{
    uint32_t room = in_flight_room(engine);
    uint32_t slots;

    if (room == 0)
        return 0;
    slots = collect_open_platforms(engine);
    return engine_claim_ahead(engine, slots < room ? slots : room);
}

/* The claim_ahead window, or 0 when the store cannot claim ahead. */
static int64_t claim_ahead_window(const struct engine *engine)
{
    return engine->store->ops->claim_ahead != NULL
               ? engine->config->claim_ahead_ms
               : 0;
}

/*
 * When to claim for a due time the store reported: when it enters the
 * claim_ahead window. Inside the window, claim_ahead already took what
 * it could (a pause end is no entry to claim ahead), so the next claim
 * is claim_due's, at the due time itself.
 */
static int64_t claim_time(const struct engine *engine, int64_t due,
                          int64_t now)
{
    int64_t window = claim_ahead_window(engine);

    return due - now > window ? due - window : due;
}

/* Milliseconds to sleep before anything new can be due. */
static int next_wait_ms(struct engine *engine)
{
    int64_t now = engine_wall_ms();
    int64_t wait = store_wake_fd(engine->store) >= 0
                       ? IDLE_POLL_WITH_WAKEUPS_MS
                       : IDLE_POLL_MS;
    int64_t due;

    /*
     * Only entries this node could start now count. With no room,
     * finishing attempts wake the loop, not due times, and so does the
     * store writer when it finishes a work item.
     */
    if (!engine_writer_busy(engine) &&
        in_flight_room(engine) > 0 && collect_open_platforms(engine) > 0 &&
        engine->store->ops->next_due_at(engine->store,
                                        engine->open_platforms,
                                        engine->open_platform_count,
                                        &due) == STORE_OK &&
        claim_time(engine, due, now) - now < wait)
        wait = claim_time(engine, due, now) - now;
    if (engine_next_ahead_due(engine) - AHEAD_EARLY_WAKE_MS - now < wait)
        wait = engine_next_ahead_due(engine) - AHEAD_EARLY_WAKE_MS - now;
    if (engine_next_ahead_due(engine) - now <= AHEAD_WARM_WINDOW_MS) {
        if (wait > AHEAD_WARM_INTERVAL_MS)
            wait = AHEAD_WARM_INTERVAL_MS;
    } else if (engine_next_ahead_due(engine) - AHEAD_WARM_WINDOW_MS - now <
               wait) {
        wait = engine_next_ahead_due(engine) - AHEAD_WARM_WINDOW_MS - now;
    }
    if (engine->next_sweep_ms - now < wait)
        wait = engine->next_sweep_ms - now;
    /* Entries a dead node held become due only through lease recovery. */
    if (engine->next_recovery_ms - now < wait)
        wait = engine->next_recovery_ms - now;
    if (engine_next_renewal(engine) - now < wait)
        wait = engine_next_renewal(engine) - now;
    if (engine->finished_count > 0 && !engine_writer_busy(engine)) {
        int64_t retry = engine->flush_retry_ms - engine_mono_ms();

        wait = retry > 0 && retry < wait ? retry : 0;
    }

    /*
     * Linux lets poll() wake late by 0.1% of its timeout (up to 100 ms)
     * for ordinary threads: 2 ms after a 2 s sleep, measured here as
     * 2.1 ms. A long sleep therefore ends FINAL_SLEEP_MS early, and the
     * short sleep that follows, with a slack of microseconds, ends at
     * the due time.
     */
    if (wait > FINAL_SLEEP_MS)
        wait -= FINAL_SLEEP_MS;
    return wait < 0 ? 0 : (int)wait;
}

/*
 * 1 when the store saw wake-ups already. libpq reads notifications that
 * arrive during another query into its buffer, where they never make the
 * socket readable, so they are collected here before each sleep.
 */
static int pending_wakeups(struct engine *engine)
{
    if (store_consume_wakeups(engine->store) == 0)
        return 0;
    engine->claim_events++;
    return 1;
}

static void wait_for_events(struct engine *engine, int wait_ms)
{
    struct curl_waitfd wake[2] = {
        {.fd = engine->wake_pipe[0], .events = CURL_WAIT_POLLIN},
        {.fd = store_wake_fd(engine->store), .events = CURL_WAIT_POLLIN},
    };
    unsigned int count = wake[1].fd >= 0 ? 2 : 1;
    int running = 0;
    int events = 0;

    curl_multi_poll(engine->multi, wake, count, wait_ms, &events);
    /* A timeout can be a due time or a pause's end: claim again. */
    if (events == 0 || drain_wake_pipe(engine))
        engine->claim_events++;
    if (count == 2 && wake[1].revents != 0 &&
        store_consume_wakeups(engine->store) > 0)
        engine->claim_events++;
    curl_multi_perform(engine->multi, &running);
}

/*
 * A dead node's entries wait for their lease to expire and then for the
 * next recovery run, so the interval is capped by the lease: otherwise a
 * 3 s lease would still leave them waiting up to 33 s.
 */
static int64_t recovery_interval_ms(const struct engine *engine)
{
    int64_t lease = engine->config->lease_ms;

    return lease > 0 && lease < RECOVERY_INTERVAL_MS ? lease
                                                     : RECOVERY_INTERVAL_MS;
}

static void run_periodic(struct engine *engine, int64_t now)
{
    size_t recovered = 0;

    if (now >= engine->next_recovery_ms) {
        if (engine->store->ops->recover_leases(engine->store, now,
                                               &recovered) != STORE_OK)
            log_error("engine", "lease recovery failed: %s",
                      store_errmsg(engine->store));
        else if (recovered > 0) {
            log_warn("engine", "recovered %zu entries with expired leases",
                     recovered);
            engine->claim_events++;
        }
        engine->next_recovery_ms = now + recovery_interval_ms(engine);
    }
    engine_renew_leases(engine, now);
    if (now >= engine->next_sweep_ms)
        engine->claim_events++;
    engine_sweeper_tick(engine, now);
}

/*
 * Stores finished results, on this thread or through the store writer.
 * The writer also claims due entries, while claims are wanted and the
 * engine is not stopping, and returns them to the next loop.
 */
static void store_results(struct engine *engine, int stopping)
{
    uint32_t room = 0;
    uint32_t slots = 0;

    if (engine->writer == NULL) {
        engine_flush_results(engine);
        return;
    }
    engine_writer_collect(engine);
    if (stopping)
        engine_drop_waiting(engine);
    else if (engine->claim_events != engine->claim_checked) {
        room = in_flight_room(engine);
        slots = room > 0 ? collect_open_platforms(engine) : 0;
    }
    engine_writer_submit(engine, room, slots);
}

/*
 * 1 when claim_ahead may run now. With a store writer it runs between
 * work items, once a claim found nothing more due now, so that entries
 * due later never take the room of entries due already.
 */
static int may_claim_ahead(const struct engine *engine)
{
    if (engine->writer == NULL)
        return 1;
    return engine->claim_events == engine->claim_checked &&
           !engine_writer_busy(engine);
}

static void finish_shutdown(struct engine *engine)
{
    size_t released = 0;

    engine_abort_all(engine);
    /* The store writer's last claims go back, and what it could not
     * store is stored here with the rest. */
    if (engine->writer != NULL) {
        engine_writer_wait(engine);
        engine_drop_waiting(engine);
        engine_writer_stop(engine);
    }
    /* The last chance to store them, whatever the retry delay. */
    engine->flush_retry_ms = 0;
    engine_flush_results(engine);
    if (engine->store->ops->release_leases(engine->store, engine->node_id,
                                           engine_wall_ms(),
                                           &released) != STORE_OK)
        log_error("engine", "releasing leases failed node=%s: %s",
                  engine->node_id, store_errmsg(engine->store));
    log_info("engine", "stopped node=%s released=%zu", engine->node_id,
             released);
}

int engine_run(struct engine *engine)
{
    int64_t stop_deadline = 0;

    log_info("engine", "started node=%s platforms=%zu max_in_flight=%u",
             engine->node_id, engine->platform_count,
             engine->config->max_in_flight);
    engine->next_recovery_ms = 0;
    /* Entries may be due already. */
    engine->claim_events++;

    for (;;) {
        int64_t now = engine_wall_ms();

        if (engine->stop_requested && stop_deadline == 0) {
            stop_deadline = engine_mono_ms() +
                            engine->config->shutdown_grace_ms;
            engine_drop_waiting(engine);
            engine_drop_ahead(engine);
            log_info("engine", "stopping node=%s in_flight=%u grace_ms=%lld",
                     engine->node_id, engine->held,
                     (long long)engine->config->shutdown_grace_ms);
        }
        if (stop_deadline != 0 &&
            (engine->held == 0 || engine_mono_ms() >= stop_deadline))
            break;

        if (stop_deadline == 0) {
            /* First the attempts due now, before any store call. */
            engine_start_due_ahead(engine);
            if (engine_next_ahead_due(engine) - now <= AHEAD_WARM_WINDOW_MS)
                engine_warm_ahead(engine);
            engine_start_waiting(engine);
            run_periodic(engine, now);
            if (engine->writer != NULL) {
                engine_writer_collect(engine);
                engine_start_waiting(engine);
            } else {
                claim_due(engine);
            }
            if (may_claim_ahead(engine))
                claim_ahead(engine);
            engine_start_waiting(engine);
        }
        store_results(engine, stop_deadline != 0);

        wait_for_events(engine, stop_deadline != 0
                                    ? 100
                                    : pending_wakeups(engine)
                                          ? 0
                                          : next_wait_ms(engine));
        /* Attempts due now start before the store writer gets work,
         * which would hold SQLite's write lock that they need. */
        if (stop_deadline == 0) {
            engine_start_due_ahead(engine);
            engine_start_waiting(engine);
        }
        engine_handle_transfers(engine);
        engine_handle_async(engine);
        store_results(engine, stop_deadline != 0);
    }

    finish_shutdown(engine);
    return 0;
}
