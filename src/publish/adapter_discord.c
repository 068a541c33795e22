/*
 * The `discord` adapter: posts a message through a channel webhook with
 * POST {webhook URL}?wait=true
 * (https://discord.com/developers/docs/resources/webhook#execute-webhook).
 * The webhook URL contains the webhook's token, so it is a secret: it is
 * read from the environment and shown only as "discord webhook". The
 * options, limits and error mapping are documented in docs/platforms.md.
 */
#include "publish/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/http_date.h"
#include "core/rate_limit_hint.h"
#include "intake/content_limits.h"
#include "publish/adapter_options.h"
#include "publish/adapter_reply.h"
#include "publish/http_exchange.h"
#include "publish/post_text.h"
#include "util/banned.h"

#define DISCORD_DEFAULT_TIMEOUT_MS 15000
/* Message content: "up to 2000 characters" (execute webhook, JSON params). */
#define DISCORD_MAX_CONTENT 2000
/* Webhook names are 1-80 characters (webhook object, `name`). */
#define DISCORD_MAX_USERNAME 80
#define DISCORD_WEBHOOKS_SEGMENT "/webhooks/"
#define DISCORD_MESSAGE_URL "https://discord.com/channels/%s/%s/%s"
#define DISCORD_SNIPPET_MAX 300
#define DISCORD_TARGET "discord webhook"

struct discord_adapter {
    char *url;      /* the webhook URL with wait=true: a secret */
    char *token;    /* its token segment, removed from error text */
    char *username; /* NULL when unset */
    int64_t timeout_ms;
};

static const char *const discord_options[] = {
    "webhook_url_env",
    "username",
    "timeout",
    NULL,
};

static void discord_destroy(void *state)
{
    struct discord_adapter *adapter = state;

    if (adapter == NULL)
        return;
    adapter_options_free_secret(adapter->url);
    adapter_options_free_secret(adapter->token);
    free(adapter->username);
    free(adapter);
}

/*
 * Finds the token in a webhook URL's path ".../webhooks/{id}/{token}":
 * the id is digits and the token the last segment. Returns a copy of the
 * token, or NULL when the path has another shape.
 */
static char *webhook_token(const char *url)
{
    const char *segment = strstr(url, DISCORD_WEBHOOKS_SEGMENT);
    const char *id;
    const char *token;
    size_t length;

    if (segment == NULL)
        return NULL;
    id = segment + strlen(DISCORD_WEBHOOKS_SEGMENT);
    token = id;
    while (*token >= '0' && *token <= '9')
        token++;
    if (token == id || *token != '/')
        return NULL;
    token++;
    length = strcspn(token, "/?#");
    if (length == 0 || (token[length] != '\0' && token[length] != '?'))
        return NULL;
    return strndup(token, length);
}

/* Appends wait=true, so that Discord returns the created message. */
static char *waiting_url(const char *url)
{
    size_t length = strlen(url) + sizeof "&wait=true";
    char *result = malloc(length);

    if (result != NULL)
        snprintf(result, length, "%s%swait=true", url,
                 strchr(url, '?') != NULL ? "&" : "?");
    return result;
}

static int set_webhook(struct discord_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *variable = platform_config_option(platform, "webhook_url_env");
    char what[128];
    char *url = NULL;
    int result = -1;

    if (adapter_options_secret(platform, "webhook_url_env", &url, err,
                               errlen) != 0)
        return -1;
    snprintf(what, sizeof what, "webhook URL in %s", variable);
    if (adapter_options_check_url(platform, url, what, 1, err, errlen) != 0)
        goto done;

    adapter->token = webhook_token(url);
    if (adapter->token == NULL || strchr(url, '#') != NULL) {
        snprintf(err, errlen,
                 "invalid %s of discord platform \"%s\": it must have the "
                 "form https://discord.com/api/webhooks/ID/TOKEN; copy it "
                 "from the channel's Integrations settings",
                 what, platform->name);
        goto done;
    }
    adapter->url = waiting_url(url);
    if (adapter->url == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    result = 0;

done:
    adapter_options_free_secret(url);
    return result;
}

static int set_username(struct discord_adapter *adapter,
                        const struct platform_config *platform, char *err,
                        size_t errlen)
{
    const char *username = platform_config_option(platform, "username");
    int64_t length;

    if (username == NULL)
        return 0;
    length = content_code_point_count(username, strlen(username));
    if (length < 1 || length > DISCORD_MAX_USERNAME) {
        snprintf(err, errlen,
                 "invalid username for discord platform \"%s\": use 1 to "
                 "%d characters of UTF-8",
                 platform->name, DISCORD_MAX_USERNAME);
        return -1;
    }
    adapter->username = strdup(username);
    if (adapter->username == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int discord_create(const struct platform_config *platform, void **state,
                          char *err, size_t errlen)
{
    struct discord_adapter *adapter = calloc(1, sizeof *adapter);

    if (adapter == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (adapter_options_check_known(platform, discord_options, err, errlen) !=
            0 ||
        set_webhook(adapter, platform, err, errlen) != 0 ||
        set_username(adapter, platform, err, errlen) != 0 ||
        adapter_options_timeout(platform, DISCORD_DEFAULT_TIMEOUT_MS,
                                &adapter->timeout_ms, err, errlen) != 0) {
        discord_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

/*
 * Checks the message against Discord's 2000-character limit.
 * NOTE: Discord's documentation says "characters" without naming the
 * unit; code points are counted here.
 */
static int check_post(const char *post, size_t length, int link_added,
                      char *err, size_t errlen)
{
    int64_t count = content_code_point_count(post, length);

    if (length == 0) {
        snprintf(err, errlen,
                 "nothing to post: the content has no text or link, and "
                 "pubq does not send media to discord; add text");
        return -1;
    }
    if (count < 0) {
        snprintf(err, errlen, "text is not valid UTF-8; send UTF-8");
        return -1;
    }
    if (count > DISCORD_MAX_CONTENT) {
        snprintf(err, errlen,
                 "text%s is %lld characters, over the discord limit of %d; "
                 "shorten the text",
                 link_added ? " with the link appended" : "", (long long)count,
                 DISCORD_MAX_CONTENT);
        return -1;
    }
    return 0;
}

static int link_was_added(const json_t *content, size_t post_length)
{
    const json_t *text = json_object_get(content, "text");

    return post_length > (json_is_string(text) ? json_string_length(text) : 0);
}

static int discord_check_content(const struct platform_config *platform,
                                 const json_t *content, char *err,
                                 size_t errlen)
{
    size_t length = 0;
    char *post = post_text_compose(content, &length);
    int result;

    (void)platform;
    if (post == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    result =
        check_post(post, length, link_was_added(content, length), err, errlen);
    free(post);
    return result;
}

/*
 * Serialises {"content": ..., "allowed_mentions": {"parse": []}}: with an
 * empty parse list a scheduled post never pings @everyone, @here, a role
 * or a user, whatever its text contains.
 */
static char *request_body(const struct discord_adapter *adapter,
                          const char *post, size_t length, size_t *body_length)
{
    json_t *body = json_pack("{s:s%, s:{s:[]}}", "content", post, length,
                             "allowed_mentions", "parse");
    char *text = NULL;

    if (body == NULL)
        return NULL;
    if (adapter->username == NULL ||
        json_object_set_new(body, "username", json_string(adapter->username)) ==
            0)
        text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text != NULL)
        *body_length = strlen(text);
    return text;
}

static int build_request(struct discord_adapter *adapter,
                         struct publish_attempt *attempt, const char *post,
                         size_t length, CURL **easy)
{
    char reason[256] = "out of memory";
    char key[STORE_KEY_MAX + 32];
    size_t body_length = 0;
    char *body = request_body(adapter, post, length, &body_length);
    struct http_exchange *ex = NULL;

    /* Discord ignores Idempotency-Key; it is sent for proxies and logs. */
    snprintf(key, sizeof key, "Idempotency-Key: %s",
             attempt->entry->idempotency_key);
    if (body != NULL)
        ex = http_exchange_new(adapter->url, adapter->timeout_ms, reason,
                               sizeof reason);
    if (ex == NULL ||
        http_exchange_add_header(ex, "Content-Type: application/json") != 0 ||
        http_exchange_add_header(ex, key) != 0 ||
        http_exchange_set_body(ex, body, body_length) != 0 ||
        (*easy = http_exchange_easy(ex)) == NULL) {
        /* reason never quotes the URL: http_exchange_new shows no URL. */
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot build the discord webhook request: %s",
                            reason);
        http_exchange_free(ex);
        free(body);
        return -1;
    }
    free(body);
    attempt->step_state = ex;
    return 0;
}

/*
 * Discord webhooks cannot deduplicate and cannot be searched, so an
 * attempt after an unknown outcome (previous_unknown) posts again: it
 * runs only because on_unknown = retry or an operator chose "retry
 * anyway", and it may post a second message.
 */
static enum adapter_step
begin_attempt(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct discord_adapter *adapter = state;
    char reason[STORE_TEXT_MAX / 2];
    size_t length = 0;
    char *post = post_text_compose(attempt->content, &length);
    enum adapter_step step = ADAPTER_DONE;

    if (post == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "out of memory building the discord message");
        return ADAPTER_DONE;
    }
    if (check_post(post, length, link_was_added(attempt->content, length),
                   reason, sizeof reason) != 0)
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "content rejected for discord: %s", reason);
    else if (build_request(adapter, attempt, post, length, easy) == 0)
        step = ADAPTER_HTTP;
    free(post);
    return step;
}

/* Stores the message id and, when the reply names the guild, its link. */
static void read_message(const json_t *reply, struct adapter_result *result)
{
    char channel[64];
    char guild[64];

    /*
     * With wait=true a 2xx means the message was saved, so an unreadable
     * reply stays a success without an id.
     */
    if (adapter_reply_field(reply, "id", result->post_id,
                            sizeof result->post_id) != 0 ||
        adapter_reply_field(reply, "channel_id", channel, sizeof channel) !=
            0 ||
        adapter_reply_field(reply, "guild_id", guild, sizeof guild) != 0)
        return;
    snprintf(result->post_url, sizeof result->post_url, DISCORD_MESSAGE_URL,
             guild, channel, result->post_id);
}

/*
 * Finds the first message in the nested "errors" object of a 400 reply,
 * such as {"content": {"_errors": [{"message": "Must be 2000 or fewer in
 * length."}]}}, and writes "content: <message>" into out.
 */
static int find_field_error(const json_t *errors, const char *path, int depth,
                            char *out, size_t outlen)
{
    const char *key;
    const json_t *value;

    if (!json_is_object(errors) || depth > 8)
        return -1;
    json_object_foreach((json_t *)errors, key, value)
    {
        char nested[128];
        const char *message = json_string_value(
            json_object_get(json_array_get(value, 0), "message"));

        if (strcmp(key, "_errors") == 0 && message != NULL) {
            snprintf(out, outlen, "%s: %s", path, message);
            return 0;
        }
        snprintf(nested, sizeof nested, "%s%s%s", path, path[0] ? "." : "",
                 key);
        if (find_field_error(value, nested, depth + 1, out, outlen) == 0)
            return 0;
    }
    return -1;
}

/* Writes Discord's "message (code N)" and the first field error, if any. */
static void error_text(const json_t *reply, struct http_exchange *ex, char *out,
                       size_t outlen)
{
    const char *message = json_string_value(json_object_get(reply, "message"));
    const json_t *code = json_object_get(reply, "code");
    char field[200] = "";
    char snippet[DISCORD_SNIPPET_MAX + 1];
    size_t length = 0;
    const char *body = http_exchange_body(ex, &length);

    if (message == NULL) {
        adapter_reply_snippet(body, length, out, outlen);
        return;
    }
    adapter_reply_snippet(message, strlen(message), snippet, sizeof snippet);
    if (find_field_error(json_object_get(reply, "errors"), "", 0, field,
                         sizeof field) == 0)
        snprintf(out, outlen, "%s (code %lld; %s)", snippet,
                 (long long)json_integer_value(code), field);
    else if (json_is_integer(code))
        snprintf(out, outlen, "%s (code %lld)", snippet,
                 (long long)json_integer_value(code));
    else
        snprintf(out, outlen, "%s", snippet);
}

/*
 * Reads the wait of a 429 (https://discord.com/developers/docs/topics/
 * rate-limits): the body's float retry_after, else the
 * X-RateLimit-Reset-After header, else Retry-After (a Cloudflare ban
 * returns Retry-After and no JSON). A malformed value is ignored
 * and described in note.
 */
static void read_rate_limit(const json_t *reply, struct http_exchange *ex,
                            struct adapter_result *result, int64_t now,
                            char *note, size_t notelen)
{
    const json_t *retry_after = json_object_get(reply, "retry_after");
    const char *reset_after =
        http_exchange_header(ex, "X-RateLimit-Reset-After");
    const char *header = http_exchange_header(ex, "Retry-After");
    char reason[200] = "";
    int64_t delay_ms = -1;
    int parsed = -1;

    result->rate_limited = 1;
    if (json_is_number(retry_after))
        parsed = rate_limit_from_seconds(json_number_value(retry_after),
                                         &delay_ms, reason, sizeof reason);
    if (parsed != 0 && reset_after != NULL)
        parsed = rate_limit_parse_float_seconds(reset_after, &delay_ms, reason,
                                                sizeof reason);
    if (parsed != 0 && header != NULL)
        parsed =
            retry_after_parse(header, now, &delay_ms, reason, sizeof reason);

    if (parsed == 0)
        result->hint_ms = delay_ms;
    else if (reason[0] != '\0')
        snprintf(note, notelen, "; ignored malformed rate-limit wait: %s",
                 reason);
}

static int is_global_limit(const json_t *reply, struct http_exchange *ex)
{
    const char *header = http_exchange_header(ex, "X-RateLimit-Global");

    return json_is_true(json_object_get(reply, "global")) ||
           (header != NULL && strcasecmp(header, "true") == 0);
}

static void classify_failure(struct http_exchange *ex, const json_t *reply,
                             struct publish_attempt *attempt)
{
    struct adapter_result *result = &attempt->result;
    long status = http_exchange_status(ex);
    char message[DISCORD_SNIPPET_MAX + 256];
    char note[256] = "";

    if (status == 429)
        read_rate_limit(reply, ex, result, attempt->now, note, sizeof note);
    error_text(reply, ex, message, sizeof message);
    adapter_result_fail(
        result, result->outcome,
        DISCORD_TARGET " returned HTTP %ld (%s%s)%s%s%s", status,
        outcome_http_reason(status),
        status == 429 && is_global_limit(reply, ex) ? ", global limit" : "",
        adapter_reply_colon(message), message, note);

    if (status == 404)
        adapter_reply_pause(result, "webhook deleted (HTTP 404)");
    else if (status == 401)
        adapter_reply_pause(result, "webhook token rejected (HTTP 401)");
    else if (status == 403)
        adapter_reply_pause(result, "webhook not allowed to post (HTTP 403)");
}

static void classify(struct http_exchange *ex, struct publish_attempt *attempt)
{
    struct adapter_result *result = &attempt->result;
    long status = http_exchange_status(ex);
    size_t length = 0;
    const char *body = http_exchange_body(ex, &length);
    json_t *reply = json_loadb(body, length, 0, NULL);

    result->http_status = (int)status;
    result->outcome = outcome_from_http_status(status);
    if (result->outcome == OUTCOME_SUCCESS)
        read_message(reply, result);
    else
        classify_failure(ex, reply, attempt);
    json_decref(reply);
}

static enum adapter_step handle_response(void *state,
                                         struct publish_attempt *attempt,
                                         CURL *easy, CURLcode code, CURL **next)
{
    struct http_exchange *ex = attempt->step_state;
    long status = http_exchange_status(ex);

    code = http_exchange_result(ex, code);

    (void)state;
    (void)easy;
    (void)next;
    if (code == CURLE_OK ||
        (http_exchange_truncated(ex) && status != 0 &&
         outcome_from_http_status(status) != OUTCOME_SUCCESS)) {
        classify(ex, attempt);
        return ADAPTER_DONE;
    }
    adapter_reply_transport_failure(ex, code, DISCORD_TARGET, &attempt->result);
    return ADAPTER_DONE;
}

/*
 * Removes the webhook URL and its token from the result on every path:
 * a server may echo them in an error message or in the reply fields
 * that become the post id and URL.
 */
static void redact_secrets(void *state, struct adapter_result *result)
{
    const struct discord_adapter *adapter = state;

    adapter_reply_redact_result(result, adapter->url);
    adapter_reply_redact_result(result, adapter->token);
}

const struct adapter_ops adapter_discord_ops = {
    .type = "discord",
    .options = discord_options,
    .create = discord_create,
    .destroy = discord_destroy,
    .check_content = discord_check_content,
    .start = begin_attempt,
    .on_response = handle_response,
    .redact = redact_secrets,
    .end = adapter_end_exchange,
};
