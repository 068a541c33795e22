/*
 * Versioned schema migrations of the SQLite store. Each migration runs in
 * its own transaction together with its row in schema_migrations, so a
 * crash leaves the schema at one version or the next, never between.
 * Migrations are append-only: never edit one that has shipped.
 */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <time.h>

#include "util/banned.h"

struct migration {
    int version;
    const char *sql;
    /* The script rebuilds a table that others reference, so foreign key
     * enforcement is off while it runs and checked before its commit. */
    int rebuilds_table;
};

static const char migration_1[] =
    "CREATE TABLE content_items ("
    "  id TEXT PRIMARY KEY,"
    "  content_json TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"

    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  content_id TEXT NOT NULL REFERENCES content_items(id),"
    "  event_id TEXT,"
    "  content_json TEXT NOT NULL,"
    "  scheduled_at INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  publish_audited INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX jobs_content ON jobs(content_id);"

    /* content_id repeats jobs.content_id (never changes) so that entry
     * reads and content-wide cancels need no join. claimed_from keeps
     * the status an entry had when claimed, for release_leases.
     * first_round_status keeps the status after the first attempt, for
     * the job's "publish" audit record. */
    "CREATE TABLE entries ("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  content_id TEXT NOT NULL,"
    "  platform TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending', 'publishing',"
    "    'published', 'retrying', 'failed', 'cancelled')),"
    "  retry_count INTEGER NOT NULL DEFAULT 0,"
    "  max_retries INTEGER NOT NULL,"
    "  attempt_count INTEGER NOT NULL DEFAULT 0,"
    "  scheduled_at INTEGER NOT NULL,"
    "  due_at INTEGER NOT NULL,"
    "  rate_limit_waited_ms INTEGER NOT NULL DEFAULT 0,"
    "  idempotency_key TEXT UNIQUE,"
    "  lease_node TEXT,"
    "  lease_expires_at INTEGER NOT NULL DEFAULT 0,"
    "  claimed_from TEXT,"
    "  published_at INTEGER NOT NULL DEFAULT 0,"
    "  post_id TEXT NOT NULL DEFAULT '',"
    "  post_url TEXT NOT NULL DEFAULT '',"
    "  last_error TEXT NOT NULL DEFAULT '',"
    "  fail_reason TEXT NOT NULL DEFAULT '',"
    "  first_round_done INTEGER NOT NULL DEFAULT 0,"
    "  first_round_status TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (job_id, platform));"
    /* The claim and next_due_at read only waiting entries through these
     * partial indexes, so their cost does not grow with finished or
     * future work. */
    "CREATE INDEX entries_due ON entries(due_at)"
    "  WHERE status IN ('pending', 'retrying');"
    "CREATE INDEX entries_due_platform ON entries(platform, due_at)"
    "  WHERE status IN ('pending', 'retrying');"
    "CREATE INDEX entries_lease ON entries(lease_expires_at)"
    "  WHERE status = 'publishing';"
    "CREATE INDEX entries_content ON entries(content_id);"
    "CREATE INDEX entries_platform ON entries(platform);"
    "CREATE INDEX entries_status ON entries(status);"

    "CREATE TABLE attempts ("
    "  id INTEGER PRIMARY KEY,"
    "  entry_id INTEGER NOT NULL REFERENCES entries(id),"
    "  number INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER NOT NULL DEFAULT 0,"
    "  finished INTEGER NOT NULL DEFAULT 0,"
    "  outcome TEXT,"
    "  http_status INTEGER NOT NULL DEFAULT 0,"
    "  latency_ms INTEGER NOT NULL DEFAULT 0,"
    "  node TEXT NOT NULL,"
    "  error TEXT NOT NULL DEFAULT '',"
    "  UNIQUE (entry_id, number));"

    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  agent_name TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  job_id TEXT NOT NULL DEFAULT '',"
    "  entry_id INTEGER NOT NULL DEFAULT 0,"
    "  platform TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL DEFAULT '',"
    "  metadata TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX audit_job ON audit(job_id);"
    "CREATE INDEX audit_action ON audit(action);"
    "CREATE INDEX audit_platform ON audit(platform);"
    "CREATE INDEX audit_at ON audit(at);"

    "CREATE TABLE seen_events ("
    "  event_id TEXT PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  at INTEGER NOT NULL);"

    "CREATE TABLE platform_state ("
    "  platform TEXT PRIMARY KEY,"
    "  paused_until INTEGER NOT NULL DEFAULT 0,"
    "  pause_reason TEXT NOT NULL DEFAULT '',"
    "  data_json TEXT,"
    "  updated_at INTEGER NOT NULL);";

/* One row per cron tick of the sweeper that ran, so that several
 * processes sweeping the same tick do the work once. */
static const char migration_2[] =
    "CREATE TABLE sweeper_ticks ("
    "  tick_at INTEGER PRIMARY KEY,"
    "  agent_name TEXT NOT NULL,"
    "  swept_at INTEGER NOT NULL);";

/* The change feed of list_entries (updated_since) reads by this index;
 * SQLite appends the rowid, so it also orders ties by id. */
static const char migration_3[] =
    "CREATE INDEX entries_updated ON entries(updated_at);";

/* Cancel and reschedule events record their ids too, with no job.
 * SQLite cannot drop NOT NULL from a column, so the table is copied. */
static const char migration_4[] =
    "CREATE TABLE seen_events_4 ("
    "  event_id TEXT PRIMARY KEY,"
    "  job_id INTEGER REFERENCES jobs(id),"
    "  at INTEGER NOT NULL);"
    "INSERT INTO seen_events_4 (event_id, job_id, at)"
    "  SELECT event_id, job_id, at FROM seen_events;"
    "DROP TABLE seen_events;"
    "ALTER TABLE seen_events_4 RENAME TO seen_events;";

/* Lists of a job's entries (the HTTP reply to an event, the publish
 * check) read by this index instead of scanning every entry. */
static const char migration_5[] =
    "CREATE INDEX entries_job ON entries(job_id);";

/* No statement reads the audit table by time alone. A list walks the
 * rowid or the index of its job, platform or action and filters the
 * time range on the way, yet every audit insert kept this index. */
static const char migration_6[] = "DROP INDEX audit_at;";

/*
 * The CHECK on entries.status, written as an IN list, made SQLite 3.40
 * build a temporary B-tree of the six names for every row whose status
 * a statement changed, about 34,000 instructions each (callgrind). The
 * same rule written with OR compares in place. SQLite cannot change a
 * CHECK, so the table is rebuilt with its indexes, and its columns,
 * constraints and index definitions are otherwise unchanged.
 * NOTE: this copies every entry once: about 19 s for 1,000,000 entries
 * on the 2-core test machine, and the old table's pages stay in the
 * file as free pages that later writes reuse (393 MB grew to 529 MB).
 */
static const char migration_7[] =
    "CREATE TABLE entries_7 ("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  content_id TEXT NOT NULL,"
    "  platform TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status = 'pending'"
    "    OR status = 'publishing' OR status = 'published'"
    "    OR status = 'retrying' OR status = 'failed'"
    "    OR status = 'cancelled'),"
    "  retry_count INTEGER NOT NULL DEFAULT 0,"
    "  max_retries INTEGER NOT NULL,"
    "  attempt_count INTEGER NOT NULL DEFAULT 0,"
    "  scheduled_at INTEGER NOT NULL,"
    "  due_at INTEGER NOT NULL,"
    "  rate_limit_waited_ms INTEGER NOT NULL DEFAULT 0,"
    "  idempotency_key TEXT UNIQUE,"
    "  lease_node TEXT,"
    "  lease_expires_at INTEGER NOT NULL DEFAULT 0,"
    "  claimed_from TEXT,"
    "  published_at INTEGER NOT NULL DEFAULT 0,"
    "  post_id TEXT NOT NULL DEFAULT '',"
    "  post_url TEXT NOT NULL DEFAULT '',"
    "  last_error TEXT NOT NULL DEFAULT '',"
    "  fail_reason TEXT NOT NULL DEFAULT '',"
    "  first_round_done INTEGER NOT NULL DEFAULT 0,"
    "  first_round_status TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (job_id, platform));"
    "INSERT INTO entries_7 (id, job_id, content_id, platform, status,"
    "  retry_count, max_retries, attempt_count, scheduled_at, due_at,"
    "  rate_limit_waited_ms, idempotency_key, lease_node, lease_expires_at,"
    "  claimed_from, published_at, post_id, post_url, last_error,"
    "  fail_reason, first_round_done, first_round_status, created_at,"
    "  updated_at)"
    " SELECT id, job_id, content_id, platform, status,"
    "  retry_count, max_retries, attempt_count, scheduled_at, due_at,"
    "  rate_limit_waited_ms, idempotency_key, lease_node, lease_expires_at,"
    "  claimed_from, published_at, post_id, post_url, last_error,"
    "  fail_reason, first_round_done, first_round_status, created_at,"
    "  updated_at FROM entries ORDER BY id;"
    "DROP TABLE entries;"
    "ALTER TABLE entries_7 RENAME TO entries;"
    "CREATE INDEX entries_due ON entries(due_at)"
    "  WHERE status IN ('pending', 'retrying');"
    "CREATE INDEX entries_due_platform ON entries(platform, due_at)"
    "  WHERE status IN ('pending', 'retrying');"
    "CREATE INDEX entries_lease ON entries(lease_expires_at)"
    "  WHERE status = 'publishing';"
    "CREATE INDEX entries_content ON entries(content_id);"
    "CREATE INDEX entries_platform ON entries(platform);"
    "CREATE INDEX entries_status ON entries(status);"
    "CREATE INDEX entries_updated ON entries(updated_at);"
    "CREATE INDEX entries_job ON entries(job_id);";

/*
 * Index entries that no query reads are left out, because each costs a
 * B-tree write whenever a row enters or leaves it:
 *
 * - entries_status skips 'publishing'. Every entry enters and leaves
 *   that status once per attempt, so a publish cost four writes here
 *   and now costs two. The few publishing entries are read through
 *   entries_lease, which contains exactly them.
 * - audit_platform skips records without a platform, such as each
 *   job's "publish" and "accepted" records; a list by platform never
 *   returns them.
 *
 * bench_store publish of 2,048 entries ran about 8 % fewer instructions
 * (callgrind). Rebuilding the two indexes reads every entry and audit
 * record once: 0.8 s and 13 MB peak RSS for 1,000,000 entries on the
 * 2-core test machine.
 */
static const char migration_8[] =
    "DROP INDEX entries_status;"
    "CREATE INDEX entries_status ON entries(status)"
    "  WHERE status <> 'publishing';"
    "DROP INDEX audit_platform;"
    "CREATE INDEX audit_platform ON audit(platform) WHERE platform <> '';";

static const struct migration migrations[] = {
    {1, migration_1, 0},
    {2, migration_2, 0},
    {3, migration_3, 0},
    {4, migration_4, 0},
    {5, migration_5, 0},
    {6, migration_6, 0},
    {7, migration_7, 1},
    {8, migration_8, 0},
};

#define MIGRATION_COUNT (sizeof migrations / sizeof migrations[0])

/* Runs every statement of a script; the text contains no values. */
static int run_script(struct sqlite_store *s, const char *sql, const char *op)
{
    while (sql != NULL && sql[0] != '\0') {
        sqlite3_stmt *stmt = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, &tail);

        if (rc == SQLITE_OK && stmt != NULL)
            rc = sqlite3_step(stmt);
        if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
            int result = sqlite_fail(s, rc, op);

            sqlite3_finalize(stmt);
            return result;
        }
        sqlite3_finalize(stmt);
        sql = tail;
    }
    return STORE_OK;
}

static int applied_version(struct sqlite_store *s, int version, int *applied)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT 1 FROM schema_migrations "
                                "WHERE version = ?",
                                -1, &stmt, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_int(stmt, 1, version);
        rc = sqlite3_step(stmt);
    }
    *applied = rc == SQLITE_ROW;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "read schema_migrations");
    return STORE_OK;
}

static int record_version(struct sqlite_store *s, int version)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO schema_migrations"
                                " (version, applied_at) VALUES (?, ?)",
                                -1, &stmt, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_int(stmt, 1, version);
        sqlite3_bind_int64(stmt, 2, (int64_t)time(NULL) * 1000);
        rc = sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "record schema version");
    return STORE_OK;
}

/* Checks that no row breaks a foreign key; the error names the first. */
static int check_foreign_keys(struct sqlite_store *s, int version)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &stmt,
                                NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        int result = sqlite_error(
            s, STORE_ERROR,
            "schema migration %d failed: row %lld of table %s references a "
            "missing row of %s; the database is unchanged",
            version, (long long)sqlite3_column_int64(stmt, 1),
            (const char *)sqlite3_column_text(stmt, 0),
            (const char *)sqlite3_column_text(stmt, 2));

        sqlite3_finalize(stmt);
        return result;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "check foreign keys");
    return STORE_OK;
}

static int run_migration(struct sqlite_store *s, const struct migration *m)
{
    char op[64];
    int applied = 0;
    int result = sqlite_begin(s, "migrate");

    if (result != STORE_OK)
        return result;

    result = applied_version(s, m->version, &applied);
    if (result == STORE_OK && !applied) {
        snprintf(op, sizeof op, "schema migration %d", m->version);
        result = run_script(s, m->sql, op);
        if (result == STORE_OK && m->rebuilds_table)
            result = check_foreign_keys(s, m->version);
        if (result == STORE_OK)
            result = record_version(s, m->version);
    }

    if (result != STORE_OK) {
        sqlite_rollback(s);
        return result;
    }
    return sqlite_commit(s, "migrate");
}

/*
 * Applies one migration unless another process already did. SQLite
 * ignores a change of foreign_keys inside a transaction, so it is
 * switched around the migration's transaction.
 */
static int apply(struct sqlite_store *s, const struct migration *m)
{
    int result = STORE_OK;

    if (m->rebuilds_table)
        result = run_script(s, "PRAGMA foreign_keys = OFF", "migrate");
    if (result == STORE_OK)
        result = run_migration(s, m);
    if (m->rebuilds_table) {
        int restored = run_script(s, "PRAGMA foreign_keys = ON", "migrate");

        if (result == STORE_OK)
            result = restored;
    }
    return result;
}

int sqlite_schema_latest(void)
{
    return migrations[MIGRATION_COUNT - 1].version;
}

/* Objects other than SQLite's own, and schema_migrations columns. */
static const char sql_owner[] =
    "SELECT (SELECT count(*) FROM sqlite_master"
    "   WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'),"
    " (SELECT count(*) FROM pragma_table_info('schema_migrations')"
    "   WHERE name IN ('version', 'applied_at'))";

int sqlite_schema_check_owner(sqlite3 *db, char *err, size_t errlen)
{
    const char *path = sqlite3_db_filename(db, "main");
    sqlite3_stmt *stmt = NULL;
    int objects = 0;
    int columns = 0;
    int rc = sqlite3_prepare_v2(db, sql_owner, -1, &stmt, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        objects = sqlite3_column_int(stmt, 0);
        columns = sqlite3_column_int(stmt, 1);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "cannot read the schema of \"%s\": %s", path,
                 sqlite3_errstr(rc));
        return STORE_ERROR;
    }

    if (objects == 0 || columns == 2)
        return STORE_OK;
    snprintf(err, errlen,
             "database \"%s\" is not a pubq database: it contains tables "
             "but %s, so pubq left it unchanged; pass a new or empty "
             "database file",
             path,
             columns == 0 ? "no schema_migrations table"
                          : "a schema_migrations table of another tool");
    return STORE_INVALID;
}

int sqlite_migrate(struct store *store)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int result = sqlite_schema_check_owner(s->db, s->base.errmsg,
                                           sizeof s->base.errmsg);

    if (result != STORE_OK)
        return result;
    result = run_script(s,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "  version INTEGER PRIMARY KEY,"
                        "  applied_at INTEGER NOT NULL)",
                        "create schema_migrations");

    /*
     * A migration that rebuilds a table or an index sorts the whole
     * table. The handle keeps its temporary data in memory (see
     * store_sqlite.c), which for 1M entries peaked at 272 MB RSS, so
     * migrations sort in temporary files instead.
     */
    if (result == STORE_OK)
        result = run_script(s, "PRAGMA temp_store = FILE", "migrate");
    for (size_t i = 0; result == STORE_OK && i < MIGRATION_COUNT; i++)
        result = apply(s, &migrations[i]);
    if (result == STORE_OK)
        result = run_script(s, "PRAGMA temp_store = MEMORY", "migrate");
    return result;
}

int sqlite_schema_version(struct store *store, int *version)
{
    struct sqlite_store *s = sqlite_store_of(store);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1,
        &stmt, NULL);

    *version = 0;
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return sqlite_fail(s, rc, "read the schema version");
    return STORE_OK;
}
