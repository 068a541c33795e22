/* The audit log of the SQLite store: writing records and querying them. */
#include "store/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static const char sql_audit_insert[] =
    "INSERT INTO audit (at, agent_name, action, job_id, entry_id, platform,"
    " status, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

static const char *or_empty(const char *text)
{
    return text != NULL ? text : "";
}

int sqlite_audit_insert(struct sqlite_store *s,
                        const struct sqlite_audit *record)
{
    char *metadata = NULL;

    if (record->metadata != NULL) {
        metadata = json_dumps(record->metadata, JSON_COMPACT);
        if (metadata == NULL)
            return sqlite_error(s, STORE_ERROR,
                                "out of memory writing the audit record "
                                "\"%s\"",
                                record->action);
    }

    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_AUDIT_INSERT, sql_audit_insert, "write audit");
    if (stmt == NULL) {
        free(metadata);
        return sqlite_stmt_error(s);
    }

    sqlite3_bind_int64(stmt, 1, record->at);
    sqlite3_bind_text(stmt, 2, or_empty(record->agent), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, or_empty(record->action), -1, SQLITE_STATIC);
    sqlite_bind_text_max(stmt, 4, record->content_id, STORE_ID_MAX);
    sqlite3_bind_int64(stmt, 5, record->entry_id);
    sqlite3_bind_text(stmt, 6, or_empty(record->platform), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 7, or_empty(record->status), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, metadata != NULL ? metadata : "{}", -1,
                      SQLITE_STATIC);

    int result = sqlite_exec_stmt(s, stmt, "write audit record");
    free(metadata);
    return result;
}

/*
 * Audit lists, newest first. As with entry lists, each variant leads
 * with an equality on one indexed column so SQLite walks that index in
 * rowid order; the job id is the most selective, then the platform,
 * then the action.
 */
#define AUDIT_COLUMNS                                                          \
    "SELECT id, at, agent_name, action, job_id, entry_id, platform, status,"   \
    " metadata FROM audit WHERE"
#define AUDIT_FILTERS                                                          \
    " (?1 IS NULL OR job_id = ?1)"                                             \
    " AND (?2 IS NULL OR action = ?2)"                                         \
    " AND (?3 IS NULL OR platform = ?3)"                                       \
    " AND at >= ?4 AND at < ?5 AND id < ?6"                                    \
    " ORDER BY id DESC LIMIT ?7"

static const char sql_audit_list[] = AUDIT_COLUMNS AUDIT_FILTERS;
static const char sql_audit_list_by_job[] =
    AUDIT_COLUMNS " job_id = ?1 AND" AUDIT_FILTERS;
/* audit_platform leaves out records without a platform (migration 8),
 * and the term platform <> '' lets SQLite use it. */
static const char sql_audit_list_by_platform[] =
    AUDIT_COLUMNS " platform = ?3 AND platform <> '' AND" AUDIT_FILTERS;
static const char sql_audit_list_by_action[] =
    AUDIT_COLUMNS " action = ?2 AND" AUDIT_FILTERS;

static sqlite3_stmt *audit_list_statement(struct sqlite_store *s,
                                          const struct audit_filter *f)
{
    if (f->job_id != NULL)
        return sqlite_stmt(s, STMT_AUDIT_LIST_BY_JOB, sql_audit_list_by_job,
                           "list audit");
    /* An empty platform selects records without one: no index has them. */
    if (f->platform != NULL && f->platform[0] != '\0')
        return sqlite_stmt(s, STMT_AUDIT_LIST_BY_PLATFORM,
                           sql_audit_list_by_platform, "list audit");
    if (f->action != NULL)
        return sqlite_stmt(s, STMT_AUDIT_LIST_BY_ACTION,
                           sql_audit_list_by_action, "list audit");
    return sqlite_stmt(s, STMT_AUDIT_LIST, sql_audit_list, "list audit");
}

static int read_audit(sqlite3_stmt *stmt, struct audit_record *r)
{
    const char *metadata = (const char *)sqlite3_column_text(stmt, 8);

    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(stmt, 0);
    r->at = sqlite3_column_int64(stmt, 1);
    sqlite_copy_column(stmt, 2, r->agent_name, sizeof r->agent_name);
    sqlite_copy_column(stmt, 3, r->action, sizeof r->action);
    sqlite_copy_column(stmt, 4, r->job_id, sizeof r->job_id);
    r->entry_id = sqlite3_column_int64(stmt, 5);
    sqlite_copy_column(stmt, 6, r->platform, sizeof r->platform);
    sqlite_copy_column(stmt, 7, r->status, sizeof r->status);
    r->metadata_json = strdup(metadata != NULL ? metadata : "{}");
    return r->metadata_json != NULL ? 0 : -1;
}

static void bind_audit_filter(sqlite3_stmt *stmt, const struct audit_filter *f)
{
    sqlite_bind_text(stmt, 1, f->job_id);
    sqlite_bind_text(stmt, 2, f->action);
    sqlite_bind_text(stmt, 3, f->platform);
    sqlite3_bind_int64(stmt, 4, f->from != 0 ? f->from : INT64_MIN);
    sqlite3_bind_int64(stmt, 5, f->to != 0 ? f->to : INT64_MAX);
    sqlite3_bind_int64(stmt, 6, f->before_id != 0 ? f->before_id : INT64_MAX);
    sqlite3_bind_int64(stmt, 7, f->limit != 0 ? (int64_t)f->limit : 100);
}

static int push_audit(struct audit_list *list, size_t *capacity,
                      sqlite3_stmt *stmt)
{
    if (list->count == *capacity) {
        size_t grown = *capacity == 0 ? 16 : *capacity * 2;
        struct audit_record *items =
            realloc(list->items, grown * sizeof *items);

        if (items == NULL)
            return -1;
        list->items = items;
        *capacity = grown;
    }
    if (read_audit(stmt, &list->items[list->count]) != 0)
        return -1;
    list->count++;
    return 0;
}

int sqlite_list_audit(struct store *store, const struct audit_filter *filter,
                      struct audit_list *list)
{
    struct sqlite_store *s = sqlite_store_of(store);
    struct audit_filter none = {0};
    size_t capacity = 0;
    int result = STORE_OK;
    int rc;

    list->items = NULL;
    list->count = 0;
    if (filter == NULL)
        filter = &none;
    sqlite3_stmt *stmt = audit_list_statement(s, filter);
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    bind_audit_filter(stmt, filter);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (push_audit(list, &capacity, stmt) != 0) {
            result = sqlite_error(s, STORE_ERROR,
                                  "out of memory listing audit records");
            break;
        }
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, "list audit");

    sqlite_done(stmt);
    if (result != STORE_OK)
        audit_list_free(list);
    return result;
}
