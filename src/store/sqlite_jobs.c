/* Creating jobs and reading jobs, entries and attempts (SQLite store). */
#include "store/sqlite_internal.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

int sqlite_event_find(struct sqlite_store *s, const char *event_id, int *seen,
                      int64_t *job_id)
{
    static const char sql[] =
        "SELECT coalesce(job_id, 0) FROM seen_events WHERE event_id = ?";
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_SEEN_EVENT_GET, sql, "look up event id");

    *seen = 0;
    *job_id = 0;
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, event_id);

    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *seen = 1;
        *job_id = sqlite3_column_int64(stmt, 0);
    }
    sqlite_done(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "look up event id");
    return STORE_OK;
}

static int upsert_content(struct sqlite_store *s, const struct job_request *req,
                          int64_t now)
{
    static const char sql[] =
        "INSERT INTO content_items (id, content_json, created_at,"
        " updated_at) VALUES (?1, ?2, ?3, ?3)"
        " ON CONFLICT (id) DO UPDATE SET"
        " content_json = excluded.content_json,"
        " updated_at = excluded.updated_at";
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_CONTENT_UPSERT, sql, "submit");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, req->content_id);
    if (sqlite_bind_text(stmt, 2, req->content_json) != SQLITE_OK) {
        sqlite_done(stmt);
        return sqlite_fail(s, SQLITE_TOOBIG, "store content");
    }
    sqlite3_bind_int64(stmt, 3, now);
    return sqlite_exec_stmt(s, stmt, "store content item");
}

/*
 * Runs an INSERT and sets *id to the new row's id. RETURNING would make
 * SQLite 3.40 open a temporary B-tree for every row; the connection
 * belongs to this store alone, so the last inserted rowid is this one.
 */
static int insert_row(struct sqlite_store *s, sqlite3_stmt *stmt,
                      const char *op, int64_t *id)
{
    int result = sqlite_exec_stmt(s, stmt, op);

    if (result == STORE_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    return result;
}

static int insert_job(struct sqlite_store *s, const struct job_request *req,
                      int64_t scheduled_at, int64_t now, int64_t *job_id)
{
    static const char sql[] =
        "INSERT INTO jobs (content_id, event_id, content_json, scheduled_at,"
        " created_at) VALUES (?, ?, ?, ?, ?)";
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_JOB_INSERT, sql, "submit");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, req->content_id);
    sqlite_bind_text(stmt, 2, req->event_id);
    if (sqlite_bind_text(stmt, 3, req->content_json) != SQLITE_OK) {
        sqlite_done(stmt);
        return sqlite_fail(s, SQLITE_TOOBIG, "insert job");
    }
    sqlite3_bind_int64(stmt, 4, scheduled_at);
    sqlite3_bind_int64(stmt, 5, now);
    return insert_row(s, stmt, "insert job", job_id);
}

int sqlite_event_remember(struct sqlite_store *s, const char *event_id,
                          int64_t job_id, int64_t now)
{
    static const char sql[] =
        "INSERT INTO seen_events (event_id, job_id, at) VALUES (?, ?, ?)";
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_SEEN_EVENT_INSERT, sql, "record event id");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, event_id);
    if (job_id != 0)
        sqlite3_bind_int64(stmt, 2, job_id);
    else
        sqlite3_bind_null(stmt, 2);
    sqlite3_bind_int64(stmt, 3, now);
    return sqlite_exec_stmt(s, stmt, "record event id");
}

struct new_entry {
    int64_t job_id;
    const char *content_id;
    const char *platform;
    uint32_t max_retries;
    int64_t scheduled_at;
    int64_t due_at;
    int64_t now;
};

/*
 * The id is the one SQLite would pick itself, because the table has no
 * AUTOINCREMENT: the largest id plus one. It is chosen inside the write
 * transaction, so the key ("pubq-<id>-<hash>", as store_key_make()
 * writes it) goes in with the row instead of through a second UPDATE.
 * The id comes from scalar subqueries: INSERT ... SELECT would copy the
 * row through a temporary table, because it reads the table it writes.
 */
#define SQLITE_NEXT_ENTRY_ID "(SELECT coalesce(max(id), 0) + 1 FROM entries)"
static const char sql_entry_insert[] =
    "INSERT INTO entries (id, job_id, content_id, platform, status,"
    " max_retries, scheduled_at, due_at, idempotency_key, created_at,"
    " updated_at)"
    " VALUES (" SQLITE_NEXT_ENTRY_ID ", ?1, ?2, ?3, 'pending', ?4, ?5, ?6,"
    " 'pubq-' || " SQLITE_NEXT_ENTRY_ID " || '-' || ?8, ?7, ?7)";

static int insert_entry(struct sqlite_store *s, const struct new_entry *e)
{
    char hash[24];
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_ENTRY_INSERT, sql_entry_insert, "submit");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    store_key_hash(hash, sizeof hash, e->content_id, e->platform, e->job_id);
    sqlite3_bind_int64(stmt, 1, e->job_id);
    sqlite_bind_text(stmt, 2, e->content_id);
    sqlite_bind_text(stmt, 3, e->platform);
    sqlite3_bind_int64(stmt, 4, e->max_retries);
    sqlite3_bind_int64(stmt, 5, e->scheduled_at);
    sqlite3_bind_int64(stmt, 6, e->due_at);
    sqlite3_bind_int64(stmt, 7, e->now);
    sqlite_bind_text(stmt, 8, hash);
    return sqlite_exec_stmt(s, stmt, "insert entry");
}

static int audit_accepted(struct sqlite_store *s, const struct job_request *req,
                          int64_t job_id, int64_t scheduled_at, int64_t now)
{
    json_t *platforms = json_array();
    json_t *metadata = json_object();
    int result;

    for (size_t i = 0; i < req->platform_count; i++)
        json_array_append_new(platforms, json_string(req->platforms[i]));
    json_object_set_new(metadata, "job", json_integer(job_id));
    json_object_set_new(metadata, "platforms", platforms);
    json_object_set_new(metadata, "scheduled_at", json_integer(scheduled_at));
    json_object_set_new(
        metadata, "source",
        json_string(req->source != NULL ? req->source : "unknown"));
    json_object_set_new(metadata, "event_id",
                        req->event_id != NULL ? json_string(req->event_id)
                                              : json_null());

    struct sqlite_audit record = {
        .at = now,
        .agent = "intake",
        .action = "accepted",
        .content_id = req->content_id,
        .status = "accepted",
        .metadata = metadata,
    };
    result = sqlite_audit_insert(s, &record);
    json_decref(metadata);
    return result;
}

/* Writes one request inside the open transaction. */
static int submit_one(struct sqlite_store *s, const struct job_request *req,
                      int64_t now, struct submit_result *out)
{
    int64_t scheduled_at = req->scheduled_at > 0 ? req->scheduled_at : now;
    int result = STORE_OK;

    out->job_id = 0;
    out->duplicate = 0;
    if (req->event_id != NULL) {
        result =
            sqlite_event_find(s, req->event_id, &out->duplicate, &out->job_id);
        if (result != STORE_OK || out->duplicate)
            return result;
    }

    result = upsert_content(s, req, now);
    if (result == STORE_OK)
        result = insert_job(s, req, scheduled_at, now, &out->job_id);
    if (result == STORE_OK && req->event_id != NULL)
        result = sqlite_event_remember(s, req->event_id, out->job_id, now);

    struct new_entry entry = {
        .job_id = out->job_id,
        .content_id = req->content_id,
        .max_retries = req->max_retries,
        .scheduled_at = scheduled_at,
        .due_at = scheduled_at > now ? scheduled_at : now,
        .now = now,
    };
    for (size_t i = 0; result == STORE_OK && i < req->platform_count; i++) {
        entry.platform = req->platforms[i];
        if (req->platform_max_retries != NULL)
            entry.max_retries = req->platform_max_retries[i];
        result = insert_entry(s, &entry);
    }

    if (result == STORE_OK)
        result = audit_accepted(s, req, out->job_id, scheduled_at, now);
    return result;
}

int sqlite_submit_jobs(struct store *store, const struct job_request *reqs,
                       size_t count, int64_t now, struct submit_result *results)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int result = STORE_OK;

    result = store_check_requests(store, reqs, count, results);
    if (result != STORE_OK)
        return result;
    if (count == 0)
        return STORE_OK;

    result = sqlite_begin(s, "submit jobs");
    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = submit_one(s, &reqs[i], now, &results[i]);

    if (result != STORE_OK) {
        sqlite_rollback(s);
        return result;
    }
    return sqlite_commit(s, "submit jobs");
}

int sqlite_get_job(struct store *store, int64_t job_id, struct job *job)
{
    static const char sql[] =
        "SELECT id, content_id, event_id, content_json, scheduled_at,"
        " created_at FROM jobs WHERE id = ?";
    struct sqlite_store *s = sqlite_store_of(store);
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_JOB_GET, sql, "get job");

    memset(job, 0, sizeof *job);
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, job_id);

    int rc = sqlite3_step(stmt);
    int result = STORE_OK;
    if (rc == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(stmt, 3);

        job->id = sqlite3_column_int64(stmt, 0);
        sqlite_copy_column(stmt, 1, job->content_id, sizeof job->content_id);
        sqlite_copy_column(stmt, 2, job->event_id, sizeof job->event_id);
        job->content_json = strdup(json != NULL ? json : "{}");
        job->scheduled_at = sqlite3_column_int64(stmt, 4);
        job->created_at = sqlite3_column_int64(stmt, 5);
        if (job->content_json == NULL)
            result = sqlite_error(s, STORE_ERROR, "out of memory");
    } else if (rc == SQLITE_DONE) {
        result = sqlite_error(s, STORE_NOT_FOUND, "job %" PRId64 " not found",
                              job_id);
    } else {
        result = sqlite_fail(s, rc, "get job");
    }
    sqlite_done(stmt);
    return result;
}

int sqlite_get_entry(struct store *store, int64_t entry_id, struct entry *entry)
{
    static const char sql[] =
        "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries WHERE id = ?";
    struct sqlite_store *s = sqlite_store_of(store);
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ENTRY_GET, sql, "get entry");
    int result = STORE_OK;

    memset(entry, 0, sizeof *entry);
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, entry_id);

    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        sqlite_read_entry(stmt, 0, entry);
    else if (rc == SQLITE_DONE)
        result = sqlite_error(s, STORE_NOT_FOUND, "entry %" PRId64 " not found",
                              entry_id);
    else
        result = sqlite_fail(s, rc, "get entry");
    sqlite_done(stmt);
    return result;
}

/*
 * Unused filters bind NULL or an open bound, so one constant statement
 * serves every combination. The id bound keeps pages on the primary key.
 */
/*
 * Entry lists, newest first. Each variant leads with an equality on one
 * indexed column so SQLite walks that index in rowid order instead of
 * scanning every entry; the other filters stay optional. The variant is
 * chosen from the most selective filter that is set.
 */
#define ENTRY_LIST_FILTERS                                                     \
    " (?1 IS NULL OR status = ?1)"                                             \
    " AND (?2 IS NULL OR platform = ?2)"                                       \
    " AND (?3 IS NULL OR content_id = ?3)"                                     \
    " AND (?4 = 0 OR job_id = ?4)"                                             \
    " AND scheduled_at >= ?5 AND scheduled_at < ?6"                            \
    " AND id < ?7 ORDER BY id DESC LIMIT ?8"

static const char sql_entry_list[] =
    "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries WHERE" ENTRY_LIST_FILTERS;
static const char sql_entry_list_by_job[] =
    "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries"
    " WHERE job_id = ?4 AND" ENTRY_LIST_FILTERS;
static const char sql_entry_list_by_content[] =
    "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries"
    " WHERE content_id = ?3 AND" ENTRY_LIST_FILTERS;
static const char sql_entry_list_by_status[] =
    "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries"
    " WHERE status = ?1 AND" ENTRY_LIST_FILTERS;
static const char sql_entry_list_by_platform[] =
    "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries"
    " WHERE platform = ?2 AND" ENTRY_LIST_FILTERS;

/* The change feed: the same filters, oldest change first. */
static const char sql_entry_list_updated[] =
    "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries"
    " WHERE (?1 IS NULL OR status = ?1)"
    " AND (?2 IS NULL OR platform = ?2)"
    " AND (?3 IS NULL OR content_id = ?3)"
    " AND (?4 = 0 OR job_id = ?4)"
    " AND scheduled_at >= ?5 AND scheduled_at < ?6"
    " AND id < ?7"
    " AND (updated_at > ?9 OR (updated_at = ?9 AND id > ?10))"
    " ORDER BY updated_at, id LIMIT ?8";

static void bind_entry_filter(sqlite3_stmt *stmt, const struct entry_filter *f)
{
    const char *status = f->has_status ? entry_status_name(f->status) : NULL;

    sqlite_bind_text(stmt, 1, status);
    sqlite_bind_text(stmt, 2, f->platform);
    sqlite_bind_text(stmt, 3, f->content_id);
    sqlite3_bind_int64(stmt, 4, f->job_id);
    sqlite3_bind_int64(stmt, 5,
                       f->scheduled_from != 0 ? f->scheduled_from : INT64_MIN);
    sqlite3_bind_int64(stmt, 6,
                       f->scheduled_to != 0 ? f->scheduled_to : INT64_MAX);
    sqlite3_bind_int64(stmt, 7, f->before_id != 0 ? f->before_id : INT64_MAX);
    sqlite3_bind_int64(stmt, 8, f->limit != 0 ? (int64_t)f->limit : 100);
    if (f->updated_since != 0) {
        sqlite3_bind_int64(stmt, 9, f->updated_since);
        sqlite3_bind_int64(stmt, 10, f->updated_after_id);
    }
}

static sqlite3_stmt *entry_list_statement(struct sqlite_store *s,
                                          const struct entry_filter *f)
{
    if (f->updated_since != 0)
        return sqlite_stmt(s, STMT_ENTRY_LIST_UPDATED, sql_entry_list_updated,
                           "list entries");
    if (f->job_id != 0)
        return sqlite_stmt(s, STMT_ENTRY_LIST_BY_JOB, sql_entry_list_by_job,
                           "list entries");
    if (f->content_id != NULL)
        return sqlite_stmt(s, STMT_ENTRY_LIST_BY_CONTENT,
                           sql_entry_list_by_content, "list entries");
    if (f->has_status)
        return sqlite_stmt(s, STMT_ENTRY_LIST_BY_STATUS,
                           sql_entry_list_by_status, "list entries");
    if (f->platform != NULL)
        return sqlite_stmt(s, STMT_ENTRY_LIST_BY_PLATFORM,
                           sql_entry_list_by_platform, "list entries");
    return sqlite_stmt(s, STMT_ENTRY_LIST, sql_entry_list, "list entries");
}

int sqlite_list_entries(struct store *store, const struct entry_filter *filter,
                        struct entry_list *list)
{
    struct sqlite_store *s = sqlite_store_of(store);
    struct entry_filter none = {0};
    struct entry entry;
    size_t capacity = 0;
    int result = STORE_OK;
    int rc;

    list->items = NULL;
    list->count = 0;
    if (filter == NULL)
        filter = &none;
    sqlite3_stmt *stmt = entry_list_statement(s, filter);
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    bind_entry_filter(stmt, filter);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        sqlite_read_entry(stmt, 0, &entry);
        result = sqlite_entry_list_push(s, list, &capacity, &entry);
        if (result != STORE_OK)
            break;
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, "list entries");

    sqlite_done(stmt);
    if (result != STORE_OK)
        entry_list_free(list);
    return result;
}

static void read_attempt(sqlite3_stmt *stmt, struct attempt *a)
{
    const char *outcome = (const char *)sqlite3_column_text(stmt, 6);

    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(stmt, 0);
    a->entry_id = sqlite3_column_int64(stmt, 1);
    a->number = (uint32_t)sqlite3_column_int64(stmt, 2);
    a->started_at = sqlite3_column_int64(stmt, 3);
    a->ended_at = sqlite3_column_int64(stmt, 4);
    a->finished = sqlite3_column_int(stmt, 5);
    /* A running attempt has no outcome yet; it reads as unknown. */
    a->outcome = OUTCOME_UNKNOWN;
    if (outcome != NULL)
        outcome_parse(outcome, &a->outcome);
    a->http_status = sqlite3_column_int(stmt, 7);
    a->latency_ms = sqlite3_column_int64(stmt, 8);
    sqlite_copy_column(stmt, 9, a->node, sizeof a->node);
    sqlite_copy_column(stmt, 10, a->error, sizeof a->error);
}

static int push_attempt(struct attempt_list *list, size_t *capacity,
                        sqlite3_stmt *stmt)
{
    if (list->count == *capacity) {
        size_t grown = *capacity == 0 ? 8 : *capacity * 2;
        struct attempt *items = realloc(list->items, grown * sizeof *items);

        if (items == NULL)
            return -1;
        list->items = items;
        *capacity = grown;
    }
    read_attempt(stmt, &list->items[list->count++]);
    return 0;
}

int sqlite_list_attempts(struct store *store, int64_t entry_id,
                         struct attempt_list *list)
{
    static const char sql[] =
        "SELECT id, entry_id, number, started_at, ended_at, finished,"
        " outcome, http_status, latency_ms, node, error FROM attempts"
        " WHERE entry_id = ? ORDER BY number";
    struct sqlite_store *s = sqlite_store_of(store);
    struct entry entry;
    size_t capacity = 0;
    int result;
    int rc;

    list->items = NULL;
    list->count = 0;
    result = sqlite_get_entry(store, entry_id, &entry);
    if (result != STORE_OK)
        return result;

    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_ATTEMPT_LIST, sql, "list attempts");
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, entry_id);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (push_attempt(list, &capacity, stmt) != 0) {
            result =
                sqlite_error(s, STORE_ERROR, "out of memory listing attempts");
            break;
        }
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, "list attempts");

    sqlite_done(stmt);
    if (result != STORE_OK)
        attempt_list_free(list);
    return result;
}

int sqlite_count_entries(struct store *store, const char *platform,
                         struct status_counts *counts)
{
    static const char sql[] =
        "SELECT status, count(*) FROM entries"
        " WHERE (?1 IS NULL OR platform = ?1) GROUP BY status";
    struct sqlite_store *s = sqlite_store_of(store);
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ENTRY_COUNT, sql, "count entries");
    int rc;

    memset(counts, 0, sizeof *counts);
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, platform);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        enum entry_status status;
        const char *name = (const char *)sqlite3_column_text(stmt, 0);

        if (entry_status_parse(name, &status) == 0)
            counts->by_status[status] = sqlite3_column_int64(stmt, 1);
    }
    sqlite_done(stmt);
    if (rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "count entries");
    return STORE_OK;
}
