/*
 * submit_groups of the PostgreSQL store: the jobs of several callers in
 * one reservation and one write, so that concurrent one-event requests
 * share the round trips and the commit instead of paying for each.
 *
 * The valid groups are written together by one statement, which
 * commits on its own. Only when it fails for a reason that running it
 * again would not cure does a transaction write group by group, each in
 * a savepoint of its own, so that the failing group alone is dropped.
 */
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_check.h"
#include "util/banned.h"

struct groups_args {
    struct submit_group *groups;
    size_t count;
    int64_t now;
    int *valid;                    /* per group: passed the checks */
    struct job_request *reqs;      /* the valid groups' requests, in order */
    size_t jobs;                   /* requests in reqs */
    struct submit_result *results; /* one per request in reqs */
    size_t entries;                /* entries written */
    double analyzed;               /* entries at the last analysis */
};

static void group_fail(struct submit_group *group, int result,
                       const char *errmsg)
{
    group->result = result;
    snprintf(group->errmsg, sizeof group->errmsg, "%s", errmsg);
    if (group->count > 0 && group->results != NULL)
        memset(group->results, 0, group->count * sizeof *group->results);
}

/* Checks each group as submit_jobs would; returns the valid jobs. */
static size_t check_groups(struct store *store, struct groups_args *a)
{
    size_t jobs = 0;

    for (size_t i = 0; i < a->count; i++) {
        struct submit_group *group = &a->groups[i];

        group->errmsg[0] = '\0';
        group->result = store_check_requests(store, group->reqs, group->count,
                                             group->results);
        a->valid[i] = group->result == STORE_OK;
        if (a->valid[i])
            jobs += group->count;
        else
            group_fail(group, group->result, store->errmsg);
    }
    return jobs;
}

/* Copies the valid groups' requests into one array. */
static void gather_requests(struct groups_args *a)
{
    size_t next = 0;

    for (size_t i = 0; i < a->count; i++) {
        if (!a->valid[i])
            continue;
        memcpy(&a->reqs[next], a->groups[i].reqs,
               a->groups[i].count * sizeof *a->reqs);
        next += a->groups[i].count;
    }
}

static void reset_groups(struct groups_args *a)
{
    for (size_t i = 0; i < a->count; i++) {
        if (!a->valid[i])
            continue;
        a->groups[i].result = STORE_OK;
        a->groups[i].errmsg[0] = '\0';
        memset(a->groups[i].results, 0,
               a->groups[i].count * sizeof *a->groups[i].results);
    }
}

static void copy_results(struct groups_args *a)
{
    size_t next = 0;

    for (size_t i = 0; i < a->count; i++) {
        if (!a->valid[i])
            continue;
        memcpy(a->groups[i].results, &a->results[next],
               a->groups[i].count * sizeof *a->results);
        next += a->groups[i].count;
    }
}

/* Failures that end the transaction, or that a new run may cure. */
static int ends_transaction(const struct pg_store *s)
{
    return s->connection_lost || strcmp(s->sqlstate, "40001") == 0 ||
           strcmp(s->sqlstate, "40P01") == 0;
}

/*
 * Writes one group in a savepoint. Returns STORE_OK also when the group
 * failed alone, which its result then records, else the failure that
 * ends the transaction.
 */
static int write_group(struct pg_store *s, struct groups_args *a,
                       struct pg_submit_ids *ids, struct submit_group *group,
                       size_t first)
{
    struct pg_submit_rows rows;
    double analyzed = -1;
    int result;

    pg_submit_rows_init(&rows);
    result = pg_submit_assign(s, ids, group->reqs, group->count, first,
                              group->results);
    if (result == STORE_OK)
        result = pg_submit_rows_add(s, &rows, group->reqs, group->count,
                                    group->results, a->now);
    if (result == STORE_INVALID) {
        group_fail(group, result, s->base.errmsg);
        result = STORE_OK;
    } else if (result == STORE_OK && rows.created > 0) {
        result = pg_submit_write(s, &rows, a->now, 1, &analyzed);
        if (result != STORE_OK && !ends_transaction(s)) {
            group_fail(group, result, s->base.errmsg);
            result = pg_submit_undo(s);
        } else if (result == STORE_OK) {
            a->entries += rows.entries;
            a->analyzed = analyzed;
        }
    }
    if (result == STORE_OK && group->result == STORE_OK)
        pg_submit_remember(ids, group->reqs, group->count, group->results);
    pg_submit_rows_clear(&rows);
    return result;
}

/*
 * Writes each valid group in its own savepoint of one transaction. The
 * ids reserved for the whole batch serve here too, and an event id that
 * a failed group created does not count as seen for the groups after.
 */
static int write_one_by_one(struct pg_store *s, struct groups_args *a,
                            struct pg_submit_ids *ids)
{
    size_t first = 0;
    int result;

    reset_groups(a);
    a->entries = 0;
    s->write_sent = 0;
    result = pg_exec(s, PG_BEGIN, "BEGIN", NULL, "submit jobs");
    for (size_t i = 0; result == STORE_OK && i < a->count; i++) {
        if (!a->valid[i])
            continue;
        result = write_group(s, a, ids, &a->groups[i], first);
        first += a->groups[i].count;
    }

    if (result == STORE_OK) {
        /* From here on a broken link leaves the outcome unknown. */
        s->write_sent = 1;
        return pg_exec(s, PG_COMMIT, "COMMIT", NULL, "submit jobs");
    }
    if (PQstatus(s->conn) == CONNECTION_OK) {
        char errmsg[STORE_ERR_MAX];

        snprintf(errmsg, sizeof errmsg, "%s", s->base.errmsg);
        pg_exec(s, PG_ROLLBACK, "ROLLBACK", NULL, "rollback");
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "%s", errmsg);
    }
    return result;
}

/* Writes the valid groups together; returns a store result. */
static int write_together(struct pg_store *s, struct groups_args *a,
                          struct pg_submit_ids *ids)
{
    struct pg_submit_rows rows;
    int result;

    pg_submit_rows_init(&rows);
    result = pg_submit_assign(s, ids, a->reqs, a->jobs, 0, a->results);
    if (result == STORE_OK)
        result =
            pg_submit_rows_add(s, &rows, a->reqs, a->jobs, a->results, a->now);
    if (result == STORE_OK && rows.created > 0) {
        s->write_sent = 1;
        result = pg_submit_write(s, &rows, a->now, 0, &a->analyzed);
    }
    if (result == STORE_OK) {
        a->entries = rows.entries;
        copy_results(a);
    }
    pg_submit_rows_clear(&rows);
    return result;
}

static int groups_body(struct pg_store *s, void *arg)
{
    struct groups_args *a = arg;
    struct pg_submit_ids ids;
    int result;

    reset_groups(a);
    a->entries = 0;
    result = pg_submit_reserve(s, a->reqs, a->jobs, &ids);
    if (result == STORE_OK)
        result = write_together(s, a, &ids);
    /* A failure that a new run would not cure, once the ids are
     * reserved, belongs to one group or another: find which. */
    if (result != STORE_OK && ids.res != NULL && !ends_transaction(s))
        result = write_one_by_one(s, a, &ids);
    pg_submit_ids_clear(&ids);
    return result;
}

/* Sets the result of every group still STORE_OK to the failure. */
static int fail_valid_groups(struct pg_store *s, struct groups_args *a,
                             int result)
{
    for (size_t i = 0; i < a->count; i++) {
        if (a->valid[i] && a->groups[i].result == STORE_OK)
            group_fail(&a->groups[i], result, s->base.errmsg);
    }
    return result;
}

int pg_submit_groups(struct store *store, struct submit_group *groups,
                     size_t count, int64_t now)
{
    struct pg_store *s = pg_store_of(store);
    struct groups_args args = {groups, count, now, NULL, NULL, 0, NULL, 0, -1};
    struct pg_op op = {"submit jobs", PG_OP_SINGLE_WRITE, groups_body, &args};
    int result = STORE_OK;

    args.valid = calloc(count + 1, sizeof *args.valid);
    if (args.valid == NULL) {
        for (size_t i = 0; i < count; i++)
            group_fail(&groups[i], STORE_ERROR, "out of memory");
        return pg_error(s, STORE_ERROR, "out of memory");
    }
    args.jobs = check_groups(store, &args);
    if (args.jobs == 0)
        goto done;

    args.reqs = calloc(args.jobs, sizeof *args.reqs);
    args.results = calloc(args.jobs, sizeof *args.results);
    if (args.reqs == NULL || args.results == NULL) {
        result =
            pg_error(s, STORE_ERROR, "out of memory for %zu jobs", args.jobs);
        fail_valid_groups(s, &args, result);
        goto done;
    }
    gather_requests(&args);

    result = pg_run_op(s, &op);
    if (result != STORE_OK)
        fail_valid_groups(s, &args, result);
    else
        pg_submit_analyze(s, args.entries, args.analyzed);
done:
    free(args.valid);
    free(args.reqs);
    free(args.results);
    return result;
}
