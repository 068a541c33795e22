/*
 * Crash safety of the SQLite store: a child process submits jobs of 50
 * platforms in a loop and is killed with SIGKILL at different moments.
 * After each kill the file must pass integrity_check and hold only
 * whole jobs: 50 entries and one "accepted" audit record each.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "test_support.h"

#define PLATFORMS 50
#define MAX_ITERATIONS 100000
#define ROUNDS 5
#define NOW INT64_C(1800000000000)

/* Runs in the child until killed; never returns. */
static void submit_forever(const char *path, int round)
{
    const char *platforms[PLATFORMS];
    char names[PLATFORMS][16];
    char err[STORE_ERR_MAX];
    struct store *store = NULL;

    for (int i = 0; i < PLATFORMS; i++) {
        snprintf(names[i], sizeof names[i], "platform-%d", i);
        platforms[i] = names[i];
    }
    if (store_open(path, &store, err, sizeof err) != STORE_OK)
        _exit(2);

    for (int i = 0; i < MAX_ITERATIONS; i++) {
        char id[64];
        struct submit_result result;
        struct job_request req = {
            .content_id = id,
            .content_json = "{\"text\":\"crash test\"}",
            .scheduled_at = NOW,
            .platforms = platforms,
            .platform_count = PLATFORMS,
            .max_retries = 3,
            .source = "test",
        };

        snprintf(id, sizeof id, "crash-%d-%d", round, i);
        if (store->ops->submit_jobs(store, &req, 1, NOW, &result) != STORE_OK)
            _exit(3);
    }
    /* Skips leak checks and atexit handlers of the parent's test run. */
    _exit(0);
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int64_t value = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static int64_t count_jobs(const char *path)
{
    sqlite3 *db = NULL;
    int64_t count;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("open %s: %s", path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 5000);
    count = query_int(db, "SELECT count(*) FROM jobs");
    sqlite3_close(db);
    return count;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Starts a writer, waits until it committed more jobs, then kills it. */
static void kill_mid_write(const char *path, int round)
{
    int64_t before = count_jobs(path);
    pid_t pid = fork();
    int status = 0;

    assert_true(pid >= 0);
    if (pid == 0)
        submit_forever(path, round);

    /* Bounded wait for progress: at most 10 s. */
    for (int i = 0; i < 1000 && count_jobs(path) < before + 3; i++)
        sleep_ms(10);
    assert_true(count_jobs(path) >= before + 3);

    /* A different delay each round lands the kill at a different point
     * of a transaction. */
    sleep_ms(1 + round * 7);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void check_whole_jobs(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "ok");
    sqlite3_finalize(stmt);

    assert_true(query_int(db, "SELECT count(*) FROM jobs") > 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM jobs j WHERE"
                                   " (SELECT count(*) FROM entries e"
                                   "  WHERE e.job_id = j.id) <> 50"),
                     0);
    assert_int_equal(
        query_int(db, "SELECT count(*) FROM jobs j WHERE"
                      " (SELECT count(*) FROM audit a"
                      "  WHERE a.action = 'accepted'"
                      "  AND json_extract(a.metadata, '$.job') = j.id) <> 1"),
        0);
    assert_int_equal(
        query_int(db, "SELECT count(*) FROM audit WHERE action = 'accepted'"),
        query_int(db, "SELECT count(*) FROM jobs"));
    assert_int_equal(query_int(db, "SELECT count(*) FROM entries"
                                   " WHERE idempotency_key IS NULL"),
                     0);
    sqlite3_close(db);
}

static void crash_leaves_whole_jobs(void **state)
{
    const char *path = test_path(test_tmpdir(), "pubq.db");
    struct store *store = NULL;
    char err[STORE_ERR_MAX];

    (void)state;
    assert_int_equal(store_open(path, &store, err, sizeof err), STORE_OK);
    assert_int_equal(store_migrate(store), STORE_OK);
    store_close(store);

    for (int round = 0; round < ROUNDS; round++) {
        kill_mid_write(path, round);
        check_whole_jobs(path);
    }

    /* The store still accepts writes after the crashes. */
    const char *const platforms[] = {"alpha"};
    struct job_request req = {
        .content_id = "after-crash",
        .content_json = "{}",
        .platforms = platforms,
        .platform_count = 1,
    };
    struct submit_result result;
    assert_int_equal(store_open(path, &store, err, sizeof err), STORE_OK);
    assert_int_equal(store->ops->submit_jobs(store, &req, 1, NOW, &result),
                     STORE_OK);
    assert_true(result.job_id > 0);
    store_close(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_leaves_whole_jobs),
    };

    return cmocka_run_group_tests_name("store_crash", tests, NULL, NULL);
}
