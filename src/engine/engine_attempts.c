/*
 * The life of one attempt inside the engine: from a claimed entry to a
 * started adapter step, through its HTTP or asynchronous steps, to a
 * retry decision that waits in the `finished` list for the next batched
 * store write.
 */
#include "engine/engine_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/retry_decision.h"
#include "core/timestamp.h"
#include "util/log.h"

#include "util/banned.h"

#define REASON_EXPIRED "expired"

/* How long an entry released by release_unserved waits before a claim
 * may take it again, so that a faulty store cannot make a busy loop. */
#define UNSERVED_DELAY_MS 60000

static void push_finished(struct engine *engine, struct inflight *inflight)
{
    inflight->next = engine->finished;
    engine->finished = inflight;
    engine->finished_count++;
    engine->unstored++;
    /* Its slot is free, so a claim may find more for its platform. */
    engine->claim_events++;
}

static void fill_completion(struct inflight *inflight, const char *node)
{
    const struct adapter_result *result = &inflight->attempt.result;
    struct attempt_completion *completion = &inflight->completion;

    completion->entry_id = inflight->entry.id;
    completion->attempt_number = inflight->entry.attempt_count;
    completion->node = node;
    completion->outcome = result->outcome;
    completion->http_status = result->http_status;
    completion->ended_at = engine_wall_ms();
    completion->latency_ms =
        inflight->started ? engine_mono_ms() - inflight->start_ms : 0;
    completion->started_at = inflight->sent_at;
    completion->error = result->error[0] != '\0' ? result->error : NULL;
    completion->post_id = result->post_id[0] != '\0' ? result->post_id : NULL;
    completion->post_url =
        result->post_url[0] != '\0' ? result->post_url : NULL;
}

/* Sets the pause a result requests: the adapter's, or a rate limit's
 * (a 429, or a 503 with Retry-After) until its reset. */
static void decide_pause(struct inflight *inflight, int64_t now,
                         int64_t max_hint_ms)
{
    struct adapter_result *result = &inflight->attempt.result;
    struct attempt_completion *completion = &inflight->completion;

    if (result->pause_ms != 0 && result->pause_reason[0] != '\0') {
        completion->pause_until =
            result->pause_ms < 0 ? INT64_MAX : now + result->pause_ms;
        completion->pause_reason = result->pause_reason;
        return;
    }
    if (result->rate_limited && result->hint_ms >= 0) {
        int64_t wait =
            result->hint_ms < max_hint_ms ? result->hint_ms : max_hint_ms;

        completion->pause_until = now + wait;
        if (result->http_status > 0)
            snprintf(result->pause_reason, sizeof result->pause_reason,
                     "rate limited by the platform (HTTP %d)",
                     result->http_status);
        else
            snprintf(result->pause_reason, sizeof result->pause_reason,
                     "rate limited by the platform");
        completion->pause_reason = result->pause_reason;
    }
}

/* Sets the claim's previous_unknown and previous_started_at from the
 * attempt before this one, when that one's outcome is unknown. */
static void load_previous_attempt(struct store *store,
                                  struct engine_claim *claim)
{
    const struct entry *entry = &claim->entry;
    struct attempt_list attempts = {0};

    if (entry->attempt_count < 2)
        return;
    if (store->ops->list_attempts(store, entry->id, &attempts) != STORE_OK)
        return;
    for (size_t i = 0; i < attempts.count; i++) {
        const struct attempt *previous = &attempts.items[i];

        if (previous->number != entry->attempt_count - 1)
            continue;
        claim->previous_unknown =
            previous->outcome == OUTCOME_UNKNOWN || !previous->finished;
        claim->previous_started_at = previous->started_at;
    }
    attempt_list_free(&attempts);
}

/* 1 when the adapter can still tell whether an unknown post exists. */
static int can_reconcile(const struct platform_runtime *platform,
                         int64_t previous_started_at, int64_t now)
{
    int64_t window = platform->adapter->reconcile_window_ms;

    if (window == ADAPTER_RECONCILE_ALWAYS)
        return 1;
    return window > 0 && now - previous_started_at <= window;
}

/*
 * The on_unknown rule for an attempt: a platform that can reconcile
 * retries, because the adapter checks for the post before posting.
 */
static enum on_unknown effective_on_unknown(const struct inflight *inflight)
{
    if (can_reconcile(inflight->platform, inflight->attempt.now,
                      inflight->attempt.now))
        return ON_UNKNOWN_RETRY;
    return inflight->platform->config->on_unknown;
}

/*
 * Returns 1 when an automatic retry would post again after an unknown
 * outcome (a node that died mid-attempt) on a platform whose on_unknown
 * is hold and which cannot check for the post. A manual retry sets
 * retry_count to 0, so it goes ahead.
 */
static int must_hold_unknown(const struct inflight *inflight, int64_t now)
{
    const struct publish_attempt *attempt = &inflight->attempt;

    return attempt->previous_unknown && inflight->entry.retry_count > 0 &&
           inflight->platform->config->on_unknown == ON_UNKNOWN_HOLD &&
           !can_reconcile(inflight->platform, attempt->previous_started_at,
                          now);
}

/* Turns the adapter's result into the entry's next state. */
static void decide(struct engine *engine, struct inflight *inflight)
{
    const struct adapter_result *result = &inflight->attempt.result;
    struct attempt_completion *completion = &inflight->completion;
    struct retry_policy policy = engine->config->retry;
    struct entry_retry_state state = {
        .retry_count = inflight->entry.retry_count,
        .rate_limit_waited_ms = inflight->entry.rate_limit_waited_ms,
    };
    struct attempt_result attempt = {
        .outcome = result->outcome,
        .rate_limited = result->rate_limited,
        .hint_ms = result->hint_ms,
    };
    struct retry_decision decision;
    int64_t now = engine_wall_ms();

    policy.max_retries = inflight->entry.max_retries;
    retry_decide(&policy, &state, &attempt, effective_on_unknown(inflight),
                 drand48(), &decision);

    fill_completion(inflight, engine->node_id);
    completion->next_status = decision.next_status;
    completion->retry_count = decision.retry_count;
    completion->rate_limit_waited_ms = decision.rate_limit_waited_ms;
    completion->due_at = now + decision.delay_ms;
    completion->fail_reason = decision.reason;
    decide_pause(inflight, now, policy.max_hint_ms);
}

static void finish(struct engine *engine, struct inflight *inflight)
{
    if (inflight->started)
        inflight->platform->running--;
    decide(engine, inflight);
    push_finished(engine, inflight);
}

/* Called on an adapter's own thread: hand the attempt back to the loop. */
static void finish_async(struct publish_attempt *attempt)
{
    struct inflight *inflight = attempt->engine_data;
    struct engine *engine = inflight->engine;

    pthread_mutex_lock(&engine->async_lock);
    inflight->next = engine->async_done;
    engine->async_done = inflight;
    pthread_mutex_unlock(&engine->async_lock);
    engine_wake(engine);
}

static void handle_step(struct engine *engine, struct inflight *inflight,
                        enum adapter_step step, CURL *easy)
{
    /*
     * The attempt starts when its first request goes to libcurl. An
     * adapter without HTTP (file, command, SMTP) did its work in start(),
     * so its attempt started when start() was called.
     */
    if (inflight->sent_at == 0)
        inflight->sent_at = step == ADAPTER_DONE || step == ADAPTER_ASYNC
                                ? inflight->attempt.now
                                : engine_wall_ms();
    if (step == ADAPTER_DONE) {
        finish(engine, inflight);
        return;
    }
    if (step == ADAPTER_ASYNC)
        return;

    curl_easy_setopt(easy, CURLOPT_PRIVATE, inflight);
    if (curl_multi_add_handle(engine->multi, easy) != CURLM_OK) {
        adapter_result_fail(&inflight->attempt.result, OUTCOME_TRANSIENT,
                            "cannot start the HTTP transfer");
        finish(engine, inflight);
        return;
    }
    inflight->easy = easy;
    inflight->active_prev = NULL;
    inflight->active_next = engine->active;
    if (engine->active != NULL)
        engine->active->active_prev = inflight;
    engine->active = inflight;
}

/* Takes an attempt's HTTP step off the multi handle. */
static void detach_transfer(struct engine *engine, struct inflight *inflight)
{
    curl_multi_remove_handle(engine->multi, inflight->easy);
    inflight->easy = NULL;
    if (inflight->active_prev != NULL)
        inflight->active_prev->active_next = inflight->active_next;
    else
        engine->active = inflight->active_next;
    if (inflight->active_next != NULL)
        inflight->active_next->active_prev = inflight->active_prev;
    inflight->active_prev = inflight->active_next = NULL;
}

static void start_attempt(struct engine *engine, struct inflight *inflight)
{
    const struct adapter_ops *adapter = inflight->platform->adapter;
    CURL *easy = inflight->prepared_easy;
    enum adapter_step step = inflight->prepared_step;

    inflight->started = 1;
    inflight->start_ms = engine_mono_ms();
    inflight->platform->running++;
    inflight->attempt.now = engine_wall_ms();
    if (!inflight->prepared)
        step = adapter_start(adapter, inflight->platform->adapter_state,
                             &inflight->attempt, &easy);
    handle_step(engine, inflight, step, easy);
}

void engine_prepare_request(struct inflight *inflight)
{
    const struct platform_runtime *platform = inflight->platform;

    if (!platform->adapter->start_builds_only || inflight->content == NULL)
        return;
    inflight->attempt.now = engine_wall_ms();
    inflight->prepared_step =
        adapter_start(platform->adapter, platform->adapter_state,
                      &inflight->attempt, &inflight->prepared_easy);
    inflight->prepared = 1;
}

/* Ends an attempt before it started, with a final result of its own. */
static void finish_unstarted(struct engine *engine,
                             struct inflight *inflight,
                             enum outcome outcome, const char *reason,
                             const char *message)
{
    struct attempt_completion *completion = &inflight->completion;

    adapter_result_fail(&inflight->attempt.result, outcome, "%s", message);
    fill_completion(inflight, engine->node_id);
    completion->next_status = ENTRY_FAILED;
    completion->retry_count = inflight->entry.retry_count;
    completion->rate_limit_waited_ms = inflight->entry.rate_limit_waited_ms;
    completion->fail_reason = reason;
    push_finished(engine, inflight);
}


static json_t *load_content(struct store *store, int64_t job_id)
{
    struct job job = {0};
    json_t *content = NULL;

    if (store->ops->get_job(store, job_id, &job) == STORE_OK)
        content = json_loads(job.content_json, 0, NULL);
    job_clear(&job);
    return content;
}

void engine_load_claim(struct store *store, struct engine_claim *claim)
{
    claim->content = load_content(store, claim->entry.job_id);
    claim->previous_unknown = 0;
    claim->previous_started_at = 0;
    if (claim->content != NULL)
        load_previous_attempt(store, claim);
}

static void enqueue_waiting(struct platform_runtime *platform,
                            struct inflight *inflight)
{
    inflight->next = NULL;
    if (platform->wait_tail != NULL)
        platform->wait_tail->next = inflight;
    else
        platform->wait_head = inflight;
    platform->wait_tail = inflight;
}

static int is_expired(const struct platform_runtime *platform,
                      const struct entry *entry, int64_t now)
{
    int64_t limit = platform->config->max_lateness_ms;

    return limit > 0 && now - entry->due_at > limit;
}

/*
 * The store claims only entries of the platforms the engine passes it,
 * so an entry of a platform this node lacks means a store that broke
 * that contract. Failing the entry would lose a real post, so it goes
 * back to retrying without using a retry, due after UNSERVED_DELAY_MS,
 * for a node that serves its platform.
 */
static void release_unserved(struct engine *engine,
                             struct inflight *inflight)
{
    struct attempt_completion *completion = &inflight->completion;
    const struct entry *entry = &inflight->entry;

    log_error("engine",
              "store returned entry=%" PRId64 " of platform %s, which "
              "node %s does not serve; releasing it",
              entry->id, entry->platform, engine->node_id);
    adapter_result_fail(&inflight->attempt.result, OUTCOME_TRANSIENT,
                        "not attempted: platform \"%s\" is not configured "
                        "on node %s",
                        entry->platform, engine->node_id);
    fill_completion(inflight, engine->node_id);
    completion->next_status = ENTRY_RETRYING;
    completion->retry_count = entry->retry_count;
    completion->rate_limit_waited_ms = entry->rate_limit_waited_ms;
    completion->due_at = engine_wall_ms() + UNSERVED_DELAY_MS;
    push_finished(engine, inflight);
}

/*
 * Returns a zeroed attempt, reused from engine->spare when one is there.
 * An attempt takes about 6.6 KiB, more than glibc's per-thread cache
 * serves, so a calloc and a free each would search malloc's bins.
 */
static struct inflight *new_inflight(struct engine *engine)
{
    struct inflight *inflight = engine->spare;

    if (inflight == NULL)
        return calloc(1, sizeof *inflight);
    engine->spare = inflight->next;
    engine->spare_count--;
    memset(inflight, 0, sizeof *inflight);
    return inflight;
}

/* Keeps a freed attempt for reuse, up to max_in_flight of them. */
static void recycle_inflight(struct engine *engine, struct inflight *inflight)
{
    if (engine->spare_count >= engine->config->max_in_flight) {
        free(inflight);
        return;
    }
    inflight->next = engine->spare;
    engine->spare = inflight;
    engine->spare_count++;
}

void engine_free_spares(struct engine *engine)
{
    while (engine->spare != NULL) {
        struct inflight *next = engine->spare->next;

        free(engine->spare);
        engine->spare = next;
    }
    engine->spare_count = 0;
}

struct inflight *engine_prepare_loaded(struct engine *engine,
                                       struct engine_claim *claim)
{
    struct inflight *inflight = new_inflight(engine);

    if (inflight == NULL) {
        log_error("engine", "out of memory for entry=%" PRId64,
                  claim->entry.id);
        json_decref(claim->content);
        return NULL;
    }
    inflight->engine = engine;
    inflight->entry = claim->entry;
    inflight->attempt.entry = &inflight->entry;
    inflight->attempt.store = engine->store;
    inflight->attempt.result.hint_ms = -1;
    inflight->attempt.finish_async = finish_async;
    inflight->attempt.engine_data = inflight;
    inflight->platform = engine_platform_find(engine, claim->entry.platform);
    engine_hold_inflight(engine, inflight);

    if (inflight->platform == NULL) {
        json_decref(claim->content);
        release_unserved(engine, inflight);
        return NULL;
    }

    inflight->content = claim->content;
    inflight->attempt.content = inflight->content;
    inflight->attempt.previous_unknown = claim->previous_unknown;
    inflight->attempt.previous_started_at = claim->previous_started_at;
    return inflight;
}

struct inflight *engine_prepare_claimed(struct engine *engine,
                                        struct entry *entry)
{
    struct engine_claim claim = {.entry = *entry};

    /* An unserved platform's entry goes back without its content. */
    if (engine_platform_find(engine, entry->platform) != NULL)
        engine_load_claim(engine->store, &claim);
    return engine_prepare_loaded(engine, &claim);
}

void engine_admit(struct engine *engine, struct inflight *inflight)
{
    const struct entry *entry = &inflight->entry;
    char message[STORE_TEXT_MAX];
    char due[TIMESTAMP_MAX];

    if (is_expired(inflight->platform, entry, engine_wall_ms())) {
        timestamp_format(entry->due_at, due, sizeof due);
        snprintf(message, sizeof message,
                 "expired: due at %s, more than max_lateness late; retry "
                 "it by hand to post anyway", due);
        finish_unstarted(engine, inflight, OUTCOME_PERMANENT,
                         REASON_EXPIRED, message);
        return;
    }

    if (inflight->content == NULL) {
        finish_unstarted(engine, inflight, OUTCOME_PERMANENT,
                         "content unreadable",
                         "the job's content could not be read as JSON");
        return;
    }
    if (must_hold_unknown(inflight, engine_wall_ms())) {
        finish_unstarted(engine, inflight, OUTCOME_UNKNOWN,
                         RETRY_REASON_UNKNOWN,
                         "held: the previous attempt's outcome is unknown "
                         "and the platform cannot be checked; retry by hand "
                         "to post anyway, or mark it published");
        inflight->completion.not_attempted = 1;
        return;
    }
    enqueue_waiting(inflight->platform, inflight);
}

void engine_accept_claimed(struct engine *engine, struct entry *entry)
{
    struct inflight *inflight = engine_prepare_claimed(engine, entry);

    if (inflight != NULL)
        engine_admit(engine, inflight);
}

void engine_release_inflight(struct engine *engine, struct inflight *inflight)
{
    engine_unhold_inflight(engine, inflight);
    if (inflight->platform != NULL &&
        (inflight->started || inflight->prepared) &&
        inflight->platform->adapter->end != NULL)
        inflight->platform->adapter->end(inflight->platform->adapter_state,
                                         &inflight->attempt);
    json_decref(inflight->content);
    recycle_inflight(engine, inflight);
}

static int is_paused(const struct platform_runtime *platform, int64_t now)
{
    return platform->paused_until > now;
}

static void defer_one(struct engine *engine, struct inflight *inflight,
                      int64_t due_at, const char *reason)
{
    struct attempt_completion *completion = &inflight->completion;

    adapter_result_fail(&inflight->attempt.result, OUTCOME_TRANSIENT, "%s",
                        reason);
    fill_completion(inflight, engine->node_id);
    completion->next_status = ENTRY_RETRYING;
    completion->retry_count = inflight->entry.retry_count;
    completion->rate_limit_waited_ms = inflight->entry.rate_limit_waited_ms;
    completion->due_at = due_at;
    push_finished(engine, inflight);
}

/*
 * Ends an attempt whose lease is no longer good without starting it,
 * because another writer may own the entry and starting it could post
 * it twice. A lease that merely expired goes back as not attempted (the
 * write loses if someone took the entry meanwhile); a lost one is only
 * freed, since the store already moved on.
 */
static void skip_unusable(struct engine *engine, struct inflight *inflight,
                          int64_t now)
{
    log_warn("engine",
             "entry=%" PRId64 " platform=%s not started: its lease %s while "
             "it waited",
             inflight->entry.id, inflight->entry.platform,
             inflight->lease_lost ? "was taken" : "expired");
    if (inflight->lease_lost)
        engine_release_inflight(engine, inflight);
    else
        defer_one(engine, inflight, now,
                  "not attempted: its lease expired while it waited");
}

void engine_start_waiting(struct engine *engine)
{
    int64_t now = engine_wall_ms();

    for (size_t i = 0; i < engine->platform_count; i++) {
        struct platform_runtime *platform = &engine->platforms[i];

        while (platform->wait_head != NULL &&
               platform->running < platform->config->concurrency &&
               !is_paused(platform, now)) {
            struct inflight *inflight = platform->wait_head;

            platform->wait_head = inflight->next;
            if (platform->wait_head == NULL)
                platform->wait_tail = NULL;
            inflight->next = NULL;
            if (engine_lease_usable(inflight, now))
                start_attempt(engine, inflight);
            else
                skip_unusable(engine, inflight, now);
        }
    }
}

/*
 * Sends every entry waiting here for a slot back to retrying, due at
 * `due_at`, without using a retry: when its platform was paused (so they
 * do not hit a platform that asked us to stop) or at shutdown.
 */
static void defer_waiting(struct engine *engine,
                          struct platform_runtime *platform, int64_t due_at,
                          const char *reason)
{
    while (platform->wait_head != NULL) {
        struct inflight *inflight = platform->wait_head;

        platform->wait_head = inflight->next;
        defer_one(engine, inflight, due_at, reason);
    }
    platform->wait_tail = NULL;
}

/* At shutdown: entries claimed but never started go back without
 * using a retry, marked as not attempted, so no one mistakes them for
 * attempts whose outcome is unknown. */
void engine_drop_waiting(struct engine *engine)
{
    int64_t now = engine_wall_ms();

    for (size_t i = 0; i < engine->platform_count; i++)
        defer_waiting(engine, &engine->platforms[i], now,
                      "not attempted: the node was stopping");
}


void engine_handle_transfers(struct engine *engine)
{
    CURLMsg *message;
    int queued;

    while ((message = curl_multi_info_read(engine->multi, &queued))) {
        struct inflight *inflight = NULL;
        CURL *easy = message->easy_handle;
        CURL *next = NULL;
        enum adapter_step step;

        if (message->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&inflight);
        detach_transfer(engine, inflight);
        step = adapter_on_response(inflight->platform->adapter,
                                   inflight->platform->adapter_state,
                                   &inflight->attempt, easy,
                                   message->data.result, &next);
        handle_step(engine, inflight, step, next);
    }
}

void engine_handle_async(struct engine *engine)
{
    struct inflight *done;

    pthread_mutex_lock(&engine->async_lock);
    done = engine->async_done;
    engine->async_done = NULL;
    pthread_mutex_unlock(&engine->async_lock);

    while (done != NULL) {
        struct inflight *next = done->next;

        finish(engine, done);
        done = next;
    }
}

/*
 * Logs an entry held without a request. Its claim opened attempt
 * attempt_number but sent nothing, so the attempt whose outcome is
 * unknown is the one before it.
 */
static void log_held(const struct inflight *inflight)
{
    const struct attempt_completion *c = &inflight->completion;
    const struct entry *entry = &inflight->entry;

    log_warn("engine",
             "held entry=%" PRId64 " job=%s platform=%s: the outcome of "
             "attempt %u is unknown and the platform cannot be checked, so "
             "no request was sent; next=%s retry=%u/%u",
             entry->id, entry->content_id, entry->platform,
             c->attempt_number - 1, entry_status_name(c->next_status),
             c->retry_count, entry->max_retries);
}

static void log_result(const struct inflight *inflight, int applied)
{
    const struct attempt_completion *c = &inflight->completion;
    const struct entry *entry = &inflight->entry;

    if (!applied) {
        log_warn("engine",
                 "result dropped entry=%" PRId64 " attempt=%u: the entry "
                 "changed meanwhile (lease lost or cancelled)",
                 entry->id, c->attempt_number);
        return;
    }
    if (c->not_attempted)
        log_held(inflight);
    else
        log_at(c->outcome == OUTCOME_SUCCESS ? LOG_INFO : LOG_WARN, "engine",
               "attempt entry=%" PRId64 " job=%s platform=%s attempt=%u "
               "outcome=%s http=%d latency_ms=%" PRId64 " next=%s "
               "retry=%u/%u",
               entry->id, entry->content_id, entry->platform,
               c->attempt_number, outcome_name(c->outcome), c->http_status,
               c->latency_ms, entry_status_name(c->next_status),
               c->retry_count, entry->max_retries);
    if (c->next_status == ENTRY_RETRYING)
        log_info("engine",
                 "retry scheduled entry=%" PRId64 " platform=%s "
                 "delay_ms=%" PRId64 " reason=%s",
                 entry->id, entry->platform, c->due_at - c->ended_at,
                 c->error != NULL ? c->error : "-");
    else if (c->next_status == ENTRY_FAILED)
        log_warn("engine",
                 "entry failed entry=%" PRId64 " platform=%s reason=%s "
                 "error=%s",
                 entry->id, entry->platform,
                 c->fail_reason != NULL ? c->fail_reason : "-",
                 c->error != NULL ? c->error : "-");
}

void engine_apply_pauses(struct engine *engine, struct inflight *list)
{
    for (struct inflight *it = list; it != NULL; it = it->next) {
        /* A result stored again after a failed write paused already. */
        if (it->completion.pause_until == 0 || it->platform == NULL ||
            it->pause_applied)
            continue;
        it->pause_applied = 1;
        log_warn("engine", "platform %s paused: %s", it->entry.platform,
                 it->completion.pause_reason);
        it->platform->paused_until = it->completion.pause_until;
        defer_waiting(engine, it->platform,
                      it->completion.pause_until == INT64_MAX
                          ? engine_wall_ms()
                          : it->completion.pause_until,
                      "not attempted: the platform was paused");
    }
}

void engine_results_stored(struct engine *engine, struct inflight *list,
                           const int *applied)
{
    size_t i = 0;

    for (struct inflight *it = list; it != NULL; it = it->next)
        log_result(it, applied[i++]);
    while (list != NULL) {
        struct inflight *next = list->next;

        engine->unstored--;
        engine_release_inflight(engine, list);
        list = next;
    }
}

int engine_flush_results(struct engine *engine)
{
    struct attempt_completion *batch;
    struct inflight *list = engine->finished;
    size_t count = engine->finished_count;
    int *applied;
    size_t i = 0;

    if (count == 0 || engine_mono_ms() < engine->flush_retry_ms)
        return 0;
    batch = calloc(count, sizeof *batch);
    applied = calloc(count, sizeof *applied);
    if (batch == NULL || applied == NULL)
        goto fail;
    for (struct inflight *it = list; it != NULL; it = it->next)
        batch[i++] = it->completion;

    if (engine->store->ops->complete_attempts(engine->store, batch, count,
                                              applied) != STORE_OK) {
        log_error("engine", "storing %zu results failed, retrying in 1 s: "
                  "%s", count, store_errmsg(engine->store));
        goto fail;
    }

    engine->finished = NULL;
    engine->finished_count = 0;
    engine_apply_pauses(engine, list);
    engine_results_stored(engine, list, applied);
    free(batch);
    free(applied);
    return 0;

fail:
    engine->flush_retry_ms = engine_mono_ms() + ENGINE_FLUSH_RETRY_MS;
    free(batch);
    free(applied);
    return -1;
}

/* At the end of the grace period: transfers still running may have
 * reached the platform, so their outcome is unknown. */
void engine_abort_all(struct engine *engine)
{
    while (engine->active != NULL) {
        struct inflight *inflight = engine->active;

        detach_transfer(engine, inflight);
        adapter_result_fail(&inflight->attempt.result, OUTCOME_UNKNOWN,
                            "aborted at shutdown after the grace period; "
                            "the post may exist");
        finish(engine, inflight);
    }
}
