#include "publish/adapter_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define REDACT_MIN_LENGTH 8
#define REDACT_MARK "[secret]"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void adapter_reply_snippet(const char *body, size_t len, char *out,
                           size_t outlen)
{
    size_t n;

    while (len > 0 && is_space(body[0])) {
        body++;
        len--;
    }
    while (len > 0 && is_space(body[len - 1]))
        len--;

    n = len < outlen - 1 ? len : outlen - 1;
    /* Back up to the start of a UTF-8 sequence when the cut is inside one. */
    if (n < len) {
        while (n > 0 && ((unsigned char)body[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)body[i] < 0x20 ? ' ' : body[i];
    out[n] = '\0';
}

int adapter_reply_field(const json_t *object, const char *key, char *out,
                        size_t outlen)
{
    const json_t *value = json_object_get(object, key);

    out[0] = '\0';
    if (json_is_string(value) && json_string_length(value) < outlen &&
        strlen(json_string_value(value)) == json_string_length(value)) {
        snprintf(out, outlen, "%s", json_string_value(value));
        return 0;
    }
    if (json_is_integer(value)) {
        int used =
            snprintf(out, outlen, "%lld", (long long)json_integer_value(value));

        if (used > 0 && (size_t)used < outlen)
            return 0;
        out[0] = '\0';
    }
    return -1;
}

void adapter_reply_pause(struct adapter_result *result, const char *fmt, ...)
{
    va_list args;

    result->pause_ms = -1;
    va_start(args, fmt);
    vsnprintf(result->pause_reason, sizeof result->pause_reason, fmt, args);
    va_end(args);
}

void adapter_reply_transport_failure(struct http_exchange *ex, CURLcode code,
                                     const char *target,
                                     struct adapter_result *result)
{
    char ignored[512];
    enum outcome outcome =
        http_exchange_transport_outcome(ex, code, ignored, sizeof ignored);
    const char *reason = curl_easy_strerror(code);

    /* Its message names the host; `target` is what may be shown here. */
    result->http_status = (int)http_exchange_status(ex);
    if (http_exchange_truncated(ex))
        adapter_result_fail(result, outcome,
                            "%s: the response is larger than %d bytes and "
                            "was cut off; the request was sent, so the post "
                            "may exist",
                            target, HTTP_EXCHANGE_MAX_BODY);
    else if (outcome == OUTCOME_UNKNOWN)
        adapter_result_fail(result, outcome,
                            "%s: request failed after it was sent: %s; the "
                            "post may exist",
                            target, reason);
    else if (outcome == OUTCOME_PERMANENT)
        adapter_result_fail(result, outcome,
                            "%s: request failed before sending: %s; check "
                            "the URL and the TLS set-up",
                            target, reason);
    else
        adapter_result_fail(result, outcome,
                            "%s: request failed before it was sent: %s", target,
                            reason);
}

void adapter_reply_redact(char *text, const char *secret)
{
    size_t secret_len = secret != NULL ? strlen(secret) : 0;
    size_t mark_len = strlen(REDACT_MARK);
    char *found;

    if (secret_len < REDACT_MIN_LENGTH)
        return;

    /* The mark is never longer than a secret, so the text only shrinks. */
    while ((found = strstr(text, secret)) != NULL) {
        size_t tail = strlen(found + secret_len) + 1;

        memcpy(found, REDACT_MARK, mark_len);
        memmove(found + mark_len, found + secret_len, tail);
    }
}

void adapter_reply_redact_result(struct adapter_result *result,
                                 const char *secret)
{
    adapter_reply_redact(result->error, secret);
    adapter_reply_redact(result->pause_reason, secret);
    adapter_reply_redact(result->post_id, secret);
    adapter_reply_redact(result->post_url, secret);
}

const char *adapter_reply_colon(const char *text)
{
    return text[0] != '\0' ? ": " : "";
}
