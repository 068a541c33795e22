/*
 * The sweeper on its cron schedule: re-queues failed entries that still
 * have retries and recovers expired leases, through store->ops->sweep,
 * which writes one audit record per run.
 */
#include "engine/engine_internal.h"

#include <stdio.h>

#include "util/log.h"

#include "util/banned.h"

/* After a failed sweep, wait this long before trying again. */
#define SWEEP_RETRY_MS 60000

static int64_t next_tick_ms(const struct engine *engine, int64_t now)
{
    int64_t next;

    if (cron_next(&engine->sweep_cron, engine->sweep_zone, now / 1000,
                  &next) != 0)
        return INT64_MAX;
    return next * 1000;
}

int engine_sweeper_init(struct engine *engine, char *err, size_t errlen)
{
    const struct pubq_config *config = engine->config;
    char reason[ENGINE_ERR_MAX];

    if (cron_parse(config->sweeper_cron, &engine->sweep_cron, reason,
                   sizeof reason) != 0) {
        snprintf(err, errlen, "[sweeper] cron = \"%s\": %s",
                 config->sweeper_cron, reason);
        return -1;
    }
    engine->sweep_zone = zone_load(config->sweeper_zone, reason,
                                   sizeof reason);
    if (engine->sweep_zone == NULL) {
        snprintf(err, errlen, "[sweeper] zone: %s", reason);
        return -1;
    }
    engine->next_sweep_ms = next_tick_ms(engine, engine_wall_ms());
    return 0;
}

void engine_sweeper_free(struct engine *engine)
{
    zone_free(engine->sweep_zone);
    engine->sweep_zone = NULL;
}

/*
 * Runs the sweep of the current cron tick once its time has come. A
 * failed sweep is tried again later under the same tick, so that other
 * nodes, which record the tick when they sweep it, do not run it again.
 */
void engine_sweeper_tick(struct engine *engine, int64_t now)
{
    struct sweep_result result = {0};

    if (now < engine->next_sweep_ms)
        return;
    if (engine->sweep_tick_ms == 0)
        engine->sweep_tick_ms = engine->next_sweep_ms;

    if (engine->store->ops->sweep(engine->store, now, engine->sweep_tick_ms,
                                  "sweeper", &result) != STORE_OK) {
        log_error("sweeper", "sweep failed, next try in %d s: %s",
                  SWEEP_RETRY_MS / 1000, store_errmsg(engine->store));
        engine->next_sweep_ms = now + SWEEP_RETRY_MS;
        return;
    }
    if (result.skipped)
        log_info("sweeper", "tick already swept by another node node=%s",
                 engine->node_id);
    else
        log_info("sweeper", "sweep requeued=%zu recovered=%zu node=%s",
                 result.requeued, result.recovered, engine->node_id);
    engine->sweep_tick_ms = 0;
    engine->next_sweep_ms = next_tick_ms(engine, now);
}

int engine_sweep_once(struct store *store, struct sweep_result *result,
                      char *err, size_t errlen)
{
    if (store->ops->sweep(store, engine_wall_ms(), 0, "manual",
                          result) != STORE_OK) {
        snprintf(err, errlen, "sweep failed: %s", store_errmsg(store));
        return -1;
    }
    return 0;
}
