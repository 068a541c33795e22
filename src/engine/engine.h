/*
 * The engine: one event loop around a libcurl multi handle that sleeps
 * until the next due time or a wake-up, claims due entries with a lease,
 * runs their attempts concurrently through the platform adapters, and
 * stores each result with its retry decision. It also runs the sweeper
 * on its cron schedule and recovers expired leases.
 *
 *   struct engine *engine = engine_new(&config, store, err, sizeof err);
 *   engine_run(engine);          ... until engine_stop() ...
 *   engine_free(engine);
 */
#ifndef PUBQ_ENGINE_H
#define PUBQ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"

#define ENGINE_ERR_MAX 1024

struct engine;

/*
 * Creates an engine over an open, migrated store: loads every
 * configured platform's adapter (reading its secrets) and parses the
 * sweeper schedule. The engine borrows config and store; both must
 * outlive it. Returns NULL with a message in err.
 */
struct engine *engine_new(const struct pubq_config *config,
                          struct store *store, char *err, size_t errlen);

/*
 * Moves the engine's frequent store writes (storing results, claiming
 * due entries) to a thread with its own connection to `url`, the URL
 * of the engine's store, so that transfers go on while the store
 * works. Call before engine_run. Without it, or for an in-memory SQLite
 * database, the engine thread does these writes itself. Returns 0, or
 * -1 with a message in err.
 */
int engine_start_writer(struct engine *engine, const char *url, char *err,
                        size_t errlen);

/*
 * Runs the loop until engine_stop() is called and the shutdown has
 * finished: attempts in flight get the configured grace period, the
 * rest are aborted and their leases released. Returns 0, or -1 when the
 * store failed in a way the loop cannot continue past.
 */
int engine_run(struct engine *engine);

/* Wakes the loop to look for new due work. Thread-safe. */
void engine_wake(struct engine *engine);

/* Begins the shutdown. Async-signal-safe and thread-safe. */
void engine_stop(struct engine *engine);

/* The node id used for leases. */
const char *engine_node_id(const struct engine *engine);

/* Runs one sweep now, as the cron schedule would. */
int engine_sweep_once(struct store *store, struct sweep_result *result,
                      char *err, size_t errlen);

void engine_free(struct engine *engine);

#endif
