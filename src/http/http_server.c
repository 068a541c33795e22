/*
 * The HTTP server: binds the listen address, runs libmicrohttpd, reads
 * each request body up to max_body_bytes, routes the request through the
 * table in http_routes.c and sends the handler's reply.
 *
 * libmicrohttpd runs in thread-per-connection mode, because the event
 * stream (http_stream.c) waits inside its content callback for the next
 * change, and only a connection with its own thread may block there.
 * Suspend and resume with one polling thread would also work, but it
 * needs a timer per stream and more shared state for the same bounded
 * number of clients.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_internal.h"
#include "util/log.h"

#include "util/banned.h"

/* Defaults for a configuration that was not read by config_load. */
#define HTTP_CONNECTION_LIMIT 256
/* libmicrohttpd's limit is this much above max_connections. */
#define HTTP_CONNECTION_HEADROOM 16
#define HTTP_IDLE_TIMEOUT_MS 10000
#define HTTP_LISTEN_BACKLOG 128

static int64_t now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Splits "host:port" or "[v6]:port" into host and port strings. */
static int split_listen(const char *listen, char *host, size_t host_size,
                        char *port, size_t port_size)
{
    const char *colon = strrchr(listen, ':');
    size_t length;

    if (colon == NULL || colon[1] == '\0')
        return -1;
    length = (size_t)(colon - listen);
    if (length >= 2 && listen[0] == '[' && listen[length - 1] == ']') {
        listen++;
        length -= 2;
    }
    if (length == 0 || length >= host_size || strlen(colon + 1) >= port_size)
        return -1;

    memcpy(host, listen, length);
    host[length] = '\0';
    snprintf(port, port_size, "%s", colon + 1);
    return 0;
}

static int is_loopback(const struct sockaddr *address)
{
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;

        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;

        return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
    }
    return 0;
}

/* Resolves config->listen; numeric addresses need no name service. */
static struct addrinfo *resolve_listen(const char *listen, char *err,
                                       size_t errlen)
{
    struct addrinfo hints = {0};
    struct addrinfo *found = NULL;
    char host[256];
    char port[16];
    int rc;

    if (split_listen(listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen,
                 "invalid listen address \"%s\"; use HOST:PORT or "
                 "[IPV6]:PORT such as 127.0.0.1:8080",
                 listen);
        return NULL;
    }

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &found);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address \"%s\": %s",
                 listen, gai_strerror(rc));
        return NULL;
    }
    return found;
}

static int open_listen_socket(const struct addrinfo *address, char *err,
                              size_t errlen)
{
    int one = 1;
    int fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC,
                    address->ai_protocol);

    if (fd < 0) {
        snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
        return -1;
    }

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (address->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);

    if (bind(fd, address->ai_addr, address->ai_addrlen) != 0 ||
        listen(fd, HTTP_LISTEN_BACKLOG) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage address;
    socklen_t length = sizeof address;

    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0)
        return -1;
    if (address.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&address)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
}

/* Keeps the host of config->listen as a Host header carries it. */
static void keep_listen_host(struct http_server *server)
{
    const char *listen = server->config->listen;
    const char *colon = strrchr(listen, ':');
    int length = colon != NULL ? (int)(colon - listen) : 0;

    snprintf(server->listen_host, sizeof server->listen_host, "%.*s", length,
             listen);
}

static void refuse_without_token(const char *listen, char *err,
                                 size_t errlen)
{
    snprintf(err, errlen,
             "refusing to listen on %s without an API token: the "
             "address is not loopback; set api_token_env in [server] "
             "and put the token in that variable, or listen on "
             "127.0.0.1",
             listen);
}

/*
 * Binds config->listen, rejecting a non-loopback address without a
 * token. Returns the listening socket, or -1 with a message in err.
 */
static int bind_listen(struct http_server *server, char *err, size_t errlen)
{
    const char *listen = server->config->listen;
    struct addrinfo *found = resolve_listen(listen, err, errlen);
    char why[256];
    int fd;

    if (found == NULL)
        return -1;

    server->any_host = !is_loopback(found->ai_addr);
    if (server->any_host && server->token == NULL) {
        refuse_without_token(listen, err, errlen);
        freeaddrinfo(found);
        return -1;
    }

    keep_listen_host(server);
    fd = open_listen_socket(found, why, sizeof why);
    freeaddrinfo(found);
    if (fd < 0)
        snprintf(err, errlen,
                 "cannot listen on %s: %s; pick a free port or "
                 "stop the other server",
                 listen, why);
    else
        server->port = bound_port(fd);
    return fd;
}

/*
 * Reads the API token from the variable the configuration names. A
 * named variable that is unset or empty fails the start, because
 * running without the token the operator asked for would leave every
 * POST open.
 */
static int load_token(struct http_server *server, char *err, size_t errlen)
{
    const char *name = server->config->api_token_env;
    const char *value = name != NULL ? getenv(name) : NULL;

    if (name == NULL)
        return 0;
    if (value == NULL || value[0] == '\0') {
        snprintf(err, errlen,
                 "cannot start the HTTP server: api_token_env in [server] "
                 "names the variable %s, but %s is %s; export %s=TOKEN "
                 "before starting, or remove api_token_env to run "
                 "without a token on a loopback address",
                 name, name, value == NULL ? "unset" : "empty", name);
        return -1;
    }

    server->token = strdup(value);
    if (server->token == NULL) {
        snprintf(err, errlen, "cannot start the HTTP server: out of memory");
        return -1;
    }
    return 0;
}

static int load_zone(struct http_server *server, char *err, size_t errlen)
{
    const char *name = server->config->default_zone;

    if (name == NULL)
        return 0;
    server->default_zone = zone_load(name, err, errlen);
    return server->default_zone != NULL ? 0 : -1;
}

/* Opens the first store handle, so a bad database fails the start. */
static int open_first_store(struct http_server *server, char *err,
                            size_t errlen)
{
    char why[STORE_ERR_MAX];
    struct store *store = NULL;

    if (http_open_store(server, &store, why, sizeof why) != STORE_OK) {
        snprintf(err, errlen,
                 "cannot open the database for the HTTP "
                 "server: %s",
                 why);
        return -1;
    }
    http_pool_add(server, store);
    return 0;
}

void http_server_wake(struct http_server *server)
{
    if (server->hooks.wake != NULL)
        server->hooks.wake(server->hooks.arg);
}

/* The path as logged: an /e/ key may be the API token, so it is hidden. */
static int has_control_char(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    }
    return 0;
}

/*
 * A decoded path with CR or LF (sent as %0d%0a) would forge log lines,
 * so such a path is never logged as it is.
 */
static const char *logged_path(const char *path)
{
    if (has_control_char(path))
        return "(path with control characters)";
    return strncmp(path, "/e/", 3) == 0 ? "/e/***" : path;
}

static int has_header(const struct http_reply *reply, const char *name)
{
    for (size_t i = 0; i < reply->header_count; i++) {
        if (strcasecmp(reply->headers[i].name, name) == 0)
            return 1;
    }
    return 0;
}

static struct MHD_Response *build_response(struct http_reply *reply)
{
    struct MHD_Response *response = reply->response;

    reply->response = NULL;
    if (response == NULL && reply->static_body != NULL)
        response = MHD_create_response_from_buffer(
            reply->size, (void *)reply->static_body, MHD_RESPMEM_PERSISTENT);
    else if (response == NULL) {
        response = MHD_create_response_from_buffer(
            reply->body != NULL ? reply->size : 0, reply->body,
            MHD_RESPMEM_MUST_FREE);
        if (response != NULL)
            reply->body = NULL;
    }
    if (response == NULL)
        return NULL;

    if (reply->content_type != NULL)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                reply->content_type);
    for (size_t i = 0; i < reply->header_count; i++)
        MHD_add_response_header(response, reply->headers[i].name,
                                reply->headers[i].value);
    if (!has_header(reply, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-store");
    if (!has_header(reply, "X-Content-Type-Options"))
        MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    return response;
}

static enum MHD_Result send_reply(struct http_request *request,
                                  struct http_reply *reply)
{
    struct MHD_Response *response;
    enum MHD_Result result = MHD_NO;

    if (http_inngest_path(request->path))
        http_reply_inngest_error(reply);
    response = build_response(reply);

    if (response != NULL) {
        result =
            MHD_queue_response(request->connection, reply->status, response);
        MHD_destroy_response(response);
    }

    /* The handler is done with the database once the reply is built. */
    http_request_release_store(request, reply->status >= 500);
    if (reply->status >= 500 || response == NULL)
        log_warn("http", "%s %s %u", request->method,
                 logged_path(request->path), reply->status);
    else
        log_debug("http", "%s %s %u", request->method,
                  logged_path(request->path), reply->status);
    http_reply_clear(reply);
    return result;
}

/* Returns 1 unless the parameter is a charset other than UTF-8. */
static int is_utf8_parameter(const char *parameter, size_t length)
{
    size_t skip = strspn(parameter, " \t");

    parameter += skip;
    length -= skip < length ? skip : length;
    if (length < 8 || strncasecmp(parameter, "charset=", 8) != 0)
        return 1;
    parameter += 8;
    length -= 8;
    if (length >= 2 && parameter[0] == '"') {
        parameter++;
        length -= 2;
    }
    return length >= 5 && strncasecmp(parameter, "utf-8", 5) == 0 &&
           strspn(parameter + 5, " \t") == length - 5;
}

/*
 * Returns 1 for "application/json" with no parameter or a UTF-8
 * charset; RFC 8259 makes UTF-8 the only encoding of JSON text.
 */
static int is_json_type(const char *type)
{
    const char *rest;

    if (type == NULL || strncasecmp(type, "application/json", 16) != 0)
        return 0;
    rest = type + 16;
    rest += strspn(rest, " \t");
    if (*rest != '\0' && *rest != ';')
        return 0;

    while (*rest == ';') {
        size_t length = strcspn(++rest, ";");

        if (!is_utf8_parameter(rest, length))
            return 0;
        rest += length;
    }
    return 1;
}

/* Parses Content-Length; returns 0 and sets *length when it is valid. */
static int content_length(struct MHD_Connection *connection, uint64_t *length)
{
    const char *text = MHD_lookup_connection_value(
        connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;

    if (text == NULL)
        return -1;
    errno = 0;
    *length = strtoull(text, &end, 10);
    return errno == 0 && end != text && *end == '\0' ? 0 : -1;
}

/*
 * Checks Host, route, origin, token, type and size before reading any
 * body byte.
 */
static void check_headers(struct http_request *request)
{
    struct http_reply *reply = &request->early;
    const size_t max = request->server->config->max_body_bytes;
    char allow[64];
    uint64_t length;

    if (!http_guard_host(request, reply)) {
        request->has_early = 1;
        return;
    }

    if (has_control_char(request->path)) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, NULL,
                         "invalid request path: it contains a control "
                         "character such as CR or LF (%%0d, %%0a); remove "
                         "it");
        request->has_early = 1;
        return;
    }

    switch (http_route_find(request, allow, sizeof allow)) {
    case HTTP_ROUTE_FOUND:
        break;
    case HTTP_ROUTE_NO_METHOD:
        http_reply_error(reply, MHD_HTTP_METHOD_NOT_ALLOWED, NULL,
                         "method %s not allowed on %s; use %s", request->method,
                         logged_path(request->path), allow);
        http_reply_header(reply, "Allow", "%s", allow);
        request->has_early = 1;
        return;
    case HTTP_ROUTE_BAD_PARAM:
    case HTTP_ROUTE_NO_PATH:
        http_reply_error(reply, MHD_HTTP_NOT_FOUND, NULL,
                         "not found: %s; see docs/api.md for the endpoints",
                         logged_path(request->path));
        request->has_early = 1;
        return;
    }

    if (!http_guard_cross_site(request, reply) ||
        !http_auth_check(request, reply)) {
        request->has_early = 1;
        return;
    }

    /* Every POST, even one without a body, so that a cross-site form
     * (which cannot send this type) never reaches an action. */
    if (strcmp(request->method, "POST") == 0) {
        const char *type = MHD_lookup_connection_value(
            request->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

        if (!is_json_type(type)) {
            http_reply_error(
                reply, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                "unsupported Content-Type \"%.100s\"; send the body as "
                "application/json (charset utf-8 if any)",
                type != NULL ? type : "(none)");
            request->has_early = 1;
            return;
        }
    }

    if (content_length(request->connection, &length) == 0 && length > max) {
        http_reply_error(reply, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                         "request body of %" PRIu64 " bytes is larger than "
                         "max_body_bytes (%zu); send fewer events per "
                         "request",
                         length, max);
        request->has_early = 1;
    }
}

static struct http_request *begin_request(struct http_server *server,
                                          struct MHD_Connection *connection,
                                          const char *url, const char *method)
{
    struct http_request *request = calloc(1, sizeof *request);

    if (request == NULL)
        return NULL;
    request->server = server;
    request->connection = connection;
    request->method = method;
    request->path = url;
    request->now = now_ms();
    return request;
}

/*
 * Appends body bytes, up to max_body_bytes. Past the limit the rest of
 * the body is read and dropped, never stored, and the request ends with
 * 413. A body announced with Content-Length never gets here when too
 * large, because check_headers already replied.
 */
static void collect_body(struct http_request *request, const char *data,
                         size_t size)
{
    const size_t max = request->server->config->max_body_bytes;
    char *grown;

    if (request->body_too_large)
        return;
    if (size > max - request->body_size) {
        request->body_too_large = 1;
        free(request->body);
        request->body = NULL;
        request->body_size = 0;
        return;
    }

    grown = realloc(request->body, request->body_size + size + 1);
    if (grown == NULL) {
        request->body_too_large = 1;
        return;
    }
    memcpy(grown + request->body_size, data, size);
    request->body = grown;
    request->body_size += size;
    request->body[request->body_size] = '\0';
}

static enum MHD_Result finish_request(struct http_request *request)
{
    struct http_reply reply = {0};
    const size_t max = request->server->config->max_body_bytes;

    if (request->body_too_large) {
        http_reply_error(&reply, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                         "request body is larger than max_body_bytes (%zu); "
                         "send fewer events per request",
                         max);
        return send_reply(request, &reply);
    }

    request->route->handler(request, &reply);
    if (reply.status == 0)
        http_reply_error(&reply, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                         "internal error: the handler set no reply");
    return send_reply(request, &reply);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **state)
{
    struct http_request *request = *state;

    (void)version;
    if (request == NULL) {
        request = begin_request(cls, connection, url, method);
        if (request == NULL)
            return MHD_NO;
        *state = request;

        check_headers(request);
        if (request->has_early)
            return send_reply(request, &request->early);
        return MHD_YES;
    }

    if (*upload_data_size != 0) {
        if (!request->has_early)
            collect_body(request, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (request->has_early)
        return MHD_YES;
    return finish_request(request);
}

static void on_completed(void *cls, struct MHD_Connection *connection,
                         void **state, enum MHD_RequestTerminationCode code)
{
    struct http_request *request = *state;

    (void)connection;
    (void)code;
    if (request == NULL)
        return;

    (void)cls;
    http_request_release_store(request, 0);
    http_reply_clear(&request->early);
    free(request->body);
    free(request);
    *state = NULL;
}

/*
 * Starts libmicrohttpd. Its connection timeout closes a connection that
 * sent or received nothing for idle_timeout, so a client that never
 * finishes its request headers frees its slot. The event stream sets a
 * longer timeout on its own connection (http_stream.c).
 */
static int start_daemon(struct http_server *server, int fd, char *err,
                        size_t errlen)
{
    const struct pubq_config *config = server->config;
    unsigned int limit = config->max_connections != 0
                             ? (unsigned int)config->max_connections
                             : HTTP_CONNECTION_LIMIT;
    int64_t idle_ms = config->idle_timeout_ms > 0 ? config->idle_timeout_ms
                                                  : HTTP_IDLE_TIMEOUT_MS;
    unsigned int idle_s = (unsigned int)((idle_ms + 999) / 1000);

    /* pubq enforces the limit itself (http_connection_limit.c). The
     * headroom keeps libmicrohttpd accepting, so that it can close a
     * connection over the limit, while closed connections wait for its
     * clean-up and still count against its own limit. */
    server->connection_limit = limit;
    server->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
            MHD_USE_ERROR_LOG,
        0, http_connection_accept, server, on_request, server,
        MHD_OPTION_EXTERNAL_LOGGER, http_log_mhd, server,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, server, MHD_OPTION_NOTIFY_CONNECTION,
        http_connection_notify, server, MHD_OPTION_CONNECTION_LIMIT,
        limit + HTTP_CONNECTION_HEADROOM, MHD_OPTION_CONNECTION_TIMEOUT,
        idle_s, MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(err, errlen,
                 "cannot start the HTTP server on %s; see the "
                 "libmicrohttpd message above",
                 server->config->listen);
        close(fd);
        return -1;
    }
    return 0;
}

static void free_server(struct http_server *server)
{
    http_stream_hub_free(server->hub);
    http_submit_queue_free(&server->submit_queue);
    http_pool_free(server);
    zone_free(server->default_zone);
    free(server->token);
    free(server);
}

/*
 * Binds the address once and lets it go, so that a port in use fails
 * the start before anything is created. Another process can still take
 * the port before http_server_start binds it; that start then fails as
 * before.
 */
static int check_port_free(const char *listen, const struct addrinfo *found,
                           char *err, size_t errlen)
{
    char why[256];
    int fd = open_listen_socket(found, why, sizeof why);

    if (fd < 0) {
        snprintf(err, errlen,
                 "cannot listen on %s: %s; pick a free port or stop the "
                 "other server",
                 listen, why);
        return -1;
    }
    close(fd);
    return 0;
}

int http_server_check(const struct pubq_config *config, char *err,
                      size_t errlen)
{
    struct http_server server = {.config = config};
    struct addrinfo *found;
    int result = 0;

    if (load_token(&server, err, errlen) != 0)
        return -1;

    found = resolve_listen(config->listen, err, errlen);
    if (found == NULL) {
        result = -1;
    } else if (!is_loopback(found->ai_addr) && server.token == NULL) {
        refuse_without_token(config->listen, err, errlen);
        result = -1;
    } else {
        result = check_port_free(config->listen, found, err, errlen);
    }

    if (found != NULL)
        freeaddrinfo(found);
    free(server.token);
    return result;
}

struct http_server *http_server_start(const struct pubq_config *config,
                                      const struct http_server_hooks *hooks,
                                      char *err, size_t errlen)
{
    struct http_server *server = calloc(1, sizeof *server);
    int fd;

    if (server == NULL) {
        snprintf(err, errlen, "cannot start the HTTP server: out of memory");
        return NULL;
    }
    server->config = config;
    if (hooks != NULL)
        server->hooks = *hooks;
    http_pool_init(server);
    http_submit_queue_init(&server->submit_queue, config->database,
                           server->hooks.wake, server->hooks.arg);

    if (load_token(server, err, errlen) != 0 ||
        load_zone(server, err, errlen) != 0 ||
        open_first_store(server, err, errlen) != 0)
        goto fail;
    server->hub = http_stream_hub_new(server, err, errlen);
    if (server->hub == NULL)
        goto fail;

    fd = bind_listen(server, err, errlen);
    if (fd < 0 || start_daemon(server, fd, err, errlen) != 0)
        goto fail;

    log_info("http", "listening on %s (port %d), API token %s node=%s",
             config->listen, server->port,
             server->token != NULL ? "required" : "not configured",
             server->hooks.node_id != NULL ? server->hooks.node_id : "-");
    return server;

fail:
    free_server(server);
    return NULL;
}

int http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_stop(struct http_server *server)
{
    if (server == NULL)
        return;

    http_stream_hub_shutdown(server->hub);
    MHD_stop_daemon(server->daemon);
    http_log_flush(server);
    free_server(server);
    log_info("http", "stopped");
}
