/* Platform pauses and adapter state (PostgreSQL store). */
#include "store/pg_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_check.h"
#include "util/banned.h"

static int audit_platform(struct pg_store *s, const char *platform,
                          const char *action, const char *status,
                          json_t *metadata, const char *agent, int64_t now,
                          struct pg_audit_batch *audit)
{
    struct pg_audit record = {
        .at = now,
        .agent = store_agent_or_default(agent),
        .action = action,
        .platform = platform,
        .status = status,
        .metadata = metadata,
    };

    if (audit != NULL)
        return pg_audit_batch_add(s, audit, &record);
    return pg_audit_insert(s, &record);
}

int pg_pause(struct pg_store *s, const char *platform, int64_t until,
             const char *reason, int64_t now, const char *agent,
             int extend_only, struct pg_audit_batch *audit)
{
    static const char sql[] =
        "INSERT INTO platform_state AS p (platform, paused_until,"
        " pause_reason, updated_at)"
        " VALUES ($1::text, $2::bigint, $3::text, $4::bigint)"
        " ON CONFLICT (platform) DO UPDATE SET"
        " pause_reason = CASE WHEN $5::boolean"
        "   AND p.paused_until > excluded.paused_until"
        "   THEN p.pause_reason ELSE excluded.pause_reason END,"
        " paused_until = CASE WHEN $5::boolean"
        "   THEN greatest(p.paused_until, excluded.paused_until)"
        "   ELSE excluded.paused_until END,"
        " updated_at = excluded.updated_at";
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, platform);
    pg_param_int(&p, until);
    pg_param_text_max(&p, reason, STORE_TEXT_MAX);
    pg_param_int(&p, now);
    pg_param_bool(&p, extend_only);
    int result = pg_exec(s, PG_PLATFORM_PAUSE, sql, &p, "pause platform");
    pg_params_clear(&p);
    if (result != STORE_OK)
        return result;

    /* INT64_MAX is "until resumed", written as null. */
    json_t *metadata = json_pack(
        "{s:o, s:s}", "until",
        until == INT64_MAX ? json_null() : json_integer((json_int_t)until),
        "reason", reason != NULL ? reason : "");
    result = audit_platform(s, platform, "platform_paused", "paused", metadata,
                            agent, now, audit);
    json_decref(metadata);
    return result;
}

struct platform_args {
    const char *platform;
    int64_t until;
    const char *reason;
    int64_t now;
    const char *agent;
};

static int pause_body(struct pg_store *s, void *arg)
{
    struct platform_args *a = arg;

    return pg_pause(s, a->platform, a->until, a->reason, a->now, a->agent, 0,
                    NULL);
}

int pg_pause_platform(struct store *store, const char *platform, int64_t until,
                      const char *reason, int64_t now, const char *agent)
{
    struct platform_args args = {platform, until, reason, now, agent};
    struct pg_op op = {"pause platform", PG_OP_TRANSACTION, pause_body, &args};
    int result = store_check_platform(store, platform);

    if (result != STORE_OK)
        return result;
    if (until <= now)
        return store_fail(store, STORE_INVALID,
                          "invalid pause of \"%s\" until %" PRId64
                          ": the time has passed; give a later time",
                          platform, until);
    return pg_run_op(pg_store_of(store), &op);
}

/* Ends an active pause; resuming a platform that is not paused changes
 * and records nothing. */
static int resume_body(struct pg_store *s, void *arg)
{
    static const char sql[] =
        "UPDATE platform_state SET paused_until = 0, pause_reason = '',"
        " updated_at = $2::bigint"
        " WHERE platform = $1::text AND paused_until > $2::bigint";
    struct platform_args *a = arg;
    struct pg_params p;
    size_t rows = 0;

    pg_params_init(&p);
    pg_param_text(&p, a->platform);
    pg_param_int(&p, a->now);
    int result =
        pg_exec_count(s, PG_PLATFORM_RESUME, sql, &p, "resume platform", &rows);
    if (result != STORE_OK || rows == 0)
        return result;

    /* The platform's waiting entries may be due now. */
    s->notify = 1;
    return audit_platform(s, a->platform, "platform_resumed", "resumed", NULL,
                          a->agent, a->now, NULL);
}

int pg_resume_platform(struct store *store, const char *platform, int64_t now,
                       const char *agent)
{
    struct platform_args args = {platform, 0, NULL, now, agent};
    struct pg_op op = {"resume platform", PG_OP_TRANSACTION, resume_body,
                       &args};
    int result = store_check_platform(store, platform);

    if (result != STORE_OK)
        return result;
    return pg_run_op(pg_store_of(store), &op);
}

static int list_states_body(struct pg_store *s, void *arg)
{
    static const char sql[] =
        "SELECT platform, paused_until, pause_reason, updated_at"
        " FROM platform_state ORDER BY platform";
    struct platform_state_list *list = arg;
    int result;

    platform_state_list_free(list);
    PGresult *res = pg_query(s, PG_PLATFORM_LIST, sql, NULL,
                             "list platform states", &result);
    if (res == NULL)
        return result;

    int rows = PQntuples(res);
    if (rows > 0) {
        list->items = calloc((size_t)rows, sizeof *list->items);
        if (list->items == NULL) {
            PQclear(res);
            return pg_error(s, STORE_ERROR, "out of memory listing platforms");
        }
    }
    for (int i = 0; i < rows; i++) {
        struct platform_state *state = &list->items[i];

        pg_get_text(res, i, 0, state->platform, sizeof state->platform);
        state->paused_until = pg_get_int(res, i, 1);
        pg_get_text(res, i, 2, state->pause_reason, sizeof state->pause_reason);
        state->updated_at = pg_get_int(res, i, 3);
    }
    list->count = (size_t)rows;
    PQclear(res);
    return STORE_OK;
}

int pg_list_platform_states(struct store *store,
                            struct platform_state_list *list)
{
    struct pg_op op = {"list platform states", PG_OP_AUTOCOMMIT,
                       list_states_body, list};

    list->items = NULL;
    list->count = 0;
    return pg_run_op(pg_store_of(store), &op);
}

struct data_args {
    const char *platform;
    const char *json_in;
    char **json_out;
    int64_t now;
};

static int get_data_body(struct pg_store *s, void *arg)
{
    static const char sql[] = "SELECT data_json FROM platform_state"
                              " WHERE platform = $1::text"
                              " AND data_json IS NOT NULL";
    struct data_args *a = arg;
    struct pg_params p;
    int result;

    free(*a->json_out);
    *a->json_out = NULL;
    pg_params_init(&p);
    pg_param_text(&p, a->platform);
    PGresult *res = pg_query(s, PG_PLATFORM_DATA_GET, sql, &p,
                             "get platform data", &result);
    if (res == NULL)
        return result;
    if (PQntuples(res) == 0) {
        result = pg_error(s, STORE_NOT_FOUND,
                          "no stored data for platform \"%s\"", a->platform);
    } else {
        *a->json_out = strdup(PQgetvalue(res, 0, 0));
        if (*a->json_out == NULL)
            result = pg_error(s, STORE_ERROR, "out of memory");
    }
    PQclear(res);
    return result;
}

int pg_get_platform_data(struct store *store, const char *platform, char **json)
{
    struct data_args args = {platform, NULL, json, 0};
    struct pg_op op = {"get platform data", PG_OP_AUTOCOMMIT, get_data_body,
                       &args};
    int result = store_check_platform(store, platform);

    *json = NULL;
    if (result != STORE_OK)
        return result;
    return pg_run_op(pg_store_of(store), &op);
}

static int set_data_body(struct pg_store *s, void *arg)
{
    static const char sql[] =
        "INSERT INTO platform_state (platform, data_json, updated_at)"
        " VALUES ($1::text, $2::json, $3::bigint)"
        " ON CONFLICT (platform) DO UPDATE SET"
        " data_json = excluded.data_json, updated_at = excluded.updated_at";
    struct data_args *a = arg;
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, a->platform);
    pg_param_text(&p, a->json_in);
    pg_param_int(&p, a->now);
    return pg_exec(s, PG_PLATFORM_DATA_SET, sql, &p, "set platform data");
}

int pg_set_platform_data(struct store *store, const char *platform,
                         const char *json, int64_t now)
{
    struct data_args args = {platform, json, NULL, now};
    struct pg_op op = {"set platform data", PG_OP_AUTOCOMMIT, set_data_body,
                       &args};
    json_error_t error;
    int result = store_check_platform(store, platform);

    if (result != STORE_OK)
        return result;
    json_t *parsed =
        json != NULL ? json_loads(json, JSON_DECODE_ANY, &error) : NULL;
    if (parsed == NULL)
        return store_fail(store, STORE_INVALID,
                          "invalid data for platform \"%s\": not JSON",
                          platform);
    json_decref(parsed);
    return pg_run_op(pg_store_of(store), &op);
}
