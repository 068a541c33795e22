/* Platform pauses and adapter state (SQLite store). */
#include "store/sqlite_internal.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static int audit_platform(struct sqlite_store *s, const char *platform,
                          const char *action, const char *status,
                          json_t *metadata, const char *agent, int64_t now)
{
    struct sqlite_audit record = {
        .at = now,
        .agent = store_agent_or_default(agent),
        .action = action,
        .platform = platform,
        .status = status,
        .metadata = metadata,
    };

    return sqlite_audit_insert(s, &record);
}

int sqlite_pause(struct sqlite_store *s, const char *platform, int64_t until,
                 const char *reason, int64_t now, const char *agent,
                 int extend_only)
{
    static const char sql[] =
        "INSERT INTO platform_state (platform, paused_until, pause_reason,"
        " updated_at) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (platform) DO UPDATE SET"
        " pause_reason = CASE WHEN ?5 AND paused_until > excluded.paused_until"
        "   THEN pause_reason ELSE excluded.pause_reason END,"
        " paused_until = CASE WHEN ?5"
        "   THEN max(paused_until, excluded.paused_until)"
        "   ELSE excluded.paused_until END,"
        " updated_at = excluded.updated_at";
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_PLATFORM_PAUSE, sql, "pause platform");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, platform);
    sqlite3_bind_int64(stmt, 2, until);
    sqlite_bind_text_max(stmt, 3, reason, STORE_TEXT_MAX);
    sqlite3_bind_int64(stmt, 4, now);
    sqlite3_bind_int(stmt, 5, extend_only);

    int result = sqlite_exec_stmt(s, stmt, "pause platform");
    if (result != STORE_OK)
        return result;

    /* INT64_MAX is "until resumed", written as null. */
    json_t *metadata = json_pack(
        "{s:o, s:s}", "until",
        until == INT64_MAX ? json_null() : json_integer((json_int_t)until),
        "reason", reason != NULL ? reason : "");
    result = audit_platform(s, platform, "platform_paused", "paused", metadata,
                            agent, now);
    json_decref(metadata);
    return result;
}

int sqlite_pause_platform(struct store *store, const char *platform,
                          int64_t until, const char *reason, int64_t now,
                          const char *agent)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int result = store_check_platform(store, platform);

    if (result != STORE_OK)
        return result;
    if (until <= now)
        return sqlite_error(s, STORE_INVALID,
                            "invalid pause of \"%s\" until %" PRId64
                            ": the time has passed; give a later time",
                            platform, until);

    result = sqlite_begin(s, "pause platform");
    if (result == STORE_OK)
        result = sqlite_pause(s, platform, until, reason, now, agent, 0);
    if (result == STORE_OK)
        return sqlite_commit(s, "pause platform");
    sqlite_rollback(s);
    return result;
}

/* Ends an active pause; *resumed is 0 when there was none. */
static int end_pause(struct sqlite_store *s, const char *platform, int64_t now,
                     int *resumed)
{
    static const char sql[] =
        "UPDATE platform_state SET paused_until = 0, pause_reason = '',"
        " updated_at = ?2 WHERE platform = ?1 AND paused_until > ?2";
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_PLATFORM_RESUME, sql, "resume platform");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, platform);
    sqlite3_bind_int64(stmt, 2, now);

    int result = sqlite_exec_stmt(s, stmt, "resume platform");
    *resumed = result == STORE_OK && sqlite3_changes(s->db) == 1;
    return result;
}

int sqlite_resume_platform(struct store *store, const char *platform,
                           int64_t now, const char *agent)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int resumed = 0;
    int result = store_check_platform(store, platform);

    if (result == STORE_OK)
        result = sqlite_begin(s, "resume platform");
    if (result != STORE_OK)
        return result;

    /* Resuming a platform that is not paused changes and records nothing. */
    result = end_pause(s, platform, now, &resumed);
    if (result == STORE_OK && resumed)
        result = audit_platform(s, platform, "platform_resumed", "resumed",
                                NULL, agent, now);
    if (result == STORE_OK)
        return sqlite_commit(s, "resume platform");
    sqlite_rollback(s);
    return result;
}

static int push_state(struct platform_state_list *list, size_t *capacity,
                      sqlite3_stmt *stmt)
{
    if (list->count == *capacity) {
        size_t grown = *capacity == 0 ? 8 : *capacity * 2;
        struct platform_state *items =
            realloc(list->items, grown * sizeof *items);

        if (items == NULL)
            return -1;
        list->items = items;
        *capacity = grown;
    }

    struct platform_state *p = &list->items[list->count++];
    memset(p, 0, sizeof *p);
    sqlite_copy_column(stmt, 0, p->platform, sizeof p->platform);
    p->paused_until = sqlite3_column_int64(stmt, 1);
    sqlite_copy_column(stmt, 2, p->pause_reason, sizeof p->pause_reason);
    p->updated_at = sqlite3_column_int64(stmt, 3);
    return 0;
}

int sqlite_list_platform_states(struct store *store,
                                struct platform_state_list *list)
{
    static const char sql[] =
        "SELECT platform, paused_until, pause_reason, updated_at"
        " FROM platform_state ORDER BY platform";
    struct sqlite_store *s = sqlite_store_of(store);
    size_t capacity = 0;
    int result = STORE_OK;
    int rc;

    list->items = NULL;
    list->count = 0;
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_PLATFORM_LIST, sql, "list platform states");
    if (stmt == NULL)
        return sqlite_stmt_error(s);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (push_state(list, &capacity, stmt) != 0) {
            result =
                sqlite_error(s, STORE_ERROR, "out of memory listing platforms");
            break;
        }
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, "list platform states");
    sqlite_done(stmt);
    if (result != STORE_OK)
        platform_state_list_free(list);
    return result;
}

int sqlite_get_platform_data(struct store *store, const char *platform,
                             char **json)
{
    static const char sql[] = "SELECT data_json FROM platform_state"
                              " WHERE platform = ? AND data_json IS NOT NULL";
    struct sqlite_store *s = sqlite_store_of(store);
    int result = store_check_platform(store, platform);

    *json = NULL;
    if (result != STORE_OK)
        return result;
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_PLATFORM_DATA_GET, sql, "get platform data");
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, platform);

    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *json = strdup((const char *)sqlite3_column_text(stmt, 0));
        if (*json == NULL)
            result = sqlite_error(s, STORE_ERROR, "out of memory");
    } else if (rc == SQLITE_DONE) {
        result = sqlite_error(s, STORE_NOT_FOUND,
                              "no stored data for platform \"%s\"", platform);
    } else {
        result = sqlite_fail(s, rc, "get platform data");
    }
    sqlite_done(stmt);
    return result;
}

int sqlite_set_platform_data(struct store *store, const char *platform,
                             const char *json, int64_t now)
{
    static const char sql[] =
        "INSERT INTO platform_state (platform, data_json, updated_at)"
        " VALUES (?1, ?2, ?3) ON CONFLICT (platform) DO UPDATE SET"
        " data_json = excluded.data_json, updated_at = excluded.updated_at";
    struct sqlite_store *s = sqlite_store_of(store);
    json_error_t error;
    int result = store_check_platform(store, platform);

    if (result != STORE_OK)
        return result;
    json_t *parsed =
        json != NULL ? json_loads(json, JSON_DECODE_ANY, &error) : NULL;
    if (parsed == NULL)
        return sqlite_error(s, STORE_INVALID,
                            "invalid data for platform \"%s\": not JSON",
                            platform);
    json_decref(parsed);

    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_PLATFORM_DATA_SET, sql, "set platform data");
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, platform);
    sqlite_bind_text(stmt, 2, json);
    sqlite3_bind_int64(stmt, 3, now);
    return sqlite_exec_stmt(s, stmt, "set platform data");
}
