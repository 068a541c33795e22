#include "publish/http_exchange.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "publish/http_easy_pool.h"
#include "util/banned.h"

#define HTTP_EXCHANGE_USER_AGENT "pubq/0.1"
#define HTTP_EXCHANGE_CONNECT_TIMEOUT_MS 10000
#define HTTP_EXCHANGE_HOST_MAX 256
/* Bodies up to this size go without "Expect:" (see http_exchange_easy). */
#define HTTP_EXCHANGE_EXPECT_MIN 1024

/* A response header: offsets of its name and value in header_text,
 * each ended by a NUL. */
struct http_header {
    size_t name;
    size_t value;
};

struct http_exchange {
    CURL *easy;
    struct http_easy_pool *pool;       /* where easy goes back; NULL: cleanup */
    enum http_easy_state easy_state;   /* as http_easy_pool_take set it */
    char host[HTTP_EXCHANGE_HOST_MAX]; /* for messages: never the path */
    int64_t timeout_ms;
    struct curl_slist *request_headers;
    /* The last node of request_headers, whose next is shared_headers
     * while curl may read the list. */
    struct curl_slist *request_headers_tail;
    struct curl_slist *shared_headers; /* the caller's; never freed here */
    char *request_body;
    size_t request_body_len;
    int has_body;
    int applied; /* http_exchange_easy has run */
    char method[16];

    struct http_header *headers;
    size_t header_count;
    size_t header_cap;
    /* Every header's text in one buffer, so that a response costs two
     * allocations instead of two per header. */
    char *header_text;
    size_t header_text_used;
    size_t header_text_cap;

    char *body;
    size_t body_len;
    size_t body_cap;
    int truncated;
    int headers_ended; /* the blank line after the headers arrived */
};

static int has_control_char(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    }
    return 0;
}

/*
 * Returns 1 when the text has a host right after "scheme://". curl's
 * parser (8.x) takes one to three slashes, so it reads "http:///x" and
 * "http:/x" as host "x" and cannot tell these apart from "http://x".
 */
static int has_authority(const char *url)
{
    const char *colon = strchr(url, ':');

    if (colon == NULL || strncmp(colon, "://", 3) != 0)
        return 0;
    return colon[3] != '\0' && strchr("/?#", colon[3]) == NULL;
}

/* Returns 1 when the parsed URL carries a user name or a password. */
static int has_userinfo(CURLU *parsed)
{
    char *part = NULL;
    int found = 0;

    if (curl_url_get(parsed, CURLUPART_USER, &part, 0) == CURLUE_OK)
        found = 1;
    curl_free(part);
    part = NULL;
    if (curl_url_get(parsed, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK)
        found = 1;
    curl_free(part);
    return found;
}

/*
 * Checks the scheme and copies the host with curl's own URL parser, so
 * pubq accepts exactly the URLs that curl will request.
 */
static int parse_url(const char *url, char *host, size_t hostlen, char *err,
                     size_t errlen)
{
    CURLU *parsed = curl_url();
    char *scheme = NULL;
    char *name = NULL;
    CURLUcode code;
    int result = -1;

    if (parsed == NULL) {
        snprintf(err, errlen, "out of memory parsing a URL");
        return -1;
    }
    code = has_authority(url) ? curl_url_set(parsed, CURLUPART_URL, url, 0)
                              : CURLUE_NO_HOST;
    if (code == CURLUE_OK)
        code = curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0);
    if (code == CURLUE_OK)
        code = curl_url_get(parsed, CURLUPART_HOST, &name, 0);
    if (code == CURLUE_OK && name[0] == '\0')
        code = CURLUE_NO_HOST;
    if (code == CURLUE_NO_HOST) {
        snprintf(err, errlen,
                 "invalid URL: missing host after \"//\"; write it as "
                 "http://HOST/PATH or https://HOST/PATH");
        goto done;
    }
    if (code != CURLUE_OK) {
        /* The URL itself is not shown: its query may hold a token. */
        snprintf(err, errlen,
                 "invalid URL (%s): write it as http://HOST/PATH or "
                 "https://HOST/PATH",
                 curl_url_strerror(code));
        goto done;
    }
    if (has_userinfo(parsed)) {
        snprintf(err, errlen,
                 "invalid URL: it contains a user name or password; remove "
                 "them and put credentials in an environment variable");
        goto done;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(err, errlen,
                 "invalid URL scheme \"%.16s\": only http and https are "
                 "supported",
                 scheme);
        goto done;
    }
    snprintf(host, hostlen, "%s", name);
    result = 0;

done:
    curl_free(scheme);
    curl_free(name);
    curl_url_cleanup(parsed);
    return result;
}

int http_exchange_check_url(const char *url, char *err, size_t errlen)
{
    char host[HTTP_EXCHANGE_HOST_MAX];

    if (has_control_char(url)) {
        snprintf(err, errlen,
                 "invalid URL: it contains a control character such as CR "
                 "or LF; remove it");
        return -1;
    }
    return parse_url(url, host, sizeof host, err, errlen);
}

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    struct http_exchange *ex = user;
    size_t len = size * count;

    if (len > HTTP_EXCHANGE_MAX_BODY - ex->body_len) {
        /* Returning less than len makes curl abort with CURLE_WRITE_ERROR */
        ex->truncated = 1;
        return 0;
    }
    if (ex->body_len + len + 1 > ex->body_cap) {
        size_t cap = ex->body_cap ? ex->body_cap : 4096;
        char *grown;

        while (cap < ex->body_len + len + 1)
            cap *= 2;
        grown = realloc(ex->body, cap);
        if (grown == NULL)
            return 0;
        ex->body = grown;
        ex->body_cap = cap;
    }
    memcpy(ex->body + ex->body_len, data, len);
    ex->body_len += len;
    ex->body[ex->body_len] = '\0';
    return len;
}

static void headers_clear(struct http_exchange *ex)
{
    ex->header_count = 0;
    ex->header_text_used = 0;
}

/* Makes room for `more` bytes in header_text. */
static int reserve_header_text(struct http_exchange *ex, size_t more)
{
    size_t cap = ex->header_text_cap ? ex->header_text_cap : 512;
    char *grown;

    if (ex->header_text_used + more <= ex->header_text_cap)
        return 0;
    while (cap < ex->header_text_used + more)
        cap *= 2;
    grown = realloc(ex->header_text, cap);
    if (grown == NULL)
        return -1;
    ex->header_text = grown;
    ex->header_text_cap = cap;
    return 0;
}

/* Copies text into header_text with a NUL and returns its offset. */
static size_t store_header_text(struct http_exchange *ex, const char *text,
                                size_t len)
{
    size_t offset = ex->header_text_used;

    memcpy(ex->header_text + offset, text, len);
    ex->header_text[offset + len] = '\0';
    ex->header_text_used += len + 1;
    return offset;
}

static int headers_append(struct http_exchange *ex, const char *name,
                          size_t name_len, const char *value, size_t value_len)
{
    struct http_header *slot;

    if (ex->header_count == ex->header_cap) {
        size_t cap = ex->header_cap ? ex->header_cap * 2 : 16;
        struct http_header *grown = realloc(ex->headers, cap * sizeof *grown);

        if (grown == NULL)
            return -1;
        ex->headers = grown;
        ex->header_cap = cap;
    }
    if (reserve_header_text(ex, name_len + value_len + 2) != 0)
        return -1;

    slot = &ex->headers[ex->header_count];
    slot->name = store_header_text(ex, name, name_len);
    slot->value = store_header_text(ex, value, value_len);
    ex->header_count++;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* curl calls this once per header line, status line and blank line. */
static size_t on_header(char *data, size_t size, size_t count, void *user)
{
    struct http_exchange *ex = user;
    size_t len = size * count;
    const char *colon = memchr(data, ':', len);
    const char *value;
    size_t value_len;

    /* A new status line starts a new response (after 100 Continue). */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        headers_clear(ex);
        ex->headers_ended = 0;
        return len;
    }
    if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        ex->headers_ended = 1;
        return len;
    }
    if (colon == NULL || colon == data)
        return len;

    value = colon + 1;
    value_len = len - (size_t)(value - data);
    while (value_len > 0 && is_space(value[0])) {
        value++;
        value_len--;
    }
    while (value_len > 0 && is_space(value[value_len - 1]))
        value_len--;
    if (headers_append(ex, data, (size_t)(colon - data), value, value_len) != 0)
        return 0;
    return len;
}

static int configure_easy(struct http_exchange *ex, const char *url)
{
    CURL *easy = ex->easy;
    long timeout = (long)ex->timeout_ms;
    long connect_timeout = timeout < HTTP_EXCHANGE_CONNECT_TIMEOUT_MS
                               ? timeout
                               : HTTP_EXCHANGE_CONNECT_TIMEOUT_MS;
    int failed = 0;

    if (ex->easy_state == HTTP_EASY_KEYED &&
        http_easy_pool_url(ex->pool) != NULL)
        failed |= curl_easy_setopt(easy, CURLOPT_CURLU,
                                   http_easy_pool_url(ex->pool)) != CURLE_OK;
    else
        failed |= curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK;
    failed |=
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR,
                               "http,https") != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                               connect_timeout) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_USERAGENT,
                               HTTP_EXCHANGE_USER_AGENT) != CURLE_OK;
    failed |=
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_WRITEDATA, ex) != CURLE_OK;
    failed |=
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_HEADERDATA, ex) != CURLE_OK;
    return failed ? -1 : 0;
}

static int check_new(const char *url, int64_t timeout_ms, char *err,
                     size_t errlen)
{
    if (url == NULL || has_control_char(url)) {
        snprintf(err, errlen,
                 "invalid URL: it contains a control character such as CR "
                 "or LF; remove it");
        return -1;
    }
    if (timeout_ms <= 0 || timeout_ms > 24LL * 3600 * 1000) {
        snprintf(err, errlen,
                 "invalid HTTP timeout %lld ms: use a value from 1 ms to "
                 "24 h",
                 (long long)timeout_ms);
        return -1;
    }
    return 0;
}

/* Points the callbacks of a handle configured earlier at this exchange. */
static int retarget_easy(struct http_exchange *ex)
{
    int failed = 0;

    failed |= curl_easy_setopt(ex->easy, CURLOPT_WRITEDATA, ex) != CURLE_OK;
    failed |= curl_easy_setopt(ex->easy, CURLOPT_HEADERDATA, ex) != CURLE_OK;
    return failed ? -1 : 0;
}

/* Takes the easy handle from `pool`, or a new one when pool is NULL. */
static int attach_easy(struct http_exchange *ex, const char *url,
                       struct http_easy_pool *pool, char *err, size_t errlen)
{
    ex->easy_state = HTTP_EASY_NEW;
    ex->easy = pool != NULL ? http_easy_pool_take(pool, url, ex->timeout_ms,
                                                  &ex->easy_state)
                            : curl_easy_init();
    if (ex->easy != NULL)
        ex->pool = pool;
    if (ex->easy == NULL ||
        (ex->easy_state == HTTP_EASY_CONFIGURED ? retarget_easy(ex)
                                                : configure_easy(ex, url)) !=
            0) {
        snprintf(err, errlen, "failed to set up an HTTP request to %s",
                 ex->host);
        return -1;
    }
    return 0;
}

struct http_exchange *http_exchange_new(const char *url, int64_t timeout_ms,
                                        char *err, size_t errlen)
{
    struct http_exchange *ex;

    if (check_new(url, timeout_ms, err, errlen) != 0)
        return NULL;
    ex = calloc(1, sizeof *ex);
    if (ex == NULL) {
        snprintf(err, errlen, "out of memory creating an HTTP request");
        return NULL;
    }
    if (parse_url(url, ex->host, sizeof ex->host, err, errlen) != 0) {
        free(ex);
        return NULL;
    }

    ex->timeout_ms = timeout_ms;
    if (attach_easy(ex, url, NULL, err, errlen) != 0) {
        http_exchange_free(ex);
        return NULL;
    }
    return ex;
}

/* Copies host, cut to fit, without snprintf's cost on every request. */
static void copy_host(struct http_exchange *ex, const char *host)
{
    size_t len = strnlen(host, sizeof ex->host - 1);

    memcpy(ex->host, host, len);
    ex->host[len] = '\0';
}

struct http_exchange *http_exchange_new_pooled(struct http_easy_pool *pool,
                                               const char *url,
                                               const char *host,
                                               int64_t timeout_ms, char *err,
                                               size_t errlen)
{
    struct http_exchange *ex;

    if (check_new(url, timeout_ms, err, errlen) != 0)
        return NULL;
    ex = calloc(1, sizeof *ex);
    if (ex == NULL) {
        snprintf(err, errlen, "out of memory creating an HTTP request");
        return NULL;
    }
    copy_host(ex, host);

    ex->timeout_ms = timeout_ms;
    if (attach_easy(ex, url, pool, err, errlen) != 0) {
        http_exchange_free(ex);
        return NULL;
    }
    return ex;
}

int http_exchange_add_header(struct http_exchange *ex, const char *header)
{
    struct curl_slist *list;

    if (header == NULL || strchr(header, '\r') || strchr(header, '\n'))
        return -1;

    list = curl_slist_append(ex->request_headers, header);
    if (list == NULL)
        return -1;
    ex->request_headers = list;
    ex->request_headers_tail =
        ex->request_headers_tail == NULL ? list
                                         : ex->request_headers_tail->next;
    return 0;
}

void http_exchange_share_headers(struct http_exchange *ex,
                                 struct curl_slist *headers)
{
    ex->shared_headers = headers;
}

/* The request's headers: its own, followed by the shared ones. */
static struct curl_slist *link_headers(struct http_exchange *ex)
{
    if (ex->request_headers_tail == NULL)
        return ex->shared_headers;
    ex->request_headers_tail->next = ex->shared_headers;
    return ex->request_headers;
}

int http_exchange_set_body(struct http_exchange *ex, const char *body,
                           size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL)
        return -1;
    memcpy(copy, body, len);
    copy[len] = '\0';

    free(ex->request_body);
    ex->request_body = copy;
    ex->request_body_len = len;
    ex->has_body = 1;
    return 0;
}

int http_exchange_set_method(struct http_exchange *ex, const char *method)
{
    size_t len = method ? strlen(method) : 0;

    if (len == 0 || len >= sizeof ex->method)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (method[i] < 'A' || method[i] > 'Z')
            return -1;
    }
    memcpy(ex->method, method, len + 1);
    return 0;
}

/* Applies the method, body and headers set so far to the handle. */
static int apply_request(struct http_exchange *ex)
{
    CURL *easy = ex->easy;
    const char *method = ex->method[0]  ? ex->method
                         : ex->has_body ? "POST"
                                        : "GET";
    int failed = 0;

    if (ex->has_body) {
        failed |=
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)ex->request_body_len) != CURLE_OK;
        failed |= curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
                                   ex->request_body) != CURLE_OK;
    } else {
        /* Also undoes the POST of a handle that kept its options. */
        failed |= curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L) != CURLE_OK;
    }
    if (strcmp(method, "HEAD") == 0)
        failed |= curl_easy_setopt(easy, CURLOPT_NOBODY, 1L) != CURLE_OK;
    else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        failed |=
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_HTTPHEADER, link_headers(ex)) !=
              CURLE_OK;
    return failed ? -1 : 0;
}

CURL *http_exchange_easy(struct http_exchange *ex)
{
    /*
     * An empty "Expect:" stops curl from waiting for 100 Continue before
     * large bodies, which costs a round trip with servers that never
     * send it. libcurl 7.88.1 sent none with a 5,000-byte body, older
     * versions ask above 1 KiB, and each header costs curl work on
     * every request.
     */
    if (ex->has_body && ex->request_body_len > HTTP_EXCHANGE_EXPECT_MIN &&
        !ex->applied && http_exchange_add_header(ex, "Expect:") != 0)
        return NULL;
    ex->applied = 1;
    if (apply_request(ex) != 0)
        return NULL;
    return ex->easy;
}

long http_exchange_status(const struct http_exchange *ex)
{
    long status = 0;

    if (curl_easy_getinfo(ex->easy, CURLINFO_RESPONSE_CODE, &status) !=
        CURLE_OK)
        return 0;
    return status;
}

const char *http_exchange_header(const struct http_exchange *ex,
                                 const char *name)
{
    for (size_t i = ex->header_count; i > 0; i--) {
        const struct http_header *header = &ex->headers[i - 1];

        if (strcasecmp(ex->header_text + header->name, name) == 0)
            return ex->header_text + header->value;
    }
    return NULL;
}

const char *http_exchange_body(const struct http_exchange *ex, size_t *len)
{
    if (len != NULL)
        *len = ex->body_len;
    return ex->body ? ex->body : "";
}

int http_exchange_truncated(const struct http_exchange *ex)
{
    return ex->truncated;
}

const char *http_exchange_host(const struct http_exchange *ex)
{
    return ex->host;
}

static int request_was_sent(struct http_exchange *ex)
{
    long request_size = 0;

    if (curl_easy_getinfo(ex->easy, CURLINFO_REQUEST_SIZE, &request_size) !=
        CURLE_OK)
        return 1; /* cannot tell, so assume the worst */
    return request_size > 0 || http_exchange_status(ex) != 0;
}

CURLcode http_exchange_result(const struct http_exchange *ex, CURLcode code)
{
    if (code == CURLE_OK && !ex->headers_ended)
        return CURLE_RECV_ERROR;
    return code;
}

static enum transport_error transport_error_of(CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return TRANSPORT_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return TRANSPORT_CONNECT_FAILED;
    case CURLE_OPERATION_TIMEDOUT:
        return TRANSPORT_TIMEOUT;
    default:
        return TRANSPORT_CONNECTION_LOST;
    }
}

/* Failures of pubq's own set-up, which a retry would meet again. */
static int is_setup_error(CURLcode code)
{
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ENGINE_NOTFOUND:
        return 1;
    default:
        return 0;
    }
}

enum outcome http_exchange_transport_outcome(struct http_exchange *ex,
                                             CURLcode code, char *err,
                                             size_t errlen)
{
    int sent = request_was_sent(ex);
    enum outcome outcome;

    if (ex->truncated) {
        snprintf(err, errlen,
                 "response from %s is larger than %d bytes and was cut off; "
                 "the request was sent, so the post may exist",
                 ex->host, HTTP_EXCHANGE_MAX_BODY);
        return OUTCOME_UNKNOWN;
    }
    if (is_setup_error(code)) {
        snprintf(err, errlen,
                 "request to %s failed before sending: %s; check the URL "
                 "and the TLS set-up",
                 ex->host, curl_easy_strerror(code));
        return OUTCOME_PERMANENT;
    }

    outcome = outcome_from_transport(transport_error_of(code), sent);
    if (outcome == OUTCOME_UNKNOWN)
        snprintf(err, errlen,
                 "request to %s failed after it was sent: %s; the post "
                 "may exist",
                 ex->host, curl_easy_strerror(code));
    else
        snprintf(err, errlen, "request to %s failed before it was sent: %s",
                 ex->host, curl_easy_strerror(code));
    return outcome;
}

/*
 * 1 when the handle may go back to its pool with its options: those of
 * the pool's own request and of a POST, which the next request of the
 * pool sets again (URL and timeout aside) in apply_request.
 */
static int keeps_options(const struct http_exchange *ex)
{
    return ex->easy_state != HTTP_EASY_NEW && ex->applied && ex->has_body &&
           (ex->method[0] == '\0' || strcmp(ex->method, "POST") == 0);
}

void http_exchange_free(struct http_exchange *ex)
{
    if (ex == NULL)
        return;

    if (ex->easy != NULL && ex->pool != NULL)
        http_easy_pool_give(ex->pool, ex->easy, keeps_options(ex));
    else if (ex->easy != NULL)
        curl_easy_cleanup(ex->easy);
    if (ex->request_headers_tail != NULL)
        ex->request_headers_tail->next = NULL;
    curl_slist_free_all(ex->request_headers);
    free(ex->request_body);
    free(ex->headers);
    free(ex->header_text);
    free(ex->body);
    free(ex);
}
