#include "core/outcome.h"

#include <string.h>

#include "util/banned.h"

static const char *const outcome_names[OUTCOME_COUNT] = {
    [OUTCOME_SUCCESS] = "success",
    [OUTCOME_TRANSIENT] = "transient",
    [OUTCOME_PERMANENT] = "permanent",
    [OUTCOME_UNKNOWN] = "unknown",
};

const char *outcome_name(enum outcome outcome)
{
    if ((int)outcome < 0 || (int)outcome >= OUTCOME_COUNT)
        return "invalid";
    return outcome_names[outcome];
}

int outcome_parse(const char *name, enum outcome *out)
{
    if (name == NULL)
        return -1;

    for (int i = 0; i < OUTCOME_COUNT; i++) {
        if (strcmp(name, outcome_names[i]) == 0) {
            *out = (enum outcome)i;
            return 0;
        }
    }
    return -1;
}

enum outcome outcome_from_http_status(long status)
{
    switch (status) {
    case 408: /* request timeout */
    case 425: /* too early */
    case 429: /* too many requests */
    case 500:
    case 503:
        return OUTCOME_TRANSIENT;
    case 502:
    case 504:
        return OUTCOME_UNKNOWN;
    default:
        break;
    }

    if (status >= 200 && status <= 299)
        return OUTCOME_SUCCESS;
    if (status >= 500 && status <= 599)
        return OUTCOME_TRANSIENT;
    /*
     * Other 4xx reject the request itself. A 1xx or 3xx final status
     * means the adapter met a response it was not built for (for example
     * a redirect it did not follow), and repeating the same request
     * would meet it again.
     */
    return OUTCOME_PERMANENT;
}

const char *outcome_http_reason(long status)
{
    if (status >= 200 && status <= 299)
        return "success";
    if (status == 429)
        return "rate limited";
    if (status == 408)
        return "request timeout";
    if (status == 425)
        return "too early";
    if (status == 502 || status == 504)
        return "gateway error, the post may exist";
    if (status >= 400 && status <= 499)
        return "request rejected by the server";
    if (status >= 500 && status <= 599)
        return "server error";
    if (status >= 300 && status <= 399)
        return "unexpected redirect";
    if (status >= 100 && status <= 199)
        return "unexpected informational response";
    return "invalid HTTP status";
}

enum outcome outcome_from_transport(enum transport_error error,
                                    int request_sent)
{
    switch (error) {
    case TRANSPORT_OK:
        return OUTCOME_SUCCESS;
    case TRANSPORT_CONNECT_FAILED:
        return OUTCOME_TRANSIENT;
    case TRANSPORT_TIMEOUT:
    case TRANSPORT_CONNECTION_LOST:
    default:
        return request_sent ? OUTCOME_UNKNOWN : OUTCOME_TRANSIENT;
    }
}
