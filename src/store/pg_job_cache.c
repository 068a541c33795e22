/*
 * The jobs of the last claim (of every claim statement of the last
 * complete_and_claim), kept so that get_job returns them without
 * a round trip (PostgreSQL store). A node reads the job of every entry it
 * claims right after the claim, and a job row never changes after it
 * is written except for its publish_audited flag, which struct job does
 * not contain, so a copy read with the claim stays true.
 */
#include "store/pg_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

void pg_job_cache_clear(struct pg_store *s)
{
    for (size_t i = 0; i < s->job_cache.count; i++)
        job_clear(&s->job_cache.items[i]);
    free(s->job_cache.items);
    s->job_cache.items = NULL;
    s->job_cache.count = 0;
}

static int by_job_id(const void *x, const void *y)
{
    const struct job *a = x;
    const struct job *b = y;

    return a->id < b->id ? -1 : a->id > b->id;
}

void pg_job_cache_add(struct pg_store *s, const PGresult *res, int job_id_col,
                      int col)
{
    int rows = PQntuples(res);
    size_t count = s->job_cache.count;
    struct job *items;

    if (rows == 0)
        return;
    items = realloc(s->job_cache.items,
                    (count + (size_t)rows) * sizeof *s->job_cache.items);
    /* Without memory the cache keeps what it had, and get_job reads the
     * rows of this claim. */
    if (items == NULL)
        return;
    s->job_cache.items = items;

    for (int i = 0; i < rows; i++) {
        struct job *job = &s->job_cache.items[count];

        memset(job, 0, sizeof *job);
        job->id = pg_get_int(res, i, job_id_col);
        pg_get_text(res, i, col, job->content_id, sizeof job->content_id);
        pg_get_text(res, i, col + 1, job->event_id, sizeof job->event_id);
        job->content_json = strdup(PQgetvalue(res, i, col + 2));
        job->scheduled_at = pg_get_int(res, i, col + 3);
        job->created_at = pg_get_int(res, i, col + 4);
        if (job->content_json != NULL)
            count++;
    }
    s->job_cache.count = count;
    qsort(s->job_cache.items, count, sizeof *s->job_cache.items, by_job_id);
}

void pg_job_cache_fill(struct pg_store *s, const PGresult *res, int job_id_col,
                       int col)
{
    pg_job_cache_clear(s);
    pg_job_cache_add(s, res, job_id_col, col);
}

int pg_job_cache_get(struct pg_store *s, int64_t job_id, struct job *job)
{
    struct job key = {.id = job_id};
    const struct job *found;

    if (s->job_cache.count == 0)
        return 0;
    found = bsearch(&key, s->job_cache.items, s->job_cache.count,
                    sizeof *s->job_cache.items, by_job_id);
    if (found == NULL)
        return 0;

    char *content = strdup(found->content_json);
    if (content == NULL)
        return 0;
    *job = *found;
    job->content_json = content;
    return 1;
}
