/*
 * Ceiling of the SQLite store: writes the rows pubq stores per event,
 * with nothing else around them, into a database that `pubq migrate`
 * created, so the schema and indexes are pubq's own.
 *
 *   sqlite_rows DB JOBS JOBS_PER_TRANSACTION ROWS_PER_INSERT full|off
 *               ids|no-ids
 *
 * Each job is one content item, one job, one entry on platform "sink"
 * and one "accepted" audit record. With "ids" each job also has an
 * event id, which is looked up first, as pubq does, and stored in
 * seen_events. The connection is
 * set up as pubq's: WAL, foreign_keys=ON, temp_store=MEMORY and
 * synchronous FULL (or OFF, to show the cost of the syncs). Rows go in
 * INSERTs of ROWS_PER_INSERT rows, and the rest one row at a time.
 * Prints one line with the jobs per second. Built by hand, outside make,
 * as bench/findings.md shows.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_COUNT 5
#define DUE_AT INT64_C(1893456000000) /* 2030-01-01 */
#define NOW INT64_C(1764800000000)

enum table { CONTENT, JOB, SEEN, ENTRY, AUDIT };

/* The statements of sqlite_submit_rows.c, one row each. */
static const char *const row_sql[TABLE_COUNT] = {
    "INSERT INTO content_items (id, content_json, created_at, updated_at)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
    " content_json = excluded.content_json, updated_at = excluded.updated_at",
    "INSERT INTO jobs (id, content_id, event_id, content_json, scheduled_at,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
    "INSERT INTO seen_events (event_id, job_id, at) VALUES (?, ?, ?)",
    "INSERT INTO entries (id, job_id, content_id, platform, status,"
    " max_retries, scheduled_at, due_at, idempotency_key, created_at,"
    " updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
    "INSERT INTO audit (at, agent_name, action, job_id, status, metadata)"
    " VALUES (?, 'intake', 'accepted', ?, 'accepted', ?)",
};
static const int row_params[TABLE_COUNT] = {4, 6, 3, 10, 3};

/* The text values of one job, formatted before the transaction. */
struct job_text {
    char content_id[32];
    char event_id[32];
    char content_json[64];
    char key[64];
    char metadata[192];
};

struct run {
    sqlite3 *db;
    sqlite3_stmt *one[TABLE_COUNT];
    sqlite3_stmt *many[TABLE_COUNT];
    sqlite3_stmt *find_event;
    long rows_per_insert;
    int event_ids;
    struct job_text *texts; /* of the transaction's jobs */
    long first_job;         /* the job id of texts[0] */
};

static double seconds_now(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void check(struct run *run, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        fprintf(stderr, "sqlite_rows: %s: %s\n", what, sqlite3_errmsg(run->db));
        exit(1);
    }
}

/* Returns `sql` with its VALUES tuple repeated `count` times, on the
 * heap. */
static char *repeat_values(const char *sql, long count)
{
    const char *tuple = strstr(sql, "VALUES ") + 7;
    const char *tail = strchr(tuple, ')') + 1;
    size_t head_length = (size_t)(tuple - sql);
    size_t tuple_length = (size_t)(tail - tuple);
    char *out = malloc(strlen(sql) + (size_t)count * (tuple_length + 2));
    char *p = out;

    if (out == NULL)
        exit(1);
    memcpy(p, sql, head_length);
    p += head_length;
    for (long i = 0; i < count; i++) {
        if (i > 0) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, tuple, tuple_length);
        p += tuple_length;
    }
    memcpy(p, tail, strlen(tail) + 1);
    return out;
}

static void format_job(struct job_text *text, long job)
{
    snprintf(text->content_id, sizeof text->content_id, "c%ld", job);
    snprintf(text->event_id, sizeof text->event_id, "e%ld", job);
    snprintf(text->content_json, sizeof text->content_json,
             "{\"text\":\"hello %ld\"}", job);
    snprintf(text->key, sizeof text->key, "pubq-%ld-0123456789abcdef", job);
    snprintf(text->metadata, sizeof text->metadata,
             "{\"job\":%ld,\"platforms\":[\"sink\"],\"scheduled_at\":"
             "1893456000000,\"source\":\"import\",\"event_id\":\"e%ld\"}",
             job, job);
}

static void bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

/* Binds the row of `table` for `job` from parameter `first` on. */
static void bind_row(struct run *run, sqlite3_stmt *stmt, enum table table,
                     int first, long job)
{
    const struct job_text *t = &run->texts[job - run->first_job];

    switch (table) {
    case CONTENT:
        bind_text(stmt, first, t->content_id);
        bind_text(stmt, first + 1, t->content_json);
        sqlite3_bind_int64(stmt, first + 2, NOW);
        sqlite3_bind_int64(stmt, first + 3, NOW);
        break;
    case JOB:
        sqlite3_bind_int64(stmt, first, job);
        bind_text(stmt, first + 1, t->content_id);
        if (run->event_ids)
            bind_text(stmt, first + 2, t->event_id);
        else
            sqlite3_bind_null(stmt, first + 2);
        bind_text(stmt, first + 3, t->content_json);
        sqlite3_bind_int64(stmt, first + 4, DUE_AT);
        sqlite3_bind_int64(stmt, first + 5, NOW);
        break;
    case SEEN:
        bind_text(stmt, first, t->event_id);
        sqlite3_bind_int64(stmt, first + 1, job);
        sqlite3_bind_int64(stmt, first + 2, NOW);
        break;
    case ENTRY:
        sqlite3_bind_int64(stmt, first, job);
        sqlite3_bind_int64(stmt, first + 1, job);
        bind_text(stmt, first + 2, t->content_id);
        bind_text(stmt, first + 3, "sink");
        sqlite3_bind_int64(stmt, first + 4, 5);
        sqlite3_bind_int64(stmt, first + 5, DUE_AT);
        sqlite3_bind_int64(stmt, first + 6, DUE_AT);
        bind_text(stmt, first + 7, t->key);
        sqlite3_bind_int64(stmt, first + 8, NOW);
        sqlite3_bind_int64(stmt, first + 9, NOW);
        break;
    case AUDIT:
        sqlite3_bind_int64(stmt, first, NOW);
        bind_text(stmt, first + 1, t->content_id);
        bind_text(stmt, first + 2, t->metadata);
        break;
    }
}

/* Looks up each event id, as pubq does before storing a job. */
static void find_events(struct run *run, long count)
{
    for (long i = 0; i < count; i++) {
        bind_text(run->find_event, 1, run->texts[i].event_id);
        if (sqlite3_step(run->find_event) != SQLITE_DONE) {
            fprintf(stderr,
                    "sqlite_rows: event id %s exists; start from a "
                    "fresh database\n",
                    run->texts[i].event_id);
            exit(1);
        }
        sqlite3_reset(run->find_event);
    }
}

static void write_table(struct run *run, enum table table, long count)
{
    long done = 0;

    while (done < count) {
        long n =
            count - done >= run->rows_per_insert ? run->rows_per_insert : 1;
        sqlite3_stmt *stmt =
            n == run->rows_per_insert ? run->many[table] : run->one[table];

        for (long i = 0; i < n; i++)
            bind_row(run, stmt, table, (int)i * row_params[table] + 1,
                     run->first_job + done + i);
        check(run, sqlite3_step(stmt), row_sql[table]);
        sqlite3_reset(stmt);
        done += n;
    }
}

static void write_transaction(struct run *run, long count)
{
    for (long i = 0; i < count; i++)
        format_job(&run->texts[i], run->first_job + i);

    check(run, sqlite3_exec(run->db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
          "BEGIN");
    if (run->event_ids)
        find_events(run, count);
    for (int table = 0; table < TABLE_COUNT; table++) {
        if (table != SEEN || run->event_ids)
            write_table(run, (enum table)table, count);
    }
    check(run, sqlite3_exec(run->db, "COMMIT", NULL, NULL, NULL), "COMMIT");
}

static void open_database(struct run *run, const char *path, int synced)
{
    char *many;

    check(run, sqlite3_open(path, &run->db), "open");
    check(run,
          sqlite3_exec(run->db,
                       synced ? "PRAGMA synchronous = FULL"
                              : "PRAGMA synchronous = OFF",
                       NULL, NULL, NULL),
          "PRAGMA synchronous");
    check(run,
          sqlite3_exec(run->db,
                       "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;"
                       " PRAGMA temp_store = MEMORY",
                       NULL, NULL, NULL),
          "PRAGMA");
    for (int table = 0; table < TABLE_COUNT; table++) {
        many = repeat_values(row_sql[table], run->rows_per_insert);
        check(run,
              sqlite3_prepare_v2(run->db, row_sql[table], -1, &run->one[table],
                                 NULL),
              row_sql[table]);
        check(run,
              sqlite3_prepare_v2(run->db, many, -1, &run->many[table], NULL),
              many);
        free(many);
    }
    check(run,
          sqlite3_prepare_v2(run->db,
                             "SELECT job_id FROM seen_events"
                             " WHERE event_id = ?",
                             -1, &run->find_event, NULL),
          "SELECT seen_events");
}

int main(int argc, char **argv)
{
    struct run run = {0};
    long jobs;
    long per_transaction;
    double start;
    double seconds;

    if (argc != 7) {
        fprintf(stderr, "usage: sqlite_rows DB JOBS JOBS_PER_TRANSACTION "
                        "ROWS_PER_INSERT full|off ids|no-ids\n");
        return 2;
    }
    jobs = strtol(argv[2], NULL, 10);
    per_transaction = strtol(argv[3], NULL, 10);
    run.rows_per_insert = strtol(argv[4], NULL, 10);
    run.event_ids = strcmp(argv[6], "ids") == 0;
    if (jobs <= 0 || per_transaction <= 0 || run.rows_per_insert <= 0) {
        fprintf(stderr, "sqlite_rows: JOBS, JOBS_PER_TRANSACTION and "
                        "ROWS_PER_INSERT must be positive\n");
        return 2;
    }
    run.texts = calloc((size_t)per_transaction, sizeof *run.texts);
    if (run.texts == NULL)
        return 1;
    open_database(&run, argv[1], strcmp(argv[5], "off") != 0);

    start = seconds_now();
    for (run.first_job = 1; run.first_job <= jobs;
         run.first_job += per_transaction) {
        long left = jobs - run.first_job + 1;

        write_transaction(&run,
                          left < per_transaction ? left : per_transaction);
    }
    seconds = seconds_now() - start;

    printf("jobs=%ld per_transaction=%ld rows_per_insert=%ld "
           "synchronous=%s %s seconds=%.3f jobs_per_s=%.0f\n",
           jobs, per_transaction, run.rows_per_insert, argv[5], argv[6],
           seconds, (double)jobs / seconds);
    sqlite3_close(run.db);
    free(run.texts);
    return 0;
}
