/*
 * The jobs of a store handle's last claim, kept so that get_job returns
 * them without another read. A node reads the job of every entry it
 * claims right after the claim. A job row never changes after it is
 * written, except for its publish_audited flag, which struct job does
 * not contain, so a copy read with the claim stays true.
 */
#ifndef PUBQ_STORE_JOB_CACHE_H
#define PUBQ_STORE_JOB_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Jobs sorted by id once job_cache_sort has run. */
struct job_cache {
    struct job *items;
    size_t count;
};

/* Frees every cached job; the cache is then empty and reusable. */
void job_cache_clear(struct job_cache *cache);

/*
 * Makes room for `more` jobs after the cached ones and returns the
 * first free slot, or NULL when out of memory (the cache keeps what it
 * had). The caller fills slots in order, raises cache->count by the
 * number filled, and calls job_cache_sort.
 */
struct job *job_cache_reserve(struct job_cache *cache, size_t more);

void job_cache_sort(struct job_cache *cache);

/*
 * Copies the cached job `job_id` into *job (the caller frees it with
 * job_clear). Returns 0 when it is not cached or when out of memory.
 */
int job_cache_get(const struct job_cache *cache, int64_t job_id,
                  struct job *job);

#endif
