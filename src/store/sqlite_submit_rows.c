/*
 * Buffered rows of a SQLite submit, written by multi-row INSERTs of 64,
 * 16 or 4 rows and single-row INSERTs for the rest. In SQLite 3.40 each
 * INSERT into the entries table opens a cursor on the table and on each
 * of its ten indexes and closes them again. That cost more than writing
 * the row (callgrind, `pubq import` of 2,000 rows), and the other tables
 * of a submit pay the same per statement. INSERTs of 64 rows instead of
 * 16 cut `pubq import` of 10,000 rows from 1,206 to 1,129 million
 * instructions (callgrind). The smaller sizes serve the groups of a few
 * HTTP requests, which rarely fill 16 rows.
 *
 * Ids are chosen here, as the largest id plus one, which is the id
 * SQLite would pick itself because the tables have no AUTOINCREMENT.
 * The write transaction is open, so no other connection inserts
 * meanwhile. Knowing the entry id lets the idempotency key
 * ("pubq-<id>-<hash>") go in with the row instead of through a second
 * UPDATE.
 */
#include "store/sqlite_submit_rows.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define ROWS_2(row) row ", " row
#define ROWS_4(row) ROWS_2(ROWS_2(row))
#define ROWS_16(row) ROWS_4(ROWS_4(row))
#define ROWS_64(row) ROWS_16(ROWS_4(row))

/* Rows per INSERT, largest first; write_table relies on the order. */
static const size_t insert_sizes[] = {64, 16, 4, 1};
#define INSERT_SIZE_COUNT (sizeof insert_sizes / sizeof insert_sizes[0])

/* The statement ids and SQL of one table, by insert_sizes. */
#define ROW_STATEMENTS(one_id, rows_id, insert, row, tail)                     \
    .ids = {rows_id##_64, rows_id##_16, rows_id##_4, one_id},                  \
    .sql = {insert ROWS_64(row) tail, insert ROWS_16(row) tail,                \
            insert ROWS_4(row) tail, insert row tail}

#define CONTENT_INSERT                                                         \
    "INSERT INTO content_items (id, content_json, created_at, updated_at)"     \
    " VALUES "
#define CONTENT_ROW "(?, ?, ?, ?)"
#define CONTENT_UPSERT                                                         \
    " ON CONFLICT (id) DO UPDATE SET content_json = excluded.content_json,"    \
    " updated_at = excluded.updated_at"

#define JOB_INSERT                                                             \
    "INSERT INTO jobs (id, content_id, event_id, content_json, scheduled_at,"  \
    " created_at) VALUES "
#define JOB_ROW "(?, ?, ?, ?, ?, ?)"

#define SEEN_INSERT "INSERT INTO seen_events (event_id, job_id, at) VALUES "
#define SEEN_ROW "(?, ?, ?)"

#define ENTRY_INSERT                                                           \
    "INSERT INTO entries (id, job_id, content_id, platform, status,"           \
    " max_retries, scheduled_at, due_at, idempotency_key, created_at,"         \
    " updated_at) VALUES "
#define ENTRY_ROW "(?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)"

#define ACCEPTED_INSERT                                                        \
    "INSERT INTO audit (at, agent_name, action, job_id, status, metadata)"     \
    " VALUES "
#define ACCEPTED_ROW "(?, 'intake', 'accepted', ?, 'accepted', ?)"

/* Binds row `index` from parameter `first` on and returns an SQLite
 * result code. */
typedef int (*bind_row_fn)(sqlite3_stmt *stmt, int first,
                           const struct submit_rows *rows, size_t index);

/* One table's statements, one for each of insert_sizes. */
struct row_table {
    enum sqlite_stmt_id ids[INSERT_SIZE_COUNT];
    const char *sql[INSERT_SIZE_COUNT];
    int params; /* per row */
    bind_row_fn bind;
    const char *op;
};

static int bind_content(sqlite3_stmt *stmt, int first,
                        const struct submit_rows *rows, size_t index)
{
    const struct content_row *c = &rows->contents[index];

    sqlite_bind_text(stmt, first, c->id);
    sqlite3_bind_int64(stmt, first + 2, rows->now);
    sqlite3_bind_int64(stmt, first + 3, rows->now);
    return sqlite_bind_text(stmt, first + 1, c->content_json);
}

static int bind_job(sqlite3_stmt *stmt, int first,
                    const struct submit_rows *rows, size_t index)
{
    const struct job_row *j = &rows->jobs[index];

    sqlite3_bind_int64(stmt, first, j->id);
    sqlite_bind_text(stmt, first + 1, j->content_id);
    sqlite_bind_text(stmt, first + 2, j->event_id);
    sqlite3_bind_int64(stmt, first + 4, j->scheduled_at);
    sqlite3_bind_int64(stmt, first + 5, rows->now);
    return sqlite_bind_text(stmt, first + 3, j->content_json);
}

static int bind_seen(sqlite3_stmt *stmt, int first,
                     const struct submit_rows *rows, size_t index)
{
    const struct seen_row *e = &rows->seen[index];

    sqlite3_bind_int64(stmt, first + 1, e->job_id);
    sqlite3_bind_int64(stmt, first + 2, rows->now);
    return sqlite_bind_text(stmt, first, e->event_id);
}

static int bind_entry(sqlite3_stmt *stmt, int first,
                      const struct submit_rows *rows, size_t index)
{
    const struct entry_row *e = &rows->entries[index];

    sqlite3_bind_int64(stmt, first, e->id);
    sqlite3_bind_int64(stmt, first + 1, e->job_id);
    sqlite_bind_text(stmt, first + 2, e->content_id);
    sqlite_bind_text(stmt, first + 3, e->platform);
    sqlite3_bind_int64(stmt, first + 4, e->max_retries);
    sqlite3_bind_int64(stmt, first + 5, e->scheduled_at);
    sqlite3_bind_int64(stmt, first + 6, e->due_at);
    sqlite3_bind_int64(stmt, first + 8, rows->now);
    sqlite3_bind_int64(stmt, first + 9, rows->now);
    return sqlite_bind_text(stmt, first + 7, e->idempotency_key);
}

static int bind_accepted(sqlite3_stmt *stmt, int first,
                         const struct submit_rows *rows, size_t index)
{
    const struct accepted_row *a = &rows->accepted[index];

    sqlite3_bind_int64(stmt, first, rows->now);
    sqlite_bind_text_max(stmt, first + 1, a->content_id, STORE_ID_MAX);
    return sqlite_bind_text(stmt, first + 2, a->metadata);
}

static const struct row_table content_table = {
    ROW_STATEMENTS(STMT_CONTENT_UPSERT, STMT_CONTENT_UPSERT_ROWS,
                   CONTENT_INSERT, CONTENT_ROW, CONTENT_UPSERT),
    .params = 4,
    .bind = bind_content,
    .op = "store content item",
};

static const struct row_table job_table = {
    ROW_STATEMENTS(STMT_JOB_INSERT, STMT_JOB_INSERT_ROWS, JOB_INSERT, JOB_ROW,
                   ""),
    .params = 6,
    .bind = bind_job,
    .op = "insert job",
};

static const struct row_table seen_table = {
    ROW_STATEMENTS(STMT_SEEN_EVENT_ROW, STMT_SEEN_EVENT_ROWS, SEEN_INSERT,
                   SEEN_ROW, ""),
    .params = 3,
    .bind = bind_seen,
    .op = "record event id",
};

static const struct row_table entry_table = {
    ROW_STATEMENTS(STMT_ENTRY_INSERT, STMT_ENTRY_INSERT_ROWS, ENTRY_INSERT,
                   ENTRY_ROW, ""),
    .params = 10,
    .bind = bind_entry,
    .op = "insert entry",
};

static const struct row_table accepted_table = {
    ROW_STATEMENTS(STMT_ACCEPTED_INSERT, STMT_ACCEPTED_INSERT_ROWS,
                   ACCEPTED_INSERT, ACCEPTED_ROW, ""),
    .params = 3,
    .bind = bind_accepted,
    .op = "write audit record",
};

/* Writes `count` buffered rows, each INSERT as large as the rows left
 * allow. */
static int write_table(struct submit_rows *rows, const struct row_table *t,
                       size_t count)
{
    struct sqlite_store *s = rows->s;
    size_t done = 0;

    while (done < count) {
        size_t size = 0;
        size_t n;

        while (insert_sizes[size] > count - done)
            size++;
        n = insert_sizes[size];

        /* One of the literals of ROW_STATEMENTS. */
        const char *sql = t->sql[size];
        sqlite3_stmt *stmt = sqlite_stmt(s, t->ids[size], sql, t->op);
        int rc = SQLITE_OK;

        if (stmt == NULL)
            return sqlite_stmt_error(s);
        for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
            rc = t->bind(stmt, (int)i * t->params + 1, rows, done + i);
        if (rc != SQLITE_OK) {
            sqlite_done(stmt);
            return sqlite_fail(s, rc, t->op);
        }

        int result = sqlite_exec_stmt(s, stmt, t->op);
        if (result != STORE_OK)
            return result;
        done += n;
    }
    return STORE_OK;
}

/* Sets *next to the largest id that `sql` reads, plus one. */
static int read_next_id(struct sqlite_store *s, enum sqlite_stmt_id id,
                        const char *sql, int64_t *next)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, id, sql, "submit");
    int rc;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *next = sqlite3_column_int64(stmt, 0) + 1;
    sqlite_done(stmt);
    if (rc != SQLITE_ROW)
        return sqlite_fail(s, rc, "read the largest id");
    return STORE_OK;
}

int submit_rows_init(struct submit_rows *rows, struct sqlite_store *s,
                     int64_t now)
{
    int result;

    memset(rows, 0, sizeof *rows);
    rows->s = s;
    rows->now = now;
    result = read_next_id(s, STMT_JOB_MAX_ID,
                          "SELECT coalesce(max(id), 0) FROM jobs",
                          &rows->next_job_id);
    if (result == STORE_OK)
        result = read_next_id(s, STMT_ENTRY_MAX_ID,
                              "SELECT coalesce(max(id), 0) FROM entries",
                              &rows->next_entry_id);
    return result;
}

static void drop_accepted(struct submit_rows *rows)
{
    for (size_t i = 0; i < rows->accepted_count; i++)
        free(rows->accepted[i].metadata);
    rows->accepted_count = 0;
}

void submit_rows_clear(struct submit_rows *rows)
{
    drop_accepted(rows);
    rows->content_count = 0;
    rows->job_count = 0;
    rows->seen_count = 0;
    rows->entry_count = 0;
}

/* Writes in the order of the foreign keys: content items, jobs, then
 * the rows that name a job. */
int submit_rows_flush(struct submit_rows *rows)
{
    int result = write_table(rows, &content_table, rows->content_count);

    if (result == STORE_OK)
        result = write_table(rows, &job_table, rows->job_count);
    if (result == STORE_OK)
        result = write_table(rows, &seen_table, rows->seen_count);
    if (result == STORE_OK)
        result = write_table(rows, &entry_table, rows->entry_count);
    if (result == STORE_OK)
        result = write_table(rows, &accepted_table, rows->accepted_count);
    submit_rows_clear(rows);
    return result;
}

static int id_space_left(struct submit_rows *rows, int64_t next)
{
    if (next < INT64_MAX)
        return STORE_OK;
    return sqlite_error(rows->s, STORE_ERROR,
                        "no row id left after %" PRId64
                        "; the database cannot take more jobs",
                        next);
}

int submit_rows_add_job(struct submit_rows *rows, const struct job_request *req,
                        int64_t scheduled_at, int64_t *job_id)
{
    int result = STORE_OK;

    /* The content, job and event id buffers fill together, and the
     * event id buffer never holds more rows than the job buffer. */
    if (rows->job_count == SUBMIT_ROWS)
        result = submit_rows_flush(rows);
    if (result == STORE_OK)
        result = id_space_left(rows, rows->next_job_id);
    if (result != STORE_OK)
        return result;

    *job_id = rows->next_job_id++;
    rows->contents[rows->content_count++] = (struct content_row){
        .id = req->content_id,
        .content_json = req->content_json,
    };
    rows->jobs[rows->job_count++] = (struct job_row){
        .id = *job_id,
        .content_id = req->content_id,
        .event_id = req->event_id,
        .content_json = req->content_json,
        .scheduled_at = scheduled_at,
    };
    if (req->event_id != NULL)
        rows->seen[rows->seen_count++] = (struct seen_row){
            .event_id = req->event_id,
            .job_id = *job_id,
        };
    return STORE_OK;
}

int submit_rows_add_entry(struct submit_rows *rows, struct entry_row *entry)
{
    int result = STORE_OK;

    /* Flushes the buffered jobs too, which the entries reference. */
    if (rows->entry_count == SUBMIT_ROWS)
        result = submit_rows_flush(rows);
    if (result == STORE_OK)
        result = id_space_left(rows, rows->next_entry_id);
    if (result != STORE_OK)
        return result;

    entry->id = rows->next_entry_id++;
    store_key_make(entry->idempotency_key, sizeof entry->idempotency_key,
                   entry->id, entry->content_id, entry->platform,
                   entry->job_id);
    rows->entries[rows->entry_count++] = *entry;
    return STORE_OK;
}

int submit_rows_add_accepted(struct submit_rows *rows, const char *content_id,
                             char *metadata)
{
    int result = STORE_OK;

    if (rows->accepted_count == SUBMIT_ROWS)
        result = submit_rows_flush(rows);
    if (result != STORE_OK) {
        free(metadata);
        return result;
    }

    rows->accepted[rows->accepted_count++] = (struct accepted_row){
        .content_id = content_id,
        .metadata = metadata,
    };
    return STORE_OK;
}

int submit_rows_find_event(const struct submit_rows *rows, const char *event_id,
                           int64_t *job_id)
{
    for (size_t i = 0; i < rows->seen_count; i++) {
        if (strcmp(rows->seen[i].event_id, event_id) == 0) {
            *job_id = rows->seen[i].job_id;
            return 1;
        }
    }
    return 0;
}
