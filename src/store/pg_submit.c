/*
 * Creating jobs, their entries and "accepted" records in bulk
 * (PostgreSQL store).
 *
 * A batch costs two round trips, whatever its size. The first reserves
 * a block of job ids and a block of entry ids and reads which event ids
 * were seen before. The second writes everything else in one statement,
 * which commits whole or not at all. Knowing the ids before the write
 * lets the client compute each entry's idempotency key, and report the
 * first entry id of each job, whose entries have consecutive ids.
 */
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "store/store_check.h"
#include "util/log.h"
#include "util/banned.h"

/*
 * The advisory lock that makes a reservation of id blocks atomic: "pubq"
 * in ASCII, then 2 (the migration lock ends in 1). Held by the implicit
 * transaction of the reservation's pipeline, so that no other reservation
 * draws from the sequences between the nextval and the setval.
 */
static const char sql_submit_lock[] =
    "SELECT pg_advisory_xact_lock(8103491341993902082)";

/*
 * $1 job ids and $2 entry ids to reserve, $3 a JSON array of event
 * ids. One row with the first id of each block, then one row per event
 * id seen before, with its job id or 0 when a cancel or reschedule used
 * it.
 */
static const char sql_submit_ids[] =
    "SELECT setval('jobs_id_seq', nextval('jobs_id_seq') + $1::bigint - 1)"
    " - $1::bigint + 1,"
    " setval('entries_id_seq', nextval('entries_id_seq') + $2::bigint - 1)"
    " - $2::bigint + 1, NULL::text, NULL::bigint"
    " UNION ALL"
    " SELECT NULL, NULL, event_id, coalesce(job_id, 0) FROM seen_events"
    " WHERE event_id IN (SELECT json_array_elements_text($3::json))";

/*
 * $1 now, then the columns of the jobs ($2 to $7) and of the entries
 * ($8 to $15) as arrays, in the order of enum pg_submit_column. Content
 * items take the content of the last job that names them, and the
 * "accepted" records follow the order of the jobs. The foreign keys are
 * checked at the end of the statement, after every row exists.
 */
static const char sql_submit_write[] =
    "WITH job_rows AS ("
    "  SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[],"
    "  $5::text[], $6::bigint[], $7::text[]) WITH ORDINALITY"
    "  AS r(id, content_id, content, event_id, scheduled_at, accepted, ord)),"
    " content AS ("
    "  INSERT INTO content_items (id, content_json, created_at, updated_at)"
    "  SELECT DISTINCT ON (content_id) content_id, content::json,"
    "  $1::bigint, $1::bigint FROM job_rows ORDER BY content_id, ord DESC"
    "  ON CONFLICT (id) DO UPDATE SET"
    "  content_json = excluded.content_json,"
    "  updated_at = excluded.updated_at),"
    " new_jobs AS ("
    "  INSERT INTO jobs (id, content_id, event_id, content_json,"
    "  scheduled_at, created_at)"
    "  SELECT id, content_id, event_id, content::json, scheduled_at,"
    "  $1::bigint FROM job_rows ORDER BY ord),"
    " new_events AS ("
    "  INSERT INTO seen_events (event_id, job_id, at)"
    "  SELECT event_id, id, $1::bigint FROM job_rows"
    "  WHERE event_id IS NOT NULL ORDER BY ord),"
    " new_entries AS ("
    "  INSERT INTO entries (id, job_id, content_id, platform, status,"
    "  max_retries, scheduled_at, due_at, idempotency_key, created_at,"
    "  updated_at)"
    "  SELECT id, job_id, content_id, platform, 'pending', max_retries,"
    "  scheduled_at, due_at, key, $1::bigint, $1::bigint"
    "  FROM unnest($8::bigint[], $9::bigint[], $10::text[], $11::text[],"
    "  $12::text[], $13::integer[], $14::bigint[], $15::bigint[])"
    "  AS n(id, job_id, content_id, platform, key, max_retries,"
    "  scheduled_at, due_at)),"
    " new_audit AS ("
    "  INSERT INTO audit (at, agent_name, action, job_id, status, metadata)"
    "  SELECT $1::bigint, 'intake', 'accepted', content_id, 'accepted',"
    "  accepted::json FROM job_rows ORDER BY ord)"
    " SELECT pg_notify('pubq_wake', ''),"
    " (SELECT reltuples FROM pg_class WHERE oid = 'entries'::regclass)";

static const char sql_savepoint[] = "SAVEPOINT submit_group";
static const char sql_release[] = "RELEASE submit_group";
static const char sql_rollback_to[] = "ROLLBACK TO submit_group";

/*
 * After a bulk submit the planner's statistics of entries are stale
 * until autovacuum analyzes the table, up to a minute later. Until then
 * it takes the table for as small as when it was last analyzed, and may
 * plan the claim as a sort of every due entry instead of a walk along
 * entries_due that stops after the batch. So a batch of at least
 * ANALYZE_MIN_ENTRIES entries, and more than a tenth of the entries
 * counted at the last analysis (the share at which autovacuum would
 * analyze), analyzes the table at once.
 */
#define ANALYZE_MIN_ENTRIES 1000
static const char sql_analyze[] = "ANALYZE entries";

static int by_event_then_index(const void *x, const void *y)
{
    const struct pg_event_ref *a = x;
    const struct pg_event_ref *b = y;
    int order = strcmp(a->event_id, b->event_id);

    if (order != 0)
        return order;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int by_event(const void *x, const void *y)
{
    return strcmp(((const struct pg_event_ref *)x)->event_id,
                  ((const struct pg_event_ref *)y)->event_id);
}

static int is_utf8(const char *text)
{
    const utf8proc_uint8_t *bytes = (const utf8proc_uint8_t *)text;
    size_t length = text != NULL ? strlen(text) : 0;

    for (size_t i = 0; i < length;) {
        utf8proc_int32_t codepoint;
        utf8proc_ssize_t n = utf8proc_iterate(
            bytes + i, (utf8proc_ssize_t)(length - i), &codepoint);

        if (n <= 0)
            return 0;
        i += (size_t)n;
    }
    return 1;
}

/*
 * The batch's event ids as a JSON array. An id that is not UTF-8 cannot
 * have been stored, so it is left out, and its request fails alone
 * when its rows are built.
 */
static char *event_ids_json(const struct job_request *reqs, size_t count)
{
    json_t *ids = json_array();
    char *text = NULL;
    size_t i = 0;

    while (ids != NULL && i < count &&
           (reqs[i].event_id == NULL || !is_utf8(reqs[i].event_id) ||
            json_array_append_new(ids, json_string(reqs[i].event_id)) == 0))
        i++;
    if (ids != NULL && i == count)
        text = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    return text;
}

void pg_submit_ids_clear(struct pg_submit_ids *ids)
{
    free(ids->entry_offsets);
    free(ids->seen);
    PQclear(ids->res);
    memset(ids, 0, sizeof *ids);
}

/* Fills entry_offsets; returns the number of entry ids to reserve. */
static size_t count_entries(struct pg_submit_ids *ids,
                            const struct job_request *reqs, size_t count)
{
    size_t entries = 0;

    for (size_t i = 0; i < count; i++) {
        ids->entry_offsets[i] = entries;
        entries += reqs[i].platform_count;
    }
    return entries;
}

/* Copies the first ids and the seen event ids out of the result. */
static int read_reserved(struct pg_store *s, struct pg_submit_ids *ids,
                         PGresult *res)
{
    int rows = PQntuples(res);
    int firsts = 0;

    ids->res = res;
    for (int row = 0; row < rows; row++) {
        if (!PQgetisnull(res, row, 0)) {
            ids->first_job_id = pg_get_int(res, row, 0);
            ids->first_entry_id = pg_get_int(res, row, 1);
            firsts++;
        } else if (ids->seen_count < ids->seen_room) {
            ids->seen[ids->seen_count++] = (struct pg_event_ref){
                PQgetvalue(res, row, 2), pg_get_int(res, row, 3), 0};
        }
    }
    qsort(ids->seen, ids->seen_count, sizeof *ids->seen, by_event);
    if (firsts == 1 && ids->first_job_id > 0 && ids->first_entry_id > 0)
        return STORE_OK;
    return pg_error(s, STORE_ERROR, "reserving ids returned %d blocks", firsts);
}

int pg_submit_reserve(struct pg_store *s, const struct job_request *reqs,
                      size_t count, struct pg_submit_ids *ids)
{
    struct pg_params p;
    size_t entries;
    int result;

    memset(ids, 0, sizeof *ids);
    ids->entry_offsets = calloc(count + 1, sizeof *ids->entry_offsets);
    /* Room for every seen event id, plus those the batch creates. */
    ids->seen_room = 2 * count;
    ids->seen = calloc(ids->seen_room + 1, sizeof *ids->seen);
    if (ids->entry_offsets == NULL || ids->seen == NULL)
        return pg_error(s, STORE_ERROR, "out of memory submitting %zu jobs",
                        count);
    entries = count_entries(ids, reqs, count);

    pg_params_init(&p);
    pg_param_int(&p, (int64_t)count);
    /* A checked request has a platform, so entries > 0 here. */
    pg_param_int(&p, (int64_t)(entries > 0 ? entries : 1));
    pg_param_owned(&p, event_ids_json(reqs, count));

    const struct pg_call calls[] = {
        {PG_SUBMIT_LOCK, sql_submit_lock, NULL},
        {PG_SUBMIT_IDS, sql_submit_ids, &p},
    };
    PGresult *res = pg_pipeline(s, calls, 2, 1, "reserve job ids", &result);
    pg_params_clear(&p);
    if (res == NULL)
        return result;
    return read_reserved(s, ids, res);
}

int pg_submit_assign(struct pg_store *s, const struct pg_submit_ids *ids,
                     const struct job_request *reqs, size_t count, size_t first,
                     struct submit_result *results)
{
    struct pg_event_ref *requested = calloc(count + 1, sizeof *requested);
    size_t requested_count = 0;

    if (requested == NULL)
        return pg_error(s, STORE_ERROR, "out of memory submitting %zu jobs",
                        count);
    for (size_t i = 0; i < count; i++) {
        results[i] = (struct submit_result){
            .job_id = ids->first_job_id + (int64_t)(first + i),
            .first_entry_id =
                ids->first_entry_id + (int64_t)ids->entry_offsets[first + i],
        };
        if (reqs[i].event_id != NULL)
            requested[requested_count++] =
                (struct pg_event_ref){reqs[i].event_id, 0, i};
    }

    /*
     * A request whose event id was seen before gets that id's job, and
     * of requests sharing a new event id the first creates the job and
     * the others get it.
     */
    qsort(requested, requested_count, sizeof *requested, by_event_then_index);
    for (size_t i = 0; i < requested_count; i++) {
        const struct pg_event_ref *request = &requested[i];
        const struct pg_event_ref *before = i > 0 ? &requested[i - 1] : NULL;
        struct submit_result *out = &results[request->index];
        const struct pg_event_ref *found =
            ids->seen_count > 0 ? bsearch(request, ids->seen, ids->seen_count,
                                          sizeof *ids->seen, by_event)
                                : NULL;

        if (found != NULL)
            *out = (struct submit_result){found->job_id, 1, 0};
        else if (before != NULL &&
                 strcmp(before->event_id, request->event_id) == 0)
            /* The first of them is not a duplicate, or all are. */
            *out = (struct submit_result){results[before->index].job_id, 1, 0};
    }
    free(requested);
    return STORE_OK;
}

void pg_submit_remember(struct pg_submit_ids *ids,
                        const struct job_request *reqs, size_t count,
                        const struct submit_result *results)
{
    for (size_t i = 0; i < count && ids->seen_count < ids->seen_room; i++) {
        if (reqs[i].event_id != NULL && !results[i].duplicate)
            ids->seen[ids->seen_count++] =
                (struct pg_event_ref){reqs[i].event_id, results[i].job_id, 0};
    }
    qsort(ids->seen, ids->seen_count, sizeof *ids->seen, by_event);
}

static int64_t scheduled_time(const struct job_request *req, int64_t now)
{
    return req->scheduled_at > 0 ? req->scheduled_at : now;
}

/* The texts of a request that PostgreSQL takes only as UTF-8. */
static int texts_are_utf8(const struct job_request *req)
{
    int valid = is_utf8(req->content_id) && is_utf8(req->event_id) &&
                is_utf8(req->source);

    for (size_t i = 0; valid && i < req->platform_count; i++)
        valid = is_utf8(req->platforms[i]);
    return valid;
}

/* The metadata of the job's "accepted" record, as JSON text. */
static char *accepted_metadata(const struct job_request *req, int64_t job_id,
                               int64_t now)
{
    json_t *platforms = json_array();
    json_t *metadata;
    char *text = NULL;

    for (size_t i = 0; platforms != NULL && i < req->platform_count; i++)
        json_array_append_new(platforms, json_string(req->platforms[i]));
    metadata = json_pack(
        "{s:I, s:o, s:I, s:s, s:s?}", "job", (json_int_t)job_id, "platforms",
        platforms, "scheduled_at", (json_int_t)scheduled_time(req, now),
        "source", req->source != NULL ? req->source : "unknown", "event_id",
        req->event_id);
    if (metadata != NULL)
        text = json_dumps(metadata, JSON_COMPACT);
    json_decref(metadata);
    return text;
}

static void add_job_row(struct pg_submit_rows *rows,
                        const struct job_request *req, int64_t job_id,
                        const char *accepted, int64_t now)
{
    struct pg_array *columns = rows->columns;

    pg_array_add_int(&columns[PG_COL_JOB_ID], job_id);
    pg_array_add_text(&columns[PG_COL_JOB_CONTENT_ID], req->content_id);
    pg_array_add_text(&columns[PG_COL_JOB_CONTENT], req->content_json);
    pg_array_add_text(&columns[PG_COL_JOB_EVENT_ID], req->event_id);
    pg_array_add_int(&columns[PG_COL_JOB_SCHEDULED_AT],
                     scheduled_time(req, now));
    pg_array_add_text(&columns[PG_COL_JOB_ACCEPTED], accepted);
    rows->created++;
}

static void add_entry_rows(struct pg_submit_rows *rows,
                           const struct job_request *req,
                           const struct submit_result *result, int64_t now)
{
    struct pg_array *columns = rows->columns;
    int64_t scheduled_at = scheduled_time(req, now);
    int64_t due_at = scheduled_at > now ? scheduled_at : now;

    for (size_t i = 0; i < req->platform_count; i++) {
        int64_t id = result->first_entry_id + (int64_t)i;
        uint32_t max_retries = req->platform_max_retries != NULL
                                   ? req->platform_max_retries[i]
                                   : req->max_retries;
        char key[STORE_KEY_MAX];

        store_key_make(key, sizeof key, id, req->content_id, req->platforms[i],
                       result->job_id);
        pg_array_add_int(&columns[PG_COL_ENTRY_ID], id);
        pg_array_add_int(&columns[PG_COL_ENTRY_JOB_ID], result->job_id);
        pg_array_add_text(&columns[PG_COL_ENTRY_CONTENT_ID], req->content_id);
        pg_array_add_text(&columns[PG_COL_ENTRY_PLATFORM], req->platforms[i]);
        pg_array_add_text(&columns[PG_COL_ENTRY_KEY], key);
        pg_array_add_int(&columns[PG_COL_ENTRY_MAX_RETRIES], max_retries);
        pg_array_add_int(&columns[PG_COL_ENTRY_SCHEDULED_AT], scheduled_at);
        pg_array_add_int(&columns[PG_COL_ENTRY_DUE_AT], due_at);
        rows->entries++;
    }
}

void pg_submit_rows_init(struct pg_submit_rows *rows)
{
    for (int i = 0; i < PG_SUBMIT_COLUMNS; i++)
        pg_array_init(&rows->columns[i]);
    rows->created = 0;
    rows->entries = 0;
}

void pg_submit_rows_clear(struct pg_submit_rows *rows)
{
    for (int i = 0; i < PG_SUBMIT_COLUMNS; i++)
        pg_array_clear(&rows->columns[i]);
    pg_submit_rows_init(rows);
}

int pg_submit_rows_add(struct pg_store *s, struct pg_submit_rows *rows,
                       const struct job_request *reqs, size_t count,
                       const struct submit_result *results, int64_t now)
{
    for (size_t i = 0; i < count; i++) {
        const struct job_request *req = &reqs[i];
        char *accepted;

        if (results[i].duplicate)
            continue;
        /* Content JSON was checked already, so only these texts can
         * fail to be UTF-8. */
        if (!texts_are_utf8(req))
            return pg_error(s, STORE_INVALID,
                            "invalid job %zu: its content item id, event id, "
                            "source or a platform name is not valid UTF-8; "
                            "send UTF-8 text",
                            i);
        accepted = accepted_metadata(req, results[i].job_id, now);
        if (accepted == NULL)
            return pg_error(s, STORE_ERROR, "out of memory submitting jobs");
        add_job_row(rows, req, results[i].job_id, accepted, now);
        add_entry_rows(rows, req, &results[i], now);
        free(accepted);
    }
    return STORE_OK;
}

/* A write that lost the race for an event id runs again and finds it. */
static int map_event_race(struct pg_store *s, int result)
{
    if (strcmp(pg_last_sqlstate(s), "23505") != 0 ||
        strcmp(s->constraint, "seen_events_pkey") != 0)
        return result;
    snprintf(s->sqlstate, sizeof s->sqlstate, "40001");
    return pg_error(s, STORE_BUSY,
                    "an event id of this batch was submitted by another "
                    "process at the same time");
}

int pg_submit_write(struct pg_store *s, struct pg_submit_rows *rows,
                    int64_t now, int savepoint, double *analyzed)
{
    struct pg_params p;
    struct pg_call calls[3];
    int count = 0;
    int write;
    int result;

    pg_params_init(&p);
    pg_param_int(&p, now);
    for (int i = 0; i < PG_SUBMIT_COLUMNS; i++)
        pg_param_owned(&p, pg_array_finish(&rows->columns[i]));

    if (savepoint)
        calls[count++] =
            (struct pg_call){PG_SUBMIT_SAVEPOINT, sql_savepoint, NULL};
    write = count;
    calls[count++] = (struct pg_call){PG_SUBMIT_WRITE, sql_submit_write, &p};
    if (savepoint)
        calls[count++] = (struct pg_call){PG_SUBMIT_RELEASE, sql_release, NULL};

    PGresult *res = pg_pipeline(s, calls, count, write, "submit jobs", &result);
    pg_params_clear(&p);
    if (res == NULL)
        return map_event_race(s, result);
    *analyzed = strtod(PQgetvalue(res, 0, 1), NULL);
    PQclear(res);
    return STORE_OK;
}

int pg_submit_undo(struct pg_store *s)
{
    char errmsg[STORE_ERR_MAX];
    char error_state[sizeof s->sqlstate];
    char constraint[sizeof s->constraint];
    const struct pg_call calls[] = {
        {PG_SUBMIT_ROLLBACK_TO, sql_rollback_to, NULL},
        {PG_SUBMIT_RELEASE, sql_release, NULL},
    };
    int result;

    snprintf(errmsg, sizeof errmsg, "%s", s->base.errmsg);
    memcpy(error_state, s->sqlstate, sizeof error_state);
    memcpy(constraint, s->constraint, sizeof constraint);
    PQclear(pg_pipeline(s, calls, 2, -1, "undo a failed submit", &result));
    if (result != STORE_OK)
        return result;
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "%s", errmsg);
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", error_state);
    memcpy(s->constraint, constraint, sizeof constraint);
    return STORE_OK;
}

void pg_submit_analyze(struct pg_store *s, size_t entries, double analyzed)
{
    if (entries < ANALYZE_MIN_ENTRIES ||
        (analyzed >= 0 && (double)entries * 10 <= analyzed))
        return;
    /* The jobs are stored; stale statistics only slow the claim. */
    if (pg_exec(s, PG_ANALYZE, sql_analyze, NULL, "analyze entries") !=
        STORE_OK)
        log_warn("store", "analyzing entries after a bulk submit failed: %s",
                 s->base.errmsg);
}

struct submit_args {
    const struct job_request *reqs;
    size_t count;
    int64_t now;
    struct submit_result *results;
    size_t entries;  /* entries written */
    double analyzed; /* entries at the last analysis; -1: never */
};

static int submit_body(struct pg_store *s, void *arg)
{
    struct submit_args *a = arg;
    struct pg_submit_ids ids;
    struct pg_submit_rows rows;
    int result;

    memset(a->results, 0, a->count * sizeof *a->results);
    a->entries = 0;
    pg_submit_rows_init(&rows);
    result = pg_submit_reserve(s, a->reqs, a->count, &ids);
    if (result == STORE_OK)
        result = pg_submit_assign(s, &ids, a->reqs, a->count, 0, a->results);
    if (result == STORE_OK)
        result =
            pg_submit_rows_add(s, &rows, a->reqs, a->count, a->results, a->now);

    if (result == STORE_OK && rows.created > 0) {
        /* The statement commits on its own, so from here on a broken
         * link leaves the outcome unknown. */
        s->write_sent = 1;
        result = pg_submit_write(s, &rows, a->now, 0, &a->analyzed);
    }
    if (result == STORE_OK)
        a->entries = rows.entries;
    pg_submit_rows_clear(&rows);
    pg_submit_ids_clear(&ids);
    return result;
}

int pg_submit_jobs(struct store *store, const struct job_request *reqs,
                   size_t count, int64_t now, struct submit_result *results)
{
    struct submit_args args = {reqs, count, now, results, 0, -1};
    struct pg_op op = {"submit jobs", PG_OP_SINGLE_WRITE, submit_body, &args};
    int result = store_check_requests(store, reqs, count, results);

    if (result != STORE_OK || count == 0)
        return result;

    result = pg_run_op(pg_store_of(store), &op);
    if (result != STORE_OK)
        memset(results, 0, count * sizeof *results);
    else
        pg_submit_analyze(pg_store_of(store), args.entries, args.analyzed);
    return result;
}
