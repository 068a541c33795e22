/*
 * The `bluesky` adapter: posts to an atproto PDS (Bluesky's by default)
 * with com.atproto.repo.createRecord, logged in with an app password.
 *
 * Each attempt is a short chain of XRPC calls:
 *
 *   [getRecord]  only when the previous attempt's outcome was unknown
 *   [createSession | refreshSession]  only without a usable session
 *   createRecord  with a record key derived from the entry
 *   [getRecord]  when createRecord refused the key as taken
 *
 * The session is kept in memory and in the store (bluesky_session.h).
 * An expired access token is renewed with refreshSession. createSession
 * runs only when there is no session or the refresh token is rejected.
 * The record key is a TID computed from the entry, so a
 * retry after an unknown outcome finds the post it may have created.
 */
#include "publish/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_value.h"
#include "core/http_date.h"
#include "core/rate_limit_hint.h"
#include "core/timestamp.h"
#include "intake/content_limits.h"
#include "publish/adapter_reply.h"
#include "publish/atproto_tid.h"
#include "publish/bluesky_facets.h"
#include "publish/bluesky_session.h"
#include "publish/http_exchange.h"
#include "util/log.h"
#include "publish/adapter_options.h"
#include "util/banned.h"

#define BLUESKY_DEFAULT_SERVICE "https://bsky.social"
#define BLUESKY_DEFAULT_TIMEOUT_MS 15000
#define BLUESKY_MAX_TIMEOUT_MS (3600 * 1000)
#define BLUESKY_COLLECTION "app.bsky.feed.post"
#define BLUESKY_WEB "https://bsky.app/profile/"
/* app.bsky.feed.post allows at most 3 language tags in "langs". */
#define BLUESKY_MAX_LANGS 3
/* A login, a refresh, a lookup, a post and a check, with room to spare. */
#define BLUESKY_MAX_STEPS 8
#define BLUESKY_MESSAGE_MAX 200

struct bluesky_adapter {
    char *name;       /* platform name: the key of the stored session */
    char *service;    /* PDS base URL, no trailing slash */
    char *identifier; /* handle or DID to log in with */
    char *password_env;
    char *password; /* the app password */
    int64_t timeout_ms;
    struct bluesky_session session;
    int session_loaded; /* the store was read once */
};

enum bluesky_phase {
    PHASE_LOOKUP,  /* getRecord before posting */
    PHASE_LOGIN,   /* createSession */
    PHASE_REFRESH, /* refreshSession */
    PHASE_CREATE,  /* createRecord */
    PHASE_CHECK,   /* getRecord after createRecord refused the key */
};

struct bluesky_attempt {
    struct http_exchange *ex;
    enum bluesky_phase phase;
    int steps;
    int refreshed;       /* refreshSession already ran in this attempt */
    int logged_in;       /* createSession already ran in this attempt */
    uint64_t generation; /* session generation the request used */
    char rkey[ATPROTO_TID_LEN + 1];
    char *text;
    json_t *record;
    struct adapter_result create_failure; /* kept while checking */
};

static void free_token(char **token)
{
    if (*token != NULL) {
        explicit_bzero(*token, strlen(*token));
        free(*token);
        *token = NULL;
    }
}

static void bluesky_destroy(void *state)
{
    struct bluesky_adapter *adapter = state;

    if (adapter == NULL)
        return;
    free(adapter->name);
    free(adapter->service);
    free(adapter->identifier);
    free(adapter->password_env);
    if (adapter->password != NULL) {
        explicit_bzero(adapter->password, strlen(adapter->password));
        free(adapter->password);
    }
    bluesky_session_clear(&adapter->session);
    free(adapter);
}

static const char *const bluesky_options[] = {
    "service",
    "handle",
    "app_password_env",
    "timeout",
    NULL,
};

static int check_option_names(const struct platform_config *platform, char *err,
                              size_t errlen)
{
    return adapter_options_check_known(platform, bluesky_options, err, errlen);
}

static int set_service(struct bluesky_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *url = platform_config_option(platform, "service");
    struct http_exchange *probe;
    char reason[256];
    size_t len;

    if (url == NULL)
        url = BLUESKY_DEFAULT_SERVICE;
    probe = http_exchange_new(url, BLUESKY_DEFAULT_TIMEOUT_MS, reason,
                              sizeof reason);
    if (probe == NULL || strchr(url, '?') != NULL || strchr(url, '#')) {
        snprintf(err, errlen,
                 "invalid service for bluesky platform \"%s\": %s; give "
                 "the PDS base URL, e.g. https://bsky.social",
                 platform->name,
                 probe == NULL ? reason : "it has a query or fragment");
        http_exchange_free(probe);
        return -1;
    }
    http_exchange_free(probe);

    adapter->service = strdup(url);
    if (adapter->service == NULL)
        return -1;
    len = strlen(adapter->service);
    while (len > 0 && adapter->service[len - 1] == '/')
        adapter->service[--len] = '\0';
    return 0;
}

static int set_identifier(struct bluesky_adapter *adapter,
                          const struct platform_config *platform, char *err,
                          size_t errlen)
{
    const char *handle = platform_config_option(platform, "handle");

    if (handle == NULL || handle[0] == '\0') {
        snprintf(err, errlen,
                 "missing option handle for bluesky platform \"%s\": set "
                 "it to the account's handle (alice.bsky.social) or DID",
                 platform->name);
        return -1;
    }
    for (const char *p = handle; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '/' || *p == '?' || *p == '#' ||
            *p == '&') {
            snprintf(err, errlen,
                     "invalid handle \"%s\" for bluesky platform \"%s\": "
                     "give a handle such as alice.bsky.social or a DID "
                     "such as did:plc:abc123",
                     handle, platform->name);
            return -1;
        }
    }
    adapter->identifier = strdup(handle);
    return adapter->identifier != NULL ? 0 : -1;
}

static int set_password(struct bluesky_adapter *adapter,
                        const struct platform_config *platform, char *err,
                        size_t errlen)
{
    const char *name = platform_config_option(platform, "app_password_env");
    const char *value;

    if (name == NULL || !config_is_env_name(name)) {
        snprintf(err, errlen,
                 "%s app_password_env for bluesky platform \"%s\": give the "
                 "name of the environment variable that holds an app "
                 "password, e.g. BLUESKY_APP_PASSWORD",
                 name == NULL ? "missing option" : "invalid", platform->name);
        return -1;
    }
    value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        snprintf(err, errlen,
                 "environment variable %s named by app_password_env of "
                 "bluesky platform \"%s\" is not set or empty; export it "
                 "before starting pubq",
                 name, platform->name);
        return -1;
    }
    adapter->password_env = strdup(name);
    adapter->password = strdup(value);
    return adapter->password != NULL && adapter->password_env != NULL ? 0 : -1;
}

static int set_timeout(struct bluesky_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *text = platform_config_option(platform, "timeout");
    char reason[256];

    adapter->timeout_ms = BLUESKY_DEFAULT_TIMEOUT_MS;
    if (text == NULL)
        return 0;
    if (timestamp_parse_duration(text, &adapter->timeout_ms, reason,
                                 sizeof reason) != 0 ||
        adapter->timeout_ms <= 0 ||
        adapter->timeout_ms > BLUESKY_MAX_TIMEOUT_MS) {
        snprintf(err, errlen,
                 "invalid timeout \"%s\" for bluesky platform \"%s\": use "
                 "a duration from 1ms to 1h, e.g. 15s",
                 text, platform->name);
        return -1;
    }
    return 0;
}

static int bluesky_create(const struct platform_config *platform, void **state,
                          char *err, size_t errlen)
{
    struct bluesky_adapter *adapter = calloc(1, sizeof *adapter);

    err[0] = '\0';
    if (adapter == NULL || (adapter->name = strdup(platform->name)) == NULL ||
        check_option_names(platform, err, errlen) != 0 ||
        set_service(adapter, platform, err, errlen) != 0 ||
        set_identifier(adapter, platform, err, errlen) != 0 ||
        set_password(adapter, platform, err, errlen) != 0 ||
        set_timeout(adapter, platform, err, errlen) != 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "out of memory");
        bluesky_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

/* Checks meta.langs: at most 3 language tags, as the record allows. */
static int check_langs(const json_t *content, char *err, size_t errlen)
{
    const json_t *langs =
        json_object_get(json_object_get(content, "meta"), "langs");
    size_t i;
    const json_t *lang;

    if (langs == NULL)
        return 0;
    if (!json_is_array(langs) || json_array_size(langs) > BLUESKY_MAX_LANGS) {
        snprintf(err, errlen,
                 "invalid meta.langs for bluesky: give an array of at most "
                 "%d language tags, e.g. [\"en\", \"de\"]",
                 BLUESKY_MAX_LANGS);
        return -1;
    }
    json_array_foreach(langs, i, lang)
    {
        if (!json_is_string(lang) || json_string_length(lang) == 0 ||
            json_string_length(lang) > 64) {
            snprintf(err, errlen,
                     "invalid meta.langs[%zu] for bluesky: give a language "
                     "tag such as \"en\" or \"pt-BR\"",
                     i);
            return -1;
        }
    }
    return 0;
}

static int bluesky_check_content(const struct platform_config *platform,
                                 const json_t *content, char *err,
                                 size_t errlen)
{
    (void)platform;
    if (content_check_limits("bluesky", content, err, errlen) != 0)
        return -1;
    return check_langs(content, err, errlen);
}

/*
 * Derives the record key from the entry: a TID whose time part is the
 * entry's creation time in microseconds plus (entry id mod 1000) and
 * whose clock identifier is (entry id / 1000) mod 1024. It never changes
 * between attempts, and two entries of one store share a key only when
 * created in the same millisecond with ids 1,024,000 apart. A post of
 * another store may still hold the key; the lookup compares the text.
 */
static void derive_rkey(const struct entry *entry, char *rkey)
{
    int64_t created =
        entry->created_at > 0 ? entry->created_at : entry->scheduled_at;
    uint64_t id = entry->id > 0 ? (uint64_t)entry->id : 0;
    uint64_t micros = (uint64_t)(created > 0 ? created : 0) * 1000 + id % 1000;

    atproto_tid_encode(micros, (unsigned)((id / 1000) % 1024), rkey);
}

/* Builds the app.bsky.feed.post record; NULL when out of memory. */
static json_t *build_record(const struct publish_attempt *attempt,
                            const char *text)
{
    const json_t *langs =
        json_object_get(json_object_get(attempt->content, "meta"), "langs");
    char created_at[TIMESTAMP_MAX];
    json_t *facets = bluesky_link_facets(text, strlen(text));
    json_t *record;

    if (facets == NULL ||
        timestamp_format(attempt->now, created_at, sizeof created_at) != 0) {
        json_decref(facets);
        return NULL;
    }
    record = json_pack("{s:s,s:s,s:s,s:o}", "$type", BLUESKY_COLLECTION, "text",
                       text, "createdAt", created_at, "facets", facets);
    if (record != NULL && json_is_array(langs) &&
        json_object_set_new(record, "langs", json_deep_copy(langs)) != 0) {
        json_decref(record);
        return NULL;
    }
    return record;
}

static void attempt_free(struct bluesky_attempt *st)
{
    if (st == NULL)
        return;
    http_exchange_free(st->ex);
    free(st->text);
    json_decref(st->record);
    free(st);
}

/* The repo to look records up in: the DID once known, else the login. */
static const char *repo_of(const struct bluesky_adapter *adapter)
{
    return adapter->session.did != NULL ? adapter->session.did
                                        : adapter->identifier;
}

/*
 * Starts a request to the XRPC method `nsid`, with `query` (already
 * escaped) when not NULL and a JSON `body` when not NULL, authorised
 * with `token` when not NULL. Returns the handle, or NULL with the
 * attempt failed as transient.
 */
static CURL *begin_request(const struct bluesky_adapter *adapter,
                           struct publish_attempt *attempt,
                           struct bluesky_attempt *st, const char *nsid,
                           const char *query, const json_t *body,
                           const char *token)
{
    size_t url_len = strlen(adapter->service) + strlen(nsid) +
                     (query ? strlen(query) : 0) + 16;
    char *url = malloc(url_len);
    char *text = body ? json_dumps(body, JSON_COMPACT) : strdup("");
    char reason[256] = "out of memory";
    CURL *easy = NULL;

    http_exchange_free(st->ex);
    st->ex = NULL;
    if (url != NULL && text != NULL) {
        snprintf(url, url_len, "%s/xrpc/%s%s%s", adapter->service, nsid,
                 query ? "?" : "", query ? query : "");
        st->ex =
            http_exchange_new(url, adapter->timeout_ms, reason, sizeof reason);
    }
    if (st->ex != NULL) {
        char header[8192];
        int failed =
            http_exchange_add_header(st->ex, "Accept: application/json");

        /* A POST without input (refreshSession) goes without a
         * Content-Type: "Content-Type:" removes the one curl adds. */
        if (body != NULL || query == NULL)
            failed |=
                http_exchange_add_header(
                    st->ex, body != NULL ? "Content-Type: application/json"
                                         : "Content-Type:") != 0 ||
                http_exchange_set_body(st->ex, text, strlen(text)) != 0;
        if (token != NULL) {
            int used = snprintf(header, sizeof header,
                                "Authorization: Bearer %s", token);

            failed |= used < 0 || (size_t)used >= sizeof header ||
                      http_exchange_add_header(st->ex, header) != 0;
            explicit_bzero(header, sizeof header);
        }
        if (!failed)
            easy = http_exchange_easy(st->ex);
    }
    if (easy == NULL)
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot build the bluesky %s request: %s", nsid,
                            reason);
    if (text != NULL)
        explicit_bzero(text, strlen(text));
    free(text);
    free(url);
    return easy;
}

static enum adapter_step send_lookup(struct bluesky_adapter *adapter,
                                     struct publish_attempt *attempt,
                                     struct bluesky_attempt *st,
                                     enum bluesky_phase phase, CURL **easy)
{
    char *repo = curl_easy_escape(NULL, repo_of(adapter), 0);
    char query[1024];

    if (repo == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "out of memory building a bluesky lookup");
        return ADAPTER_DONE;
    }
    snprintf(query, sizeof query, "repo=%s&collection=%s&rkey=%s", repo,
             BLUESKY_COLLECTION, st->rkey);
    curl_free(repo);

    st->phase = phase;
    *easy = begin_request(adapter, attempt, st, "com.atproto.repo.getRecord",
                          query, NULL, NULL);
    return *easy != NULL ? ADAPTER_HTTP : ADAPTER_DONE;
}

static enum adapter_step send_login(struct bluesky_adapter *adapter,
                                    struct publish_attempt *attempt,
                                    struct bluesky_attempt *st, CURL **easy)
{
    json_t *body = json_pack("{s:s,s:s}", "identifier", adapter->identifier,
                             "password", adapter->password);

    st->phase = PHASE_LOGIN;
    st->logged_in = 1;
    *easy = body == NULL ? NULL
                         : begin_request(adapter, attempt, st,
                                         "com.atproto.server.createSession",
                                         NULL, body, NULL);
    json_decref(body);
    if (body == NULL)
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "out of memory building a bluesky login");
    return *easy != NULL ? ADAPTER_HTTP : ADAPTER_DONE;
}

static enum adapter_step send_refresh(struct bluesky_adapter *adapter,
                                      struct publish_attempt *attempt,
                                      struct bluesky_attempt *st, CURL **easy)
{
    st->phase = PHASE_REFRESH;
    st->refreshed = 1;
    st->generation = adapter->session.generation;
    *easy =
        begin_request(adapter, attempt, st, "com.atproto.server.refreshSession",
                      NULL, NULL, adapter->session.refresh_jwt);
    return *easy != NULL ? ADAPTER_HTTP : ADAPTER_DONE;
}

static enum adapter_step send_create(struct bluesky_adapter *adapter,
                                     struct publish_attempt *attempt,
                                     struct bluesky_attempt *st, CURL **easy)
{
    json_t *body = json_pack("{s:s,s:s,s:s,s:O}", "repo", adapter->session.did,
                             "collection", BLUESKY_COLLECTION, "rkey", st->rkey,
                             "record", st->record);

    st->phase = PHASE_CREATE;
    st->generation = adapter->session.generation;
    *easy = body == NULL ? NULL
                         : begin_request(adapter, attempt, st,
                                         "com.atproto.repo.createRecord", NULL,
                                         body, adapter->session.access_jwt);
    json_decref(body);
    if (body == NULL)
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "out of memory building a bluesky post");
    return *easy != NULL ? ADAPTER_HTTP : ADAPTER_DONE;
}

/* Reads the stored session once per adapter, when a store is given. */
static void load_session(struct bluesky_adapter *adapter,
                         struct publish_attempt *attempt)
{
    char reason[STORE_ERR_MAX + 64];

    if (adapter->session_loaded || attempt->store == NULL)
        return;
    adapter->session_loaded = 1;
    if (adapter->session.access_jwt != NULL)
        return;
    if (bluesky_session_load(&adapter->session, attempt->store, adapter->name,
                             reason, sizeof reason) < 0)
        log_warn("bluesky", "%s platform=%s", reason, adapter->name);
}

/* Writes the session to the store; a failure only costs a later login. */
static void save_session(struct bluesky_adapter *adapter,
                         struct publish_attempt *attempt)
{
    char reason[STORE_ERR_MAX + 64];

    if (attempt->store != NULL &&
        bluesky_session_save(&adapter->session, attempt->store, adapter->name,
                             attempt->now, reason, sizeof reason) != 0)
        log_warn("bluesky", "%s platform=%s", reason, adapter->name);
}

/* Posts with the session, renewing or creating it first when needed. */
static enum adapter_step send_post(struct bluesky_adapter *adapter,
                                   struct publish_attempt *attempt,
                                   struct bluesky_attempt *st, CURL **easy)
{
    if (adapter->session.access_jwt != NULL && adapter->session.did != NULL)
        return send_create(adapter, attempt, st, easy);
    if (adapter->session.refresh_jwt != NULL && !st->refreshed)
        return send_refresh(adapter, attempt, st, easy);
    /* NOTE: attempts in flight at the same time each log in when there
     * is no session yet, so a platform with concurrency N may call
     * createSession up to N times at its first posts. */
    if (!st->logged_in)
        return send_login(adapter, attempt, st, easy);

    adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                        "bluesky %s rejected a fresh session; retrying later",
                        adapter->service);
    return ADAPTER_DONE;
}

static enum adapter_step
begin_attempt(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct bluesky_adapter *adapter = state;
    const char *text =
        json_string_value(json_object_get(attempt->content, "text"));
    struct bluesky_attempt *st = calloc(1, sizeof *st);

    attempt->step_state = st;
    if (st == NULL || text == NULL || (st->text = strdup(text)) == NULL ||
        (st->record = build_record(attempt, text)) == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "cannot build the bluesky post of entry %lld: "
                            "the content needs a text in valid UTF-8",
                            (long long)attempt->entry->id);
        return ADAPTER_DONE;
    }
    derive_rkey(attempt->entry, st->rkey);
    load_session(adapter, attempt);

    if (attempt->previous_unknown)
        return send_lookup(adapter, attempt, st, PHASE_LOOKUP, easy);
    return send_post(adapter, attempt, st, easy);
}

/* Copies the XRPC error name and message of a reply, or empty strings. */
static void read_xrpc_error(struct http_exchange *ex, char *name,
                            size_t namelen, char *message, size_t messagelen)
{
    size_t len = 0;
    const char *body = http_exchange_body(ex, &len);
    json_t *reply = json_loadb(body, len, 0, NULL);
    const char *value;

    name[0] = '\0';
    message[0] = '\0';
    value = json_string_value(json_object_get(reply, "error"));
    if (value != NULL)
        snprintf(name, namelen, "%s", value);
    value = json_string_value(json_object_get(reply, "message"));
    if (value != NULL)
        snprintf(message, messagelen, "%s", value);
    for (char *p = message; *p; p++) {
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    }
    json_decref(reply);
}

/*
 * Reads the wait hint of a 429: ratelimit-reset (Unix seconds, Bluesky's
 * documented header), else Retry-After. A malformed value is ignored and
 * described in note.
 */
static void read_rate_limit(struct http_exchange *ex,
                            struct publish_attempt *attempt, char *note,
                            size_t notelen)
{
    const char *reset = http_exchange_header(ex, "ratelimit-reset");
    const char *retry_after = http_exchange_header(ex, "Retry-After");
    char reason[200];
    int64_t delay_ms;
    int parsed = -1;

    note[0] = '\0';
    attempt->result.rate_limited = 1;
    if (reset != NULL)
        parsed = rate_limit_parse_epoch_seconds(reset, attempt->now, &delay_ms,
                                                reason, sizeof reason);
    else if (retry_after != NULL)
        parsed = retry_after_parse(retry_after, attempt->now, &delay_ms, reason,
                                   sizeof reason);
    else
        return;
    if (parsed != 0) {
        snprintf(note, notelen, "; ignored malformed rate-limit hint: %s",
                 reason);
        return;
    }
    attempt->result.hint_ms = delay_ms;
}

/* Fails the attempt with the outcome of its HTTP status. */
static void fail_status(struct publish_attempt *attempt,
                        struct bluesky_attempt *st, const char *call)
{
    long status = http_exchange_status(st->ex);
    char name[64];
    char message[BLUESKY_MESSAGE_MAX];
    char note[256] = "";

    read_xrpc_error(st->ex, name, sizeof name, message, sizeof message);
    attempt->result.http_status = (int)status;
    if (status == 429)
        read_rate_limit(st->ex, attempt, note, sizeof note);
    adapter_result_fail(&attempt->result, outcome_from_http_status(status),
                        "bluesky %s %s returned HTTP %ld (%s)%s%s%s%s",
                        http_exchange_host(st->ex), call, status,
                        outcome_http_reason(status), name[0] ? ": " : "", name,
                        message[0] ? ": " : "", message);
    if (note[0] != '\0')
        snprintf(attempt->result.error + strlen(attempt->result.error),
                 sizeof attempt->result.error - strlen(attempt->result.error),
                 "%s", note);
}

static void pause_platform(struct adapter_result *result, const char *why)
{
    result->outcome = OUTCOME_PERMANENT;
    result->pause_ms = -1;
    snprintf(result->pause_reason, sizeof result->pause_reason, "%s", why);
}

static void set_post_ids(const struct bluesky_adapter *adapter,
                         struct publish_attempt *attempt,
                         const struct bluesky_attempt *st, const char *uri)
{
    struct adapter_result *result = &attempt->result;

    result->outcome = OUTCOME_SUCCESS;
    result->http_status = 200;
    result->rate_limited = 0;
    result->error[0] = '\0';
    if (uri != NULL && strlen(uri) < sizeof result->post_id)
        snprintf(result->post_id, sizeof result->post_id, "%s", uri);
    else
        snprintf(result->post_id, sizeof result->post_id, "at://%s/%s/%s",
                 repo_of(adapter), BLUESKY_COLLECTION, st->rkey);

    /* The DID never changes, so the URL stays valid after a handle
     * change; bsky.app accepts a DID wherever it accepts a handle. */
    snprintf(result->post_url, sizeof result->post_url, "%s%s/post/%s",
             BLUESKY_WEB, repo_of(adapter), st->rkey);
}

static json_t *reply_json(struct http_exchange *ex)
{
    size_t len = 0;
    const char *body = http_exchange_body(ex, &len);

    return json_loadb(body, len, 0, NULL);
}

static enum adapter_step on_lookup(struct bluesky_adapter *adapter,
                                   struct publish_attempt *attempt,
                                   struct bluesky_attempt *st, CURL **next)
{
    long status = http_exchange_status(st->ex);
    char name[64];
    char message[BLUESKY_MESSAGE_MAX];

    if (status == 200) {
        json_t *reply = reply_json(st->ex);
        const char *text = json_string_value(
            json_object_get(json_object_get(reply, "value"), "text"));
        int same = text != NULL && strcmp(text, st->text) == 0;

        if (same)
            set_post_ids(adapter, attempt, st,
                         json_string_value(json_object_get(reply, "uri")));
        else
            adapter_result_fail(
                &attempt->result, OUTCOME_PERMANENT,
                "bluesky record key %s of %s already holds a different "
                "post; delete that record or change the entry",
                st->rkey, repo_of(adapter));
        json_decref(reply);
        return ADAPTER_DONE;
    }

    read_xrpc_error(st->ex, name, sizeof name, message, sizeof message);
    if (status == 404 ||
        (status == 400 && strcmp(name, "RecordNotFound") == 0)) {
        if (st->phase == PHASE_LOOKUP)
            return send_post(adapter, attempt, st, next);
        attempt->result = st->create_failure;
        return ADAPTER_DONE;
    }

    if (st->phase == PHASE_CHECK) {
        attempt->result = st->create_failure;
        return ADAPTER_DONE;
    }
    fail_status(attempt, st, "getRecord");
    /* A lookup posts nothing, and a later post reuses the record key,
     * which the PDS rejects when taken. So retrying is safe. */
    if (attempt->result.outcome == OUTCOME_UNKNOWN)
        attempt->result.outcome = OUTCOME_TRANSIENT;
    return ADAPTER_DONE;
}

static enum adapter_step on_login(struct bluesky_adapter *adapter,
                                  struct publish_attempt *attempt,
                                  struct bluesky_attempt *st, CURL **next)
{
    long status = http_exchange_status(st->ex);
    char name[64];
    char message[BLUESKY_MESSAGE_MAX];
    char reason[STORE_TEXT_MAX];
    json_t *reply;

    if (status == 200) {
        reply = reply_json(st->ex);
        if (bluesky_session_set_from_reply(&adapter->session, reply, reason,
                                           sizeof reason) != 0) {
            json_decref(reply);
            adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                                "bluesky %s createSession: %s",
                                http_exchange_host(st->ex), reason);
            return ADAPTER_DONE;
        }
        json_decref(reply);
        log_info("bluesky", "logged in as %s platform=%s", adapter->session.did,
                 adapter->name);
        save_session(adapter, attempt);
        return send_create(adapter, attempt, st, next);
    }

    fail_status(attempt, st, "createSession");
    read_xrpc_error(st->ex, name, sizeof name, message, sizeof message);
    /* createSession returns 401 AuthenticationRequired for a wrong
     * identifier or password and 400 AccountTakedown for a suspended
     * account. Both need an operator. */
    if (status == 401 || strcmp(name, "AccountTakedown") == 0 ||
        strcmp(name, "AuthFactorTokenRequired") == 0) {
        snprintf(reason, sizeof reason,
                 "bluesky login of %s rejected (HTTP %ld %s); check the app "
                 "password in %s",
                 adapter->identifier, status, name[0] ? name : "",
                 adapter->password_env);
        pause_platform(&attempt->result, reason);
    }
    return ADAPTER_DONE;
}

/* Returns 1 when the token the request used is expired or invalid. */
static int token_rejected(long status, const char *name)
{
    return status == 401 ||
           (status == 400 && (strcmp(name, "ExpiredToken") == 0 ||
                              strcmp(name, "InvalidToken") == 0));
}

static enum adapter_step on_refresh(struct bluesky_adapter *adapter,
                                    struct publish_attempt *attempt,
                                    struct bluesky_attempt *st, CURL **next)
{
    long status = http_exchange_status(st->ex);
    char name[64];
    char message[BLUESKY_MESSAGE_MAX];
    char reason[STORE_TEXT_MAX];
    json_t *reply;

    if (status == 200) {
        reply = reply_json(st->ex);
        if (bluesky_session_set_from_reply(&adapter->session, reply, reason,
                                           sizeof reason) != 0) {
            json_decref(reply);
            adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                                "bluesky %s refreshSession: %s",
                                http_exchange_host(st->ex), reason);
            return ADAPTER_DONE;
        }
        json_decref(reply);
        log_debug("bluesky", "refreshed the session platform=%s",
                  adapter->name);
        save_session(adapter, attempt);
        return send_create(adapter, attempt, st, next);
    }

    read_xrpc_error(st->ex, name, sizeof name, message, sizeof message);
    if (token_rejected(status, name)) {
        /* Another attempt may have renewed the session meanwhile. */
        if (adapter->session.generation == st->generation) {
            free_token(&adapter->session.access_jwt);
            free_token(&adapter->session.refresh_jwt);
        }
        return send_post(adapter, attempt, st, next);
    }
    fail_status(attempt, st, "refreshSession");
    if (strcmp(name, "AccountTakedown") == 0)
        pause_platform(&attempt->result,
                       "bluesky account suspended (AccountTakedown)");
    return ADAPTER_DONE;
}

static enum adapter_step on_create(struct bluesky_adapter *adapter,
                                   struct publish_attempt *attempt,
                                   struct bluesky_attempt *st, CURL **next)
{
    long status = http_exchange_status(st->ex);
    char name[64];
    char message[BLUESKY_MESSAGE_MAX];

    attempt->result.http_status = (int)status;
    if (status >= 200 && status < 300) {
        json_t *reply = reply_json(st->ex);

        set_post_ids(adapter, attempt, st,
                     json_string_value(json_object_get(reply, "uri")));
        json_decref(reply);
        return ADAPTER_DONE;
    }

    read_xrpc_error(st->ex, name, sizeof name, message, sizeof message);
    if (token_rejected(status, name)) {
        if (adapter->session.generation == st->generation)
            free_token(&adapter->session.access_jwt);
        return send_post(adapter, attempt, st, next);
    }

    fail_status(attempt, st, "createRecord");
    /*
     * A taken record key means an earlier attempt may have posted, so
     * the key is looked up. The createRecord lexicon documents no error
     * for it. Bluesky's reference PDS returned 500 InternalServerError
     * in 2025, and some other implementations return 409
     * RecordAlreadyExists.
     */
    if (status == 409 || status == 500 ||
        strcmp(name, "RecordAlreadyExists") == 0) {
        st->create_failure = attempt->result;
        return send_lookup(adapter, attempt, st, PHASE_CHECK, next);
    }
    return ADAPTER_DONE;
}

/* Requests other than createRecord post nothing, so none is unknown. */
static void fail_transport(struct publish_attempt *attempt,
                           struct bluesky_attempt *st, CURLcode code)
{
    char reason[STORE_TEXT_MAX / 2];
    enum outcome outcome =
        http_exchange_transport_outcome(st->ex, code, reason, sizeof reason);

    attempt->result.http_status = (int)http_exchange_status(st->ex);
    if (st->phase != PHASE_CREATE && outcome == OUTCOME_UNKNOWN)
        outcome = OUTCOME_TRANSIENT;
    adapter_result_fail(&attempt->result, outcome, "bluesky %s", reason);
}

static enum adapter_step handle_response(void *state,
                                         struct publish_attempt *attempt,
                                         CURL *easy, CURLcode code, CURL **next)
{
    struct bluesky_adapter *adapter = state;
    struct bluesky_attempt *st = attempt->step_state;

    (void)easy;
    code = http_exchange_result(st->ex, code);
    if (code != CURLE_OK) {
        if (st->phase == PHASE_CHECK)
            attempt->result = st->create_failure;
        else
            fail_transport(attempt, st, code);
        return ADAPTER_DONE;
    }
    if (++st->steps > BLUESKY_MAX_STEPS) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "bluesky %s: too many session renewals in one "
                            "attempt; retrying later",
                            http_exchange_host(st->ex));
        return ADAPTER_DONE;
    }

    switch (st->phase) {
    case PHASE_LOOKUP:
    case PHASE_CHECK:
        return on_lookup(adapter, attempt, st, next);
    case PHASE_LOGIN:
        return on_login(adapter, attempt, st, next);
    case PHASE_REFRESH:
        return on_refresh(adapter, attempt, st, next);
    default:
        return on_create(adapter, attempt, st, next);
    }
}

/*
 * Removes the app password and the session tokens from the result, on
 * every path: a server may echo any of them in an error message or in
 * the fields that become the post id.
 */
static void redact_secrets(void *state, struct adapter_result *result)
{
    const struct bluesky_adapter *adapter = state;

    adapter_reply_redact_result(result, adapter->password);
    adapter_reply_redact_result(result, adapter->session.access_jwt);
    adapter_reply_redact_result(result, adapter->session.refresh_jwt);
}

static void bluesky_end(void *state, struct publish_attempt *attempt)
{
    (void)state;
    attempt_free(attempt->step_state);
    attempt->step_state = NULL;
}

const struct adapter_ops adapter_bluesky_ops = {
    .type = "bluesky",
    .options = bluesky_options,
    .reconcile_window_ms = ADAPTER_RECONCILE_ALWAYS, /* getRecord by the derived key */
    .create = bluesky_create,
    .destroy = bluesky_destroy,
    .check_content = bluesky_check_content,
    .start = begin_attempt,
    .on_response = handle_response,
    .redact = redact_secrets,
    .end = bluesky_end,
};
