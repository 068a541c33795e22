/* The jobs of a store handle's last claim, for get_job. */
#include "store/job_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

void job_cache_clear(struct job_cache *cache)
{
    for (size_t i = 0; i < cache->count; i++)
        job_clear(&cache->items[i]);
    free(cache->items);
    cache->items = NULL;
    cache->count = 0;
}

struct job *job_cache_reserve(struct job_cache *cache, size_t more)
{
    struct job *items;

    if (more == 0)
        return NULL;
    items = realloc(cache->items, (cache->count + more) * sizeof *items);
    if (items == NULL)
        return NULL;
    cache->items = items;
    return &items[cache->count];
}

static int by_job_id(const void *x, const void *y)
{
    const struct job *a = x;
    const struct job *b = y;

    return a->id < b->id ? -1 : a->id > b->id;
}

void job_cache_sort(struct job_cache *cache)
{
    if (cache->count > 1)
        qsort(cache->items, cache->count, sizeof *cache->items, by_job_id);
}

int job_cache_get(const struct job_cache *cache, int64_t job_id,
                  struct job *job)
{
    struct job key = {.id = job_id};
    const struct job *found;
    char *content;

    if (cache->count == 0)
        return 0;
    found = bsearch(&key, cache->items, cache->count, sizeof *cache->items,
                    by_job_id);
    if (found == NULL)
        return 0;

    content = strdup(found->content_json);
    if (content == NULL)
        return 0;
    *job = *found;
    job->content_json = content;
    return 1;
}
