/* The audit log of the PostgreSQL store: writing records and querying. */
#include "store/pg_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static const char sql_audit_insert[] =
    "INSERT INTO audit (at, agent_name, action, job_id, entry_id, platform,"
    " status, metadata) VALUES ($1::bigint, $2::text, $3::text, $4::text,"
    " $5::bigint, $6::text, $7::text, $8::json)";

int pg_audit_insert(struct pg_store *s, const struct pg_audit *record)
{
    struct pg_params p;
    char *metadata = NULL;
    int result;

    if (record->metadata != NULL) {
        metadata = json_dumps(record->metadata, JSON_COMPACT);
        if (metadata == NULL)
            return pg_error(s, STORE_ERROR,
                            "out of memory writing the audit record \"%s\"",
                            record->action);
    }

    pg_params_init(&p);
    pg_param_int(&p, record->at);
    pg_param_text_max(&p, record->agent, STORE_NAME_MAX);
    pg_param_text_max(&p, record->action, STORE_NAME_MAX);
    pg_param_text_max(&p, record->content_id, STORE_ID_MAX);
    pg_param_int(&p, record->entry_id);
    pg_param_text_max(&p, record->platform, STORE_NAME_MAX);
    pg_param_text_max(&p, record->status, STORE_NAME_MAX);
    if (metadata != NULL)
        pg_param_owned(&p, metadata);
    else
        pg_param_text(&p, "{}");
    result =
        pg_exec(s, PG_AUDIT_INSERT, sql_audit_insert, &p, "write audit record");
    pg_params_clear(&p);
    return result;
}

/*
 * Locks the job row while its "publish" record is still missing. The
 * lock makes the check below run after any other transaction that
 * finished an entry of the same job has committed, so the last of them
 * reads every entry as done. *open is 0 when the record exists already.
 */
static int lock_job(struct pg_store *s, int64_t job_id, int *open)
{
    static const char sql[] = "SELECT 1 FROM jobs WHERE id = $1::bigint"
                              " AND NOT publish_audited FOR UPDATE";
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_int(&p, job_id);
    PGresult *res = pg_query(s, PG_PUBLISH_LOCK, sql, &p, "lock job", &result);
    *open = res != NULL && PQntuples(res) > 0;
    PQclear(res);
    return result;
}

/* Marks the job audited when its first round is over; *done when so. */
static int mark_job_done(struct pg_store *s, int64_t job_id, char *content_id,
                         size_t size, int *done)
{
    static const char sql[] =
        "UPDATE jobs SET publish_audited = true"
        " WHERE id = $1::bigint AND NOT publish_audited"
        " AND NOT EXISTS (SELECT 1 FROM entries"
        "   WHERE job_id = $1::bigint AND NOT first_round_done)"
        " AND EXISTS (SELECT 1 FROM entries"
        "   WHERE job_id = $1::bigint AND attempt_count > 0)"
        " RETURNING content_id";
    struct pg_params p;
    int result;

    pg_params_init(&p);
    pg_param_int(&p, job_id);
    PGresult *res =
        pg_query(s, PG_PUBLISH_MARK, sql, &p, "check publish round", &result);
    *done = res != NULL && PQntuples(res) > 0;
    if (*done)
        pg_get_text(res, 0, 0, content_id, size);
    PQclear(res);
    return result;
}

/*
 * Builds {"platforms": [...], "results": [{"platform", "status"}]} from
 * the first-round status of each entry and picks success, partial or
 * failed. Entries cancelled before their first attempt count as neither.
 */
static int build_results(struct pg_store *s, int64_t job_id, json_t *metadata,
                         const char **status)
{
    static const char sql[] =
        "SELECT platform, coalesce(first_round_status, status)"
        " FROM entries WHERE job_id = $1::bigint ORDER BY id";
    json_t *platforms = json_array();
    json_t *results = json_array();
    size_t published = 0;
    size_t counted = 0;
    struct pg_params p;
    int result;

    json_object_set_new(metadata, "platforms", platforms);
    json_object_set_new(metadata, "results", results);
    pg_params_init(&p);
    pg_param_int(&p, job_id);
    PGresult *res = pg_query(s, PG_PUBLISH_RESULTS, sql, &p,
                             "read publish results", &result);
    if (res == NULL)
        return result;

    for (int i = 0; i < PQntuples(res); i++) {
        const char *platform = PQgetvalue(res, i, 0);
        const char *first = PQgetvalue(res, i, 1);

        json_array_append_new(platforms, json_string(platform));
        json_array_append_new(results, json_pack("{s:s, s:s}", "platform",
                                                 platform, "status", first));
        if (strcmp(first, "cancelled") != 0)
            counted++;
        if (strcmp(first, "published") == 0)
            published++;
    }
    PQclear(res);

    if (counted > 0 && published == counted)
        *status = "success";
    else if (published > 0)
        *status = "partial";
    else
        *status = "failed";
    return STORE_OK;
}

int pg_publish_check(struct pg_store *s, int64_t job_id, int64_t now)
{
    char content_id[STORE_ID_MAX];
    const char *status = "failed";
    int open = 0;
    int done = 0;
    int result = lock_job(s, job_id, &open);

    if (result == STORE_OK && open)
        result = mark_job_done(s, job_id, content_id, sizeof content_id, &done);
    if (result != STORE_OK || !done)
        return result;

    json_t *metadata = json_object();
    if (metadata == NULL)
        return pg_error(s, STORE_ERROR, "out of memory");
    json_object_set_new(metadata, "job", json_integer(job_id));

    result = build_results(s, job_id, metadata, &status);
    if (result == STORE_OK) {
        struct pg_audit record = {
            .at = now,
            .agent = "queue-manager",
            .action = "publish",
            .content_id = content_id,
            .status = status,
            .metadata = metadata,
        };
        result = pg_audit_insert(s, &record);
    }
    json_decref(metadata);
    return result;
}

static const char sql_audit_list[] =
    "SELECT id, at, agent_name, action, job_id, entry_id, platform, status,"
    " metadata FROM audit"
    " WHERE ($1::text IS NULL OR job_id = $1::text)"
    " AND ($2::text IS NULL OR action = $2::text)"
    " AND ($3::text IS NULL OR platform = $3::text)"
    " AND at >= $4::bigint AND at < $5::bigint AND id < $6::bigint"
    " ORDER BY id DESC LIMIT $7::bigint";

static int read_audit(const PGresult *res, int row, struct audit_record *r)
{
    memset(r, 0, sizeof *r);
    r->id = pg_get_int(res, row, 0);
    r->at = pg_get_int(res, row, 1);
    pg_get_text(res, row, 2, r->agent_name, sizeof r->agent_name);
    pg_get_text(res, row, 3, r->action, sizeof r->action);
    pg_get_text(res, row, 4, r->job_id, sizeof r->job_id);
    r->entry_id = pg_get_int(res, row, 5);
    pg_get_text(res, row, 6, r->platform, sizeof r->platform);
    pg_get_text(res, row, 7, r->status, sizeof r->status);
    r->metadata_json = strdup(PQgetvalue(res, row, 8));
    return r->metadata_json != NULL ? 0 : -1;
}

struct list_audit_args {
    const struct audit_filter *filter;
    struct audit_list *list;
};

static int read_audit_rows(struct pg_store *s, const PGresult *res,
                           struct audit_list *list)
{
    int rows = PQntuples(res);

    if (rows == 0)
        return STORE_OK;
    list->items = calloc((size_t)rows, sizeof *list->items);
    if (list->items == NULL)
        return pg_error(s, STORE_ERROR, "out of memory listing audit records");
    for (int i = 0; i < rows; i++) {
        if (read_audit(res, i, &list->items[i]) != 0)
            return pg_error(s, STORE_ERROR,
                            "out of memory listing audit records");
        list->count++;
    }
    return STORE_OK;
}

static int list_audit_body(struct pg_store *s, void *arg)
{
    struct list_audit_args *a = arg;
    const struct audit_filter *f = a->filter;
    struct pg_params p;
    int result;

    audit_list_free(a->list);
    pg_params_init(&p);
    pg_param_text(&p, f->job_id);
    pg_param_text(&p, f->action);
    pg_param_text(&p, f->platform);
    pg_param_int(&p, f->from != 0 ? f->from : INT64_MIN);
    pg_param_int(&p, f->to != 0 ? f->to : INT64_MAX);
    pg_param_int(&p, f->before_id != 0 ? f->before_id : INT64_MAX);
    pg_param_int(&p, f->limit != 0 ? (int64_t)f->limit : 100);

    PGresult *res =
        pg_query(s, PG_AUDIT_LIST, sql_audit_list, &p, "list audit", &result);
    if (res == NULL)
        return result;
    result = read_audit_rows(s, res, a->list);
    PQclear(res);
    if (result != STORE_OK)
        audit_list_free(a->list);
    return result;
}

int pg_list_audit(struct store *store, const struct audit_filter *filter,
                  struct audit_list *list)
{
    struct audit_filter none = {0};
    struct list_audit_args args = {filter != NULL ? filter : &none, list};
    struct pg_op op = {"list audit", PG_OP_AUTOCOMMIT, list_audit_body, &args};

    list->items = NULL;
    list->count = 0;
    return pg_run_op(pg_store_of(store), &op);
}
