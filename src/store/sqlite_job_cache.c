/*
 * Reading the jobs of claimed entries into the handle's job cache
 * (SQLite store), inside the claim's transaction, so that the engine's
 * get_job of each claimed entry needs no statement and no read
 * transaction of its own. Each such read transaction takes and
 * releases a WAL-index read lock with fcntl.
 */
#include "store/sqlite_internal.h"

#include <stdlib.h>

#include "util/banned.h"

static const char sql_claim_jobs[] =
    "SELECT " SQLITE_JOB_COLUMNS " FROM jobs"
    " WHERE id IN (SELECT value FROM json_each(?1))";

/* Reads the rows of stmt into the cache; stops at the first failure. */
static int read_rows(struct sqlite_store *s, sqlite3_stmt *stmt, size_t max)
{
    struct job_cache *cache = &s->job_cache;
    struct job *slots = job_cache_reserve(cache, max);
    size_t filled = 0;
    int rc = SQLITE_DONE;

    /* Without memory the cache keeps what it had, and get_job reads
     * the jobs it lacks one by one. */
    if (slots == NULL)
        return STORE_OK;
    while (filled < max && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sqlite_read_job(stmt, &slots[filled]) != 0)
            break;
        filled++;
        cache->count++;
    }
    job_cache_sort(cache);
    if (filled < max && rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "read the claimed entries' jobs");
    return STORE_OK;
}

int sqlite_job_cache_fill(struct sqlite_store *s, const struct entry *entries,
                          size_t count)
{
    sqlite3_stmt *stmt;
    char *ids = NULL;
    int result;

    if (count == 0)
        return STORE_OK;
    stmt = sqlite_stmt(s, STMT_CLAIM_JOBS, sql_claim_jobs, "claim");
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    result = sqlite_list_ids_json(s, entries, count, SQLITE_JOB_IDS, &ids);
    if (result != STORE_OK)
        return result;

    sqlite_bind_text(stmt, 1, ids);
    result = read_rows(s, stmt, count);
    sqlite_done(stmt);
    free(ids);
    return result;
}
