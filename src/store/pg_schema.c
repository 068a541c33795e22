/*
 * Versioned schema migrations of the PostgreSQL store, numbered like the
 * SQLite ones. Each migration runs in its own transaction together with
 * its row in schema_migrations, and the whole run holds a session
 * advisory lock, so two nodes starting at once apply each migration once.
 * Migrations are append-only: never edit one that has shipped.
 *
 * The scripts are constant DDL with no values in them, sent with PQexec
 * because a prepared statement contains a single command.
 */
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/banned.h"

/* The advisory lock key of migrations: "pubq" in ASCII, then 1. */
#define MIGRATE_LOCK_KEY "8103491341993902081"

struct migration {
    int version;
    const char *sql;
};

/*
 * The same tables as the SQLite schema. Booleans are boolean, times are
 * bigint milliseconds, JSON is json (which keeps the text as written,
 * so reads return what was stored).
 */
static const char migration_1[] =
    "CREATE TABLE content_items ("
    "  id text PRIMARY KEY,"
    "  content_json json NOT NULL,"
    "  created_at bigint NOT NULL,"
    "  updated_at bigint NOT NULL);"

    "CREATE TABLE jobs ("
    "  id bigserial PRIMARY KEY,"
    "  content_id text NOT NULL REFERENCES content_items(id),"
    "  event_id text,"
    "  content_json json NOT NULL,"
    "  scheduled_at bigint NOT NULL,"
    "  created_at bigint NOT NULL,"
    "  publish_audited boolean NOT NULL DEFAULT false);"
    "CREATE INDEX jobs_content ON jobs(content_id);"

    /* claimed_from and first_round_status as in the SQLite schema. */
    "CREATE TABLE entries ("
    "  id bigserial PRIMARY KEY,"
    "  job_id bigint NOT NULL REFERENCES jobs(id),"
    "  content_id text NOT NULL,"
    "  platform text NOT NULL,"
    "  status text NOT NULL CHECK (status IN ('pending', 'publishing',"
    "    'published', 'retrying', 'failed', 'cancelled')),"
    "  retry_count integer NOT NULL DEFAULT 0,"
    "  max_retries integer NOT NULL,"
    "  attempt_count integer NOT NULL DEFAULT 0,"
    "  scheduled_at bigint NOT NULL,"
    "  due_at bigint NOT NULL,"
    "  rate_limit_waited_ms bigint NOT NULL DEFAULT 0,"
    "  idempotency_key text UNIQUE,"
    "  lease_node text,"
    "  lease_expires_at bigint NOT NULL DEFAULT 0,"
    "  claimed_from text,"
    "  published_at bigint NOT NULL DEFAULT 0,"
    "  post_id text NOT NULL DEFAULT '',"
    "  post_url text NOT NULL DEFAULT '',"
    "  last_error text NOT NULL DEFAULT '',"
    "  fail_reason text NOT NULL DEFAULT '',"
    "  first_round_done boolean NOT NULL DEFAULT false,"
    "  first_round_status text,"
    "  created_at bigint NOT NULL,"
    "  updated_at bigint NOT NULL,"
    "  UNIQUE (job_id, platform));"
    /* The claim and next_due_at read only waiting entries through the
     * partial index, so their cost does not grow with finished or
     * future work. */
    "CREATE INDEX entries_due ON entries(due_at, id)"
    "  WHERE status IN ('pending', 'retrying');"
    "CREATE INDEX entries_due_platform ON entries(platform, due_at)"
    "  WHERE status IN ('pending', 'retrying');"
    "CREATE INDEX entries_lease ON entries(lease_expires_at)"
    "  WHERE status = 'publishing';"
    "CREATE INDEX entries_content ON entries(content_id);"
    "CREATE INDEX entries_platform ON entries(platform);"
    "CREATE INDEX entries_status ON entries(status);"

    "CREATE TABLE attempts ("
    "  id bigserial PRIMARY KEY,"
    "  entry_id bigint NOT NULL REFERENCES entries(id),"
    "  number integer NOT NULL,"
    "  started_at bigint NOT NULL,"
    "  ended_at bigint NOT NULL DEFAULT 0,"
    "  finished boolean NOT NULL DEFAULT false,"
    "  outcome text,"
    "  http_status integer NOT NULL DEFAULT 0,"
    "  latency_ms bigint NOT NULL DEFAULT 0,"
    "  node text NOT NULL,"
    "  error text NOT NULL DEFAULT '',"
    "  UNIQUE (entry_id, number));"

    "CREATE TABLE audit ("
    "  id bigserial PRIMARY KEY,"
    "  at bigint NOT NULL,"
    "  agent_name text NOT NULL,"
    "  action text NOT NULL,"
    "  job_id text NOT NULL DEFAULT '',"
    "  entry_id bigint NOT NULL DEFAULT 0,"
    "  platform text NOT NULL DEFAULT '',"
    "  status text NOT NULL DEFAULT '',"
    "  metadata json NOT NULL DEFAULT '{}');"
    "CREATE INDEX audit_job ON audit(job_id);"
    "CREATE INDEX audit_action ON audit(action);"
    "CREATE INDEX audit_platform ON audit(platform);"
    "CREATE INDEX audit_at ON audit(at);"

    "CREATE TABLE seen_events ("
    "  event_id text PRIMARY KEY,"
    "  job_id bigint NOT NULL REFERENCES jobs(id),"
    "  at bigint NOT NULL);"

    "CREATE TABLE platform_state ("
    "  platform text PRIMARY KEY,"
    "  paused_until bigint NOT NULL DEFAULT 0,"
    "  pause_reason text NOT NULL DEFAULT '',"
    "  data_json json,"
    "  updated_at bigint NOT NULL);";

/* One row per cron tick of the sweeper that ran, so that several nodes
 * sweeping the same tick do the work once. */
static const char migration_2[] = "CREATE TABLE sweeper_ticks ("
                                  "  tick_at bigint PRIMARY KEY,"
                                  "  agent_name text NOT NULL,"
                                  "  swept_at bigint NOT NULL);";

/* The change feed of list_entries (updated_since) reads by this index. */
static const char migration_3[] =
    "CREATE INDEX entries_updated ON entries(updated_at, id);";

/* Cancel and reschedule events record their ids too, with no job. */
static const char migration_4[] =
    "ALTER TABLE seen_events ALTER COLUMN job_id DROP NOT NULL;";

/* Lists of a job's entries read by this index. */
static const char migration_5[] =
    "CREATE INDEX entries_job ON entries(job_id, id);";

static const struct migration migrations[] = {
    {1, migration_1},
    {2, migration_2},
    {3, migration_3},
    {4, migration_4},
    {5, migration_5},
};

#define MIGRATION_COUNT (sizeof migrations / sizeof migrations[0])

/* Runs a constant script of several commands; returns a store result. */
static int run_script(struct pg_store *s, const char *sql, const char *op)
{
    PGresult *res = PQexec(s->conn, sql);
    int result = STORE_OK;

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

        s->connection_lost = PQstatus(s->conn) == CONNECTION_BAD;
        result = pg_error(s, STORE_ERROR, "%s failed: %s", op,
                          message != NULL ? message : PQerrorMessage(s->conn));
    }
    PQclear(res);
    return result;
}

static int is_applied(struct pg_store *s, int version, int *applied)
{
    static const char sql[] =
        "SELECT 1 FROM schema_migrations WHERE version = $1::integer";
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_int(&p, version);
    PGresult *res = pg_query(s, PG_MIGRATE_APPLIED, sql, &p,
                             "read schema_migrations", &result);
    *applied = res != NULL && PQntuples(res) > 0;
    PQclear(res);
    return result;
}

/* Applies one migration unless another node already did. */
static int apply(struct pg_store *s, const struct migration *m)
{
    static const char sql_record[] =
        "INSERT INTO schema_migrations (version, applied_at)"
        " VALUES ($1::integer, $2::bigint)";
    char op[64];
    struct pg_params p;
    int applied = 0;
    int result = is_applied(s, m->version, &applied);

    if (result != STORE_OK || applied)
        return result;

    snprintf(op, sizeof op, "schema migration %d", m->version);
    pg_params_init(&p);
    pg_param_int(&p, m->version);
    pg_param_int(&p, (int64_t)time(NULL) * 1000);
    result = pg_exec(s, PG_BEGIN, "BEGIN", NULL, op);
    if (result == STORE_OK)
        result = run_script(s, m->sql, op);
    if (result == STORE_OK)
        result = pg_exec(s, PG_MIGRATE_RECORD, sql_record, &p, op);
    if (result == STORE_OK)
        return pg_exec(s, PG_COMMIT, "COMMIT", NULL, op);
    if (PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    return result;
}

/*
 * Tables and views in the current schema, the schema_migrations columns
 * pubq uses, and the names for the message. A constant query without
 * values, so it goes through PQexec like the scripts.
 */
static const char sql_owner[] =
    "SELECT (SELECT count(*) FROM pg_catalog.pg_class c"
    "   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "   WHERE n.nspname = current_schema()"
    "   AND c.relkind IN ('r', 'p', 'v', 'm', 'f')),"
    " (SELECT count(*) FROM information_schema.columns"
    "   WHERE table_schema = current_schema()"
    "   AND table_name = 'schema_migrations'"
    "   AND column_name IN ('version', 'applied_at')),"
    " current_database(), coalesce(current_schema(), '')";

/*
 * Rejects a schema that contains tables but no pubq schema_migrations
 * table: it belongs to another application, and migrating would add
 * pubq's tables to it.
 */
static int check_owner(struct pg_store *s)
{
    PGresult *res = PQexec(s->conn, sql_owner);
    int result = STORE_OK;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        s->connection_lost = PQstatus(s->conn) == CONNECTION_BAD;
        result = pg_error(s, STORE_ERROR, "read the schema failed: %s",
                          PQerrorMessage(s->conn));
    } else if (pg_get_int(res, 0, 0) > 0 && pg_get_int(res, 0, 1) != 2) {
        result = pg_error(
            s, STORE_INVALID,
            "database \"%s\" schema \"%s\" is not a pubq schema: it "
            "contains tables but %s, so pubq left it unchanged; use an "
            "empty database or schema",
            PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
            pg_get_int(res, 0, 1) == 0
                ? "no schema_migrations table"
                : "a schema_migrations table of another tool");
    }
    PQclear(res);
    return result;
}

static int migrate_locked(struct pg_store *s)
{
    int result = check_owner(s);

    if (result != STORE_OK)
        return result;
    result = run_script(s,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "  version integer PRIMARY KEY,"
                        "  applied_at bigint NOT NULL)",
                        "create schema_migrations");

    for (size_t i = 0; result == STORE_OK && i < MIGRATION_COUNT; i++)
        result = apply(s, &migrations[i]);
    return result;
}

static int migrate_body(struct pg_store *s, void *arg)
{
    struct pg_params p;
    int result;

    (void)arg;
    pg_params_init(&p);
    pg_param_text(&p, MIGRATE_LOCK_KEY);
    result = pg_exec(s, PG_MIGRATE_LOCK, "SELECT pg_advisory_lock($1::bigint)",
                     &p, "take the migration lock");
    if (result != STORE_OK)
        return result;

    result = migrate_locked(s);

    /* A broken connection has released the session lock already. */
    if (PQstatus(s->conn) == CONNECTION_OK)
        pg_exec(s, PG_MIGRATE_UNLOCK, "SELECT pg_advisory_unlock($1::bigint)",
                &p, "release the migration lock");
    return result;
}

int pg_schema_latest(void)
{
    return migrations[MIGRATION_COUNT - 1].version;
}

int pg_migrate(struct store *store)
{
    struct pg_op op = {"migrate", PG_OP_AUTOCOMMIT, migrate_body, NULL};

    return pg_run_op(pg_store_of(store), &op);
}

static int schema_version_body(struct pg_store *s, void *arg)
{
    static const char sql[] =
        "SELECT coalesce(max(version), 0) FROM schema_migrations";
    struct pg_params p;
    int *version = arg;
    int result;

    pg_params_init(&p);
    PGresult *res = pg_query(s, PG_SCHEMA_VERSION, sql, &p,
                             "read the schema version", &result);
    if (res != NULL && PQntuples(res) > 0)
        *version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return result;
}

int pg_schema_version(struct store *store, int *version)
{
    struct pg_op op = {"read the schema version", PG_OP_AUTOCOMMIT,
                       schema_version_body, version};

    *version = 0;
    return pg_run_op(pg_store_of(store), &op);
}
