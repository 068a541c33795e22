/*
 * Classification of one publish attempt: did the post certainly happen,
 * certainly not happen but may on a retry, certainly not happen and never
 * will without a change, or possibly happen.
 */
#ifndef PUBQ_CORE_OUTCOME_H
#define PUBQ_CORE_OUTCOME_H

enum outcome {
    OUTCOME_SUCCESS,
    /* Not posted; a later attempt may succeed. */
    OUTCOME_TRANSIENT,
    /* Not posted; retrying cannot help until someone acts. */
    OUTCOME_PERMANENT,
    /* The request may have been processed, so the post may exist. */
    OUTCOME_UNKNOWN,
};

#define OUTCOME_COUNT 4

enum transport_error {
    TRANSPORT_OK,
    /* Refused, DNS failure or TLS handshake failure: nothing was sent. */
    TRANSPORT_CONNECT_FAILED,
    TRANSPORT_TIMEOUT,
    TRANSPORT_CONNECTION_LOST,
};

/*
 * Returns "success", "transient", "permanent" or "unknown", or "invalid"
 * for a value outside the enum. The string is static.
 */
const char *outcome_name(enum outcome outcome);

/*
 * Parses a name as returned by outcome_name (exact, lowercase). Returns 0
 * and sets *out, or -1 for NULL or an unknown name, leaving *out unchanged.
 */
int outcome_parse(const char *name, enum outcome *out);

/*
 * Classifies an HTTP response status:
 *   2xx                        success
 *   408, 425, 429, 500, 503    transient
 *   502, 504                   unknown, because the origin server behind
 *                              the gateway may have created the post
 *   other 4xx                  permanent
 *   other 5xx                  transient
 *   1xx, 3xx, outside 100..599 permanent, because repeating the request
 *                              would meet the same response
 */
enum outcome outcome_from_http_status(long status);

/*
 * Returns a short static phrase explaining the classification of status,
 * for error logs: "success", "rate limited", "gateway error, the post may
 * exist", "unexpected redirect", "invalid HTTP status", ...
 */
const char *outcome_http_reason(long status);

/*
 * Classifies a transport failure. TRANSPORT_OK returns OUTCOME_SUCCESS,
 * meaning "no transport failure, classify the HTTP status instead".
 * A connect failure is transient because nothing was sent. A timeout or
 * lost connection is transient when request_sent is 0 and unknown when it
 * is nonzero, because the server may have processed the request. A value
 * outside the enum follows the timeout rule.
 */
enum outcome outcome_from_transport(enum transport_error error,
                                    int request_sent);

#endif
