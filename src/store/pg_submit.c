/*
 * Creating jobs, their entries and "accepted" records in bulk
 * (PostgreSQL store).
 *
 * A batch costs two statements, whatever its size. The first reserves
 * one job id per request and reads which event ids were seen before.
 * The second writes everything else at once and, being one statement,
 * commits whole or not at all. The job ids are known before the write
 * because each entry's idempotency key contains a hash of its job id.
 */
#include "store/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_check.h"
#include "util/log.h"
#include "util/banned.h"

/*
 * $1 job ids to reserve; $2 a JSON array of event ids. Rows with a job
 * id first (the event columns NULL), then one row per event id seen
 * before, with its job id or 0 when a cancel or reschedule used it.
 */
static const char sql_submit_ids[] =
    "SELECT nextval('jobs_id_seq'), NULL::text, NULL::bigint"
    " FROM generate_series(1, $1::integer)"
    " UNION ALL"
    " SELECT NULL, event_id, coalesce(job_id, 0) FROM seen_events"
    " WHERE event_id IN (SELECT json_array_elements_text($2::json))";

/*
 * $1 audit records, $2 jobs and $3 entries as JSON arrays, $4 now.
 * Content items take the content of the last job that names them.
 * Entry ids come from the sequence in the order of $3, and the key is
 * "pubq-" || id || "-" || the hash computed here, as store_key_make()
 * writes it. The foreign keys are checked at the end of the statement,
 * after every row exists.
 */
static const char sql_submit_write[] =
    "WITH job_rows AS ("
    "  SELECT * FROM json_to_recordset($2::json) AS r(ord integer,"
    "  id bigint, content_id text, content text, event_id text,"
    "  scheduled_at bigint)),"
    " content AS ("
    "  INSERT INTO content_items (id, content_json, created_at, updated_at)"
    "  SELECT DISTINCT ON (content_id) content_id, content::json,"
    "  $4::bigint, $4::bigint FROM job_rows ORDER BY content_id, ord DESC"
    "  ON CONFLICT (id) DO UPDATE SET"
    "  content_json = excluded.content_json,"
    "  updated_at = excluded.updated_at),"
    " new_jobs AS ("
    "  INSERT INTO jobs (id, content_id, event_id, content_json,"
    "  scheduled_at, created_at)"
    "  SELECT id, content_id, event_id, content::json, scheduled_at,"
    "  $4::bigint FROM job_rows ORDER BY ord),"
    " new_events AS ("
    "  INSERT INTO seen_events (event_id, job_id, at)"
    "  SELECT event_id, id, $4::bigint FROM job_rows"
    "  WHERE event_id IS NOT NULL ORDER BY ord),"
    " new_entries AS ("
    "  INSERT INTO entries (id, job_id, content_id, platform, status,"
    "  max_retries, scheduled_at, due_at, idempotency_key, created_at,"
    "  updated_at)"
    "  SELECT n.id, n.job_id, n.content_id, n.platform, 'pending',"
    "  n.max_retries, n.scheduled_at, n.due_at,"
    "  'pubq-' || n.id || '-' || n.hash, $4::bigint, $4::bigint"
    "  FROM (SELECT nextval('entries_id_seq') AS id, p.*"
    "    FROM ROWS FROM (json_to_recordset($3::json) AS (job_id bigint,"
    "      content_id text, platform text, hash text, max_retries integer,"
    "      scheduled_at bigint, due_at bigint))"
    "      WITH ORDINALITY AS p(job_id, content_id, platform, hash,"
    "      max_retries, scheduled_at, due_at, ord)"
    "    ORDER BY p.ord) AS n),"
    " new_audit AS (" PG_AUDIT_ROWS_INSERT ")"
    " SELECT pg_notify('pubq_wake', ''),"
    " (SELECT reltuples FROM pg_class WHERE oid = 'entries'::regclass)";

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

struct submit_args {
    const struct job_request *reqs;
    size_t count;
    int64_t now;
    struct submit_result *results;
    int64_t *job_ids; /* count reserved ids, ascending */
    size_t entries;   /* entries written */
    double analyzed;  /* entries at the last analysis; -1: never */
};

/* An event id seen before, or a request that carries one. */
struct event_ref {
    const char *event_id;
    int64_t job_id; /* seen: its job, or 0 for a cancel or reschedule */
    size_t index;   /* request: its index in the batch */
};

static int by_event_then_index(const void *x, const void *y)
{
    const struct event_ref *a = x;
    const struct event_ref *b = y;
    int order = strcmp(a->event_id, b->event_id);

    if (order != 0)
        return order;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int by_event(const void *x, const void *y)
{
    return strcmp(((const struct event_ref *)x)->event_id,
                  ((const struct event_ref *)y)->event_id);
}

static int by_id(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x;
    int64_t b = *(const int64_t *)y;

    return a < b ? -1 : a > b;
}

static char *event_ids_json(const struct submit_args *a)
{
    json_t *ids = json_array();
    char *text = NULL;
    size_t i = 0;

    while (ids != NULL && i < a->count &&
           (a->reqs[i].event_id == NULL ||
            json_array_append_new(ids, json_string(a->reqs[i].event_id)) == 0))
        i++;
    if (ids != NULL && i == a->count)
        text = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    return text;
}

/*
 * Marks duplicates: a request whose event id was seen before gets that
 * id's job, and of requests sharing a new event id the first creates
 * the job and the others get it. `seen` is sorted by event id.
 */
static void mark_duplicates(struct submit_args *a, const struct event_ref *seen,
                            size_t seen_count, struct event_ref *requested,
                            size_t requested_count)
{
    qsort(requested, requested_count, sizeof *requested, by_event_then_index);
    for (size_t i = 0; i < requested_count; i++) {
        const struct event_ref *request = &requested[i];
        const struct event_ref *before = i > 0 ? &requested[i - 1] : NULL;
        struct submit_result *out = &a->results[request->index];
        const struct event_ref *found =
            seen_count > 0
                ? bsearch(request, seen, seen_count, sizeof *seen, by_event)
                : NULL;

        if (found != NULL) {
            out->duplicate = 1;
            out->job_id = found->job_id;
        } else if (before != NULL &&
                   strcmp(before->event_id, request->event_id) == 0) {
            /* The first of them is not a duplicate, or all are. */
            out->duplicate = 1;
            out->job_id = a->results[before->index].job_id;
        }
    }
}

/* Copies the reserved ids and the seen event ids out of the result. */
static int read_reserved(struct pg_store *s, struct submit_args *a,
                         const PGresult *res)
{
    int rows = PQntuples(res);
    struct event_ref *seen = calloc((size_t)rows + 1, sizeof *seen);
    struct event_ref *requested = calloc(a->count + 1, sizeof *requested);
    size_t ids = 0;
    size_t seen_count = 0;
    size_t requested_count = 0;

    if (seen == NULL || requested == NULL) {
        free(seen);
        free(requested);
        return pg_error(s, STORE_ERROR, "out of memory submitting %zu jobs",
                        a->count);
    }
    for (int row = 0; row < rows; row++) {
        if (!PQgetisnull(res, row, 0) && ids < a->count)
            a->job_ids[ids++] = pg_get_int(res, row, 0);
        else if (PQgetisnull(res, row, 0))
            seen[seen_count++] = (struct event_ref){PQgetvalue(res, row, 1),
                                                    pg_get_int(res, row, 2), 0};
    }
    qsort(a->job_ids, ids, sizeof *a->job_ids, by_id);
    qsort(seen, seen_count, sizeof *seen, by_event);

    for (size_t i = 0; i < a->count; i++) {
        a->results[i].job_id = a->job_ids[i];
        if (a->reqs[i].event_id != NULL)
            requested[requested_count++] =
                (struct event_ref){a->reqs[i].event_id, 0, i};
    }
    mark_duplicates(a, seen, seen_count, requested, requested_count);
    free(seen);
    free(requested);
    if (ids == a->count)
        return STORE_OK;
    return pg_error(s, STORE_ERROR, "reserving %zu job ids returned %zu",
                    a->count, ids);
}

static int reserve_ids(struct pg_store *s, struct submit_args *a)
{
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_int(&p, (int64_t)a->count);
    pg_param_owned(&p, event_ids_json(a));
    PGresult *res = pg_query(s, PG_SUBMIT_IDS, sql_submit_ids, &p,
                             "reserve job ids", &result);
    pg_params_clear(&p);
    if (res == NULL)
        return result;
    result = read_reserved(s, a, res);
    PQclear(res);
    return result;
}

/* The JSON rows of one created job, added to the three arrays. */
struct submit_rows {
    json_t *jobs;
    json_t *entries;
    json_t *audit;
};

static int64_t scheduled_time(const struct job_request *req, int64_t now)
{
    return req->scheduled_at > 0 ? req->scheduled_at : now;
}

static int add_job_row(json_t *jobs, size_t index,
                       const struct job_request *req, int64_t job_id,
                       int64_t now)
{
    json_t *row =
        json_pack("{s:I, s:I, s:s, s:s, s:s?, s:I}", "ord", (json_int_t)index,
                  "id", (json_int_t)job_id, "content_id", req->content_id,
                  "content", req->content_json, "event_id", req->event_id,
                  "scheduled_at", (json_int_t)scheduled_time(req, now));

    return json_array_append_new(jobs, row);
}

static int add_entry_rows(json_t *entries, const struct job_request *req,
                          int64_t job_id, int64_t now)
{
    int64_t scheduled_at = scheduled_time(req, now);
    int64_t due_at = scheduled_at > now ? scheduled_at : now;

    for (size_t i = 0; i < req->platform_count; i++) {
        uint32_t max_retries = req->platform_max_retries != NULL
                                   ? req->platform_max_retries[i]
                                   : req->max_retries;
        char hash[24];

        store_key_hash(hash, sizeof hash, req->content_id, req->platforms[i],
                       job_id);
        if (json_array_append_new(
                entries,
                json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I}", "job_id",
                          (json_int_t)job_id, "content_id", req->content_id,
                          "platform", req->platforms[i], "hash", hash,
                          "max_retries", (json_int_t)max_retries,
                          "scheduled_at", (json_int_t)scheduled_at, "due_at",
                          (json_int_t)due_at)) != 0)
            return -1;
    }
    return 0;
}

static json_t *accepted_metadata(const struct job_request *req, int64_t job_id,
                                 int64_t now)
{
    json_t *platforms = json_array();

    for (size_t i = 0; platforms != NULL && i < req->platform_count; i++)
        json_array_append_new(platforms, json_string(req->platforms[i]));
    return json_pack("{s:I, s:o, s:I, s:s, s:s?}", "job", (json_int_t)job_id,
                     "platforms", platforms, "scheduled_at",
                     (json_int_t)scheduled_time(req, now), "source",
                     req->source != NULL ? req->source : "unknown", "event_id",
                     req->event_id);
}

static int add_audit_row(json_t *audit, const struct job_request *req,
                         int64_t job_id, int64_t now)
{
    json_t *metadata = accepted_metadata(req, job_id, now);
    struct pg_audit record = {
        .at = now,
        .agent = "intake",
        .action = "accepted",
        .content_id = req->content_id,
        .status = "accepted",
        .metadata = metadata,
    };
    int failed = metadata == NULL ||
                 json_array_append_new(audit, pg_audit_row(&record)) != 0;

    json_decref(metadata);
    return failed ? -1 : 0;
}

/*
 * Adds the rows of request `index`. jansson takes only valid UTF-8, and
 * content JSON was checked already, so a failure here means an id or a
 * platform name that is not UTF-8 (or no memory left).
 */
static int add_rows(struct pg_store *s, struct submit_rows *rows,
                    const struct submit_args *a, size_t index)
{
    const struct job_request *req = &a->reqs[index];
    int64_t job_id = a->results[index].job_id;

    if (add_job_row(rows->jobs, index, req, job_id, a->now) != 0 ||
        add_entry_rows(rows->entries, req, job_id, a->now) != 0 ||
        add_audit_row(rows->audit, req, job_id, a->now) != 0)
        return pg_error(s, STORE_INVALID,
                        "invalid job %zu: its content item id, event id "
                        "or a platform name is not valid UTF-8; send "
                        "UTF-8 text",
                        index);
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

static int write_rows(struct pg_store *s, struct submit_rows *rows,
                      struct submit_args *a)
{
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_owned(&p, json_dumps(rows->audit, JSON_COMPACT));
    pg_param_owned(&p, json_dumps(rows->jobs, JSON_COMPACT));
    pg_param_owned(&p, json_dumps(rows->entries, JSON_COMPACT));
    pg_param_int(&p, a->now);

    /* The statement commits on its own, so from here on a broken link
     * leaves the outcome unknown. */
    s->write_sent = 1;
    PGresult *res = pg_query(s, PG_SUBMIT_WRITE, sql_submit_write, &p,
                             "submit jobs", &result);
    pg_params_clear(&p);
    if (res == NULL)
        return map_event_race(s, result);
    a->entries = json_array_size(rows->entries);
    a->analyzed = strtod(PQgetvalue(res, 0, 1), NULL);
    PQclear(res);
    return STORE_OK;
}

/* Analyzes entries after a bulk submit (see ANALYZE_MIN_ENTRIES). */
static void analyze_after(struct pg_store *s, const struct submit_args *a)
{
    if (a->entries < ANALYZE_MIN_ENTRIES ||
        (a->analyzed >= 0 && (double)a->entries * 10 <= a->analyzed))
        return;
    /* The jobs are stored; stale statistics only slow the claim. */
    if (pg_exec(s, PG_ANALYZE, sql_analyze, NULL, "analyze entries") !=
        STORE_OK)
        log_warn("store", "analyzing entries after a bulk submit failed: %s",
                 s->base.errmsg);
}

static int submit_body(struct pg_store *s, void *arg)
{
    struct submit_args *a = arg;
    struct submit_rows rows = {json_array(), json_array(), json_array()};
    size_t created = 0;
    int result;

    memset(a->results, 0, a->count * sizeof *a->results);
    a->entries = 0;
    result = reserve_ids(s, a);
    if (result == STORE_OK &&
        (rows.jobs == NULL || rows.entries == NULL || rows.audit == NULL))
        result = pg_error(s, STORE_ERROR, "out of memory submitting jobs");

    for (size_t i = 0; result == STORE_OK && i < a->count; i++) {
        if (a->results[i].duplicate)
            continue;
        result = add_rows(s, &rows, a, i);
        created++;
    }
    if (result == STORE_OK && created > 0)
        result = write_rows(s, &rows, a);
    json_decref(rows.jobs);
    json_decref(rows.entries);
    json_decref(rows.audit);
    return result;
}

int pg_submit_jobs(struct store *store, const struct job_request *reqs,
                   size_t count, int64_t now, struct submit_result *results)
{
    struct submit_args args = {reqs, count, now, results, NULL, 0, -1};
    struct pg_op op = {"submit jobs", PG_OP_SINGLE_WRITE, submit_body, &args};
    int result = store_check_requests(store, reqs, count, results);

    if (result != STORE_OK || count == 0)
        return result;

    args.job_ids = calloc(count, sizeof *args.job_ids);
    if (args.job_ids == NULL)
        return pg_error(pg_store_of(store), STORE_ERROR,
                        "out of memory submitting %zu jobs", count);
    result = pg_run_op(pg_store_of(store), &op);
    free(args.job_ids);
    if (result == STORE_OK)
        analyze_after(pg_store_of(store), &args);
    return result;
}
