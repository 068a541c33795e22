/*
 * The `slack` adapter: posts a message through an incoming webhook
 * (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks).
 * The webhook URL is a secret, read from the environment and shown only
 * as "slack webhook". The options, limits and error mapping are
 * documented in docs/platforms.md.
 */
#include "publish/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_date.h"
#include "intake/content_limits.h"
#include "publish/adapter_options.h"
#include "publish/adapter_reply.h"
#include "publish/http_exchange.h"
#include "publish/post_text.h"
#include "util/banned.h"

#define SLACK_DEFAULT_TIMEOUT_MS 15000
/*
 * "Slack will truncate messages containing more than 40,000 characters"
 * (https://docs.slack.dev/reference/methods/chat.postMessage, Truncating
 * content). pubq rejects longer posts at intake instead.
 */
#define SLACK_MAX_TEXT 40000
#define SLACK_SNIPPET_MAX 200
#define SLACK_TARGET "slack webhook"

struct slack_adapter {
    char *url;    /* the webhook URL: a secret */
    char *secret; /* its last path segment, removed from error text */
    int64_t timeout_ms;
};

/*
 * The plain-text error bodies of incoming webhooks (Handling errors, on
 * the page named at the top of this file, and
 * https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
 * All are permanent because the same request would get the same response. Those
 * about the webhook, workspace or channel rather than the message pause
 * the platform, because every other post would fail the same way.
 */
struct slack_error {
    const char *code;
    const char *pause_reason; /* NULL: fail this entry only */
};

static const struct slack_error slack_errors[] = {
    {"invalid_payload", NULL},
    {"no_text", NULL},
    {"missing_text_or_fallback_or_attachments", NULL},
    {"too_many_attachments", NULL},
    {"user_not_found", "slack user of the webhook not found (user_not_found)"},
    {"channel_not_found", "slack channel not found (channel_not_found)"},
    {"channel_is_archived", "slack channel is archived (channel_is_archived)"},
    {"action_prohibited", "an admin restricted posting with this slack webhook "
                          "(action_prohibited)"},
    {"posting_to_general_channel_denied",
     "posting to #general is restricted for this slack webhook "
     "(posting_to_general_channel_denied)"},
    {"no_service", "slack webhook disabled, removed or invalid (no_service)"},
    {"no_service_id", "slack webhook URL has an invalid service id "
                      "(no_service_id)"},
    {"no_active_hooks", "slack webhook is disabled (no_active_hooks)"},
    {"no_team", "slack workspace missing or invalid (no_team)"},
    {"team_disabled", "slack workspace is no longer active (team_disabled)"},
    {"invalid_token", "slack webhook token expired or invalid (invalid_token)"},
};

static const char *const slack_options[] = {
    "webhook_url_env",
    "timeout",
    NULL,
};

static void slack_destroy(void *state)
{
    struct slack_adapter *adapter = state;

    if (adapter == NULL)
        return;
    adapter_options_free_secret(adapter->url);
    adapter_options_free_secret(adapter->secret);
    free(adapter);
}

/* Returns a copy of the URL's last path segment (the webhook's secret). */
static char *last_segment(const char *url)
{
    size_t end = strcspn(url, "?#");
    size_t start = end;

    while (start > 0 && url[start - 1] != '/')
        start--;
    return strndup(url + start, end - start);
}

static int set_webhook(struct slack_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *variable = platform_config_option(platform, "webhook_url_env");
    char what[128];

    if (adapter_options_secret(platform, "webhook_url_env", &adapter->url, err,
                               errlen) != 0)
        return -1;
    snprintf(what, sizeof what, "webhook URL in %s", variable);
    if (adapter_options_check_url(platform, adapter->url, what, 1, err,
                                  errlen) != 0)
        return -1;

    adapter->secret = last_segment(adapter->url);
    if (adapter->secret == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int slack_create(const struct platform_config *platform, void **state,
                        char *err, size_t errlen)
{
    struct slack_adapter *adapter = calloc(1, sizeof *adapter);

    if (adapter == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (adapter_options_check_known(platform, slack_options, err, errlen) !=
            0 ||
        set_webhook(adapter, platform, err, errlen) != 0 ||
        adapter_options_timeout(platform, SLACK_DEFAULT_TIMEOUT_MS,
                                &adapter->timeout_ms, err, errlen) != 0) {
        slack_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

/*
 * Builds the escaped message text and checks it against the limit.
 * NOTE: Slack does not say whether it counts before or after escaping,
 * nor in which unit. Counting the escaped text in code points can reject
 * a post that Slack would accept, but never lets a truncated one through.
 */
static char *build_text(const json_t *content, size_t *length, char *err,
                        size_t errlen)
{
    size_t post_length = 0;
    char *post = post_text_compose(content, &post_length);
    char *text = NULL;
    int64_t count;

    if (post != NULL)
        text = post_text_slack_escape(post, post_length, length);
    free(post);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    count = content_code_point_count(text, *length);
    if (*length == 0)
        snprintf(err, errlen,
                 "nothing to post: the content has no text or link, and "
                 "pubq does not send media to slack; add text");
    else if (count < 0)
        snprintf(err, errlen, "text is not valid UTF-8; send UTF-8");
    else if (count > SLACK_MAX_TEXT)
        snprintf(err, errlen,
                 "text is %lld characters once &, < and > are escaped for "
                 "slack, over the slack limit of %d; shorten the text",
                 (long long)count, SLACK_MAX_TEXT);
    else
        return text;
    free(text);
    return NULL;
}

static int slack_check_content(const struct platform_config *platform,
                               const json_t *content, char *err, size_t errlen)
{
    size_t length = 0;
    char *text = build_text(content, &length, err, errlen);

    (void)platform;
    free(text);
    return text != NULL ? 0 : -1;
}

static int build_request(struct slack_adapter *adapter,
                         struct publish_attempt *attempt, const char *text,
                         size_t length, CURL **easy)
{
    char reason[256] = "out of memory";
    char key[STORE_KEY_MAX + 32];
    json_t *object = json_pack("{s:s%}", "text", text, length);
    char *body = object != NULL ? json_dumps(object, JSON_COMPACT) : NULL;
    struct http_exchange *ex = NULL;

    json_decref(object);
    /* Slack ignores Idempotency-Key; it is sent for proxies and logs. */
    snprintf(key, sizeof key, "Idempotency-Key: %s",
             attempt->entry->idempotency_key);
    if (body != NULL)
        ex = http_exchange_new(adapter->url, adapter->timeout_ms, reason,
                               sizeof reason);
    if (ex == NULL ||
        http_exchange_add_header(ex, "Content-Type: application/json") != 0 ||
        http_exchange_add_header(ex, key) != 0 ||
        http_exchange_set_body(ex, body, strlen(body)) != 0 ||
        (*easy = http_exchange_easy(ex)) == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot build the slack webhook request: %s",
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
 * Incoming webhooks cannot deduplicate, and their reply carries no
 * message ts to look up, so an attempt after an unknown outcome
 * (previous_unknown) posts again: it runs only because on_unknown = retry
 * or an operator chose "retry anyway", and it may post a second message.
 */
static enum adapter_step
begin_attempt(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct slack_adapter *adapter = state;
    char reason[STORE_TEXT_MAX / 2];
    size_t length = 0;
    char *text = build_text(attempt->content, &length, reason, sizeof reason);
    enum adapter_step step = ADAPTER_DONE;

    if (text == NULL)
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "content rejected for slack: %s", reason);
    else if (build_request(adapter, attempt, text, length, easy) == 0)
        step = ADAPTER_HTTP;
    free(text);
    return step;
}

static const struct slack_error *find_error(const char *code)
{
    for (size_t i = 0; i < sizeof slack_errors / sizeof slack_errors[0]; i++) {
        if (strcmp(slack_errors[i].code, code) == 0)
            return &slack_errors[i];
    }
    return NULL;
}

/* Reads Retry-After of a 429 or 503; a malformed one goes into note. */
static void read_retry_after(struct http_exchange *ex,
                             struct publish_attempt *attempt, char *note,
                             size_t notelen)
{
    const char *value = http_exchange_header(ex, "Retry-After");
    long status = http_exchange_status(ex);
    char reason[200];
    int64_t delay_ms;

    if (status == 429)
        attempt->result.rate_limited = 1;
    if (value == NULL || (status != 429 && status != 503))
        return;
    if (retry_after_parse(value, attempt->now, &delay_ms, reason,
                          sizeof reason) != 0) {
        snprintf(note, notelen, "; ignored malformed Retry-After: %s", reason);
        return;
    }
    attempt->result.rate_limited = 1;
    attempt->result.hint_ms = delay_ms;
}

/* Pauses for a failure not in the table that still concerns the hook. */
static void pause_for_status(struct adapter_result *result, long status)
{
    if (status == 401 || status == 403)
        adapter_reply_pause(result, "slack webhook rejected (HTTP %ld)",
                            status);
    else if (status == 404 || status == 410)
        adapter_reply_pause(result, "slack webhook not found (HTTP %ld)",
                            status);
}

static void classify(struct http_exchange *ex, struct publish_attempt *attempt)
{
    struct adapter_result *result = &attempt->result;
    long status = http_exchange_status(ex);
    size_t length = 0;
    const char *body = http_exchange_body(ex, &length);
    char code[SLACK_SNIPPET_MAX + 1];
    char note[256] = "";
    const struct slack_error *known;

    /* Slack returns 200 "ok" once the message is posted, with no id. */
    result->http_status = (int)status;
    result->outcome = outcome_from_http_status(status);
    if (result->outcome == OUTCOME_SUCCESS)
        return;

    adapter_reply_snippet(body, length, code, sizeof code);
    known = find_error(code);
    if (known != NULL)
        result->outcome = OUTCOME_PERMANENT;
    read_retry_after(ex, attempt, note, sizeof note);
    adapter_result_fail(
        result, result->outcome, SLACK_TARGET " returned HTTP %ld (%s)%s%s%s",
        status, known != NULL ? "slack error" : outcome_http_reason(status),
        adapter_reply_colon(code), code, note);

    if (known != NULL && known->pause_reason != NULL)
        adapter_reply_pause(result, "%s", known->pause_reason);
    else if (known == NULL)
        pause_for_status(result, status);
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
    adapter_reply_transport_failure(ex, code, SLACK_TARGET, &attempt->result);
    return ADAPTER_DONE;
}

/*
 * Removes the webhook URL and its secret path segment from the result
 * on every path: a server may echo them in an error body.
 */
static void redact_secrets(void *state, struct adapter_result *result)
{
    const struct slack_adapter *adapter = state;

    adapter_reply_redact_result(result, adapter->url);
    adapter_reply_redact_result(result, adapter->secret);
}

const struct adapter_ops adapter_slack_ops = {
    .type = "slack",
    .options = slack_options,
    .create = slack_create,
    .destroy = slack_destroy,
    .check_content = slack_check_content,
    .start = begin_attempt,
    .on_response = handle_response,
    .redact = redact_secrets,
    .end = adapter_end_exchange,
};
