/*
 * Statements sent together in one round trip (libpq pipeline mode,
 * PostgreSQL 14 and later), and the transaction control that rides
 * along with them: BEGIN goes out with the first statement of a
 * transaction, NOTIFY and COMMIT with the last.
 */
#include "store/pg_internal.h"

#include <stdio.h>

#include "util/banned.h"

static const char sql_begin[] = "BEGIN";
static const char sql_commit[] = "COMMIT";
static const char sql_notify[] = "SELECT pg_notify('pubq_wake', '')";

#define PIPELINE_MAX 4

static int send_call(struct pg_store *s, const struct pg_call *call)
{
    const struct pg_params *p = call->params;
    char name[32];

    pg_stmt_name(name, sizeof name, call->id);
    return PQsendQueryPrepared(s->conn, name, p != NULL ? p->count : 0,
                               p != NULL ? p->values : NULL, NULL, NULL, 0);
}

/* Prepares every statement not yet prepared on this connection. */
static int prepare_calls(struct pg_store *s, const struct pg_call *calls,
                         int count, const char *op)
{
    for (int i = 0; i < count; i++) {
        const struct pg_params *p = calls[i].params;
        int result;

        if (p != NULL && p->failed)
            return pg_error(s, STORE_ERROR,
                            "%s failed: out of memory preparing parameters",
                            op);
        if (s->prepared[calls[i].id])
            continue;
        result = pg_prepare(s, calls[i].id, calls[i].sql, op);
        if (result != STORE_OK)
            return result;
    }
    return STORE_OK;
}

/*
 * Reads the result of each statement sent, then the end of the
 * pipeline. Keeps the result of statement `keep` in *kept and records
 * the first failure. The loop is bounded by the statements sent, so a
 * broken connection, after which libpq returns no more results, ends
 * it too.
 */
static int read_results(struct pg_store *s, int sent, int keep, const char *op,
                        PGresult **kept)
{
    int result = STORE_OK;

    for (int i = 0; i < sent; i++) {
        PGresult *res = PQgetResult(s->conn);
        ExecStatusType status = PQresultStatus(res);

        if (res == NULL) {
            if (result == STORE_OK)
                result = pg_fail(s, NULL, op);
            break;
        }
        if ((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) &&
            i == keep && result == STORE_OK)
            *kept = res;
        else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK &&
                 status != PGRES_PIPELINE_ABORTED && result == STORE_OK)
            result = pg_fail(s, res, op);
        if (res != *kept)
            PQclear(res);
        /* Each statement's results end with a NULL. */
        while ((res = PQgetResult(s->conn)) != NULL)
            PQclear(res);
    }

    PGresult *sync = PQgetResult(s->conn);
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && result == STORE_OK)
        result = pg_fail(s, sync, op);
    PQclear(sync);
    return result;
}

PGresult *pg_pipeline(struct pg_store *s, const struct pg_call *calls,
                      int count, int keep, const char *op, int *result)
{
    PGresult *kept = NULL;
    int sent = 0;

    s->sqlstate[0] = '\0';
    s->constraint[0] = '\0';
    s->connection_lost = 0;
    *result = prepare_calls(s, calls, count, op);
    if (*result != STORE_OK)
        return NULL;

    if (!PQenterPipelineMode(s->conn)) {
        *result = pg_fail(s, NULL, op);
        return NULL;
    }
    while (sent < count && send_call(s, &calls[sent]))
        sent++;
    if (sent < count || !PQpipelineSync(s->conn)) {
        *result = pg_fail(s, NULL, op);
        /* Nothing waits for results that were never synced. */
        if (PQstatus(s->conn) == CONNECTION_OK && PQpipelineSync(s->conn))
            read_results(s, sent, -1, op, &kept);
        PQexitPipelineMode(s->conn);
        return NULL;
    }

    *result = read_results(s, sent, keep, op, &kept);
    if (!PQexitPipelineMode(s->conn) && *result == STORE_OK)
        *result = pg_fail(s, NULL, op);
    if (*result != STORE_OK) {
        PQclear(kept);
        return NULL;
    }
    return kept;
}

PGresult *pg_query_begin(struct pg_store *s, enum pg_stmt_id id,
                         const char *sql, const struct pg_params *p,
                         const char *op, int *result)
{
    const struct pg_call calls[] = {{PG_BEGIN, sql_begin, NULL}, {id, sql, p}};

    s->begin_pending = 0;
    return pg_pipeline(s, calls, 2, 1, op, result);
}

/* Adds NOTIFY, when the operation owes one, and COMMIT to calls. */
static int add_commit(const struct pg_store *s, struct pg_call *calls,
                      int count)
{
    if (s->notify)
        calls[count++] = (struct pg_call){PG_NOTIFY, sql_notify, NULL};
    calls[count++] = (struct pg_call){PG_COMMIT, sql_commit, NULL};
    return count;
}

PGresult *pg_query_commit(struct pg_store *s, enum pg_stmt_id id,
                          const char *sql, const struct pg_params *p,
                          const char *op, int *result)
{
    struct pg_call calls[PIPELINE_MAX];
    int count = 0;
    int keep;

    if (s->begin_pending)
        calls[count++] = (struct pg_call){PG_BEGIN, sql_begin, NULL};
    keep = count;
    calls[count++] = (struct pg_call){id, sql, p};
    count = add_commit(s, calls, count);

    s->begin_pending = 0;
    s->commit_sent = 1;
    PGresult *res = pg_pipeline(s, calls, count, keep, op, result);
    s->committed = res != NULL;
    return res;
}

int pg_exec_commit(struct pg_store *s, enum pg_stmt_id id, const char *sql,
                   const struct pg_params *p, const char *op)
{
    int result;

    PQclear(pg_query_commit(s, id, sql, p, op, &result));
    return result;
}

int pg_commit(struct pg_store *s, const char *op)
{
    struct pg_call calls[PIPELINE_MAX];
    int count;
    int result;

    /* A body that ran no statement has nothing to commit. */
    if (s->begin_pending || s->committed)
        return STORE_OK;
    count = add_commit(s, calls, 0);
    s->commit_sent = 1;
    PQclear(pg_pipeline(s, calls, count, count - 1, op, &result));
    s->committed = result == STORE_OK;
    return result;
}
