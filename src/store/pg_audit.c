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

void pg_audit_batch_init(struct pg_audit_batch *batch)
{
    batch->rows = NULL;
    batch->count = 0;
}

void pg_audit_batch_clear(struct pg_audit_batch *batch)
{
    json_decref(batch->rows);
    pg_audit_batch_init(batch);
}

/* The audit columns are NOT NULL, so a missing text is "". */
static json_t *audit_text(const char *text, size_t max)
{
    return pg_json_text_max(text != NULL ? text : "", max);
}

json_t *pg_audit_row(const struct pg_audit *record)
{
    json_t *metadata = record->metadata != NULL ? json_incref(record->metadata)
                                                : json_object();

    return json_pack("{s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:o}", "at",
                     (json_int_t)record->at, "agent",
                     audit_text(record->agent, STORE_NAME_MAX), "action",
                     audit_text(record->action, STORE_NAME_MAX), "job_id",
                     audit_text(record->content_id, STORE_ID_MAX), "entry_id",
                     (json_int_t)record->entry_id, "platform",
                     audit_text(record->platform, STORE_NAME_MAX), "status",
                     audit_text(record->status, STORE_NAME_MAX), "metadata",
                     metadata);
}

int pg_audit_batch_add(struct pg_store *s, struct pg_audit_batch *batch,
                       const struct pg_audit *record)
{
    json_t *row = pg_audit_row(record);

    if (batch->rows == NULL)
        batch->rows = json_array();
    if (row == NULL || batch->rows == NULL ||
        json_array_append_new(batch->rows, row) != 0)
        return pg_error(s, STORE_ERROR,
                        "out of memory collecting the audit record \"%s\"",
                        record->action);
    batch->count++;
    return STORE_OK;
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
