/*
 * Statements, error mapping, transactions and reconnects of the
 * PostgreSQL store.
 */
#include "store/pg_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/banned.h"

/* Runs of one operation, after a deadlock or a lost connection. */
#define OP_RUNS 3

/* Reconnect tries per call. The sleep between tries doubles from
 * RECONNECT_FIRST_MS up to RECONNECT_MAX_MS and carries over to the next
 * call. One call sleeps at most RECONNECT_MAX_MS in all. */
#define RECONNECT_TRIES 3
#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS 5000

int pg_error(struct pg_store *s, int result, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(s->base.errmsg, sizeof s->base.errmsg, fmt, args);
    va_end(args);
    return result;
}

const char *pg_last_sqlstate(const struct pg_store *s)
{
    return s->sqlstate;
}

static int starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Maps a SQLSTATE (see the PostgreSQL manual, appendix A) to a result. */
static int map_sqlstate(const char *state)
{
    if (starts_with(state, "40") || strcmp(state, "55P03") == 0 ||
        strcmp(state, "57014") == 0)
        return STORE_BUSY;
    if (starts_with(state, "53") || strcmp(state, "25006") == 0)
        return STORE_FULL;
    if (starts_with(state, "23") || starts_with(state, "22"))
        return STORE_INVALID;
    return STORE_ERROR;
}

static int is_connection_state(const char *state)
{
    return starts_with(state, "08") || strcmp(state, "57P01") == 0 ||
           strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

static const char *result_hint(const struct pg_store *s, int result)
{
    if (s->connection_lost)
        return "; check that the PostgreSQL server is running and reachable";
    if (result == STORE_FULL)
        return "; free disk space on the database server and check that "
               "it is not read-only";
    return "";
}

/* Copies a libpq message onto one line: it may hold newlines and tabs. */
static void one_line(char *dst, size_t size, const char *message)
{
    size_t len;

    snprintf(dst, size, "%s", message != NULL ? message : "unknown error");
    len = 0;
    for (const char *c = dst; *c != '\0'; c++) {
        char ch = *c == '\n' || *c == '\t' || *c == '\r' ? ' ' : *c;

        if (ch != ' ' || (len > 0 && dst[len - 1] != ' '))
            dst[len++] = ch;
    }
    dst[len] = '\0';
    while (len > 0 && dst[len - 1] == ' ')
        dst[--len] = '\0';
}

int pg_fail(struct pg_store *s, const PGresult *res, const char *op)
{
    const char *state = NULL;
    const char *message = NULL;
    const char *constraint = NULL;
    char line[STORE_ERR_MAX];
    int result;

    if (res != NULL) {
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    }
    if (message == NULL)
        message = PQerrorMessage(s->conn);
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state != NULL ? state : "");
    snprintf(s->constraint, sizeof s->constraint, "%s",
             constraint != NULL ? constraint : "");

    s->connection_lost =
        PQstatus(s->conn) == CONNECTION_BAD || is_connection_state(s->sqlstate);
    result = s->connection_lost ? STORE_ERROR : map_sqlstate(s->sqlstate);
    one_line(line, sizeof line, message);
    pg_error(s, result, "%s failed: %s%s", op, line, result_hint(s, result));
    return result;
}

void pg_stmt_name(char *name, size_t size, enum pg_stmt_id id)
{
    snprintf(name, size, "pubq_%d", (int)id);
}

int pg_prepare(struct pg_store *s, enum pg_stmt_id id, const char *sql,
               const char *op)
{
    char name[32];
    PGresult *res;
    int result = STORE_OK;

    pg_stmt_name(name, sizeof name, id);
    res = PQprepare(s->conn, name, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        result = pg_fail(s, res, op);
    else
        s->prepared[id] = 1;
    PQclear(res);
    return result;
}

PGresult *pg_query(struct pg_store *s, enum pg_stmt_id id, const char *sql,
                   const struct pg_params *p, const char *op, int *result)
{
    char name[32];
    PGresult *res;

    if (s->begin_pending)
        return pg_query_begin(s, id, sql, p, op, result);
    s->sqlstate[0] = '\0';
    s->constraint[0] = '\0';
    s->connection_lost = 0;
    if (p != NULL && p->failed) {
        *result = pg_error(s, STORE_ERROR,
                           "%s failed: out of memory preparing parameters", op);
        return NULL;
    }
    if (!s->prepared[id]) {
        *result = pg_prepare(s, id, sql, op);
        if (*result != STORE_OK)
            return NULL;
    }

    pg_stmt_name(name, sizeof name, id);
    res = PQexecPrepared(s->conn, name, p != NULL ? p->count : 0,
                         p != NULL ? p->values : NULL, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
        *result = STORE_OK;
        return res;
    }
    *result = pg_fail(s, res, op);
    PQclear(res);
    return NULL;
}

int pg_exec_count(struct pg_store *s, enum pg_stmt_id id, const char *sql,
                  const struct pg_params *p, const char *op, size_t *rows)
{
    int result;
    PGresult *res = pg_query(s, id, sql, p, op, &result);

    if (rows != NULL)
        *rows = 0;
    if (res == NULL)
        return result;
    /* PQcmdTuples is "" for commands that report no row count. */
    if (rows != NULL)
        *rows = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return STORE_OK;
}

int pg_exec(struct pg_store *s, enum pg_stmt_id id, const char *sql,
            const struct pg_params *p, const char *op)
{
    return pg_exec_count(s, id, sql, p, op, NULL);
}

static void sleep_ms(int64_t ms)
{
    struct timespec pause = {
        .tv_sec = (time_t)(ms / 1000),
        .tv_nsec = (long)(ms % 1000) * 1000000L,
    };

    while (nanosleep(&pause, &pause) != 0) {
    }
}

int pg_listen(struct pg_store *s)
{
    int result = pg_exec(s, PG_LISTEN, "LISTEN pubq_wake", NULL,
                         "subscribe to wake-ups");

    if (result == STORE_OK)
        s->listening = 1;
    return result;
}

/* Restores the session state a new connection lacks. */
static int after_connect(struct pg_store *s)
{
    memset(s->prepared, 0, sizeof s->prepared);
    s->backoff_ms = RECONNECT_FIRST_MS;
    if (!s->listening)
        return STORE_OK;

    /* Notifications sent while the link was down are lost: owe the
     * caller one wake-up so that it looks for due work. */
    s->pending_wakeups = 1;
    return pg_listen(s);
}

int pg_reconnect(struct pg_store *s, const char *op)
{
    char line[STORE_ERR_MAX] = "";
    int64_t slept = 0;

    for (int try = 1; try <= RECONNECT_TRIES; try++) {
        if (try > 1) {
            if (slept + s->backoff_ms > RECONNECT_MAX_MS)
                break;
            sleep_ms(s->backoff_ms);
            slept += s->backoff_ms;
            s->backoff_ms = s->backoff_ms * 2 > RECONNECT_MAX_MS
                                ? RECONNECT_MAX_MS
                                : s->backoff_ms * 2;
        }
        PQreset(s->conn);
        if (PQstatus(s->conn) == CONNECTION_OK) {
            log_info("store", "reconnected to PostgreSQL op=\"%s\" try=%d", op,
                     try);
            return after_connect(s);
        }
        one_line(line, sizeof line, PQerrorMessage(s->conn));
        log_warn("store",
                 "reconnect to PostgreSQL failed op=\"%s\" try=%d/%d: %s", op,
                 try, RECONNECT_TRIES, line);
    }
    s->connection_lost = 1;
    return pg_error(s, STORE_ERROR,
                    "%s failed: the PostgreSQL server is unreachable (%s); "
                    "check that it is running, the next call tries again",
                    op, line);
}

static void rollback(struct pg_store *s)
{
    char saved[STORE_ERR_MAX];

    /* Keep the message of the failure that led here. */
    snprintf(saved, sizeof saved, "%s", s->base.errmsg);
    if (PQstatus(s->conn) == CONNECTION_OK)
        pg_exec(s, PG_ROLLBACK, "ROLLBACK", NULL, "rollback");
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "%s", saved);
}

/*
 * One run of an operation; *committing is set once COMMIT (or the
 * single write) was sent. BEGIN waits for the body's first statement
 * and goes out with it, so a transaction costs no round trip of its
 * own.
 */
static int run_once(struct pg_store *s, const struct pg_op *op, int *committing)
{
    int result = STORE_OK;

    s->notify = 0;
    s->write_sent = 0;
    *committing = 0;
    if (op->kind != PG_OP_TRANSACTION) {
        result = op->body(s, op->arg);
        *committing = op->kind == PG_OP_SINGLE_WRITE && s->write_sent;
        return result;
    }

    s->begin_pending = 1;
    s->commit_sent = 0;
    s->committed = 0;
    result = op->body(s, op->arg);
    if (result == STORE_OK)
        result = pg_commit(s, op->name);
    *committing = s->commit_sent;
    if (result != STORE_OK && !s->begin_pending) {
        int lost = s->connection_lost;

        /* After a failed COMMIT no transaction is open, and the
         * ROLLBACK only draws a warning. */
        rollback(s);
        s->connection_lost = lost;
    }
    s->begin_pending = 0;
    return result;
}

/* Deadlocks and serialization failures go away when run again. */
static int is_transient(const struct pg_store *s)
{
    return strcmp(s->sqlstate, "40P01") == 0 ||
           strcmp(s->sqlstate, "40001") == 0;
}

int pg_run_op(struct pg_store *s, const struct pg_op *op)
{
    int result = STORE_ERROR;

    for (int run = 1; run <= OP_RUNS; run++) {
        int committing = 0;

        if (PQstatus(s->conn) != CONNECTION_OK) {
            result = pg_reconnect(s, op->name);
            if (result != STORE_OK)
                return result;
        }

        result = run_once(s, op, &committing);
        if (result == STORE_OK || run == OP_RUNS)
            break;
        if (s->connection_lost && committing)
            return pg_error(s, STORE_ERROR,
                            "%s failed: the connection to PostgreSQL broke "
                            "during the commit, so the change may or may "
                            "not be saved; check before repeating it",
                            op->name);
        if (s->connection_lost)
            log_warn("store",
                     "connection to PostgreSQL lost op=\"%s\", "
                     "reconnecting: %s",
                     op->name, s->base.errmsg);
        else if (is_transient(s))
            log_warn("store", "running op=\"%s\" again: %s", op->name,
                     s->base.errmsg);
        else
            break;
    }
    return result;
}
