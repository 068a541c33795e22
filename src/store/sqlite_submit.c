/*
 * Creating jobs (SQLite store): submit_jobs, and the writes that
 * submit_groups (sqlite_submit_groups.c) runs for each group.
 *
 * Content items, jobs and event ids are written one row at a time in
 * request order, so that a later request sees the event id of an
 * earlier one in the same transaction. Entries and the "accepted" audit
 * records are buffered and written SUBMIT_ROWS rows per INSERT, because
 * in SQLite 3.40 each INSERT into the entries table opens a cursor on
 * the table and each of its nine indexes and closes them again, which
 * cost more than writing the row (callgrind, `pubq import` of 2,000
 * rows).
 */
#include "store/sqlite_internal.h"
#include "store/store_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "util/banned.h"

#define SUBMIT_ROWS 16
#define ROWS_2(row) row ", " row
#define ROWS_16(row) ROWS_2(ROWS_2(ROWS_2(ROWS_2(row))))

#define ENTRY_INSERT                                                           \
    "INSERT INTO entries (id, job_id, content_id, platform, status,"           \
    " max_retries, scheduled_at, due_at, idempotency_key, created_at,"         \
    " updated_at) VALUES "
#define ENTRY_ROW "(?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)"
#define ENTRY_PARAMS 10

#define ACCEPTED_INSERT                                                        \
    "INSERT INTO audit (at, agent_name, action, job_id, status, metadata)"     \
    " VALUES "
#define ACCEPTED_ROW "(?, 'intake', 'accepted', ?, 'accepted', ?)"
#define ACCEPTED_PARAMS 3

static const char sql_entry_insert[] = ENTRY_INSERT ENTRY_ROW;
static const char sql_entry_insert_rows[] = ENTRY_INSERT ROWS_16(ENTRY_ROW);
static const char sql_accepted_insert[] = ACCEPTED_INSERT ACCEPTED_ROW;
static const char sql_accepted_insert_rows[] =
    ACCEPTED_INSERT ROWS_16(ACCEPTED_ROW);

struct entry_row {
    int64_t id;
    int64_t job_id;
    const char *content_id; /* borrowed from the request */
    const char *platform;
    uint32_t max_retries;
    int64_t scheduled_at;
    int64_t due_at;
    char idempotency_key[STORE_KEY_MAX];
};

struct accepted_row {
    const char *content_id; /* borrowed from the request */
    char *metadata;         /* heap JSON text */
};

/* The rows of one submit that wait for their multi-row INSERT. */
struct submit_rows {
    struct sqlite_store *s;
    int64_t now;
    int64_t next_entry_id;
    struct entry_row entries[SUBMIT_ROWS];
    size_t entry_count;
    struct accepted_row accepted[SUBMIT_ROWS];
    size_t accepted_count;
};

/*
 * Entry ids are chosen here, as the largest id plus one, which is the
 * id SQLite would pick itself because the table has no AUTOINCREMENT.
 * The write transaction is open, so no other connection inserts
 * meanwhile, and the idempotency key ("pubq-<id>-<hash>") goes in with
 * the row instead of through a second UPDATE.
 */
static int rows_init(struct submit_rows *rows, struct sqlite_store *s,
                     int64_t now)
{
    static const char sql[] = "SELECT coalesce(max(id), 0) FROM entries";
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_ENTRY_MAX_ID, sql, "submit");
    int rc;

    memset(rows, 0, sizeof *rows);
    rows->s = s;
    rows->now = now;
    if (stmt == NULL)
        return sqlite_stmt_error(s);

    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        rows->next_entry_id = sqlite3_column_int64(stmt, 0) + 1;
    sqlite_done(stmt);
    if (rc != SQLITE_ROW)
        return sqlite_fail(s, rc, "read the largest entry id");
    return STORE_OK;
}

static void drop_accepted(struct submit_rows *rows)
{
    for (size_t i = 0; i < rows->accepted_count; i++)
        free(rows->accepted[i].metadata);
    rows->accepted_count = 0;
}

static void rows_clear(struct submit_rows *rows)
{
    drop_accepted(rows);
    rows->entry_count = 0;
}

static void bind_entry(sqlite3_stmt *stmt, int first, const struct entry_row *e,
                       int64_t now)
{
    sqlite3_bind_int64(stmt, first, e->id);
    sqlite3_bind_int64(stmt, first + 1, e->job_id);
    sqlite_bind_text(stmt, first + 2, e->content_id);
    sqlite_bind_text(stmt, first + 3, e->platform);
    sqlite3_bind_int64(stmt, first + 4, e->max_retries);
    sqlite3_bind_int64(stmt, first + 5, e->scheduled_at);
    sqlite3_bind_int64(stmt, first + 6, e->due_at);
    sqlite_bind_text(stmt, first + 7, e->idempotency_key);
    sqlite3_bind_int64(stmt, first + 8, now);
    sqlite3_bind_int64(stmt, first + 9, now);
}

static void bind_accepted(sqlite3_stmt *stmt, int first,
                          const struct accepted_row *a, int64_t now)
{
    sqlite3_bind_int64(stmt, first, now);
    sqlite_bind_text_max(stmt, first + 1, a->content_id, STORE_ID_MAX);
    sqlite_bind_text(stmt, first + 2, a->metadata);
}

/* Writes every buffered entry: whole INSERTs of SUBMIT_ROWS, then one
 * row per INSERT for the rest. */
static int write_entries(struct submit_rows *rows)
{
    struct sqlite_store *s = rows->s;
    size_t done = 0;
    int result = STORE_OK;

    while (result == STORE_OK && done < rows->entry_count) {
        size_t n = rows->entry_count - done >= SUBMIT_ROWS ? SUBMIT_ROWS : 1;
        sqlite3_stmt *stmt =
            n == SUBMIT_ROWS
                ? sqlite_stmt(s, STMT_ENTRY_INSERT_ROWS, sql_entry_insert_rows,
                              "insert entries")
                : sqlite_stmt(s, STMT_ENTRY_INSERT, sql_entry_insert,
                              "insert entry");

        if (stmt == NULL)
            return sqlite_stmt_error(s);
        for (size_t i = 0; i < n; i++)
            bind_entry(stmt, (int)(i * ENTRY_PARAMS) + 1,
                       &rows->entries[done + i], rows->now);
        result = sqlite_exec_stmt(s, stmt, "insert entry");
        done += n;
    }
    rows->entry_count = 0;
    return result;
}

static int write_accepted(struct submit_rows *rows)
{
    struct sqlite_store *s = rows->s;
    size_t done = 0;
    int result = STORE_OK;

    while (result == STORE_OK && done < rows->accepted_count) {
        size_t n = rows->accepted_count - done >= SUBMIT_ROWS ? SUBMIT_ROWS : 1;
        sqlite3_stmt *stmt =
            n == SUBMIT_ROWS
                ? sqlite_stmt(s, STMT_ACCEPTED_INSERT_ROWS,
                              sql_accepted_insert_rows, "write audit records")
                : sqlite_stmt(s, STMT_ACCEPTED_INSERT, sql_accepted_insert,
                              "write audit record");

        if (stmt == NULL)
            return sqlite_stmt_error(s);
        for (size_t i = 0; i < n; i++)
            bind_accepted(stmt, (int)(i * ACCEPTED_PARAMS) + 1,
                          &rows->accepted[done + i], rows->now);
        result = sqlite_exec_stmt(s, stmt, "write audit record");
        done += n;
    }
    drop_accepted(rows);
    return result;
}

/* Writes every buffered row; the buffers are empty afterwards. */
static int rows_flush(struct submit_rows *rows)
{
    int result = write_entries(rows);

    if (result == STORE_OK)
        result = write_accepted(rows);
    rows_clear(rows);
    return result;
}

static int add_entry(struct submit_rows *rows, const struct entry_row *entry)
{
    int result = STORE_OK;

    if (rows->entry_count == SUBMIT_ROWS)
        result = write_entries(rows);
    if (result == STORE_OK)
        rows->entries[rows->entry_count++] = *entry;
    return result;
}

/* The letter of the two-character escape of `c`, or 0 when it has none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

/*
 * Appends `text` as a JSON string at *out and advances it, with the
 * escapes of jansson's json_dumps: a backslash before " and \, the
 * short forms \b \f \n \r \t, \u00XX for the other control
 * characters, every other character as it is. A byte that is not valid
 * UTF-8 becomes U+FFFD. Written here because json_dumps of jansson
 * 2.14 spent about 12,000 instructions on each of these small records
 * (callgrind), mostly in a call per output piece and in a reference-loop
 * check per object.
 */
static void append_json_string(char **out, const char *text)
{
    const utf8proc_uint8_t *c = (const utf8proc_uint8_t *)text;
    char *p = *out;

    *p++ = '"';
    while (*c != 0) {
        char escape = short_escape(*c);
        utf8proc_int32_t code_point;
        utf8proc_ssize_t used = utf8proc_iterate(c, -1, &code_point);

        if (escape != 0) {
            *p++ = '\\';
            *p++ = escape;
        } else if (*c < 0x20) {
            p += snprintf(p, 7, "\\u%04X", *c);
        } else if (used < 0) {
            p += snprintf(p, 7, "\\uFFFD");
        } else {
            memcpy(p, c, (size_t)used);
            p += used;
        }
        c += used > 0 ? used : 1;
    }
    *p++ = '"';
    *out = p;
}

/* The bytes append_json_string may write for `text`, at most. */
static size_t json_string_bound(const char *text)
{
    return text != NULL ? 6 * strlen(text) + 2 : 4;
}

/*
 * Returns the metadata of the "accepted" record as heap JSON text,
 * {"job", "platforms", "scheduled_at", "source", "event_id"}, or NULL
 * when out of memory.
 */
static char *accepted_metadata(const struct job_request *req, int64_t job_id,
                               int64_t scheduled_at)
{
    const char *source = req->source != NULL ? req->source : "unknown";
    size_t size =
        128 + json_string_bound(source) + json_string_bound(req->event_id);
    char *text;
    char *p;

    for (size_t i = 0; i < req->platform_count; i++)
        size += json_string_bound(req->platforms[i]) + 1;
    text = malloc(size);
    if (text == NULL)
        return NULL;

    p = text +
        snprintf(text, size, "{\"job\":%" PRId64 ",\"platforms\":[", job_id);
    for (size_t i = 0; i < req->platform_count; i++) {
        if (i > 0)
            *p++ = ',';
        append_json_string(&p, req->platforms[i]);
    }
    p += snprintf(p, size - (size_t)(p - text),
                  "],\"scheduled_at\":%" PRId64 ",\"source\":", scheduled_at);
    append_json_string(&p, source);
    memcpy(p, ",\"event_id\":", 12);
    p += 12;
    if (req->event_id != NULL)
        append_json_string(&p, req->event_id);
    else
        p += snprintf(p, size - (size_t)(p - text), "null");
    memcpy(p, "}", 2);
    return text;
}

static int add_accepted(struct submit_rows *rows, const struct job_request *req,
                        int64_t job_id, int64_t scheduled_at)
{
    char *metadata = accepted_metadata(req, job_id, scheduled_at);
    int result = STORE_OK;

    if (metadata == NULL)
        return sqlite_error(rows->s, STORE_ERROR,
                            "out of memory writing the audit record "
                            "\"accepted\"");
    if (rows->accepted_count == SUBMIT_ROWS)
        result = write_accepted(rows);
    if (result != STORE_OK) {
        free(metadata);
        return result;
    }
    rows->accepted[rows->accepted_count].content_id = req->content_id;
    rows->accepted[rows->accepted_count].metadata = metadata;
    rows->accepted_count++;
    return STORE_OK;
}

static int upsert_content(struct sqlite_store *s, const struct job_request *req,
                          int64_t now)
{
    static const char sql[] =
        "INSERT INTO content_items (id, content_json, created_at,"
        " updated_at) VALUES (?1, ?2, ?3, ?3)"
        " ON CONFLICT (id) DO UPDATE SET"
        " content_json = excluded.content_json,"
        " updated_at = excluded.updated_at";
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_CONTENT_UPSERT, sql, "submit");

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, req->content_id);
    if (sqlite_bind_text(stmt, 2, req->content_json) != SQLITE_OK) {
        sqlite_done(stmt);
        return sqlite_fail(s, SQLITE_TOOBIG, "store content");
    }
    sqlite3_bind_int64(stmt, 3, now);
    return sqlite_exec_stmt(s, stmt, "store content item");
}

/*
 * Inserts the job and sets *job_id. RETURNING would make SQLite 3.40
 * open a temporary B-tree for every row; the connection belongs to this
 * store alone, so the last inserted rowid is this one.
 */
static int insert_job(struct sqlite_store *s, const struct job_request *req,
                      int64_t scheduled_at, int64_t now, int64_t *job_id)
{
    static const char sql[] =
        "INSERT INTO jobs (content_id, event_id, content_json, scheduled_at,"
        " created_at) VALUES (?, ?, ?, ?, ?)";
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_JOB_INSERT, sql, "submit");
    int result;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite_bind_text(stmt, 1, req->content_id);
    sqlite_bind_text(stmt, 2, req->event_id);
    if (sqlite_bind_text(stmt, 3, req->content_json) != SQLITE_OK) {
        sqlite_done(stmt);
        return sqlite_fail(s, SQLITE_TOOBIG, "insert job");
    }
    sqlite3_bind_int64(stmt, 4, scheduled_at);
    sqlite3_bind_int64(stmt, 5, now);

    result = sqlite_exec_stmt(s, stmt, "insert job");
    if (result == STORE_OK)
        *job_id = sqlite3_last_insert_rowid(s->db);
    return result;
}

static int add_entries(struct submit_rows *rows, const struct job_request *req,
                       int64_t job_id, int64_t scheduled_at)
{
    struct entry_row entry = {
        .job_id = job_id,
        .content_id = req->content_id,
        .max_retries = req->max_retries,
        .scheduled_at = scheduled_at,
        .due_at = scheduled_at > rows->now ? scheduled_at : rows->now,
    };
    int result = STORE_OK;

    for (size_t i = 0; result == STORE_OK && i < req->platform_count; i++) {
        entry.id = rows->next_entry_id++;
        entry.platform = req->platforms[i];
        if (req->platform_max_retries != NULL)
            entry.max_retries = req->platform_max_retries[i];
        store_key_make(entry.idempotency_key, sizeof entry.idempotency_key,
                       entry.id, entry.content_id, entry.platform, job_id);
        result = add_entry(rows, &entry);
    }
    return result;
}

/* Writes or buffers one request inside the open transaction. */
static int submit_one(struct submit_rows *rows, const struct job_request *req,
                      struct submit_result *out)
{
    struct sqlite_store *s = rows->s;
    int64_t now = rows->now;
    int64_t scheduled_at = req->scheduled_at > 0 ? req->scheduled_at : now;
    int result = STORE_OK;

    memset(out, 0, sizeof *out);
    if (req->event_id != NULL) {
        result =
            sqlite_event_find(s, req->event_id, &out->duplicate, &out->job_id);
        if (result != STORE_OK || out->duplicate)
            return result;
    }

    result = upsert_content(s, req, now);
    if (result == STORE_OK)
        result = insert_job(s, req, scheduled_at, now, &out->job_id);
    if (result == STORE_OK && req->event_id != NULL)
        result = sqlite_event_remember(s, req->event_id, out->job_id, now);

    out->first_entry_id = rows->next_entry_id;
    if (result == STORE_OK)
        result = add_entries(rows, req, out->job_id, scheduled_at);
    if (result == STORE_OK)
        result = add_accepted(rows, req, out->job_id, scheduled_at);
    return result;
}

int sqlite_submit_requests(struct sqlite_store *s,
                           const struct job_request *reqs, size_t count,
                           int64_t now, struct submit_result *results)
{
    struct submit_rows rows;
    int result = rows_init(&rows, s, now);

    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = submit_one(&rows, &reqs[i], &results[i]);
    if (result == STORE_OK)
        result = rows_flush(&rows);
    rows_clear(&rows);
    return result;
}

int sqlite_submit_jobs(struct store *store, const struct job_request *reqs,
                       size_t count, int64_t now, struct submit_result *results)
{
    struct sqlite_store *s = sqlite_store_of(store);
    int result = store_check_requests(store, reqs, count, results);

    if (result != STORE_OK)
        return result;
    if (count == 0)
        return STORE_OK;

    result = sqlite_begin(s, "submit jobs");
    if (result == STORE_OK)
        result = sqlite_submit_requests(s, reqs, count, now, results);
    if (result != STORE_OK) {
        sqlite_rollback(s);
        return result;
    }
    return sqlite_commit(s, "submit jobs");
}
