/* Statement cache, error mapping and column helpers of the SQLite store. */
#include "store/sqlite_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/decimal.h"

#include "util/banned.h"

sqlite3_stmt *sqlite_stmt(struct sqlite_store *s, enum sqlite_stmt_id id,
                          const char *sql, const char *op)
{
    sqlite3_stmt *stmt = s->stmts[id];

    if (stmt != NULL) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        return stmt;
    }

    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite_fail(s, rc, op);
        sqlite3_finalize(stmt);
        return NULL;
    }
    s->stmts[id] = stmt;
    return stmt;
}

void sqlite_done(sqlite3_stmt *stmt)
{
    if (stmt == NULL)
        return;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static int map_result(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
        return STORE_FULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_CONSTRAINT:
        return STORE_INVALID;
    default:
        return STORE_ERROR;
    }
}

static const char *result_hint(int result)
{
    switch (result) {
    case STORE_FULL:
        return "; free disk space and check that the database file and "
               "its directory are writable";
    case STORE_BUSY:
        return "; another process held the write lock for over 5 s, "
               "try again";
    default:
        return "";
    }
}

int sqlite_stmt_error(struct sqlite_store *s)
{
    return map_result(sqlite3_errcode(s->db));
}

int sqlite_fail(struct sqlite_store *s, int rc, const char *op)
{
    int result = map_result(rc);

    snprintf(s->base.errmsg, sizeof s->base.errmsg, "%s failed: %s%s", op,
             sqlite3_errmsg(s->db), result_hint(result));
    return result;
}

int sqlite_error(struct sqlite_store *s, int result, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(s->base.errmsg, sizeof s->base.errmsg, fmt, args);
    va_end(args);
    return result;
}

static int exec_cached(struct sqlite_store *s, enum sqlite_stmt_id id,
                       const char *sql, const char *op)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, id, sql, op);

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    return sqlite_exec_stmt(s, stmt, op);
}

int sqlite_begin(struct sqlite_store *s, const char *op)
{
    int result;

    if (s->outer_transaction)
        return STORE_OK;
    result = sqlite_check_file(s);
    if (result != STORE_OK)
        return result;
    return exec_cached(s, STMT_BEGIN, "BEGIN IMMEDIATE", op);
}

int sqlite_commit(struct sqlite_store *s, const char *op)
{
    int result;

    if (s->outer_transaction)
        return STORE_OK;
    result = exec_cached(s, STMT_COMMIT, "COMMIT", op);

    if (result != STORE_OK)
        sqlite_rollback(s);
    return result;
}

void sqlite_rollback(struct sqlite_store *s)
{
    /* A failed step may already have ended the transaction, and an
     * outer one is rolled back by its own operation. */
    if (s->outer_transaction || sqlite3_get_autocommit(s->db))
        return;

    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ROLLBACK, "ROLLBACK", "rollback");
    if (stmt == NULL)
        return;
    sqlite3_step(stmt);
    sqlite_done(stmt);
}

int sqlite_exec_stmt(struct sqlite_store *s, sqlite3_stmt *stmt, const char *op)
{
    int rc = sqlite3_step(stmt);
    int result = STORE_OK;

    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        result = sqlite_fail(s, rc, op);
    sqlite_done(stmt);
    return result;
}

int sqlite_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text == NULL)
        return sqlite3_bind_null(stmt, index);
    return sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

int sqlite_bind_text_max(sqlite3_stmt *stmt, int index, const char *text,
                         size_t max)
{
    size_t len;

    if (text == NULL)
        return sqlite3_bind_text(stmt, index, "", 0, SQLITE_STATIC);

    len = strnlen(text, max);
    if (len >= max) {
        len = max - 1;
        /* Step back over UTF-8 continuation bytes (10xxxxxx). */
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
            len--;
    }
    return sqlite3_bind_text(stmt, index, text, (int)len, SQLITE_STATIC);
}

/* memcpy, not snprintf: a claim copies ten columns per entry, and
 * snprintf's format parsing was 1 % of `bench_store publish`. */
void sqlite_copy_column(sqlite3_stmt *stmt, int col, char *dst, size_t size)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    size_t len;

    if (text == NULL) {
        dst[0] = '\0';
        return;
    }
    len = strnlen((const char *)text, size - 1);
    memcpy(dst, text, len);
    dst[len] = '\0';
}

void sqlite_read_entry(sqlite3_stmt *stmt, int col, struct entry *e)
{
    char status[STORE_NAME_MAX];

    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(stmt, col + 0);
    e->job_id = sqlite3_column_int64(stmt, col + 1);
    sqlite_copy_column(stmt, col + 2, e->content_id, sizeof e->content_id);
    sqlite_copy_column(stmt, col + 3, e->platform, sizeof e->platform);
    sqlite_copy_column(stmt, col + 4, status, sizeof status);
    /* The CHECK constraint on entries.status keeps the parse total. */
    entry_status_parse(status, &e->status);
    e->retry_count = (uint32_t)sqlite3_column_int64(stmt, col + 5);
    e->max_retries = (uint32_t)sqlite3_column_int64(stmt, col + 6);
    e->attempt_count = (uint32_t)sqlite3_column_int64(stmt, col + 7);
    e->scheduled_at = sqlite3_column_int64(stmt, col + 8);
    e->due_at = sqlite3_column_int64(stmt, col + 9);
    e->rate_limit_waited_ms = sqlite3_column_int64(stmt, col + 10);
    sqlite_copy_column(stmt, col + 11, e->idempotency_key,
                       sizeof e->idempotency_key);
    sqlite_copy_column(stmt, col + 12, e->lease_node, sizeof e->lease_node);
    e->lease_expires_at = sqlite3_column_int64(stmt, col + 13);
    e->published_at = sqlite3_column_int64(stmt, col + 14);
    sqlite_copy_column(stmt, col + 15, e->post_id, sizeof e->post_id);
    sqlite_copy_column(stmt, col + 16, e->post_url, sizeof e->post_url);
    sqlite_copy_column(stmt, col + 17, e->last_error, sizeof e->last_error);
    sqlite_copy_column(stmt, col + 18, e->fail_reason, sizeof e->fail_reason);
    e->created_at = sqlite3_column_int64(stmt, col + 19);
    e->updated_at = sqlite3_column_int64(stmt, col + 20);
}

int sqlite_entry_list_push(struct sqlite_store *s, struct entry_list *list,
                           size_t *capacity, const struct entry *entry)
{
    if (list->count == *capacity) {
        size_t grown = *capacity == 0 ? 16 : *capacity * 2;
        struct entry *items = realloc(list->items, grown * sizeof *items);

        if (items == NULL)
            return sqlite_error(s, STORE_ERROR,
                                "out of memory listing "
                                "entries");
        list->items = items;
        *capacity = grown;
    }
    list->items[list->count++] = *entry;
    return STORE_OK;
}

int sqlite_list_ids_json(struct sqlite_store *s, const struct entry *entries,
                         size_t count, enum sqlite_list_ids which,
                         char **json)
{
    /* Two brackets, and per id a comma, a sign and at most 19 digits. */
    size_t size = 3 + count * 21;
    char *text = malloc(size);
    size_t used = 0;

    *json = NULL;
    if (text == NULL)
        return sqlite_error(s, STORE_ERROR,
                            "out of memory listing the ids of %zu entries",
                            count);
    text[used++] = '[';
    for (size_t i = 0; i < count; i++) {
        const struct entry *entry = &entries[i];
        int64_t id = which == SQLITE_JOB_IDS ? entry->job_id : entry->id;

        if (i > 0)
            text[used++] = ',';
        /* The NUL it writes is overwritten by the next comma or ']'. */
        used += decimal_format_int64(text + used, id);
    }
    text[used++] = ']';
    text[used] = '\0';
    *json = text;
    return STORE_OK;
}
