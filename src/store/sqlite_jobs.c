/*
 * Event ids and reading jobs, entries and attempts (SQLite store).
 * Creating jobs is in sqlite_submit.c.
 */
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

int sqlite_read_job(sqlite3_stmt *stmt, struct job *job)
{
    const char *json = (const char *)sqlite3_column_text(stmt, 3);

    memset(job, 0, sizeof *job);
    job->id = sqlite3_column_int64(stmt, 0);
    sqlite_copy_column(stmt, 1, job->content_id, sizeof job->content_id);
    sqlite_copy_column(stmt, 2, job->event_id, sizeof job->event_id);
    job->content_json = strdup(json != NULL ? json : "{}");
    job->scheduled_at = sqlite3_column_int64(stmt, 4);
    job->created_at = sqlite3_column_int64(stmt, 5);
    return job->content_json != NULL ? 0 : -1;
}

int sqlite_get_job(struct store *store, int64_t job_id, struct job *job)
{
    static const char sql[] =
        "SELECT " SQLITE_JOB_COLUMNS " FROM jobs WHERE id = ?";
    struct sqlite_store *s = sqlite_store_of(store);
    sqlite3_stmt *stmt;

    memset(job, 0, sizeof *job);
    if (job_cache_get(&s->job_cache, job_id, job))
        return STORE_OK;
    stmt = sqlite_stmt(s, STMT_JOB_GET, sql, "get job");
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, job_id);

    int rc = sqlite3_step(stmt);
    int result = STORE_OK;
    if (rc == SQLITE_ROW) {
        if (sqlite_read_job(stmt, job) != 0)
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
/*
 * entries_status leaves out publishing entries (migration 8), so the
 * term status <> 'publishing' lets SQLite use it, and publishing
 * entries are read from entries_lease, which contains only them. They
 * are as many as the attempts in flight, so sorting them is cheap.
 */
static const char sql_entry_list_by_status[] =
    "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries"
    " WHERE status = ?1 AND status <> 'publishing' AND" ENTRY_LIST_FILTERS;
static const char sql_entry_list_publishing[] =
    "SELECT " SQLITE_ENTRY_COLUMNS " FROM entries INDEXED BY entries_lease"
    " WHERE status = 'publishing' AND" ENTRY_LIST_FILTERS;
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
    if (f->has_status && f->status == ENTRY_PUBLISHING)
        return sqlite_stmt(s, STMT_ENTRY_LIST_PUBLISHING,
                           sql_entry_list_publishing, "list entries");
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
    /* Publishing entries are counted apart: entries_status leaves them
     * out (see sql_entry_list_by_status). */
    static const char sql[] =
        "SELECT status, count(*) FROM entries"
        " WHERE status <> 'publishing' AND (?1 IS NULL OR platform = ?1)"
        " GROUP BY status"
        " UNION ALL SELECT 'publishing', count(*)"
        " FROM entries INDEXED BY entries_lease"
        " WHERE status = 'publishing' AND (?1 IS NULL OR platform = ?1)";
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
