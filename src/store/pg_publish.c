/*
 * The "publish" audit record of a job whose entries all finished their
 * first round (PostgreSQL store).
 */
#include "store/pg_internal.h"

#include <string.h>

#include "util/banned.h"

/*
 * Locks the job row while its "publish" record is still missing. The
 * lock makes the check that follows run after any other transaction
 * that finished an entry of the same job has committed, so the last of
 * them reads every entry as done. *open is 0 when the record exists
 * already.
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

/*
 * The insert of every audit record of the operation and the publish
 * check of several jobs, in one statement. $1 is a JSON array of
 * pg_audit_row() objects, inserted first and in order. $2 is a JSON
 * array of {"id", "at"}: the jobs to check (those with more than one
 * entry locked by the caller), and their "publish" records follow in
 * that order. Each job
 * whose entries have all finished their first round is marked audited
 * and gets its record at its `at`, with the metadata {"job",
 * "platforms": [...], "results": [{"platform", "status"}]} as compact
 * JSON text, from the first-round status of each entry, oldest entry
 * first. The status is success (all published), partial (some) or
 * failed (none), and entries cancelled before their first attempt count
 * as neither.
 */
static const char sql_rounds[] =
    "WITH wanted AS ("
    "  SELECT w.id, w.at, w.ord FROM ROWS FROM (json_to_recordset($2::json)"
    "    AS (id bigint, at bigint)) WITH ORDINALITY AS w(id, at, ord)),"
    " marked AS ("
    "  UPDATE jobs j SET publish_audited = true"
    "  WHERE j.id = ANY (ARRAY(SELECT id FROM wanted))"
    "  AND NOT j.publish_audited"
    "  AND NOT EXISTS (SELECT 1 FROM entries e"
    "    WHERE e.job_id = j.id AND NOT e.first_round_done)"
    "  AND EXISTS (SELECT 1 FROM entries e"
    "    WHERE e.job_id = j.id AND e.attempt_count > 0)"
    "  RETURNING j.id, j.content_id),"
    " rounds AS ("
    "  SELECT w.ord, w.at, m.content_id, '{\"job\":' || m.id"
    "  || ',\"platforms\":' || r.platforms || ',\"results\":[' || r.results"
    "  || ']}' AS metadata, r.counted, r.published"
    "  FROM marked m JOIN wanted w ON w.id = m.id,"
    "  LATERAL (SELECT array_to_json(array_agg(e.platform ORDER BY e.id))"
    "    AS platforms,"
    "    string_agg('{\"platform\":' || to_json(e.platform) || ',\"status\":'"
    "      || to_json(f.status) || '}', ',' ORDER BY e.id) AS results,"
    "    count(*) FILTER (WHERE f.status <> 'cancelled') AS counted,"
    "    count(*) FILTER (WHERE f.status = 'published') AS published"
    "    FROM entries e,"
    "    LATERAL (SELECT coalesce(e.first_round_status, e.status)"
    "      AS status) f"
    "    WHERE e.job_id = m.id) r),"
    " records AS ("
    "  SELECT 0 AS part, r.ord, r.at, r.agent, r.action, r.job_id,"
    "  r.entry_id, r.platform, r.status, r.metadata" PG_AUDIT_ROWS_FROM
    "  UNION ALL"
    "  SELECT 1, ord, at, 'queue-manager', 'publish', content_id, 0, '',"
    "  CASE WHEN counted > 0 AND published = counted THEN 'success'"
    "    WHEN published > 0 THEN 'partial' ELSE 'failed' END,"
    "  metadata::json FROM rounds)"
    " INSERT INTO audit (at, agent_name, action, job_id, entry_id, platform,"
    " status, metadata)"
    " SELECT at, agent, action, job_id, entry_id, platform, status, metadata"
    " FROM records ORDER BY part, ord";

static char *rounds_json(const struct pg_job_round *rounds, size_t count)
{
    json_t *rows = json_array();
    char *text = NULL;
    size_t i = 0;

    while (rows != NULL && i < count &&
           json_array_append_new(
               rows, json_pack("{s:I, s:I}", "id", (json_int_t)rounds[i].job_id,
                               "at", (json_int_t)rounds[i].at)) == 0)
        i++;
    if (rows != NULL && i == count)
        text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    return text;
}

int pg_publish_rounds(struct pg_store *s, const struct pg_job_round *rounds,
                      size_t count, struct pg_audit_batch *audit, int commit)
{
    struct pg_params p;
    int result;

    if (count == 0 && audit->count == 0)
        return STORE_OK;
    pg_params_init(&p);
    pg_param_owned(&p, audit->rows != NULL
                           ? json_dumps(audit->rows, JSON_COMPACT)
                           : strdup("[]"));
    pg_param_owned(&p, rounds_json(rounds, count));
    if (commit)
        result = pg_exec_commit(s, PG_PUBLISH_MARK, sql_rounds, &p,
                                "write audit records");
    else
        result =
            pg_exec(s, PG_PUBLISH_MARK, sql_rounds, &p, "write audit records");
    pg_params_clear(&p);
    pg_audit_batch_clear(audit);
    return result;
}

int pg_publish_check(struct pg_store *s, int64_t job_id, int64_t now)
{
    struct pg_job_round round = {job_id, now};
    struct pg_audit_batch none;
    int open = 0;
    int result = lock_job(s, job_id, &open);

    if (result != STORE_OK || !open)
        return result;
    pg_audit_batch_init(&none);
    return pg_publish_rounds(s, &round, 1, &none, 0);
}
