/*
 * The `smtp` adapter: sends each post as an e-mail newsletter through
 * libcurl's SMTP client. The message (smtp_message.h) carries a
 * Message-ID derived from the entry, so receivers and list archives can
 * drop a copy that a retry after an unknown outcome sends again. Options,
 * message format and reply mapping are documented in docs/platforms.md.
 *
 * The attempt runs as an ADAPTER_HTTP step on the engine's multi handle:
 * the engine only needs a curl easy handle, whatever its protocol. The
 * handle is built here, not with http_exchange, which allows only http
 * and https.
 *
 * Sources:
 *   https://curl.se/libcurl/c/smtp-mail.html (MAIL FROM, RCPT, upload)
 *   https://curl.se/libcurl/c/CURLOPT_USE_SSL.html
 *   https://curl.se/libcurl/c/CURLINFO_RESPONSE_CODE.html (the last
 *     SMTP reply code)
 *   RFC 5321 section 4.2.1: 4yz replies are transient, 5yz permanent
 *   RFC 4954 section 6: 535 authentication credentials invalid, 530
 *     authentication required
 */
#include "publish/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_value.h"
#include "core/timestamp.h"
#include "publish/smtp_message.h"
#include "publish/adapter_options.h"
#include "util/banned.h"

#define SMTP_DEFAULT_TIMEOUT_MS 30000
#define SMTP_CONNECT_TIMEOUT_MS 10000
#define SMTP_REPLY_MAX 200
#define SMTP_HOST_MAX 256
#define SMTP_DOMAIN_MAX 128

struct smtp_adapter {
    char *url;
    char host[SMTP_HOST_MAX]; /* for messages: never the credentials */
    long use_ssl;             /* CURLUSESSL_ALL, _TRY or _NONE */
    char *username;           /* NULL: no AUTH */
    char *password;           /* a secret */
    char *from;
    char *to_list; /* the `to` option, split in place into to[] */
    const char **to;
    size_t to_count;
    char *subject_prefix;
    int64_t timeout_ms;
};

/* The step_state of one attempt. */
struct smtp_attempt {
    CURL *easy;
    struct curl_slist *recipients;
    char *message;
    size_t message_len;
    size_t sent;
    int data_started; /* the server accepted DATA and read the message */
    char last_reply[SMTP_REPLY_MAX]; /* the last 4yz or 5yz reply */
    char message_id[STORE_ID_MAX];
};

static void smtp_destroy(void *state)
{
    struct smtp_adapter *adapter = state;

    if (adapter == NULL)
        return;
    if (adapter->password != NULL) {
        explicit_bzero(adapter->password, strlen(adapter->password));
        free(adapter->password);
    }
    free(adapter->url);
    free(adapter->username);
    free(adapter->from);
    free(adapter->to_list);
    free(adapter->to);
    free(adapter->subject_prefix);
    free(adapter);
}

static int out_of_memory(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* Checks the scheme and that no credentials hide in the URL. */
static int check_url(const char *url, char *host, size_t hostlen, char *why,
                     size_t whylen)
{
    CURLU *parsed = curl_url();
    char *scheme = NULL, *user = NULL, *name = NULL;
    int ok = parsed != NULL && strpbrk(url, "\r\n\t ") == NULL &&
             curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(parsed, CURLUPART_HOST, &name, 0) == CURLUE_OK &&
             (strcmp(scheme, "smtp") == 0 || strcmp(scheme, "smtps") == 0);

    if (!ok)
        snprintf(why, whylen, "use smtp://HOST:PORT or smtps://HOST:PORT");
    else if (curl_url_get(parsed, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(why, whylen,
                 "remove the user name and password from the "
                 "URL and set username and password_env");
        ok = 0;
    }
    if (ok)
        snprintf(host, hostlen, "%s", name);
    curl_free(scheme);
    curl_free(user);
    curl_free(name);
    curl_url_cleanup(parsed);
    return ok ? 0 : -1;
}

static int set_url(struct smtp_adapter *adapter,
                   const struct platform_config *platform, char *err,
                   size_t errlen)
{
    const char *url = platform_config_option(platform, "url");
    char why[128];

    if (url == NULL || url[0] == '\0') {
        snprintf(err, errlen,
                 "missing url for smtp platform \"%s\": set it to the mail "
                 "server, e.g. smtp://mail.example.org:587",
                 platform->name);
        return -1;
    }
    if (check_url(url, adapter->host, sizeof adapter->host, why, sizeof why) !=
        0) {
        /* Not echoed: a URL with user:password in it contains a secret. */
        snprintf(err, errlen, "invalid url for smtp platform \"%s\": %s",
                 platform->name, why);
        return -1;
    }
    adapter->url = strdup(url);
    return adapter->url == NULL ? out_of_memory(err, errlen) : 0;
}

static int set_starttls(struct smtp_adapter *adapter,
                        const struct platform_config *platform, char *err,
                        size_t errlen)
{
    const char *text = platform_config_option(platform, "starttls");

    if (text == NULL || strcmp(text, "required") == 0)
        adapter->use_ssl = CURLUSESSL_ALL;
    else if (strcmp(text, "optional") == 0)
        adapter->use_ssl = CURLUSESSL_TRY;
    else if (strcmp(text, "off") == 0)
        adapter->use_ssl = CURLUSESSL_NONE;
    else {
        snprintf(err, errlen,
                 "invalid starttls \"%s\" for smtp platform \"%s\": use "
                 "required, optional or off",
                 text, platform->name);
        return -1;
    }
    return 0;
}

static int set_credentials(struct smtp_adapter *adapter,
                           const struct platform_config *platform, char *err,
                           size_t errlen)
{
    const char *username = platform_config_option(platform, "username");
    const char *name = platform_config_option(platform, "password_env");
    const char *value;

    if (username == NULL && name == NULL)
        return 0;
    if (username == NULL || username[0] == '\0' || name == NULL ||
        !config_is_env_name(name)) {
        snprintf(err, errlen,
                 "smtp platform \"%s\" needs both username and "
                 "password_env (the name of the environment variable that "
                 "holds the password), or neither for a server without "
                 "authentication",
                 platform->name);
        return -1;
    }
    value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        snprintf(err, errlen,
                 "environment variable %s named by password_env of smtp "
                 "platform \"%s\" is not set or empty; export it before "
                 "starting pubq",
                 name, platform->name);
        return -1;
    }
    adapter->username = strdup(username);
    adapter->password = strdup(value);
    if (adapter->username == NULL || adapter->password == NULL)
        return out_of_memory(err, errlen);
    return 0;
}

static int set_from(struct smtp_adapter *adapter,
                    const struct platform_config *platform, char *err,
                    size_t errlen)
{
    const char *from = platform_config_option(platform, "from");

    /* The domain goes into Message-IDs, which must fit a stored post id. */
    if (from == NULL || !smtp_address_valid(from) ||
        strlen(strrchr(from, '@')) > SMTP_DOMAIN_MAX) {
        snprintf(err, errlen,
                 "%s from for smtp platform \"%s\": set it to the sender's "
                 "address, e.g. news@example.org, without a display name",
                 from == NULL ? "missing" : "invalid", platform->name);
        return -1;
    }
    adapter->from = strdup(from);
    return adapter->from == NULL ? out_of_memory(err, errlen) : 0;
}

/* Splits the comma-separated `to` option in place into adapter->to. */
static int set_to(struct smtp_adapter *adapter,
                  const struct platform_config *platform, char *err,
                  size_t errlen)
{
    const char *text = platform_config_option(platform, "to");
    size_t commas = 0;
    char *next;

    if (text == NULL || (adapter->to_list = strdup(text)) == NULL)
        goto invalid;
    for (const char *p = text; *p; p++)
        commas += *p == ',';
    adapter->to = calloc(commas + 1, sizeof *adapter->to);
    if (adapter->to == NULL)
        return out_of_memory(err, errlen);

    next = adapter->to_list;
    while (next != NULL) {
        char *address = next + strspn(next, " \t");
        char *end;

        next = strchr(address, ',');
        if (next != NULL)
            *next++ = '\0';
        end = address + strlen(address);
        while (end > address && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (!smtp_address_valid(address))
            goto invalid;
        adapter->to[adapter->to_count++] = address;
    }
    return 0;

invalid:
    snprintf(err, errlen,
             "%s to for smtp platform \"%s\": give one or more addresses "
             "separated by commas, e.g. readers@example.org, "
             "archive@example.org",
             text == NULL ? "missing" : "invalid", platform->name);
    return -1;
}

static int set_subject_prefix(struct smtp_adapter *adapter,
                              const struct platform_config *platform, char *err,
                              size_t errlen)
{
    const char *prefix = platform_config_option(platform, "subject_prefix");

    if (prefix == NULL)
        return 0;
    if (smtp_has_line_break(prefix)) {
        snprintf(err, errlen,
                 "invalid subject_prefix for smtp platform \"%s\": it "
                 "contains CR or LF; remove them",
                 platform->name);
        return -1;
    }
    adapter->subject_prefix = strdup(prefix);
    return adapter->subject_prefix == NULL ? out_of_memory(err, errlen) : 0;
}

static int set_timeout(struct smtp_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *text = platform_config_option(platform, "timeout");
    char reason[256];

    adapter->timeout_ms = SMTP_DEFAULT_TIMEOUT_MS;
    if (text == NULL)
        return 0;
    if (timestamp_parse_duration(text, &adapter->timeout_ms, reason,
                                 sizeof reason) != 0 ||
        adapter->timeout_ms <= 0 || adapter->timeout_ms > 3600 * 1000) {
        snprintf(err, errlen,
                 "invalid timeout \"%s\" for smtp platform \"%s\": use a "
                 "duration from 1ms to 1h, e.g. 30s",
                 text, platform->name);
        return -1;
    }
    return 0;
}

static const char *const smtp_options[] = {
    "url",
    "starttls",
    "username",
    "password_env",
    "from",
    "to",
    "subject_prefix",
    "timeout",
    NULL,
};

static int check_option_names(const struct platform_config *platform, char *err,
                              size_t errlen)
{
    return adapter_options_check_known(platform, smtp_options, err, errlen);
}

static int smtp_create(const struct platform_config *platform, void **state,
                       char *err, size_t errlen)
{
    struct smtp_adapter *adapter = calloc(1, sizeof *adapter);

    if (adapter == NULL)
        return out_of_memory(err, errlen);
    if (check_option_names(platform, err, errlen) != 0 ||
        set_url(adapter, platform, err, errlen) != 0 ||
        set_starttls(adapter, platform, err, errlen) != 0 ||
        set_credentials(adapter, platform, err, errlen) != 0 ||
        set_from(adapter, platform, err, errlen) != 0 ||
        set_to(adapter, platform, err, errlen) != 0 ||
        set_subject_prefix(adapter, platform, err, errlen) != 0 ||
        set_timeout(adapter, platform, err, errlen) != 0) {
        smtp_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

/* The title can become a header, so a line break in it is rejected. */
static int smtp_check_content(const struct platform_config *platform,
                              const json_t *content, char *err, size_t errlen)
{
    const char *title = json_string_value(json_object_get(content, "title"));

    if (title != NULL && smtp_has_line_break(title)) {
        snprintf(err, errlen,
                 "invalid title for smtp platform \"%s\": it becomes the "
                 "Subject header and must not contain CR or LF",
                 platform->name);
        return -1;
    }
    return 0;
}

static const char *content_string(const json_t *content, const char *key)
{
    const char *value = json_string_value(json_object_get(content, key));

    return value == NULL ? "" : value;
}

/*
 * Writes "<pubq-KEY@DOMAIN>" for the entry's idempotency key, with "pubq-"
 * left out when the key already starts with it. A character outside
 * RFC 5322 atext or '.' becomes '-'.
 */
static void derive_message_id(const char *key, const char *from, char *out,
                              size_t outlen)
{
    const char *domain = strrchr(from, '@') + 1;
    int used = snprintf(out, outlen, "<%s%s",
                        strncmp(key, "pubq-", 5) == 0 ? "" : "pubq-", key);

    for (int i = 1; i < used && (size_t)i < outlen; i++) {
        char c = out[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL))
            out[i] = '-';
    }
    if (used > 0 && (size_t)used < outlen)
        snprintf(out + used, outlen - (size_t)used, "@%s>", domain);
}

/*
 * Writes the subject: the prefix and a space, then the content's title or else
 * the first line of its text, or else the content id. Returns -1 when the
 * result would hold CR or LF.
 */
static int build_subject(const struct smtp_adapter *adapter,
                         const struct publish_attempt *attempt, char *out,
                         size_t outlen)
{
    const char *title = content_string(attempt->content, "title");
    const char *text = content_string(attempt->content, "text");
    const char *prefix =
        adapter->subject_prefix == NULL ? "" : adapter->subject_prefix;
    size_t prefix_len = strlen(prefix);
    /* INI values lose trailing spaces, so the space is added here. */
    const char *space =
        prefix_len > 0 && prefix[prefix_len - 1] != ' ' ? " " : "";
    int line = (int)strcspn(text, "\r\n");

    if (title[0] != '\0')
        snprintf(out, outlen, "%s%s%s", prefix, space, title);
    else if (line > 0)
        snprintf(out, outlen, "%s%s%.*s", prefix, space, line, text);
    else
        snprintf(out, outlen, "%s%s%s", prefix, space,
                 attempt->entry->content_id);
    return smtp_has_line_break(out) ? -1 : 0;
}

/* Returns the text, a blank line and the link, in a string to free. */
static char *build_body(const json_t *content)
{
    const char *text = content_string(content, "text");
    const char *link = content_string(content, "link");
    size_t len = strlen(text) + strlen(link) + 3;
    char *body = malloc(len);

    if (body != NULL)
        snprintf(body, len, "%s%s%s", text,
                 text[0] != '\0' && link[0] != '\0' ? "\n\n" : "", link);
    return body;
}

/*
 * Composes the message into run. Returns 0, -1 with the reason for
 * content that cannot be sent, or -2 when out of memory.
 */
static int compose(const struct smtp_adapter *adapter,
                   const struct publish_attempt *attempt,
                   struct smtp_attempt *run, char *why, size_t whylen)
{
    char subject[STORE_TEXT_MAX];
    struct smtp_message_fields fields = {
        .date_ms = attempt->now,
        .from = adapter->from,
        .to = adapter->to,
        .to_count = adapter->to_count,
        .subject = subject,
        .message_id = run->message_id,
    };
    char *body;

    if (build_subject(adapter, attempt, subject, sizeof subject) != 0) {
        snprintf(why, whylen,
                 "the title contains CR or LF, which must "
                 "not reach the Subject header; remove them");
        return -1;
    }
    derive_message_id(attempt->entry->idempotency_key, adapter->from,
                      run->message_id, sizeof run->message_id);
    body = build_body(attempt->content);
    fields.body = body;
    if (body != NULL)
        run->message = smtp_message_compose(&fields, &run->message_len);
    free(body);
    return run->message == NULL ? -2 : 0;
}

/* Feeds the message to libcurl, which calls it once DATA is accepted. */
static size_t read_message(char *buffer, size_t size, size_t count, void *data)
{
    struct smtp_attempt *run = data;
    size_t room = size * count;
    size_t left = run->message_len - run->sent;
    size_t n = left < room ? left : room;

    run->data_started = 1;
    memcpy(buffer, run->message + run->sent, n);
    run->sent += n;
    return n;
}

/*
 * Keeps the server's last error reply (4yz or 5yz) for messages. Only
 * incoming lines are read: the outgoing ones include the AUTH exchange.
 */
static int keep_reply(CURL *easy, curl_infotype type, char *data, size_t size,
                      void *user)
{
    struct smtp_attempt *run = user;
    size_t n =
        size < sizeof run->last_reply - 1 ? size : sizeof run->last_reply - 1;

    (void)easy;
    if (type != CURLINFO_HEADER_IN || size == 0 ||
        (data[0] != '4' && data[0] != '5'))
        return 0;
    for (size_t i = 0; i < n; i++)
        run->last_reply[i] = (unsigned char)data[i] < 0x20 ? ' ' : data[i];
    while (n > 0 && run->last_reply[n - 1] == ' ')
        n--;
    run->last_reply[n] = '\0';
    return 0;
}

static int add_recipients(const struct smtp_adapter *adapter,
                          struct smtp_attempt *run)
{
    char line[SMTP_HOST_MAX + 72];

    for (size_t i = 0; i < adapter->to_count; i++) {
        struct curl_slist *grown;

        snprintf(line, sizeof line, "<%s>", adapter->to[i]);
        grown = curl_slist_append(run->recipients, line);
        if (grown == NULL)
            return -1;
        run->recipients = grown;
    }
    return 0;
}

static int configure_easy(const struct smtp_adapter *adapter,
                          struct smtp_attempt *run)
{
    CURL *easy = run->easy;
    char from[SMTP_HOST_MAX + 72];
    long timeout = (long)adapter->timeout_ms;
    int failed = add_recipients(adapter, run) != 0;

    snprintf(from, sizeof from, "<%s>", adapter->from);
    failed |= curl_easy_setopt(easy, CURLOPT_URL, adapter->url) != CURLE_OK;
    failed |=
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK;
    failed |=
        curl_easy_setopt(easy, CURLOPT_USE_SSL, adapter->use_ssl) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_MAIL_FROM, from) != CURLE_OK;
    failed |=
        curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, run->recipients) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L) != CURLE_OK;
    failed |=
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_message) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_READDATA, run) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
                               (curl_off_t)run->message_len) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                               timeout < SMTP_CONNECT_TIMEOUT_MS
                                   ? timeout
                                   : SMTP_CONNECT_TIMEOUT_MS) != CURLE_OK;
    /* The debug callback receives the server's replies only in verbose
     * mode; it writes nothing to stderr. */
    failed |= curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L) != CURLE_OK;
    failed |=
        curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, keep_reply) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_DEBUGDATA, run) != CURLE_OK;
    if (adapter->username != NULL) {
        failed |= curl_easy_setopt(easy, CURLOPT_USERNAME, adapter->username) !=
                  CURLE_OK;
        failed |= curl_easy_setopt(easy, CURLOPT_PASSWORD, adapter->password) !=
                  CURLE_OK;
    }
    return failed ? -1 : 0;
}

static enum adapter_step
smtp_start(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct smtp_adapter *adapter = state;
    struct smtp_attempt *run = calloc(1, sizeof *run);
    char why[256] = "out of memory";

    int composed =
        run == NULL ? -2 : compose(adapter, attempt, run, why, sizeof why);

    attempt->step_state = run;
    if (composed == -1) {
        adapter_result_fail(&attempt->result, OUTCOME_PERMANENT,
                            "cannot compose the e-mail: %s", why);
        return ADAPTER_DONE;
    }
    if (composed != 0 || (run->easy = curl_easy_init()) == NULL ||
        configure_easy(adapter, run) != 0) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot set up the SMTP transfer: %s", why);
        return ADAPTER_DONE;
    }
    *easy = run->easy;
    return ADAPTER_HTTP;
}

static void pause_platform(struct adapter_result *result, const char *why)
{
    result->pause_ms = -1;
    snprintf(result->pause_reason, sizeof result->pause_reason, "%s", why);
}

/* Failures of pubq's own set-up, which a retry would meet again. */
static int is_setup_error(CURLcode code)
{
    return code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT ||
           code == CURLE_NOT_BUILT_IN || code == CURLE_BAD_FUNCTION_ARGUMENT ||
           code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM;
}

/*
 * Classifies a failed transfer. A reply code of 4yz or 5yz is the
 * server's reply to a command. Without one, the outcome depends on
 * whether the message had started to go out.
 */
static enum outcome classify_failure(struct smtp_attempt *run, CURLcode code,
                                     long reply, struct adapter_result *result)
{
    if (code == CURLE_LOGIN_DENIED || reply == 535 || reply == 530) {
        pause_platform(result, reply == 530
                                   ? "SMTP server requires authentication "
                                     "(530); set username and password_env"
                                   : "SMTP authentication failed (535); "
                                     "check username and password_env");
        return OUTCOME_PERMANENT;
    }
    if (code == CURLE_USE_SSL_FAILED) {
        pause_platform(result, "SMTP server does not offer STARTTLS; use "
                               "smtps:// or set starttls");
        return OUTCOME_PERMANENT;
    }
    if (is_setup_error(code))
        return OUTCOME_PERMANENT;
    if (reply >= 400 && reply <= 499)
        return OUTCOME_TRANSIENT;
    if (reply >= 500 && reply <= 599)
        return OUTCOME_PERMANENT;
    /* The server may have taken the message before the connection broke. */
    return run->data_started ? OUTCOME_UNKNOWN : OUTCOME_TRANSIENT;
}

static enum adapter_step smtp_on_response(void *state,
                                          struct publish_attempt *attempt,
                                          CURL *easy, CURLcode code,
                                          CURL **next)
{
    struct smtp_adapter *adapter = state;
    struct smtp_attempt *run = attempt->step_state;
    struct adapter_result *result = &attempt->result;
    const char *when = run->data_started ? "after the message was sent"
                                         : "before the message was sent";
    enum outcome outcome;
    long reply = 0;

    (void)next;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply);
    if (code == CURLE_OK) {
        result->outcome = OUTCOME_SUCCESS;
        snprintf(result->post_id, sizeof result->post_id, "%s",
                 run->message_id);
        return ADAPTER_DONE;
    }

    outcome = classify_failure(run, code, reply, result);
    if (run->last_reply[0] != '\0')
        adapter_result_fail(result, outcome, "smtp server %s replied \"%s\" %s",
                            adapter->host, run->last_reply, when);
    else
        adapter_result_fail(result, outcome, "smtp %s failed %s: %s",
                            adapter->host, when, curl_easy_strerror(code));
    return ADAPTER_DONE;
}

static void smtp_end(void *state, struct publish_attempt *attempt)
{
    struct smtp_attempt *run = attempt->step_state;

    (void)state;
    if (run != NULL) {
        if (run->easy != NULL)
            curl_easy_cleanup(run->easy);
        curl_slist_free_all(run->recipients);
        free(run->message);
        free(run);
    }
    attempt->step_state = NULL;
}

const struct adapter_ops adapter_smtp_ops = {
    .type = "smtp",
    .options = smtp_options,
    .create = smtp_create,
    .destroy = smtp_destroy,
    .check_content = smtp_check_content,
    .start = smtp_start,
    .on_response = smtp_on_response,
    .end = smtp_end,
};
