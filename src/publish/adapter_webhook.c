/*
 * The `webhook` adapter: a JSON POST to any URL, signed with
 * HMAC-SHA256 when a secret is configured. The request and the
 * signature recipe are documented in docs/adapters.md.
 */
#include "publish/adapter.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config/config_value.h"
#include "core/http_date.h"
#include "core/timestamp.h"
#include "publish/adapter_options.h"
#include "publish/adapter_payload.h"
#include "publish/adapter_reply.h"
#include "publish/http_exchange.h"
#include "util/banned.h"

#define WEBHOOK_DEFAULT_TIMEOUT_MS 10000
#define WEBHOOK_HEADER_PREFIX "header_"
/* How much of an error body is searched for secrets before the first
 * WEBHOOK_SNIPPET_MAX bytes of it are kept. */
#define WEBHOOK_SNIPPET_WINDOW 4096
/* secret_header_NAME = VARIABLE: the header's value comes from VARIABLE. */
#define WEBHOOK_SECRET_HEADER_PREFIX "secret_header_"

static const char *const webhook_options[] = {
    "url",
    "secret_env",
    "timeout",
    WEBHOOK_HEADER_PREFIX "*",
    WEBHOOK_SECRET_HEADER_PREFIX "*",
    NULL,
};
#define WEBHOOK_SNIPPET_MAX 200
/* At most this many idle easy handles are kept, however high the
 * platform's concurrency. With 256, the peak RSS of `pubq serve`
 * publishing 10,000 entries stayed at 24 MB, as without the pool. */
#define WEBHOOK_IDLE_HANDLES_MAX 1024

struct webhook_adapter {
    char *url;
    char *host; /* of url, for http_exchange_new_pooled */
    struct http_easy_pool *pool;
    char *secret; /* the HMAC key; NULL when unsigned */
    size_t secret_len;
    int64_t timeout_ms;
    /* "Name: value" lines of header_NAME and secret_header_NAME options */
    char **headers;
    size_t header_count;
    /* Content-Type and `headers`, shared by every request's exchange */
    struct curl_slist *fixed_headers;
};

static void webhook_destroy(void *state)
{
    struct webhook_adapter *adapter = state;

    if (adapter == NULL)
        return;
    free(adapter->url);
    free(adapter->host);
    http_easy_pool_release(adapter->pool);
    if (adapter->secret != NULL) {
        explicit_bzero(adapter->secret, adapter->secret_len);
        free(adapter->secret);
    }
    curl_slist_free_all(adapter->fixed_headers);
    for (size_t i = 0; i < adapter->header_count; i++)
        free(adapter->headers[i]);
    free(adapter->headers);
    free(adapter);
}

/*
 * No more than `concurrency` attempts of the platform run at once, so
 * that many idle handles serve every attempt without a new one.
 */
static size_t idle_handles(const struct platform_config *platform)
{
    if (platform->concurrency == 0)
        return 1;
    if (platform->concurrency > WEBHOOK_IDLE_HANDLES_MAX)
        return WEBHOOK_IDLE_HANDLES_MAX;
    return platform->concurrency;
}

static int set_url(struct webhook_adapter *adapter,
                   const struct platform_config *platform, char *err,
                   size_t errlen)
{
    const char *url = platform_config_option(platform, "url");
    char reason[256];
    struct http_exchange *probe;

    if (url == NULL || url[0] == '\0') {
        snprintf(err, errlen,
                 "missing option url for webhook platform \"%s\": set it "
                 "to the http:// or https:// address that receives posts",
                 platform->name);
        return -1;
    }
    probe = http_exchange_new(url, WEBHOOK_DEFAULT_TIMEOUT_MS, reason,
                              sizeof reason);
    if (probe == NULL) {
        snprintf(err, errlen, "invalid url for webhook platform \"%s\": %s",
                 platform->name, reason);
        return -1;
    }
    adapter->url = strdup(url);
    adapter->host = strdup(http_exchange_host(probe));
    adapter->pool = http_easy_pool_new(idle_handles(platform));
    http_exchange_free(probe);
    if (adapter->url == NULL || adapter->host == NULL ||
        adapter->pool == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int set_secret(struct webhook_adapter *adapter,
                      const struct platform_config *platform, char *err,
                      size_t errlen)
{
    const char *name = platform_config_option(platform, "secret_env");
    const char *value;

    if (name == NULL)
        return 0;
    if (!config_is_env_name(name)) {
        snprintf(err, errlen,
                 "invalid secret_env \"%s\" for webhook platform \"%s\": "
                 "give the name of an environment variable, e.g. "
                 "WEBHOOK_SECRET",
                 name, platform->name);
        return -1;
    }
    value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        snprintf(err, errlen,
                 "environment variable %s named by secret_env of webhook "
                 "platform \"%s\" is not set or empty; export it before "
                 "starting pubq",
                 name, platform->name);
        return -1;
    }

    adapter->secret_len = strlen(value);
    adapter->secret = strdup(value);
    if (adapter->secret == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int set_timeout(struct webhook_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *text = platform_config_option(platform, "timeout");
    char reason[256];

    adapter->timeout_ms = WEBHOOK_DEFAULT_TIMEOUT_MS;
    if (text == NULL)
        return 0;
    if (timestamp_parse_duration(text, &adapter->timeout_ms, reason,
                                 sizeof reason) != 0 ||
        adapter->timeout_ms <= 0 || adapter->timeout_ms > 3600 * 1000) {
        snprintf(err, errlen,
                 "invalid timeout \"%s\" for webhook platform \"%s\": use "
                 "a duration from 1ms to 1h, e.g. 10s",
                 text, platform->name);
        return -1;
    }
    return 0;
}

/* RFC 9110 token characters, the only ones allowed in a field name. */
static int is_header_name(const char *name)
{
    if (name[0] == '\0')
        return 0;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
            return 0;
    }
    return 1;
}

static int is_reserved_header(const char *name)
{
    static const char *const reserved[] = {
        "Content-Type",      "Content-Length", "Idempotency-Key",
        "X-Pubq-Signature",  "Host",           "Expect",
        "Transfer-Encoding",
    };

    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    }
    return 0;
}

/* `key` is the option, header_NAME or secret_header_NAME. */
static int check_header(const struct platform_config *platform,
                        const char *key, const char *name, const char *value,
                        char *err, size_t errlen)
{
    if (!is_header_name(name)) {
        snprintf(err, errlen,
                 "invalid header name \"%s\" in option %s of "
                 "webhook platform \"%s\": use only RFC 9110 token "
                 "characters, letters, digits and !#$%%&'*+-.^_`|~",
                 name, key, platform->name);
        return -1;
    }
    if (is_reserved_header(name)) {
        snprintf(err, errlen,
                 "option %s of webhook platform \"%s\" sets a "
                 "header that pubq sets itself; remove it",
                 key, platform->name);
        return -1;
    }
    for (const char *p = value; *p; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t') {
            /* The value is not echoed: it may be a credential. */
            snprintf(err, errlen,
                     "invalid value for option %s of webhook "
                     "platform \"%s\": it contains CR, LF or another "
                     "control character; remove it",
                     key, platform->name);
            return -1;
        }
    }
    return 0;
}

/*
 * Rejects a second header option whose NAME differs only in case,
 * because HTTP field names ignore case and both lines would be sent.
 */
static int check_repeat(const struct webhook_adapter *adapter,
                        const struct platform_config *platform,
                        const char *key, const char *name, char *err,
                        size_t errlen)
{
    size_t length = strlen(name);

    for (size_t i = 0; i < adapter->header_count; i++) {
        const char *line = adapter->headers[i];

        if (strncasecmp(line, name, length) != 0 || line[length] != ':')
            continue;
        snprintf(err, errlen,
                 "option %s of webhook platform \"%s\" repeats the "
                 "header %.*s (header names ignore case); keep one",
                 key, platform->name, (int)length, line);
        return -1;
    }
    return 0;
}

static int add_header(struct webhook_adapter *adapter,
                      const struct platform_config *platform,
                      const char *key, const char *name, const char *value,
                      char *err, size_t errlen)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char **grown;
    char *line;

    if (check_header(platform, key, name, value, err, errlen) != 0 ||
        check_repeat(adapter, platform, key, name, err, errlen) != 0)
        return -1;

    grown =
        realloc(adapter->headers, (adapter->header_count + 1) * sizeof *grown);
    line = malloc(len);
    if (grown != NULL)
        adapter->headers = grown;
    if (grown == NULL || line == NULL) {
        free(line);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(line, len, "%s: %s", name, value);
    adapter->headers[adapter->header_count++] = line;
    return 0;
}

/* Adds the header of a secret_header_NAME option, read from its variable. */
static int add_secret_header(struct webhook_adapter *adapter,
                             const struct platform_config *platform,
                             const struct config_option *option, char *err,
                             size_t errlen)
{
    const char *name = option->key + strlen(WEBHOOK_SECRET_HEADER_PREFIX);
    char *value = NULL;
    int result;

    if (adapter_options_secret(platform, option->key, &value, err,
                               errlen) != 0)
        return -1;
    result =
        add_header(adapter, platform, option->key, name, value, err, errlen);
    adapter_options_free_secret(value);
    return result;
}

/* Builds the list of headers that every request sends. */
static int set_fixed_headers(struct webhook_adapter *adapter, char *err,
                             size_t errlen)
{
    struct curl_slist *list =
        curl_slist_append(NULL, "Content-Type: application/json");

    for (size_t i = 0; list != NULL && i < adapter->header_count; i++) {
        struct curl_slist *longer =
            curl_slist_append(list, adapter->headers[i]);

        if (longer == NULL) {
            curl_slist_free_all(list);
            list = NULL;
        }
    }
    if (list == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    adapter->fixed_headers = list;
    return 0;
}

static int read_options(struct webhook_adapter *adapter,
                        const struct platform_config *platform, char *err,
                        size_t errlen)
{
    size_t prefix = strlen(WEBHOOK_HEADER_PREFIX);
    size_t secret_prefix = strlen(WEBHOOK_SECRET_HEADER_PREFIX);

    if (adapter_options_check_known(platform, webhook_options, err, errlen) !=
        0)
        return -1;

    for (size_t i = 0; i < platform->option_count; i++) {
        const struct config_option *option = &platform->options[i];

        if (strncmp(option->key, WEBHOOK_HEADER_PREFIX, prefix) == 0) {
            if (add_header(adapter, platform, option->key,
                           option->key + prefix, option->value, err,
                           errlen) != 0)
                return -1;
        } else if (strncmp(option->key, WEBHOOK_SECRET_HEADER_PREFIX,
                           secret_prefix) == 0) {
            if (add_secret_header(adapter, platform, option, err, errlen) !=
                0)
                return -1;
        }
    }

    if (set_url(adapter, platform, err, errlen) != 0 ||
        set_secret(adapter, platform, err, errlen) != 0 ||
        set_timeout(adapter, platform, err, errlen) != 0 ||
        set_fixed_headers(adapter, err, errlen) != 0)
        return -1;
    return 0;
}

static int webhook_create(const struct platform_config *platform, void **state,
                          char *err, size_t errlen)
{
    struct webhook_adapter *adapter = calloc(1, sizeof *adapter);

    if (adapter == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (read_options(adapter, platform, err, errlen) != 0) {
        webhook_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

/* Writes "X-Pubq-Signature: sha256=<hex>" for body into line. */
static int signature_header(const struct webhook_adapter *adapter,
                            const char *body, size_t len, char *line,
                            size_t linelen)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    int used;

    if (HMAC(EVP_sha256(), adapter->secret, (int)adapter->secret_len,
             (const unsigned char *)body, len, digest, &digest_len) == NULL)
        return -1;

    used = snprintf(line, linelen, "X-Pubq-Signature: sha256=");
    for (unsigned int i = 0; i < digest_len; i++) {
        if (used < 0 || (size_t)used + 3 > linelen)
            return -1;
        used +=
            snprintf(line + used, linelen - (size_t)used, "%02x", digest[i]);
    }
    return 0;
}

static int add_request_headers(const struct webhook_adapter *adapter,
                               struct http_exchange *ex,
                               const struct publish_attempt *attempt,
                               const char *body, size_t len)
{
    static const char key_name[] = "Idempotency-Key: ";
    const char *key = attempt->entry->idempotency_key;
    char line[STORE_KEY_MAX + 64];
    size_t key_len = strnlen(key, STORE_KEY_MAX - 1);

    http_exchange_share_headers(ex, adapter->fixed_headers);
    /* memcpy, not snprintf: this runs for every attempt. */
    memcpy(line, key_name, sizeof key_name - 1);
    memcpy(line + sizeof key_name - 1, key, key_len);
    line[sizeof key_name - 1 + key_len] = '\0';
    if (http_exchange_add_header(ex, line) != 0)
        return -1;
    if (adapter->secret != NULL &&
        (signature_header(adapter, body, len, line, sizeof line) != 0 ||
         http_exchange_add_header(ex, line) != 0))
        return -1;
    return 0;
}

static enum adapter_step
begin_attempt(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct webhook_adapter *adapter = state;
    char reason[256];
    size_t len = 0;
    char *body = adapter_payload_dump(attempt, &len);
    struct http_exchange *ex = NULL;

    if (body == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "cannot serialise the content of entry %lld "
                            "as JSON: the content must be a JSON object",
                            (long long)attempt->entry->id);
        return ADAPTER_DONE;
    }

    ex = http_exchange_new_pooled(adapter->pool, adapter->url, adapter->host,
                                  adapter->timeout_ms, reason, sizeof reason);
    if (ex == NULL || add_request_headers(adapter, ex, attempt, body, len) ||
        http_exchange_set_body(ex, body, len) != 0 ||
        (*easy = http_exchange_easy(ex)) == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot build the webhook request: %s",
                            ex == NULL ? reason : "out of memory");
        http_exchange_free(ex);
        free(body);
        return ADAPTER_DONE;
    }
    free(body);
    attempt->step_state = ex;
    return ADAPTER_HTTP;
}

/* Copies a string or integer field of a JSON reply; too long: skipped. */
static void copy_reply_field(json_t *reply, const char *key, char *out,
                             size_t outlen)
{
    json_t *value = json_object_get(reply, key);

    if (json_is_string(value) && json_string_length(value) < outlen)
        memcpy(out, json_string_value(value), json_string_length(value) + 1);
    else if (json_is_integer(value))
        snprintf(out, outlen, "%lld", (long long)json_integer_value(value));
}

static void read_reply_ids(struct http_exchange *ex,
                           struct adapter_result *result)
{
    size_t len = 0;
    const char *body = http_exchange_body(ex, &len);
    json_t *reply = json_loadb(body, len, 0, NULL);

    if (json_is_object(reply)) {
        copy_reply_field(reply, "id", result->post_id, sizeof result->post_id);
        copy_reply_field(reply, "url", result->post_url,
                         sizeof result->post_url);
    }
    json_decref(reply);
}

static void redact_text(const struct webhook_adapter *adapter, char *text);

/*
 * Copies the start of the body with control characters replaced and
 * the adapter's secrets removed. The secrets go before the text is cut
 * to outlen, so that a secret across the cut leaves no part behind.
 */
static void body_snippet(const struct webhook_adapter *adapter,
                         struct http_exchange *ex, char *out, size_t outlen)
{
    char window[WEBHOOK_SNIPPET_WINDOW + 1];
    size_t len = 0;
    const char *body = http_exchange_body(ex, &len);
    size_t n = len < sizeof window - 1 ? len : sizeof window - 1;

    for (size_t i = 0; i < n; i++)
        window[i] = (unsigned char)body[i] < 0x20 ? ' ' : body[i];
    window[n] = '\0';
    redact_text(adapter, window);
    n = strlen(window) < outlen - 1 ? strlen(window) : outlen - 1;
    memcpy(out, window, n);
    out[n] = '\0';
}

/* Reads Retry-After; a malformed one is ignored and described in note. */
static void read_retry_after(struct http_exchange *ex,
                             struct publish_attempt *attempt, char *note,
                             size_t notelen)
{
    const char *value = http_exchange_header(ex, "Retry-After");
    long status = http_exchange_status(ex);
    struct adapter_result *result = &attempt->result;
    char reason[200];
    int64_t delay_ms;

    note[0] = '\0';
    if (status == 429)
        result->rate_limited = 1;
    if (value == NULL || (status != 429 && status != 503))
        return;

    if (retry_after_parse(value, attempt->now, &delay_ms, reason,
                          sizeof reason) != 0) {
        snprintf(note, notelen, "; ignored malformed Retry-After: %s", reason);
        return;
    }
    result->rate_limited = 1;
    result->hint_ms = delay_ms;
}

static void pause_platform(struct adapter_result *result, const char *why)
{
    result->pause_ms = -1;
    snprintf(result->pause_reason, sizeof result->pause_reason, "%s", why);
}

static void classify_status(const struct webhook_adapter *adapter,
                            struct http_exchange *ex,
                            struct publish_attempt *attempt)
{
    struct adapter_result *result = &attempt->result;
    long status = http_exchange_status(ex);
    char snippet[WEBHOOK_SNIPPET_MAX + 1];
    char note[256];
    char why[96];

    result->http_status = (int)status;
    result->outcome = outcome_from_http_status(status);
    if (result->outcome == OUTCOME_SUCCESS) {
        read_reply_ids(ex, result);
        return;
    }

    read_retry_after(ex, attempt, note, sizeof note);
    body_snippet(adapter, ex, snippet, sizeof snippet);
    adapter_result_fail(result, result->outcome,
                        "webhook %s returned HTTP %ld (%s)%s%s%s",
                        http_exchange_host(ex), status,
                        outcome_http_reason(status),
                        adapter_reply_colon(snippet), snippet, note);

    if (status == 410) {
        pause_platform(result, "webhook endpoint is gone (HTTP 410)");
    } else if (status == 401 || status == 403) {
        snprintf(why, sizeof why, "authentication rejected (HTTP %ld)", status);
        pause_platform(result, why);
    }
}

static enum adapter_step handle_response(void *state,
                                         struct publish_attempt *attempt,
                                         CURL *easy, CURLcode code, CURL **next)
{
    struct http_exchange *ex = attempt->step_state;
    long status = http_exchange_status(ex);

    code = http_exchange_result(ex, code);
    char reason[STORE_TEXT_MAX / 2];

    (void)easy;
    (void)next;
    if (code == CURLE_OK) {
        classify_status(state, ex, attempt);
        return ADAPTER_DONE;
    }

    attempt->result.http_status = (int)status;
    if (http_exchange_truncated(ex) && status != 0 &&
        outcome_from_http_status(status) != OUTCOME_SUCCESS) {
        /* The status alone classifies a failure; the body only adds detail. */
        classify_status(state, ex, attempt);
        return ADAPTER_DONE;
    }
    adapter_result_fail(
        &attempt->result,
        http_exchange_transport_outcome(ex, code, reason, sizeof reason),
        "webhook %s", reason);
    return ADAPTER_DONE;
}

/*
 * Removes the signing key, the URL (whose path or query may hold a
 * token) and the values of the extra headers (often credentials) from
 * the result on every path: a receiver may echo any of them.
 */
static void redact_secrets(void *state, struct adapter_result *result)
{
    redact_text(state, result->error);
    redact_text(state, result->pause_reason);
    redact_text(state, result->post_id);
    redact_text(state, result->post_url);
}

/*
 * Removes `secret` from text as written, as a JSON string writes it
 * ("/" as "\/") and percent-encoded, the forms in which receivers echo
 * a value they were sent.
 */
static void redact_forms(char *text, const char *secret)
{
    char escaped[STORE_TEXT_MAX];
    char encoded[STORE_TEXT_MAX];
    size_t e = 0;
    size_t u = 0;

    adapter_reply_redact(text, secret);
    for (const char *p = secret; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (e + 3 >= sizeof escaped || u + 4 >= sizeof encoded)
            return;
        if (c == '/')
            escaped[e++] = '\\';
        escaped[e++] = (char)c;
        if (isalnum(c) || strchr("-._~", c) != NULL)
            encoded[u++] = (char)c;
        else
            u += (size_t)snprintf(encoded + u, sizeof encoded - u, "%%%02X",
                                  c);
    }
    escaped[e] = '\0';
    encoded[u] = '\0';
    adapter_reply_redact(text, escaped);
    adapter_reply_redact(text, encoded);
}

/*
 * Removes the signing key, the URL (whose path or query may hold a
 * token) and the values of the extra headers (often credentials) from
 * `text`: a receiver may echo any of them. Values shorter than 8 bytes
 * are left, because they would match ordinary words.
 */
static void redact_text(const struct webhook_adapter *adapter, char *text)
{
    adapter_reply_redact(text, adapter->secret);
    adapter_reply_redact(text, adapter->url);
    /* add_header writes "NAME: VALUE", and a NAME contains no ':'. */
    for (size_t i = 0; i < adapter->header_count; i++) {
        const char *separator = strchr(adapter->headers[i], ':');
        const char *credential;

        if (separator == NULL)
            continue;
        redact_forms(text, separator + 2);

        /* "Bearer TOKEN", "Basic BASE64": a receiver may echo only the
         * credential after the scheme. */
        credential = strchr(separator + 2, ' ');
        if (credential != NULL)
            redact_forms(text, credential + 1);
    }
}

const struct adapter_ops adapter_webhook_ops = {
    .type = "webhook",
    .options = webhook_options,
    .start_builds_only = 1,
    .create = webhook_create,
    .destroy = webhook_destroy,
    .check_content = NULL,
    .start = begin_attempt,
    .on_response = handle_response,
    .redact = redact_secrets,
    .end = adapter_end_exchange,
};
