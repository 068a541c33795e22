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

#include <inttypes.h>
#include <stdlib.h>

#include "util/log.h"

#include "util/banned.h"

/* How long to wait before trying start_claimed again after it failed. */
#define START_RETRY_MS 1000

/*
 * Inserts in due order. A claim returns entries oldest due first, so
 * they go at the tail, but an entry put back and claimed again can be
 * due before some held already.
 */
static void insert_ahead(struct engine *engine, struct inflight *inflight)
{
    struct inflight **link = &engine->ahead_head;

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

void engine_warm_ahead(struct engine *engine)
{
    unsigned int sum = 0;

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
    }
    (void)sum;
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

    for (struct inflight *it = due; it != NULL; it = it->next) {
        it->platform->ahead++;
        last = it;
    }
    last->next = engine->ahead_head;
    if (engine->ahead_head == NULL)
        engine->ahead_tail = last;
    engine->ahead_head = due;
}

/* Detaches the entries due at or before `now`; returns how many. */
static size_t take_due(struct engine *engine, int64_t now,
                       struct inflight **due)
{
    size_t count = 0;

    *due = engine->ahead_head;
    while (engine->ahead_head != NULL &&
           engine->ahead_head->entry.due_at <= now) {
        engine->ahead_head->platform->ahead--;
        engine->ahead_head = engine->ahead_head->next;
        count++;
    }
    if (count == 0) {
        *due = NULL;
        return 0;
    }

    struct inflight *last = *due;
    for (size_t i = 1; i < count; i++)
        last = last->next;
    last->next = NULL;
    if (engine->ahead_head == NULL)
        engine->ahead_tail = NULL;
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
        if (claims[i].started)
            engine_admit(engine, due);
        else
            drop_unstarted(engine, due);
        due = next;
        i++;
    }
}

static struct claim_start *list_claims(struct inflight *due, size_t count)
{
    struct claim_start *claims = calloc(count, sizeof *claims);
    size_t i = 0;

    if (claims == NULL)
        return NULL;
    for (struct inflight *it = due; it != NULL; it = it->next) {
        claims[i].entry_id = it->entry.id;
        claims[i].attempt_number = it->entry.attempt_count;
        claims[i].due_at = it->entry.due_at;
        i++;
    }
    return claims;
}

/*
 * Starts every entry claimed ahead whose due time has come, with one
 * store call. When that call fails the entries stay held, unstarted,
 * and the engine tries again after START_RETRY_MS.
 */
void engine_start_due_ahead(struct engine *engine)
{
    int64_t now = engine_wall_ms();
    struct inflight *due;
    struct claim_start *claims;
    size_t count;
    int rc = STORE_ERROR;

    if (now < engine->ahead_retry_at)
        return;
    count = take_due(engine, now, &due);
    if (count == 0)
        return;

    claims = list_claims(due, count);
    if (claims != NULL)
        rc = engine->store->ops->start_claimed(
            engine->store, engine->node_id, claims, count, now);
    if (rc != STORE_OK) {
        log_error("engine", "starting %zu claimed entries failed node=%s, "
                  "retrying in 1 s: %s", count, engine->node_id,
                  claims != NULL ? store_errmsg(engine->store)
                                 : "out of memory");
        put_back_due(engine, due);
        engine->ahead_retry_at = now + START_RETRY_MS;
        free(claims);
        return;
    }
    engine->ahead_retry_at = 0;
    admit_started(engine, due, claims);
    free(claims);
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
}
