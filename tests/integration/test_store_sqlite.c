/*
 * SQLite-specific checks of the store: journal mode and synchronous
 * setting, the query plan and cost of the claim, the schema version
 * table, idempotency keys, the text of the "publish" and "accepted"
 * records, and group submits that fail inside the database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store_check.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "test_support.h"

#define NOW INT64_C(1800000000000)
#define HOUR INT64_C(3600000)

struct fixture {
    const char *path;
    struct store *store;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[STORE_ERR_MAX];

    assert_non_null(f);
    f->path = test_path(test_tmpdir(), "pubq.db");
    if (store_sqlite_open(f->path, 1, &f->store, err, sizeof err) != STORE_OK)
        fail_msg("open: %s", err);
    if (store_migrate(f->store) != STORE_OK)
        fail_msg("migrate: %s", store_errmsg(f->store));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_close(f->store);
    free(f);
    return 0;
}

/* Opens a second, raw connection to the store's file. */
static sqlite3 *open_raw(const char *path)
{
    sqlite3 *db = NULL;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fail_msg("open %s: %s", path, sqlite3_errmsg(db));
    return db;
}

static char *query_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    char *text = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(stmt) == SQLITE_ROW)
        text = strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    assert_non_null(text);
    return text;
}

static void wal_mode_on(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_raw(f->path);
    char *mode = query_text(db, "PRAGMA journal_mode");

    assert_string_equal(mode, "wal");
    free(mode);
    sqlite3_close(db);
}

static void schema_at_latest_version(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db;
    char expected[16];

    assert_int_equal(store_migrate(f->store), STORE_OK);
    db = open_raw(f->path);
    snprintf(expected, sizeof expected, "%d", sqlite_schema_latest());

    char *version = query_text(db, "SELECT max(version) FROM "
                                   "schema_migrations");
    char *rows = query_text(db, "SELECT count(*) FROM schema_migrations");
    assert_string_equal(version, expected);
    assert_string_equal(rows, expected);
    free(version);
    free(rows);
    sqlite3_close(db);
}

static void claim_plan_uses_index(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_raw(f->path);
    sqlite3_stmt *stmt = NULL;
    char sql[4096];
    int uses_index = 0;
    int reads_platform_set = 0;

    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s",
             store_sqlite_claim_sql());
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s", sqlite3_errmsg(db));

    while (sqlite3_step(stmt) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(stmt, 3);

        if (strstr(detail, "USING INDEX entries_due ") != NULL)
            uses_index = 1;
        if (strstr(detail, "SCAN json_each") != NULL)
            reads_platform_set = 1;
        /* A correlated subquery would run once per candidate row. */
        if (strstr(detail, "CORRELATED") != NULL)
            fail_msg("claim runs a subquery per row: %s", detail);
        if (strncmp(detail, "SCAN entries", 12) == 0)
            fail_msg("claim scans entries: %s", detail);
        if (strstr(detail, "TEMP B-TREE") != NULL)
            fail_msg("claim sorts in a temporary tree: %s", detail);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    assert_true(uses_index);
    assert_true(reads_platform_set);
}

/*
 * Another application's database file keeps its journal mode and gains
 * no table: open leaves it alone and migrate rejects it by name.
 */
static void foreign_file_untouched(void **state)
{
    const char *path = test_path(test_tmpdir(), "other.db");
    struct store *store = NULL;
    char err[STORE_ERR_MAX];
    sqlite3 *db = NULL;

    (void)state;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE notes (body TEXT)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    if (store_sqlite_open(path, 1, &store, err, sizeof err) != STORE_OK)
        fail_msg("open: %s", err);
    assert_int_equal(store_migrate(store), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(store), path));
    assert_non_null(strstr(store_errmsg(store), "no schema_migrations table"));
    store_close(store);

    db = open_raw(path);
    char *mode = query_text(db, "PRAGMA journal_mode");
    char *tables = query_text(db, "SELECT group_concat(name) FROM "
                                  "sqlite_master");
    assert_string_equal(mode, "delete");
    assert_string_equal(tables, "notes");
    free(mode);
    free(tables);
    sqlite3_close(db);
}

/* Submits `jobs` jobs of `per_job` platforms, all due at `due`. */
static void submit_many(struct store *store, const char *prefix, int jobs,
                        int per_job, int64_t due)
{
    const char *platforms[100];
    char names[100][16];
    struct job_request reqs[50];
    struct submit_result results[50];
    char ids[50][32];

    assert_true(per_job <= 100);
    for (int i = 0; i < per_job; i++) {
        snprintf(names[i], sizeof names[i], "p%d", i);
        platforms[i] = names[i];
    }
    for (int done = 0; done < jobs;) {
        int batch = jobs - done < 50 ? jobs - done : 50;

        for (int i = 0; i < batch; i++) {
            snprintf(ids[i], sizeof ids[i], "%s-%d", prefix, done + i);
            reqs[i] = (struct job_request){
                .content_id = ids[i],
                .content_json = "{\"text\":\"x\"}",
                .scheduled_at = due,
                .platforms = platforms,
                .platform_count = (size_t)per_job,
                .max_retries = 3,
                .source = "test",
            };
        }
        if (store->ops->submit_jobs(store, reqs, (size_t)batch, NOW, results) !=
            STORE_OK)
            fail_msg("submit: %s", store_errmsg(store));
        done += batch;
    }
}

static void claim_ignores_future_backlog(void **state)
{
    static const char *const due_platforms[] = {"p0", "p1", "p2", "p3", "p4",
                                                "p5", "p6", "p7", "p8", "p9"};
    struct fixture *f = *state;
    struct sqlite_store *s = sqlite_store_of(f->store);
    struct entry_list list = {0};

    submit_many(f->store, "future", 200, 100, NOW + 24 * HOUR);
    submit_many(f->store, "due", 1, 10, NOW);

    assert_int_equal(f->store->ops->claim_due(f->store, "node-a",
                                              due_platforms, 10, NOW, 60000,
                                              100, &list),
                     STORE_OK);
    assert_int_equal(list.count, 10);
    for (size_t i = 0; i < list.count; i++)
        assert_string_equal(list.items[i].content_id, "due-0");
    entry_list_free(&list);

    /* The claim read only the due rows, not the 20,000 future ones. */
    sqlite3_stmt *claim = s->stmts[STMT_CLAIM];
    assert_non_null(claim);
    assert_int_equal(
        sqlite3_stmt_status(claim, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0), 0);
    assert_int_equal(sqlite3_stmt_status(claim, SQLITE_STMTSTATUS_SORT, 0), 0);
    assert_true(sqlite3_stmt_status(claim, SQLITE_STMTSTATUS_VM_STEP, 0) <
                5000);
}

static void busy_maps_to_store_busy(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_raw(f->path);
    const char *const platforms[] = {"alpha"};
    struct job_request req = {
        .content_id = "c1",
        .content_json = "{}",
        .platforms = platforms,
        .platform_count = 1,
    };
    struct submit_result result;

    /* Waiting out the real 5 s busy timeout would slow the suite, so
     * the store's wait is shortened; the mapping is the same. */
    sqlite3_busy_timeout(sqlite_store_of(f->store)->db, 50);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(
        f->store->ops->submit_jobs(f->store, &req, 1, NOW, &result),
        STORE_BUSY);
    assert_non_null(strstr(store_errmsg(f->store), "submit jobs"));
    assert_non_null(strstr(store_errmsg(f->store), "locked"));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);

    assert_int_equal(
        f->store->ops->submit_jobs(f->store, &req, 1, NOW, &result), STORE_OK);
}

/* Returns the synchronous level of the store's own connection. */
static int store_synchronous(struct store *store)
{
    char *text = query_text(sqlite_store_of(store)->db, "PRAGMA synchronous");
    int level = (int)strtol(text, NULL, 10);

    free(text);
    return level;
}

static void synchronous_full_by_default(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_synchronous(f->store), 2);
}

static void synchronous_normal_from_url(void **state)
{
    char url[4096];
    char err[STORE_ERR_MAX];
    struct store *store = NULL;

    (void)state;
    snprintf(url, sizeof url, "sqlite:%s?synchronous=normal",
             test_path(test_tmpdir(), "normal.db"));
    if (store_open(url, &store, err, sizeof err) != STORE_OK)
        fail_msg("open %s: %s", url, err);
    assert_int_equal(store_synchronous(store), 1);
    assert_int_equal(store_migrate(store), STORE_OK);
    store_close(store);

    snprintf(url, sizeof url, "%s?synchronous=full",
             test_path(test_tmpdir(), "full.db"));
    if (store_open(url, &store, err, sizeof err) != STORE_OK)
        fail_msg("open %s: %s", url, err);
    assert_int_equal(store_synchronous(store), 2);
    store_close(store);

    /* Parameters follow the last "?", so a "?" in a file name works. */
    const char *odd = test_path(test_tmpdir(), "odd?name.db");
    snprintf(url, sizeof url, "sqlite:%s?", odd);
    if (store_open(url, &store, err, sizeof err) != STORE_OK)
        fail_msg("open %s: %s", url, err);
    store_close(store);
    FILE *file = fopen(odd, "r");
    assert_non_null(file);
    fclose(file);
}

static void unknown_url_parameter_rejected(void **state)
{
    const char *dir = test_tmpdir();
    const char *path = test_path(dir, "never.db");
    const char *bad[] = {"?cache=big", "?synchronous=off",
                         "?synchronous=normal&x=1", "?synchronous"};
    char url[4096];
    char err[STORE_ERR_MAX];
    struct store *store = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(url, sizeof url, "sqlite:%s%s", path, bad[i]);
        err[0] = '\0';
        assert_int_equal(store_open(url, &store, err, sizeof err),
                         STORE_INVALID);
        assert_non_null(strstr(err, "invalid database URL parameter"));
        assert_non_null(strstr(err, "synchronous=normal"));
    }
    assert_null(fopen(path, "r"));
}

static void entry_key_has_entry_id(void **state)
{
    struct fixture *f = *state;
    const char *platforms[] = {"alpha", "beta"};
    struct job_request req = {
        .content_id = "keyed",
        .content_json = "{}",
        .scheduled_at = NOW,
        .platforms = platforms,
        .platform_count = 2,
        .max_retries = 1,
    };
    struct submit_result result;
    struct entry_filter filter = {0};
    struct entry_list list = {0};
    char expected[STORE_KEY_MAX];

    submit_many(f->store, "before", 3, 1, NOW);
    assert_int_equal(
        f->store->ops->submit_jobs(f->store, &req, 1, NOW, &result), STORE_OK);
    filter.content_id = "keyed";
    assert_int_equal(f->store->ops->list_entries(f->store, &filter, &list),
                     STORE_OK);
    assert_int_equal(list.count, 2);
    for (size_t i = 0; i < list.count; i++) {
        const struct entry *e = &list.items[i];

        store_key_make(expected, sizeof expected, e->id, "keyed", e->platform,
                       result.job_id);
        assert_string_equal(e->idempotency_key, expected);
    }
    entry_list_free(&list);
}

static struct job_request group_request(const char *content_id,
                                        const char *event_id)
{
    static const char *const platforms[] = {"alpha", "beta"};
    struct job_request req = {
        .event_id = event_id,
        .content_id = content_id,
        .content_json = "{\"text\":\"hello\"}",
        .scheduled_at = NOW,
        .platforms = platforms,
        .platform_count = 2,
        .max_retries = 1,
        .source = "test",
    };
    return req;
}

/*
 * A group that fails inside the store (here a trigger that aborts one
 * job's INSERT) stores nothing, not even its other jobs; the groups
 * around it are stored, and an event id repeated after it still finds
 * the first group's job.
 */
static void submit_groups_store_failure(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_raw(f->path);
    struct job_request first = group_request("post-1", "evt-1");
    struct job_request failing[2] = {group_request("post-2", NULL),
                                     group_request("explode", NULL)};
    struct job_request again = group_request("post-3", "evt-1");
    struct submit_result results[4];
    struct submit_group groups[3] = {
        {.reqs = &first, .count = 1, .results = &results[0]},
        {.reqs = failing, .count = 2, .results = &results[1]},
        {.reqs = &again, .count = 1, .results = &results[3]},
    };

    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER explode BEFORE INSERT ON jobs"
                                  " WHEN NEW.content_id = 'explode' BEGIN"
                                  " SELECT RAISE(ABORT, 'test failure'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(store_submit_groups(f->store, groups, 3, NOW), STORE_OK);

    assert_int_equal(groups[0].result, STORE_OK);
    assert_true(results[0].first_entry_id > 0);
    assert_int_not_equal(groups[1].result, STORE_OK);
    assert_non_null(strstr(groups[1].errmsg, "test failure"));
    assert_int_equal(groups[2].result, STORE_OK);
    assert_int_equal(results[3].duplicate, 1);
    assert_int_equal(results[3].job_id, results[0].job_id);

    char *jobs = query_text(db, "SELECT group_concat(content_id) FROM jobs");
    char *entries = query_text(db, "SELECT count(*) FROM entries");
    char *accepted = query_text(db, "SELECT group_concat(job_id) FROM audit"
                                    " WHERE action = 'accepted'");
    char *seen = query_text(db, "SELECT count(*) FROM seen_events");
    assert_string_equal(jobs, "post-1");
    assert_string_equal(entries, "2");
    assert_string_equal(accepted, "post-1");
    assert_string_equal(seen, "1");
    free(jobs);
    free(entries);
    free(accepted);
    free(seen);
    sqlite3_close(db);
}

/* The "accepted" metadata text is the one jansson's json_dumps writes. */
static void accepted_record_text(void **state)
{
    struct fixture *f = *state;
    struct job_request req =
        group_request("quoted", "id \"q\" \\ tab\t nl\n ctl\x01 caf\xc3\xa9");
    struct submit_result result;
    sqlite3 *db = open_raw(f->path);

    req.source = "src/\"x\"";
    assert_int_equal(
        f->store->ops->submit_jobs(f->store, &req, 1, NOW, &result), STORE_OK);

    json_t *expected = json_pack("{s:I, s:[s, s], s:I, s:s, s:s}", "job",
                                 (json_int_t)result.job_id, "platforms",
                                 "alpha", "beta", "scheduled_at",
                                 (json_int_t)NOW, "source", req.source,
                                 "event_id", req.event_id);
    char *expected_text = json_dumps(expected, JSON_COMPACT);
    char *text = query_text(db, "SELECT metadata FROM audit"
                                " WHERE action = 'accepted'");
    assert_string_equal(text, expected_text);
    free(text);
    free(expected_text);
    json_decref(expected);
    sqlite3_close(db);
}

/* A byte that is not UTF-8 becomes U+FFFD and the metadata stays JSON. */
static void accepted_record_invalid_utf8(void **state)
{
    struct fixture *f = *state;
    struct job_request req = group_request("raw", "bad \xff byte");
    struct submit_result result;
    sqlite3 *db = open_raw(f->path);

    assert_int_equal(
        f->store->ops->submit_jobs(f->store, &req, 1, NOW, &result), STORE_OK);
    char *text = query_text(db, "SELECT metadata FROM audit"
                                " WHERE action = 'accepted'");
    json_t *metadata = json_loads(text, 0, NULL);
    assert_non_null(metadata);
    assert_string_equal(
        json_string_value(json_object_get(metadata, "event_id")),
        "bad \xef\xbf\xbd byte");
    json_decref(metadata);
    free(text);
    sqlite3_close(db);
}

/* Claims the one due entry of `platform` and completes it with `status`. */
static void complete_due(struct store *store, const char *platform,
                         enum entry_status status)
{
    const char *platforms[] = {platform};
    struct entry_list list = {0};
    struct attempt_completion done = {0};
    int applied = 0;

    assert_int_equal(store->ops->claim_due(store, "n1", platforms, 1, NOW,
                                           60000, 10, &list),
                     STORE_OK);
    assert_int_equal(list.count, 1);
    done = (struct attempt_completion){
        .entry_id = list.items[0].id,
        .attempt_number = list.items[0].attempt_count,
        .node = "n1",
        .next_status = status,
        .outcome = status == ENTRY_PUBLISHED ? OUTCOME_SUCCESS
                                             : OUTCOME_PERMANENT,
        .fail_reason = status == ENTRY_FAILED ? "permanent" : NULL,
        .error = status == ENTRY_FAILED ? "rejected" : NULL,
        .ended_at = NOW + 10,
    };
    assert_int_equal(store->ops->complete_attempts(store, &done, 1, &applied),
                     STORE_OK);
    assert_int_equal(applied, 1);
    entry_list_free(&list);
}

static void publish_record_text(void **state)
{
    struct fixture *f = *state;
    const char *platforms[] = {"beta", "alpha"};
    struct job_request req = {
        .content_id = "post-1",
        .content_json = "{}",
        .scheduled_at = NOW,
        .platforms = platforms,
        .platform_count = 2,
        .max_retries = 0,
    };
    struct submit_result result;
    struct audit_filter filter = {.action = "publish"};
    struct audit_list audit = {0};
    char expected[256];

    assert_int_equal(
        f->store->ops->submit_jobs(f->store, &req, 1, NOW, &result), STORE_OK);
    complete_due(f->store, "alpha", ENTRY_FAILED);
    assert_int_equal(f->store->ops->list_audit(f->store, &filter, &audit),
                     STORE_OK);
    assert_int_equal(audit.count, 0);
    audit_list_free(&audit);

    complete_due(f->store, "beta", ENTRY_PUBLISHED);
    assert_int_equal(f->store->ops->list_audit(f->store, &filter, &audit),
                     STORE_OK);
    assert_int_equal(audit.count, 1);
    snprintf(expected, sizeof expected,
             "{\"job\":%lld,\"platforms\":[\"beta\",\"alpha\"],"
             "\"results\":[{\"platform\":\"beta\",\"status\":"
             "\"published\"},{\"platform\":\"alpha\",\"status\":"
             "\"failed\"}]}",
             (long long)result.job_id);
    assert_string_equal(audit.items[0].metadata_json, expected);
    assert_string_equal(audit.items[0].status, "partial");
    assert_string_equal(audit.items[0].job_id, "post-1");
    assert_string_equal(audit.items[0].agent_name, "queue-manager");
    assert_int_equal(audit.items[0].at, NOW + 10);
    audit_list_free(&audit);
}

/* Runs one statement on a raw connection and returns its result code. */
static int exec_raw(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Every column of every entry, in id order, as one text. */
static const char sql_entry_rows[] =
    "SELECT group_concat(row, '|') FROM (SELECT json_array(id, job_id,"
    " content_id, platform, status, retry_count, max_retries,"
    " attempt_count, scheduled_at, due_at, rate_limit_waited_ms,"
    " idempotency_key, lease_node, lease_expires_at, claimed_from,"
    " published_at, post_id, post_url, last_error, fail_reason,"
    " first_round_done, first_round_status, created_at, updated_at) AS row"
    " FROM entries ORDER BY id)";

/*
 * The rebuild of the entries table (migration 7), run again on a
 * database with entries in several states and their attempts, keeps
 * every row and index, its foreign keys and its CHECK on the status.
 */
static void entries_rebuild_keeps_rows(void **state)
{
    struct fixture *f = *state;
    const char *platforms[] = {"alpha", "beta", "gamma"};
    struct job_request req = {
        .content_id = "post-1",
        .content_json = "{}",
        .scheduled_at = NOW,
        .platforms = platforms,
        .platform_count = 3,
        .max_retries = 2,
    };
    struct submit_result result;

    assert_int_equal(
        f->store->ops->submit_jobs(f->store, &req, 1, NOW, &result), STORE_OK);
    complete_due(f->store, "alpha", ENTRY_PUBLISHED);
    complete_due(f->store, "beta", ENTRY_FAILED);

    sqlite3 *db = open_raw(f->path);
    char *before = query_text(db, sql_entry_rows);
    char *attempts = query_text(db, "SELECT count(*) FROM attempts");
    assert_string_equal(attempts, "2");
    assert_int_equal(exec_raw(db, "DELETE FROM schema_migrations"
                                  " WHERE version = 7"),
                     SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_migrate(f->store), STORE_OK);
    char *foreign_keys =
        query_text(sqlite_store_of(f->store)->db, "PRAGMA foreign_keys");
    assert_string_equal(foreign_keys, "1");

    db = open_raw(f->path);
    char *after = query_text(db, sql_entry_rows);
    char *attempts_after = query_text(db, "SELECT count(*) FROM attempts");
    char *indexes = query_text(
        db, "SELECT group_concat(name, ',') FROM (SELECT name FROM"
            " sqlite_master WHERE type = 'index' AND tbl_name = 'entries'"
            " ORDER BY name)");
    char *orphans = query_text(
        db, "SELECT count(*) FROM pragma_foreign_key_check('attempts')");
    assert_string_equal(after, before);
    assert_string_equal(attempts_after, "2");
    assert_string_equal(indexes,
                        "entries_content,entries_due,entries_due_platform,"
                        "entries_job,entries_lease,entries_platform,"
                        "entries_status,entries_updated,"
                        "sqlite_autoindex_entries_1,"
                        "sqlite_autoindex_entries_2");
    assert_string_equal(orphans, "0");
    assert_int_equal(exec_raw(db, "UPDATE entries SET status = 'sent'"),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);

    /* The store still claims the one entry that was waiting. */
    complete_due(f->store, "gamma", ENTRY_PUBLISHED);
    free(before);
    free(attempts);
    free(foreign_keys);
    free(after);
    free(attempts_after);
    free(indexes);
    free(orphans);
}

/* The query plan of the store's cached statement `id`, joined by "|". */
static char *cached_plan(struct fixture *f, sqlite3 *db, enum sqlite_stmt_id id)
{
    sqlite3_stmt *cached = sqlite_store_of(f->store)->stmts[id];
    sqlite3_stmt *stmt = NULL;
    char query[8192];
    char *plan = calloc(1, 4096);
    size_t used = 0;

    assert_non_null(cached);
    assert_non_null(plan);
    snprintf(query, sizeof query, "EXPLAIN QUERY PLAN %s", sqlite3_sql(cached));
    if (sqlite3_prepare_v2(db, query, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", query, sqlite3_errmsg(db));
    while (sqlite3_step(stmt) == SQLITE_ROW && used < 4000)
        used += (size_t)snprintf(plan + used, 4096 - used, "%s|",
                                 (const char *)sqlite3_column_text(stmt, 3));
    sqlite3_finalize(stmt);
    return plan;
}

/* Appends the ids of the entries that `filter` lists to text. */
static void append_entry_ids(struct store *store,
                             const struct entry_filter *filter, char *text,
                             size_t size)
{
    struct entry_list list = {0};

    assert_int_equal(store->ops->list_entries(store, filter, &list), STORE_OK);
    for (size_t i = 0; i < list.count; i++)
        snprintf(text + strlen(text), size - strlen(text), "%lld,",
                 (long long)list.items[i].id);
    snprintf(text + strlen(text), size - strlen(text), ";");
    entry_list_free(&list);
}

/* Appends the ids and actions of the audit records `filter` lists. */
static void append_audit(struct store *store, const struct audit_filter *filter,
                         char *text, size_t size)
{
    struct audit_list list = {0};

    assert_int_equal(store->ops->list_audit(store, filter, &list), STORE_OK);
    for (size_t i = 0; i < list.count; i++)
        snprintf(text + strlen(text), size - strlen(text), "%lld %s,",
                 (long long)list.items[i].id, list.items[i].action);
    snprintf(text + strlen(text), size - strlen(text), ";");
    audit_list_free(&list);
}

/* What the lists and counts that read the partial indexes return. */
static void read_indexed_views(struct store *store, char *text, size_t size)
{
    struct status_counts counts;
    struct audit_filter alpha = {.platform = "alpha"};
    struct audit_filter no_platform = {.platform = ""};

    text[0] = '\0';
    for (int status = 0; status < ENTRY_STATUS_COUNT; status++) {
        struct entry_filter filter = {.has_status = 1,
                                      .status = (enum entry_status)status};

        append_entry_ids(store, &filter, text, size);
    }
    assert_int_equal(store->ops->count_entries(store, NULL, &counts), STORE_OK);
    for (int status = 0; status < ENTRY_STATUS_COUNT; status++)
        snprintf(text + strlen(text), size - strlen(text), "%lld,",
                 (long long)counts.by_status[status]);
    assert_int_equal(store->ops->count_entries(store, "gamma", &counts),
                     STORE_OK);
    for (int status = 0; status < ENTRY_STATUS_COUNT; status++)
        snprintf(text + strlen(text), size - strlen(text), "%lld,",
                 (long long)counts.by_status[status]);
    append_audit(store, &alpha, text, size);
    append_audit(store, &no_platform, text, size);
}

/*
 * Migration 8 makes entries_status leave out publishing entries and
 * audit_platform records without a platform. Run again on a database
 * with the full indexes of version 7, it keeps what every list and
 * count returns, and those statements read the new indexes.
 */
static void partial_indexes_keep_results(void **state)
{
    struct fixture *f = *state;
    const char *platforms[] = {"alpha", "beta", "gamma"};
    const char *later[] = {"alpha"};
    struct job_request reqs[] = {
        {.content_id = "post-1",
         .content_json = "{}",
         .scheduled_at = NOW,
         .platforms = platforms,
         .platform_count = 3,
         .max_retries = 2},
        {.content_id = "post-2",
         .content_json = "{}",
         .scheduled_at = NOW + HOUR,
         .platforms = later,
         .platform_count = 1,
         .max_retries = 2},
    };
    struct submit_result results[2];
    struct entry_list claimed = {0};
    struct sweep_result swept = {0};
    char before[4096];
    char after[4096];

    assert_int_equal(
        f->store->ops->submit_jobs(f->store, reqs, 2, NOW, results), STORE_OK);
    complete_due(f->store, "alpha", ENTRY_PUBLISHED);
    complete_due(f->store, "beta", ENTRY_FAILED);
    assert_int_equal(f->store->ops->claim_due(f->store, "n1", &platforms[2], 1,
                                              NOW, 60000, 10, &claimed),
                     STORE_OK);
    assert_int_equal(claimed.count, 1);
    entry_list_free(&claimed);
    assert_int_equal(f->store->ops->pause_platform(f->store, "alpha",
                                                   NOW + HOUR, "test", NOW,
                                                   "operator"),
                     STORE_OK);

    sqlite3 *db = open_raw(f->path);
    assert_int_equal(exec_raw(db,
                              "BEGIN;"
                              "DROP INDEX entries_status;"
                              "CREATE INDEX entries_status ON entries(status);"
                              "DROP INDEX audit_platform;"
                              "CREATE INDEX audit_platform ON audit(platform);"
                              "DELETE FROM schema_migrations WHERE version = 8;"
                              "COMMIT"),
                     SQLITE_OK);
    read_indexed_views(f->store, before, sizeof before);

    assert_int_equal(store_migrate(f->store), STORE_OK);
    read_indexed_views(f->store, after, sizeof after);
    assert_string_equal(after, before);
    /* Pending, publishing, published, retrying, failed, cancelled. */
    assert_non_null(strstr(before, ";1,1,1,0,1,0,"));
    assert_non_null(strstr(before, "platform_paused"));
    assert_non_null(strstr(before, "accepted"));
    assert_int_equal(
        f->store->ops->sweep(f->store, NOW + 1, NOW, "sweeper", &swept),
        STORE_OK);
    assert_int_equal(swept.requeued, 1);

    char *status_index = query_text(
        db, "SELECT sql FROM sqlite_master WHERE name = 'entries_status'");
    char *platform_index = query_text(
        db, "SELECT sql FROM sqlite_master WHERE name = 'audit_platform'");
    char *by_status = cached_plan(f, db, STMT_ENTRY_LIST_BY_STATUS);
    char *publishing = cached_plan(f, db, STMT_ENTRY_LIST_PUBLISHING);
    char *count = cached_plan(f, db, STMT_ENTRY_COUNT);
    char *by_platform = cached_plan(f, db, STMT_AUDIT_LIST_BY_PLATFORM);
    char *requeue = cached_plan(f, db, STMT_SWEEP_REQUEUE);

    assert_non_null(strstr(status_index, "WHERE status <> 'publishing'"));
    assert_non_null(strstr(platform_index, "WHERE platform <> ''"));
    assert_non_null(strstr(by_status, "INDEX entries_status (status=?"));
    assert_non_null(strstr(publishing, "INDEX entries_lease"));
    assert_non_null(strstr(count, "INDEX entries_status"));
    assert_non_null(strstr(count, "INDEX entries_lease"));
    assert_non_null(strstr(by_platform, "INDEX audit_platform (platform=?"));
    assert_non_null(strstr(requeue, "INDEX entries_status (status=?"));
    sqlite3_close(db);
    free(status_index);
    free(platform_index);
    free(by_status);
    free(publishing);
    free(count);
    free(by_platform);
    free(requeue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(wal_mode_on, setup, teardown),
        cmocka_unit_test_setup_teardown(schema_at_latest_version, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(claim_plan_uses_index, setup, teardown),
        cmocka_unit_test(foreign_file_untouched),
        cmocka_unit_test_setup_teardown(claim_ignores_future_backlog, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(busy_maps_to_store_busy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(synchronous_full_by_default, setup,
                                        teardown),
        cmocka_unit_test(synchronous_normal_from_url),
        cmocka_unit_test(unknown_url_parameter_rejected),
        cmocka_unit_test_setup_teardown(entry_key_has_entry_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(publish_record_text, setup, teardown),
        cmocka_unit_test_setup_teardown(entries_rebuild_keeps_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(partial_indexes_keep_results, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(submit_groups_store_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(accepted_record_text, setup, teardown),
        cmocka_unit_test_setup_teardown(accepted_record_invalid_utf8, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
}
