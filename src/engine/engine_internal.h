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
    struct inflight *held_list; /* the `held` attempts, for lease renewal */
    int64_t next_renewal_ms;    /* wall ms */

    /* Entries claimed ahead of their due time, in due order, each
     * started by start_claimed when its due time comes. */
    struct inflight *ahead_head;
    struct inflight *ahead_tail;
    int64_t ahead_retry_at; /* wall ms; after a failed start_claimed */

    /* Attempts with an HTTP step on the multi handle. */
    struct inflight *active;

    /* Attempts whose ADAPTER_ASYNC step finished on another thread. */
    pthread_mutex_t async_lock;
    struct inflight *async_done;

    /* Finished attempts whose results wait for the next store write. */
    struct inflight *finished;
    size_t finished_count;
    int64_t flush_retry_ms; /* monotonic; after a failed store write */

    struct cron_expr sweep_cron;
    struct zone *sweep_zone;
    int64_t next_sweep_ms;
    int64_t sweep_tick_ms; /* the cron tick being swept; 0 between ticks */
    int64_t next_recovery_ms;
};

int64_t engine_wall_ms(void);
int64_t engine_mono_ms(void);

/* engine_platforms.c */
int engine_platforms_load(struct engine *engine, char *err, size_t errlen);
void engine_platforms_free(struct engine *engine);
struct platform_runtime *engine_platform_find(struct engine *engine,
                                              const char *name);

/* engine_attempts.c */
void engine_accept_claimed(struct engine *engine, struct entry *entry);
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
void engine_abort_all(struct engine *engine);

/* engine_ahead.c */
int engine_claim_ahead(struct engine *engine, uint32_t room);
void engine_start_due_ahead(struct engine *engine);
void engine_drop_ahead(struct engine *engine);
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

/* engine_sweeper.c */
int engine_sweeper_init(struct engine *engine, char *err, size_t errlen);
void engine_sweeper_tick(struct engine *engine, int64_t now);
void engine_sweeper_free(struct engine *engine);

#endif
