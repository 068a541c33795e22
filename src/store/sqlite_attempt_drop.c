/*
 * Dropping an attempt that a claim opened but that sent no request
 * (SQLite store), so that the attempt list and attempt_count show only
 * requests that may have reached the platform.
 */
#include "store/sqlite_internal.h"

#include "util/banned.h"

int sqlite_attempt_drop(struct sqlite_store *s, int64_t entry_id,
                        uint32_t number)
{
    static const char sql_delete[] =
        "DELETE FROM attempts WHERE entry_id = ?1 AND number = ?2";
    static const char sql_uncount[] =
        "UPDATE entries SET attempt_count = attempt_count - 1"
        " WHERE id = ?1 AND attempt_count = ?2";
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_ATTEMPT_DROP, sql_delete, "drop attempt");
    int result;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, entry_id);
    sqlite3_bind_int64(stmt, 2, number);
    result = sqlite_exec_stmt(s, stmt, "drop attempt");
    if (result != STORE_OK)
        return result;

    stmt = sqlite_stmt(s, STMT_ATTEMPT_UNCOUNT, sql_uncount, "drop attempt");
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, entry_id);
    sqlite3_bind_int64(stmt, 2, number);
    return sqlite_exec_stmt(s, stmt, "uncount attempt");
}
