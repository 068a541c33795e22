/*
 * Lease renewal. Every attempt the engine holds, from its claim until
 * its result is stored (waiting for a slot, claimed ahead, or running),
 * is on engine->held_list. A third of a lease after the last renewal,
 * one store call extends all their leases. An attempt longer than the
 * lease (a command may run for hours) is then not recovered and run a
 * second time by this node or another.
 *
 * A lease the store no longer gives this node (another node recovered
 * the entry after a stall, an operator cancelled it) is marked lost: a
 * lost attempt that has not started never starts, and a running one's
 * result loses the conditional write and is dropped with a log line.
 */
#include "engine/engine_internal.h"

#include <inttypes.h>
#include <stdlib.h>

#include "util/log.h"

#include "util/banned.h"

/* Renewals of short leases (as in tests) still leave this much apart. */
#define RENEWAL_MIN_INTERVAL_MS 100

static int64_t renewal_interval_ms(const struct engine *engine);

void engine_hold_inflight(struct engine *engine, struct inflight *inflight)
{
    /* The first lease held runs from now, so renew a third of it later. */
    if (engine->held_list == NULL)
        engine->next_renewal_ms =
            engine_wall_ms() + renewal_interval_ms(engine);

    inflight->held_prev = NULL;
    inflight->held_next = engine->held_list;
    if (engine->held_list != NULL)
        engine->held_list->held_prev = inflight;
    engine->held_list = inflight;
    engine->held++;
}

void engine_unhold_inflight(struct engine *engine, struct inflight *inflight)
{
    if (inflight->held_prev != NULL)
        inflight->held_prev->held_next = inflight->held_next;
    else
        engine->held_list = inflight->held_next;
    if (inflight->held_next != NULL)
        inflight->held_next->held_prev = inflight->held_prev;
    inflight->held_prev = NULL;
    inflight->held_next = NULL;
    engine->held--;
}

static int64_t renewal_interval_ms(const struct engine *engine)
{
    int64_t interval = engine->config->lease_ms / 3;

    return interval > RENEWAL_MIN_INTERVAL_MS ? interval
                                              : RENEWAL_MIN_INTERVAL_MS;
}

int64_t engine_next_renewal(const struct engine *engine)
{
    return engine->held_list != NULL ? engine->next_renewal_ms : INT64_MAX;
}

int engine_lease_usable(const struct inflight *inflight, int64_t now)
{
    return !inflight->lease_lost && inflight->entry.lease_expires_at > now;
}

static void note_lost(struct engine *engine, struct inflight *inflight)
{
    if (inflight->lease_lost)
        return;
    inflight->lease_lost = 1;
    /* Not started, it was most likely cancelled or rescheduled. */
    log_at(inflight->started ? LOG_WARN : LOG_INFO, "engine",
             "lease lost entry=%" PRId64 " platform=%s attempt=%u node=%s: "
             "%s",
             inflight->entry.id, inflight->entry.platform,
             inflight->entry.attempt_count, engine->node_id,
             inflight->started
                 ? "the attempt still runs, and its result will not be "
                   "stored"
                 : "the attempt will not start");
}

void engine_renew_leases(struct engine *engine, int64_t now)
{
    struct lease_renewal *leases;
    struct inflight **attempts;
    size_t count;
    size_t renewed = 0;
    size_t i = 0;

    if (engine->held_list == NULL || now < engine->next_renewal_ms)
        return;
    engine->next_renewal_ms = now + renewal_interval_ms(engine);

    /* engine_hold_inflight and engine_unhold_inflight keep held equal to
     * the length of held_list. Results with the store writer are left
     * out below. */
    count = engine->held;
    leases = calloc(count, sizeof *leases);
    attempts = calloc(count, sizeof *attempts);
    if (leases == NULL || attempts == NULL) {
        log_error("engine", "out of memory renewing %zu leases", count);
        goto done;
    }
    for (struct inflight *it = engine->held_list; it != NULL;
         it = it->held_next) {
        if (it->storing)
            continue;
        leases[i].entry_id = it->entry.id;
        leases[i].attempt_number = it->entry.attempt_count;
        attempts[i++] = it;
    }
    count = i;
    if (count == 0)
        goto done;

    if (engine->store->ops->renew_leases(engine->store, engine->node_id,
                                         leases, count, now,
                                         engine->config->lease_ms,
                                         &renewed) != STORE_OK) {
        /* The leases stand until they expire; try again sooner. */
        log_error("engine", "renewing %zu leases failed node=%s: %s", count,
                  engine->node_id, store_errmsg(engine->store));
        engine->next_renewal_ms = now + RENEWAL_MIN_INTERVAL_MS * 10;
        goto done;
    }

    for (i = 0; i < count; i++) {
        int64_t expires_at = now + engine->config->lease_ms;

        if (!leases[i].renewed) {
            note_lost(engine, attempts[i]);
            continue;
        }
        if (attempts[i]->entry.lease_expires_at < expires_at)
            attempts[i]->entry.lease_expires_at = expires_at;
    }
    log_debug("engine", "renewed %zu of %zu leases node=%s", renewed, count,
              engine->node_id);

done:
    free(leases);
    free(attempts);
}
