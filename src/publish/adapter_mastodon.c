/*
 * The `mastodon` adapter: publishes a status with POST /api/v1/statuses
 * (https://docs.joinmastodon.org/methods/statuses/#create). The options,
 * limits, error mapping and reconciliation are documented in
 * docs/platforms.md.
 */
#include "publish/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_date.h"
#include "core/rate_limit_hint.h"
#include "intake/content_limits.h"
#include "publish/adapter_options.h"
#include "publish/adapter_reply.h"
#include "publish/http_exchange.h"
#include "publish/post_text.h"
#include "util/banned.h"

#define MASTODON_IDEMPOTENCY_WINDOW_MS (55 * 60 * 1000)

#define MASTODON_DEFAULT_TIMEOUT_MS 30000
/* StatusLengthValidator::MAX_CHARS in Mastodon's source. */
#define MASTODON_MAX_CHARS 500
#define MASTODON_STATUSES_PATH "/api/v1/statuses"
#define MASTODON_SNIPPET_MAX 300

struct mastodon_adapter {
    char *statuses_url;
    char *host; /* for messages: never the token */
    char *token;
    const char *visibility; /* static string */
    char *spoiler_text;     /* NULL when unset */
    char *language;         /* NULL when unset */
    int64_t timeout_ms;
};

static const char *const mastodon_options[] = {
    "instance", "access_token_env", "visibility", "spoiler_text",
    "language", "timeout",          NULL,
};

/* The values of the status `visibility` parameter. */
static const char *const mastodon_visibilities[] = {
    "public", "unlisted", "private", "direct", NULL,
};

static void mastodon_destroy(void *state)
{
    struct mastodon_adapter *adapter = state;

    if (adapter == NULL)
        return;
    free(adapter->statuses_url);
    free(adapter->host);
    adapter_options_free_secret(adapter->token);
    free(adapter->spoiler_text);
    free(adapter->language);
    free(adapter);
}

/* Returns 0 when the parsed instance URL has no path, query or fragment. */
static int is_base_url(CURLU *parsed)
{
    char *path = NULL;
    char *rest = NULL;
    int base = curl_url_get(parsed, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
               strcmp(path, "/") == 0;

    if (curl_url_get(parsed, CURLUPART_QUERY, &rest, 0) == CURLUE_OK)
        base = 0;
    curl_free(rest);
    rest = NULL;
    if (curl_url_get(parsed, CURLUPART_FRAGMENT, &rest, 0) == CURLUE_OK)
        base = 0;
    curl_free(rest);
    curl_free(path);
    return base ? 0 : -1;
}

/* Derives the statuses endpoint and the host from the instance URL. */
static int build_urls(struct mastodon_adapter *adapter, const char *instance)
{
    CURLU *parsed = curl_url();
    char *url = NULL;
    char *host = NULL;
    int result = -1;

    if (parsed == NULL ||
        curl_url_set(parsed, CURLUPART_URL, instance, 0) != CURLUE_OK ||
        is_base_url(parsed) != 0)
        goto done;
    if (curl_url_set(parsed, CURLUPART_PATH, MASTODON_STATUSES_PATH, 0) !=
            CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_URL, &url, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto done;

    adapter->statuses_url = strdup(url);
    adapter->host = strdup(host);
    if (adapter->statuses_url != NULL && adapter->host != NULL)
        result = 0;

done:
    curl_free(url);
    curl_free(host);
    curl_url_cleanup(parsed);
    return result;
}

static int set_instance(struct mastodon_adapter *adapter,
                        const struct platform_config *platform, char *err,
                        size_t errlen)
{
    const char *instance = platform_config_option(platform, "instance");

    if (instance == NULL || instance[0] == '\0') {
        snprintf(err, errlen,
                 "missing option instance for mastodon platform \"%s\": set "
                 "it to the server's address, such as https://mastodon.social",
                 platform->name);
        return -1;
    }
    if (adapter_options_check_url(platform, instance, "option instance", 0, err,
                                  errlen) != 0)
        return -1;
    if (build_urls(adapter, instance) != 0) {
        snprintf(err, errlen,
                 "invalid option instance \"%.200s\" of mastodon platform "
                 "\"%s\": give the server's base address with no path, "
                 "query or fragment, such as https://mastodon.social",
                 instance, platform->name);
        return -1;
    }
    return 0;
}

static int set_visibility(struct mastodon_adapter *adapter,
                          const struct platform_config *platform, char *err,
                          size_t errlen)
{
    const char *value = platform_config_option(platform, "visibility");

    adapter->visibility = mastodon_visibilities[0];
    if (value == NULL)
        return 0;
    for (size_t i = 0; mastodon_visibilities[i] != NULL; i++) {
        if (strcmp(value, mastodon_visibilities[i]) == 0) {
            adapter->visibility = mastodon_visibilities[i];
            return 0;
        }
    }
    snprintf(err, errlen,
             "invalid visibility \"%s\" for mastodon platform \"%s\": use "
             "public, unlisted, private or direct",
             value, platform->name);
    return -1;
}

/* An ISO 639 code: two or three lowercase letters, such as en or fil. */
static int is_language_code(const char *text)
{
    size_t length = strlen(text);

    if (length < 2 || length > 3)
        return 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < 'a' || text[i] > 'z')
            return 0;
    }
    return 1;
}

static int set_text_options(struct mastodon_adapter *adapter,
                            const struct platform_config *platform, char *err,
                            size_t errlen)
{
    const char *spoiler = platform_config_option(platform, "spoiler_text");
    const char *language = platform_config_option(platform, "language");

    if (language != NULL && !is_language_code(language)) {
        snprintf(err, errlen,
                 "invalid language \"%s\" for mastodon platform \"%s\": use "
                 "an ISO 639 language code such as en or de",
                 language, platform->name);
        return -1;
    }
    if (spoiler != NULL && spoiler[0] != '\0')
        adapter->spoiler_text = strdup(spoiler);
    if (language != NULL)
        adapter->language = strdup(language);
    if ((spoiler != NULL && spoiler[0] != '\0' &&
         adapter->spoiler_text == NULL) ||
        (language != NULL && adapter->language == NULL)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int mastodon_create(const struct platform_config *platform, void **state,
                           char *err, size_t errlen)
{
    struct mastodon_adapter *adapter = calloc(1, sizeof *adapter);

    if (adapter == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (adapter_options_check_known(platform, mastodon_options, err, errlen) !=
            0 ||
        set_instance(adapter, platform, err, errlen) != 0 ||
        adapter_options_secret(platform, "access_token_env", &adapter->token,
                               err, errlen) != 0 ||
        set_visibility(adapter, platform, err, errlen) != 0 ||
        set_text_options(adapter, platform, err, errlen) != 0 ||
        adapter_options_timeout(platform, MASTODON_DEFAULT_TIMEOUT_MS,
                                &adapter->timeout_ms, err, errlen) != 0) {
        mastodon_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

/*
 * Checks a post against Mastodon's limit the way StatusLengthValidator
 * counts: grapheme clusters of spoiler_text as written plus those of the
 * status after each URL is replaced by 23 characters and each mention
 * @user@domain by @user.
 */
static int check_post(const char *post, size_t length, const char *spoiler,
                      int link_added, char *err, size_t errlen)
{
    int64_t count = content_mastodon_length(post, length);
    int64_t spoiler_count =
        spoiler != NULL ? content_grapheme_count(spoiler, strlen(spoiler)) : 0;
    char extra[96] = "";

    if (length == 0) {
        snprintf(err, errlen,
                 "nothing to post: the content has no text or link, and "
                 "pubq does not upload media to mastodon; add text");
        return -1;
    }
    if (count < 0 || spoiler_count < 0) {
        snprintf(err, errlen, "text is not valid UTF-8; send UTF-8");
        return -1;
    }
    if (count + spoiler_count <= MASTODON_MAX_CHARS)
        return 0;

    if (spoiler_count > 0)
        snprintf(extra, sizeof extra, "; %lld of them in spoiler_text",
                 (long long)spoiler_count);
    snprintf(err, errlen,
             "text%s is %lld characters as mastodon counts them (a URL "
             "counts as 23, a mention @user@domain as @user%s), over the "
             "mastodon limit of %d; shorten the text",
             link_added ? " with the link appended" : "",
             (long long)(count + spoiler_count), extra, MASTODON_MAX_CHARS);
    return -1;
}

/* Returns 1 when post_text_compose appended the content's link. */
static int link_was_added(const json_t *content, size_t post_length)
{
    const json_t *text = json_object_get(content, "text");

    return post_length > (json_is_string(text) ? json_string_length(text) : 0);
}

static int mastodon_check_content(const struct platform_config *platform,
                                  const json_t *content, char *err,
                                  size_t errlen)
{
    const char *spoiler = platform_config_option(platform, "spoiler_text");
    size_t length = 0;
    char *post = post_text_compose(content, &length);
    int result;

    if (post == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    result = check_post(post, length,
                        spoiler != NULL && spoiler[0] != '\0' ? spoiler : NULL,
                        link_was_added(content, length), err, errlen);
    free(post);
    return result;
}

/* Serialises the request body: status, visibility and optional fields. */
static char *request_body(const struct mastodon_adapter *adapter,
                          const char *post, size_t length, size_t *body_length)
{
    json_t *body = json_object();
    char *text = NULL;
    int failed;

    if (body == NULL)
        return NULL;
    failed =
        json_object_set_new(body, "status", json_stringn(post, length)) != 0 ||
        json_object_set_new(body, "visibility",
                            json_string(adapter->visibility)) != 0;
    if (adapter->spoiler_text != NULL)
        failed |= json_object_set_new(body, "spoiler_text",
                                      json_string(adapter->spoiler_text));
    if (adapter->language != NULL)
        failed |= json_object_set_new(body, "language",
                                      json_string(adapter->language));
    if (!failed)
        text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text != NULL)
        *body_length = strlen(text);
    return text;
}

static int add_headers(const struct mastodon_adapter *adapter,
                       struct http_exchange *ex,
                       const struct publish_attempt *attempt)
{
    size_t length = strlen(adapter->token) + 32;
    char *authorization = malloc(length);
    char key[STORE_KEY_MAX + 32];
    int failed;

    if (authorization == NULL)
        return -1;
    snprintf(authorization, length, "Authorization: Bearer %s", adapter->token);
    snprintf(key, sizeof key, "Idempotency-Key: %s",
             attempt->entry->idempotency_key);
    failed =
        http_exchange_add_header(ex, authorization) != 0 ||
        http_exchange_add_header(ex, "Content-Type: application/json") != 0 ||
        http_exchange_add_header(ex, key) != 0;
    explicit_bzero(authorization, length);
    free(authorization);
    return failed ? -1 : 0;
}

/* Builds the POST request; returns 0, or -1 with the result failed. */
static int build_request(struct mastodon_adapter *adapter,
                         struct publish_attempt *attempt, const char *post,
                         size_t length, CURL **easy)
{
    char reason[256] = "out of memory";
    size_t body_length = 0;
    char *body = request_body(adapter, post, length, &body_length);
    struct http_exchange *ex = NULL;

    if (body != NULL)
        ex = http_exchange_new(adapter->statuses_url, adapter->timeout_ms,
                               reason, sizeof reason);
    if (ex == NULL || add_headers(adapter, ex, attempt) != 0 ||
        http_exchange_set_body(ex, body, body_length) != 0 ||
        (*easy = http_exchange_easy(ex)) == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot build the mastodon request: %s", reason);
        http_exchange_free(ex);
        free(body);
        return -1;
    }
    free(body);
    attempt->step_state = ex;
    return 0;
}

/*
 * Every attempt of an entry sends the entry's idempotency key. Mastodon
 * keeps a key for one hour (PostStatusService stores "idempotency:status:"
 * keys with a 3600 s expiry) and returns, for a repeated key, the status
 * it created the first time. So after an unknown outcome
 * (previous_unknown), posting again with the same key is the
 * reconciliation: a status that exists is returned and recorded, not
 * created twice. The engine retries an unknown outcome this way only
 * within MASTODON_IDEMPOTENCY_WINDOW_MS of the attempt, which keeps five
 * minutes of margin below Mastodon's hour; later, on_unknown decides.
 */
static enum adapter_step
begin_attempt(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct mastodon_adapter *adapter = state;
    char reason[STORE_TEXT_MAX / 2];
    size_t length = 0;
    char *post = post_text_compose(attempt->content, &length);
    enum adapter_step step = ADAPTER_DONE;

    if (post == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "out of memory building the mastodon status");
        return ADAPTER_DONE;
    }
    if (check_post(post, length, adapter->spoiler_text,
                   link_was_added(attempt->content, length), reason,
                   sizeof reason) != 0)
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "content rejected for mastodon: %s", reason);
    else if (build_request(adapter, attempt, post, length, easy) == 0)
        step = ADAPTER_HTTP;
    free(post);
    return step;
}

/* Copies the status id and its web URL (or its ActivityPub URI). */
static void read_status(struct http_exchange *ex, struct adapter_result *result)
{
    size_t length = 0;
    const char *body = http_exchange_body(ex, &length);
    json_t *status = json_loadb(body, length, 0, NULL);

    /*
     * A 2xx means Mastodon stored the status (or returned the one stored
     * under this idempotency key), so an unreadable reply stays a success
     * without an id.
     */
    adapter_reply_field(status, "id", result->post_id, sizeof result->post_id);
    if (adapter_reply_field(status, "url", result->post_url,
                            sizeof result->post_url) != 0)
        adapter_reply_field(status, "uri", result->post_url,
                            sizeof result->post_url);
    json_decref(status);
}

/* Reads Mastodon's {"error": "..."} text, or a snippet of the body. */
static void error_text(struct http_exchange *ex, char *out, size_t outlen)
{
    size_t length = 0;
    const char *body = http_exchange_body(ex, &length);
    json_t *reply = json_loadb(body, length, 0, NULL);
    const char *message = json_string_value(json_object_get(reply, "error"));

    if (message != NULL)
        adapter_reply_snippet(message, strlen(message), out, outlen);
    else
        adapter_reply_snippet(body, length, out, outlen);
    json_decref(reply);
}

/*
 * Reads the wait hint of a 429 (X-RateLimit-Reset, an ISO 8601 time, per
 * https://docs.joinmastodon.org/api/rate-limits/) or of a 429 or 503 with
 * Retry-After from a proxy in front of the server. A malformed hint is
 * ignored and described in note.
 */
static void read_rate_limit(struct http_exchange *ex,
                            struct publish_attempt *attempt, char *note,
                            size_t notelen)
{
    struct adapter_result *result = &attempt->result;
    long status = http_exchange_status(ex);
    const char *reset = http_exchange_header(ex, "X-RateLimit-Reset");
    const char *retry_after = http_exchange_header(ex, "Retry-After");
    char reason[200];
    int64_t delay_ms;

    note[0] = '\0';
    if (status == 429)
        result->rate_limited = 1;
    if (status == 429 && reset != NULL) {
        if (rate_limit_parse_iso8601(reset, attempt->now, &delay_ms, reason,
                                     sizeof reason) == 0) {
            result->hint_ms = delay_ms;
            return;
        }
        snprintf(note, notelen, "; ignored malformed X-RateLimit-Reset: %s",
                 reason);
    }
    if ((status != 429 && status != 503) || retry_after == NULL)
        return;
    if (retry_after_parse(retry_after, attempt->now, &delay_ms, reason,
                          sizeof reason) != 0) {
        snprintf(note, notelen, "; ignored malformed Retry-After: %s", reason);
        return;
    }
    result->rate_limited = 1;
    result->hint_ms = delay_ms;
}

static void classify(struct mastodon_adapter *adapter, struct http_exchange *ex,
                     struct publish_attempt *attempt)
{
    struct adapter_result *result = &attempt->result;
    long status = http_exchange_status(ex);
    char message[MASTODON_SNIPPET_MAX + 1];
    char note[256];

    result->http_status = (int)status;
    result->outcome = outcome_from_http_status(status);
    if (result->outcome == OUTCOME_SUCCESS) {
        read_status(ex, result);
        return;
    }

    read_rate_limit(ex, attempt, note, sizeof note);
    error_text(ex, message, sizeof message);
    adapter_result_fail(
        result, result->outcome, "mastodon %s returned HTTP %ld (%s)%s%s%s",
        adapter->host, status, outcome_http_reason(status),
        adapter_reply_colon(message), message, note);

    /* The token was revoked, expired or lacks the write:statuses scope. */
    if (status == 401 || status == 403)
        adapter_reply_pause(result, "access token rejected (HTTP %ld)", status);
    else if (status == 404)
        adapter_reply_pause(result,
                            "mastodon API not found at %s (HTTP 404); check "
                            "the instance option",
                            adapter->host);
}

static enum adapter_step handle_response(void *state,
                                         struct publish_attempt *attempt,
                                         CURL *easy, CURLcode code, CURL **next)
{
    struct mastodon_adapter *adapter = state;
    struct http_exchange *ex = attempt->step_state;
    long status = http_exchange_status(ex);

    code = http_exchange_result(ex, code);
    char target[300];

    (void)easy;
    (void)next;
    if (code == CURLE_OK ||
        (http_exchange_truncated(ex) && status != 0 &&
         outcome_from_http_status(status) != OUTCOME_SUCCESS)) {
        classify(adapter, ex, attempt);
        return ADAPTER_DONE;
    }

    snprintf(target, sizeof target, "mastodon %s", adapter->host);
    adapter_reply_transport_failure(ex, code, target, &attempt->result);
    return ADAPTER_DONE;
}

/*
 * Removes the access token from the result on every path: a server may
 * echo it in an error message or in the reply fields that become the
 * post id and URL.
 */
static void redact_token(void *state, struct adapter_result *result)
{
    const struct mastodon_adapter *adapter = state;

    adapter_reply_redact_result(result, adapter->token);
}

const struct adapter_ops adapter_mastodon_ops = {
    .type = "mastodon",
    .options = mastodon_options,
    .reconcile_window_ms = MASTODON_IDEMPOTENCY_WINDOW_MS,
    .create = mastodon_create,
    .destroy = mastodon_destroy,
    .check_content = mastodon_check_content,
    .start = begin_attempt,
    .on_response = handle_response,
    .redact = redact_token,
    .end = adapter_end_exchange,
};
