/*
 * The route table: every endpoint as (method, path pattern, handler).
 * A pattern segment "{name}" matches one non-empty path segment, which
 * the handler reads from request->params in order.
 */
#include <stdio.h>
#include <string.h>

#include "http/http_internal.h"

#include "util/banned.h"

static const struct http_route routes[] = {
    {"POST", "/v1/events", http_handle_events, 0},
    {"POST", "/e/{key}", http_handle_inngest, HTTP_ROUTE_EVENT_KEY},

    {"GET", "/v1/entries", http_handle_entry_list, 0},
    {"GET", "/v1/entries/{id}", http_handle_entry_get, 0},
    {"POST", "/v1/entries/{id}/retry", http_handle_entry_retry, 0},
    {"POST", "/v1/entries/{id}/cancel", http_handle_entry_cancel, 0},
    {"POST", "/v1/entries/{id}/mark-published",
     http_handle_entry_mark_published, 0},
    {"GET", "/v1/jobs/{id}", http_handle_job_get, 0},
    {"GET", "/v1/counts", http_handle_counts, 0},

    {"GET", "/v1/platforms", http_handle_platform_list, 0},
    {"POST", "/v1/platforms/{name}/pause", http_handle_platform_pause, 0},
    {"POST", "/v1/platforms/{name}/resume", http_handle_platform_resume, 0},

    {"GET", "/v1/audit", http_handle_audit, 0},
    {"GET", "/v1/stream", http_handle_stream, 0},
    {"GET", "/healthz", http_handle_healthz, 0},
    {"GET", "/metrics", http_handle_metrics, 0},

    /* The page's files; the handler answers 404 for unknown names. */
    {"GET", "/", http_handle_page, 0},
    {"GET", "/{file}", http_handle_page, 0},
};

#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

/* Returns the length of the segment starting at text (up to '/' or end). */
static size_t segment_length(const char *text)
{
    return strcspn(text, "/");
}

/*
 * Matches path against pattern segment by segment. Returns 1 and fills
 * params on a match, 0 otherwise, -1 when a parameter is too long.
 */
static int match(const char *pattern, const char *path,
                 char params[][HTTP_PARAM_BYTES], size_t *count)
{
    *count = 0;
    while (*pattern == '/' && *path == '/') {
        size_t want = segment_length(++pattern);
        size_t have = segment_length(++path);

        if (pattern[0] == '{') {
            if (have == 0 || *count == HTTP_PARAM_MAX)
                return 0;
            if (have >= HTTP_PARAM_BYTES)
                return -1;
            memcpy(params[*count], path, have);
            params[(*count)++][have] = '\0';
        } else if (want != have || strncmp(pattern, path, want) != 0) {
            return 0;
        }
        pattern += want;
        path += have;
    }
    return *pattern == '\0' && *path == '\0';
}

static void add_allowed(char *allow, size_t size, const char *method)
{
    size_t used = strlen(allow);

    if (strstr(allow, method) != NULL)
        return;
    snprintf(allow + used, size - used, "%s%s", used == 0 ? "" : ", ", method);
    if (strcmp(method, "GET") == 0)
        add_allowed(allow, size, "HEAD");
}

/* HEAD runs the GET route; libmicrohttpd leaves out the body. */
static int method_matches(const char *route, const char *method)
{
    return strcmp(route, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route, "GET") == 0);
}

enum http_route_match http_route_find(struct http_request *request, char *allow,
                                      size_t allow_size)
{
    char params[HTTP_PARAM_MAX][HTTP_PARAM_BYTES];
    size_t count;
    int path_found = 0;

    allow[0] = '\0';
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        int result = match(routes[i].pattern, request->path, params, &count);

        if (result < 0)
            return HTTP_ROUTE_BAD_PARAM;
        if (result == 0)
            continue;

        if (method_matches(routes[i].method, request->method)) {
            request->route = &routes[i];
            request->param_count = count;
            memcpy(request->params, params, sizeof params);
            return HTTP_ROUTE_FOUND;
        }
        path_found = 1;
        add_allowed(allow, allow_size, routes[i].method);
    }
    return path_found ? HTTP_ROUTE_NO_METHOD : HTTP_ROUTE_NO_PATH;
}
