/* Shared by the engine's files; not part of its interface. */
#ifndef PUBQ_ENGINE_INTERNAL_H
#define PUBQ_ENGINE_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "core/cron.h"
#include "core/zone.h"
#include "engine/engine.h"
#include "publish/adapter.h"

/* One attempt the engine holds, from claim until its result is stored. */
struct inflight {
    struct engine *engine;
    struct publish_attempt attempt;
    struct entry entry;
    json_t *content;
    struct platform_runtime *platform;
    CURL *easy;       /* the running HTTP step, or NULL */
    int started;      /* the adapter's start() was called */
    int64_t start_ms; /* monotonic time of start() */
    int64_t sent_at;  /* wall ms when the request went to libcurl */
    /* start() already ran while the entry waited for its due time:
     * its step and request, to run then. */
    int prepared;
    enum adapter_step prepared_step;
    CURL *prepared_easy;
    struct attempt_completion completion;
    struct inflight *next;
    struct inflight *active_prev; /* in engine->active while easy is set */
    struct inflight *active_next;
    struct inflight *held_prev; /* in engine->held_list until released */
    struct inflight *held_next;
    /* Renewal found the lease taken (recovered, cancelled, finished by
     * another writer): the attempt must not start. */
    int lease_lost;
    /* Its result is with the store writer, which may be ending the
     * lease right now, so renewal leaves it alone. */
    int storing;
    int pause_applied; /* engine_apply_pauses took its pause */
};

/* A claimed entry and what its attempt needs from the store. */
struct engine_claim {
    struct entry entry;
    json_t *content; /* the job's content, or NULL when unreadable */
    /* The previous attempt's outcome is unknown, and when it started. */
    int previous_unknown;
    int64_t previous_started_at;
};

/* A configured platform and the attempts it has now. */
struct platform_runtime {
    const struct platform_config *config;
    const struct adapter_ops *adapter;
    void *adapter_state;
    uint32_t running;      /* attempts started and not finished */
    struct inflight *wait_head; /* claimed, waiting for a free slot */
    struct inflight *wait_tail;
    uint32_t ahead; /* claimed ahead of their due time, not started */
    int64_t paused_until; /* wall ms; a pause this node learned of */
};

struct engine {
    const struct pubq_config *config;
    struct store *store;
    char node_id[STORE_NAME_MAX];

    CURLM *multi;
    int wake_pipe[2]; /* a byte written wakes curl_multi_poll */
    volatile int stop_requested;

    struct platform_runtime *platforms;
    size_t platform_count;
    /* Names of the platforms with a free slot, platform_count items
     * allocated; filled before each claim and next_due_at. */
    const char **open_platforms;
    size_t open_platform_count;
    uint32_t held; /* claimed and not yet stored, over all platforms */
    /* Of the held, those finished whose results wait for the store: in
     * `finished` or with the store writer. They run no more, so with a
     * writer they take no place of max_in_flight. */
    uint32_t unstored;
    struct inflight *held_list; /* the `held` attempts, for lease renewal */
    int64_t next_renewal_ms;    /* wall ms */

    /* Entries claimed ahead of their due time, in due order, each
     * started by start_claimed when its due time comes. */
    struct inflight *ahead_head;
    struct inflight *ahead_tail;
    int64_t ahead_retry_at; /* wall ms; after a failed start_claimed */
    /*
     * The claims of the entries from ahead_head to ahead_batch_last,
     * those due first, listed by engine_warm_ahead before their due
     * time, so that the store call at the due time needs no walk over
     * the entries. Any change to the list sets ahead_batch_last to NULL.
     */
    struct claim_start *ahead_batch;
    size_t ahead_batch_count;
    size_t ahead_batch_capacity;
    struct inflight *ahead_batch_last;

    /* Freed attempts kept for reuse, linked by `next`. */
    struct inflight *spare;
    uint32_t spare_count;

    /* Attempts with an HTTP step on the multi handle. */
    struct inflight *active;

    /* Attempts whose ADAPTER_ASYNC step finished on another thread. */
    pthread_mutex_t async_lock;
    struct inflight *async_done;

    /* Finished attempts whose results wait for the next store write. */
    struct inflight *finished;
    size_t finished_count;
    int64_t flush_retry_ms; /* monotonic; after a failed store write */

    /* The store writer thread, or NULL: then this thread writes. */
    struct engine_writer *writer;
    /*
     * With a writer, a claim runs while claim_events differs from
     * claim_checked: events that can make entries claimable (a wake-up,
     * a finished attempt, a timeout) count up claim_events, and a claim
     * that found fewer entries than it asked for sets claim_checked to
     * the count it started at.
     */
    uint64_t claim_events;
    uint64_t claim_checked;

    struct cron_expr sweep_cron;
    struct zone *sweep_zone;
    int64_t next_sweep_ms;
    int64_t sweep_tick_ms; /* the cron tick being swept; 0 between ticks */
    int64_t next_recovery_ms;
};

/* The byte the store writer writes to the wake-up pipe when it finished
 * a work item; engine_wake and engine_stop write others. */
#define ENGINE_WAKE_WRITER 2

/* How long to wait before storing results again after a failure. */
#define ENGINE_FLUSH_RETRY_MS 1000

int64_t engine_wall_ms(void);
int64_t engine_mono_ms(void);

/* engine_platforms.c */
int engine_platforms_load(struct engine *engine, char *err, size_t errlen);
void engine_platforms_free(struct engine *engine);
struct platform_runtime *engine_platform_find(struct engine *engine,
                                              const char *name);

/* engine.c */
/* Accepts an entry the store writer claimed and loaded. */
void engine_accept_loaded(struct engine *engine, struct engine_claim *claim);

/* engine_attempts.c */
void engine_accept_claimed(struct engine *engine, struct entry *entry);
/* Loads the job content and previous attempt of a claimed entry. Uses
 * only `store`, so the store writer thread calls it too. */
void engine_load_claim(struct store *store, struct engine_claim *claim);
/* Like engine_prepare_claimed, for an entry already loaded; takes over
 * claim->content. */
struct inflight *engine_prepare_loaded(struct engine *engine,
                                       struct engine_claim *claim);
/*
 * The two halves of engine_accept_claimed. engine_prepare_claimed
 * returns an attempt with its content loaded, or NULL when it already
 * ended it (unserved platform, out of memory). engine_admit ends it
 * when it must not run (expired, unreadable content, outcome unknown
 * on hold) and otherwise queues it for a slot.
 */
struct inflight *engine_prepare_claimed(struct engine *engine,
                                        struct entry *entry);
void engine_admit(struct engine *engine, struct inflight *inflight);
/* Frees an attempt the engine held: the end of every inflight. */
void engine_release_inflight(struct engine *engine, struct inflight *inflight);
/* Frees the attempts kept for reuse. */
void engine_free_spares(struct engine *engine);
/*
 * Builds the request of an attempt claimed ahead now, when its adapter
 * allows it (start_builds_only), so that only the hand-over to libcurl
 * is left for the due time.
 */
void engine_prepare_request(struct inflight *inflight);
void engine_start_waiting(struct engine *engine);
void engine_drop_waiting(struct engine *engine);
void engine_handle_transfers(struct engine *engine);
void engine_handle_async(struct engine *engine);
int engine_flush_results(struct engine *engine);
/* Pauses the platforms that results in `list` asked to pause, and
 * sends the entries waiting for their slots back to the store. */
void engine_apply_pauses(struct engine *engine, struct inflight *list);
/* Logs and frees stored results; applied[i] is item i's outcome of
 * complete_attempts. */
void engine_results_stored(struct engine *engine, struct inflight *list,
                           const int *applied);
void engine_abort_all(struct engine *engine);

/* engine_ahead.c */
int engine_claim_ahead(struct engine *engine, uint32_t room);
void engine_start_due_ahead(struct engine *engine);
/* Frees the entries claimed ahead, and the list of their claims. */
void engine_drop_ahead(struct engine *engine);
/*
 * Reads the memory of the entries claimed ahead, so that it is in the
 * caches and page tables when they start, and lists the claims of those
 * due first. The loop calls it at least every AHEAD_WARM_INTERVAL_MS in
 * the last AHEAD_WARM_WINDOW_MS before the first of them is due.
 */
void engine_warm_ahead(struct engine *engine);
/* The due time of the next entry claimed ahead, or INT64_MAX. */
int64_t engine_next_ahead_due(const struct engine *engine);

/* engine_leases.c */
void engine_hold_inflight(struct engine *engine, struct inflight *inflight);
void engine_unhold_inflight(struct engine *engine, struct inflight *inflight);
void engine_renew_leases(struct engine *engine, int64_t now);
/* 1 when the attempt may start: its lease is still this node's. */
int engine_lease_usable(const struct inflight *inflight, int64_t now);
/* The wall time of the next renewal, or INT64_MAX when nothing is held. */
int64_t engine_next_renewal(const struct engine *engine);

/* engine_writer.c */
/*
 * Starts the store writer thread with its own connection to `url`. A
 * NULL url, or an in-memory SQLite database that a second connection
 * could not see, keeps every store write on the engine thread.
 */
int engine_writer_start(struct engine *engine, const char *url, char *err,
                        size_t errlen);
/* 1 while a work item is with the writer. */
int engine_writer_busy(const struct engine *engine);
/* Takes the results of a work item the writer finished, if any. */
void engine_writer_collect(struct engine *engine);
/*
 * Hands the writer a work item when it has none: the finished results
 * (unless a failed write waits for its retry) and a claim of up to
 * claim_room entries of the open platforms, claim_slots at most.
 */
void engine_writer_submit(struct engine *engine, uint32_t claim_room,
                          uint32_t claim_slots);
/* Waits for the outstanding work item, then collects it. */
void engine_writer_wait(struct engine *engine);
/* Waits for the writer, ends its thread and closes its connection. */
void engine_writer_stop(struct engine *engine);

/* engine_sweeper.c */
int engine_sweeper_init(struct engine *engine, char *err, size_t errlen);
void engine_sweeper_tick(struct engine *engine, int64_t now);
void engine_sweeper_free(struct engine *engine);

#endif
