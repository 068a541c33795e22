/*
 * Contract tests of the storage interface, written against store.h only
 * so that every back end runs the same file. Each test opens the store
 * named by PUBQ_TEST_DATABASE, or else a fresh SQLite file in a new
 * temporary directory.
 *
 * With a PostgreSQL URL each test gets an empty schema of its own. The
 * fixture creates it and adds "options=-csearch_path=SCHEMA" (and the
 * schema as application_name) to the URL, so every connection the test
 * opens works in it. Teardown drops the schema. Any other
 * PUBQ_TEST_DATABASE must name an empty database per run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/retry_decision.h"
#include "store/store.h"
#include "test_support.h"

#define NOW INT64_C(1800000000000)
#define MINUTE INT64_C(60000)
#define HOUR (60 * MINUTE)
#define LEASE (5 * MINUTE)

struct fixture {
    char base_url[1024]; /* PUBQ_TEST_DATABASE, or "" */
    char url[1280];
    char schemas[2][64]; /* PostgreSQL schemas this test owns, or "" */
    struct store *store;
};

static int is_postgres(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 ||
           strncmp(url, "postgresql://", 13) == 0;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs one statement on a connection of its own; fails the test if not. */
static void pg_admin(const char *url, const char *sql)
{
    PGconn *conn = PQconnectdb(url);
    PGresult *res = NULL;

    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect for \"%s\": %s", sql, PQerrorMessage(conn));
    /* DROP SCHEMA ... CASCADE lists every table it drops. */
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK &&
        PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("\"%s\": %s", sql, PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
}

/*
 * Makes a database no test has used and writes its URL to url: a new
 * schema (slot 0 or 1 of the fixture) or a new SQLite file.
 */
static void fresh_database(struct fixture *f, int slot, char *url,
                           size_t size)
{
    static int counter;
    char sql[128];

    if (!is_postgres(f->base_url)) {
        snprintf(url, size, "sqlite:%s",
                 test_path(test_tmpdir(), "pubq.db"));
        return;
    }
    snprintf(f->schemas[slot], sizeof f->schemas[slot], "pubq_test_%ld_%d",
             (long)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", f->schemas[slot]);
    pg_admin(f->base_url, sql);
    snprintf(url, size,
             "%s%coptions=-csearch_path%%3D%s&application_name=%s",
             f->base_url, strchr(f->base_url, '?') != NULL ? '&' : '?',
             f->schemas[slot], f->schemas[slot]);
}

static void open_url(const char *url, struct store **store)
{
    char err[STORE_ERR_MAX];
    int rc = store_open(url, store, err, sizeof err);

    if (rc != STORE_OK)
        fail_msg("store_open: %s", err);
    rc = store_migrate(*store);
    if (rc != STORE_OK)
        fail_msg("migrate: %s", store_errmsg(*store));
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *url = getenv("PUBQ_TEST_DATABASE");

    assert_non_null(f);
    if (url != NULL && url[0] != '\0' && !is_postgres(url))
        snprintf(f->url, sizeof f->url, "%s", url);
    else {
        if (url != NULL)
            snprintf(f->base_url, sizeof f->base_url, "%s", url);
        fresh_database(f, 0, f->url, sizeof f->url);
    }
    open_url(f->url, &f->store);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char sql[128];

    store_close(f->store);
    for (int i = 0; i < 2; i++) {
        if (f->schemas[i][0] == '\0')
            continue;
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->schemas[i]);
        pg_admin(f->base_url, sql);
    }
    free(f);
    return 0;
}

static struct store *store_of(void **state)
{
    return ((struct fixture *)*state)->store;
}

/* Fails the test with the store message unless rc is STORE_OK. */
static void check_ok(struct store *store, int rc)
{
    if (rc != STORE_OK)
        fail_msg("store returned %s: %s", store_result_name(rc),
                 store_errmsg(store));
}

static struct job_request request(const char *content_id,
                                  const char *const *platforms, size_t n,
                                  int64_t scheduled_at)
{
    struct job_request req = {
        .content_id = content_id,
        .content_json = "{\"text\":\"hello\"}",
        .scheduled_at = scheduled_at,
        .platforms = platforms,
        .platform_count = n,
        .max_retries = 3,
        .source = "test",
    };
    return req;
}

static int64_t submit(struct store *store, const struct job_request *req)
{
    struct submit_result result = {0};

    check_ok(store, store->ops->submit_jobs(store, req, 1, NOW, &result));
    assert_int_equal(result.duplicate, 0);
    assert_true(result.job_id > 0);
    return result.job_id;
}

static int64_t submit_simple(struct store *store, const char *content_id,
                             const char *const *platforms, size_t n,
                             int64_t scheduled_at)
{
    struct job_request req = request(content_id, platforms, n, scheduled_at);

    return submit(store, &req);
}

static struct entry_list entries_of_job(struct store *store, int64_t job_id)
{
    struct entry_filter filter = {.job_id = job_id};
    struct entry_list list = {0};

    check_ok(store, store->ops->list_entries(store, &filter, &list));
    return list;
}

static struct entry get_entry(struct store *store, int64_t id)
{
    struct entry entry;

    check_ok(store, store->ops->get_entry(store, id, &entry));
    return entry;
}

static struct audit_list audit_of(struct store *store, const char *job_id,
                                  const char *action)
{
    struct audit_filter filter = {.job_id = job_id, .action = action};
    struct audit_list list = {0};

    check_ok(store, store->ops->list_audit(store, &filter, &list));
    return list;
}

static size_t audit_count(struct store *store, const char *job_id,
                          const char *action)
{
    struct audit_list list = audit_of(store, job_id, action);
    size_t count = list.count;

    audit_list_free(&list);
    return count;
}

/* Every platform the tests below submit to, except the race's. */
static const char *const every_platform[] = {"alpha", "beta", "gamma"};

/* Claims as a node serving `platforms`. */
static struct entry_list claim_from(struct store *store, const char *node,
                                    const char *const *platforms, size_t n,
                                    int64_t now, size_t max)
{
    struct entry_list list = {0};

    check_ok(store, store->ops->claim_due(store, node, platforms, n, now,
                                          LEASE, max, &list));
    return list;
}

/* Claims as a node serving every platform of every_platform. */
static struct entry_list claim(struct store *store, const char *node,
                               int64_t now, size_t max)
{
    return claim_from(store, node, every_platform, 3, now, max);
}

static int next_due(struct store *store, int64_t *due)
{
    return store->ops->next_due_at(store, every_platform, 3, due);
}

/* Claims exactly one entry and returns it. */
static struct entry claim_one(struct store *store, const char *node,
                              int64_t now)
{
    struct entry_list list = claim(store, node, now, 1);
    struct entry entry;

    assert_int_equal(list.count, 1);
    entry = list.items[0];
    entry_list_free(&list);
    return entry;
}

static struct attempt_completion completion(const struct entry *e,
                                            enum entry_status next,
                                            enum outcome outcome, int64_t at)
{
    struct attempt_completion c = {
        .entry_id = e->id,
        .attempt_number = e->attempt_count,
        .node = e->lease_node,
        .next_status = next,
        .retry_count = e->retry_count,
        .rate_limit_waited_ms = e->rate_limit_waited_ms,
        .outcome = outcome,
        .http_status = outcome == OUTCOME_SUCCESS ? 200 : 503,
        .ended_at = at,
        .latency_ms = 120,
        .error = outcome == OUTCOME_SUCCESS ? NULL : "service unavailable",
    };
    return c;
}

/* Applies one completion and returns applied[0]. */
static int complete(struct store *store, const struct attempt_completion *c)
{
    int applied = -1;

    check_ok(store, store->ops->complete_attempts(store, c, 1, &applied));
    return applied;
}

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);

    if (json == NULL)
        fail_msg("invalid JSON %s: %s", text, error.text);
    return json;
}

static const char *const two[] = {"alpha", "beta"};
static const char *const one_alpha[] = {"alpha"};

/* ---- submit ---- */

static void submit_creates_entries(void **state)
{
    struct store *store = store_of(state);
    struct job job;
    int64_t job_id = submit_simple(store, "post-1", two, 2, NOW + HOUR);

    check_ok(store, store->ops->get_job(store, job_id, &job));
    assert_string_equal(job.content_id, "post-1");
    assert_string_equal(job.content_json, "{\"text\":\"hello\"}");
    assert_string_equal(job.event_id, "");
    assert_int_equal(job.scheduled_at, NOW + HOUR);
    assert_int_equal(job.created_at, NOW);
    job_clear(&job);

    struct entry_list list = entries_of_job(store, job_id);
    assert_int_equal(list.count, 2);
    for (size_t i = 0; i < list.count; i++) {
        struct entry *e = &list.items[i];

        assert_int_equal(e->status, ENTRY_PENDING);
        assert_int_equal(e->job_id, job_id);
        assert_string_equal(e->content_id, "post-1");
        assert_int_equal(e->due_at, NOW + HOUR);
        assert_int_equal(e->scheduled_at, NOW + HOUR);
        assert_int_equal(e->retry_count, 0);
        assert_int_equal(e->max_retries, 3);
        assert_int_equal(e->attempt_count, 0);
        assert_string_equal(e->lease_node, "");
        assert_true(strlen(e->idempotency_key) > 0);
    }
    assert_string_not_equal(list.items[0].idempotency_key,
                            list.items[1].idempotency_key);
    assert_string_not_equal(list.items[0].platform, list.items[1].platform);
    entry_list_free(&list);
}

static void submit_writes_accepted_audit(void **state)
{
    struct store *store = store_of(state);
    struct job_request req = request("post-1", two, 2, NOW + HOUR);

    req.event_id = "evt-1";
    submit(store, &req);

    struct audit_list list = audit_of(store, "post-1", "accepted");
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].agent_name, "intake");
    assert_int_equal(list.items[0].at, NOW);

    json_t *meta = parse(list.items[0].metadata_json);
    json_t *platforms = json_object_get(meta, "platforms");
    assert_int_equal(json_array_size(platforms), 2);
    assert_string_equal(json_string_value(json_array_get(platforms, 0)),
                        "alpha");
    assert_int_equal(json_integer_value(json_object_get(meta, "scheduled_at")),
                     NOW + HOUR);
    assert_string_equal(json_string_value(json_object_get(meta, "source")),
                        "test");
    assert_string_equal(json_string_value(json_object_get(meta, "event_id")),
                        "evt-1");
    json_decref(meta);
    audit_list_free(&list);
}

static void submit_batch_all_or_nothing(void **state)
{
    struct store *store = store_of(state);
    struct job_request reqs[2] = {
        request("good", two, 2, NOW),
        request("bad", two, 0, NOW),
    };
    struct submit_result results[2];
    struct entry_filter filter = {.content_id = "good"};
    struct entry_list list = {0};

    assert_int_equal(store->ops->submit_jobs(store, reqs, 2, NOW, results),
                     STORE_INVALID);
    assert_non_null(strstr(store_errmsg(store), "platform"));

    check_ok(store, store->ops->list_entries(store, &filter, &list));
    assert_int_equal(list.count, 0);
    entry_list_free(&list);
    assert_int_equal(audit_count(store, "good", NULL), 0);
}

static void submit_rejects_bad_requests(void **state)
{
    struct store *store = store_of(state);
    const char *const dup[] = {"alpha", "alpha"};
    const char *const empty_name[] = {""};
    struct job_request reqs[4] = {
        request("dup", dup, 2, NOW),
        request("", two, 2, NOW),
        request("empty-name", empty_name, 1, NOW),
        request("bad-json", two, 2, NOW),
    };
    struct submit_result result;
    struct status_counts counts;

    reqs[3].content_json = "not json";
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(
            store->ops->submit_jobs(store, &reqs[i], 1, NOW, &result),
            STORE_INVALID);

    check_ok(store, store->ops->count_entries(store, NULL, &counts));
    for (int i = 0; i < ENTRY_STATUS_COUNT; i++)
        assert_int_equal(counts.by_status[i], 0);
}

static void submit_duplicate_event(void **state)
{
    struct store *store = store_of(state);
    struct job_request req = request("post-1", two, 2, NOW);
    struct submit_result again;

    req.event_id = "evt-dup";
    int64_t job_id = submit(store, &req);

    check_ok(store, store->ops->submit_jobs(store, &req, 1, NOW, &again));
    assert_int_equal(again.duplicate, 1);
    assert_int_equal(again.job_id, job_id);

    struct entry_filter filter = {.content_id = "post-1"};
    struct entry_list list = {0};
    check_ok(store, store->ops->list_entries(store, &filter, &list));
    assert_int_equal(list.count, 2);
    entry_list_free(&list);
    assert_int_equal(audit_count(store, "post-1", "accepted"), 1);
}

static void submit_duplicate_in_batch(void **state)
{
    struct store *store = store_of(state);
    struct job_request reqs[2] = {request("post-1", two, 2, NOW),
                                  request("post-1", two, 2, NOW)};
    struct submit_result results[2];

    reqs[0].event_id = "evt-same";
    reqs[1].event_id = "evt-same";
    check_ok(store, store->ops->submit_jobs(store, reqs, 2, NOW, results));
    assert_int_equal(results[0].duplicate, 0);
    assert_int_equal(results[1].duplicate, 1);
    assert_int_equal(results[1].job_id, results[0].job_id);
}

/* Checks that the job's entries have consecutive ids from `first`. */
static void check_entry_ids(struct store *store, int64_t job_id,
                            int64_t first, size_t count)
{
    struct entry_list list = entries_of_job(store, job_id);

    assert_int_equal(list.count, count);
    /* The list is newest first. */
    for (size_t i = 0; i < list.count; i++)
        assert_int_equal(list.items[list.count - 1 - i].id,
                         first + (int64_t)i);
    entry_list_free(&list);
}

/*
 * Event ids repeated across a batch larger than any write buffer (64
 * rows in SQLite). The 150 entries of the 75 jobs stored take INSERTs
 * of every size the SQLite store has: 64, 16, 4 and 1 rows.
 */
#define LARGE_BATCH 150

static void submit_duplicates_in_large_batch(void **state)
{
    struct store *store = store_of(state);
    struct job_request reqs[LARGE_BATCH];
    struct submit_result results[LARGE_BATCH];
    char content_ids[LARGE_BATCH][32];
    char event_ids[LARGE_BATCH / 2][32];
    const size_t half = LARGE_BATCH / 2;

    for (size_t i = 0; i < LARGE_BATCH; i++) {
        snprintf(content_ids[i], sizeof content_ids[i], "post-%zu", i);
        if (i < half)
            snprintf(event_ids[i], sizeof event_ids[i], "evt-%zu", i);
        reqs[i] = request(content_ids[i], two, 2, NOW);
        reqs[i].event_id = event_ids[i % half];
    }
    check_ok(store, store->ops->submit_jobs(store, reqs, LARGE_BATCH, NOW,
                                            results));

    for (size_t i = 0; i < half; i++) {
        assert_int_equal(results[i].duplicate, 0);
        assert_int_equal(results[i + half].duplicate, 1);
        assert_int_equal(results[i + half].job_id, results[i].job_id);
        assert_int_equal(audit_count(store, content_ids[i], "accepted"), 1);
        assert_int_equal(audit_count(store, content_ids[i + half], NULL), 0);
        if (results[i].first_entry_id != 0)
            check_entry_ids(store, results[i].job_id,
                            results[i].first_entry_id, 2);
    }
}

static void submit_first_entry_id(void **state)
{
    struct store *store = store_of(state);
    const char *const one[] = {"alpha"};
    struct job_request reqs[3] = {request("post-1", two, 2, NOW),
                                  request("post-2", one, 1, NOW),
                                  request("post-3", two, 2, NOW)};
    struct submit_result results[3];

    check_ok(store, store->ops->submit_jobs(store, reqs, 3, NOW, results));
    for (size_t i = 0; i < 3; i++) {
        assert_true(results[i].first_entry_id > 0);
        check_entry_ids(store, results[i].job_id, results[i].first_entry_id,
                        reqs[i].platform_count);
    }
}

static void submit_groups_apart(void **state)
{
    struct store *store = store_of(state);
    struct job_request first = request("post-a", two, 2, NOW);
    struct job_request invalid = request("bad", two, 0, NOW);
    struct job_request again = request("post-b", two, 2, NOW);
    struct job_request pair[2] = {request("post-c", two, 2, NOW),
                                  request("post-d", two, 1, NOW)};
    struct submit_result results[5];
    struct submit_group groups[4] = {
        {.reqs = &first, .count = 1, .results = &results[0]},
        {.reqs = &invalid, .count = 1, .results = &results[1]},
        {.reqs = &again, .count = 1, .results = &results[2]},
        {.reqs = pair, .count = 2, .results = &results[3]},
    };

    first.event_id = "evt-group";
    again.event_id = "evt-group";
    check_ok(store, store_submit_groups(store, groups, 4, NOW));

    assert_int_equal(groups[0].result, STORE_OK);
    assert_true(results[0].job_id > 0);
    assert_int_equal(results[0].duplicate, 0);
    assert_int_equal(groups[1].result, STORE_INVALID);
    assert_non_null(strstr(groups[1].errmsg, "platform"));
    assert_int_equal(groups[2].result, STORE_OK);
    assert_int_equal(results[2].duplicate, 1);
    assert_int_equal(results[2].job_id, results[0].job_id);
    assert_int_equal(groups[3].result, STORE_OK);
    assert_true(results[3].job_id > 0);
    assert_true(results[4].job_id > results[3].job_id);

    assert_int_equal(audit_count(store, "post-a", "accepted"), 1);
    assert_int_equal(audit_count(store, "bad", NULL), 0);
    assert_int_equal(audit_count(store, "post-b", NULL), 0);
    assert_int_equal(audit_count(store, "post-c", "accepted"), 1);
    assert_int_equal(audit_count(store, "post-d", "accepted"), 1);
    assert_int_equal(results[2].first_entry_id, 0);
    check_entry_ids(store, results[0].job_id, results[0].first_entry_id, 2);
    check_entry_ids(store, results[3].job_id, results[3].first_entry_id, 2);
    check_entry_ids(store, results[4].job_id, results[4].first_entry_id, 1);
}

/* Runs a query on a connection of its own; returns its one value. */
static char *pg_value(const char *url, const char *sql)
{
    PGconn *conn = PQconnectdb(url);
    PGresult *res = PQexec(conn, sql);
    char *value = NULL;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("\"%s\": %s", sql, PQerrorMessage(conn));
    value = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(conn);
    assert_non_null(value);
    return value;
}

static void check_pg_value(const char *url, const char *sql,
                           const char *expected)
{
    char *value = pg_value(url, sql);

    assert_string_equal(value, expected);
    free(value);
}

/*
 * A group that fails in the database (here a trigger that raises) on
 * PostgreSQL leaves nothing behind, the groups around it are stored,
 * and an event id repeated after it still finds the first group's job.
 * SQLite has its own test of the same case.
 */
static void submit_groups_store_failure(void **state)
{
    struct fixture *f = *state;
    struct store *store = f->store;
    struct job_request first = request("post-1", two, 2, NOW);
    struct job_request failing[2] = {request("post-2", two, 2, NOW),
                                     request("explode", one_alpha, 1, NOW)};
    struct job_request again = request("post-3", two, 2, NOW);
    struct job_request last = request("post-4", one_alpha, 1, NOW);
    struct submit_result results[5];
    struct submit_group groups[4] = {
        {.reqs = &first, .count = 1, .results = &results[0]},
        {.reqs = failing, .count = 2, .results = &results[1]},
        {.reqs = &again, .count = 1, .results = &results[3]},
        {.reqs = &last, .count = 1, .results = &results[4]},
    };

    if (f->schemas[0][0] == '\0')
        skip();
    pg_admin(f->url, "CREATE FUNCTION explode() RETURNS trigger"
                     " LANGUAGE plpgsql AS $$ BEGIN"
                     " RAISE EXCEPTION 'test failure'; END $$");
    pg_admin(f->url, "CREATE TRIGGER explode BEFORE INSERT ON jobs"
                     " FOR EACH ROW WHEN (NEW.content_id = 'explode')"
                     " EXECUTE FUNCTION explode()");
    first.event_id = "evt-1";
    failing[0].event_id = "evt-2";
    again.event_id = "evt-1";
    last.event_id = "evt-2";
    check_ok(store, store_submit_groups(store, groups, 4, NOW));

    assert_int_equal(groups[0].result, STORE_OK);
    assert_int_not_equal(groups[1].result, STORE_OK);
    assert_non_null(strstr(groups[1].errmsg, "test failure"));
    assert_int_equal(results[1].job_id, 0);
    assert_int_equal(results[2].job_id, 0);
    assert_int_equal(groups[2].result, STORE_OK);
    assert_int_equal(results[3].duplicate, 1);
    assert_int_equal(results[3].job_id, results[0].job_id);
    /* The failed group's event id was never stored. */
    assert_int_equal(groups[3].result, STORE_OK);
    assert_int_equal(results[4].duplicate, 0);
    check_entry_ids(store, results[0].job_id, results[0].first_entry_id, 2);
    check_entry_ids(store, results[4].job_id, results[4].first_entry_id, 1);

    check_pg_value(f->url,
                   "SELECT string_agg(content_id, ',' ORDER BY id) FROM jobs",
                   "post-1,post-4");
    check_pg_value(f->url, "SELECT count(*) FROM entries", "3");
    check_pg_value(f->url, "SELECT count(*) FROM content_items", "2");
    check_pg_value(f->url,
                   "SELECT string_agg(job_id, ',' ORDER BY id) FROM audit"
                   " WHERE action = 'accepted'",
                   "post-1,post-4");
    check_pg_value(f->url,
                   "SELECT string_agg(event_id, ',' ORDER BY event_id)"
                   " FROM seen_events",
                   "evt-1,evt-2");
}

/*
 * PostgreSQL takes only UTF-8 text, so there a group whose event id or
 * content item id is not UTF-8 fails alone as invalid, and the groups
 * around it are stored. SQLite stores any bytes.
 */
static void submit_groups_invalid_utf8(void **state)
{
    struct fixture *f = *state;
    struct store *store = f->store;
    struct job_request first = request("post-1", two, 2, NOW);
    struct job_request bad_event = request("post-2", two, 2, NOW);
    struct job_request bad_content = request("post-\xff", one_alpha, 1, NOW);
    struct job_request last = request("post-4", one_alpha, 1, NOW);
    struct submit_result results[4];
    struct submit_group groups[4] = {
        {.reqs = &first, .count = 1, .results = &results[0]},
        {.reqs = &bad_event, .count = 1, .results = &results[1]},
        {.reqs = &bad_content, .count = 1, .results = &results[2]},
        {.reqs = &last, .count = 1, .results = &results[3]},
    };

    if (f->schemas[0][0] == '\0')
        skip();
    first.event_id = "evt-1";
    bad_event.event_id = "evt-\xc3";
    last.event_id = "evt-4";
    check_ok(store, store_submit_groups(store, groups, 4, NOW));

    assert_int_equal(groups[0].result, STORE_OK);
    assert_int_equal(groups[1].result, STORE_INVALID);
    assert_non_null(strstr(groups[1].errmsg, "UTF-8"));
    assert_int_equal(groups[2].result, STORE_INVALID);
    assert_non_null(strstr(groups[2].errmsg, "UTF-8"));
    assert_int_equal(groups[3].result, STORE_OK);
    check_entry_ids(store, results[0].job_id, results[0].first_entry_id, 2);
    check_entry_ids(store, results[3].job_id, results[3].first_entry_id, 1);
    check_pg_value(f->url,
                   "SELECT string_agg(content_id, ',' ORDER BY id) FROM jobs",
                   "post-1,post-4");
    check_pg_value(f->url, "SELECT count(*) FROM audit", "2");
}

/*
 * Texts with the characters that quoting must keep ("", \, braces,
 * commas, the word NULL, spaces, non-ASCII) come back as sent.
 */
static void submit_keeps_special_text(void **state)
{
    struct store *store = store_of(state);
    const char *content_id = "post \"1\" \\ {a,b} NULL caf\xc3\xa9";
    const char *const platforms[] = {"al\"pha", "NULL"};
    struct job_request req = request(content_id, platforms, 2, NOW);
    struct submit_result result;
    struct job job;

    req.content_json = "{\"text\":\"say \\\"hi\\\" \\\\ {x,y}\"}";
    req.event_id = "evt \"q\" \\ NULL";
    check_ok(store, store->ops->submit_jobs(store, &req, 1, NOW, &result));

    check_ok(store, store->ops->get_job(store, result.job_id, &job));
    assert_string_equal(job.content_id, content_id);
    assert_string_equal(job.content_json, req.content_json);
    assert_string_equal(job.event_id, req.event_id);
    job_clear(&job);

    struct entry_list list = entries_of_job(store, result.job_id);
    assert_int_equal(list.count, 2);
    /* The list is newest first. */
    assert_string_equal(list.items[1].platform, "al\"pha");
    assert_string_equal(list.items[0].platform, "NULL");
    assert_string_equal(list.items[0].content_id, content_id);
    entry_list_free(&list);

    struct audit_list audit = audit_of(store, content_id, "accepted");
    assert_int_equal(audit.count, 1);
    json_t *metadata = json_loads(audit.items[0].metadata_json, 0, NULL);
    assert_non_null(metadata);
    assert_string_equal(
        json_string_value(json_object_get(metadata, "event_id")),
        req.event_id);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(metadata, "platforms"), 0)),
                        "al\"pha");
    json_decref(metadata);
    audit_list_free(&audit);
}

static void submit_batch_mixed_duplicates(void **state)
{
    struct store *store = store_of(state);
    struct job_request first = request("post-0", one_alpha, 1, NOW);
    struct job_request reqs[4] = {
        request("post-1", one_alpha, 1, NOW),
        request("post-2", two, 2, NOW),
        request("post-3", one_alpha, 1, NOW),
        request("post-4", one_alpha, 1, NOW),
    };
    struct submit_result results[4];

    first.event_id = "evt-old";
    int64_t old_job = submit(store, &first);
    reqs[0].event_id = "evt-old";
    reqs[1].event_id = "evt-new";
    reqs[2].event_id = "evt-new";
    check_ok(store, store->ops->submit_jobs(store, reqs, 4, NOW, results));

    assert_int_equal(results[0].duplicate, 1);
    assert_int_equal(results[0].job_id, old_job);
    assert_int_equal(results[1].duplicate, 0);
    assert_int_equal(results[2].duplicate, 1);
    assert_int_equal(results[2].job_id, results[1].job_id);
    assert_int_equal(results[3].duplicate, 0);
    assert_true(results[1].job_id > old_job);
    assert_true(results[3].job_id > results[1].job_id);

    struct entry_list list = entries_of_job(store, results[1].job_id);
    assert_int_equal(list.count, 2);
    entry_list_free(&list);
    list = entries_of_job(store, results[3].job_id);
    assert_int_equal(list.count, 1);
    entry_list_free(&list);
    assert_int_equal(audit_count(store, "post-1", "accepted"), 0);
    assert_int_equal(audit_count(store, "post-2", "accepted"), 1);
    assert_int_equal(audit_count(store, "post-3", "accepted"), 0);
    assert_int_equal(audit_count(store, "post-4", "accepted"), 1);
}

static void submit_batch_same_content_id(void **state)
{
    struct store *store = store_of(state);
    struct job_request reqs[2] = {request("post-1", one_alpha, 1, NOW),
                                  request("post-1", one_alpha, 1, NOW)};
    struct submit_result results[2];
    struct job job;

    reqs[0].content_json = "{\"text\":\"first\"}";
    reqs[1].content_json = "{\"text\":\"second\"}";
    check_ok(store, store->ops->submit_jobs(store, reqs, 2, NOW, results));
    assert_int_equal(results[0].duplicate, 0);
    assert_int_equal(results[1].duplicate, 0);
    assert_true(results[1].job_id != results[0].job_id);

    check_ok(store, store->ops->get_job(store, results[0].job_id, &job));
    assert_string_equal(job.content_json, "{\"text\":\"first\"}");
    job_clear(&job);
    check_ok(store, store->ops->get_job(store, results[1].job_id, &job));
    assert_string_equal(job.content_json, "{\"text\":\"second\"}");
    job_clear(&job);
    assert_int_equal(audit_count(store, "post-1", "accepted"), 2);
}

static void get_job_after_claim(void **state)
{
    struct store *store = store_of(state);
    struct job_request req = request("post-1", one_alpha, 1, NOW);
    struct job before;
    struct job after;

    req.event_id = "evt-1";
    int64_t job_id = submit(store, &req);
    int64_t other = submit_simple(store, "post-2", one_alpha, 1, NOW + HOUR);
    check_ok(store, store->ops->get_job(store, job_id, &before));
    struct entry e = claim_one(store, "node-a", NOW);
    assert_int_equal(e.job_id, job_id);

    check_ok(store, store->ops->get_job(store, job_id, &after));
    assert_int_equal(after.id, before.id);
    assert_string_equal(after.content_id, before.content_id);
    assert_string_equal(after.event_id, "evt-1");
    assert_string_equal(after.content_json, before.content_json);
    assert_int_equal(after.scheduled_at, before.scheduled_at);
    assert_int_equal(after.created_at, before.created_at);
    job_clear(&after);
    job_clear(&before);

    /* A job the claim did not return is read as well. */
    check_ok(store, store->ops->get_job(store, other, &after));
    assert_string_equal(after.content_id, "post-2");
    job_clear(&after);
    assert_int_equal(store->ops->get_job(store, other + 100, &after),
                     STORE_NOT_FOUND);
}

static void submit_platform_max_retries(void **state)
{
    struct store *store = store_of(state);
    const char *const three[] = {"alpha", "beta", "gamma"};
    const uint32_t retries[] = {0, 7, 2};
    struct job_request req = request("post-1", three, 3, NOW);

    req.platform_max_retries = retries;
    struct entry_list list = entries_of_job(store, submit(store, &req));
    assert_int_equal(list.count, 3);
    for (size_t i = 0; i < list.count; i++) {
        const char *platform = list.items[i].platform;
        uint32_t expected = strcmp(platform, "alpha") == 0  ? 0
                            : strcmp(platform, "beta") == 0 ? 7
                                                            : 2;

        assert_int_equal(list.items[i].max_retries, expected);
    }
    entry_list_free(&list);

    /* Without the array every entry gets max_retries. */
    list = entries_of_job(store, submit_simple(store, "post-2", two, 2, NOW));
    assert_int_equal(list.count, 2);
    assert_int_equal(list.items[0].max_retries, 3);
    assert_int_equal(list.items[1].max_retries, 3);
    entry_list_free(&list);
}

static void submit_past_is_due_now(void **state)
{
    struct store *store = store_of(state);
    int64_t job_id = submit_simple(store, "late", one_alpha, 1, NOW - HOUR);
    struct entry_list list = entries_of_job(store, job_id);

    assert_int_equal(list.count, 1);
    assert_int_equal(list.items[0].due_at, NOW);
    assert_int_equal(list.items[0].scheduled_at, NOW - HOUR);
    entry_list_free(&list);
}

/* ---- reads ---- */

static void get_missing_rows(void **state)
{
    struct store *store = store_of(state);
    struct job job;
    struct entry entry;
    struct attempt_list attempts;

    assert_int_equal(store->ops->get_job(store, 424242, &job), STORE_NOT_FOUND);
    assert_int_equal(store->ops->get_entry(store, 424242, &entry),
                     STORE_NOT_FOUND);
    assert_int_equal(store->ops->list_attempts(store, 424242, &attempts),
                     STORE_NOT_FOUND);
    assert_non_null(strstr(store_errmsg(store), "424242"));
}

static size_t count_matching(struct store *store,
                             const struct entry_filter *filter)
{
    struct entry_list list = {0};
    size_t count;

    check_ok(store, store->ops->list_entries(store, filter, &list));
    count = list.count;
    entry_list_free(&list);
    return count;
}

static void list_filters(void **state)
{
    struct store *store = store_of(state);
    int64_t first = submit_simple(store, "c1", two, 2, NOW);
    int64_t second = submit_simple(store, "c2", two, 2, NOW + HOUR);

    submit_simple(store, "c3", one_alpha, 1, NOW + 2 * HOUR);
    claim_one(store, "node-a", NOW);

    struct entry_filter by_status = {.has_status = 1,
                                     .status = ENTRY_PUBLISHING};
    struct entry_filter by_platform = {.platform = "beta"};
    struct entry_filter by_content = {.content_id = "c2"};
    struct entry_filter by_job = {.job_id = first};
    struct entry_filter by_time = {.scheduled_from = NOW + HOUR,
                                   .scheduled_to = NOW + 2 * HOUR};
    struct entry_filter combined = {.platform = "alpha", .job_id = second};

    assert_int_equal(count_matching(store, &by_status), 1);
    assert_int_equal(count_matching(store, &by_platform), 2);
    assert_int_equal(count_matching(store, &by_content), 2);
    assert_int_equal(count_matching(store, &by_job), 2);
    assert_int_equal(count_matching(store, &by_time), 2);
    assert_int_equal(count_matching(store, &combined), 1);
    assert_int_equal(count_matching(store, NULL), 5);
}

static void list_pages_with_cursor(void **state)
{
    struct store *store = store_of(state);
    int64_t seen[16];
    size_t seen_count = 0;
    struct entry_filter filter = {.limit = 2};

    for (int i = 0; i < 3; i++) {
        char id[16];

        snprintf(id, sizeof id, "page-%d", i);
        submit_simple(store, id, two, 2, NOW);
    }

    for (int page = 0; page < 10; page++) {
        struct entry_list list = {0};

        check_ok(store, store->ops->list_entries(store, &filter, &list));
        if (list.count == 0) {
            entry_list_free(&list);
            break;
        }
        assert_true(list.count <= 2);
        for (size_t i = 0; i < list.count; i++) {
            if (seen_count > 0)
                assert_true(list.items[i].id < seen[seen_count - 1]);
            seen[seen_count++] = list.items[i].id;
        }
        filter.before_id = list.items[list.count - 1].id;
        entry_list_free(&list);
    }
    assert_int_equal(seen_count, 6);
}

/* Reads the change feed after (since, after_id) and returns the list. */
static struct entry_list changes(struct store *store, int64_t since,
                                 int64_t after_id, size_t limit)
{
    struct entry_filter filter = {.updated_since = since,
                                  .updated_after_id = after_id,
                                  .limit = limit};
    struct entry_list list = {0};

    check_ok(store, store->ops->list_entries(store, &filter, &list));
    return list;
}

static void list_changes_since(void **state)
{
    struct store *store = store_of(state);
    struct entry_list list;
    struct entry claimed;

    /* Three entries written in the same millisecond tie on updated_at. */
    submit_simple(store, "feed-1", two, 2, NOW);
    submit_simple(store, "feed-2", one_alpha, 1, NOW);

    list = changes(store, NOW - 1, 0, 2);
    assert_int_equal(list.count, 2);
    assert_true(list.items[0].id < list.items[1].id);
    int64_t last_id = list.items[1].id;
    entry_list_free(&list);

    /* The id breaks the tie, so the next page starts after the last row. */
    list = changes(store, NOW, last_id, 10);
    assert_int_equal(list.count, 1);
    assert_true(list.items[0].id > last_id);
    entry_list_free(&list);

    list = changes(store, NOW, INT64_MAX, 10);
    assert_int_equal(list.count, 0);
    entry_list_free(&list);

    /* A claim moves updated_at, so the claimed entry shows up again. */
    claimed = claim_one(store, "node-a", NOW + 1000);
    list = changes(store, NOW, INT64_MAX, 10);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.items[0].id, claimed.id);
    assert_int_equal(list.items[0].updated_at, NOW + 1000);
    entry_list_free(&list);
}

static void attempt_stats_totals(void **state)
{
    struct store *store = store_of(state);
    struct attempt_stats_list stats = {0};
    struct entry first;
    struct attempt_completion c;

    submit_simple(store, "stats-1", one_alpha, 1, NOW);
    first = claim_one(store, "node-a", NOW);
    c = completion(&first, ENTRY_RETRYING, OUTCOME_TRANSIENT, NOW + 120);
    c.retry_count = 1;
    c.due_at = NOW + 1000;
    assert_int_equal(complete(store, &c), 1);

    first = claim_one(store, "node-a", NOW + 1000);
    c = completion(&first, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1120);
    assert_int_equal(complete(store, &c), 1);

    check_ok(store, store->ops->attempt_stats(store, &stats));
    assert_int_equal(stats.count, 1);
    assert_string_equal(stats.items[0].platform, "alpha");
    assert_int_equal(stats.items[0].by_outcome[OUTCOME_TRANSIENT], 1);
    assert_int_equal(stats.items[0].by_outcome[OUTCOME_SUCCESS], 1);
    assert_int_equal(stats.items[0].retries, 1);
    assert_int_equal(stats.items[0].latency_count, 2);
    assert_int_equal(stats.items[0].latency_sum_ms, 240);
    /* Bucket bounds 50, 100, 250 ms: both 120 ms attempts fall in 250. */
    assert_int_equal(stats.items[0].latency_buckets[1], 0);
    assert_int_equal(stats.items[0].latency_buckets[2], 2);
    attempt_stats_list_free(&stats);
}

static void count_by_status(void **state)
{
    struct store *store = store_of(state);
    struct status_counts counts;

    submit_simple(store, "c1", two, 2, NOW);
    submit_simple(store, "c2", one_alpha, 1, NOW + HOUR);
    claim_one(store, "node-a", NOW);

    check_ok(store, store->ops->count_entries(store, NULL, &counts));
    assert_int_equal(counts.by_status[ENTRY_PENDING], 2);
    assert_int_equal(counts.by_status[ENTRY_PUBLISHING], 1);
    assert_int_equal(counts.by_status[ENTRY_PUBLISHED], 0);

    check_ok(store, store->ops->count_entries(store, "beta", &counts));
    assert_int_equal(counts.by_status[ENTRY_PENDING] +
                         counts.by_status[ENTRY_PUBLISHING],
                     1);
}

/* ---- claim ---- */

static void claim_due_oldest_first(void **state)
{
    struct store *store = store_of(state);
    int64_t future = submit_simple(store, "future", one_alpha, 1, NOW + HOUR);

    submit_simple(store, "past", one_alpha, 1, NOW - MINUTE);
    submit_simple(store, "now", one_alpha, 1, NOW);

    struct entry_list list = claim(store, "node-a", NOW + MINUTE, 10);
    assert_int_equal(list.count, 2);
    assert_true(list.items[0].due_at <= list.items[1].due_at);
    for (size_t i = 0; i < list.count; i++) {
        struct entry *e = &list.items[i];

        assert_int_equal(e->status, ENTRY_PUBLISHING);
        assert_string_equal(e->lease_node, "node-a");
        assert_int_equal(e->lease_expires_at, NOW + MINUTE + LEASE);
        assert_int_equal(e->attempt_count, 1);
        assert_int_not_equal(e->job_id, future);
    }

    struct attempt_list attempts;
    check_ok(store,
             store->ops->list_attempts(store, list.items[0].id, &attempts));
    assert_int_equal(attempts.count, 1);
    assert_int_equal(attempts.items[0].number, 1);
    assert_int_equal(attempts.items[0].started_at, NOW + MINUTE);
    assert_int_equal(attempts.items[0].ended_at, 0);
    assert_int_equal(attempts.items[0].finished, 0);
    assert_string_equal(attempts.items[0].node, "node-a");
    attempt_list_free(&attempts);
    entry_list_free(&list);

    list = claim(store, "node-a", NOW + MINUTE, 10);
    assert_int_equal(list.count, 0);
    entry_list_free(&list);
}

/* Each claimed entry gets one open attempt numbered by its attempt count. */
static void claim_opens_attempt_each(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "a", one_alpha, 1, NOW);
    submit_simple(store, "b", one_alpha, 1, NOW);
    struct entry first = claim_one(store, "node-a", NOW);
    struct attempt_completion retry =
        completion(&first, ENTRY_RETRYING, OUTCOME_TRANSIENT, NOW);

    retry.retry_count = 1;
    retry.due_at = NOW;
    assert_int_equal(complete(store, &retry), 1);

    struct entry_list list = claim(store, "node-b", NOW + 5, 10);
    assert_int_equal(list.count, 2);
    for (size_t i = 0; i < list.count; i++) {
        struct entry *e = &list.items[i];
        uint32_t expected = e->id == first.id ? 2 : 1;
        struct attempt_list attempts;

        assert_int_equal(e->attempt_count, expected);
        check_ok(store, store->ops->list_attempts(store, e->id, &attempts));
        assert_int_equal(attempts.count, expected);

        struct attempt *open = &attempts.items[attempts.count - 1];
        assert_int_equal(open->number, expected);
        assert_int_equal(open->started_at, NOW + 5);
        assert_int_equal(open->finished, 0);
        assert_string_equal(open->node, "node-b");
        attempt_list_free(&attempts);
    }
    entry_list_free(&list);
}

static void claim_orders_by_due(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "third", one_alpha, 1, NOW + 3 * MINUTE);
    submit_simple(store, "first", one_alpha, 1, NOW + MINUTE);
    submit_simple(store, "second", one_alpha, 1, NOW + 2 * MINUTE);

    struct entry_list list = claim(store, "node-a", NOW + HOUR, 2);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.items[0].content_id, "first");
    assert_string_equal(list.items[1].content_id, "second");
    entry_list_free(&list);
}

static void claim_skips_paused(void **state)
{
    struct store *store = store_of(state);
    int64_t due = 0;

    submit_simple(store, "c1", two, 2, NOW);
    check_ok(store, store->ops->pause_platform(store, "alpha", NOW + HOUR,
                                               "rate limited", NOW, "test"));

    struct entry_list list = claim(store, "node-a", NOW, 10);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].platform, "beta");
    entry_list_free(&list);

    check_ok(store, next_due(store, &due));
    assert_int_equal(due, NOW + HOUR);

    check_ok(store, store->ops->resume_platform(store, "alpha", NOW, "test"));
    list = claim(store, "node-a", NOW, 10);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].platform, "alpha");
    entry_list_free(&list);
}

static void next_due_at_earliest(void **state)
{
    struct store *store = store_of(state);
    int64_t due = 0;

    assert_int_equal(next_due(store, &due), STORE_NOT_FOUND);
    submit_simple(store, "c1", one_alpha, 1, NOW + 2 * HOUR);
    submit_simple(store, "c2", one_alpha, 1, NOW + HOUR);
    check_ok(store, next_due(store, &due));
    assert_int_equal(due, NOW + HOUR);
}

static void claim_skips_other_platforms(void **state)
{
    static const char *const only_beta[] = {"beta"};
    static const char *const only_delta[] = {"delta"};
    static const char *const empty_name[] = {""};
    struct store *store = store_of(state);
    struct entry_list all;
    int64_t job_id = submit_simple(store, "c1", every_platform, 3, NOW);

    struct entry_list list = claim_from(store, "node-a", only_beta, 1, NOW, 10);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].platform, "beta");
    entry_list_free(&list);

    list = claim_from(store, "node-a", only_delta, 1, NOW, 10);
    assert_int_equal(list.count, 0);
    entry_list_free(&list);
    list = claim_from(store, "node-a", NULL, 0, NOW, 10);
    assert_int_equal(list.count, 0);
    entry_list_free(&list);

    assert_int_equal(store->ops->claim_due(store, "node-a", NULL, 1, NOW,
                                           LEASE, 10, &list),
                     STORE_INVALID);
    assert_int_equal(list.count, 0);
    assert_int_equal(store->ops->claim_due(store, "node-a", empty_name, 1,
                                           NOW, LEASE, 10, &list),
                     STORE_INVALID);
    assert_int_equal(list.count, 0);

    /* The entries outside the set were not touched. */
    all = entries_of_job(store, job_id);
    assert_int_equal(all.count, 3);
    for (size_t i = 0; i < all.count; i++) {
        const struct entry *e = &all.items[i];

        if (strcmp(e->platform, "beta") == 0)
            continue;
        assert_int_equal(e->status, ENTRY_PENDING);
        assert_int_equal(e->attempt_count, 0);
        assert_string_equal(e->lease_node, "");
        assert_int_equal(e->updated_at, NOW);
    }
    entry_list_free(&all);
}

static void next_due_at_ignores_other_platforms(void **state)
{
    static const char *const only_beta[] = {"beta"};
    static const char *const only_gamma[] = {"gamma"};
    struct store *store = store_of(state);
    int64_t due = 0;

    submit_simple(store, "c1", one_alpha, 1, NOW + HOUR);
    submit_simple(store, "c2", only_beta, 1, NOW + 2 * HOUR);

    check_ok(store, store->ops->next_due_at(store, only_beta, 1, &due));
    assert_int_equal(due, NOW + 2 * HOUR);
    assert_int_equal(store->ops->next_due_at(store, only_gamma, 1, &due),
                     STORE_NOT_FOUND);
    assert_int_equal(store->ops->next_due_at(store, NULL, 0, &due),
                     STORE_NOT_FOUND);

    /* A pause of alpha ends before beta is due, but only counts for a
     * node that serves alpha. */
    check_ok(store, store->ops->pause_platform(store, "alpha",
                                               NOW + 90 * MINUTE, "limited",
                                               NOW, "test"));
    check_ok(store, store->ops->next_due_at(store, two, 2, &due));
    assert_int_equal(due, NOW + 90 * MINUTE);
    check_ok(store, store->ops->next_due_at(store, only_beta, 1, &due));
    assert_int_equal(due, NOW + 2 * HOUR);
}

/*
 * Two nodes on one database, each serving one platform, as in a rolling
 * deploy that adds a platform: each claims its own platform's entries
 * and no others, until all are taken.
 */
static void nodes_split_by_platform(void **state)
{
    static const char *const only_beta[] = {"beta"};
    struct fixture *f = *state;
    struct store *other = NULL;
    size_t taken[2] = {0, 0};

    for (int i = 0; i < 5; i++) {
        char id[16];

        snprintf(id, sizeof id, "post-%d", i);
        submit_simple(f->store, id, two, 2, NOW);
    }
    open_url(f->url, &other);

    /* Bounded: five rounds of two claims empty both platforms. */
    for (int round = 0; round < 6; round++) {
        struct entry_list a =
            claim_from(f->store, "node-a", one_alpha, 1, NOW, 2);
        struct entry_list b = claim_from(other, "node-b", only_beta, 1, NOW, 2);

        for (size_t i = 0; i < a.count; i++) {
            assert_string_equal(a.items[i].platform, "alpha");
            assert_string_equal(a.items[i].lease_node, "node-a");
        }
        for (size_t i = 0; i < b.count; i++) {
            assert_string_equal(b.items[i].platform, "beta");
            assert_string_equal(b.items[i].lease_node, "node-b");
        }
        taken[0] += a.count;
        taken[1] += b.count;
        entry_list_free(&a);
        entry_list_free(&b);
    }
    store_close(other);

    assert_int_equal(taken[0], 5);
    assert_int_equal(taken[1], 5);
    struct status_counts counts;
    check_ok(f->store, f->store->ops->count_entries(f->store, NULL, &counts));
    assert_int_equal(counts.by_status[ENTRY_PENDING], 0);
    assert_int_equal(counts.by_status[ENTRY_PUBLISHING], 10);
}

/* ---- complete_attempts ---- */

static void complete_published(void **state)
{
    struct store *store = store_of(state);
    int64_t job_id = submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000);

    c.post_id = "109";
    c.post_url = "https://example.test/109";
    assert_int_equal(complete(store, &c), 1);

    struct entry after = get_entry(store, e.id);
    assert_int_equal(after.status, ENTRY_PUBLISHED);
    assert_int_equal(after.published_at, NOW + 1000);
    assert_string_equal(after.post_id, "109");
    assert_string_equal(after.post_url, "https://example.test/109");
    assert_string_equal(after.lease_node, "");
    assert_int_equal(after.lease_expires_at, 0);

    struct attempt_list attempts;
    check_ok(store, store->ops->list_attempts(store, e.id, &attempts));
    assert_int_equal(attempts.count, 1);
    assert_int_equal(attempts.items[0].finished, 1);
    assert_int_equal(attempts.items[0].outcome, OUTCOME_SUCCESS);
    assert_int_equal(attempts.items[0].http_status, 200);
    assert_int_equal(attempts.items[0].latency_ms, 120);
    assert_int_equal(attempts.items[0].ended_at, NOW + 1000);
    attempt_list_free(&attempts);

    struct audit_list audit = audit_of(store, "c1", "publish");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].agent_name, "queue-manager");
    assert_string_equal(audit.items[0].status, "success");
    json_t *meta = parse(audit.items[0].metadata_json);
    json_t *result = json_array_get(json_object_get(meta, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(result, "platform")),
                        "alpha");
    assert_string_equal(json_string_value(json_object_get(result, "status")),
                        "published");
    assert_int_equal(json_array_size(json_object_get(meta, "platforms")), 1);
    json_decref(meta);
    audit_list_free(&audit);
    (void)job_id;
}

static void complete_retrying(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_RETRYING, OUTCOME_TRANSIENT, NOW + 1000);

    c.retry_count = 1;
    c.due_at = NOW + 30000;
    assert_int_equal(complete(store, &c), 1);

    struct entry after = get_entry(store, e.id);
    assert_int_equal(after.status, ENTRY_RETRYING);
    assert_int_equal(after.retry_count, 1);
    assert_int_equal(after.due_at, NOW + 30000);
    assert_string_equal(after.last_error, "service unavailable");

    struct audit_list audit = audit_of(store, "c1", "retry");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "scheduled");
    assert_int_equal(audit.items[0].entry_id, e.id);
    assert_string_equal(audit.items[0].platform, "alpha");
    audit_list_free(&audit);

    struct entry_list none = claim(store, "node-a", NOW + 20000, 10);
    assert_int_equal(none.count, 0);
    entry_list_free(&none);

    struct entry again = claim_one(store, "node-b", NOW + 30000);
    assert_int_equal(again.id, e.id);
    assert_int_equal(again.attempt_count, 2);
    assert_string_equal(again.idempotency_key, e.idempotency_key);

    struct attempt_list attempts;
    check_ok(store, store->ops->list_attempts(store, e.id, &attempts));
    assert_int_equal(attempts.count, 2);
    assert_int_equal(attempts.items[1].number, 2);
    assert_string_equal(attempts.items[1].node, "node-b");
    attempt_list_free(&attempts);
}

static void complete_retry_success(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry first = claim_one(store, "node-a", NOW);
    struct attempt_completion c =
        completion(&first, ENTRY_RETRYING, OUTCOME_TRANSIENT, NOW + 1000);

    c.retry_count = 1;
    c.due_at = NOW + 30000;
    assert_int_equal(complete(store, &c), 1);

    struct entry second = claim_one(store, "node-a", NOW + 30000);
    struct attempt_completion done =
        completion(&second, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 31000);

    assert_int_equal(complete(store, &done), 1);

    struct audit_list audit = audit_of(store, "c1", "retry");
    assert_int_equal(audit.count, 2);
    assert_string_equal(audit.items[0].status, "success");
    assert_int_equal(audit.items[0].entry_id, first.id);
    assert_string_equal(audit.items[1].status, "scheduled");
    audit_list_free(&audit);
}

static void complete_failed_exhausted(void **state)
{
    struct store *store = store_of(state);
    struct job_request req = request("c1", one_alpha, 1, NOW);

    req.max_retries = 0;
    submit(store, &req);
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_FAILED, OUTCOME_TRANSIENT, NOW + 1000);

    assert_int_equal(complete(store, &c), 1);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_FAILED);

    struct audit_list audit = audit_of(store, "c1", "retry");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "exhausted");
    audit_list_free(&audit);

    audit = audit_of(store, "c1", "publish");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "failed");
    audit_list_free(&audit);
}

/*
 * A held entry (no request sent after an unknown outcome) loses the
 * attempt its claim opened, and its "held" record names the unknown
 * attempt and carries no due time, since the entry is not due again.
 */
static void complete_held_unknown(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry first = claim_one(store, "node-a", NOW);
    struct attempt_completion lost =
        completion(&first, ENTRY_RETRYING, OUTCOME_UNKNOWN, NOW + 1000);

    lost.retry_count = 1;
    lost.due_at = NOW + 30000;
    assert_int_equal(complete(store, &lost), 1);

    struct entry second = claim_one(store, "node-a", NOW + 30000);
    struct attempt_completion held =
        completion(&second, ENTRY_FAILED, OUTCOME_UNKNOWN, NOW + 30000);

    held.fail_reason = RETRY_REASON_UNKNOWN;
    held.error = "held: the previous attempt's outcome is unknown";
    held.http_status = 0;
    held.not_attempted = 1;
    assert_int_equal(complete(store, &held), 1);

    struct entry after = get_entry(store, second.id);
    assert_int_equal(after.status, ENTRY_FAILED);
    assert_int_equal(after.attempt_count, 1);
    assert_string_equal(after.fail_reason, RETRY_REASON_UNKNOWN);

    struct audit_list audit = audit_of(store, "c1", "retry");
    assert_int_equal(audit.count, 2);
    assert_string_equal(audit.items[0].status, "held");
    assert_string_equal(audit.items[1].status, "scheduled");

    json_t *meta = parse(audit.items[0].metadata_json);
    assert_int_equal(json_integer_value(json_object_get(meta, "attempt")), 1);
    assert_null(json_object_get(meta, "due_at"));
    json_decref(meta);

    meta = parse(audit.items[1].metadata_json);
    assert_int_equal(json_integer_value(json_object_get(meta, "due_at")),
                     NOW + 30000);
    json_decref(meta);
    audit_list_free(&audit);
}

static void complete_loses_race(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion wrong_node =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000);
    struct attempt_completion wrong_attempt = wrong_node;

    wrong_node.node = "node-b";
    wrong_attempt.attempt_number = 7;
    assert_int_equal(complete(store, &wrong_node), 0);
    assert_int_equal(complete(store, &wrong_attempt), 0);

    struct entry after = get_entry(store, e.id);
    assert_int_equal(after.status, ENTRY_PUBLISHING);
    assert_string_equal(after.lease_node, "node-a");

    struct attempt_list attempts;
    check_ok(store, store->ops->list_attempts(store, e.id, &attempts));
    assert_int_equal(attempts.items[0].finished, 0);
    attempt_list_free(&attempts);
    assert_int_equal(audit_count(store, "c1", "publish"), 0);
}

static void complete_mixed_batch(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", two, 2, NOW);
    struct entry_list list = claim(store, "node-a", NOW, 10);
    assert_int_equal(list.count, 2);

    struct attempt_completion cs[2] = {
        completion(&list.items[0], ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW),
        completion(&list.items[1], ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW),
    };
    int applied[2] = {-1, -1};

    cs[1].node = "someone-else";
    check_ok(store, store->ops->complete_attempts(store, cs, 2, applied));
    assert_int_equal(applied[0], 1);
    assert_int_equal(applied[1], 0);
    assert_int_equal(get_entry(store, list.items[0].id).status,
                     ENTRY_PUBLISHED);
    assert_int_equal(get_entry(store, list.items[1].id).status,
                     ENTRY_PUBLISHING);
    entry_list_free(&list);
}

/*
 * A batch in which one entry's lease was lost, recovered and taken by
 * another node: the late result changes nothing of that entry, and the
 * others are applied.
 */
static void complete_batch_lease_lost(void **state)
{
    struct store *store = store_of(state);
    size_t recovered = 0;

    submit_simple(store, "c1", one_alpha, 1, NOW);
    submit_simple(store, "c2", one_alpha, 1, NOW + 1);
    submit_simple(store, "c3", one_alpha, 1, NOW + 2);
    struct entry lost = claim_one(store, "node-a", NOW);
    assert_string_equal(lost.content_id, "c1");
    struct entry_list rest = claim(store, "node-a", NOW + LEASE - 1, 10);
    assert_int_equal(rest.count, 2);
    check_ok(store,
             store->ops->recover_leases(store, NOW + LEASE + 1, &recovered));
    assert_int_equal(recovered, 1);
    struct entry taken = claim_one(store, "node-b", NOW + LEASE + 2);
    assert_int_equal(taken.id, lost.id);
    assert_int_equal(audit_count(store, "c1", "publish"), 1);

    struct attempt_completion cs[3] = {
        completion(&rest.items[0], ENTRY_PUBLISHED, OUTCOME_SUCCESS,
                   NOW + LEASE + 3),
        completion(&lost, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + LEASE + 3),
        completion(&rest.items[1], ENTRY_RETRYING, OUTCOME_TRANSIENT,
                   NOW + LEASE + 3),
    };
    int applied[3] = {-1, -1, -1};

    cs[2].retry_count = 1;
    cs[2].due_at = NOW + 2 * LEASE;
    check_ok(store, store->ops->complete_attempts(store, cs, 3, applied));
    assert_int_equal(applied[0], 1);
    assert_int_equal(applied[1], 0);
    assert_int_equal(applied[2], 1);

    struct entry after = get_entry(store, lost.id);
    assert_int_equal(after.status, ENTRY_PUBLISHING);
    assert_string_equal(after.lease_node, "node-b");
    assert_int_equal(after.attempt_count, 2);
    assert_int_equal(after.published_at, 0);
    assert_int_equal(get_entry(store, rest.items[0].id).status,
                     ENTRY_PUBLISHED);
    assert_int_equal(get_entry(store, rest.items[1].id).status, ENTRY_RETRYING);

    struct attempt_list attempts;
    check_ok(store, store->ops->list_attempts(store, lost.id, &attempts));
    assert_int_equal(attempts.count, 2);
    assert_int_equal(attempts.items[0].finished, 0);
    assert_int_equal(attempts.items[0].outcome, OUTCOME_UNKNOWN);
    assert_int_equal(attempts.items[1].ended_at, 0);
    attempt_list_free(&attempts);

    assert_int_equal(audit_count(store, "c1", "publish"), 1);
    assert_int_equal(audit_count(store, "c1", "retry"), 0);
    assert_int_equal(audit_count(store, "c2", "publish"), 1);
    assert_int_equal(audit_count(store, "c3", "publish"), 1);
    assert_int_equal(audit_count(store, "c3", "retry"), 1);
    entry_list_free(&rest);
}

/* Of several results for one entry in a batch, the first that matches
 * the lease wins, as if they were applied one by one. */
static void complete_batch_duplicate_results(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion cs[3] = {
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000),
        completion(&e, ENTRY_RETRYING, OUTCOME_TRANSIENT, NOW + 1000),
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000),
    };
    int applied[3] = {-1, -1, -1};

    cs[0].attempt_number = e.attempt_count + 1;
    cs[1].retry_count = 1;
    cs[1].due_at = NOW + MINUTE;
    check_ok(store, store->ops->complete_attempts(store, cs, 3, applied));
    assert_int_equal(applied[0], 0);
    assert_int_equal(applied[1], 1);
    assert_int_equal(applied[2], 0);

    struct entry after = get_entry(store, e.id);
    assert_int_equal(after.status, ENTRY_RETRYING);
    assert_int_equal(after.retry_count, 1);
    assert_int_equal(after.due_at, NOW + MINUTE);
    assert_int_equal(audit_count(store, "c1", "retry"), 1);
    assert_int_equal(audit_count(store, "c1", "publish"), 1);
}

/* Results of several jobs, one of them with two entries, in one batch. */
static void complete_batch_several_jobs(void **state)
{
    struct store *store = store_of(state);
    submit_simple(store, "c1", two, 2, NOW);
    int64_t single = submit_simple(store, "c2", one_alpha, 1, NOW + 1);
    struct entry_list list = claim(store, "node-a", NOW + 1, 10);
    struct attempt_completion cs[3];
    int applied[3] = {-1, -1, -1};

    assert_int_equal(list.count, 3);
    for (size_t i = 0; i < 3; i++) {
        int ok = list.items[i].job_id == single ||
                 strcmp(list.items[i].platform, "alpha") == 0;

        cs[i] =
            completion(&list.items[i], ok ? ENTRY_PUBLISHED : ENTRY_FAILED,
                       ok ? OUTCOME_SUCCESS : OUTCOME_PERMANENT, NOW + 2000);
    }
    check_ok(store, store->ops->complete_attempts(store, cs, 3, applied));
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(applied[i], 1);

    struct audit_list audit = audit_of(store, "c1", "publish");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "partial");
    assert_int_equal(audit.items[0].at, NOW + 2000);
    audit_list_free(&audit);
    audit = audit_of(store, "c2", "publish");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "success");
    audit_list_free(&audit);
    entry_list_free(&list);
}

/* The "publish" metadata is compact JSON, platforms in entry order. */
static void publish_record_text(void **state)
{
    struct store *store = store_of(state);
    const char *const beta_alpha[] = {"beta", "alpha"};
    int64_t job_id = submit_simple(store, "c1", beta_alpha, 2, NOW);
    struct entry_list list = claim(store, "node-a", NOW, 10);
    struct attempt_completion cs[2];
    int applied[2];
    char expected[256];

    assert_int_equal(list.count, 2);
    for (size_t i = 0; i < 2; i++) {
        int beta = strcmp(list.items[i].platform, "beta") == 0;

        cs[i] =
            completion(&list.items[i], beta ? ENTRY_PUBLISHED : ENTRY_FAILED,
                       beta ? OUTCOME_SUCCESS : OUTCOME_PERMANENT, NOW);
    }
    check_ok(store, store->ops->complete_attempts(store, cs, 2, applied));

    struct audit_list audit = audit_of(store, "c1", "publish");
    assert_int_equal(audit.count, 1);
    snprintf(expected, sizeof expected,
             "{\"job\":%lld,\"platforms\":[\"beta\",\"alpha\"],"
             "\"results\":[{\"platform\":\"beta\",\"status\":"
             "\"published\"},{\"platform\":\"alpha\",\"status\":"
             "\"failed\"}]}",
             (long long)job_id);
    assert_string_equal(audit.items[0].metadata_json, expected);
    audit_list_free(&audit);
    entry_list_free(&list);
}

static void complete_rejects_illegal_target(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_PENDING, OUTCOME_SUCCESS, NOW);
    int applied = -1;

    assert_int_equal(store->ops->complete_attempts(store, &c, 1, &applied),
                     STORE_INVALID);
    assert_int_equal(applied, 0);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHING);

    c.next_status = ENTRY_CANCELLED;
    assert_int_equal(store->ops->complete_attempts(store, &c, 1, &applied),
                     STORE_INVALID);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHING);
}

/* A claim request of complete_and_claim over every_platform. */
static struct claim_request round_claim(const char *node, size_t max,
                                        size_t batch)
{
    struct claim_request request = {
        .node = node,
        .platforms = every_platform,
        .platform_count = 3,
        .now = NOW + 1000,
        .lease_ms = LEASE,
        .max = max,
        .batch = batch,
    };
    return request;
}

static void complete_and_claim_one_round(void **state)
{
    struct store *store = store_of(state);
    struct entry_list claimed = {0};
    int applied = -1;

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    submit_simple(store, "c2", one_alpha, 1, NOW + 30);
    submit_simple(store, "c3", one_alpha, 1, NOW + 10);
    submit_simple(store, "c4", one_alpha, 1, NOW + 20);
    submit_simple(store, "c5", one_alpha, 1, NOW + HOUR);
    struct attempt_completion c =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000);
    /* max 2 in batches of 1: two claim statements on SQLite, one on
     * PostgreSQL, which claims the whole round at once. */
    struct claim_request request = round_claim("node-a", 2, 1);

    check_ok(store, store->ops->complete_and_claim(store, &c, 1, &applied,
                                                   &request, &claimed));
    assert_int_equal(applied, 1);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHED);
    assert_int_equal(audit_count(store, "c1", "publish"), 1);

    assert_int_equal(claimed.count, 2);
    assert_string_equal(claimed.items[0].content_id, "c3");
    assert_string_equal(claimed.items[1].content_id, "c4");
    for (size_t i = 0; i < claimed.count; i++) {
        struct entry stored = get_entry(store, claimed.items[i].id);

        assert_int_equal(stored.status, ENTRY_PUBLISHING);
        assert_string_equal(stored.lease_node, "node-a");
        assert_int_equal(stored.attempt_count, 1);
        assert_int_equal(stored.lease_expires_at, NOW + 1000 + LEASE);
    }
    entry_list_free(&claimed);

    /* c2 is due but was left for the next claim; c5 is not due. */
    struct entry_list rest = claim(store, "node-a", NOW + 1000, 10);
    assert_int_equal(rest.count, 1);
    assert_string_equal(rest.items[0].content_id, "c2");
    entry_list_free(&rest);
}

/*
 * Every entry a round claims comes back as the store keeps it, and the
 * job of each, from every claim statement of the round (SQLite) or from
 * its one statement (PostgreSQL), reads back with its own content.
 */
static void complete_and_claim_returns_stored(void **state)
{
    struct store *store = store_of(state);
    const char *const alpha_beta[] = {"alpha", "beta"};
    struct entry_list claimed = {0};
    int applied = -1;

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    struct job_request req = request("c2", alpha_beta, 2, NOW + 10);
    req.content_json = "{\"text\":\"second\"}";
    req.event_id = "evt-2";
    int64_t second_job = submit(store, &req);
    req = request("c3", one_alpha, 1, NOW + 20);
    req.content_json = "{\"text\":\"third\"}";
    int64_t third_job = submit(store, &req);
    struct attempt_completion c =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000);
    /* Three claim statements of one entry each on SQLite. */
    struct claim_request round = round_claim("node-b", 3, 1);

    check_ok(store, store->ops->complete_and_claim(store, &c, 1, &applied,
                                                   &round, &claimed));
    assert_int_equal(applied, 1);
    assert_int_equal(claimed.count, 3);
    for (size_t i = 0; i < claimed.count; i++) {
        const struct entry *got = &claimed.items[i];
        struct entry stored = get_entry(store, got->id);
        struct job job;

        assert_int_equal(got->status, ENTRY_PUBLISHING);
        assert_int_equal(got->status, stored.status);
        assert_string_equal(got->lease_node, "node-b");
        assert_string_equal(got->lease_node, stored.lease_node);
        assert_int_equal(got->lease_expires_at, NOW + 1000 + LEASE);
        assert_int_equal(got->lease_expires_at, stored.lease_expires_at);
        assert_int_equal(got->attempt_count, 1);
        assert_int_equal(got->attempt_count, stored.attempt_count);
        assert_int_equal(got->updated_at, stored.updated_at);
        assert_int_equal(got->due_at, stored.due_at);
        assert_string_equal(got->platform, stored.platform);

        check_ok(store, store->ops->get_job(store, got->job_id, &job));
        assert_int_equal(job.id, got->job_id);
        assert_string_equal(job.content_id, got->content_id);
        if (got->job_id == second_job) {
            assert_string_equal(job.content_json, "{\"text\":\"second\"}");
            assert_string_equal(job.event_id, "evt-2");
        } else {
            assert_int_equal(got->job_id, third_job);
            assert_string_equal(job.content_json, "{\"text\":\"third\"}");
            assert_string_equal(job.event_id, "");
        }
        assert_int_equal(job.scheduled_at, got->job_id == second_job ? NOW + 10
                                                              : NOW + 20);
        job_clear(&job);
    }
    entry_list_free(&claimed);
}

static void complete_and_claim_one_part(void **state)
{
    struct store *store = store_of(state);
    struct entry_list claimed = {0};
    int applied = -1;

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    submit_simple(store, "c2", one_alpha, 1, NOW);

    /* No completions: a claim alone. */
    struct claim_request request = round_claim("node-a", 5, 64);
    check_ok(store, store->ops->complete_and_claim(store, NULL, 0, NULL,
                                                   &request, &claimed));
    assert_int_equal(claimed.count, 1);
    assert_string_equal(claimed.items[0].content_id, "c2");
    entry_list_free(&claimed);

    /* max 0: completions alone. */
    struct attempt_completion c =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000);
    request.max = 0;
    check_ok(store, store->ops->complete_and_claim(store, &c, 1, &applied,
                                                   &request, &claimed));
    assert_int_equal(applied, 1);
    assert_int_equal(claimed.count, 0);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHED);
}

static void complete_and_claim_lost_race(void **state)
{
    struct store *store = store_of(state);
    struct entry_list claimed = {0};
    int applied = -1;

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    submit_simple(store, "c2", one_alpha, 1, NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000);
    struct claim_request request = round_claim("node-a", 5, 64);

    c.node = "node-b";
    check_ok(store, store->ops->complete_and_claim(store, &c, 1, &applied,
                                                   &request, &claimed));
    assert_int_equal(applied, 0);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHING);
    assert_int_equal(claimed.count, 1);
    assert_string_equal(claimed.items[0].content_id, "c2");
    entry_list_free(&claimed);
}

/* A failed part writes nothing, the other part included. */
static void complete_and_claim_all_or_nothing(void **state)
{
    static const char *const empty_name[] = {""};
    struct store *store = store_of(state);
    struct entry_list claimed = {0};
    int applied = -1;

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    submit_simple(store, "c2", one_alpha, 1, NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000);
    struct claim_request request = round_claim("node-a", 5, 64);

    /* An invalid platform name fails the claim. */
    request.platforms = empty_name;
    request.platform_count = 1;
    assert_int_equal(store->ops->complete_and_claim(store, &c, 1, &applied,
                                                    &request, &claimed),
                     STORE_INVALID);
    assert_int_equal(applied, 0);
    assert_int_equal(claimed.count, 0);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHING);
    assert_int_equal(audit_count(store, "c1", "publish"), 0);

    /* An illegal completion fails the round. */
    request = round_claim("node-a", 5, 64);
    c.next_status = ENTRY_PENDING;
    assert_int_equal(store->ops->complete_and_claim(store, &c, 1, &applied,
                                                    &request, &claimed),
                     STORE_INVALID);
    assert_int_equal(applied, 0);
    assert_int_equal(claimed.count, 0);
    struct entry_list rest = claim(store, "node-a", NOW + 1000, 10);
    assert_int_equal(rest.count, 1);
    assert_string_equal(rest.items[0].content_id, "c2");
    entry_list_free(&rest);

    /* A claim of entries in batches of 0 is invalid. */
    request = round_claim("node-a", 5, 0);
    c.next_status = ENTRY_PUBLISHED;
    assert_int_equal(store->ops->complete_and_claim(store, &c, 1, &applied,
                                                    &request, &claimed),
                     STORE_INVALID);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHING);
}

/*
 * On PostgreSQL the round's claim and its update of the completed
 * entries go out together. A failure of the update in the database
 * (here a trigger that raises) undoes the claim too, and the next
 * round on the same connection works.
 */
static void complete_and_claim_database_failure(void **state)
{
    struct fixture *f = *state;
    struct store *store = f->store;
    struct entry_list claimed = {0};
    int applied = -1;

    if (f->schemas[0][0] == '\0')
        skip();
    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    submit_simple(store, "c2", one_alpha, 1, NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 1000);
    struct claim_request request = round_claim("node-a", 5, 64);

    pg_admin(f->url, "CREATE FUNCTION explode() RETURNS trigger"
                     " LANGUAGE plpgsql AS $$ BEGIN"
                     " RAISE EXCEPTION 'test failure'; END $$");
    pg_admin(f->url, "CREATE TRIGGER explode BEFORE UPDATE ON attempts"
                     " FOR EACH ROW EXECUTE FUNCTION explode()");
    assert_int_not_equal(store->ops->complete_and_claim(store, &c, 1, &applied,
                                                        &request, &claimed),
                         STORE_OK);
    assert_non_null(strstr(store_errmsg(store), "test failure"));
    assert_int_equal(applied, 0);
    assert_int_equal(claimed.count, 0);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHING);
    check_pg_value(f->url,
                   "SELECT status || ',' || attempt_count FROM entries"
                   " WHERE content_id = 'c2'",
                   "pending,0");
    check_pg_value(f->url, "SELECT count(*) FROM attempts", "1");

    pg_admin(f->url, "DROP TRIGGER explode ON attempts");
    check_ok(store, store->ops->complete_and_claim(store, &c, 1, &applied,
                                                   &request, &claimed));
    assert_int_equal(applied, 1);
    assert_int_equal(claimed.count, 1);
    assert_string_equal(claimed.items[0].content_id, "c2");
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHED);
    entry_list_free(&claimed);
}

static void complete_pauses_platform(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_RETRYING, OUTCOME_TRANSIENT, NOW);
    struct platform_state_list states;

    c.http_status = 429;
    c.due_at = NOW + HOUR;
    c.pause_until = NOW + HOUR;
    c.pause_reason = "rate limited until reset";
    assert_int_equal(complete(store, &c), 1);

    check_ok(store, store->ops->list_platform_states(store, &states));
    assert_int_equal(states.count, 1);
    assert_string_equal(states.items[0].platform, "alpha");
    assert_int_equal(states.items[0].paused_until, NOW + HOUR);
    assert_string_equal(states.items[0].pause_reason,
                        "rate limited until reset");
    platform_state_list_free(&states);
    assert_int_equal(audit_count(store, NULL, "platform_paused"), 1);
}

static void publish_audit_partial(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", two, 2, NOW);
    struct entry_list list = claim(store, "node-a", NOW, 10);
    struct attempt_completion ok =
        completion(&list.items[0], ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW);
    struct attempt_completion bad =
        completion(&list.items[1], ENTRY_FAILED, OUTCOME_PERMANENT, NOW);

    assert_int_equal(complete(store, &ok), 1);
    assert_int_equal(audit_count(store, "c1", "publish"), 0);
    assert_int_equal(complete(store, &bad), 1);

    struct audit_list audit = audit_of(store, "c1", "publish");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "partial");
    json_t *meta = parse(audit.items[0].metadata_json);
    assert_int_equal(json_array_size(json_object_get(meta, "results")), 2);
    json_decref(meta);
    audit_list_free(&audit);

    /* A later round writes no second record. */
    check_ok(store,
             store->ops->retry_entry(store, list.items[1].id, NOW, "test"));
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion later =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW);
    assert_int_equal(complete(store, &later), 1);
    assert_int_equal(audit_count(store, "c1", "publish"), 1);
    entry_list_free(&list);
}

static void publish_audit_failed(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", two, 2, NOW);
    struct entry_list list = claim(store, "node-a", NOW, 10);
    struct attempt_completion cs[2] = {
        completion(&list.items[0], ENTRY_FAILED, OUTCOME_PERMANENT, NOW),
        completion(&list.items[1], ENTRY_RETRYING, OUTCOME_TRANSIENT, NOW),
    };
    int applied[2];

    cs[1].retry_count = 1;
    cs[1].due_at = NOW + MINUTE;
    check_ok(store, store->ops->complete_attempts(store, cs, 2, applied));

    struct audit_list audit = audit_of(store, "c1", "publish");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "failed");
    audit_list_free(&audit);
    entry_list_free(&list);
}

/*
 * Two jobs of two entries each, finished in one interleaved batch: one
 * record per job, stamped with the end of the result that ended its
 * first round.
 */
static void publish_audit_once_per_job(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", two, 2, NOW);
    submit_simple(store, "c2", two, 2, NOW);
    struct entry_list list = claim(store, "node-a", NOW, 10);
    assert_int_equal(list.count, 4);

    struct attempt_completion cs[4];
    size_t n1 = 0;
    size_t n2 = 2;
    for (size_t i = 0; i < list.count; i++) {
        struct entry *e = &list.items[i];
        int second_job = strcmp(e->content_id, "c2") == 0;
        int failed = second_job && n2 == 2;
        size_t slot = second_job ? n2++ : n1++;

        cs[slot] = completion(e, failed ? ENTRY_FAILED : ENTRY_PUBLISHED,
                              failed ? OUTCOME_PERMANENT : OUTCOME_SUCCESS,
                              NOW);
    }
    /* Results in the order c1, c2, c1, c2. */
    struct attempt_completion batch[4] = {cs[0], cs[2], cs[1], cs[3]};
    int applied[4];
    for (int i = 0; i < 4; i++)
        batch[i].ended_at = NOW + 1 + i;
    check_ok(store, store->ops->complete_attempts(store, batch, 4, applied));
    for (int i = 0; i < 4; i++)
        assert_int_equal(applied[i], 1);

    struct audit_list audit = audit_of(store, "c1", "publish");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "success");
    assert_int_equal(audit.items[0].at, NOW + 3);
    audit_list_free(&audit);

    audit = audit_of(store, "c2", "publish");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].status, "partial");
    assert_int_equal(audit.items[0].at, NOW + 4);
    audit_list_free(&audit);
    entry_list_free(&list);
}

/* ---- leases and sweep ---- */

static void recover_expired_leases(void **state)
{
    struct store *store = store_of(state);
    struct job_request last = request("c2", one_alpha, 1, NOW);
    size_t recovered = 99;

    submit_simple(store, "c1", one_alpha, 1, NOW);
    last.max_retries = 0;
    submit(store, &last);
    struct entry_list list = claim(store, "node-a", NOW, 10);
    assert_int_equal(list.count, 2);

    check_ok(store,
             store->ops->recover_leases(store, NOW + LEASE - 1, &recovered));
    assert_int_equal(recovered, 0);
    check_ok(store,
             store->ops->recover_leases(store, NOW + LEASE + 1, &recovered));
    assert_int_equal(recovered, 2);

    for (size_t i = 0; i < list.count; i++) {
        struct entry e = get_entry(store, list.items[i].id);
        int had_retries = strcmp(e.content_id, "c1") == 0;

        assert_int_equal(e.status, had_retries ? ENTRY_RETRYING : ENTRY_FAILED);
        assert_int_equal(e.retry_count, had_retries ? 1 : 0);
        assert_string_equal(e.lease_node, "");
        assert_string_equal(e.fail_reason,
                            had_retries ? "" : RETRY_REASON_UNKNOWN);

        struct audit_list audit = audit_of(store, e.content_id,
                                           "lease_recovered");
        assert_int_equal(audit.count, 1);
        json_t *meta = parse(audit.items[0].metadata_json);
        const char *reason =
            json_string_value(json_object_get(meta, "fail_reason"));
        if (had_retries)
            assert_null(json_object_get(meta, "fail_reason"));
        else
            assert_string_equal(reason != NULL ? reason : "(missing)",
                                RETRY_REASON_UNKNOWN);
        json_decref(meta);
        audit_list_free(&audit);

        struct attempt_list attempts;
        check_ok(store, store->ops->list_attempts(store, e.id, &attempts));
        assert_int_equal(attempts.items[0].finished, 0);
        assert_int_equal(attempts.items[0].outcome, OUTCOME_UNKNOWN);
        assert_true(attempts.items[0].ended_at > 0);
        attempt_list_free(&attempts);
    }
    assert_int_equal(audit_count(store, NULL, "lease_recovered"), 2);
    entry_list_free(&list);

    struct entry again = claim_one(store, "node-b", NOW + LEASE + 1);
    assert_string_equal(again.content_id, "c1");
    assert_int_equal(again.attempt_count, 2);
}

static void release_leases_of_node(void **state)
{
    struct store *store = store_of(state);
    size_t released = 99;

    submit_simple(store, "c1", two, 2, NOW);
    struct entry mine = claim_one(store, "node-a", NOW);
    struct entry theirs = claim_one(store, "node-b", NOW);

    check_ok(store,
             store->ops->release_leases(store, "node-a", NOW + 10, &released));
    assert_int_equal(released, 1);

    struct entry after = get_entry(store, mine.id);
    assert_int_equal(after.status, ENTRY_PENDING);
    assert_int_equal(after.retry_count, 0);
    assert_string_equal(after.lease_node, "");
    assert_int_equal(get_entry(store, theirs.id).status, ENTRY_PUBLISHING);

    struct attempt_list attempts;
    check_ok(store, store->ops->list_attempts(store, mine.id, &attempts));
    assert_int_equal(attempts.count, 1);
    assert_int_equal(attempts.items[0].ended_at, NOW + 10);
    attempt_list_free(&attempts);
    assert_int_equal(audit_count(store, "c1", "lease_released"), 1);

    struct entry again = claim_one(store, "node-c", NOW + 20);
    assert_int_equal(again.id, mine.id);
    assert_int_equal(again.attempt_count, 2);
}

static void renew_leases_of_node(void **state)
{
    struct store *store = store_of(state);
    size_t renewed = 99;
    size_t recovered = 99;

    submit_simple(store, "c1", two, 2, NOW);
    struct entry mine = claim_one(store, "node-a", NOW);
    struct entry theirs = claim_one(store, "node-b", NOW);
    struct lease_renewal leases[3] = {
        {mine.id, mine.attempt_count, 0},
        {theirs.id, theirs.attempt_count, 1},
        {mine.id, mine.attempt_count + 1, 1}, /* not the open attempt */
    };

    check_ok(store, store->ops->renew_leases(store, "node-a", leases, 3,
                                             NOW + LEASE - 10, LEASE,
                                             &renewed));
    assert_int_equal(renewed, 1);
    assert_int_equal(leases[0].renewed, 1);
    assert_int_equal(leases[1].renewed, 0);
    assert_int_equal(leases[2].renewed, 0);
    assert_int_equal(get_entry(store, mine.id).lease_expires_at,
                     NOW + 2 * LEASE - 10);
    assert_int_equal(get_entry(store, theirs.id).lease_expires_at,
                     NOW + LEASE);

    /* Past the first lease only the entry that was not renewed returns. */
    check_ok(store,
             store->ops->recover_leases(store, NOW + LEASE + 1, &recovered));
    assert_int_equal(recovered, 1);
    assert_int_equal(get_entry(store, mine.id).status, ENTRY_PUBLISHING);
    assert_int_equal(get_entry(store, theirs.id).status, ENTRY_RETRYING);

    /* A finished attempt's entry is no longer renewed. */
    struct attempt_completion done =
        completion(&mine, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + LEASE + 2);
    int applied = 0;
    check_ok(store, store->ops->complete_attempts(store, &done, 1, &applied));
    assert_int_equal(applied, 1);
    check_ok(store, store->ops->renew_leases(store, "node-a", leases, 1,
                                             NOW + LEASE + 3, LEASE,
                                             &renewed));
    assert_int_equal(renewed, 0);
    assert_int_equal(leases[0].renewed, 0);
    assert_int_equal(get_entry(store, mine.id).status, ENTRY_PUBLISHED);

    assert_int_equal(store->ops->renew_leases(store, "", leases, 1, NOW,
                                              LEASE, &renewed),
                     STORE_INVALID);
    assert_int_equal(store->ops->renew_leases(store, "node-a", leases, 1, NOW,
                                              0, &renewed),
                     STORE_INVALID);
}

/* Submits one entry, claims it and completes it as given. */
static int64_t entry_in_state(struct store *store, const char *content_id,
                              uint32_t max_retries, enum entry_status next,
                              const char *fail_reason)
{
    struct job_request req = request(content_id, one_alpha, 1, NOW);
    struct entry_filter filter = {.content_id = content_id};
    struct entry_list list = {0};

    req.max_retries = max_retries;
    submit(store, &req);
    check_ok(store, store->ops->list_entries(store, &filter, &list));
    assert_int_equal(list.count, 1);
    int64_t id = list.items[0].id;
    entry_list_free(&list);
    if (next == ENTRY_PENDING)
        return id;

    /* Claim until this entry comes up; others were finished already. */
    struct entry e = claim_one(store, "node-a", NOW);
    assert_int_equal(e.id, id);
    if (next == ENTRY_PUBLISHING)
        return id;

    enum outcome outcome =
        next == ENTRY_PUBLISHED ? OUTCOME_SUCCESS : OUTCOME_PERMANENT;
    struct attempt_completion c = completion(&e, next, outcome, NOW);
    c.fail_reason = fail_reason;
    if (next == ENTRY_RETRYING) {
        c.retry_count = 1;
        c.due_at = NOW + HOUR;
    }
    assert_int_equal(complete(store, &c), 1);
    return id;
}

static void sweep_requeues_failed(void **state)
{
    struct store *store = store_of(state);
    int64_t requeue = entry_in_state(store, "a", 3, ENTRY_FAILED, NULL);
    int64_t expired = entry_in_state(store, "b", 3, ENTRY_FAILED, "expired");
    int64_t unknown =
        entry_in_state(store, "c", 3, ENTRY_FAILED, "outcome unknown");
    int64_t exhausted = entry_in_state(store, "d", 0, ENTRY_FAILED, NULL);
    int64_t retrying = entry_in_state(store, "e", 3, ENTRY_RETRYING, NULL);
    int64_t published = entry_in_state(store, "f", 3, ENTRY_PUBLISHED, NULL);
    int64_t publishing = entry_in_state(store, "g", 3, ENTRY_PUBLISHING, NULL);
    struct sweep_result result = {99, 99, 99};

    check_ok(store,
             store->ops->sweep(store, NOW + MINUTE, 0, "sweeper", &result));
    assert_int_equal(result.requeued, 1);
    assert_int_equal(result.recovered, 0);

    struct entry e = get_entry(store, requeue);
    assert_int_equal(e.status, ENTRY_PENDING);
    assert_int_equal(e.retry_count, 1);
    assert_int_equal(e.due_at, NOW + MINUTE);
    assert_int_equal(get_entry(store, expired).status, ENTRY_FAILED);
    assert_int_equal(get_entry(store, unknown).status, ENTRY_FAILED);
    assert_int_equal(get_entry(store, exhausted).status, ENTRY_FAILED);
    assert_int_equal(get_entry(store, retrying).status, ENTRY_RETRYING);
    assert_int_equal(get_entry(store, retrying).retry_count, 1);
    assert_int_equal(get_entry(store, published).status, ENTRY_PUBLISHED);
    assert_int_equal(get_entry(store, publishing).status, ENTRY_PUBLISHING);

    struct audit_list audit = audit_of(store, NULL, "sweep");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].agent_name, "sweeper");
    json_t *meta = parse(audit.items[0].metadata_json);
    assert_int_equal(json_integer_value(json_object_get(meta, "requeued")), 1);
    assert_int_equal(json_integer_value(json_object_get(meta, "recovered")), 0);
    json_decref(meta);
    audit_list_free(&audit);

    /* The same entry is re-queued, never a second one for the job. */
    struct entry_filter filter = {.content_id = "a"};
    assert_int_equal(count_matching(store, &filter), 1);
}

static void sweep_recovers_leases(void **state)
{
    struct store *store = store_of(state);
    int64_t id = entry_in_state(store, "a", 3, ENTRY_PUBLISHING, NULL);
    struct sweep_result result;

    check_ok(store,
             store->ops->sweep(store, NOW + 2 * LEASE, 0, "sweeper",
                               &result));
    assert_int_equal(result.recovered, 1);
    assert_int_equal(result.requeued, 0);
    assert_int_equal(get_entry(store, id).status, ENTRY_RETRYING);
    assert_int_equal(audit_count(store, NULL, "sweep"), 1);
}

/* ---- operator actions ---- */

static void retry_entry_legal_and_illegal(void **state)
{
    struct store *store = store_of(state);
    int64_t failed = entry_in_state(store, "a", 3, ENTRY_FAILED, "expired");
    int64_t pending = entry_in_state(store, "b", 3, ENTRY_PENDING, NULL);

    check_ok(store, store->ops->retry_entry(store, failed, NOW + 5, "ops"));
    struct entry e = get_entry(store, failed);
    assert_int_equal(e.status, ENTRY_PENDING);
    assert_int_equal(e.retry_count, 0);
    assert_int_equal(e.due_at, NOW + 5);
    assert_string_equal(e.fail_reason, "");

    struct audit_list audit = audit_of(store, "a", "manual_retry");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].agent_name, "ops");
    assert_int_equal(audit.items[0].entry_id, failed);
    audit_list_free(&audit);

    struct entry before = get_entry(store, pending);
    int rc = store->ops->retry_entry(store, pending, NOW + 5, "ops");
    assert_true(rc == STORE_INVALID || rc == STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(store), "pending"));
    struct entry after = get_entry(store, pending);
    assert_int_equal(after.status, before.status);
    assert_int_equal(after.updated_at, before.updated_at);
    assert_int_equal(audit_count(store, "b", "manual_retry"), 0);

    assert_int_equal(store->ops->retry_entry(store, 424242, NOW, "ops"),
                     STORE_NOT_FOUND);
}

static void cancel_entry_legal_and_illegal(void **state)
{
    struct store *store = store_of(state);
    int64_t published = entry_in_state(store, "b", 3, ENTRY_PUBLISHED, NULL);
    int64_t publishing = entry_in_state(store, "c", 3, ENTRY_PUBLISHING, NULL);
    int64_t pending = entry_in_state(store, "a", 3, ENTRY_PENDING, NULL);

    check_ok(store, store->ops->cancel_entry(store, pending, NOW, "ops"));
    assert_int_equal(get_entry(store, pending).status, ENTRY_CANCELLED);
    assert_int_equal(audit_count(store, "a", "cancel"), 1);

    int rc = store->ops->cancel_entry(store, published, NOW, "ops");
    assert_true(rc == STORE_INVALID || rc == STORE_CONFLICT);
    assert_int_equal(get_entry(store, published).status, ENTRY_PUBLISHED);
    rc = store->ops->cancel_entry(store, publishing, NOW, "ops");
    assert_true(rc == STORE_INVALID || rc == STORE_CONFLICT);
    assert_int_equal(get_entry(store, publishing).status, ENTRY_PUBLISHING);
    assert_int_equal(audit_count(store, "b", "cancel"), 0);
    assert_int_equal(audit_count(store, "c", "cancel"), 0);

    /* A cancelled entry is never claimed. */
    struct entry_list list = claim(store, "node-a", NOW + HOUR, 10);
    assert_int_equal(list.count, 0);
    entry_list_free(&list);
}

static void mark_published_legal_and_illegal(void **state)
{
    struct store *store = store_of(state);
    int64_t failed =
        entry_in_state(store, "a", 3, ENTRY_FAILED, "outcome unknown");
    int64_t pending = entry_in_state(store, "b", 3, ENTRY_PENDING, NULL);

    assert_string_equal(get_entry(store, failed).last_error,
                        "service unavailable");
    check_ok(store, store->ops->mark_published(store, failed, NOW + 9, "ops"));
    struct entry e = get_entry(store, failed);
    assert_int_equal(e.status, ENTRY_PUBLISHED);
    assert_int_equal(e.published_at, NOW + 9);
    assert_int_equal(audit_count(store, "a", "mark_published"), 1);

    /* A published entry shows no error; its attempt history keeps it. */
    assert_string_equal(e.last_error, "");
    struct attempt_list attempts = {0};
    check_ok(store, store->ops->list_attempts(store, failed, &attempts));
    assert_int_equal(attempts.count, 1);
    assert_string_equal(attempts.items[0].error, "service unavailable");
    attempt_list_free(&attempts);

    int rc = store->ops->mark_published(store, pending, NOW, "ops");
    assert_true(rc == STORE_INVALID || rc == STORE_CONFLICT);
    assert_int_equal(get_entry(store, pending).status, ENTRY_PENDING);
    assert_int_equal(audit_count(store, "b", "mark_published"), 0);
}

/* Cancels a content item's entries as agent "event"; returns the result. */
static int cancel_content(struct store *store, const char *content_id,
                          const char *const *platforms, size_t count,
                          const char *event_id,
                          struct content_change_result *result)
{
    struct content_change_request change = {
        .event_id = event_id,
        .content_id = content_id,
        .platforms = platforms,
        .platform_count = count,
        .agent = "event",
    };

    return store->ops->cancel_content(store, &change, NOW, result);
}

static int reschedule_content(struct store *store, const char *content_id,
                              int64_t new_due, const char *event_id,
                              struct content_change_result *result)
{
    struct content_change_request change = {
        .event_id = event_id,
        .content_id = content_id,
        .new_due = new_due,
        .agent = "event",
    };

    return store->ops->reschedule_content(store, &change, NOW, result);
}

static void cancel_content_by_platform(void **state)
{
    struct store *store = store_of(state);
    const char *const three[] = {"alpha", "beta", "gamma"};
    const char *const only_beta[] = {"beta"};
    struct content_change_result result = {99, 99};

    submit_simple(store, "c1", three, 3, NOW + HOUR);
    submit_simple(store, "other", three, 3, NOW + HOUR);

    check_ok(store, cancel_content(store, "c1", only_beta, 1, NULL, &result));
    assert_int_equal(result.changed, 1);
    assert_int_equal(result.duplicate, 0);
    check_ok(store, cancel_content(store, "c1", NULL, 0, NULL, &result));
    assert_int_equal(result.changed, 2);
    check_ok(store, cancel_content(store, "c1", NULL, 0, NULL, &result));
    assert_int_equal(result.changed, 0);

    struct entry_filter cancelled = {.has_status = 1,
                                     .status = ENTRY_CANCELLED};
    assert_int_equal(count_matching(store, &cancelled), 3);
    struct entry_filter others = {
        .content_id = "other", .has_status = 1, .status = ENTRY_PENDING};
    assert_int_equal(count_matching(store, &others), 3);
    assert_int_equal(audit_count(store, "c1", "cancel"), 3);

    assert_int_equal(cancel_content(store, "missing", NULL, 0, NULL, &result),
                     STORE_NOT_FOUND);
}

static void cancel_content_spares_publishing(void **state)
{
    struct store *store = store_of(state);
    struct content_change_result result = {99, 99};

    submit_simple(store, "c1", two, 2, NOW);
    struct entry started = claim_one(store, "node-a", NOW);

    check_ok(store, cancel_content(store, "c1", NULL, 0, NULL, &result));
    assert_int_equal(result.changed, 1);
    assert_int_equal(get_entry(store, started.id).status, ENTRY_PUBLISHING);
}

static void reschedule_content_moves_due(void **state)
{
    struct store *store = store_of(state);
    struct content_change_result result = {99, 99};

    submit_simple(store, "c1", two, 2, NOW);
    check_ok(store, reschedule_content(store, "c1", NOW + HOUR, NULL, &result));
    assert_int_equal(result.changed, 2);

    struct entry_list list = claim(store, "node-a", NOW, 10);
    assert_int_equal(list.count, 0);
    entry_list_free(&list);
    list = claim(store, "node-a", NOW + HOUR, 10);
    assert_int_equal(list.count, 2);
    assert_int_equal(list.items[0].scheduled_at, NOW + HOUR);
    entry_list_free(&list);
    assert_int_equal(audit_count(store, "c1", "reschedule"), 2);

    check_ok(store,
             reschedule_content(store, "c1", NOW + 2 * HOUR, NULL, &result));
    assert_int_equal(result.changed, 0);
}

/* Returns the due time of every entry of content item c1, checked equal. */
static int64_t due_of_c1(struct store *store)
{
    struct entry_filter filter = {.content_id = "c1"};
    struct entry_list list = {0};
    int64_t due;

    check_ok(store, store->ops->list_entries(store, &filter, &list));
    assert_int_equal(list.count, 2);
    due = list.items[0].due_at;
    assert_int_equal(list.items[1].due_at, due);
    entry_list_free(&list);
    return due;
}

static void content_change_dedupes_event(void **state)
{
    struct store *store = store_of(state);
    struct content_change_result result = {99, 99};
    struct job_request req = request("c1", two, 2, NOW + HOUR);
    struct submit_result submitted;

    req.event_id = "schedule-1";
    submit(store, &req);
    check_ok(store, reschedule_content(store, "c1", NOW + 2 * HOUR, "move-1",
                                       &result));
    assert_int_equal(result.changed, 2);
    assert_int_equal(result.duplicate, 0);
    check_ok(store, reschedule_content(store, "c1", NOW + 3 * HOUR, "move-2",
                                       &result));

    /* A replayed old reschedule does not move the entries back. */
    check_ok(store, reschedule_content(store, "c1", NOW + 2 * HOUR, "move-1",
                                       &result));
    assert_int_equal(result.duplicate, 1);
    assert_int_equal(result.changed, 0);
    assert_int_equal(due_of_c1(store), NOW + 3 * HOUR);
    assert_int_equal(audit_count(store, "c1", "reschedule"), 4);

    /* Ids are shared by events of every name. */
    check_ok(store,
             cancel_content(store, "c1", NULL, 0, "schedule-1", &result));
    assert_int_equal(result.duplicate, 1);
    check_ok(store, cancel_content(store, "c1", NULL, 0, "stop-1", &result));
    assert_int_equal(result.changed, 2);
    assert_int_equal(result.duplicate, 0);
    check_ok(store, cancel_content(store, "c1", NULL, 0, "stop-1", &result));
    assert_int_equal(result.duplicate, 1);
    assert_int_equal(audit_count(store, "c1", "cancel"), 2);

    req.event_id = "stop-1";
    check_ok(store, store->ops->submit_jobs(store, &req, 1, NOW, &submitted));
    assert_int_equal(submitted.duplicate, 1);
    assert_int_equal(submitted.job_id, 0);
    assert_int_equal(audit_count(store, "c1", "accepted"), 1);
}

static void content_change_unknown_event(void **state)
{
    struct store *store = store_of(state);
    struct content_change_result result = {99, 99};

    /* Nothing is written for an unknown content item, its id included. */
    assert_int_equal(
        cancel_content(store, "c1", NULL, 0, "early-stop", &result),
        STORE_NOT_FOUND);
    submit_simple(store, "c1", two, 2, NOW + HOUR);
    check_ok(store,
             cancel_content(store, "c1", NULL, 0, "early-stop", &result));
    assert_int_equal(result.duplicate, 0);
    assert_int_equal(result.changed, 2);

    assert_int_equal(
        cancel_content(store, "c1", NULL, 0, "", &result), STORE_INVALID);
}

/* ---- platforms ---- */

static void pause_and_resume(void **state)
{
    struct store *store = store_of(state);
    struct platform_state_list states;

    assert_int_equal(
        store->ops->pause_platform(store, "alpha", NOW - 1, "late", NOW, "ops"),
        STORE_INVALID);
    check_ok(store, store->ops->pause_platform(store, "alpha", INT64_MAX,
                                               "token revoked", NOW, "ops"));
    check_ok(store, store->ops->list_platform_states(store, &states));
    assert_int_equal(states.count, 1);
    assert_int_equal(states.items[0].paused_until, INT64_MAX);
    assert_string_equal(states.items[0].pause_reason, "token revoked");
    platform_state_list_free(&states);

    struct audit_list audit = audit_of(store, NULL, "platform_paused");
    assert_int_equal(audit.count, 1);
    assert_string_equal(audit.items[0].platform, "alpha");
    assert_string_equal(audit.items[0].agent_name, "ops");
    audit_list_free(&audit);

    check_ok(store, store->ops->resume_platform(store, "alpha", NOW, "ops"));
    check_ok(store, store->ops->list_platform_states(store, &states));
    assert_int_equal(states.items[0].paused_until, 0);
    platform_state_list_free(&states);
    assert_int_equal(audit_count(store, NULL, "platform_resumed"), 1);
}

static void platform_data_roundtrip(void **state)
{
    struct store *store = store_of(state);
    char *json = NULL;

    assert_int_equal(store->ops->get_platform_data(store, "alpha", &json),
                     STORE_NOT_FOUND);
    assert_null(json);
    check_ok(store, store->ops->set_platform_data(store, "alpha",
                                                  "{\"refresh\":\"r1\"}", NOW));
    check_ok(store, store->ops->get_platform_data(store, "alpha", &json));
    assert_string_equal(json, "{\"refresh\":\"r1\"}");
    free(json);

    check_ok(store, store->ops->set_platform_data(store, "alpha",
                                                  "{\"refresh\":\"r2\"}", NOW));
    check_ok(store, store->ops->get_platform_data(store, "alpha", &json));
    assert_string_equal(json, "{\"refresh\":\"r2\"}");
    free(json);

    assert_int_equal(
        store->ops->set_platform_data(store, "alpha", "{nope", NOW),
        STORE_INVALID);
    check_ok(store, store->ops->get_platform_data(store, "alpha", &json));
    assert_string_equal(json, "{\"refresh\":\"r2\"}");
    free(json);
}

/* ---- audit and schema ---- */

static void audit_filters(void **state)
{
    struct store *store = store_of(state);
    struct audit_list list = {0};

    submit_simple(store, "c1", one_alpha, 1, NOW);
    submit_simple(store, "c2", one_alpha, 1, NOW);
    check_ok(store, store->ops->pause_platform(store, "beta", NOW + HOUR,
                                               "maintenance", NOW + 5, "ops"));

    assert_int_equal(audit_count(store, "c1", NULL), 1);
    assert_int_equal(audit_count(store, NULL, "accepted"), 2);

    struct audit_filter by_platform = {.platform = "beta"};
    check_ok(store, store->ops->list_audit(store, &by_platform, &list));
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].action, "platform_paused");
    audit_list_free(&list);

    struct audit_filter by_time = {.from = NOW + 1, .to = NOW + 10};
    check_ok(store, store->ops->list_audit(store, &by_time, &list));
    assert_int_equal(list.count, 1);
    audit_list_free(&list);

    struct audit_filter page = {.limit = 2};
    check_ok(store, store->ops->list_audit(store, &page, &list));
    assert_int_equal(list.count, 2);
    assert_true(list.items[0].id > list.items[1].id);
    page.before_id = list.items[1].id;
    audit_list_free(&list);
    check_ok(store, store->ops->list_audit(store, &page, &list));
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].job_id, "c1");
    audit_list_free(&list);
}

static void migrate_twice_is_noop(void **state)
{
    struct store *store = store_of(state);
    int64_t job_id = submit_simple(store, "c1", two, 2, NOW);

    int before = 0;
    int after = 0;

    check_ok(store, store->ops->schema_version(store, &before));
    check_ok(store, store_migrate(store));
    check_ok(store, store_migrate(store));
    check_ok(store, store->ops->schema_version(store, &after));
    assert_true(before >= 5);
    assert_int_equal(after, before);

    struct entry_list list = entries_of_job(store, job_id);
    assert_int_equal(list.count, 2);
    entry_list_free(&list);
}

static void open_postgres_hides_password(void **state)
{
    struct store *other = NULL;
    char err[STORE_ERR_MAX];

    (void)state;
    /* Port 1 on loopback refuses at once: the connect fails fast. */
    assert_int_equal(store_open("postgres://u:s3cr3t@127.0.0.1:1/pubq",
                                &other, err, sizeof err),
                     STORE_ERROR);
    assert_null(other);
    assert_non_null(strstr(err, "PostgreSQL"));
    assert_null(strstr(err, "s3cr3t"));

    assert_int_equal(store_open("postgres://u:s3cr3t@127.0.0.1/pubq?bogus=1",
                                &other, err, sizeof err),
                     STORE_INVALID);
    assert_null(other);
    assert_null(strstr(err, "s3cr3t"));
}

/* ---- sweeper ticks ---- */

static void sweep_tick_runs_once(void **state)
{
    struct store *store = store_of(state);
    int64_t first = entry_in_state(store, "a", 3, ENTRY_FAILED, NULL);
    struct sweep_result result = {99, 99, 99};

    check_ok(store, store->ops->sweep(store, NOW + MINUTE, NOW + MINUTE,
                                      "sweeper", &result));
    assert_int_equal(result.skipped, 0);
    assert_int_equal(result.requeued, 1);
    assert_int_equal(get_entry(store, first).status, ENTRY_PENDING);

    /* The same tick again, from this or another node, does nothing. */
    int64_t second = entry_in_state(store, "b", 3, ENTRY_FAILED, NULL);
    check_ok(store, store->ops->sweep(store, NOW + 2 * MINUTE, NOW + MINUTE,
                                      "sweeper", &result));
    assert_int_equal(result.skipped, 1);
    assert_int_equal(result.requeued, 0);
    assert_int_equal(get_entry(store, second).status, ENTRY_FAILED);
    assert_int_equal(audit_count(store, NULL, "sweep"), 1);

    /* The next tick and a run by hand (tick 0) both run. */
    check_ok(store, store->ops->sweep(store, NOW + 2 * MINUTE, 0, "manual",
                                      &result));
    assert_int_equal(result.skipped, 0);
    assert_int_equal(result.requeued, 1);
    check_ok(store, store->ops->sweep(store, NOW + 3 * MINUTE,
                                      NOW + 3 * MINUTE, "sweeper", &result));
    assert_int_equal(result.skipped, 0);
    assert_int_equal(audit_count(store, NULL, "sweep"), 3);
}

#define SWEEP_TICKS 20

struct sweeper_node {
    const char *url;
    int ran[SWEEP_TICKS];
    int failed;
};

static void *sweep_ticks(void *arg)
{
    struct sweeper_node *node = arg;
    struct store *store = NULL;
    char err[STORE_ERR_MAX];

    if (store_open(node->url, &store, err, sizeof err) != STORE_OK) {
        node->failed = 1;
        return NULL;
    }
    for (int i = 0; i < SWEEP_TICKS; i++) {
        struct sweep_result result = {0};
        int64_t tick = NOW + i * MINUTE;

        if (store->ops->sweep(store, tick, tick, "sweeper", &result) !=
            STORE_OK) {
            node->failed = 1;
            break;
        }
        node->ran[i] = !result.skipped;
    }
    store_close(store);
    return NULL;
}

static void sweep_tick_one_node(void **state)
{
    struct fixture *f = *state;
    struct sweeper_node nodes[3] = {{.url = f->url}, {.url = f->url},
                                    {.url = f->url}};
    pthread_t threads[3];

    for (int i = 0; i < 3; i++)
        assert_int_equal(
            pthread_create(&threads[i], NULL, sweep_ticks, &nodes[i]), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);

    for (int i = 0; i < 3; i++)
        assert_int_equal(nodes[i].failed, 0);
    for (int tick = 0; tick < SWEEP_TICKS; tick++)
        assert_int_equal(nodes[0].ran[tick] + nodes[1].ran[tick] +
                             nodes[2].ran[tick],
                         1);
    assert_int_equal(audit_count(f->store, NULL, "sweep"), SWEEP_TICKS);
}

/* ---- wake-ups and connections ---- */

/* Waits up to 5 s for a wake-up on store; returns how many arrived. */
static int wait_for_wakeup(struct store *store)
{
    for (int round = 0; round < 50; round++) {
        struct pollfd pfd = {.fd = store_wake_fd(store), .events = POLLIN};
        int count = store_consume_wakeups(store);

        if (count > 0)
            return count;
        assert_true(pfd.fd >= 0);
        poll(&pfd, 1, 100);
    }
    return 0;
}

static void wakeup_after_submit(void **state)
{
    struct fixture *f = *state;
    struct store *other = NULL;

    if (f->store->ops->wake_fd == NULL) {
        /* A back end without wake-ups reports none. */
        assert_int_equal(store_wake_fd(f->store), -1);
        assert_int_equal(store_consume_wakeups(f->store), 0);
        return;
    }
    assert_true(store_wake_fd(f->store) >= 0);
    store_consume_wakeups(f->store);

    open_url(f->url, &other);
    submit_simple(other, "c1", one_alpha, 1, NOW);
    assert_true(wait_for_wakeup(f->store) >= 1);
    assert_int_equal(store_consume_wakeups(f->store), 0);

    /* A failure that schedules a retry wakes the others too. */
    struct entry e = claim_one(other, "node-b", NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_RETRYING, OUTCOME_TRANSIENT, NOW);
    c.retry_count = 1;
    c.due_at = NOW + MINUTE;
    assert_int_equal(complete(other, &c), 1);
    assert_true(wait_for_wakeup(f->store) >= 1);
    store_close(other);
}

static void reconnect_after_disconnect(void **state)
{
    struct fixture *f = *state;
    struct status_counts counts;
    char sql[256];

    if (f->schemas[0][0] == '\0')
        skip(); /* only a server connection can break */

    submit_simple(f->store, "c1", one_alpha, 1, NOW);
    assert_true(store_wake_fd(f->store) >= 0);
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             " WHERE application_name = '%s'",
             f->schemas[0]);
    pg_admin(f->base_url, sql);

    /* The next call reconnects and works; the listener owes a wake-up
     * for what it may have missed. */
    check_ok(f->store, f->store->ops->count_entries(f->store, NULL, &counts));
    assert_int_equal(counts.by_status[ENTRY_PENDING], 1);
    assert_true(store_consume_wakeups(f->store) >= 1);
    assert_true(store_wake_fd(f->store) >= 0);

    struct entry e = claim_one(f->store, "node-a", NOW);
    assert_string_equal(e.content_id, "c1");
}

struct migrator {
    const char *url;
    int result;
};

static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    struct store *store = NULL;
    char err[STORE_ERR_MAX];

    m->result = store_open(m->url, &store, err, sizeof err);
    if (m->result == STORE_OK)
        m->result = store_migrate(store);
    store_close(store);
    return NULL;
}

static void migrate_concurrently(void **state)
{
    struct fixture *f = *state;
    char url[1280];
    struct migrator migrators[3];
    pthread_t threads[3];
    struct store *store = NULL;

    fresh_database(f, 1, url, sizeof url);
    for (int i = 0; i < 3; i++) {
        migrators[i] = (struct migrator){.url = url, .result = -99};
        assert_int_equal(
            pthread_create(&threads[i], NULL, migrate_thread, &migrators[i]),
            0);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(migrators[i].result, STORE_OK);

    open_url(url, &store);
    submit_simple(store, "c1", two, 2, NOW);
    struct entry_list list = claim(store, "node-a", NOW, 10);
    assert_int_equal(list.count, 2);
    entry_list_free(&list);
    store_close(store);
}

/* Runs one statement in the database of `url`, outside the store. */
static void run_raw(const char *url, const char *sql)
{
    sqlite3 *db = NULL;

    if (is_postgres(url)) {
        pg_admin(url, sql);
        return;
    }
    if (sqlite3_open(url + strlen("sqlite:"), &db) != SQLITE_OK)
        fail_msg("open %s: %s", url, sqlite3_errmsg(db));
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("\"%s\": %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

/*
 * A database with another application's tables and no schema_migrations
 * table is rejected, and migrate adds none of pubq's tables to it.
 */
static void migrate_rejects_foreign_database(void **state)
{
    struct fixture *f = *state;
    struct status_counts counts;
    struct store *store = NULL;
    char err[STORE_ERR_MAX];
    char url[1280];

    fresh_database(f, 1, url, sizeof url);
    run_raw(url, "CREATE TABLE customers (id integer PRIMARY KEY, "
                 "name text)");

    if (store_open(url, &store, err, sizeof err) != STORE_OK)
        fail_msg("store_open: %s", err);
    assert_int_equal(store_migrate(store), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(store), "is not a pubq"));
    assert_non_null(strstr(store_errmsg(store), "no schema_migrations table"));
    assert_non_null(strstr(store_errmsg(store), "empty database"));
    assert_int_not_equal(store->ops->count_entries(store, NULL, &counts),
                         STORE_OK);
    assert_int_equal(store_migrate(store), STORE_INVALID);
    store_close(store);

    /* A schema_migrations table of another tool does not make it ours. */
    run_raw(url, "CREATE TABLE schema_migrations (version text)");
    if (store_open(url, &store, err, sizeof err) != STORE_OK)
        fail_msg("store_open: %s", err);
    assert_int_equal(store_migrate(store), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(store), "of another tool"));
    store_close(store);
}

/* ---- concurrency ---- */

#define RACE_ENTRIES 200

struct racer {
    const char *url;
    const char *node;
    const char *const *platforms;
    size_t platform_count;
    int64_t ids[RACE_ENTRIES];
    size_t count;
    int failed;
};

static void *race_claims(void *arg)
{
    struct racer *r = arg;
    struct store *store = NULL;
    char err[STORE_ERR_MAX];

    if (store_open(r->url, &store, err, sizeof err) != STORE_OK) {
        r->failed = 1;
        return NULL;
    }
    /* Bounded: each round claims at least one entry or stops. */
    for (int round = 0; round < 2 * RACE_ENTRIES; round++) {
        struct entry_list list = {0};

        if (store->ops->claim_due(store, r->node, r->platforms,
                                  r->platform_count, NOW, LEASE, 3,
                                  &list) != STORE_OK) {
            r->failed = 1;
            break;
        }
        for (size_t i = 0; i < list.count && r->count < RACE_ENTRIES; i++)
            r->ids[r->count++] = list.items[i].id;
        size_t got = list.count;
        entry_list_free(&list);
        if (got == 0)
            break;
    }
    store_close(store);
    return NULL;
}

static void concurrent_claims_disjoint(void **state)
{
    struct fixture *f = *state;
    const char *platforms[RACE_ENTRIES / 10];
    char names[RACE_ENTRIES / 10][16];
    struct racer racers[2] = {
        {.url = f->url, .node = "node-a", .platforms = platforms,
         .platform_count = RACE_ENTRIES / 10},
        {.url = f->url, .node = "node-b", .platforms = platforms,
         .platform_count = RACE_ENTRIES / 10}};
    pthread_t threads[2];

    for (size_t i = 0; i < RACE_ENTRIES / 10; i++) {
        snprintf(names[i], sizeof names[i], "p%zu", i);
        platforms[i] = names[i];
    }
    for (int job = 0; job < 10; job++) {
        char id[16];

        snprintf(id, sizeof id, "race-%d", job);
        submit_simple(f->store, id, platforms, RACE_ENTRIES / 10, NOW);
    }

    for (int i = 0; i < 2; i++)
        assert_int_equal(
            pthread_create(&threads[i], NULL, race_claims, &racers[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);

    assert_int_equal(racers[0].failed, 0);
    assert_int_equal(racers[1].failed, 0);
    assert_int_equal(racers[0].count + racers[1].count, RACE_ENTRIES);
    for (size_t i = 0; i < racers[0].count; i++) {
        for (size_t j = 0; j < racers[1].count; j++)
            assert_int_not_equal(racers[0].ids[i], racers[1].ids[j]);
    }
}

/*
 * Claiming ahead. A back end without it leaves both operations NULL,
 * and these tests are skipped there.
 */
static void need_claim_ahead(struct store *store)
{
    if (store->ops->claim_ahead == NULL || store->ops->start_claimed == NULL)
        skip();
}

/* Claims ahead, at NOW, every entry due up to `until`. */
static struct entry_list claim_ahead(struct store *store, const char *node,
                                     int64_t until, size_t max)
{
    struct entry_list list = {0};

    check_ok(store, store->ops->claim_ahead(store, node, every_platform, 3,
                                            NOW, until, LEASE, max, &list));
    return list;
}

/* Claims the one entry of content item c1 ahead and returns it. */
static struct entry claim_ahead_one(struct store *store, const char *node)
{
    struct entry_list list = claim_ahead(store, node, NOW + HOUR, 10);
    struct entry entry;

    assert_int_equal(list.count, 1);
    entry = list.items[0];
    entry_list_free(&list);
    return entry;
}

/* Calls start_claimed for one claimed entry; returns claim.started. */
static int start_one(struct store *store, const struct entry *e, int64_t at)
{
    struct claim_start claim = {
        .entry_id = e->id,
        .attempt_number = e->attempt_count,
        .due_at = e->due_at,
        .started = -1,
    };

    check_ok(store,
             store->ops->start_claimed(store, e->lease_node, &claim, 1, at));
    return claim.started;
}

static size_t attempt_count_of(struct store *store, int64_t entry_id)
{
    struct attempt_list attempts = {0};
    size_t count;

    check_ok(store, store->ops->list_attempts(store, entry_id, &attempts));
    count = attempts.count;
    attempt_list_free(&attempts);
    return count;
}

/* The entry is waiting again as it was before the claim ahead. */
static void assert_put_back(struct store *store, int64_t id, int64_t due)
{
    struct entry e = get_entry(store, id);

    assert_int_equal(e.status, ENTRY_PENDING);
    assert_int_equal(e.due_at, due);
    assert_int_equal(e.retry_count, 0);
    assert_int_equal(e.attempt_count, 0);
    assert_string_equal(e.lease_node, "");
    assert_int_equal(attempt_count_of(store, id), 0);
}

/* A renewal before the due time keeps the lease that runs from it. */
static void renew_keeps_ahead_lease(void **state)
{
    struct store *store = store_of(state);
    size_t renewed = 0;

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry ahead = claim_ahead_one(store, "node-a");
    struct lease_renewal lease = {ahead.id, ahead.attempt_count, 0};

    assert_int_equal(get_entry(store, ahead.id).lease_expires_at,
                     NOW + MINUTE + LEASE);
    check_ok(store, store->ops->renew_leases(store, "node-a", &lease, 1,
                                             NOW + 10, LEASE, &renewed));
    assert_int_equal(renewed, 1);
    assert_int_equal(lease.renewed, 1);
    assert_int_equal(get_entry(store, ahead.id).lease_expires_at,
                     NOW + MINUTE + LEASE);
}

static void claim_ahead_takes_window(void **state)
{
    struct store *store = store_of(state);

    need_claim_ahead(store);
    submit_simple(store, "due-now", one_alpha, 1, NOW);
    submit_simple(store, "soon", one_alpha, 1, NOW + MINUTE);
    submit_simple(store, "later", one_alpha, 1, NOW + HOUR);

    struct entry_list list = claim_ahead(store, "node-a", NOW + MINUTE, 10);
    assert_int_equal(list.count, 1);
    struct entry soon = list.items[0];
    entry_list_free(&list);

    assert_string_equal(soon.content_id, "soon");
    assert_int_equal(soon.status, ENTRY_PUBLISHING);
    assert_int_equal(soon.attempt_count, 1);
    assert_int_equal(soon.lease_expires_at, NOW + MINUTE + LEASE);

    struct attempt_list attempts = {0};
    check_ok(store, store->ops->list_attempts(store, soon.id, &attempts));
    assert_int_equal(attempts.count, 1);
    assert_int_equal(attempts.items[0].started_at, 0);
    attempt_list_free(&attempts);

    /* The entry due now is claim_due's; the later one is outside. */
    struct entry now = claim_one(store, "node-a", NOW);
    assert_string_equal(now.content_id, "due-now");
}

static void start_claimed_marks_attempt(void **state)
{
    struct store *store = store_of(state);

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");

    assert_int_equal(start_one(store, &e, NOW + MINUTE + 3), 1);
    /* A second start of the same claim finds it started. */
    assert_int_equal(start_one(store, &e, NOW + MINUTE + 4), 0);

    struct attempt_list attempts = {0};
    check_ok(store, store->ops->list_attempts(store, e.id, &attempts));
    assert_int_equal(attempts.count, 1);
    assert_int_equal(attempts.items[0].started_at, NOW + MINUTE + 3);
    attempt_list_free(&attempts);

    /* Started, it is publishing: a cancel no longer applies. */
    assert_int_equal(store->ops->cancel_entry(store, e.id, NOW + MINUTE + 5,
                                              "test"),
                     STORE_INVALID);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_PUBLISHING);
}

static void start_claimed_other_node(void **state)
{
    struct store *store = store_of(state);
    struct claim_start claim;

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");

    claim = (struct claim_start){e.id, e.attempt_count, e.due_at, -1};
    check_ok(store, store->ops->start_claimed(store, "node-b", &claim, 1,
                                              NOW + MINUTE));
    assert_int_equal(claim.started, 0);
    claim = (struct claim_start){e.id, e.attempt_count, e.due_at + 1, -1};
    check_ok(store, store->ops->start_claimed(store, "node-a", &claim, 1,
                                              NOW + MINUTE));
    assert_int_equal(claim.started, 0);
}

static void start_claimed_paused_put_back(void **state)
{
    struct store *store = store_of(state);

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");

    check_ok(store, store->ops->pause_platform(store, "alpha", NOW + HOUR,
                                               "maintenance", NOW + 1,
                                               "test"));
    assert_int_equal(start_one(store, &e, NOW + MINUTE), 0);
    assert_put_back(store, e.id, NOW + MINUTE);
}

static void cancel_wins_over_claim_ahead(void **state)
{
    struct store *store = store_of(state);

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");

    check_ok(store, store->ops->cancel_entry(store, e.id, NOW + 1, "test"));
    assert_int_equal(start_one(store, &e, NOW + MINUTE), 0);

    struct entry after = get_entry(store, e.id);
    assert_int_equal(after.status, ENTRY_CANCELLED);
    assert_int_equal(after.attempt_count, 0);
    assert_int_equal(attempt_count_of(store, e.id), 0);
    assert_int_equal(audit_count(store, "c1", "cancel"), 1);
}

static void cancel_content_takes_claim_back(void **state)
{
    struct store *store = store_of(state);
    struct content_change_result result = {99, 99};

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");

    check_ok(store, cancel_content(store, "c1", NULL, 0, NULL, &result));
    assert_int_equal(result.changed, 1);
    assert_int_equal(start_one(store, &e, NOW + MINUTE), 0);
    assert_int_equal(get_entry(store, e.id).status, ENTRY_CANCELLED);
    assert_int_equal(attempt_count_of(store, e.id), 0);
}

static void reschedule_takes_claim_back(void **state)
{
    struct store *store = store_of(state);
    struct content_change_result result = {99, 99};

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");

    check_ok(store, reschedule_content(store, "c1", NOW + HOUR, NULL,
                                       &result));
    assert_int_equal(result.changed, 1);
    assert_int_equal(start_one(store, &e, NOW + MINUTE), 0);
    assert_put_back(store, e.id, NOW + HOUR);

    /* Claimed ahead again for its new time, it starts then. */
    struct entry_list list = claim_ahead(store, "node-a", NOW + HOUR, 10);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.items[0].due_at, NOW + HOUR);
    assert_int_equal(start_one(store, &list.items[0], NOW + HOUR), 1);
    entry_list_free(&list);
}

static void recover_unstarted_claim(void **state)
{
    struct store *store = store_of(state);
    size_t recovered = 99;

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");

    /* The lease runs from the due time. */
    check_ok(store, store->ops->recover_leases(store, NOW + LEASE + 1,
                                               &recovered));
    assert_int_equal(recovered, 0);
    check_ok(store, store->ops->recover_leases(store, NOW + MINUTE + LEASE + 1,
                                               &recovered));
    assert_int_equal(recovered, 1);
    assert_put_back(store, e.id, NOW + MINUTE);
    assert_int_equal(audit_count(store, "c1", "lease_recovered"), 1);
    assert_int_equal(start_one(store, &e, NOW + MINUTE + LEASE + 2), 0);

    struct entry again = claim_one(store, "node-b", NOW + MINUTE + LEASE + 2);
    assert_int_equal(again.id, e.id);
    assert_int_equal(again.attempt_count, 1);
    assert_int_equal(again.retry_count, 0);
}

static void recover_started_claim_unknown(void **state)
{
    struct store *store = store_of(state);
    size_t recovered = 99;

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");
    assert_int_equal(start_one(store, &e, NOW + MINUTE), 1);

    check_ok(store, store->ops->recover_leases(store, NOW + MINUTE + LEASE + 1,
                                               &recovered));
    assert_int_equal(recovered, 1);

    struct entry after = get_entry(store, e.id);
    assert_int_equal(after.status, ENTRY_RETRYING);
    assert_int_equal(after.retry_count, 1);

    struct attempt_list attempts = {0};
    check_ok(store, store->ops->list_attempts(store, e.id, &attempts));
    assert_int_equal(attempts.count, 1);
    assert_int_equal(attempts.items[0].outcome, OUTCOME_UNKNOWN);
    attempt_list_free(&attempts);
}

static void release_unstarted_claim(void **state)
{
    struct store *store = store_of(state);
    size_t released = 99;

    need_claim_ahead(store);
    submit_simple(store, "c1", one_alpha, 1, NOW + MINUTE);
    struct entry e = claim_ahead_one(store, "node-a");

    check_ok(store,
             store->ops->release_leases(store, "node-a", NOW + 10, &released));
    assert_int_equal(released, 1);
    assert_put_back(store, e.id, NOW + MINUTE);
    assert_int_equal(audit_count(store, "c1", "lease_released"), 1);
}

static void complete_sets_started_at(void **state)
{
    struct store *store = store_of(state);

    submit_simple(store, "c1", one_alpha, 1, NOW);
    struct entry e = claim_one(store, "node-a", NOW);
    struct attempt_completion c =
        completion(&e, ENTRY_PUBLISHED, OUTCOME_SUCCESS, NOW + 500);

    c.started_at = NOW + 7;
    assert_int_equal(complete(store, &c), 1);

    struct attempt_list attempts = {0};
    check_ok(store, store->ops->list_attempts(store, e.id, &attempts));
    assert_int_equal(attempts.count, 1);
    assert_int_equal(attempts.items[0].started_at, NOW + 7);
    attempt_list_free(&attempts);
}

/*
 * A start and a cancel of the same claims race on two connections. Each
 * entry ends either started or cancelled, never both.
 */
#define START_RACE_ENTRIES 100

struct start_racer {
    const char *url;
    struct claim_start *claims; /* the starter's; NULL for the canceller */
    size_t count;
    int cancel_results[START_RACE_ENTRIES];
    int failed;
};

static void *race_start(void *arg)
{
    struct start_racer *r = arg;
    struct store *store = NULL;
    char err[STORE_ERR_MAX];

    if (store_open(r->url, &store, err, sizeof err) != STORE_OK) {
        r->failed = 1;
        return NULL;
    }
    /* Small batches, so that starts and cancels interleave. */
    for (size_t i = 0; i < r->count; i += 5) {
        size_t batch = r->count - i < 5 ? r->count - i : 5;

        if (store->ops->start_claimed(store, "node-a", r->claims + i, batch,
                                      NOW + MINUTE) != STORE_OK)
            r->failed = 1;
    }
    store_close(store);
    return NULL;
}

static void *race_cancel(void *arg)
{
    struct start_racer *r = arg;
    struct store *store = NULL;
    char err[STORE_ERR_MAX];

    if (store_open(r->url, &store, err, sizeof err) != STORE_OK) {
        r->failed = 1;
        return NULL;
    }
    for (size_t i = r->count; i > 0; i--)
        r->cancel_results[i - 1] = store->ops->cancel_entry(
            store, r->claims[i - 1].entry_id, NOW + 1, "test");
    store_close(store);
    return NULL;
}

static void start_and_cancel_race(void **state)
{
    struct fixture *f = *state;
    struct store *store = f->store;
    struct claim_start claims[START_RACE_ENTRIES];
    struct start_racer starter = {.url = f->url, .claims = claims};
    struct start_racer canceller = {.url = f->url, .claims = claims};
    pthread_t threads[2];

    need_claim_ahead(store);
    for (int i = 0; i < START_RACE_ENTRIES; i++) {
        char id[16];

        snprintf(id, sizeof id, "race-%d", i);
        submit_simple(store, id, one_alpha, 1, NOW + MINUTE);
    }
    struct entry_list list =
        claim_ahead(store, "node-a", NOW + MINUTE, START_RACE_ENTRIES);
    assert_int_equal(list.count, START_RACE_ENTRIES);
    for (size_t i = 0; i < list.count; i++)
        claims[i] = (struct claim_start){list.items[i].id,
                                         list.items[i].attempt_count,
                                         list.items[i].due_at, 0};
    entry_list_free(&list);
    starter.count = canceller.count = START_RACE_ENTRIES;

    assert_int_equal(pthread_create(&threads[0], NULL, race_start, &starter),
                     0);
    assert_int_equal(
        pthread_create(&threads[1], NULL, race_cancel, &canceller), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(starter.failed, 0);
    assert_int_equal(canceller.failed, 0);

    for (size_t i = 0; i < START_RACE_ENTRIES; i++) {
        struct entry e = get_entry(store, claims[i].entry_id);
        int cancelled = canceller.cancel_results[i] == STORE_OK;

        assert_int_not_equal(claims[i].started, cancelled);
        assert_int_equal(e.status,
                         cancelled ? ENTRY_CANCELLED : ENTRY_PUBLISHING);
        assert_int_equal(attempt_count_of(store, e.id), cancelled ? 0 : 1);
    }
}

#define STORE_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(submit_creates_entries),
        STORE_TEST(submit_writes_accepted_audit),
        STORE_TEST(submit_batch_all_or_nothing),
        STORE_TEST(submit_rejects_bad_requests),
        STORE_TEST(submit_duplicate_event),
        STORE_TEST(submit_duplicate_in_batch),
        STORE_TEST(submit_first_entry_id),
        STORE_TEST(submit_duplicates_in_large_batch),
        STORE_TEST(submit_groups_apart),
        STORE_TEST(submit_groups_store_failure),
        STORE_TEST(submit_groups_invalid_utf8),
        STORE_TEST(submit_keeps_special_text),
        STORE_TEST(submit_batch_mixed_duplicates),
        STORE_TEST(submit_batch_same_content_id),
        STORE_TEST(get_job_after_claim),
        STORE_TEST(submit_platform_max_retries),
        STORE_TEST(submit_past_is_due_now),
        STORE_TEST(get_missing_rows),
        STORE_TEST(list_filters),
        STORE_TEST(list_pages_with_cursor),
        STORE_TEST(list_changes_since),
        STORE_TEST(attempt_stats_totals),
        STORE_TEST(count_by_status),
        STORE_TEST(claim_due_oldest_first),
        STORE_TEST(claim_opens_attempt_each),
        STORE_TEST(claim_orders_by_due),
        STORE_TEST(claim_skips_paused),
        STORE_TEST(next_due_at_earliest),
        STORE_TEST(claim_skips_other_platforms),
        STORE_TEST(next_due_at_ignores_other_platforms),
        STORE_TEST(nodes_split_by_platform),
        STORE_TEST(complete_published),
        STORE_TEST(complete_retrying),
        STORE_TEST(complete_retry_success),
        STORE_TEST(complete_failed_exhausted),
        STORE_TEST(complete_held_unknown),
        STORE_TEST(complete_loses_race),
        STORE_TEST(complete_mixed_batch),
        STORE_TEST(complete_batch_lease_lost),
        STORE_TEST(complete_batch_duplicate_results),
        STORE_TEST(complete_batch_several_jobs),
        STORE_TEST(publish_record_text),
        STORE_TEST(complete_rejects_illegal_target),
        STORE_TEST(complete_pauses_platform),
        STORE_TEST(complete_and_claim_one_round),
        STORE_TEST(complete_and_claim_returns_stored),
        STORE_TEST(complete_and_claim_one_part),
        STORE_TEST(complete_and_claim_lost_race),
        STORE_TEST(complete_and_claim_all_or_nothing),
        STORE_TEST(complete_and_claim_database_failure),
        STORE_TEST(publish_audit_partial),
        STORE_TEST(publish_audit_failed),
        STORE_TEST(publish_audit_once_per_job),
        STORE_TEST(recover_expired_leases),
        STORE_TEST(release_leases_of_node),
        STORE_TEST(renew_leases_of_node),
        STORE_TEST(renew_keeps_ahead_lease),
        STORE_TEST(sweep_requeues_failed),
        STORE_TEST(sweep_recovers_leases),
        STORE_TEST(retry_entry_legal_and_illegal),
        STORE_TEST(cancel_entry_legal_and_illegal),
        STORE_TEST(mark_published_legal_and_illegal),
        STORE_TEST(cancel_content_by_platform),
        STORE_TEST(cancel_content_spares_publishing),
        STORE_TEST(reschedule_content_moves_due),
        STORE_TEST(content_change_dedupes_event),
        STORE_TEST(content_change_unknown_event),
        STORE_TEST(pause_and_resume),
        STORE_TEST(platform_data_roundtrip),
        STORE_TEST(audit_filters),
        STORE_TEST(migrate_twice_is_noop),
        STORE_TEST(open_postgres_hides_password),
        STORE_TEST(sweep_tick_runs_once),
        STORE_TEST(sweep_tick_one_node),
        STORE_TEST(wakeup_after_submit),
        STORE_TEST(reconnect_after_disconnect),
        STORE_TEST(migrate_concurrently),
        STORE_TEST(migrate_rejects_foreign_database),
        STORE_TEST(concurrent_claims_disjoint),
        STORE_TEST(claim_ahead_takes_window),
        STORE_TEST(start_claimed_marks_attempt),
        STORE_TEST(start_claimed_other_node),
        STORE_TEST(start_claimed_paused_put_back),
        STORE_TEST(cancel_wins_over_claim_ahead),
        STORE_TEST(cancel_content_takes_claim_back),
        STORE_TEST(reschedule_takes_claim_back),
        STORE_TEST(recover_unstarted_claim),
        STORE_TEST(recover_started_claim_unknown),
        STORE_TEST(release_unstarted_claim),
        STORE_TEST(complete_sets_started_at),
        STORE_TEST(start_and_cancel_race),
    };

    return cmocka_run_group_tests_name("store_contract", tests, NULL, NULL);
}
