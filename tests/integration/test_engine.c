/*
 * The engine end to end. It runs in a thread of this process over a real
 * SQLite file and publishes through the webhook adapter to the fake
 * platform server on 127.0.0.1. The tests read the results through a
 * second store connection, as the CLI would.
 *
 * Timing checks assert lower bounds only (a retry never starts before
 * its delay), plus a sanity ceiling of 20 times the expected delay. An
 * upper bound tighter than that would fail on a loaded machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>

#include <sqlite3.h>

#include "config/config.h"
#include "engine/engine.h"
#include "fake_platform.h"
#include "store/store.h"
#include "test_support.h"

#define BASE_DELAY_MS 200
#define SANITY_FACTOR 20
#define MAX_PLATFORMS 4
#define POLL_MS 20
#define SETTLE_TIMEOUT_MS 20000
#define CONTENT "{\"text\":\"Hello from the engine test\"}"

/* Options that differ between tests. Zero fields take the defaults. */
struct setup {
    const char *platforms[MAX_PLATFORMS]; /* default: one named "hook" */
    const char *on_unknown;               /* default: hold */
    const char *timeout;                  /* webhook timeout; default: 5s */
    const char *grace;                    /* shutdown_grace; default: 5s */
    const char *lease;                    /* default: 30s */
    const char *claim_ahead;              /* default: the product's, 2s */
};

struct harness {
    struct fake_platform *fake;
    const char *dir;
    struct pubq_config config;
    int config_loaded;
    struct store *store; /* the engine's connection */
    struct store *probe; /* the test thread's connection */
    struct engine *engine;
    pthread_t thread;
    int running;
    int run_result;
};

static int64_t wall_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec delay = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&delay, NULL);
}

static void write_config(struct harness *h, const struct setup *setup)
{
    char text[8192];
    size_t used;
    const char *first = setup->platforms[0] != NULL ? setup->platforms[0]
                                                    : "hook";

    used = (size_t)snprintf(
        text, sizeof text,
        "[database]\nurl = %s/pubq.db\nnode_id = engine-test\n"
        "lease = %s\n\n"
        "[retry]\nbase_delay = %dms\nmax_delay = 10s\nmax_retries = 3\n\n"
        "[engine]\nmax_in_flight = 64\nshutdown_grace = %s\n%s%s\n\n"
        /* Once a year, so that no cron sweep runs during a test. */
        "[sweeper]\ncron = 0 0 1 1 *\nzone = UTC\n\n",
        h->dir, setup->lease ? setup->lease : "30s", BASE_DELAY_MS,
        setup->grace ? setup->grace : "5s",
        setup->claim_ahead ? "claim_ahead = " : "",
        setup->claim_ahead ? setup->claim_ahead : "");

    for (size_t i = 0; i < MAX_PLATFORMS; i++) {
        const char *name = i == 0 ? first : setup->platforms[i];

        if (name == NULL)
            break;
        assert_true(used < sizeof text);
        used += (size_t)snprintf(
            text + used, sizeof text - used,
            "[platform %s]\ntype = webhook\nurl = %s/%s\ntimeout = %s\n"
            "on_unknown = %s\nconcurrency = 1\nmax_lateness = 0\n\n",
            name, fake_platform_url(h->fake), name,
            setup->timeout ? setup->timeout : "5s",
            setup->on_unknown ? setup->on_unknown : "hold");
    }
    assert_true(used < sizeof text);
    test_write_file(test_path(h->dir, "pubq.conf"), text);
}

static void *engine_thread(void *arg)
{
    struct harness *h = arg;

    h->run_result = engine_run(h->engine);
    return NULL;
}

static void open_store(struct harness *h, struct store **store)
{
    char err[STORE_ERR_MAX] = "";

    assert_int_equal(store_open(h->config.database, store, err, sizeof err),
                     STORE_OK);
    assert_int_equal(store_migrate(*store), STORE_OK);
}

/* Starts the engine thread. The fake server was started by setup(). */
static void engine_start(struct harness *h)
{
    char err[ENGINE_ERR_MAX] = "";

    h->engine = engine_new(&h->config, h->store, err, sizeof err);
    if (h->engine == NULL)
        fail_msg("engine_new failed: %s", err);
    if (engine_start_writer(h->engine, h->config.database, err,
                            sizeof err) != 0)
        fail_msg("engine_start_writer failed: %s", err);
    assert_int_equal(pthread_create(&h->thread, NULL, engine_thread, h), 0);
    h->running = 1;
}

/* Writes the configuration, opens both connections, starts the engine. */
static void harness_start(struct harness *h, const struct setup *setup)
{
    char err[CONFIG_ERR_MAX] = "";

    h->dir = test_tmpdir();
    write_config(h, setup);
    if (config_load(test_path(h->dir, "pubq.conf"), &h->config, err,
                    sizeof err) != 0)
        fail_msg("config_load failed: %s", err);
    h->config_loaded = 1;
    open_store(h, &h->store);
    open_store(h, &h->probe);
    engine_start(h);
}

/*
 * Stops the engine and waits for its thread. Whatever the test did, no
 * entry may be left publishing under a lease once engine_run returned.
 */
static void engine_halt(struct harness *h)
{
    struct entry_filter filter = {
        .has_status = 1,
        .status = ENTRY_PUBLISHING,
    };
    struct entry_list list = {0};

    if (!h->running)
        return;
    engine_stop(h->engine);
    assert_int_equal(pthread_join(h->thread, NULL), 0);
    h->running = 0;
    engine_free(h->engine);
    h->engine = NULL;
    assert_int_equal(h->run_result, 0);

    assert_int_equal(h->probe->ops->list_entries(h->probe, &filter, &list),
                     STORE_OK);
    assert_int_equal(list.count, 0);
    entry_list_free(&list);
}

static int setup(void **state)
{
    struct harness *h = calloc(1, sizeof *h);

    if (h == NULL)
        return -1;
    h->fake = fake_platform_start();
    if (h->fake == NULL) {
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    struct harness *h = *state;

    if (h->running) {
        engine_stop(h->engine);
        pthread_join(h->thread, NULL);
        h->running = 0;
    }
    engine_free(h->engine);
    store_close(h->store);
    store_close(h->probe);
    if (h->config_loaded)
        config_free(&h->config);
    fake_platform_stop(h->fake);
    free(h);
    return 0;
}

/* Submits one job and wakes the engine. Returns the job id. */
static int64_t submit_job(struct harness *h, const char *content_id,
                          const char *const *platforms, size_t count,
                          int64_t scheduled_at)
{
    struct job_request request = {
        .content_id = content_id,
        .content_json = CONTENT,
        .scheduled_at = scheduled_at,
        .platforms = platforms,
        .platform_count = count,
        .max_retries = 3,
        .source = "test",
    };
    struct submit_result result = {0};

    assert_int_equal(h->probe->ops->submit_jobs(h->probe, &request, 1,
                                                wall_ms(), &result),
                     STORE_OK);
    if (h->running)
        engine_wake(h->engine);
    return result.job_id;
}

/* Submits a job on one platform and returns its entry. */
static struct entry submit_one(struct harness *h, const char *content_id,
                               const char *platform, int64_t scheduled_at)
{
    const char *platforms[] = {platform};
    int64_t job_id = submit_job(h, content_id, platforms, 1, scheduled_at);
    struct entry_filter filter = {.job_id = job_id};
    struct entry_list list = {0};
    struct entry entry;

    assert_int_equal(h->probe->ops->list_entries(h->probe, &filter, &list),
                     STORE_OK);
    assert_int_equal(list.count, 1);
    entry = list.items[0];
    entry_list_free(&list);
    return entry;
}

static struct entry entry_of_job(struct harness *h, int64_t job_id,
                                 const char *platform)
{
    struct entry_filter filter = {.job_id = job_id, .platform = platform};
    struct entry_list list = {0};
    struct entry entry;

    assert_int_equal(h->probe->ops->list_entries(h->probe, &filter, &list),
                     STORE_OK);
    assert_int_equal(list.count, 1);
    entry = list.items[0];
    entry_list_free(&list);
    return entry;
}

static struct entry read_entry(struct harness *h, int64_t id)
{
    struct entry entry;

    assert_int_equal(h->probe->ops->get_entry(h->probe, id, &entry),
                     STORE_OK);
    return entry;
}

/*
 * Polls the entry until it has `status` and returns it. After timeout_ms
 * the test fails with the status and error the entry has then.
 */
static struct entry wait_status(struct harness *h, int64_t id,
                                enum entry_status status, int timeout_ms)
{
    int64_t deadline = wall_ms() + timeout_ms;
    struct entry entry = read_entry(h, id);

    while (entry.status != status && wall_ms() < deadline) {
        sleep_ms(POLL_MS);
        entry = read_entry(h, id);
    }
    if (entry.status != status)
        fail_msg("entry %lld is %s after %d ms, expected %s (error: %s)",
                 (long long)id, entry_status_name(entry.status), timeout_ms,
                 entry_status_name(status), entry.last_error);
    return entry;
}

/* Returns the arrival time of request `index` to `path`, or -1. */
static int64_t arrival_to(struct harness *h, const char *path, size_t index)
{
    size_t seen = 0;

    for (size_t i = 0; i < fake_platform_request_count(h->fake); i++) {
        const struct fake_request *request =
            fake_platform_request(h->fake, i);

        if (strcmp(request->path, path) != 0)
            continue;
        if (seen++ == index)
            return request->received_at_ms;
    }
    return -1;
}

/* Fills *attempts with the entry's attempts. The caller frees them. */
static void read_attempts(struct harness *h, int64_t id,
                          struct attempt_list *attempts)
{
    assert_int_equal(h->probe->ops->list_attempts(h->probe, id, attempts),
                     STORE_OK);
}

/* Returns the status of the one "publish" audit record of a job. */
static void publish_audit_status(struct harness *h, const char *content_id,
                                 char *status, size_t len)
{
    struct audit_filter filter = {.job_id = content_id, .action = "publish"};
    struct audit_list list = {0};

    assert_int_equal(h->probe->ops->list_audit(h->probe, &filter, &list),
                     STORE_OK);
    assert_int_equal(list.count, 1);
    snprintf(status, len, "%s", list.items[0].status);
    audit_list_free(&list);
}

static size_t count_audit_status(struct harness *h, const char *content_id,
                                 const char *action, const char *status)
{
    struct audit_filter filter = {
        .job_id = content_id, .action = action, .limit = 1000};
    struct audit_list list = {0};
    size_t count = 0;

    assert_int_equal(h->probe->ops->list_audit(h->probe, &filter, &list),
                     STORE_OK);
    for (size_t i = 0; i < list.count; i++)
        count += strcmp(list.items[i].status, status) == 0;
    audit_list_free(&list);
    return count;
}

static size_t count_audit(struct harness *h, const char *action)
{
    struct audit_filter filter = {.action = action, .limit = 1000};
    struct audit_list list = {0};
    size_t count;

    assert_int_equal(h->probe->ops->list_audit(h->probe, &filter, &list),
                     STORE_OK);
    count = list.count;
    audit_list_free(&list);
    return count;
}

static void push(struct harness *h, const char *path, int status,
                 const char *headers)
{
    const struct fake_response response = {
        .status = status,
        .headers = headers,
        .body = "{}",
    };

    assert_int_equal(fake_platform_push_response(h->fake, path, &response),
                     0);
}

static void assert_gap(int64_t earlier, int64_t later, int64_t expected)
{
    int64_t gap = later - earlier;

    if (gap < expected || gap > expected * SANITY_FACTOR)
        fail_msg("gap between requests %lld ms, expected at least %lld "
                 "and at most %lld",
                 (long long)gap, (long long)expected,
                 (long long)expected * SANITY_FACTOR);
}

static void test_retry_then_success(void **state)
{
    struct harness *h = *state;
    struct attempt_list attempts = {0};
    struct entry entry;
    char status[STORE_NAME_MAX];

    harness_start(h, &(struct setup){0});
    push(h, "/hook", 503, NULL);
    push(h, "/hook", 503, NULL);
    push(h, "/hook", 200, NULL);

    entry = submit_one(h, "retry-then-success", "hook", 0);
    entry = wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);

    assert_int_equal(fake_platform_requests_to(h->fake, "/hook"), 3);
    assert_int_equal(entry.attempt_count, 3);
    assert_int_equal(entry.retry_count, 2);
    assert_gap(arrival_to(h, "/hook", 0), arrival_to(h, "/hook", 1),
               BASE_DELAY_MS);
    assert_gap(arrival_to(h, "/hook", 1), arrival_to(h, "/hook", 2),
               2 * BASE_DELAY_MS);

    read_attempts(h, entry.id, &attempts);
    assert_int_equal(attempts.count, 3);
    assert_int_equal(attempts.items[0].outcome, OUTCOME_TRANSIENT);
    assert_int_equal(attempts.items[0].http_status, 503);
    assert_int_equal(attempts.items[1].outcome, OUTCOME_TRANSIENT);
    assert_int_equal(attempts.items[2].outcome, OUTCOME_SUCCESS);
    attempt_list_free(&attempts);

    engine_halt(h);

    /* The publish record sums up the first round, in which nothing was
     * published yet; the retry that succeeded has a record of its own. */
    publish_audit_status(h, "retry-then-success", status, sizeof status);
    assert_string_equal(status, "failed");
    assert_int_equal(count_audit_status(h, "retry-then-success", "retry",
                                        "success"),
                     1);
}

static void test_retries_exhausted(void **state)
{
    struct harness *h = *state;
    struct attempt_list attempts = {0};
    struct entry entry;

    harness_start(h, &(struct setup){0});
    assert_int_equal(fake_platform_set_default(
                         h->fake, &(struct fake_response){.status = 503}),
                     0);

    entry = submit_one(h, "exhausted", "hook", 0);
    entry = wait_status(h, entry.id, ENTRY_FAILED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_int_equal(entry.retry_count, 3);
    assert_int_equal(entry.attempt_count, 4);
    assert_string_equal(entry.fail_reason, "retries exhausted");
    assert_int_equal(fake_platform_requests_to(h->fake, "/hook"), 4);
    read_attempts(h, entry.id, &attempts);
    assert_int_equal(attempts.count, 4);
    for (size_t i = 0; i < attempts.count; i++)
        assert_int_equal(attempts.items[i].http_status, 503);
    attempt_list_free(&attempts);
}

static void test_unauthorized_pauses(void **state)
{
    struct harness *h = *state;
    struct platform_state_list states = {0};
    struct entry entry;
    struct entry waiting;
    int found = 0;

    harness_start(h, &(struct setup){0});
    push(h, "/hook", 401, NULL);

    entry = submit_one(h, "unauthorized", "hook", 0);
    entry = wait_status(h, entry.id, ENTRY_FAILED, SETTLE_TIMEOUT_MS);
    assert_int_equal(entry.attempt_count, 1);
    assert_string_equal(entry.fail_reason, "permanent error");

    assert_int_equal(h->probe->ops->list_platform_states(h->probe, &states),
                     STORE_OK);
    for (size_t i = 0; i < states.count; i++) {
        if (strcmp(states.items[i].platform, "hook") != 0)
            continue;
        found = 1;
        assert_true(states.items[i].paused_until == INT64_MAX);
        assert_non_null(strstr(states.items[i].pause_reason, "401"));
    }
    platform_state_list_free(&states);
    assert_true(found);

    /* The pause holds back the platform's other entries. */
    waiting = submit_one(h, "unauthorized-next", "hook", 0);
    assert_int_equal(fake_platform_wait_requests(h->fake, 2, 1000), 1);
    engine_halt(h);
    assert_int_equal(read_entry(h, waiting.id).status, ENTRY_PENDING);
}

/* Every request after the 429 arrived at least the hint after it. */
static void assert_none_before(struct harness *h, int64_t not_before)
{
    for (size_t i = 1; i < fake_platform_request_count(h->fake); i++) {
        const struct fake_request *request =
            fake_platform_request(h->fake, i);

        if (request->received_at_ms < not_before)
            fail_msg("request %zu arrived %lld ms before the rate limit "
                     "ended",
                     i, (long long)(not_before - request->received_at_ms));
    }
}

static void test_rate_limit_waits(void **state)
{
    struct harness *h = *state;
    struct entry limited;
    struct entry queued;
    struct entry later;
    int64_t limited_at;

    harness_start(h, &(struct setup){0});
    push(h, "/hook", 429, "Retry-After: 2\n");

    /* Submitted together: `queued` waits behind the platform's one slot. */
    limited = submit_one(h, "rate-limited", "hook", 0);
    queued = submit_one(h, "rate-queued", "hook", 0);
    assert_int_equal(fake_platform_wait_requests(h->fake, 1, 10000), 1);
    limited_at = fake_platform_request(h->fake, 0)->received_at_ms;

    /* Submitted while the platform is paused in the store. */
    sleep_ms(300);
    later = submit_one(h, "rate-later", "hook", 0);

    limited = wait_status(h, limited.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    queued = wait_status(h, queued.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    later = wait_status(h, later.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_int_equal(fake_platform_request_count(h->fake), 4);
    assert_none_before(h, limited_at + 2000);
    assert_true(arrival_to(h, "/hook", 1) < limited_at + 2000 * SANITY_FACTOR);
    /* Waiting for a rate limit does not use up a retry. */
    assert_int_equal(limited.retry_count, 0);
    assert_int_equal(queued.retry_count, 0);
    assert_int_equal(later.retry_count, 0);
}

/* A 503 with Retry-After pauses like a 429, and the pause names it. */
static void test_unavailable_hint_pauses(void **state)
{
    struct harness *h = *state;
    struct platform_state_list states = {0};
    int found = 0;

    harness_start(h, &(struct setup){0});
    push(h, "/hook", 503, "Retry-After: 30\n");

    submit_one(h, "unavailable", "hook", 0);
    assert_int_equal(fake_platform_wait_requests(h->fake, 1, 10000), 1);

    for (int tries = 0; tries < 100 && !found; tries++) {
        sleep_ms(50);
        assert_int_equal(
            h->probe->ops->list_platform_states(h->probe, &states),
            STORE_OK);
        for (size_t i = 0; i < states.count; i++) {
            if (strcmp(states.items[i].platform, "hook") != 0 ||
                states.items[i].paused_until == 0)
                continue;
            found = 1;
            assert_non_null(
                strstr(states.items[i].pause_reason, "(HTTP 503)"));
            assert_null(strstr(states.items[i].pause_reason, "429"));
        }
        platform_state_list_free(&states);
    }
    engine_halt(h);

    assert_true(found);
    assert_int_equal(fake_platform_request_count(h->fake), 1);
}

static void test_partial_job(void **state)
{
    struct harness *h = *state;
    const char *platforms[] = {"hook", "other"};
    struct sweep_result swept = {0};
    struct entry hook;
    struct entry other;
    char status[STORE_NAME_MAX];
    int64_t job_id;

    harness_start(h, &(struct setup){.platforms = {"hook", "other"}});
    push(h, "/other", 400, NULL);
    /* After the sweep re-queues it, one retry and then success. */
    push(h, "/other", 503, NULL);
    push(h, "/other", 200, NULL);

    job_id = submit_job(h, "partial", platforms, 2, 0);
    hook = entry_of_job(h, job_id, "hook");
    other = entry_of_job(h, job_id, "other");
    hook = wait_status(h, hook.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    other = wait_status(h, other.id, ENTRY_FAILED, SETTLE_TIMEOUT_MS);
    assert_string_equal(other.fail_reason, "permanent error");
    publish_audit_status(h, "partial", status, sizeof status);
    assert_string_equal(status, "partial");

    assert_int_equal(h->probe->ops->sweep(h->probe, wall_ms(), 0, "test",
                                          &swept),
                     STORE_OK);
    assert_int_equal(swept.requeued, 1);
    engine_wake(h->engine);
    other = wait_status(h, other.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_int_equal(fake_platform_requests_to(h->fake, "/other"), 3);
    assert_int_equal(fake_platform_requests_to(h->fake, "/hook"), 1);
    hook = read_entry(h, hook.id);
    assert_int_equal(hook.status, ENTRY_PUBLISHED);
    assert_int_equal(hook.attempt_count, 1);
}

/* A first response that arrives after the adapter gave up, then 200. */
static void push_slow_then_ok(struct harness *h)
{
    assert_int_equal(fake_platform_push_response(
                         h->fake, "/hook",
                         &(struct fake_response){.status = 200,
                                                 .body = "{\"id\":\"p1\"}",
                                                 .delay_ms = 1500}),
                     0);
    push(h, "/hook", 200, NULL);
}

/* Both requests carried the entry's own key, and no other key came. */
static void assert_one_key(struct harness *h, const struct entry *entry,
                           size_t requests)
{
    assert_int_equal(fake_platform_request_count(h->fake), requests);
    assert_int_equal(
        fake_platform_requests_with_key(h->fake, entry->idempotency_key),
        requests);
    assert_int_equal(fake_platform_distinct_keys(h->fake), 1);
}

static void test_timeout_then_retry(void **state)
{
    struct harness *h = *state;
    struct attempt_list attempts = {0};
    struct entry entry;

    harness_start(h, &(struct setup){.timeout = "500ms",
                                     .on_unknown = "retry"});
    push_slow_then_ok(h);

    entry = submit_one(h, "timeout-retry", "hook", 0);
    entry = wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_one_key(h, &entry, 2);
    read_attempts(h, entry.id, &attempts);
    assert_int_equal(attempts.count, 2);
    assert_int_equal(attempts.items[0].outcome, OUTCOME_UNKNOWN);
    assert_int_equal(attempts.items[1].outcome, OUTCOME_SUCCESS);
    attempt_list_free(&attempts);
}

static void test_timeout_then_hold(void **state)
{
    struct harness *h = *state;
    struct sweep_result swept = {0};
    struct entry entry;

    harness_start(h, &(struct setup){.timeout = "500ms"});
    push_slow_then_ok(h);

    entry = submit_one(h, "timeout-hold", "hook", 0);
    entry = wait_status(h, entry.id, ENTRY_FAILED, SETTLE_TIMEOUT_MS);
    assert_string_equal(entry.fail_reason, "outcome unknown");

    /* The sweeper leaves an unknown outcome to the operator. */
    assert_int_equal(h->probe->ops->sweep(h->probe, wall_ms(), 0, "test",
                                          &swept),
                     STORE_OK);
    assert_int_equal(swept.requeued, 0);
    engine_halt(h);
    assert_one_key(h, &entry, 1);
    assert_int_equal(read_entry(h, entry.id).status, ENTRY_FAILED);
}

static void test_dropped_then_retry(void **state)
{
    struct harness *h = *state;
    struct attempt_list attempts = {0};
    struct entry entry;

    harness_start(h, &(struct setup){.on_unknown = "retry"});
    assert_int_equal(fake_platform_push_response(
                         h->fake, "/hook", &(struct fake_response){.drop = 1}),
                     0);
    push(h, "/hook", 200, NULL);

    entry = submit_one(h, "dropped-retry", "hook", 0);
    entry = wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_one_key(h, &entry, 2);
    read_attempts(h, entry.id, &attempts);
    assert_int_equal(attempts.count, 2);
    assert_int_equal(attempts.items[0].outcome, OUTCOME_UNKNOWN);
    attempt_list_free(&attempts);
}

/* Fails entry i on platform s<i> with retry_count i (3: exhausted). */
static void push_failures(struct harness *h)
{
    push(h, "/s0", 400, NULL);
    push(h, "/s1", 503, NULL);
    push(h, "/s1", 400, NULL);
    push(h, "/s2", 503, NULL);
    push(h, "/s2", 503, NULL);
    push(h, "/s2", 400, NULL);
    for (int i = 0; i < 4; i++)
        push(h, "/s3", 503, NULL);
}

/* Runs one sweep of the cron tick `tick`, as the engine's sweeper does. */
static struct sweep_result sweep_tick(struct harness *h, int64_t tick)
{
    struct sweep_result result = {0};

    assert_int_equal(h->probe->ops->sweep(h->probe, wall_ms(), tick,
                                          "sweeper", &result),
                     STORE_OK);
    return result;
}

static void test_sweeper_requeue(void **state)
{
    struct harness *h = *state;
    static const char *const names[] = {"s0", "s1", "s2", "s3"};
    struct sweep_result swept;
    char err[ENGINE_ERR_MAX] = "";
    struct entry entries[4];
    int64_t tick = wall_ms() / 3600000 * 3600000;

    harness_start(h, &(struct setup){.platforms = {"s0", "s1", "s2", "s3"}});
    push_failures(h);
    for (size_t i = 0; i < 4; i++) {
        char id[32];

        snprintf(id, sizeof id, "sweep-%zu", i);
        entries[i] = submit_one(h, id, names[i], 0);
    }
    for (size_t i = 0; i < 4; i++) {
        entries[i] = wait_status(h, entries[i].id, ENTRY_FAILED,
                                 SETTLE_TIMEOUT_MS);
        assert_int_equal(entries[i].retry_count, i);
    }
    /* Stopped, so that the re-queued entries stay pending to be read. */
    engine_halt(h);

    swept = sweep_tick(h, tick);
    assert_int_equal(swept.requeued, 3);
    assert_int_equal(swept.skipped, 0);
    for (size_t i = 0; i < 3; i++) {
        struct entry entry = read_entry(h, entries[i].id);

        assert_int_equal(entry.status, ENTRY_PENDING);
        assert_int_equal(entry.retry_count, i + 1);
    }
    assert_int_equal(read_entry(h, entries[3].id).status, ENTRY_FAILED);
    assert_int_equal(read_entry(h, entries[3].id).retry_count, 3);

    /* The re-queued entries fail again within the same tick. */
    for (size_t i = 0; i < 3; i++) {
        char path[8];

        snprintf(path, sizeof path, "/%s", names[i]);
        push(h, path, 400, NULL);
    }
    engine_start(h);
    for (size_t i = 0; i < 3; i++)
        wait_status(h, entries[i].id, ENTRY_FAILED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    swept = sweep_tick(h, tick);
    assert_int_equal(swept.requeued, 0);
    assert_int_equal(swept.skipped, 1);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(read_entry(h, entries[i].id).status, ENTRY_FAILED);

    /* The next tick re-queues the two that still have a retry left. */
    swept = sweep_tick(h, tick + 3600000);
    assert_int_equal(swept.requeued, 2);

    /* A sweep by hand always runs: nothing is left to re-queue. */
    assert_int_equal(engine_sweep_once(h->probe, &swept, err, sizeof err), 0);
    assert_int_equal(swept.requeued, 0);
    assert_int_equal(count_audit(h, "sweep"), 3);
}

static void test_scheduled_start(void **state)
{
    struct harness *h = *state;
    struct entry entry;
    int64_t arrived;

    harness_start(h, &(struct setup){0});
    entry = submit_one(h, "scheduled", "hook", wall_ms() + 2000);

    assert_int_equal(fake_platform_wait_requests(h->fake, 1, 12000), 1);
    arrived = fake_platform_request(h->fake, 0)->received_at_ms;
    assert_true(arrived >= entry.due_at);
    assert_true(arrived < entry.due_at + 2000 * SANITY_FACTOR);
    wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);
}

static void test_cancel_scheduled(void **state)
{
    struct harness *h = *state;
    struct entry entry;
    int64_t wait;

    harness_start(h, &(struct setup){0});
    entry = submit_one(h, "cancelled", "hook", wall_ms() + 1500);
    assert_int_equal(h->probe->ops->cancel_entry(h->probe, entry.id,
                                                 wall_ms(), "test"),
                     STORE_OK);
    engine_wake(h->engine);

    wait = entry.due_at + 1500 - wall_ms();
    assert_int_equal(fake_platform_wait_requests(h->fake, 1, (int)wait), 0);
    engine_halt(h);
    assert_int_equal(read_entry(h, entry.id).status, ENTRY_CANCELLED);
    assert_int_equal(fake_platform_request_count(h->fake), 0);
}

/* Waits until the engine holds the entry claimed ahead, unstarted. */
static struct entry wait_claimed_ahead(struct harness *h, int64_t id)
{
    struct entry entry = wait_status(h, id, ENTRY_PUBLISHING,
                                     SETTLE_TIMEOUT_MS);

    assert_true(wall_ms() < entry.due_at);
    return entry;
}

/* Milliseconds from now until `at`, at least 0. */
static int ms_until(int64_t at)
{
    int64_t wait = at - wall_ms();

    return wait > 0 ? (int)wait : 0;
}

static void test_claimed_ahead_starts_due(void **state)
{
    struct harness *h = *state;
    struct attempt_list attempts = {0};
    struct entry entry;
    int64_t arrived;

    harness_start(h, &(struct setup){.claim_ahead = "30s"});
    entry = submit_one(h, "ahead-on-time", "hook", wall_ms() + 4000);
    entry = wait_claimed_ahead(h, entry.id);

    assert_int_equal(fake_platform_wait_requests(h->fake, 1, 20000), 1);
    arrived = fake_platform_request(h->fake, 0)->received_at_ms;
    assert_true(arrived >= entry.due_at);
    entry = wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    read_attempts(h, entry.id, &attempts);
    assert_int_equal(attempts.count, 1);
    assert_true(attempts.items[0].started_at >= entry.due_at);
    assert_true(attempts.items[0].started_at <= arrived);
    attempt_list_free(&attempts);
}

static void test_cancel_claimed_ahead(void **state)
{
    struct harness *h = *state;
    struct attempt_list attempts = {0};
    struct entry entry;

    harness_start(h, &(struct setup){.claim_ahead = "30s"});
    entry = submit_one(h, "ahead-cancel", "hook", wall_ms() + 5000);
    entry = wait_claimed_ahead(h, entry.id);
    assert_int_equal(h->probe->ops->cancel_entry(h->probe, entry.id,
                                                 wall_ms(), "test"),
                     STORE_OK);

    assert_int_equal(fake_platform_wait_requests(
                         h->fake, 1, ms_until(entry.due_at + 1500)),
                     0);
    engine_halt(h);
    assert_int_equal(read_entry(h, entry.id).status, ENTRY_CANCELLED);
    assert_int_equal(fake_platform_request_count(h->fake), 0);
    read_attempts(h, entry.id, &attempts);
    assert_int_equal(attempts.count, 0);
    attempt_list_free(&attempts);
}

/* Asserts that the entry was published by one attempt started at or
 * after its due time. */
static void assert_started_due(struct harness *h, int64_t id)
{
    struct attempt_list attempts = {0};
    struct entry entry = read_entry(h, id);

    assert_int_equal(entry.status, ENTRY_PUBLISHED);
    read_attempts(h, id, &attempts);
    assert_int_equal(attempts.count, 1);
    assert_true(attempts.items[0].started_at >= entry.due_at);
    attempt_list_free(&attempts);
}

/*
 * Two entries due at once and one due 400 ms later, all claimed ahead,
 * each on a platform of its own since a platform's concurrency of 1
 * lets it claim one at a time. One of the first two is cancelled 100 ms
 * before its due time, after the engine listed their claims for the
 * start.
 */
static void test_cancel_listed_claim(void **state)
{
    struct harness *h = *state;
    int64_t due;
    struct entry kept;
    struct entry cancelled;
    struct entry later;

    harness_start(h, &(struct setup){
                         .platforms = {"hook", "hook2", "hook3"},
                         .claim_ahead = "30s"});
    due = wall_ms() + 3000;
    kept = submit_one(h, "listed-kept", "hook", due);
    cancelled = submit_one(h, "listed-cancelled", "hook2", due);
    later = submit_one(h, "listed-later", "hook3", due + 400);
    wait_claimed_ahead(h, kept.id);
    wait_claimed_ahead(h, cancelled.id);
    wait_claimed_ahead(h, later.id);

    sleep_ms(ms_until(due - 100));
    assert_int_equal(h->probe->ops->cancel_entry(h->probe, cancelled.id,
                                                 wall_ms(), "test"),
                     STORE_OK);

    assert_int_equal(fake_platform_wait_requests(
                         h->fake, 2, ms_until(due + 400 + 10000)),
                     2);
    wait_status(h, kept.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    wait_status(h, later.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    assert_int_equal(fake_platform_wait_requests(
                         h->fake, 3, ms_until(due + 400 + 1500)),
                     2);
    engine_halt(h);
    assert_started_due(h, kept.id);
    assert_started_due(h, later.id);
    assert_int_equal(read_entry(h, cancelled.id).status, ENTRY_CANCELLED);
}

static void test_reschedule_claimed_ahead(void **state)
{
    struct harness *h = *state;
    struct content_change_result result = {0};
    struct content_change_request change = {
        .content_id = "ahead-moved",
        .agent = "test",
    };
    struct entry entry;
    int64_t arrived;

    harness_start(h, &(struct setup){.claim_ahead = "30s"});
    entry = submit_one(h, "ahead-moved", "hook", wall_ms() + 5000);
    entry = wait_claimed_ahead(h, entry.id);
    change.new_due = entry.due_at + 2000;
    assert_int_equal(h->probe->ops->reschedule_content(h->probe, &change,
                                                       wall_ms(), &result),
                     STORE_OK);
    assert_int_equal(result.changed, 1);
    engine_wake(h->engine);

    assert_int_equal(fake_platform_wait_requests(h->fake, 1, 30000), 1);
    arrived = fake_platform_request(h->fake, 0)->received_at_ms;
    assert_true(arrived >= change.new_due);
    entry = wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);
    assert_int_equal(fake_platform_request_count(h->fake), 1);
    assert_int_equal(entry.attempt_count, 1);
    assert_int_equal(entry.retry_count, 0);
}

static void test_stop_releases_claimed_ahead(void **state)
{
    struct harness *h = *state;
    struct attempt_list attempts = {0};
    struct entry entry;
    struct entry after;

    harness_start(h, &(struct setup){.claim_ahead = "1m"});
    entry = submit_one(h, "ahead-stopped", "hook", wall_ms() + 50000);
    wait_claimed_ahead(h, entry.id);
    engine_halt(h);

    after = read_entry(h, entry.id);
    assert_int_equal(after.status, ENTRY_PENDING);
    assert_int_equal(after.due_at, entry.due_at);
    assert_int_equal(after.attempt_count, 0);
    assert_int_equal(after.retry_count, 0);
    read_attempts(h, entry.id, &attempts);
    assert_int_equal(attempts.count, 0);
    attempt_list_free(&attempts);
    assert_int_equal(count_audit(h, "lease_released"), 1);
}

static void push_slow(struct harness *h, int delay_ms)
{
    assert_int_equal(fake_platform_push_response(
                         h->fake, "/hook",
                         &(struct fake_response){.status = 200,
                                                 .body = "{\"id\":\"p1\"}",
                                                 .delay_ms = delay_ms}),
                     0);
}

static void test_shutdown_finishes(void **state)
{
    struct harness *h = *state;
    struct entry entry;

    harness_start(h, &(struct setup){.grace = "10s"});
    push_slow(h, 1000);

    entry = submit_one(h, "shutdown-finish", "hook", 0);
    assert_int_equal(fake_platform_wait_requests(h->fake, 1, 10000), 1);
    engine_halt(h);

    entry = read_entry(h, entry.id);
    assert_int_equal(entry.status, ENTRY_PUBLISHED);
    assert_string_equal(entry.post_id, "p1");
    assert_string_equal(entry.lease_node, "");
}

/* Stops the engine during a request slower than the grace period. */
static struct entry stop_during_slow_request(struct harness *h,
                                             const char *content_id)
{
    struct attempt_list attempts = {0};
    struct entry entry;

    push_slow(h, 5000);
    entry = submit_one(h, content_id, "hook", 0);
    assert_int_equal(fake_platform_wait_requests(h->fake, 1, 10000), 1);
    engine_halt(h);

    entry = read_entry(h, entry.id);
    assert_string_equal(entry.lease_node, "");
    read_attempts(h, entry.id, &attempts);
    assert_int_equal(attempts.count, 1);
    assert_int_equal(attempts.items[0].outcome, OUTCOME_UNKNOWN);
    attempt_list_free(&attempts);
    return entry;
}

static void test_shutdown_unknown_retry(void **state)
{
    struct harness *h = *state;
    struct entry entry;

    harness_start(h, &(struct setup){.grace = "200ms",
                                     .on_unknown = "retry"});
    entry = stop_during_slow_request(h, "shutdown-retry");
    assert_int_equal(entry.status, ENTRY_RETRYING);
    assert_int_equal(entry.retry_count, 1);
}

static void test_shutdown_unknown_hold(void **state)
{
    struct harness *h = *state;
    struct entry entry;

    harness_start(h, &(struct setup){.grace = "200ms"});
    entry = stop_during_slow_request(h, "shutdown-hold");
    assert_int_equal(entry.status, ENTRY_FAILED);
    assert_string_equal(entry.fail_reason, "outcome unknown");
}

/*
 * Entries claimed together wait in the engine for the platform's one
 * slot. Their leases must not run out while they wait or while their
 * request runs, or the engine's own lease recovery would re-queue them
 * and post them a second time.
 */
static void test_lease_outlives_queue(void **state)
{
    struct harness *h = *state;
    struct entry entries[3];

    harness_start(h, &(struct setup){.lease = "1s"});
    assert_int_equal(fake_platform_set_default(
                         h->fake, &(struct fake_response){.status = 200,
                                                          .body = "{}",
                                                          .delay_ms = 700}),
                     0);
    for (size_t i = 0; i < 3; i++) {
        char id[32];

        snprintf(id, sizeof id, "lease-%zu", i);
        entries[i] = submit_one(h, id, "hook", 0);
    }
    for (size_t i = 0; i < 3; i++)
        entries[i] = wait_status(h, entries[i].id, ENTRY_PUBLISHED,
                                 SETTLE_TIMEOUT_MS);
    engine_halt(h);

    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fake_platform_requests_with_key(
                             h->fake, entries[i].idempotency_key),
                         1);
        assert_int_equal(entries[i].retry_count, 0);
        assert_int_equal(entries[i].attempt_count, 1);
    }
    assert_int_equal(count_audit(h, "lease_recovered"), 0);
}

/*
 * An attempt that runs three times as long as the lease keeps its lease
 * through renewal: the engine's own lease recovery, which runs every
 * lease, must not re-queue it and post it a second time.
 */
static void test_lease_renewed_long_attempt(void **state)
{
    struct harness *h = *state;
    struct entry entry;

    harness_start(h, &(struct setup){.lease = "1s", .timeout = "10s"});
    assert_int_equal(fake_platform_set_default(
                         h->fake, &(struct fake_response){.status = 200,
                                                          .body = "{}",
                                                          .delay_ms = 3000}),
                     0);
    entry = submit_one(h, "long-attempt", "hook", 0);
    entry = wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_int_equal(
        fake_platform_requests_with_key(h->fake, entry.idempotency_key), 1);
    assert_int_equal(entry.attempt_count, 1);
    assert_int_equal(entry.retry_count, 0);
    assert_int_equal(count_audit(h, "lease_recovered"), 0);
}

/*
 * Another connection holds SQLite's write lock past the busy timeout
 * (5 s) while an attempt ends, so the store writer's write of its
 * result fails. The result is kept and stored once the lock is gone,
 * without a second request.
 */
static void test_locked_store_result_kept(void **state)
{
    struct harness *h = *state;
    struct entry entry;
    sqlite3 *locker = NULL;
    int64_t deadline;

    harness_start(h, &(struct setup){0});
    assert_int_equal(fake_platform_set_default(
                         h->fake, &(struct fake_response){.status = 200,
                                                          .body = "{}",
                                                          .delay_ms = 1000}),
                     0);
    entry = submit_one(h, "locked-store", "hook", 0);
    deadline = wall_ms() + SETTLE_TIMEOUT_MS;
    while (arrival_to(h, "/hook", 0) < 0 && wall_ms() < deadline)
        sleep_ms(POLL_MS);
    assert_true(arrival_to(h, "/hook", 0) >= 0);

    assert_int_equal(sqlite3_open(h->config.database, &locker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(locker, "BEGIN EXCLUSIVE", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sleep_ms(7000);
    assert_int_equal(read_entry(h, entry.id).status, ENTRY_PUBLISHING);
    assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(locker);

    entry = wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_int_equal(
        fake_platform_requests_with_key(h->fake, entry.idempotency_key), 1);
    assert_int_equal(entry.attempt_count, 1);
    assert_int_equal(entry.retry_count, 0);
}

/*
 * A resume through the store (the API and the CLI resume that way) ends
 * a pause this node learned from a 429 at once: the next entry is
 * posted long before the 40 s the platform asked for, exactly once.
 */
static void test_resume_ends_local_pause(void **state)
{
    struct harness *h = *state;
    struct entry limited;
    struct entry next;

    harness_start(h, &(struct setup){0});
    push(h, "/hook", 429, "Retry-After: 40\n");
    limited = submit_one(h, "paused-first", "hook", 0);
    limited = wait_status(h, limited.id, ENTRY_RETRYING, SETTLE_TIMEOUT_MS);
    assert_true(limited.due_at >= wall_ms() + 30000);

    assert_int_equal(h->probe->ops->resume_platform(h->probe, "hook",
                                                    wall_ms(), "test"),
                     STORE_OK);
    next = submit_one(h, "after-resume", "hook", 0);
    next = wait_status(h, next.id, ENTRY_PUBLISHED, 10000);
    engine_halt(h);

    assert_int_equal(
        fake_platform_requests_with_key(h->fake, next.idempotency_key), 1);
    assert_int_equal(next.attempt_count, 1);
}

/*
 * Claims the entry as another node that then dies: its lease expires
 * while the attempt's outcome is unknown, so the engine recovers it.
 */
static struct entry submit_and_abandon(struct harness *h, const char *id)
{
    int64_t due = wall_ms() + 1500;
    struct entry entry = submit_one(h, id, "hook", due);
    static const char *const hook[] = {"hook"};
    struct entry_list claimed = {0};

    assert_int_equal(h->probe->ops->claim_due(h->probe, "dead-node", hook, 1,
                                              due, 1, 10, &claimed),
                     STORE_OK);
    assert_int_equal(claimed.count, 1);
    entry_list_free(&claimed);
    return entry;
}

static void test_recovered_unknown_held(void **state)
{
    struct harness *h = *state;
    struct entry entry;

    harness_start(h, &(struct setup){.lease = "1s", .claim_ahead = "0s"});
    entry = submit_and_abandon(h, "abandoned-hold");
    entry = wait_status(h, entry.id, ENTRY_FAILED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_string_equal(entry.fail_reason, "outcome unknown");
    assert_int_equal(fake_platform_request_count(h->fake), 0);
}

static void test_recovered_unknown_retried(void **state)
{
    struct harness *h = *state;
    struct entry entry;

    harness_start(h, &(struct setup){
                         .lease = "1s", .on_unknown = "retry",
                         .claim_ahead = "0s"});
    entry = submit_and_abandon(h, "abandoned-retry");
    entry = wait_status(h, entry.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);
    engine_halt(h);

    assert_int_equal(fake_platform_requests_with_key(h->fake,
                                                     entry.idempotency_key),
                     1);
}

/*
 * A job for a platform this node lacks, as during a rolling deploy that
 * adds it: the node publishes the entry it can and leaves the other one
 * pending and untouched for a node that serves its platform.
 */
static void test_unserved_platform_left(void **state)
{
    struct harness *h = *state;
    const char *platforms[] = {"hook", "missing"};
    struct attempt_list attempts = {0};
    struct entry hook;
    struct entry missing;
    int64_t job_id;

    harness_start(h, &(struct setup){0});
    push(h, "/hook", 200, NULL);
    job_id = submit_job(h, "two-nodes", platforms, 2, 0);
    hook = entry_of_job(h, job_id, "hook");
    missing = entry_of_job(h, job_id, "missing");
    wait_status(h, hook.id, ENTRY_PUBLISHED, SETTLE_TIMEOUT_MS);

    /* More loop turns, in which a claim of any platform would show. */
    engine_wake(h->engine);
    sleep_ms(300);
    engine_halt(h);

    missing = read_entry(h, missing.id);
    assert_int_equal(missing.status, ENTRY_PENDING);
    assert_int_equal(missing.attempt_count, 0);
    assert_int_equal(missing.retry_count, 0);
    assert_string_equal(missing.lease_node, "");
    assert_string_equal(missing.last_error, "");
    assert_int_equal(missing.updated_at, missing.created_at);
    assert_int_equal(h->probe->ops->list_attempts(h->probe, missing.id,
                                                  &attempts),
                     STORE_OK);
    assert_int_equal(attempts.count, 0);
    attempt_list_free(&attempts);
    assert_int_equal(fake_platform_requests_to(h->fake, "/missing"), 0);
    assert_int_equal(fake_platform_requests_to(h->fake, "/hook"), 1);
}

#define ENGINE_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENGINE_TEST(test_retry_then_success),
        ENGINE_TEST(test_retries_exhausted),
        ENGINE_TEST(test_unauthorized_pauses),
        ENGINE_TEST(test_rate_limit_waits),
        ENGINE_TEST(test_unavailable_hint_pauses),
        ENGINE_TEST(test_partial_job),
        ENGINE_TEST(test_timeout_then_retry),
        ENGINE_TEST(test_timeout_then_hold),
        ENGINE_TEST(test_dropped_then_retry),
        ENGINE_TEST(test_sweeper_requeue),
        ENGINE_TEST(test_scheduled_start),
        ENGINE_TEST(test_cancel_scheduled),
        ENGINE_TEST(test_claimed_ahead_starts_due),
        ENGINE_TEST(test_cancel_claimed_ahead),
        ENGINE_TEST(test_cancel_listed_claim),
        ENGINE_TEST(test_reschedule_claimed_ahead),
        ENGINE_TEST(test_stop_releases_claimed_ahead),
        ENGINE_TEST(test_shutdown_finishes),
        ENGINE_TEST(test_shutdown_unknown_retry),
        ENGINE_TEST(test_shutdown_unknown_hold),
        ENGINE_TEST(test_lease_outlives_queue),
        ENGINE_TEST(test_lease_renewed_long_attempt),
        ENGINE_TEST(test_resume_ends_local_pause),
        ENGINE_TEST(test_locked_store_result_kept),
        ENGINE_TEST(test_recovered_unknown_held),
        ENGINE_TEST(test_recovered_unknown_retried),
        ENGINE_TEST(test_unserved_platform_left),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
