/*
 * The "publish" audit record of a job (SQLite store): written once,
 * when every entry of the job has finished its first round.
 */
#include "store/sqlite_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text_buffer.h"

#include "util/banned.h"

/*
 * The record's metadata, {"job": ID, "platforms":
 * [...], "results": [{"platform", "status"}]}, is written by hand, not
 * with jansson or SQLite's json functions, because every job writes it
 * on the engine's completion path. Built in SQL it cost about 25,000
 * instructions per job (callgrind, bench_store publish), and built
 * here a few hundred.
 */

/*
 * Appends a JSON string escaped the way SQLite 3.40's json functions
 * escape it, so that records keep the text they had when SQL built
 * them. Quotes, backslashes and control characters are escaped, and
 * other bytes are copied as they are.
 */
static void text_add_string(struct text_buffer *t, const char *value)
{
    static const char short_escape[32] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
    };
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)value;
    size_t start = 0;
    size_t i;

    text_buffer_append_str(t, "\"");
    for (i = 0; p[i] != '\0'; i++) {
        char escaped[6];
        size_t len;

        if (p[i] == '"' || p[i] == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)p[i];
            len = 2;
        } else if (p[i] < 0x20 && short_escape[p[i]] != 0) {
            escaped[0] = '\\';
            escaped[1] = short_escape[p[i]];
            len = 2;
        } else if (p[i] < 0x20) {
            memcpy(escaped, "\\u00", 4);
            escaped[4] = hex[p[i] >> 4];
            escaped[5] = hex[p[i] & 0xf];
            len = 6;
        } else {
            continue;
        }
        text_buffer_append(t, value + start, i - start);
        text_buffer_append(t, escaped, len);
        start = i + 1;
    }
    text_buffer_append(t, value + start, i - start);
    text_buffer_append_str(t, "\"");
}

/* The first round of a job's entries, read in id order. */
struct round {
    char content_id[STORE_ID_MAX];
    int unfinished; /* entries whose first round is still open */
    int attempted;  /* entries with at least one attempt */
    int counted;    /* entries not cancelled before their first round */
    int published;  /* entries whose first round published */
    struct text_buffer platforms;
    struct text_buffer results;
};

static const char sql_publish_round[] =
    "SELECT content_id, platform, coalesce(first_round_status, status),"
    " first_round_done, attempt_count FROM entries"
    " WHERE job_id = ?1 ORDER BY id";

static void add_row(struct round *r, sqlite3_stmt *stmt)
{
    const char *platform = (const char *)sqlite3_column_text(stmt, 1);
    const char *first = (const char *)sqlite3_column_text(stmt, 2);

    if (platform == NULL)
        platform = "";
    if (first == NULL)
        first = "";
    if (r->content_id[0] == '\0')
        sqlite_copy_column(stmt, 0, r->content_id, sizeof r->content_id);
    r->unfinished += sqlite3_column_int(stmt, 3) == 0;
    r->attempted += sqlite3_column_int64(stmt, 4) > 0;
    r->counted += strcmp(first, "cancelled") != 0;
    r->published += strcmp(first, "published") == 0;

    text_buffer_append_str(&r->platforms, r->platforms.used == 0 ? "[" : ",");
    text_add_string(&r->platforms, platform);
    text_buffer_append_str(&r->results, r->results.used == 0 ? "[" : ",");
    text_buffer_append_str(&r->results, "{\"platform\":");
    text_add_string(&r->results, platform);
    text_buffer_append_str(&r->results, ",\"status\":");
    text_add_string(&r->results, first);
    text_buffer_append_str(&r->results, "}");
}

static int read_round(struct sqlite_store *s, int64_t job_id, struct round *r)
{
    sqlite3_stmt *stmt = sqlite_stmt(s, STMT_PUBLISH_ROUND, sql_publish_round,
                                     "check publish round");
    int rc;

    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, job_id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        add_row(r, stmt);
    sqlite_done(stmt);
    if (rc != SQLITE_DONE)
        return sqlite_fail(s, rc, "check publish round");
    if (r->platforms.failed || r->results.failed)
        return sqlite_error(s, STORE_ERROR,
                            "out of memory writing the publish record of "
                            "job %" PRId64,
                            job_id);
    return STORE_OK;
}

/* Marks the job audited; *won is 0 when its record already exists. */
static int mark_job_audited(struct sqlite_store *s, int64_t job_id, int *won)
{
    static const char sql[] = "UPDATE jobs SET publish_audited = 1"
                              " WHERE id = ?1 AND publish_audited = 0";
    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_PUBLISH_MARK, sql, "check publish round");
    int result;

    *won = 0;
    if (stmt == NULL)
        return sqlite_stmt_error(s);
    sqlite3_bind_int64(stmt, 1, job_id);

    /* Not RETURNING: SQLite 3.40 buffers its rows in a temporary
     * B-tree, opened for every call. */
    result = sqlite_exec_stmt(s, stmt, "check publish round");
    if (result == STORE_OK)
        *won = sqlite3_changes(s->db) > 0;
    return result;
}

/*
 * Returns success when every counted entry published, partial when some
 * did, else failed. Entries cancelled before their first attempt count
 * as neither.
 */
static const char *round_status(const struct round *r)
{
    if (r->counted > 0 && r->published == r->counted)
        return "success";
    if (r->published > 0)
        return "partial";
    return "failed";
}

static int insert_record(struct sqlite_store *s, int64_t job_id,
                         struct round *r, int64_t now)
{
    static const char sql[] =
        "INSERT INTO audit (at, agent_name, action, job_id, status,"
        " metadata) VALUES (?1, 'queue-manager', 'publish', ?2, ?3, ?4)";
    struct text_buffer metadata = {0};
    char job[64];
    int result;

    snprintf(job, sizeof job, "{\"job\":%" PRId64 ",\"platforms\":", job_id);
    text_buffer_append_str(&metadata, job);
    text_buffer_append(&metadata, r->platforms.text, r->platforms.used);
    text_buffer_append_str(&metadata, "],\"results\":");
    text_buffer_append(&metadata, r->results.text, r->results.used);
    text_buffer_append_str(&metadata, "]}");
    if (metadata.failed) {
        free(metadata.text);
        return sqlite_error(s, STORE_ERROR,
                            "out of memory writing the publish record of "
                            "job %" PRId64,
                            job_id);
    }

    sqlite3_stmt *stmt =
        sqlite_stmt(s, STMT_PUBLISH_AUDIT, sql, "write publish record");
    if (stmt == NULL) {
        free(metadata.text);
        return sqlite_stmt_error(s);
    }
    sqlite3_bind_int64(stmt, 1, now);
    sqlite_bind_text(stmt, 2, r->content_id);
    sqlite_bind_text(stmt, 3, round_status(r));
    sqlite3_bind_text(stmt, 4, metadata.text, (int)metadata.used,
                      SQLITE_STATIC);
    result = sqlite_exec_stmt(s, stmt, "write publish record");
    free(metadata.text);
    return result;
}

/*
 * One read of the job's entries decides whether the round is over and
 * gives the record's content, so the check of a job whose round is
 * still open costs that read alone. The conditional UPDATE of the job
 * keeps the record unique.
 */
int sqlite_publish_check(struct sqlite_store *s, int64_t job_id, int64_t now)
{
    struct round r = {0};
    int won = 0;
    int result = read_round(s, job_id, &r);

    if (result == STORE_OK && r.unfinished == 0 && r.attempted > 0)
        result = mark_job_audited(s, job_id, &won);
    if (result == STORE_OK && won)
        result = insert_record(s, job_id, &r, now);
    free(r.platforms.text);
    free(r.results.text);
    return result;
}
