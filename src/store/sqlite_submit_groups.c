/*
 * submit_groups of the SQLite store: the jobs of several callers in one
 * transaction, so that one commit, and with synchronous=FULL one sync
 * of the log, serves them all.
 *
 * The valid groups are first written as one batch inside a savepoint,
 * which lets the multi-row INSERTs of sqlite_submit.c span groups. Only
 * when that fails does the transaction go back to the savepoint and
 * write group by group, each in a savepoint of its own, so that the
 * failing group alone is dropped.
 */
#include "store/sqlite_internal.h"
#include "store/store_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static void group_fail(struct submit_group *group, int result,
                       const char *errmsg)
{
    group->result = result;
    snprintf(group->errmsg, sizeof group->errmsg, "%s", errmsg);
    if (group->count > 0 && group->results != NULL)
        memset(group->results, 0, group->count * sizeof *group->results);
}

/* Sets the result of every group still STORE_OK to the failure. */
static int fail_valid_groups(struct sqlite_store *s,
                             struct submit_group *groups, size_t count,
                             int result)
{
    for (size_t i = 0; i < count; i++) {
        if (groups[i].result == STORE_OK)
            group_fail(&groups[i], result, s->base.errmsg);
    }
    return result;
}

/* Checks each group as submit_jobs would; returns the valid jobs. */
static size_t check_groups(struct store *store, struct submit_group *groups,
                           size_t count)
{
    size_t jobs = 0;

    for (size_t i = 0; i < count; i++) {
        struct submit_group *group = &groups[i];

        group->errmsg[0] = '\0';
        group->result = store_check_requests(store, group->reqs, group->count,
                                             group->results);
        if (group->result != STORE_OK)
            group_fail(group, group->result, store->errmsg);
        else
            jobs += group->count;
    }
    return jobs;
}

static int run_cached(struct sqlite_store *s, enum sqlite_stmt_id id,
                      const char *sql)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, id, sql, "submit groups");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    return sqlite_exec_stmt(s, stmt, sql);
}

static int savepoint_begin(struct sqlite_store *s)
{
    return run_cached(s, STMT_SUBMIT_SAVEPOINT, "SAVEPOINT submit_group");
}

static int savepoint_release(struct sqlite_store *s)
{
    return run_cached(s, STMT_SUBMIT_RELEASE, "RELEASE submit_group");
}

/* Undoes the savepoint's writes and ends it, keeping errmsg. */
static int savepoint_rollback(struct sqlite_store *s)
{
    char errmsg[STORE_ERR_MAX];
    int result;

    snprintf(errmsg, sizeof errmsg, "%s", s->base.errmsg);
    result = run_cached(s, STMT_SUBMIT_ROLLBACK_TO, "ROLLBACK TO submit_group");
    if (result == STORE_OK)
        result = savepoint_release(s);
    if (result == STORE_OK)
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "%s", errmsg);
    return result;
}

/* Writes the jobs of every valid group as one batch of `jobs`. */
static int write_together(struct sqlite_store *s, struct submit_group *groups,
                          size_t count, size_t jobs, int64_t now)
{
    struct job_request *reqs = malloc(jobs * sizeof *reqs);
    struct submit_result *results = malloc(jobs * sizeof *results);
    size_t next = 0;
    int result = STORE_OK;

    if (reqs == NULL || results == NULL) {
        result =
            sqlite_error(s, STORE_ERROR, "out of memory for %zu jobs", jobs);
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        if (groups[i].result != STORE_OK)
            continue;
        memcpy(&reqs[next], groups[i].reqs, groups[i].count * sizeof *reqs);
        next += groups[i].count;
    }

    result = sqlite_submit_requests(s, reqs, jobs, now, results);
    next = 0;
    for (size_t i = 0; result == STORE_OK && i < count; i++) {
        if (groups[i].result != STORE_OK)
            continue;
        memcpy(groups[i].results, &results[next],
               groups[i].count * sizeof *results);
        next += groups[i].count;
    }
done:
    free(reqs);
    free(results);
    return result;
}

/*
 * Writes each valid group in its own savepoint. A group that fails gets
 * its error and leaves nothing behind. Returns STORE_OK, or the failure
 * that ended the whole transaction (SQLite rolls back by itself on some
 * I/O and disk-full errors).
 */
static int write_one_by_one(struct sqlite_store *s, struct submit_group *groups,
                            size_t count, int64_t now)
{
    for (size_t i = 0; i < count; i++) {
        struct submit_group *group = &groups[i];
        int result;

        if (group->result != STORE_OK)
            continue;
        result = savepoint_begin(s);
        if (result == STORE_OK)
            result = sqlite_submit_requests(s, group->reqs, group->count, now,
                                            group->results);
        if (result == STORE_OK) {
            result = savepoint_release(s);
            if (result != STORE_OK)
                return result;
            continue;
        }

        if (sqlite3_get_autocommit(s->db))
            return result;
        group_fail(group, result, s->base.errmsg);
        result = savepoint_rollback(s);
        if (result != STORE_OK)
            return result;
    }
    return STORE_OK;
}

/* Writes the valid groups inside the open transaction. */
static int write_groups(struct sqlite_store *s, struct submit_group *groups,
                        size_t count, size_t jobs, int64_t now)
{
    int result = savepoint_begin(s);

    if (result == STORE_OK)
        result = write_together(s, groups, count, jobs, now);
    if (result == STORE_OK)
        return savepoint_release(s);
    if (sqlite3_get_autocommit(s->db))
        return result;

    result = savepoint_rollback(s);
    if (result == STORE_OK)
        result = write_one_by_one(s, groups, count, now);
    return result;
}

int sqlite_submit_groups(struct store *store, struct submit_group *groups,
                         size_t count, int64_t now)
{
    struct sqlite_store *s = sqlite_store_of(store);
    size_t jobs = check_groups(store, groups, count);
    int result;

    if (jobs == 0)
        return STORE_OK;

    result = sqlite_begin(s, "submit jobs");
    if (result == STORE_OK)
        result = write_groups(s, groups, count, jobs, now);
    if (result != STORE_OK) {
        sqlite_rollback(s);
        return fail_valid_groups(s, groups, count, result);
    }

    result = sqlite_commit(s, "submit jobs");
    if (result != STORE_OK)
        return fail_valid_groups(s, groups, count, result);
    return STORE_OK;
}
