/*
 * The jobs of the last claim, read from the claim statement's own rows, so that
 * get_job returns them without a round trip (PostgreSQL store). See
 * store/job_cache.h for why a cached copy stays true.
 */
#include "store/pg_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

void pg_job_cache_clear(struct pg_store *s)
{
    job_cache_clear(&s->job_cache);
}

static void job_cache_add_rows(struct pg_store *s, const PGresult *res,
                               int job_id_col, int col)
{
    int rows = PQntuples(res);
    struct job *slots = job_cache_reserve(&s->job_cache, (size_t)rows);

    /* Without memory the cache keeps what it had, and get_job reads the
     * rows of this claim. */
    if (slots == NULL)
        return;

    for (int i = 0; i < rows; i++) {
        struct job *job = &s->job_cache.items[s->job_cache.count];

        memset(job, 0, sizeof *job);
        job->id = pg_get_int(res, i, job_id_col);
        pg_get_text(res, i, col, job->content_id, sizeof job->content_id);
        pg_get_text(res, i, col + 1, job->event_id, sizeof job->event_id);
        job->content_json = strdup(PQgetvalue(res, i, col + 2));
        job->scheduled_at = pg_get_int(res, i, col + 3);
        job->created_at = pg_get_int(res, i, col + 4);
        if (job->content_json != NULL)
            s->job_cache.count++;
    }
    job_cache_sort(&s->job_cache);
}

void pg_job_cache_fill(struct pg_store *s, const PGresult *res, int job_id_col,
                       int col)
{
    pg_job_cache_clear(s);
    job_cache_add_rows(s, res, job_id_col, col);
}

int pg_job_cache_get(struct pg_store *s, int64_t job_id, struct job *job)
{
    return job_cache_get(&s->job_cache, job_id, job);
}
