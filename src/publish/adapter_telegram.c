/*
 * The `telegram` adapter: sends the text as a message from a bot with
 * the Bot API's sendMessage (https://core.telegram.org/bots/api).
 *
 * The bot token is part of the request path, so no URL is ever shown:
 * messages name at most the host and the method, with three asterisks
 * in place of the token. When a group has
 * become a supergroup, Telegram returns 400 with
 * parameters.migrate_to_chat_id; the adapter resends once to the new
 * chat in the same attempt and keeps the new id in the store's platform
 * data, as {"chat_id": NEW, "migrated_from": CONFIGURED}, so later posts
 * go there until the configured chat_id changes.
 */
#include "publish/adapter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_value.h"
#include "core/rate_limit_hint.h"
#include "core/timestamp.h"
#include "intake/content_limits.h"
#include "publish/adapter_reply.h"
#include "publish/http_exchange.h"
#include "util/log.h"
#include "publish/adapter_options.h"
#include "util/banned.h"

#define TELEGRAM_DEFAULT_API "https://api.telegram.org"
#define TELEGRAM_DEFAULT_TIMEOUT_MS 15000
#define TELEGRAM_MAX_TIMEOUT_MS (3600 * 1000)
#define TELEGRAM_CHAT_MAX 128
#define TELEGRAM_DESCRIPTION_MAX 200

struct telegram_adapter {
    char *name;     /* platform name: the key of the stored chat id */
    char *api_base; /* no trailing slash */
    char *token;    /* the bot token: a secret */
    char *token_env;
    char configured_chat[TELEGRAM_CHAT_MAX];
    char chat[TELEGRAM_CHAT_MAX]; /* where messages go now */
    char *parse_mode;             /* NULL: plain text */
    int disable_preview;
    int64_t timeout_ms;
    int chat_loaded; /* the store was read once */
};

struct telegram_attempt {
    struct http_exchange *ex;
    char *text;
    int migrated; /* already resent to a migrated chat */
};

static void telegram_destroy(void *state)
{
    struct telegram_adapter *adapter = state;

    if (adapter == NULL)
        return;
    free(adapter->name);
    free(adapter->api_base);
    free(adapter->token_env);
    free(adapter->parse_mode);
    if (adapter->token != NULL) {
        explicit_bzero(adapter->token, strlen(adapter->token));
        free(adapter->token);
    }
    free(adapter);
}

static const char *const telegram_options[] = {
    "api_base",
    "bot_token_env",
    "chat_id",
    "parse_mode",
    "disable_web_page_preview",
    "timeout",
    NULL,
};

static int check_option_names(const struct platform_config *platform, char *err,
                              size_t errlen)
{
    return adapter_options_check_known(platform, telegram_options, err, errlen);
}

static int set_api_base(struct telegram_adapter *adapter,
                        const struct platform_config *platform, char *err,
                        size_t errlen)
{
    const char *url = platform_config_option(platform, "api_base");
    struct http_exchange *probe;
    char reason[256];
    size_t len;

    if (url == NULL)
        url = TELEGRAM_DEFAULT_API;
    probe = http_exchange_new(url, TELEGRAM_DEFAULT_TIMEOUT_MS, reason,
                              sizeof reason);
    if (probe == NULL || strchr(url, '?') != NULL || strchr(url, '#')) {
        snprintf(err, errlen,
                 "invalid api_base for telegram platform \"%s\": %s; give "
                 "the Bot API base URL, e.g. https://api.telegram.org",
                 platform->name,
                 probe == NULL ? reason : "it has a query or fragment");
        http_exchange_free(probe);
        return -1;
    }
    http_exchange_free(probe);

    adapter->api_base = strdup(url);
    if (adapter->api_base == NULL)
        return -1;
    len = strlen(adapter->api_base);
    while (len > 0 && adapter->api_base[len - 1] == '/')
        adapter->api_base[--len] = '\0';
    return 0;
}

/* Bot tokens are "DIGITS:KEY"; anything else would break the URL path. */
static int is_bot_token(const char *token)
{
    const char *colon = strchr(token, ':');

    if (colon == NULL || colon == token || colon[1] == '\0')
        return 0;
    for (const char *p = token; *p; p++) {
        int ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                 (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '-' ||
                 p == colon;

        if (!ok || (p < colon && (*p < '0' || *p > '9')))
            return 0;
    }
    return 1;
}

static int set_token(struct telegram_adapter *adapter,
                     const struct platform_config *platform, char *err,
                     size_t errlen)
{
    const char *name = platform_config_option(platform, "bot_token_env");
    const char *value;

    if (name == NULL || !config_is_env_name(name)) {
        snprintf(err, errlen,
                 "%s bot_token_env for telegram platform \"%s\": give the "
                 "name of the environment variable that holds the bot "
                 "token, e.g. TELEGRAM_BOT_TOKEN",
                 name == NULL ? "missing option" : "invalid", platform->name);
        return -1;
    }
    value = getenv(name);
    if (value == NULL || value[0] == '\0' || !is_bot_token(value)) {
        /* The value is never echoed: it is the credential. */
        snprintf(err, errlen,
                 "environment variable %s named by bot_token_env of "
                 "telegram platform \"%s\" is %s; export the token that "
                 "@BotFather gave, such as 123456:ABC-DEF",
                 name, platform->name,
                 value == NULL || value[0] == '\0'
                     ? "not set or empty"
                     : "not a bot token (DIGITS:KEY)");
        return -1;
    }
    adapter->token_env = strdup(name);
    adapter->token = strdup(value);
    return adapter->token != NULL && adapter->token_env != NULL ? 0 : -1;
}

/* A chat id is an integer or "@channelusername". */
static int is_chat_id(const char *text)
{
    const char *p = text;

    if (*p == '@')
        return strlen(p) > 1 && strspn(p + 1, "abcdefghijklmnopqrstuvwxyz"
                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_") == strlen(p + 1);
    if (*p == '-')
        p++;
    return *p != '\0' && strspn(p, "0123456789") == strlen(p) &&
           strlen(p) <= 18;
}

static int set_chat(struct telegram_adapter *adapter,
                    const struct platform_config *platform, char *err,
                    size_t errlen)
{
    const char *chat = platform_config_option(platform, "chat_id");

    if (chat == NULL || !is_chat_id(chat) ||
        strlen(chat) >= sizeof adapter->chat) {
        snprintf(err, errlen,
                 "%s chat_id \"%s\" for telegram platform \"%s\": give the "
                 "numeric chat id (e.g. -1001234567890) or @channelusername",
                 chat == NULL ? "missing" : "invalid", chat ? chat : "",
                 platform->name);
        return -1;
    }
    snprintf(adapter->configured_chat, sizeof adapter->configured_chat, "%s",
             chat);
    snprintf(adapter->chat, sizeof adapter->chat, "%s", chat);
    return 0;
}

static int set_format(struct telegram_adapter *adapter,
                      const struct platform_config *platform, char *err,
                      size_t errlen)
{
    const char *mode = platform_config_option(platform, "parse_mode");
    const char *preview =
        platform_config_option(platform, "disable_web_page_preview");

    if (mode != NULL && strcmp(mode, "HTML") != 0 &&
        strcmp(mode, "MarkdownV2") != 0 && strcmp(mode, "Markdown") != 0) {
        snprintf(err, errlen,
                 "invalid parse_mode \"%s\" for telegram platform \"%s\": "
                 "use HTML, MarkdownV2 or Markdown, or leave it out for "
                 "plain text",
                 mode, platform->name);
        return -1;
    }
    if (preview != NULL && strcmp(preview, "true") != 0 &&
        strcmp(preview, "false") != 0) {
        snprintf(err, errlen,
                 "invalid disable_web_page_preview \"%s\" for telegram "
                 "platform \"%s\": use true or false",
                 preview, platform->name);
        return -1;
    }
    adapter->disable_preview = preview != NULL && strcmp(preview, "true") == 0;
    if (mode != NULL && (adapter->parse_mode = strdup(mode)) == NULL)
        return -1;
    return 0;
}

static int set_timeout(struct telegram_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *text = platform_config_option(platform, "timeout");
    char reason[256];

    adapter->timeout_ms = TELEGRAM_DEFAULT_TIMEOUT_MS;
    if (text == NULL)
        return 0;
    if (timestamp_parse_duration(text, &adapter->timeout_ms, reason,
                                 sizeof reason) != 0 ||
        adapter->timeout_ms <= 0 ||
        adapter->timeout_ms > TELEGRAM_MAX_TIMEOUT_MS) {
        snprintf(err, errlen,
                 "invalid timeout \"%s\" for telegram platform \"%s\": use "
                 "a duration from 1ms to 1h, e.g. 15s",
                 text, platform->name);
        return -1;
    }
    return 0;
}

static int telegram_create(const struct platform_config *platform, void **state,
                           char *err, size_t errlen)
{
    struct telegram_adapter *adapter = calloc(1, sizeof *adapter);

    err[0] = '\0';
    if (adapter == NULL || (adapter->name = strdup(platform->name)) == NULL ||
        check_option_names(platform, err, errlen) != 0 ||
        set_api_base(adapter, platform, err, errlen) != 0 ||
        set_token(adapter, platform, err, errlen) != 0 ||
        set_chat(adapter, platform, err, errlen) != 0 ||
        set_format(adapter, platform, err, errlen) != 0 ||
        set_timeout(adapter, platform, err, errlen) != 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "out of memory");
        telegram_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

/*
 * Telegram counts the 4096-character limit in UTF-16 code units after
 * entity parsing. The raw text is counted here, markup included, so
 * with a parse_mode the check may reject a text that would fit.
 */
static int telegram_check_content(const struct platform_config *platform,
                                  const json_t *content, char *err,
                                  size_t errlen)
{
    (void)platform;
    return content_check_limits("telegram", content, err, errlen);
}

/* Uses a migrated chat id kept in the store for the configured chat. */
static void load_chat(struct telegram_adapter *adapter,
                      struct publish_attempt *attempt)
{
    char *text = NULL;
    json_t *data;
    const char *from;
    const char *chat;

    if (adapter->chat_loaded || attempt->store == NULL)
        return;
    adapter->chat_loaded = 1;
    if (attempt->store->ops->get_platform_data(attempt->store, adapter->name,
                                               &text) != STORE_OK)
        return;

    data = json_loads(text, 0, NULL);
    free(text);
    from = json_string_value(json_object_get(data, "migrated_from"));
    chat = json_string_value(json_object_get(data, "chat_id"));
    if (from != NULL && chat != NULL &&
        strcmp(from, adapter->configured_chat) == 0 && is_chat_id(chat) &&
        strlen(chat) < sizeof adapter->chat)
        snprintf(adapter->chat, sizeof adapter->chat, "%s", chat);
    json_decref(data);
}

static void save_chat(struct telegram_adapter *adapter,
                      struct publish_attempt *attempt)
{
    json_t *data;
    char *text;

    if (attempt->store == NULL)
        return;
    data = json_pack("{s:s,s:s}", "chat_id", adapter->chat, "migrated_from",
                     adapter->configured_chat);
    text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
    if (text == NULL ||
        attempt->store->ops->set_platform_data(attempt->store, adapter->name,
                                               text, attempt->now) != STORE_OK)
        log_error("telegram",
                  "cannot store migrated chat id %s; set chat_id = %s in "
                  "the configuration platform=%s",
                  adapter->chat, adapter->chat, adapter->name);
    free(text);
    json_decref(data);
}

/* The chat id as JSON: a number when numeric, else the @username. */
static json_t *chat_json(const char *chat)
{
    if (chat[0] != '@') {
        char *end = NULL;
        long long value;

        errno = 0;
        value = strtoll(chat, &end, 10);
        if (errno == 0 && end != chat && *end == '\0')
            return json_integer((json_int_t)value);
    }
    return json_string(chat);
}

static char *request_body(const struct telegram_adapter *adapter,
                          const char *text)
{
    json_t *body = json_pack("{s:o,s:s}", "chat_id", chat_json(adapter->chat),
                             "text", text);
    char *dumped = NULL;

    if (body != NULL && adapter->parse_mode != NULL)
        json_object_set_new(body, "parse_mode",
                            json_string(adapter->parse_mode));
    /* Bot API 7.0 replaced disable_web_page_preview by
     * link_preview_options.is_disabled. */
    if (body != NULL && adapter->disable_preview)
        json_object_set_new(body, "link_preview_options",
                            json_pack("{s:b}", "is_disabled", 1));
    if (body != NULL)
        dumped = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return dumped;
}

/* Builds the sendMessage request to the current chat. */
static CURL *begin_send(struct telegram_adapter *adapter,
                        struct publish_attempt *attempt,
                        struct telegram_attempt *st)
{
    size_t url_len = strlen(adapter->api_base) + strlen(adapter->token) + 32;
    char *url = malloc(url_len);
    char *body = request_body(adapter, st->text);
    char reason[256] = "out of memory";
    CURL *easy = NULL;

    http_exchange_free(st->ex);
    st->ex = NULL;
    if (url != NULL && body != NULL) {
        snprintf(url, url_len, "%s/bot%s/sendMessage", adapter->api_base,
                 adapter->token);
        st->ex =
            http_exchange_new(url, adapter->timeout_ms, reason, sizeof reason);
        explicit_bzero(url, url_len);
    }
    if (st->ex != NULL &&
        http_exchange_add_header(st->ex, "Content-Type: application/json") ==
            0 &&
        http_exchange_set_body(st->ex, body, strlen(body)) == 0)
        easy = http_exchange_easy(st->ex);
    if (easy == NULL)
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot build the telegram sendMessage request: "
                            "%s",
                            reason);
    free(url);
    free(body);
    return easy;
}

static enum adapter_step
begin_attempt(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct telegram_adapter *adapter = state;
    const char *text =
        json_string_value(json_object_get(attempt->content, "text"));
    struct telegram_attempt *st = calloc(1, sizeof *st);

    attempt->step_state = st;
    if (st == NULL || text == NULL || (st->text = strdup(text)) == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "cannot build the telegram message of entry "
                            "%lld: the content needs a text",
                            (long long)attempt->entry->id);
        return ADAPTER_DONE;
    }
    load_chat(adapter, attempt);

    /* NOTE: the Bot API neither deduplicates nor lets a bot search a
     * chat, so an unknown outcome cannot be reconciled here. The
     * platform's on_unknown setting decides what follows one. */
    *easy = begin_send(adapter, attempt, st);
    return *easy != NULL ? ADAPTER_HTTP : ADAPTER_DONE;
}

static void set_post_ids(struct adapter_result *result, json_t *message)
{
    json_t *id = json_object_get(message, "message_id");
    const char *username = json_string_value(
        json_object_get(json_object_get(message, "chat"), "username"));

    result->outcome = OUTCOME_SUCCESS;
    result->error[0] = '\0';
    if (!json_is_integer(id))
        return;
    snprintf(result->post_id, sizeof result->post_id, "%lld",
             (long long)json_integer_value(id));
    /* Only chats with a public username have a t.me link. */
    if (username != NULL)
        snprintf(result->post_url, sizeof result->post_url,
                 "https://t.me/%s/%lld", username,
                 (long long)json_integer_value(id));
}

/* Copies the description with control characters replaced. */
static void read_description(json_t *reply, char *out, size_t outlen)
{
    const char *text = json_string_value(json_object_get(reply, "description"));

    snprintf(out, outlen, "%s", text != NULL ? text : "no description");
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    }
}

static void read_retry_after(json_t *parameters,
                             struct publish_attempt *attempt, char *note,
                             size_t notelen)
{
    json_t *value = json_object_get(parameters, "retry_after");
    char reason[200];
    int64_t delay_ms;

    note[0] = '\0';
    attempt->result.rate_limited = 1;
    if (value == NULL)
        return;
    if (!json_is_number(value) ||
        rate_limit_from_seconds(json_number_value(value), &delay_ms, reason,
                                sizeof reason) != 0) {
        snprintf(note, notelen, "; ignored malformed retry_after");
        return;
    }
    attempt->result.hint_ms = delay_ms;
}

static void pause_platform(struct adapter_result *result, const char *why)
{
    result->outcome = OUTCOME_PERMANENT;
    result->pause_ms = -1;
    snprintf(result->pause_reason, sizeof result->pause_reason, "%s", why);
}

/*
 * Follows parameters.migrate_to_chat_id once: stores the new chat and
 * resends. Returns 1 when a new request is set in *next.
 */
static int follow_migration(struct telegram_adapter *adapter,
                            struct publish_attempt *attempt,
                            struct telegram_attempt *st, json_t *parameters,
                            CURL **next)
{
    json_t *target = json_object_get(parameters, "migrate_to_chat_id");

    if (!json_is_integer(target) || st->migrated)
        return 0;
    st->migrated = 1;
    log_warn("telegram",
             "chat %s migrated to %lld; posting there from now on "
             "platform=%s",
             adapter->chat, (long long)json_integer_value(target),
             adapter->name);
    snprintf(adapter->chat, sizeof adapter->chat, "%lld",
             (long long)json_integer_value(target));
    save_chat(adapter, attempt);
    *next = begin_send(adapter, attempt, st);
    return *next != NULL;
}

static enum adapter_step classify(struct telegram_adapter *adapter,
                                  struct publish_attempt *attempt,
                                  struct telegram_attempt *st, CURL **next)
{
    long status = http_exchange_status(st->ex);
    size_t len = 0;
    const char *body = http_exchange_body(st->ex, &len);
    json_t *reply = json_loadb(body, len, 0, NULL);
    json_t *parameters = json_object_get(reply, "parameters");
    struct adapter_result *result = &attempt->result;
    char description[TELEGRAM_DESCRIPTION_MAX];
    char note[64] = "";
    char why[STORE_TEXT_MAX];

    result->http_status = (int)status;
    if (status >= 200 && status < 300) {
        /* A 2xx means the message was sent even if the body is unreadable. */
        set_post_ids(result, json_object_get(reply, "result"));
        json_decref(reply);
        return ADAPTER_DONE;
    }
    if (status == 400 &&
        follow_migration(adapter, attempt, st, parameters, next)) {
        json_decref(reply);
        return ADAPTER_HTTP;
    }

    read_description(reply, description, sizeof description);
    if (status == 429)
        read_retry_after(parameters, attempt, note, sizeof note);
    adapter_result_fail(result, outcome_from_http_status(status),
                        "telegram %s/bot***/sendMessage to chat %s returned "
                        "HTTP %ld (%s)%s%s%s",
                        http_exchange_host(st->ex), adapter->chat, status,
                        outcome_http_reason(status),
                        adapter_reply_colon(description), description, note);

    /* 401: the token was revoked; 403: the bot was blocked or removed
     * from the chat. Neither heals by retrying. */
    if (status == 401 || status == 403) {
        snprintf(why, sizeof why,
                 "telegram %s (HTTP %ld): %s; check %s and the bot's access "
                 "to chat %s",
                 status == 401 ? "bot token rejected" : "bot cannot post",
                 status, description, adapter->token_env, adapter->chat);
        pause_platform(result, why);
    }
    json_decref(reply);
    return ADAPTER_DONE;
}

static enum adapter_step handle_response(void *state,
                                         struct publish_attempt *attempt,
                                         CURL *easy, CURLcode code, CURL **next)
{
    struct telegram_adapter *adapter = state;
    struct telegram_attempt *st = attempt->step_state;
    char reason[STORE_TEXT_MAX / 2];

    (void)easy;
    code = http_exchange_result(st->ex, code);
    if (code == CURLE_OK)
        return classify(adapter, attempt, st, next);

    attempt->result.http_status = (int)http_exchange_status(st->ex);
    adapter_result_fail(
        &attempt->result,
        http_exchange_transport_outcome(st->ex, code, reason, sizeof reason),
        "telegram %s", reason);
    return ADAPTER_DONE;
}

/*
 * Removes the bot token from the result on every path: Telegram's error
 * description may quote the request path /bot<TOKEN>/sendMessage, and
 * a server may echo the token in any reply field.
 */
static void redact_token(void *state, struct adapter_result *result)
{
    const struct telegram_adapter *adapter = state;

    adapter_reply_redact_result(result, adapter->token);
}

static void telegram_end(void *state, struct publish_attempt *attempt)
{
    struct telegram_attempt *st = attempt->step_state;

    (void)state;
    if (st != NULL) {
        http_exchange_free(st->ex);
        free(st->text);
        free(st);
    }
    attempt->step_state = NULL;
}

const struct adapter_ops adapter_telegram_ops = {
    .type = "telegram",
    .options = telegram_options,
    .create = telegram_create,
    .destroy = telegram_destroy,
    .check_content = telegram_check_content,
    .start = begin_attempt,
    .on_response = handle_response,
    .redact = redact_token,
    .end = telegram_end,
};
