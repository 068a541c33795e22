/*
 * The store writer: a thread with a store handle of its own that runs
 * the engine's frequent store writes, storing finished attempts and
 * claiming due entries, so that libcurl keeps moving transfers on the
 * engine thread while a commit syncs or a PostgreSQL round trip waits.
 *
 * The engine thread hands over one work item at a time and goes on with
 * its transfers. The writer stores the item's results, claims entries
 * for the room the item names, loads what their attempts need, and
 * wakes the engine through its wake-up pipe. Results that finish
 * meanwhile wait for the next item, so items grow with the load and
 * one commit serves more results (group commit).
 *
 * Only the engine thread touches the item while it is not outstanding,
 * and only the writer while it is; the mutex hands it over.
 */
#include "engine/engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#include "util/banned.h"

enum item_state {
    ITEM_IDLE,    /* the engine thread may fill it */
    ITEM_QUEUED,  /* handed to the writer, which runs it */
    ITEM_DONE,    /* run; its results wait for the engine thread */
};

/* One round of store writes, and its results. */
struct writer_item {
    /* Finished attempts to store, and their completions in list order. */
    struct inflight *finished;
    size_t finished_count;
    struct attempt_completion *completions;
    int *applied;
    size_t completion_capacity;

    /* Claim: at most claim_room entries, claim_slots of these platforms. */
    size_t claim_room;
    size_t claim_slots; /* the open platforms' free slots */
    const char **platforms;
    size_t platform_count;

    int complete_result;
    int claim_result;
    char complete_error[STORE_ERR_MAX];
    char claim_error[STORE_ERR_MAX];
    size_t claim_requested;
    uint64_t claim_events; /* engine->claim_events at the hand-over */
    struct engine_claim *claimed;
    size_t claimed_count;
};

struct engine_writer {
    struct engine *engine;
    struct store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t queued;
    enum item_state state;
    int stopping;
    struct writer_item item;
};

static void wake_engine(struct engine *engine)
{
    char byte = ENGINE_WAKE_WRITER;

    if (write(engine->wake_pipe[1], &byte, 1) < 0 && errno != EAGAIN)
        log_warn("engine", "store writer wake-up failed: %s",
                 strerror(errno));
}

static void store_completions(struct engine_writer *writer,
                              struct writer_item *item)
{
    item->complete_result = STORE_OK;
    if (item->finished_count == 0)
        return;
    item->complete_result = writer->store->ops->complete_attempts(
        writer->store, item->completions, item->finished_count,
        item->applied);
    if (item->complete_result != STORE_OK)
        snprintf(item->complete_error, sizeof item->complete_error, "%s",
                 store_errmsg(writer->store));
}

/* Adds one claim's entries, with what their attempts need, to the item. */
static int keep_claimed(struct engine_writer *writer,
                        struct writer_item *item, struct entry_list *list)
{
    struct engine_claim *grown;

    if (list->count == 0)
        return 0;
    grown = realloc(item->claimed, (item->claimed_count + list->count) *
                                       sizeof *item->claimed);
    if (grown == NULL)
        return -1;
    item->claimed = grown;
    for (size_t i = 0; i < list->count; i++) {
        struct engine_claim *claim = &item->claimed[item->claimed_count++];

        claim->entry = list->items[i];
        engine_load_claim(writer->store, claim);
    }
    return 0;
}

/* The entries to claim: the room, within the open platforms' slots. */
static size_t claim_max(const struct writer_item *item)
{
    if (item->platform_count == 0)
        return 0;
    return item->claim_room < item->claim_slots ? item->claim_room
                                                : item->claim_slots;
}

static void note_claim_failure(struct engine_writer *writer,
                               struct writer_item *item, int result)
{
    item->claim_result = result;
    snprintf(item->claim_error, sizeof item->claim_error, "%s",
             store_errmsg(writer->store));
}

/* The entries stay claimed in the store, and lease recovery frees them. */
static int fail_keeping(struct engine_writer *writer, size_t count)
{
    snprintf(writer->store->errmsg, sizeof writer->store->errmsg,
             "out of memory keeping %zu claimed entries", count);
    return STORE_ERROR;
}

/* Claims in batches of claim_batch, as engine.c's claim_due does. */
static void claim_entries(struct engine_writer *writer,
                          struct writer_item *item)
{
    const struct pubq_config *config = writer->engine->config;
    size_t room = claim_max(item);

    item->claim_result = STORE_OK;
    while (room > 0) {
        struct entry_list list = {0};
        size_t want = room < config->claim_batch ? room : config->claim_batch;
        int rc = writer->store->ops->claim_due(
            writer->store, writer->engine->node_id, item->platforms,
            item->platform_count, engine_wall_ms(), config->lease_ms, want,
            &list);

        item->claim_requested += want;
        if (rc == STORE_OK && keep_claimed(writer, item, &list) != 0)
            rc = fail_keeping(writer, list.count);
        entry_list_free(&list);
        if (rc != STORE_OK) {
            note_claim_failure(writer, item, rc);
            return;
        }
        if (item->claimed_count < item->claim_requested)
            return;
        room -= want;
    }
}

/*
 * Stores the item's results and claims in one transaction, with the
 * back end's complete_and_claim. Returns 0 when the back end has none
 * or there is not both to do.
 */
static int complete_and_claim(struct engine_writer *writer,
                              struct writer_item *item)
{
    const struct pubq_config *config = writer->engine->config;
    struct claim_request claim = {
        .node = writer->engine->node_id,
        .platforms = item->platforms,
        .platform_count = item->platform_count,
        .now = engine_wall_ms(),
        .lease_ms = config->lease_ms,
        .max = claim_max(item),
        .batch = config->claim_batch,
    };
    struct entry_list list = {0};
    int rc;

    if (writer->store->ops->complete_and_claim == NULL ||
        item->finished_count == 0 || claim.max == 0)
        return 0;
    rc = writer->store->ops->complete_and_claim(
        writer->store, item->completions, item->finished_count,
        item->applied, &claim, &list);
    item->claim_requested = claim.max;
    item->complete_result = rc;
    item->claim_result = STORE_OK;
    if (rc != STORE_OK) {
        snprintf(item->complete_error, sizeof item->complete_error, "%s",
                 store_errmsg(writer->store));
        note_claim_failure(writer, item, rc);
    } else if (keep_claimed(writer, item, &list) != 0) {
        note_claim_failure(writer, item, fail_keeping(writer, list.count));
    }
    entry_list_free(&list);
    return 1;
}

/* Runs one work item: results, then claims, in one transaction when the
 * back end can. */
static void run_item(struct engine_writer *writer, struct writer_item *item)
{
    if (complete_and_claim(writer, item))
        return;
    store_completions(writer, item);
    claim_entries(writer, item);
}

static void *writer_main(void *arg)
{
    struct engine_writer *writer = arg;

    pthread_mutex_lock(&writer->lock);
    for (;;) {
        while (writer->state != ITEM_QUEUED && !writer->stopping)
            pthread_cond_wait(&writer->queued, &writer->lock);
        if (writer->state != ITEM_QUEUED)
            break;
        pthread_mutex_unlock(&writer->lock);

        run_item(writer, &writer->item);

        pthread_mutex_lock(&writer->lock);
        writer->state = ITEM_DONE;
        pthread_cond_broadcast(&writer->queued);
        wake_engine(writer->engine);
    }
    pthread_mutex_unlock(&writer->lock);
    return NULL;
}

/* SQLite's in-memory databases are private to their handle. */
static int names_private_database(const char *url)
{
    return strstr(url, ":memory:") != NULL ||
           strstr(url, "mode=memory") != NULL;
}

int engine_writer_start(struct engine *engine, const char *url, char *err,
                        size_t errlen)
{
    struct engine_writer *writer;
    char reason[STORE_ERR_MAX] = "";

    if (url == NULL || names_private_database(url))
        return 0;
    writer = calloc(1, sizeof *writer);
    if (writer == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    writer->engine = engine;
    writer->item.platforms =
        calloc(engine->platform_count + 1, sizeof *writer->item.platforms);
    if (writer->item.platforms == NULL) {
        snprintf(err, errlen, "out of memory");
        free(writer);
        return -1;
    }
    if (store_open_existing(url, &writer->store, reason, sizeof reason) !=
        STORE_OK) {
        snprintf(err, errlen, "opening the store writer's database "
                 "connection failed: %s", reason);
        free(writer->item.platforms);
        free(writer);
        return -1;
    }
    pthread_mutex_init(&writer->lock, NULL);
    pthread_cond_init(&writer->queued, NULL);
    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) {
        snprintf(err, errlen, "starting the store writer thread failed");
        store_close(writer->store);
        pthread_mutex_destroy(&writer->lock);
        pthread_cond_destroy(&writer->queued);
        free(writer->item.platforms);
        free(writer);
        return -1;
    }
    engine->writer = writer;
    log_info("engine", "store writer started node=%s", engine->node_id);
    return 0;
}

int engine_writer_busy(const struct engine *engine)
{
    struct engine_writer *writer = engine->writer;
    int busy;

    if (writer == NULL)
        return 0;
    pthread_mutex_lock(&writer->lock);
    busy = writer->state == ITEM_QUEUED;
    pthread_mutex_unlock(&writer->lock);
    return busy;
}

/* 1 when the item is free to fill: collected, or never handed over. */
static int item_idle(struct engine_writer *writer)
{
    int idle;

    pthread_mutex_lock(&writer->lock);
    idle = writer->state == ITEM_IDLE;
    pthread_mutex_unlock(&writer->lock);
    return idle;
}

/* Gives a failed item's results back, to be stored again later. */
static void requeue_finished(struct engine *engine, struct writer_item *item)
{
    struct inflight *last = item->finished;

    last->storing = 0;
    while (last->next != NULL) {
        last = last->next;
        last->storing = 0;
    }
    last->next = engine->finished;
    engine->finished = item->finished;
    engine->finished_count += item->finished_count;
    engine->flush_retry_ms = engine_mono_ms() + ENGINE_FLUSH_RETRY_MS;
}

static void collect_completions(struct engine *engine,
                                struct writer_item *item)
{
    if (item->finished_count == 0)
        return;
    if (item->complete_result != STORE_OK) {
        log_error("engine", "storing %zu results failed, retrying in 1 s: "
                  "%s", item->finished_count, item->complete_error);
        requeue_finished(engine, item);
    } else {
        engine_results_stored(engine, item->finished, item->applied);
    }
    item->finished = NULL;
    item->finished_count = 0;
}

static void collect_claims(struct engine *engine, struct writer_item *item)
{
    if (item->claim_result != STORE_OK)
        log_error("engine", "claim failed node=%s: %s", engine->node_id,
                  item->claim_error);
    /*
     * A short claim took every entry due then, so only a later event can
     * make more claimable, and a full one calls for another. A failed
     * one is tried again after the next event or idle poll, so that a
     * broken store does not keep the writer busy.
     */
    if (item->claim_requested > 0 && item->claim_result == STORE_OK &&
        item->claimed_count >= item->claim_requested)
        engine->claim_events++;
    else if (item->claim_requested > 0)
        engine->claim_checked = item->claim_events;
    if (item->claimed_count > 0)
        log_info("engine", "claimed %zu entries node=%s",
                 item->claimed_count, engine->node_id);
    for (size_t i = 0; i < item->claimed_count; i++)
        engine_accept_loaded(engine, &item->claimed[i]);
    item->claimed_count = 0;
    item->claim_requested = 0;
}

void engine_writer_collect(struct engine *engine)
{
    struct engine_writer *writer = engine->writer;

    if (writer == NULL)
        return;
    pthread_mutex_lock(&writer->lock);
    if (writer->state != ITEM_DONE) {
        pthread_mutex_unlock(&writer->lock);
        return;
    }
    writer->state = ITEM_IDLE;
    pthread_mutex_unlock(&writer->lock);

    collect_completions(engine, &writer->item);
    collect_claims(engine, &writer->item);
}

/* Moves engine->finished into the item. Returns -1 when out of memory. */
static int take_finished(struct engine *engine, struct writer_item *item)
{
    size_t count = engine->finished_count;
    size_t i = 0;

    if (count > item->completion_capacity) {
        struct attempt_completion *completions =
            realloc(item->completions, count * sizeof *completions);
        int *applied;

        if (completions == NULL)
            return -1;
        item->completions = completions;
        applied = realloc(item->applied, count * sizeof *applied);
        if (applied == NULL)
            return -1;
        item->applied = applied;
        item->completion_capacity = count;
    }
    item->finished = engine->finished;
    item->finished_count = count;
    for (struct inflight *it = item->finished; it != NULL; it = it->next) {
        item->completions[i++] = it->completion;
        it->storing = 1;
    }
    engine->finished = NULL;
    engine->finished_count = 0;
    return 0;
}

void engine_writer_submit(struct engine *engine, uint32_t claim_room,
                          uint32_t claim_slots)
{
    struct engine_writer *writer = engine->writer;
    struct writer_item *item = &writer->item;
    int store_results = engine->finished_count > 0 &&
                        engine_mono_ms() >= engine->flush_retry_ms;

    if (!item_idle(writer))
        return;
    if (!store_results && (claim_room == 0 || claim_slots == 0))
        return;
    if (store_results && take_finished(engine, item) != 0) {
        log_error("engine", "out of memory storing %zu results, retrying "
                  "in 1 s", engine->finished_count);
        engine->flush_retry_ms = engine_mono_ms() + ENGINE_FLUSH_RETRY_MS;
        store_results = 0;
    }
    if (!store_results && (claim_room == 0 || claim_slots == 0))
        return;

    /* A pause applies before the next attempt of its platform starts,
     * not only once the store has it. */
    if (store_results)
        engine_apply_pauses(engine, item->finished);
    item->claim_events = engine->claim_events;
    item->claim_room = claim_room;
    item->claim_slots = claim_slots;
    item->platform_count = engine->open_platform_count;
    memcpy(item->platforms, engine->open_platforms,
           engine->open_platform_count * sizeof *item->platforms);

    pthread_mutex_lock(&writer->lock);
    writer->state = ITEM_QUEUED;
    pthread_cond_broadcast(&writer->queued);
    pthread_mutex_unlock(&writer->lock);
}

void engine_writer_wait(struct engine *engine)
{
    struct engine_writer *writer = engine->writer;

    if (writer == NULL)
        return;
    pthread_mutex_lock(&writer->lock);
    while (writer->state == ITEM_QUEUED)
        pthread_cond_wait(&writer->queued, &writer->lock);
    pthread_mutex_unlock(&writer->lock);
    engine_writer_collect(engine);
}

void engine_writer_stop(struct engine *engine)
{
    struct engine_writer *writer = engine->writer;

    if (writer == NULL)
        return;
    engine_writer_wait(engine);
    pthread_mutex_lock(&writer->lock);
    writer->stopping = 1;
    pthread_cond_broadcast(&writer->queued);
    pthread_mutex_unlock(&writer->lock);
    pthread_join(writer->thread, NULL);

    store_close(writer->store);
    pthread_mutex_destroy(&writer->lock);
    pthread_cond_destroy(&writer->queued);
    free(writer->item.completions);
    free(writer->item.applied);
    free(writer->item.platforms);
    free(writer->item.claimed);
    free(writer);
    engine->writer = NULL;
    log_info("engine", "store writer stopped node=%s", engine->node_id);
}
