/* Creating jobs and reading jobs, entries and attempts (PostgreSQL store). */
#include "store/pg_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_check.h"
#include "util/banned.h"

int pg_event_find(struct pg_store *s, const char *event_id, int *seen,
                  int64_t *job_id)
{
    static const char sql[] = "SELECT coalesce(job_id, 0) FROM seen_events"
                              " WHERE event_id = $1::text";
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_text(&p, event_id);
    PGresult *res =
        pg_query(s, PG_SEEN_EVENT_GET, sql, &p, "look up event id", &result);
    *seen = res != NULL && PQntuples(res) > 0;
    *job_id = *seen ? pg_get_int(res, 0, 0) : 0;
    PQclear(res);
    return result;
}

/*
 * Stores the content item and the job in one statement. The content
 * row comes from the CTE of the same statement; the foreign key check
 * runs at the end of the statement, after that row exists.
 */
static const char sql_job_insert[] =
    "WITH content AS ("
    "  INSERT INTO content_items (id, content_json, created_at, updated_at)"
    "  VALUES ($1::text, $2::json, $3::bigint, $3::bigint)"
    "  ON CONFLICT (id) DO UPDATE SET"
    "  content_json = excluded.content_json,"
    "  updated_at = excluded.updated_at)"
    " INSERT INTO jobs (content_id, event_id, content_json, scheduled_at,"
    " created_at) VALUES ($1::text, $4::text, $2::json, $5::bigint,"
    " $3::bigint) RETURNING id";

static int insert_job(struct pg_store *s, const struct job_request *req,
                      int64_t scheduled_at, int64_t now, int64_t *job_id)
{
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_text(&p, req->content_id);
    pg_param_text(&p, req->content_json);
    pg_param_int(&p, now);
    pg_param_text(&p, req->event_id);
    pg_param_int(&p, scheduled_at);
    PGresult *res =
        pg_query(s, PG_JOB_INSERT, sql_job_insert, &p, "insert job", &result);
    *job_id = res != NULL && PQntuples(res) > 0 ? pg_get_int(res, 0, 0) : 0;
    PQclear(res);
    return result;
}

int pg_event_remember(struct pg_store *s, const char *event_id, int64_t job_id,
                      int64_t now)
{
    static const char sql[] = "INSERT INTO seen_events (event_id, job_id, at)"
                              " VALUES ($1::text, $2::bigint, $3::bigint)"
                              " ON CONFLICT (event_id) DO NOTHING";
    struct pg_params p;
    size_t rows = 0;
    int result;

    pg_params_init(&p);
    pg_param_text(&p, event_id);
    if (job_id != 0)
        pg_param_int(&p, job_id);
    else
        pg_param_text(&p, NULL);
    pg_param_int(&p, now);
    result = pg_exec_count(s, PG_SEEN_EVENT_INSERT, sql, &p, "record event id",
                           &rows);
    if (result != STORE_OK || rows == 1)
        return result;
    snprintf(s->sqlstate, sizeof s->sqlstate, "40001");
    return pg_error(s, STORE_BUSY,
                    "event id \"%s\" was submitted by another process at "
                    "the same time",
                    event_id);
}

/*
 * Inserts every entry of a job in one statement. Ids come from the
 * sequence inside the statement, so the key is "pubq-" || id || "-" ||
 * the hash computed here, the same key store_key_make() gives.
 */
static const char sql_entry_insert[] =
    "INSERT INTO entries (id, job_id, content_id, platform, status,"
    " max_retries, scheduled_at, due_at, idempotency_key, created_at,"
    " updated_at)"
    " SELECT n.id, $1::bigint, $2::text, n.platform, 'pending',"
    " n.max_retries, $3::bigint, $4::bigint,"
    " 'pubq-' || n.id || '-' || n.hash, $5::bigint, $5::bigint"
    " FROM (SELECT nextval('entries_id_seq') AS id, p.platform, p.hash,"
    "   p.max_retries"
    "   FROM ROWS FROM (json_to_recordset($6::json)"
    "     AS (platform text, hash text, max_retries integer))"
    "     WITH ORDINALITY AS p(platform, hash, max_retries, ord)"
    "   ORDER BY p.ord) AS n";

static char *entry_rows(const struct job_request *req, int64_t job_id)
{
    json_t *rows = json_array();
    char *text;

    for (size_t i = 0; rows != NULL && i < req->platform_count; i++) {
        uint32_t max_retries = req->platform_max_retries != NULL
                                   ? req->platform_max_retries[i]
                                   : req->max_retries;
        char hash[24];

        store_key_hash(hash, sizeof hash, req->content_id, req->platforms[i],
                       job_id);
        json_array_append_new(rows, json_pack("{s:s, s:s, s:I}", "platform",
                                              req->platforms[i], "hash", hash,
                                              "max_retries",
                                              (json_int_t)max_retries));
    }
    text = rows != NULL ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    return text;
}

static int insert_entries(struct pg_store *s, const struct job_request *req,
                          int64_t job_id, int64_t scheduled_at, int64_t now)
{
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_int(&p, job_id);
    pg_param_text(&p, req->content_id);
    pg_param_int(&p, scheduled_at);
    pg_param_int(&p, scheduled_at > now ? scheduled_at : now);
    pg_param_int(&p, now);
    /* A platform name that is not UTF-8 makes json_pack fail. */
    char *rows = entry_rows(req, job_id);
    if (rows == NULL)
        return pg_error(s, STORE_INVALID,
                        "invalid job (content \"%s\"): a platform name is "
                        "not valid UTF-8",
                        req->content_id);
    pg_param_owned(&p, rows);
    result =
        pg_exec(s, PG_ENTRY_INSERT, sql_entry_insert, &p, "insert entries");
    pg_params_clear(&p);
    return result;
}

static int audit_accepted(struct pg_store *s, const struct job_request *req,
                          int64_t job_id, int64_t scheduled_at, int64_t now)
{
    json_t *platforms = json_array();
    json_t *metadata = json_object();
    int result;

    for (size_t i = 0; i < req->platform_count; i++)
        json_array_append_new(platforms, json_string(req->platforms[i]));
    json_object_set_new(metadata, "job", json_integer(job_id));
    json_object_set_new(metadata, "platforms", platforms);
    json_object_set_new(metadata, "scheduled_at", json_integer(scheduled_at));
    json_object_set_new(
        metadata, "source",
        json_string(req->source != NULL ? req->source : "unknown"));
    json_object_set_new(metadata, "event_id",
                        req->event_id != NULL ? json_string(req->event_id)
                                              : json_null());

    struct pg_audit record = {
        .at = now,
        .agent = "intake",
        .action = "accepted",
        .content_id = req->content_id,
        .status = "accepted",
        .metadata = metadata,
    };
    result = pg_audit_insert(s, &record);
    json_decref(metadata);
    return result;
}

/* Writes one request inside the open transaction. */
static int submit_one(struct pg_store *s, const struct job_request *req,
                      int64_t now, struct submit_result *out)
{
    int64_t scheduled_at = req->scheduled_at > 0 ? req->scheduled_at : now;
    int result = STORE_OK;

    out->job_id = 0;
    out->duplicate = 0;
    if (req->event_id != NULL) {
        result = pg_event_find(s, req->event_id, &out->duplicate, &out->job_id);
        if (result != STORE_OK || out->duplicate)
            return result;
    }

    result = insert_job(s, req, scheduled_at, now, &out->job_id);
    if (result == STORE_OK && req->event_id != NULL)
        result = pg_event_remember(s, req->event_id, out->job_id, now);
    if (result == STORE_OK)
        result = insert_entries(s, req, out->job_id, scheduled_at, now);
    if (result == STORE_OK)
        result = audit_accepted(s, req, out->job_id, scheduled_at, now);
    if (result == STORE_OK)
        s->notify = 1;
    return result;
}

struct submit_args {
    const struct job_request *reqs;
    size_t count;
    int64_t now;
    struct submit_result *results;
};

static int submit_body(struct pg_store *s, void *arg)
{
    struct submit_args *a = arg;
    int result = STORE_OK;

    for (size_t i = 0; result == STORE_OK && i < a->count; i++)
        result = submit_one(s, &a->reqs[i], a->now, &a->results[i]);
    return result;
}

int pg_submit_jobs(struct store *store, const struct job_request *reqs,
                   size_t count, int64_t now, struct submit_result *results)
{
    struct submit_args args = {reqs, count, now, results};
    struct pg_op op = {"submit jobs", PG_OP_TRANSACTION, submit_body, &args};
    int result = store_check_requests(store, reqs, count, results);

    if (result != STORE_OK || count == 0)
        return result;
    return pg_run_op(pg_store_of(store), &op);
}

struct get_job_args {
    int64_t job_id;
    struct job *job;
};

static int get_job_body(struct pg_store *s, void *arg)
{
    static const char sql[] =
        "SELECT id, content_id, coalesce(event_id, ''), content_json,"
        " scheduled_at, created_at FROM jobs WHERE id = $1::bigint";
    struct get_job_args *a = arg;
    struct job *job = a->job;
    struct pg_params p;
    int result;

    job_clear(job);
    memset(job, 0, sizeof *job);
    pg_params_init(&p);
    pg_param_int(&p, a->job_id);
    PGresult *res = pg_query(s, PG_JOB_GET, sql, &p, "get job", &result);
    if (res == NULL)
        return result;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return pg_error(s, STORE_NOT_FOUND, "job %" PRId64 " not found",
                        a->job_id);
    }

    job->id = pg_get_int(res, 0, 0);
    pg_get_text(res, 0, 1, job->content_id, sizeof job->content_id);
    pg_get_text(res, 0, 2, job->event_id, sizeof job->event_id);
    job->content_json = strdup(PQgetvalue(res, 0, 3));
    job->scheduled_at = pg_get_int(res, 0, 4);
    job->created_at = pg_get_int(res, 0, 5);
    PQclear(res);
    if (job->content_json == NULL)
        return pg_error(s, STORE_ERROR, "out of memory");
    return STORE_OK;
}

int pg_get_job(struct store *store, int64_t job_id, struct job *job)
{
    struct get_job_args args = {job_id, job};
    struct pg_op op = {"get job", PG_OP_AUTOCOMMIT, get_job_body, &args};

    memset(job, 0, sizeof *job);
    return pg_run_op(pg_store_of(store), &op);
}

struct get_entry_args {
    int64_t entry_id;
    struct entry *entry;
};

int pg_read_entry_by_id(struct pg_store *s, int64_t entry_id,
                        struct entry *entry)
{
    static const char sql[] =
        "SELECT " PG_ENTRY_COLUMNS " FROM entries WHERE id = $1::bigint";
    struct pg_params p;
    int result;

    memset(entry, 0, sizeof *entry);
    pg_params_init(&p);
    pg_param_int(&p, entry_id);
    PGresult *res = pg_query(s, PG_ENTRY_GET, sql, &p, "get entry", &result);
    if (res == NULL)
        return result;
    if (PQntuples(res) == 0)
        result = pg_error(s, STORE_NOT_FOUND, "entry %" PRId64 " not found",
                          entry_id);
    else
        pg_read_entry(res, 0, 0, entry);
    PQclear(res);
    return result;
}

static int get_entry_body(struct pg_store *s, void *arg)
{
    struct get_entry_args *a = arg;

    return pg_read_entry_by_id(s, a->entry_id, a->entry);
}

int pg_get_entry(struct store *store, int64_t entry_id, struct entry *entry)
{
    struct get_entry_args args = {entry_id, entry};
    struct pg_op op = {"get entry", PG_OP_AUTOCOMMIT, get_entry_body, &args};

    return pg_run_op(pg_store_of(store), &op);
}

/*
 * Unused filters bind NULL or an open bound, so one constant statement
 * serves every combination. The id bound keeps pages on the primary key.
 */
static const char sql_entry_list[] =
    "SELECT " PG_ENTRY_COLUMNS " FROM entries"
    " WHERE ($1::text IS NULL OR status = $1::text)"
    " AND ($2::text IS NULL OR platform = $2::text)"
    " AND ($3::text IS NULL OR content_id = $3::text)"
    " AND ($4::bigint = 0 OR job_id = $4::bigint)"
    " AND scheduled_at >= $5::bigint AND scheduled_at < $6::bigint"
    " AND id < $7::bigint ORDER BY id DESC LIMIT $8::bigint";

/* The change feed: the same filters, oldest change first. */
static const char sql_entry_list_updated[] =
    "SELECT " PG_ENTRY_COLUMNS " FROM entries"
    " WHERE ($1::text IS NULL OR status = $1::text)"
    " AND ($2::text IS NULL OR platform = $2::text)"
    " AND ($3::text IS NULL OR content_id = $3::text)"
    " AND ($4::bigint = 0 OR job_id = $4::bigint)"
    " AND scheduled_at >= $5::bigint AND scheduled_at < $6::bigint"
    " AND id < $7::bigint"
    " AND (updated_at, id) > ($9::bigint, $10::bigint)"
    " ORDER BY updated_at, id LIMIT $8::bigint";

struct list_entries_args {
    const struct entry_filter *filter;
    struct entry_list *list;
};

static int list_entries_body(struct pg_store *s, void *arg)
{
    struct list_entries_args *a = arg;
    const struct entry_filter *f = a->filter;
    struct pg_params p;
    int result;

    entry_list_free(a->list);
    pg_params_init(&p);
    pg_param_text(&p, f->has_status ? entry_status_name(f->status) : NULL);
    pg_param_text(&p, f->platform);
    pg_param_text(&p, f->content_id);
    pg_param_int(&p, f->job_id);
    pg_param_int(&p, f->scheduled_from != 0 ? f->scheduled_from : INT64_MIN);
    pg_param_int(&p, f->scheduled_to != 0 ? f->scheduled_to : INT64_MAX);
    pg_param_int(&p, f->before_id != 0 ? f->before_id : INT64_MAX);
    pg_param_int(&p, f->limit != 0 ? (int64_t)f->limit : 100);
    if (f->updated_since != 0) {
        pg_param_int(&p, f->updated_since);
        pg_param_int(&p, f->updated_after_id);
    }

    PGresult *res =
        f->updated_since != 0
            ? pg_query(s, PG_ENTRY_LIST_UPDATED, sql_entry_list_updated, &p,
                       "list entries", &result)
            : pg_query(s, PG_ENTRY_LIST, sql_entry_list, &p, "list entries",
                       &result);
    if (res == NULL)
        return result;
    result = pg_read_entries(s, res, a->list);
    PQclear(res);
    return result;
}

int pg_list_entries(struct store *store, const struct entry_filter *filter,
                    struct entry_list *list)
{
    struct entry_filter none = {0};
    struct list_entries_args args = {filter != NULL ? filter : &none, list};
    struct pg_op op = {"list entries", PG_OP_AUTOCOMMIT, list_entries_body,
                       &args};

    list->items = NULL;
    list->count = 0;
    return pg_run_op(pg_store_of(store), &op);
}

static void read_attempt(const PGresult *res, int row, struct attempt *a)
{
    memset(a, 0, sizeof *a);
    a->id = pg_get_int(res, row, 0);
    a->entry_id = pg_get_int(res, row, 1);
    a->number = (uint32_t)pg_get_int(res, row, 2);
    a->started_at = pg_get_int(res, row, 3);
    a->ended_at = pg_get_int(res, row, 4);
    a->finished = pg_get_bool(res, row, 5);
    /* A running attempt has no outcome yet; it reads as unknown. */
    a->outcome = OUTCOME_UNKNOWN;
    if (!PQgetisnull(res, row, 6))
        outcome_parse(PQgetvalue(res, row, 6), &a->outcome);
    a->http_status = (int)pg_get_int(res, row, 7);
    a->latency_ms = pg_get_int(res, row, 8);
    pg_get_text(res, row, 9, a->node, sizeof a->node);
    pg_get_text(res, row, 10, a->error, sizeof a->error);
}

struct list_attempts_args {
    int64_t entry_id;
    struct attempt_list *list;
};

static int list_attempts_body(struct pg_store *s, void *arg)
{
    static const char sql[] =
        "SELECT id, entry_id, number, started_at, ended_at, finished,"
        " outcome, http_status, latency_ms, node, error FROM attempts"
        " WHERE entry_id = $1::bigint ORDER BY number";
    struct list_attempts_args *a = arg;
    struct entry entry;
    struct pg_params p;
    int result = pg_read_entry_by_id(s, a->entry_id, &entry);

    attempt_list_free(a->list);
    if (result != STORE_OK)
        return result;
    pg_params_init(&p);
    pg_param_int(&p, a->entry_id);
    PGresult *res =
        pg_query(s, PG_ATTEMPT_LIST, sql, &p, "list attempts", &result);
    if (res == NULL)
        return result;

    int rows = PQntuples(res);
    if (rows > 0) {
        a->list->items = calloc((size_t)rows, sizeof *a->list->items);
        if (a->list->items == NULL)
            result = pg_error(s, STORE_ERROR, "out of memory listing attempts");
    }
    for (int i = 0; result == STORE_OK && i < rows; i++)
        read_attempt(res, i, &a->list->items[i]);
    if (result == STORE_OK)
        a->list->count = (size_t)rows;
    PQclear(res);
    return result;
}

int pg_list_attempts(struct store *store, int64_t entry_id,
                     struct attempt_list *list)
{
    struct list_attempts_args args = {entry_id, list};
    struct pg_op op = {"list attempts", PG_OP_AUTOCOMMIT, list_attempts_body,
                       &args};

    list->items = NULL;
    list->count = 0;
    return pg_run_op(pg_store_of(store), &op);
}

struct count_args {
    const char *platform;
    struct status_counts *counts;
};

static int count_body(struct pg_store *s, void *arg)
{
    static const char sql[] =
        "SELECT status, count(*) FROM entries"
        " WHERE ($1::text IS NULL OR platform = $1::text) GROUP BY status";
    struct count_args *a = arg;
    struct pg_params p;
    int result;

    memset(a->counts, 0, sizeof *a->counts);
    pg_params_init(&p);
    pg_param_text(&p, a->platform);
    PGresult *res =
        pg_query(s, PG_ENTRY_COUNT, sql, &p, "count entries", &result);
    if (res == NULL)
        return result;
    for (int i = 0; i < PQntuples(res); i++) {
        enum entry_status status;

        if (entry_status_parse(PQgetvalue(res, i, 0), &status) == 0)
            a->counts->by_status[status] = pg_get_int(res, i, 1);
    }
    PQclear(res);
    return STORE_OK;
}

int pg_count_entries(struct store *store, const char *platform,
                     struct status_counts *counts)
{
    struct count_args args = {platform, counts};
    struct pg_op op = {"count entries", PG_OP_AUTOCOMMIT, count_body, &args};

    return pg_run_op(pg_store_of(store), &op);
}
