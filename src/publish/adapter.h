/*
 * The adapter interface: the code that knows one platform API. The
 * engine owns scheduling, the curl multi handle, retries and storage;
 * an adapter only builds requests and classifies answers, so a new
 * platform plugs in with one file and one line in adapter_registry.c.
 *
 * An attempt is a short sequence of steps. start() either finishes at
 * once (ADAPTER_DONE), hands the engine a curl easy handle to run
 * (ADAPTER_HTTP), or runs work of its own on another thread and calls
 * attempt->finish_async() when done (ADAPTER_ASYNC). When an HTTP step
 * completes, the engine calls on_response(), which again returns DONE,
 * HTTP (a further request: a session refresh, a lookup of a post that
 * may exist, a retry at a migrated chat id) or ASYNC. The engine calls
 * the adapter from one thread; only work started by ADAPTER_ASYNC may
 * run elsewhere, and it touches nothing but its own attempt.
 *
 * Adapter state lives from create() to destroy(). Secrets come from the
 * environment variables named by *_env options, are read in create(),
 * and never appear in results, errors or logs.
 */
#ifndef PUBQ_ADAPTER_H
#define PUBQ_ADAPTER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/outcome.h"
#include "store/store.h"

#define ADAPTER_ERR_MAX 512
#define ADAPTER_RECONCILE_ALWAYS INT64_MAX

enum adapter_step {
    ADAPTER_DONE,  /* attempt->result is final */
    ADAPTER_HTTP,  /* *easy is ready; the engine runs it */
    ADAPTER_ASYNC, /* the adapter calls attempt->finish_async() later */
};

/* The result of an attempt, which the engine turns into a state change. */
struct adapter_result {
    enum outcome outcome;
    int http_status;  /* 0 when there was no HTTP response */
    int rate_limited; /* the server asked us to slow down */
    int64_t hint_ms;  /* its wait hint in ms, or -1 for none */
    char error[STORE_TEXT_MAX]; /* empty on success */
    char post_id[STORE_ID_MAX];
    char post_url[STORE_URL_MAX];
    int64_t pause_ms; /* pause the platform this long; -1: until resumed */
    char pause_reason[STORE_TEXT_MAX]; /* set when pausing */
};

/* One attempt, in the form passed to the adapter. */
struct publish_attempt {
    const struct entry *entry; /* the claimed entry (attempt_count set) */
    const json_t *content;     /* the job's content object */
    int64_t now;               /* when the attempt started, ms */
    int previous_unknown;      /* the previous attempt's outcome was
                                  unknown: reconcile before posting */
    int64_t previous_started_at; /* when that attempt started, ms */
    struct adapter_result result;
    void *step_state; /* the adapter's own per-attempt data */

    /*
     * The store, set by the engine; NULL when there is none (a test, a
     * dry run). Adapters may call store->ops->get_platform_data and
     * set_platform_data on it to keep state that outlives the process,
     * such as a session or a migrated chat id, and nothing else. They
     * may call it only from start() and on_response(), which run on the
     * engine thread, never from work started by ADAPTER_ASYNC.
     */
    struct store *store;

    /* Set by the engine; thread-safe; for ADAPTER_ASYNC steps. */
    void (*finish_async)(struct publish_attempt *attempt);
    void *engine_data;
};

struct adapter_ops {
    const char *type; /* the `type` of a [platform NAME] section */

    /*
     * The options a section of this type may set besides the keys every
     * platform has, NULL-terminated. An entry ending in '*' matches
     * every key starting with the text before it ("header_*").
     */
    const char *const *options;

    /*
     * Time in ms after an attempt with an unknown outcome during which
     * the adapter can still find out whether that post exists, by a
     * lookup or because the platform deduplicates by idempotency key.
     * It is 0 when the adapter cannot, ADAPTER_RECONCILE_ALWAYS when it
     * always can. Within the window the engine retries an unknown
     * outcome and the adapter reconciles it. Otherwise the platform's
     * on_unknown option decides.
     */
    int64_t reconcile_window_ms;
    /*
     * 1 when start() only builds a request: it contacts nothing, writes
     * nothing and reads no clock, and returns ADAPTER_HTTP or, on a
     * failure, ADAPTER_DONE. The engine may then call start() while an
     * entry claimed ahead waits for its due time, and hand the request
     * to libcurl at that time.
     */
    int start_builds_only;

    /*
     * Checks the platform's options and reads its secrets. Returns 0
     * and sets *state, or -1 with a message naming the option and fix.
     */
    int (*create)(const struct platform_config *platform, void **state,
                  char *err, size_t errlen);
    void (*destroy)(void *state);

    /*
     * Checks content against the platform's limits at intake; may be
     * NULL when the platform has none. Returns 0, or -1 with a message.
     */
    int (*check_content)(const struct platform_config *platform,
                         const json_t *content, char *err, size_t errlen);

    /* Begins an attempt. */
    enum adapter_step (*start)(void *state, struct publish_attempt *attempt,
                               CURL **easy);

    /*
     * Handles the end of an HTTP step; `code` is the transfer's result.
     * Easy handles belong to the adapter (usually inside an
     * http_exchange kept in step_state): the engine removes a finished
     * handle from its multi handle before this call and never frees it.
     * For a further HTTP step, set *next (a new handle or the same one
     * set up again).
     */
    enum adapter_step (*on_response)(void *state,
                                     struct publish_attempt *attempt,
                                     CURL *easy, CURLcode code,
                                     CURL **next);

    /* Frees attempt->step_state; may be NULL when none is used. */
    void (*end)(void *state, struct publish_attempt *attempt);

    /*
     * Removes the adapter's secrets from every text of a result: a
     * server may echo a token in an error or in a reply field that
     * becomes the post id or URL. adapter_start() and
     * adapter_on_response() call it after every step; may be NULL when
     * the adapter has no secrets.
     */
    void (*redact)(void *state, struct adapter_result *result);
};

/*
 * An `end` operation for adapters whose step_state is one
 * struct http_exchange: frees it and clears step_state.
 */
void adapter_end_exchange(void *state, struct publish_attempt *attempt);

/* Returns the adapter of a platform type, or NULL when unknown. */
const struct adapter_ops *adapter_find(const char *type);

/*
 * Finds the adapter of `platform` and creates its state, as the engine
 * does at start-up. Returns 0 and sets *ops and *state, or -1 with a
 * message in err that names the platform, the configuration file's
 * line (of the unknown option, else of the section) and the fix.
 */
int adapter_create_platform(const struct platform_config *platform,
                            const char *config_path,
                            const struct adapter_ops **ops, void **state,
                            char *err, size_t errlen);

/* Returns the adapter at `index` of this build's list, or NULL past its
 * end, so callers can walk every type. */
const struct adapter_ops *adapter_at(size_t index);

/*
 * Checks that the platform's type exists and that each of its options is
 * one the type's adapter accepts (ops->options). Reads no environment
 * variable and contacts nothing, so every command can run it. Returns 0,
 * or -1 with a message in err naming the file and the line of the
 * unknown option (of the section for an unknown type).
 */
int adapter_check_option_names(const struct platform_config *platform,
                               const char *config_path, char *err,
                               size_t errlen);

/* Runs adapter_check_option_names on every platform of `config`. */
int adapter_check_all_option_names(const struct pubq_config *config,
                                   char *err, size_t errlen);

/*
 * Creates and destroys the adapter of every platform in `config`, so a
 * bad platform section fails before anything else starts. Returns 0, or
 * -1 with the first error in err.
 */
int adapter_check_platforms(const struct pubq_config *config, char *err,
                            size_t errlen);

/*
 * Begins an attempt with ops->start, then redacts attempt->result with
 * ops->redact when set. Returns what start returned. Callers that drive
 * adapters use this in place of ops->start.
 */
enum adapter_step adapter_start(const struct adapter_ops *ops, void *state,
                                struct publish_attempt *attempt, CURL **easy);

/*
 * Handles the end of an HTTP step with ops->on_response, then redacts
 * attempt->result with ops->redact when set. Returns what on_response
 * returned. Callers that drive adapters use this in place of
 * ops->on_response.
 */
enum adapter_step adapter_on_response(const struct adapter_ops *ops,
                                      void *state,
                                      struct publish_attempt *attempt,
                                      CURL *easy, CURLcode code, CURL **next);

/* Sets the result to an error with a printf-style message. */
void adapter_result_fail(struct adapter_result *result, enum outcome outcome,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
