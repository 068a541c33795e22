/*
 * The bearer token of mutating endpoints. GET endpoints stay open: they
 * change nothing, and the daemon only listens beyond loopback when a
 * token is configured.
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "http/http_internal.h"

#include "util/banned.h"

int http_auth_token_equals(const char *given, size_t length,
                           const char *token)
{
    size_t expected = strlen(token);

    if (length != expected)
        return 0;
    return CRYPTO_memcmp(given, token, expected) == 0;
}

static int bearer_matches(struct http_request *request, const char *token)
{
    const char *header = MHD_lookup_connection_value(
        request->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
        return 0;
    header += 7;
    header += strspn(header, " ");
    return http_auth_token_equals(header, strlen(header), token);
}

int http_auth_check(struct http_request *request, struct http_reply *reply)
{
    const char *token = request->server->token;

    if (token == NULL || strcmp(request->method, "GET") == 0 ||
        strcmp(request->method, "HEAD") == 0)
        return 1;
    if (bearer_matches(request, token))
        return 1;

    /* The Inngest SDK sends its event key in the path, not a header. */
    if ((request->route->flags & HTTP_ROUTE_EVENT_KEY) &&
        http_auth_token_equals(request->params[0], strlen(request->params[0]),
                               token))
        return 1;

    http_reply_error(reply, MHD_HTTP_UNAUTHORIZED, "Authorization",
                     "missing or wrong API token; send the header "
                     "\"Authorization: Bearer TOKEN\" with the token from "
                     "the variable named by api_token_env");
    http_reply_header(reply, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                      "Bearer realm=\"pubq\"");
    return 0;
}
