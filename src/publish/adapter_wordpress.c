/*
 * The `wordpress` adapter: creates a post through the WordPress REST API
 * (POST /wp-json/wp/v2/posts), authenticated with an application
 * password over HTTP Basic auth. Request, error mapping and
 * reconciliation are documented in docs/platforms.md.
 *
 * Each post carries a slug derived from the entry, so an attempt after
 * the first one looks the slug up before posting: a post that an earlier
 * attempt created is found and never posted twice.
 *
 * Sources:
 *   https://developer.wordpress.org/rest-api/reference/posts/
 *   https://developer.wordpress.org/rest-api/using-the-rest-api/
 *     authentication/ (application passwords)
 *   https://developer.wordpress.org/reference/functions/
 *     rest_application_password_check_errors/ (401 for a bad password)
 */
#include "publish/adapter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "config/config_value.h"
#include "core/http_date.h"
#include "core/timestamp.h"
#include "publish/adapter_options.h"
#include "publish/adapter_reply.h"
#include "publish/http_exchange.h"
#include "util/banned.h"

#define WORDPRESS_DEFAULT_TIMEOUT_MS 30000
#define WORDPRESS_POSTS_PATH "/wp-json/wp/v2/posts"
#define WORDPRESS_SLUG_MAX 64
#define WORDPRESS_MESSAGE_MAX 300
#define WORDPRESS_AUTH_PREFIX "Authorization: Basic "

struct wordpress_adapter {
    char *posts_url;   /* SITE/wp-json/wp/v2/posts */
    char *auth_header; /* "Authorization: Basic ..."; a secret */
    char *password;    /* the application password, kept for redaction */
    const char *status;
    int64_t timeout_ms;
};

enum wordpress_step {
    WORDPRESS_LOOKUP, /* before posting: does an earlier post exist? */
    WORDPRESS_CREATE, /* POST the new post */
    WORDPRESS_CONFIRM /* created, but the reply had no id: look it up */
};

/* The step_state of one attempt. */
struct wordpress_attempt {
    enum wordpress_step step;
    struct http_exchange *ex;
    char slug[WORDPRESS_SLUG_MAX];
};

static void wordpress_destroy(void *state)
{
    struct wordpress_adapter *adapter = state;

    if (adapter == NULL)
        return;
    free(adapter->posts_url);
    if (adapter->auth_header != NULL) {
        explicit_bzero(adapter->auth_header, strlen(adapter->auth_header));
        free(adapter->auth_header);
    }
    if (adapter->password != NULL) {
        explicit_bzero(adapter->password, strlen(adapter->password));
        free(adapter->password);
    }
    free(adapter);
}

static int set_posts_url(struct wordpress_adapter *adapter,
                         const struct platform_config *platform, char *err,
                         size_t errlen)
{
    const char *site = platform_config_option(platform, "site");
    size_t length = site == NULL ? 0 : strlen(site);
    char reason[256];
    struct http_exchange *probe;

    if (length == 0 || strpbrk(site, "?#") != NULL) {
        snprintf(err, errlen,
                 "%s site for wordpress platform \"%s\": set it to the "
                 "site's base URL without query, e.g. https://blog.example",
                 length == 0 ? "missing" : "invalid", platform->name);
        return -1;
    }
    /* Every request carries the application password. */
    if (adapter_options_check_url(platform, site, "site", 0, err, errlen) != 0)
        return -1;

    while (length > 0 && site[length - 1] == '/')
        length--;
    /* The lookup URL adds its query to this, within STORE_URL_MAX. */
    if (length + sizeof WORDPRESS_POSTS_PATH > STORE_URL_MAX) {
        snprintf(err, errlen,
                 "invalid site for wordpress platform \"%s\": it is longer "
                 "than %d characters; use the site's base URL",
                 platform->name,
                 (int)(STORE_URL_MAX - sizeof WORDPRESS_POSTS_PATH));
        return -1;
    }
    adapter->posts_url = malloc(length + sizeof WORDPRESS_POSTS_PATH);
    if (adapter->posts_url == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(adapter->posts_url, length + sizeof WORDPRESS_POSTS_PATH, "%.*s%s",
             (int)length, site, WORDPRESS_POSTS_PATH);

    probe = http_exchange_new(adapter->posts_url, WORDPRESS_DEFAULT_TIMEOUT_MS,
                              reason, sizeof reason);
    if (probe == NULL) {
        snprintf(err, errlen, "invalid site for wordpress platform \"%s\": %s",
                 platform->name, reason);
        return -1;
    }
    http_exchange_free(probe);
    return 0;
}

/* Reads the application password named by app_password_env. */
static const char *read_password(const struct platform_config *platform,
                                 char *err, size_t errlen)
{
    const char *name = platform_config_option(platform, "app_password_env");
    const char *value;

    if (name == NULL || !config_is_env_name(name)) {
        snprintf(err, errlen,
                 "%s app_password_env for wordpress platform \"%s\": give "
                 "the name of the environment variable that holds the "
                 "application password, e.g. PUBQ_WORDPRESS_PASSWORD",
                 name == NULL ? "missing" : "invalid", platform->name);
        return NULL;
    }
    value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        snprintf(err, errlen,
                 "environment variable %s named by app_password_env of "
                 "wordpress platform \"%s\" is not set or empty; export it "
                 "before starting pubq",
                 name, platform->name);
        return NULL;
    }
    return value;
}

/* Checks a user name for Basic auth, which cannot carry ':' (RFC 7617). */
static int check_username(const struct platform_config *platform,
                          const char *username, char *err, size_t errlen)
{
    if (username == NULL || username[0] == '\0') {
        snprintf(err, errlen,
                 "missing username for wordpress platform \"%s\": set it to "
                 "the WordPress user that owns the application password",
                 platform->name);
        return -1;
    }
    for (const char *p = username; *p; p++) {
        if (*p == ':' || (unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(err, errlen,
                     "invalid username \"%s\" for wordpress platform "
                     "\"%s\": it contains ':' or a control character, "
                     "which HTTP Basic auth cannot carry",
                     username, platform->name);
            return -1;
        }
    }
    return 0;
}

/* Builds "Authorization: Basic base64(username:password)". */
static int set_auth_header(struct wordpress_adapter *adapter,
                           const struct platform_config *platform, char *err,
                           size_t errlen)
{
    static const char prefix[] = WORDPRESS_AUTH_PREFIX;
    const char *username = platform_config_option(platform, "username");
    const char *password;
    size_t plain_len, encoded_len;
    char *plain;

    if (check_username(platform, username, err, errlen) != 0)
        return -1;
    password = read_password(platform, err, errlen);
    if (password == NULL)
        return -1;

    plain_len = strlen(username) + 1 + strlen(password);
    encoded_len = 4 * ((plain_len + 2) / 3);
    plain = malloc(plain_len + 1);
    adapter->auth_header = malloc(sizeof prefix + encoded_len);
    adapter->password = strdup(password);
    if (plain == NULL || adapter->auth_header == NULL ||
        adapter->password == NULL) {
        free(plain);
        /* Not yet a string, so wordpress_destroy must not read it. */
        free(adapter->auth_header);
        adapter->auth_header = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(plain, plain_len + 1, "%s:%s", username, password);
    memcpy(adapter->auth_header, prefix, sizeof prefix - 1);
    EVP_EncodeBlock((unsigned char *)adapter->auth_header + sizeof prefix - 1,
                    (const unsigned char *)plain, (int)plain_len);
    explicit_bzero(plain, plain_len);
    free(plain);
    return 0;
}

static int set_status(struct wordpress_adapter *adapter,
                      const struct platform_config *platform, char *err,
                      size_t errlen)
{
    static const char *const statuses[] = {"publish", "draft", "future",
                                           "pending", "private"};
    const char *text = platform_config_option(platform, "status");

    adapter->status = statuses[0];
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if (strcmp(text, statuses[i]) == 0) {
            adapter->status = statuses[i];
            return 0;
        }
    }
    snprintf(err, errlen,
             "invalid status \"%s\" for wordpress platform \"%s\": use "
             "publish, draft, future, pending or private",
             text, platform->name);
    return -1;
}

static int set_timeout(struct wordpress_adapter *adapter,
                       const struct platform_config *platform, char *err,
                       size_t errlen)
{
    const char *text = platform_config_option(platform, "timeout");
    char reason[256];

    adapter->timeout_ms = WORDPRESS_DEFAULT_TIMEOUT_MS;
    if (text == NULL)
        return 0;
    if (timestamp_parse_duration(text, &adapter->timeout_ms, reason,
                                 sizeof reason) != 0 ||
        adapter->timeout_ms <= 0 || adapter->timeout_ms > 3600 * 1000) {
        snprintf(err, errlen,
                 "invalid timeout \"%s\" for wordpress platform \"%s\": use "
                 "a duration from 1ms to 1h, e.g. 30s",
                 text, platform->name);
        return -1;
    }
    return 0;
}

static const char *const wordpress_options[] = {
    "site",
    "username",
    "app_password_env",
    "status",
    "timeout",
    NULL,
};

static int check_option_names(const struct platform_config *platform, char *err,
                              size_t errlen)
{
    return adapter_options_check_known(platform, wordpress_options, err, errlen);
}

static int wordpress_create(const struct platform_config *platform,
                            void **state, char *err, size_t errlen)
{
    struct wordpress_adapter *adapter = calloc(1, sizeof *adapter);

    if (adapter == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (check_option_names(platform, err, errlen) != 0 ||
        set_posts_url(adapter, platform, err, errlen) != 0 ||
        set_auth_header(adapter, platform, err, errlen) != 0 ||
        set_status(adapter, platform, err, errlen) != 0 ||
        set_timeout(adapter, platform, err, errlen) != 0) {
        wordpress_destroy(adapter);
        return -1;
    }
    *state = adapter;
    return 0;
}

/*
 * Derives "pubq-<entry id>-<12 hex digits of SHA-256(idempotency key)>".
 * WordPress keeps a slug made of lowercase letters, digits and hyphens as
 * given, so the lookup finds it unchanged.
 */
static void derive_slug(const struct entry *entry, char *slug, size_t len)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    int used;

    EVP_Digest(entry->idempotency_key, strlen(entry->idempotency_key), digest,
               &digest_len, EVP_sha256(), NULL);
    used = snprintf(slug, len, "pubq-%lld-", (long long)entry->id);
    for (unsigned int i = 0; i < 6 && i < digest_len && used > 0; i++)
        used += snprintf(slug + used, len - (size_t)used, "%02x", digest[i]);
}

/* Writes text with &, <, > and " as HTML character references. */
static void write_escaped(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '&')
            fputs("&amp;", out);
        else if (*p == '<')
            fputs("&lt;", out);
        else if (*p == '>')
            fputs("&gt;", out);
        else if (*p == '"')
            fputs("&quot;", out);
        else
            fputc(*p, out);
    }
}

/*
 * Writes the post body as HTML: the text with its markup characters
 * escaped, so it shows as written, then the link as its own paragraph.
 * WordPress turns blank lines into paragraphs when it renders the post.
 * Returns a string to free, or NULL when out of memory.
 */
static char *build_html(const char *text, const char *link)
{
    char *html = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&html, &len);
    int failed;

    if (out == NULL)
        return NULL;
    write_escaped(out, text);
    if (link != NULL && link[0] != '\0') {
        fputs(text[0] != '\0' ? "\n\n<a href=\"" : "<a href=\"", out);
        write_escaped(out, link);
        fputs("\">", out);
        write_escaped(out, link);
        fputs("</a>", out);
    }
    failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        free(html);
        return NULL;
    }
    return html;
}

static const char *content_string(const json_t *content, const char *key)
{
    const char *value = json_string_value(json_object_get(content, key));

    return value == NULL ? "" : value;
}

/* Writes "YYYY-MM-DDTHH:MM:SS" in UTC, the form of date_gmt. */
static void format_date_gmt(int64_t epoch_ms, char *out, size_t outlen)
{
    time_t seconds = (time_t)(epoch_ms / 1000);
    struct tm tm;

    if (gmtime_r(&seconds, &tm) == NULL ||
        strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        out[0] = '\0';
}

/*
 * Builds the JSON body of the create request. The title is the content's
 * title, or else the first line of its text. Returns a string to free,
 * or NULL when out of memory.
 */
static char *build_request(const struct wordpress_adapter *adapter,
                           const struct publish_attempt *attempt,
                           const char *slug)
{
    const char *text = content_string(attempt->content, "text");
    const char *title = content_string(attempt->content, "title");
    char *html = build_html(text, content_string(attempt->content, "link"));
    char date[32];
    json_t *body;
    char *dumped = NULL;

    if (html == NULL)
        return NULL;
    body = json_pack("{s:s%, s:s, s:s, s:s}", "title",
                     title[0] != '\0' ? title : text,
                     title[0] != '\0' ? strlen(title) : strcspn(text, "\n"),
                     "content", html, "status", adapter->status, "slug", slug);
    free(html);
    if (body == NULL)
        return NULL;

    /*
     * WordPress publishes a "future" post at date_gmt. pubq sends when
     * the entry is due, so this is the job's planned time, which
     * WordPress treats as "publish now" when it is less than a minute
     * ahead (wp_insert_post).
     */
    if (strcmp(adapter->status, "future") == 0) {
        format_date_gmt(attempt->entry->scheduled_at, date, sizeof date);
        json_object_set_new(body, "date_gmt", json_string(date));
    }
    dumped = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return dumped;
}

/* Creates the exchange of one step. Returns NULL with a message in err. */
static struct http_exchange *new_exchange(const struct wordpress_adapter *a,
                                          const char *url, char *err,
                                          size_t errlen)
{
    struct http_exchange *ex =
        http_exchange_new(url, a->timeout_ms, err, errlen);

    if (ex == NULL)
        return NULL;
    if (http_exchange_add_header(ex, a->auth_header) != 0 ||
        http_exchange_add_header(ex, "Accept: application/json") != 0) {
        snprintf(err, errlen, "out of memory");
        http_exchange_free(ex);
        return NULL;
    }
    return ex;
}

/*
 * Lists posts with our slug in any status but trash. status=any needs
 * the edit_posts capability, so the request carries the credentials and
 * context=edit. _fields keeps the reply small.
 */
static CURL *begin_lookup(const struct wordpress_adapter *adapter,
                          struct wordpress_attempt *run, char *err,
                          size_t errlen)
{
    char url[STORE_URL_MAX + 128];

    snprintf(url, sizeof url,
             "%s?slug=%s&status=any&context=edit&_fields=id,link,slug,status",
             adapter->posts_url, run->slug);
    http_exchange_free(run->ex);
    run->ex = new_exchange(adapter, url, err, errlen);
    return run->ex == NULL ? NULL : http_exchange_easy(run->ex);
}

static CURL *begin_create(const struct wordpress_adapter *adapter,
                          struct wordpress_attempt *run,
                          const struct publish_attempt *attempt, char *err,
                          size_t errlen)
{
    char *body = build_request(adapter, attempt, run->slug);
    CURL *easy = NULL;

    http_exchange_free(run->ex);
    run->ex = NULL;
    if (body == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    run->ex = new_exchange(adapter, adapter->posts_url, err, errlen);
    if (run->ex != NULL &&
        (http_exchange_add_header(run->ex, "Content-Type: application/json") !=
             0 ||
         http_exchange_set_body(run->ex, body, strlen(body)) != 0))
        snprintf(err, errlen, "out of memory");
    else if (run->ex != NULL)
        easy = http_exchange_easy(run->ex);
    free(body);
    return easy;
}

static enum adapter_step
begin_attempt(void *state, struct publish_attempt *attempt, CURL **easy)
{
    struct wordpress_adapter *adapter = state;
    struct wordpress_attempt *run = calloc(1, sizeof *run);
    char reason[256] = "out of memory";

    attempt->step_state = run;
    if (run != NULL) {
        derive_slug(attempt->entry, run->slug, sizeof run->slug);
        /*
         * Any earlier attempt may have created the post: one whose
         * outcome was unknown, or one whose node died mid-request.
         */
        run->step =
            attempt->previous_unknown || attempt->entry->attempt_count > 1
                ? WORDPRESS_LOOKUP
                : WORDPRESS_CREATE;
        *easy =
            run->step == WORDPRESS_LOOKUP
                ? begin_lookup(adapter, run, reason, sizeof reason)
                : begin_create(adapter, run, attempt, reason, sizeof reason);
    }
    if (run == NULL || *easy == NULL) {
        adapter_result_fail(&attempt->result, OUTCOME_TRANSIENT,
                            "cannot build the wordpress request: %s", reason);
        return ADAPTER_DONE;
    }
    return ADAPTER_HTTP;
}

/* Copies an integer or string JSON value as text; "" when neither. */
static void copy_id(const json_t *value, char *out, size_t outlen)
{
    out[0] = '\0';
    if (json_is_integer(value))
        snprintf(out, outlen, "%lld", (long long)json_integer_value(value));
    else if (json_is_string(value) && json_string_length(value) < outlen)
        snprintf(out, outlen, "%s", json_string_value(value));
}

/* Stores a post object's id and link. Returns 0, or -1 without an id. */
static int read_post(const json_t *post, struct adapter_result *result)
{
    const json_t *link = json_object_get(post, "link");

    copy_id(json_object_get(post, "id"), result->post_id,
            sizeof result->post_id);
    if (result->post_id[0] == '\0')
        return -1;
    if (json_is_string(link) && json_string_length(link) < STORE_URL_MAX)
        snprintf(result->post_url, sizeof result->post_url, "%s",
                 json_string_value(link));
    return 0;
}

static json_t *reply_json(struct http_exchange *ex)
{
    size_t len = 0;
    const char *body = http_exchange_body(ex, &len);

    return json_loadb(body, len, 0, NULL);
}

/* Copies text with control characters replaced by spaces. */
static void copy_printable(const char *text, char *out, size_t outlen)
{
    size_t n = 0;

    for (; text[n] != '\0' && n + 1 < outlen; n++)
        out[n] = (unsigned char)text[n] < 0x20 ? ' ' : text[n];
    out[n] = '\0';
}

/*
 * Reads a WordPress error, {"code": ..., "message": ..., "data":
 * {"status": ...}}, or the start of a body of another shape.
 */
static void read_error(struct http_exchange *ex, char *code, size_t codelen,
                       char *message, size_t messagelen)
{
    json_t *reply = reply_json(ex);
    const char *text = json_string_value(json_object_get(reply, "code"));

    copy_printable(text == NULL ? "" : text, code, codelen);
    text = json_string_value(json_object_get(reply, "message"));
    if (text == NULL) {
        size_t len = 0;

        text = http_exchange_body(ex, &len);
    }
    copy_printable(text, message, messagelen);
    json_decref(reply);
}

static void pause_platform(struct adapter_result *result, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pause_platform(struct adapter_result *result, const char *fmt, ...)
{
    va_list args;

    result->pause_ms = -1;
    va_start(args, fmt);
    vsnprintf(result->pause_reason, sizeof result->pause_reason, fmt, args);
    va_end(args);
}

/* Reads Retry-After of a 429 or 503; a malformed one is only noted. */
static void read_retry_after(struct http_exchange *ex,
                             struct publish_attempt *attempt, char *note,
                             size_t notelen)
{
    const char *value = http_exchange_header(ex, "Retry-After");
    long status = http_exchange_status(ex);
    char reason[200];
    int64_t delay_ms;

    note[0] = '\0';
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

/*
 * Maps an error status of either request. WordPress returns 401 when the
 * user name or application password is wrong (rest_application_password_
 * check_errors), 403 when the user lacks the capability, 404
 * rest_no_route when the REST API is off or the site URL is wrong, and
 * 400 rest_invalid_param for a rejected field.
 */
static void classify_error(struct http_exchange *ex,
                           struct publish_attempt *attempt, int lookup)
{
    struct adapter_result *result = &attempt->result;
    long status = http_exchange_status(ex);
    char code[64], message[WORDPRESS_MESSAGE_MAX], note[256];

    read_error(ex, code, sizeof code, message, sizeof message);
    read_retry_after(ex, attempt, note, sizeof note);
    result->http_status = (int)status;
    adapter_result_fail(result, outcome_from_http_status(status),
                        "wordpress %s of %s returned HTTP %ld%s%s (%s)%s%s%s",
                        lookup ? "lookup" : "create", http_exchange_host(ex),
                        status, code[0] != '\0' ? " " : "", code,
                        outcome_http_reason(status),
                        adapter_reply_colon(message), message, note);

    /* A failed lookup created nothing; the next attempt looks again. */
    if (lookup && result->outcome == OUTCOME_UNKNOWN)
        result->outcome = OUTCOME_TRANSIENT;

    if (status == 401)
        pause_platform(result, "application password rejected (HTTP %ld %s)",
                       status, code);
    else if (status == 403)
        pause_platform(result,
                       "the WordPress user may not create posts (HTTP %ld "
                       "%s)",
                       status, code);
    else if (status == 404)
        pause_platform(result,
                       "REST API not found (HTTP %ld %s): it is disabled or "
                       "the site URL is wrong",
                       status, code);
}

/*
 * Handles the reply to a slug lookup, a JSON array of posts. A post
 * found ends the attempt as a success. When none is found, a lookup
 * before posting starts the create request, and a lookup after a create
 * without a readable id still ends in success.
 */
static enum adapter_step on_lookup(struct wordpress_adapter *adapter,
                                   struct wordpress_attempt *run,
                                   struct publish_attempt *attempt, CURL **next)
{
    struct adapter_result *result = &attempt->result;
    json_t *posts = reply_json(run->ex);
    char reason[256];
    int found;

    result->http_status = (int)http_exchange_status(run->ex);
    found = json_is_array(posts) && json_array_size(posts) > 0 &&
            read_post(json_array_get(posts, 0), result) == 0;
    if (!json_is_array(posts) && run->step == WORDPRESS_LOOKUP)
        adapter_result_fail(result, OUTCOME_TRANSIENT,
                            "wordpress lookup of %s returned HTTP %d "
                            "without a JSON array of posts; pubq posts only "
                            "after a lookup that it can read",
                            http_exchange_host(run->ex), result->http_status);
    json_decref(posts);
    if (found || run->step == WORDPRESS_CONFIRM ||
        result->outcome != OUTCOME_SUCCESS)
        return ADAPTER_DONE;

    run->step = WORDPRESS_CREATE;
    *next = begin_create(adapter, run, attempt, reason, sizeof reason);
    if (*next == NULL) {
        adapter_result_fail(result, OUTCOME_TRANSIENT,
                            "cannot build the wordpress request: %s", reason);
        return ADAPTER_DONE;
    }
    return ADAPTER_HTTP;
}

/* Handles a 2xx reply to the create request, the new post object. */
static enum adapter_step on_created(struct wordpress_adapter *adapter,
                                    struct wordpress_attempt *run,
                                    struct publish_attempt *attempt,
                                    CURL **next)
{
    json_t *post = reply_json(run->ex);
    int readable = read_post(post, &attempt->result) == 0;
    char reason[256];

    json_decref(post);
    attempt->result.http_status = (int)http_exchange_status(run->ex);
    if (readable)
        return ADAPTER_DONE;

    /* The post exists; only its id is missing, so look it up by slug. */
    run->step = WORDPRESS_CONFIRM;
    *next = begin_lookup(adapter, run, reason, sizeof reason);
    return *next == NULL ? ADAPTER_DONE : ADAPTER_HTTP;
}

static void fail_transport(struct wordpress_attempt *run,
                           struct publish_attempt *attempt, CURLcode code)
{
    char reason[STORE_TEXT_MAX / 2];
    enum outcome outcome =
        http_exchange_transport_outcome(run->ex, code, reason, sizeof reason);

    /* A lookup creates nothing, so its failure is never unknown. */
    if (run->step == WORDPRESS_LOOKUP && outcome == OUTCOME_UNKNOWN)
        outcome = OUTCOME_TRANSIENT;
    attempt->result.http_status = (int)http_exchange_status(run->ex);
    adapter_result_fail(&attempt->result, outcome, "wordpress %s", reason);
}

static enum adapter_step handle_response(void *state,
                                         struct publish_attempt *attempt,
                                         CURL *easy, CURLcode code, CURL **next)
{
    struct wordpress_adapter *adapter = state;
    struct wordpress_attempt *run = attempt->step_state;
    long status = http_exchange_status(run->ex);
    int success = status >= 200 && status <= 299;

    (void)easy;
    code = http_exchange_result(run->ex, code);
    if (run->step == WORDPRESS_CONFIRM) {
        /* Created for sure: a failed lookup only leaves the id unknown. */
        attempt->result.outcome = OUTCOME_SUCCESS;
        if (code == CURLE_OK && success)
            return on_lookup(adapter, run, attempt, next);
        return ADAPTER_DONE;
    }
    /* A reply cut off at the size cap still has a status to classify. */
    if (code != CURLE_OK &&
        !(status != 0 && http_exchange_truncated(run->ex))) {
        fail_transport(run, attempt, code);
        return ADAPTER_DONE;
    }
    if (!success) {
        classify_error(run->ex, attempt, run->step == WORDPRESS_LOOKUP);
        return ADAPTER_DONE;
    }
    attempt->result.outcome = OUTCOME_SUCCESS;
    if (run->step == WORDPRESS_LOOKUP)
        return on_lookup(adapter, run, attempt, next);
    return on_created(adapter, run, attempt, next);
}

/*
 * Removes the application password and its Basic credentials from the
 * result on every path: a server may echo either in an error message or
 * in the post's link.
 */
static void redact_secrets(void *state, struct adapter_result *result)
{
    const struct wordpress_adapter *adapter = state;

    adapter_reply_redact_result(result, adapter->password);
    adapter_reply_redact_result(result, adapter->auth_header +
                                            strlen(WORDPRESS_AUTH_PREFIX));
}

static void wordpress_end(void *state, struct publish_attempt *attempt)
{
    struct wordpress_attempt *run = attempt->step_state;

    (void)state;
    if (run != NULL)
        http_exchange_free(run->ex);
    free(run);
    attempt->step_state = NULL;
}

const struct adapter_ops adapter_wordpress_ops = {
    .type = "wordpress",
    .options = wordpress_options,
    .reconcile_window_ms = ADAPTER_RECONCILE_ALWAYS, /* lookup by the derived slug */
    .create = wordpress_create,
    .destroy = wordpress_destroy,
    .check_content = NULL, /* WordPress sets no length limit on posts */
    .start = begin_attempt,
    .on_response = handle_response,
    .redact = redact_secrets,
    .end = wordpress_end,
};
