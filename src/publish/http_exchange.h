/*
 * One HTTP request and its captured response, shared by the HTTP
 * adapters: builds a curl easy handle with pubq's timeouts and limits,
 * collects the status, headers and a size-capped body, and tells apart
 * failures that happened before the request was sent (safe to retry)
 * from those after it (the post may exist).
 *
 *   struct http_exchange *ex = http_exchange_new(url, timeout_ms, err, n);
 *   http_exchange_add_header(ex, "Content-Type: application/json");
 *   http_exchange_set_body(ex, json_text, len);
 *   *easy = http_exchange_easy(ex);   ... the engine runs it ...
 *   http_exchange_status(ex), http_exchange_header(ex, "retry-after")
 *   http_exchange_free(ex);
 *
 * The engine never touches CURLOPT_PRIVATE of an exchange's handle's
 * data beyond its own attempt pointer; the exchange keeps its buffers in
 * itself, so the adapter stores the exchange in attempt->step_state.
 */
#ifndef PUBQ_HTTP_EXCHANGE_H
#define PUBQ_HTTP_EXCHANGE_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "core/outcome.h"
#include "publish/http_easy_pool.h"

/* Responses larger than this are cut off and the attempt fails. */
#define HTTP_EXCHANGE_MAX_BODY (1024 * 1024)

struct http_exchange;

/*
 * Creates an exchange for `url` with a total timeout. Rejects the URLs
 * that http_exchange_check_url rejects. Returns NULL with a message in
 * err.
 */
struct http_exchange *http_exchange_new(const char *url, int64_t timeout_ms,
                                        char *err, size_t errlen);

/*
 * Creates an exchange like http_exchange_new, for a URL that an earlier
 * http_exchange_new accepted, with the host that http_exchange_host
 * returned for it, so the URL is not parsed again. The easy handle
 * comes from `pool` and goes back to it in http_exchange_free, so the
 * handle must then be out of any multi handle.
 */
struct http_exchange *http_exchange_new_pooled(struct http_easy_pool *pool,
                                               const char *url,
                                               const char *host,
                                               int64_t timeout_ms, char *err,
                                               size_t errlen);

/*
 * Checks that `url` is an http or https URL with a host written after
 * "//", no user name or password, and no CR, LF or other control
 * character. Returns 0, or -1 with a message in err that never quotes
 * the URL, because its path or query may hold a token.
 */
int http_exchange_check_url(const char *url, char *err, size_t errlen);

/* Adds "Name: value"; rejects (-1) a header with CR or LF in it. */
int http_exchange_add_header(struct http_exchange *ex, const char *header);

/*
 * Sends `headers` after those added with http_exchange_add_header. The
 * list stays the caller's: it must outlive the exchange, and neither
 * curl nor the exchange changes or frees it, so exchanges running at
 * once may share it. Saves a copy of headers that every request sends.
 */
void http_exchange_share_headers(struct http_exchange *ex,
                                 struct curl_slist *headers);

/* Sets a POST body, copied. */
int http_exchange_set_body(struct http_exchange *ex, const char *body,
                           size_t len);

/*
 * Switches the method (default GET without body, POST with one). Returns
 * -1 for a method that is not 1-15 uppercase letters.
 */
int http_exchange_set_method(struct http_exchange *ex, const char *method);

/*
 * Applies the method, body and headers set so far and returns the handle
 * to run, or NULL when curl rejects an option. The exchange owns the
 * handle: http_exchange_free cleans it up, and callers must not.
 */
CURL *http_exchange_easy(struct http_exchange *ex);

/*
 * Returns `code`, or CURLE_RECV_ERROR when curl reported success for a
 * response whose header block never ended: libcurl 7.88 accepts a
 * connection closed in the middle of the headers as a whole response.
 * The request was sent by then, so the outcome is unknown. Each adapter
 * passes the transfer's code through this first.
 */
CURLcode http_exchange_result(const struct http_exchange *ex, CURLcode code);

/* The HTTP status of the response, or 0 when none arrived. */
long http_exchange_status(const struct http_exchange *ex);

/* Returns the value of the last response header `name` (any case), or
 * NULL. Valid until the exchange is freed. */
const char *http_exchange_header(const struct http_exchange *ex,
                                 const char *name);

/* The response body, NUL-terminated, and its length. */
const char *http_exchange_body(const struct http_exchange *ex, size_t *len);

/* 1 when the body was cut off at HTTP_EXCHANGE_MAX_BODY. */
int http_exchange_truncated(const struct http_exchange *ex);

/*
 * Returns the host name of the URL, for messages that must not show the
 * path or query (they may hold secrets). Valid until the exchange is
 * freed.
 */
const char *http_exchange_host(const struct http_exchange *ex);

/*
 * Classifies a transfer that ended with `code` != CURLE_OK: failures
 * before the request was sent (resolve, connect, TLS) are transient;
 * after it (timeout while waiting, connection dropped, a body cut off at
 * the cap) unknown; errors in pubq's own set-up (bad URL, missing CA
 * file) permanent. Writes a message naming the host, never the path,
 * query or headers, into err.
 */
enum outcome http_exchange_transport_outcome(struct http_exchange *ex,
                                             CURLcode code, char *err,
                                             size_t errlen);

void http_exchange_free(struct http_exchange *ex);

#endif
