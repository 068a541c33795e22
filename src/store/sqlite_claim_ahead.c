/*
 * Claiming entries ahead of their due time, starting their attempts at
 * the due time, and putting back claims whose attempt never started
 * (SQLite store). An attempt claimed ahead has started_at = 0 until
 * start_claimed stamps it. Every writer that may take the entry back
 * checks that row inside its own transaction, and SQLite runs one
 * writer at a time, so a cancel and a start never both win.
 */
#include "store/sqlite_internal.h"
#include "store/store_check.h"
#include "store/store_platform_set.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/*
 * The claim statement of claim_due, for entries due in (?3, ?6]. The
 * lease runs from the due time, so that the wait before it uses none of
 * the lease.
 */
static const char sql_claim_ahead[] =
    "UPDATE entries SET status = 'publishing', claimed_from = status,"
    " lease_node = ?1, lease_expires_at = due_at + ?2,"
    " attempt_count = attempt_count + 1, updated_at = ?3"
    " WHERE id IN (SELECT id FROM entries INDEXED BY entries_due"
    "   WHERE status IN ('pending', 'retrying')"
    "   AND due_at > ?3 AND due_at <= ?6"
    "   AND platform IN (SELECT value FROM json_each(?5))"
    "   AND platform NOT IN (SELECT platform FROM platform_state"
    "     WHERE paused_until > due_at)"
    "   ORDER BY due_at, id LIMIT ?4)"
    " RETURNING " SQLITE_ENTRY_COLUMNS;

/*
 * Whether anything waits in the window, read before taking the write
 * lock: the engine calls claim_ahead on every turn of its loop, and
 * usually nothing is there, so it need not wait for writers such as the
 * HTTP intake.
 */
static const char sql_ahead_exists[] =
    "SELECT 1 FROM entries INDEXED BY entries_due"
    " WHERE status IN ('pending', 'retrying')"
    " AND due_at > ?1 AND due_at <= ?2 LIMIT 1";

/* The attempt claimed ahead, not started: started_at 0. */
static const char sql_attempt_reserve[] =
    "INSERT INTO attempts (entry_id, number, started_at, node)"
    " VALUES (?1, ?2, 0, ?3)";

/*
 * One statement per claim, all in one transaction. It costs about a
 * third of the instructions of one statement over a JSON array of the
 * claims, which spends them parsing JSON.
 */
static const char sql_claim_start[] =
    "UPDATE attempts SET started_at = ?1"
    " WHERE entry_id = ?2 AND number = ?3 AND started_at = 0"
    " AND EXISTS (SELECT 1 FROM entries e WHERE e.id = ?2"
    "   AND e.status = 'publishing' AND e.lease_node = ?4"
    "   AND e.attempt_count = ?3 AND e.due_at = ?5)";

/* The rows that sql_claim_start reads and changes, only read. */
static const char sql_claim_start_read[] =
    "SELECT a.started_at FROM attempts a"
    " WHERE a.entry_id = ?1 AND a.number = ?2 AND a.started_at = 0"
    " AND EXISTS (SELECT 1 FROM entries e WHERE e.id = ?1"
    "   AND e.status = 'publishing' AND e.lease_node = ?3"
    "   AND e.attempt_count = ?2 AND e.due_at = ?4)";

/* Selects the entries whose current attempt was claimed ahead and has
 * not started. */
#define UNSTARTED                                                              \
    " status = 'publishing' AND EXISTS (SELECT 1 FROM attempts a"              \
    "   WHERE a.entry_id = entries.id AND a.number = entries.attempt_count"    \
    "   AND a.started_at = 0)"

#define UNCLAIM_SET                                                            \
    "UPDATE entries SET status = coalesce(claimed_from, 'pending'),"           \
    " attempt_count = attempt_count - 1, lease_node = NULL,"                   \
    " lease_expires_at = 0, claimed_from = NULL, updated_at = ?1"

static const char sql_unclaim_entry[] =
    UNCLAIM_SET " WHERE id = ?2 AND" UNSTARTED
    " RETURNING id, attempt_count + 1";

static const char sql_unclaim_content[] =
    UNCLAIM_SET " WHERE content_id = ?2"
    " AND (?3 IS NULL OR platform IN (SELECT value FROM json_each(?3)))"
    " AND" UNSTARTED " RETURNING id, attempt_count + 1";

/* A claim of ?3 whose platform is paused at ?1, the time of the start. */
static const char sql_unclaim_paused[] =
    UNCLAIM_SET " WHERE id = ?2 AND lease_node = ?3"
    " AND platform IN (SELECT platform FROM platform_state"
    "   WHERE paused_until > ?1)"
    " AND" UNSTARTED " RETURNING id, attempt_count + 1";

static const char sql_any_paused[] =
    "SELECT 1 FROM platform_state WHERE paused_until > ?1 LIMIT 1";

static const char sql_attempt_delete[] =
    "DELETE FROM attempts WHERE entry_id = ?1 AND number = ?2"
    " AND started_at = 0";

static int compare_due(const void *a, const void *b)
{
    const struct entry *x = a;
    const struct entry *y = b;

    if (x->due_at != y->due_at)
        return x->due_at < y->due_at ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return 0;
}

static int run_claim_ahead(struct sqlite_store *s, const char *node,
                           const char *platform_set, int64_t now,
                           int64_t until, int64_t lease_ms, size_t max,
                           struct entry_list *list)
{
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_CLAIM_AHEAD, sql_claim_ahead, "claim ahead");
    struct entry entry;
    size_t capacity = 0;
    int result = STORE_OK;
    int rc;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, node);
    sqlite3_bind_int64(stmt, 2, lease_ms);
    sqlite3_bind_int64(stmt, 3, now);
    sqlite3_bind_int64(stmt, 4, max > INT64_MAX ? INT64_MAX : (int64_t)max);
    sqlite_bind_text(stmt, 5, platform_set);
    sqlite3_bind_int64(stmt, 6, until);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        sqlite_read_entry(stmt, 0, &entry);
        result = sqlite_entry_list_push(s, list, &capacity, &entry);
        if (result != STORE_OK)
            break;
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, "claim entries ahead");
    sqlite_done(stmt);
    return result;
}

static int window_has_entries(struct sqlite_store *s, int64_t now,
                              int64_t until, int *found)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_AHEAD_EXISTS, sql_ahead_exists,
                                     "claim ahead");
    int rc;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, until);
    rc = sqlite3_step(stmt);
    sqlite_done(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "look for entries to claim ahead");
    *found = rc == SQLITE_ROW;
    return STORE_OK;
}

static int reserve_attempt(struct sqlite_store *s, const struct entry *entry)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ATTEMPT_RESERVE,
                                     sql_attempt_reserve, "claim ahead");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, entry->id);
    sqlite3_bind_int64(stmt, 2, entry->attempt_count);
    sqlite_bind_text(stmt, 3, entry->lease_node);
    return sqlite_exec_stmt(s, stmt, "reserve attempt");
}

int sqlite_claim_ahead(struct store *store, const char *node,
                       const char *const *platforms, size_t platform_count,
                       int64_t now, int64_t until, int64_t lease_ms,
                       size_t max, struct entry_list *list)
{
    struct sqlite_store *s = sqlite_store_of(store);
    char *platform_set = NULL;
    int found = 0;
    int result;

    list->items = NULL;
    list->count = 0;
    result = store_check_claim(store, node, now, lease_ms);
    if (result == STORE_OK)
        result = store_platform_set_json(store, platforms, platform_count,
                                         &platform_set);
    if (result == STORE_OK && max > 0 && platform_count > 0 && until > now)
        result = window_has_entries(s, now, until, &found);
    if (result != STORE_OK || !found) {
        free(platform_set);
        return result;
    }

    result = sqlite_begin(s, "claim entries ahead");
    if (result == STORE_OK)
        result = run_claim_ahead(s, node, platform_set, now, until, lease_ms,
                                 max, list);
    for (size_t i = 0; result == STORE_OK && i < list->count; i++)
        result = reserve_attempt(s, &list->items[i]);
    if (result == STORE_OK)
        result = sqlite_commit(s, "claim entries ahead");
    else
        sqlite_rollback(s);
    free(platform_set);

    if (result != STORE_OK) {
        entry_list_free(list);
        return result;
    }
    /* RETURNING gives rows in no promised order. */
    if (list->count > 1)
        qsort(list->items, list->count, sizeof *list->items, compare_due);
    return STORE_OK;
}

static int mark_started(struct sqlite_store *s, const char *node,
                        struct claim_start *claim, int64_t now)
{
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_CLAIM_START, sql_claim_start, "start claimed");
    int result;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, claim->entry_id);
    sqlite3_bind_int64(stmt, 3, claim->attempt_number);
    sqlite_bind_text(stmt, 4, node);
    sqlite3_bind_int64(stmt, 5, claim->due_at);
    result = sqlite_exec_stmt(s, stmt, "start claimed attempt");
    claim->started = result == STORE_OK && sqlite3_changes(s->db) == 1;
    return result;
}

/* Reads the connection's synchronous level: 0 OFF to 3 EXTRA. */
static int read_synchronous(struct sqlite_store *s, int *level)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA synchronous", -1, &stmt, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *level = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return sqlite_fail(s, rc, "read the synchronous setting");
    return STORE_OK;
}

/* Sets the synchronous level: 1 NORMAL, 2 FULL or 3 EXTRA. */
static int set_synchronous(struct sqlite_store *s, int level)
{
    int rc;

    switch (level) {
    case 1:
        rc = sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL,
                          NULL);
        break;
    case 2:
        rc = sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL,
                          NULL);
        break;
    case 3:
        rc = sqlite3_exec(s->db, "PRAGMA synchronous = EXTRA", NULL, NULL,
                          NULL);
        break;
    default:
        return sqlite_error(s, STORE_ERROR, "invalid synchronous level %d",
                            level);
    }
    return rc == SQLITE_OK ? STORE_OK
                           : sqlite_fail(s, rc, "set the synchronous level");
}

static int finish_unclaim(struct sqlite_store *s, sqlite3_stmt *stmt,
                          size_t *count_out);

/* Sets *any to 1 when some platform is paused at `now`. */
static int any_paused(struct sqlite_store *s, int64_t now, int *any)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ANY_PAUSED, sql_any_paused,
                                     "start claimed");
    int rc;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, now);
    rc = sqlite3_step(stmt);
    sqlite_done(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "find paused platforms");
    *any = rc == SQLITE_ROW;
    return STORE_OK;
}

/*
 * Puts back the claims of platforms paused since they were claimed, so
 * that they wait for the pause to end like entries not claimed. The
 * usual case, no pause at all, costs one query.
 */
static int unclaim_paused(struct sqlite_store *s, const char *node,
                          const struct claim_start *claims, size_t count,
                          int64_t now)
{
    int any = 0;
    int result = any_paused(s, now, &any);

    for (size_t i = 0; result == STORE_OK && any && i < count; i++) {
        sqlite3_stmt *stmt = sqlite_stmt(s, STMT_UNCLAIM_PAUSED,
                                         sql_unclaim_paused, "start claimed");

        if (stmt == NULL)
            return sqlite_stmt_error(s);
        sqlite3_bind_int64(stmt, 1, now);
        sqlite3_bind_int64(stmt, 2, claims[i].entry_id);
        sqlite_bind_text(stmt, 3, node);
        result = finish_unclaim(s, stmt, NULL);
    }
    return result;
}

static int mark_all_started(struct sqlite_store *s, const char *node,
                            struct claim_start *claims, size_t count,
                            int64_t now)
{
    int result = sqlite_begin(s, "start claimed attempts");

    if (result == STORE_OK)
        result = unclaim_paused(s, node, claims, count, now);

    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = mark_started(s, node, &claims[i], now);
    if (result == STORE_OK)
        result = sqlite_commit(s, "start claimed attempts");
    else
        sqlite_rollback(s);
    return result;
}

int sqlite_start_claimed(struct store *store, const char *node,
                         struct claim_start *claims, size_t count,
                         int64_t now)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int level = 2;
    int result;

    for (size_t i = 0; i < count; i++)
        claims[i].started = 0;
    if (node == NULL || node[0] == '\0')
        return sqlite_error(s, STORE_INVALID,
                            "invalid start of claimed attempts: missing "
                            "node id");
    if (count == 0)
        return STORE_OK;

    /*
     * In WAL mode, NORMAL writes the commit to the WAL file without an
     * fsync: a process crash keeps it. The fsync of the next commit
     * with FULL makes it durable too.
     */
    result = read_synchronous(s, &level);
    if (result == STORE_OK && level > 1)
        result = set_synchronous(s, 1);
    if (result != STORE_OK)
        return result;
    result = mark_all_started(s, node, claims, count, now);
    if (level > 1) {
        int restored = set_synchronous(s, level);

        if (result == STORE_OK)
            result = restored;
    }
    if (result != STORE_OK) {
        for (size_t i = 0; i < count; i++)
            claims[i].started = 0;
    }
    return result;
}

static int read_claimed(struct sqlite_store *s, const char *node,
                        const struct claim_start *claim)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_CLAIM_START_READ,
                                     sql_claim_start_read, "warm claimed");
    int rc;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, claim->entry_id);
    sqlite3_bind_int64(stmt, 2, claim->attempt_number);
    sqlite_bind_text(stmt, 3, node);
    sqlite3_bind_int64(stmt, 4, claim->due_at);
    rc = sqlite3_step(stmt);
    sqlite_done(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "read a claimed attempt");
    return STORE_OK;
}

/*
 * One read transaction for all, so that SQLite checks the WAL for
 * changes once rather than once per statement.
 */
int sqlite_warm_claimed(struct store *store, const char *node,
                        const struct claim_start *claims, size_t count)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int result = STORE_OK;
    int rc;

    if (node == NULL || count == 0 || s->outer_transaction)
        return STORE_OK;
    rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(s, rc, "warm claimed attempts");
    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = read_claimed(s, node, &claims[i]);
    rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (result == STORE_OK && rc != SQLITE_OK)
        result = sqlite_fail(s, rc, "warm claimed attempts");
    return result;
}

static int delete_reserved_attempt(struct sqlite_store *s, int64_t entry_id,
                                   int64_t number)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ATTEMPT_DELETE,
                                     sql_attempt_delete, "put back a claim");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, entry_id);
    sqlite3_bind_int64(stmt, 2, number);
    return sqlite_exec_stmt(s, stmt, "remove an unstarted attempt");
}

/* A returned row of the unclaim statements: entry id, attempt number. */
struct unclaimed {
    int64_t entry_id;
    int64_t number;
};

/*
 * Steps a bound unclaim statement, then removes the attempt row of each
 * entry it put back. RETURNING has made every change by the first step.
 */
static int finish_unclaim(struct sqlite_store *s, sqlite3_stmt *stmt,
                          size_t *count_out)
{
    struct unclaimed *rows = NULL;
    size_t count = 0;
    size_t capacity = 0;
    int result = STORE_OK;
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == capacity) {
            size_t grown = capacity == 0 ? 8 : capacity * 2;
            struct unclaimed *more = realloc(rows, grown * sizeof *rows);

            if (more == NULL) {
                result = sqlite_error(s, STORE_ERROR, "out of memory");
                break;
            }
            rows = more;
            capacity = grown;
        }
        rows[count].entry_id = sqlite3_column_int64(stmt, 0);
        rows[count].number = sqlite3_column_int64(stmt, 1);
        count++;
    }
    if (result == STORE_OK && rc != SQLITE_DONE)
        result = sqlite_fail(s, rc, "put back claimed entries");
    sqlite_done(stmt);

    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = delete_reserved_attempt(s, rows[i].entry_id, rows[i].number);
    free(rows);
    if (count_out != NULL)
        *count_out = result == STORE_OK ? count : 0;
    return result;
}

int sqlite_unclaim_entry(struct sqlite_store *s, int64_t entry_id,
                         int64_t now, int *unclaimed)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_UNCLAIM_ENTRY, sql_unclaim_entry,
                                     "put back a claimed entry");
    size_t count = 0;
    int result;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, entry_id);
    result = finish_unclaim(s, stmt, &count);
    if (unclaimed != NULL)
        *unclaimed = count > 0;
    return result;
}

int sqlite_unclaim_content(struct sqlite_store *s, const char *content_id,
                           const char *platform_set, int64_t now)
{
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_UNCLAIM_CONTENT, sql_unclaim_content,
                    "put back claimed entries");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, now);
    sqlite_bind_text(stmt, 2, content_id);
    sqlite_bind_text(stmt, 3, platform_set);
    return finish_unclaim(s, stmt, NULL);
}
