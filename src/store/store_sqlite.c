/* Opening and closing the SQLite store, and its table of operations. */
#include "store/store_sqlite.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/sqlite_internal.h"
#include "util/banned.h"

#define BUSY_TIMEOUT_MS 5000

static void sqlite_close(struct store *store)
{
    struct sqlite_store *s = sqlite_store_of(store);

    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    sqlite_wake_close(s);
    sqlite3_close(s->db);
    job_cache_clear(&s->job_cache);
    free(s->file_path);
    free(s);
}

static int run_pragma(sqlite3 *db, const char *sql, const char *expect,
                      char *err, size_t errlen);
static int sqlite_check_health(struct store *store);

/*
 * SQLite's page cache is per handle (2 MB by default); a negative
 * cache_size is a size in KiB. The file's pages stay in the kernel's
 * page cache, so a page missing here costs a read system call, not a
 * disk read.
 */
static int sqlite_shrink_cache(struct store *store)
{
    struct sqlite_store *s = (struct sqlite_store *)store;

    _Static_assert(STORE_SMALL_CACHE_KIB == 256,
                   "the PRAGMA below spells out STORE_SMALL_CACHE_KIB");
    return run_pragma(s->db, "PRAGMA cache_size = -256", NULL,
                      s->base.errmsg, sizeof s->base.errmsg);
}

static const struct store_ops sqlite_ops = {
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .submit_jobs = sqlite_submit_jobs,
    .submit_groups = sqlite_submit_groups,
    .get_job = sqlite_get_job,
    .get_entry = sqlite_get_entry,
    .list_entries = sqlite_list_entries,
    .list_attempts = sqlite_list_attempts,
    .count_entries = sqlite_count_entries,
    .claim_due = sqlite_claim_due,
    .next_due_at = sqlite_next_due_at,
    .claim_ahead = sqlite_claim_ahead,
    .start_claimed = sqlite_start_claimed,
    .warm_claimed = sqlite_warm_claimed,
    .complete_attempts = sqlite_complete_attempts,
    .complete_and_claim = sqlite_complete_and_claim,
    .renew_leases = sqlite_renew_leases,
    .release_leases = sqlite_release_leases,
    .recover_leases = sqlite_recover_leases,
    .sweep = sqlite_sweep,
    .retry_entry = sqlite_retry_entry,
    .cancel_entry = sqlite_cancel_entry,
    .mark_published = sqlite_mark_published,
    .cancel_content = sqlite_cancel_content,
    .reschedule_content = sqlite_reschedule_content,
    .pause_platform = sqlite_pause_platform,
    .resume_platform = sqlite_resume_platform,
    .list_platform_states = sqlite_list_platform_states,
    .get_platform_data = sqlite_get_platform_data,
    .set_platform_data = sqlite_set_platform_data,
    .list_audit = sqlite_list_audit,
    .attempt_stats = sqlite_attempt_stats,
    .wake_fd = sqlite_wake_fd,
    .consume_wakeups = sqlite_consume_wakeups,
    .shrink_cache = sqlite_shrink_cache,
    .check_health = sqlite_check_health,
    .close = sqlite_close,
};

/*
 * Runs one PRAGMA. When `expect` is set, the first row must equal it
 * (journal_mode returns the mode it actually set).
 */
static int run_pragma(sqlite3 *db, const char *sql, const char *expect,
                      char *err, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s failed: %s", sql, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return rc == SQLITE_BUSY ? STORE_BUSY : STORE_ERROR;
    }

    const char *got = (const char *)sqlite3_column_text(stmt, 0);
    if (expect != NULL && (got == NULL || strcmp(got, expect) != 0)) {
        snprintf(err, errlen, "%s returned \"%s\", expected \"%s\"", sql,
                 got != NULL ? got : "", expect);
        sqlite3_finalize(stmt);
        return STORE_ERROR;
    }
    sqlite3_finalize(stmt);
    return STORE_OK;
}

/*
 * WAL lets readers (the page, the CLI) run beside the writer.
 * synchronous=FULL, the default, syncs the WAL on every commit. With
 * NORMAL (opt-in through the URL) a commit is written to the WAL file
 * but synced only at checkpoints. A process crash then loses nothing,
 * because the file is written. A power loss or OS crash can undo the
 * last transactions, but the database stays intact. The journal mode
 * is stored in the file, so another application's database keeps its
 * own; migrate then rejects that database.
 *
 * temp_store=MEMORY keeps statement journals in memory. A multi-row
 * INSERT that can fail on a constraint needs one, and SQLite 3.40 spills
 * it to a temporary file past 64 KiB. With that file, `pubq import` of
 * 10,000 rows made 44,311 pwrite calls, against 5,863 with this setting
 * (strace -c).
 */
static int configure(sqlite3 *db, const char *synchronous, char *err,
                     size_t errlen)
{
    int result;

    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    result = sqlite_schema_check_owner(db, err, errlen);
    if (result == STORE_OK)
        result = run_pragma(db, "PRAGMA journal_mode = WAL", "wal", err,
                            errlen);
    else if (result == STORE_INVALID)
        result = STORE_OK;
    if (result == STORE_OK)
        result = run_pragma(db, synchronous, NULL, err, errlen);
    if (result == STORE_OK)
        result = run_pragma(db, "PRAGMA foreign_keys = ON", NULL, err, errlen);
    if (result == STORE_OK)
        result =
            run_pragma(db, "PRAGMA temp_store = MEMORY", NULL, err, errlen);
    return result;
}

/*
 * Reads the parameters after "?" in `query` (NAME=VALUE pairs joined by
 * "&") and sets *pragma to the synchronous PRAGMA they ask for. The only
 * parameter is synchronous, full or normal.
 */
static int parse_query(const char *query, const char **pragma, char *err,
                       size_t errlen)
{
    *pragma = "PRAGMA synchronous = FULL";

    while (query[0] != '\0') {
        size_t len = strcspn(query, "&");

        if (len == strlen("synchronous=full") &&
            strncmp(query, "synchronous=full", len) == 0) {
            *pragma = "PRAGMA synchronous = FULL";
        } else if (len == strlen("synchronous=normal") &&
                   strncmp(query, "synchronous=normal", len) == 0) {
            *pragma = "PRAGMA synchronous = NORMAL";
        } else {
            snprintf(err, errlen,
                     "invalid database URL parameter \"%.*s\": use "
                     "synchronous=full or synchronous=normal",
                     (int)(len > 200 ? 200 : len), query);
            return STORE_INVALID;
        }
        query += len;
        if (query[0] == '&')
            query++;
    }
    return STORE_OK;
}

/*
 * Splits "PATH?QUERY" at the last "?" into a copy of PATH (*file, caller
 * frees) and the synchronous PRAGMA. A path without "?" is taken whole.
 */
static int split_url(const char *url, char **file, const char **pragma,
                     char *err, size_t errlen)
{
    const char *mark = strrchr(url, '?');
    size_t len = mark != NULL ? (size_t)(mark - url) : strlen(url);
    int result = parse_query(mark != NULL ? mark + 1 : "", pragma, err,
                             errlen);

    if (result != STORE_OK)
        return result;
    if (len == 0) {
        snprintf(err, errlen, "missing file path before \"?\" in the "
                              "database URL");
        return STORE_INVALID;
    }
    *file = strndup(url, len);
    if (*file == NULL) {
        snprintf(err, errlen, "out of memory opening \"%s\"", url);
        return STORE_ERROR;
    }
    return STORE_OK;
}

int sqlite_check_file(struct sqlite_store *s)
{
    struct stat now;

    if (!s->file_known)
        return STORE_OK;
    if (stat(s->file_path, &now) == 0 && now.st_dev == s->file_dev &&
        now.st_ino == s->file_ino)
        return STORE_OK;
    return sqlite_error(s, STORE_FULL,
                        "the database file %s was deleted or replaced "
                        "while pubq had it open; writes are refused so "
                        "that none is lost with the old file: restore the "
                        "file, then restart pubq",
                        s->file_path);
}

static int sqlite_check_health(struct store *store)
{
    return sqlite_check_file(sqlite_store_of(store));
}

/* Remembers which file `path` names now, for sqlite_check_file. */
static int note_file(struct sqlite_store *s, const char *path)
{
    struct stat info;

    if (strcmp(path, ":memory:") == 0 || stat(path, &info) != 0)
        return 0;
    s->file_path = strdup(path);
    if (s->file_path == NULL)
        return -1;
    s->file_dev = info.st_dev;
    s->file_ino = info.st_ino;
    s->file_known = 1;
    return 0;
}

/*
 * Turns off SQLite's memory statistics, which pubq never reads. With
 * them on, every allocation takes a global mutex; Debian's SQLite 3.40
 * is built without lookaside memory, so a statement allocates on almost
 * every step. Off, `bench_store publish` of 2,048 entries ran 8 % fewer
 * instructions (callgrind). sqlite3_config works only before SQLite is
 * initialised, so it runs once, before the first open. When another
 * part of the process initialised SQLite first, it fails and changes
 * nothing.
 */
static void configure_library(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static pthread_once_t library_configured = PTHREAD_ONCE_INIT;

static int open_file(const char *path, const char *synchronous, int create,
                     struct store **out, char *err, size_t errlen)
{
    struct sqlite_store *s = calloc(1, sizeof *s);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                (create ? SQLITE_OPEN_CREATE : 0);
    struct stat info;

    if (s == NULL) {
        snprintf(err, errlen, "out of memory opening \"%s\"", path);
        return STORE_ERROR;
    }
    s->wake_fd = SQLITE_WAKE_UNOPENED;
    pthread_once(&library_configured, configure_library);

    if (!create && strcmp(path, ":memory:") != 0 && stat(path, &info) != 0) {
        snprintf(err, errlen,
                 "database file %s does not exist: it was deleted or moved "
                 "after pubq started; restore it, then restart pubq",
                 path);
        free(s);
        return STORE_INVALID;
    }

    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen,
                 "cannot open database \"%s\": %s; check that the "
                 "directory exists and is writable",
                 path, s->db != NULL ? sqlite3_errmsg(s->db) : "no memory");
        sqlite3_close(s->db);
        free(s);
        return rc == SQLITE_CANTOPEN ? STORE_INVALID : STORE_ERROR;
    }

    int result = configure(s->db, synchronous, err, errlen);
    if (result == STORE_OK && note_file(s, path) != 0) {
        snprintf(err, errlen, "out of memory opening \"%s\"", path);
        result = STORE_ERROR;
    }
    if (result != STORE_OK) {
        sqlite3_close(s->db);
        free(s->file_path);
        free(s);
        return result;
    }

    s->base.ops = &sqlite_ops;
    *out = &s->base;
    return STORE_OK;
}

int store_sqlite_open(const char *url, int create, struct store **out,
                      char *err, size_t errlen)
{
    char *path = NULL;
    const char *synchronous = NULL;
    int result = split_url(url, &path, &synchronous, err, errlen);

    if (result == STORE_OK)
        result = open_file(path, synchronous, create, out, err, errlen);
    free(path);
    return result;
}
