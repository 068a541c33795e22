/*
 * Checks that keep a web page in the operator's browser from using the
 * API: the Host header against DNS rebinding, and the Origin and
 * Sec-Fetch-Site headers of a POST against cross-site requests. A
 * cross-site HTML form cannot send Content-Type application/json, which
 * every POST must carry (http_server.c), and a script on another site
 * cannot send it without a CORS preflight, which the server never
 * grants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_internal.h"

#include "util/banned.h"

#define HOST_NAME_MAX_BYTES 260

/*
 * Splits a Host value into its name ("localhost", "[::1]") and port
 * text ("" when absent). Returns -1 when the value is malformed.
 */
static int split_host(const char *host, char *name, size_t name_size,
                      const char **port)
{
    const char *end;
    size_t length;

    if (host[0] == '[') {
        end = strchr(host, ']');
        if (end == NULL)
            return -1;
        end++;
    } else {
        end = strchr(host, ':');
        if (end == NULL)
            end = host + strlen(host);
    }

    length = (size_t)(end - host);
    if (length == 0 || length >= name_size)
        return -1;
    if (*end != '\0' && *end != ':')
        return -1;
    memcpy(name, host, length);
    name[length] = '\0';
    *port = *end == ':' ? end + 1 : "";
    return 0;
}

/* Returns 1 when the port text is the decimal port the server has. */
static int is_server_port(const char *text, int port)
{
    char expected[16];

    snprintf(expected, sizeof expected, "%d", port);
    return strcmp(text, expected) == 0;
}

/* Returns 1 when `name` is in the comma-separated list, ignoring case. */
static int in_host_list(const char *list, const char *name)
{
    size_t length = strlen(name);

    while (list != NULL && *list != '\0') {
        size_t item;

        list += strspn(list, " \t,");
        item = strcspn(list, " \t,");
        if (item == length && strncasecmp(list, name, length) == 0)
            return 1;
        list += item;
    }
    return 0;
}

static int is_loopback_name(const struct http_server *server,
                            const char *name)
{
    return strcasecmp(name, "localhost") == 0 ||
           strcmp(name, "127.0.0.1") == 0 || strcmp(name, "[::1]") == 0 ||
           strcasecmp(name, server->listen_host) == 0;
}

int http_guard_host(struct http_request *request, struct http_reply *reply)
{
    const struct http_server *server = request->server;
    const char *host = MHD_lookup_connection_value(
        request->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    char name[HOST_NAME_MAX_BYTES];
    const char *port;

    /* Browsers always send Host, so a request without one is no page's. */
    if (server->any_host || host == NULL)
        return 1;

    if (split_host(host, name, sizeof name, &port) == 0) {
        if (is_loopback_name(server, name) &&
            is_server_port(port, server->port))
            return 1;
        if (in_host_list(server->config->allowed_hosts, name))
            return 1;
    }

    http_reply_error(reply, MHD_HTTP_MISDIRECTED_REQUEST, "Host",
                     "unknown Host \"%.100s\": the server answers "
                     "localhost, 127.0.0.1 and [::1] on port %d; use one "
                     "of them or add the name to allowed_hosts in "
                     "[server]",
                     host, server->port);
    return 0;
}

/* Returns 1 when origin is "http://HOST" or "https://HOST". */
static int origin_matches(const char *origin, const char *host)
{
    if (host == NULL)
        return 0;
    if (strncasecmp(origin, "http://", 7) == 0)
        origin += 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        origin += 8;
    else
        return 0;
    return strcasecmp(origin, host) == 0;
}

int http_guard_cross_site(struct http_request *request,
                          struct http_reply *reply)
{
    struct MHD_Connection *connection = request->connection;
    const char *site = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                   "Sec-Fetch-Site");
    const char *origin =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(
        connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);

    if (strcmp(request->method, "POST") != 0)
        return 1;

    if (site != NULL && (strcasecmp(site, "cross-site") == 0 ||
                         strcasecmp(site, "same-site") == 0)) {
        http_reply_error(reply, MHD_HTTP_FORBIDDEN, "Sec-Fetch-Site",
                         "cross-site request rejected: Sec-Fetch-Site is "
                         "\"%s\"; send the request from the pubq page or "
                         "from a program such as curl",
                         site);
        return 0;
    }
    if (origin != NULL && !origin_matches(origin, host)) {
        http_reply_error(reply, MHD_HTTP_FORBIDDEN, "Origin",
                         "cross-site request rejected: Origin \"%.100s\" "
                         "is not this server (%.100s); send the request "
                         "from the pubq page or from a program such as "
                         "curl",
                         origin, host != NULL ? host : "no Host header");
        return 0;
    }
    return 1;
}
