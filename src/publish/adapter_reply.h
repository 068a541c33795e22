/*
 * Helpers for classifying platform responses, shared by the HTTP
 * adapters: body snippets for error text, JSON reply fields, platform
 * pauses, transfer failures and removing secrets from result text.
 */
#ifndef PUBQ_ADAPTER_REPLY_H
#define PUBQ_ADAPTER_REPLY_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

#include "publish/adapter.h"
#include "publish/http_exchange.h"

/*
 * Copies the start of a response body into out for an error message:
 * control characters become spaces, surrounding white space is dropped,
 * and a cut never splits a UTF-8 sequence. out is always terminated.
 */
void adapter_reply_snippet(const char *body, size_t len, char *out,
                           size_t outlen);

/*
 * Copies the string or integer field `key` of a JSON object into out.
 * Returns 0, or -1 (out set to "") when the field is missing, of another
 * type or too long for out.
 */
int adapter_reply_field(const json_t *object, const char *key, char *out,
                        size_t outlen);

/*
 * Returns the ": " that introduces `text` in an error message, or "" when
 * text is empty, so that an empty reply body leaves no dangling colon.
 */
const char *adapter_reply_colon(const char *text);

/* Pauses the platform until resumed by hand, with a printf-style reason. */
void adapter_reply_pause(struct adapter_result *result, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Fails result after a transfer that ended with `code` != CURLE_OK,
 * classified by http_exchange_transport_outcome: transient before the
 * request was sent, unknown after it (the post may exist), permanent for
 * pubq's own set-up errors. The message names the target only as
 * `target` (such as "discord webhook"), never by URL.
 */
void adapter_reply_transport_failure(struct http_exchange *ex, CURLcode code,
                                     const char *target,
                                     struct adapter_result *result);

/*
 * Replaces every occurrence of `secret` in text (a NUL-terminated buffer)
 * with "[secret]", so that a server echoing a credential back cannot put
 * it into stored error text. Secrets shorter than 8 bytes are skipped
 * because they would match ordinary words.
 */
void adapter_reply_redact(char *text, const char *secret);

/*
 * Applies adapter_reply_redact with `secret` to every text of result that
 * pubq stores or shows: the error, the pause reason, the post id and the
 * post URL. A NULL secret changes nothing.
 * NOTE: only whole copies are found, so a secret that a message limit
 * cut off, or that a server wrote escaped or percent-encoded, can stay
 * in part.
 */
void adapter_reply_redact_result(struct adapter_result *result,
                                 const char *secret);

#endif
