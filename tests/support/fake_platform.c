#include "fake_platform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define FAKE_BODY_MAX (16 * 1024 * 1024)

struct stored_response {
    int status;
    char *headers;
    char *body;
    size_t body_len;
    int delay_ms;
    int drop;
};

struct queued_response {
    char *path;
    struct stored_response response;
    struct queued_response *next;
};

struct fake_platform {
    struct MHD_Daemon *daemon;
    unsigned short port;
    char url[64];

    pthread_mutex_t lock;
    pthread_cond_t changed; /* a request arrived or the server stops */
    int stopping;
    struct queued_response *queue;
    struct stored_response fallback;
    struct fake_request **requests;
    size_t request_count;
    size_t request_cap;
};

static char *copy_bytes(const char *data, size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL)
        return NULL;
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    return copy;
}

static int response_store(struct stored_response *out,
                          const struct fake_response *in)
{
    size_t len = in->body_len;

    if (in->body != NULL && len == 0)
        len = strlen(in->body);
    out->status = in->status != 0 ? in->status : 200;
    out->delay_ms = in->delay_ms;
    out->drop = in->drop;
    out->body_len = len;
    out->body = copy_bytes(in->body != NULL ? in->body : "", len);
    out->headers = strdup(in->headers != NULL ? in->headers : "");
    return out->body != NULL && out->headers != NULL ? 0 : -1;
}

static void response_clear(struct stored_response *response)
{
    free(response->body);
    free(response->headers);
    memset(response, 0, sizeof *response);
}

static void pairs_free(struct fake_pair *pairs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
}

static void request_free(struct fake_request *request)
{
    if (request == NULL)
        return;
    free(request->method);
    free(request->path);
    pairs_free(request->headers, request->header_count);
    pairs_free(request->query, request->query_count);
    free(request->body);
    free(request);
}

struct pair_list {
    struct fake_pair **pairs;
    size_t *count;
};

static enum MHD_Result collect_pair(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value)
{
    struct pair_list *list = cls;
    struct fake_pair *grown;

    (void)kind;
    grown = realloc(*list->pairs, (*list->count + 1) * sizeof *grown);
    if (grown == NULL)
        return MHD_NO;
    *list->pairs = grown;
    grown[*list->count].name = strdup(key);
    grown[*list->count].value = strdup(value != NULL ? value : "");
    if (grown[*list->count].name == NULL || grown[*list->count].value == NULL) {
        free(grown[*list->count].name);
        free(grown[*list->count].value);
        return MHD_NO;
    }
    (*list->count)++;
    return MHD_YES;
}

static int64_t wall_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static struct fake_request *request_new(struct MHD_Connection *connection,
                                        const char *path, const char *method)
{
    struct fake_request *request = calloc(1, sizeof *request);
    struct pair_list headers;
    struct pair_list query;

    if (request == NULL)
        return NULL;
    request->method = strdup(method);
    request->path = strdup(path);
    request->body = copy_bytes("", 0);
    request->received_at_ms = wall_ms();

    headers = (struct pair_list){&request->headers, &request->header_count};
    query = (struct pair_list){&request->query, &request->query_count};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_pair,
                              &headers);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_pair,
                              &query);
    return request;
}

static void request_append_body(struct fake_request *request, const char *data,
                                size_t len)
{
    char *grown;

    if (request->body_len + len > FAKE_BODY_MAX)
        return;
    grown = realloc(request->body, request->body_len + len + 1);
    if (grown == NULL)
        return;
    memcpy(grown + request->body_len, data, len);
    request->body_len += len;
    grown[request->body_len] = '\0';
    request->body = grown;
}

/* Stores the finished request; the fake owns it from now on. */
static void record_request(struct fake_platform *fake,
                           struct fake_request *request)
{
    pthread_mutex_lock(&fake->lock);
    if (fake->request_count == fake->request_cap) {
        size_t cap = fake->request_cap ? fake->request_cap * 2 : 16;
        struct fake_request **grown =
            realloc(fake->requests, cap * sizeof *grown);

        if (grown == NULL) {
            pthread_mutex_unlock(&fake->lock);
            request_free(request);
            return;
        }
        fake->requests = grown;
        fake->request_cap = cap;
    }
    fake->requests[fake->request_count++] = request;
    pthread_cond_broadcast(&fake->changed);
    pthread_mutex_unlock(&fake->lock);
}

/* Takes the next queued response for path, or copies the default. */
static int next_response(struct fake_platform *fake, const char *path,
                         struct stored_response *out)
{
    struct queued_response **link;
    int result = -1;

    pthread_mutex_lock(&fake->lock);
    for (link = &fake->queue; *link != NULL; link = &(*link)->next) {
        if (strcmp((*link)->path, path) == 0)
            break;
    }
    if (*link != NULL) {
        struct queued_response *found = *link;

        *link = found->next;
        *out = found->response;
        free(found->path);
        free(found);
        result = 0;
    } else {
        struct fake_response copy = {
            .status = fake->fallback.status,
            .headers = fake->fallback.headers,
            .body = fake->fallback.body,
            .body_len = fake->fallback.body_len,
            .delay_ms = fake->fallback.delay_ms,
            .drop = fake->fallback.drop,
        };

        result = response_store(out, &copy);
    }
    pthread_mutex_unlock(&fake->lock);
    return result;
}

/* Sleeps delay_ms, or less when the server stops. */
static void wait_delay(struct fake_platform *fake, int delay_ms)
{
    struct timespec until;

    if (delay_ms <= 0)
        return;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += delay_ms / 1000;
    until.tv_nsec += (long)(delay_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&fake->lock);
    while (!fake->stopping) {
        if (pthread_cond_timedwait(&fake->changed, &fake->lock, &until) ==
            ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&fake->lock);
}

/* Adds each "Name: value" line of headers to the response. */
static void add_headers(struct MHD_Response *response, char *headers)
{
    char *rest = headers;
    char *line;

    while ((line = strsep(&rest, "\n")) != NULL) {
        char *colon = strchr(line, ':');
        char *value;

        if (colon == NULL)
            continue;
        *colon = '\0';
        value = colon + 1;
        while (*value == ' ')
            value++;
        value[strcspn(value, "\r")] = '\0';
        MHD_add_response_header(response, line, value);
    }
}

static enum MHD_Result send_response(struct fake_platform *fake,
                                     struct MHD_Connection *connection,
                                     const char *path)
{
    struct stored_response stored;
    struct MHD_Response *response;
    enum MHD_Result result;

    if (next_response(fake, path, &stored) != 0)
        return MHD_NO;
    wait_delay(fake, stored.delay_ms);
    if (stored.drop) {
        /* MHD_NO makes libmicrohttpd close the connection unanswered. */
        response_clear(&stored);
        return MHD_NO;
    }

    response = MHD_create_response_from_buffer(stored.body_len, stored.body,
                                               MHD_RESPMEM_MUST_COPY);
    if (response == NULL) {
        response_clear(&stored);
        return MHD_NO;
    }
    add_headers(response, stored.headers);
    result =
        MHD_queue_response(connection, (unsigned int)stored.status, response);
    MHD_destroy_response(response);
    response_clear(&stored);
    return result;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection,
                              const char *path, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **state)
{
    struct fake_platform *fake = cls;
    struct fake_request *request = *state;

    (void)version;
    if (request == NULL) {
        request = request_new(connection, path, method);
        if (request == NULL)
            return MHD_NO;
        *state = request;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        request_append_body(request, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    *state = NULL;
    record_request(fake, request);
    return send_response(fake, connection, path);
}

/* Frees a request that ended before it was recorded. */
static void request_completed(void *cls, struct MHD_Connection *connection,
                              void **state,
                              enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)connection;
    (void)code;
    request_free(*state);
    *state = NULL;
}

static int daemon_start(struct fake_platform *fake)
{
    struct sockaddr_in address = {
        .sin_family = AF_INET,
        .sin_port = 0,
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    const union MHD_DaemonInfo *info;

    fake->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, handle, fake, MHD_OPTION_SOCK_ADDR, &address,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, fake, MHD_OPTION_END);
    if (fake->daemon == NULL)
        return -1;

    info = MHD_get_daemon_info(fake->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0)
        return -1;
    fake->port = info->port;
    snprintf(fake->url, sizeof fake->url, "http://127.0.0.1:%u",
             (unsigned)fake->port);
    return 0;
}

struct fake_platform *fake_platform_start(void)
{
    struct fake_platform *fake = calloc(1, sizeof *fake);
    const struct fake_response fallback = {.status = 200, .body = "{}"};

    if (fake == NULL)
        return NULL;
    pthread_mutex_init(&fake->lock, NULL);
    pthread_cond_init(&fake->changed, NULL);
    if (response_store(&fake->fallback, &fallback) != 0 ||
        daemon_start(fake) != 0) {
        fprintf(stderr, "fake_platform: cannot start the server on "
                        "127.0.0.1\n");
        fake_platform_stop(fake);
        return NULL;
    }
    return fake;
}

const char *fake_platform_url(const struct fake_platform *fake)
{
    return fake->url;
}

unsigned short fake_platform_port(const struct fake_platform *fake)
{
    return fake->port;
}

int fake_platform_push_response(struct fake_platform *fake, const char *path,
                                const struct fake_response *response)
{
    struct queued_response *item = calloc(1, sizeof *item);
    struct queued_response **tail;

    if (item == NULL)
        return -1;
    item->path = strdup(path);
    if (item->path == NULL || response_store(&item->response, response) != 0) {
        response_clear(&item->response);
        free(item->path);
        free(item);
        return -1;
    }

    pthread_mutex_lock(&fake->lock);
    for (tail = &fake->queue; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = item;
    pthread_mutex_unlock(&fake->lock);
    return 0;
}

int fake_platform_set_default(struct fake_platform *fake,
                              const struct fake_response *response)
{
    struct stored_response stored;

    if (response_store(&stored, response) != 0) {
        response_clear(&stored);
        return -1;
    }
    pthread_mutex_lock(&fake->lock);
    response_clear(&fake->fallback);
    fake->fallback = stored;
    pthread_mutex_unlock(&fake->lock);
    return 0;
}

size_t fake_platform_request_count(struct fake_platform *fake)
{
    size_t count;

    pthread_mutex_lock(&fake->lock);
    count = fake->request_count;
    pthread_mutex_unlock(&fake->lock);
    return count;
}

const struct fake_request *fake_platform_request(struct fake_platform *fake,
                                                 size_t index)
{
    const struct fake_request *request = NULL;

    pthread_mutex_lock(&fake->lock);
    if (index < fake->request_count)
        request = fake->requests[index];
    pthread_mutex_unlock(&fake->lock);
    return request;
}

size_t fake_platform_requests_with_key(struct fake_platform *fake,
                                       const char *key)
{
    size_t count = 0;

    pthread_mutex_lock(&fake->lock);
    for (size_t i = 0; i < fake->request_count; i++) {
        const char *value =
            fake_request_header(fake->requests[i], "Idempotency-Key");

        if (value != NULL && strcmp(value, key) == 0)
            count++;
    }
    pthread_mutex_unlock(&fake->lock);
    return count;
}

size_t fake_platform_distinct_keys(struct fake_platform *fake)
{
    size_t distinct = 0;

    pthread_mutex_lock(&fake->lock);
    for (size_t i = 0; i < fake->request_count; i++) {
        const char *key =
            fake_request_header(fake->requests[i], "Idempotency-Key");
        size_t seen = 0;

        if (key == NULL)
            continue;
        /* Quadratic, which is fine for the few hundred requests a test
         * makes. */
        for (size_t j = 0; j < i && !seen; j++) {
            const char *earlier =
                fake_request_header(fake->requests[j], "Idempotency-Key");

            seen = earlier != NULL && strcmp(earlier, key) == 0;
        }
        distinct += !seen;
    }
    pthread_mutex_unlock(&fake->lock);
    return distinct;
}

size_t fake_platform_requests_to(struct fake_platform *fake, const char *path)
{
    size_t count = 0;

    pthread_mutex_lock(&fake->lock);
    for (size_t i = 0; i < fake->request_count; i++)
        count += strcmp(fake->requests[i]->path, path) == 0;
    pthread_mutex_unlock(&fake->lock);
    return count;
}

size_t fake_platform_wait_requests(struct fake_platform *fake, size_t count,
                                   int timeout_ms)
{
    struct timespec until;
    size_t received;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&fake->lock);
    while (fake->request_count < count && !fake->stopping) {
        if (pthread_cond_timedwait(&fake->changed, &fake->lock, &until) ==
            ETIMEDOUT)
            break;
    }
    received = fake->request_count;
    pthread_mutex_unlock(&fake->lock);
    return received;
}

static const char *pair_find(const struct fake_pair *pairs, size_t count,
                             const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(pairs[i].name, name) == 0)
            return pairs[i].value;
    }
    return NULL;
}

const char *fake_request_header(const struct fake_request *request,
                                const char *name)
{
    return pair_find(request->headers, request->header_count, name);
}

const char *fake_request_query(const struct fake_request *request,
                               const char *name)
{
    return pair_find(request->query, request->query_count, name);
}

void fake_platform_stop(struct fake_platform *fake)
{
    if (fake == NULL)
        return;

    pthread_mutex_lock(&fake->lock);
    fake->stopping = 1;
    pthread_cond_broadcast(&fake->changed);
    pthread_mutex_unlock(&fake->lock);
    if (fake->daemon != NULL)
        MHD_stop_daemon(fake->daemon);

    while (fake->queue != NULL) {
        struct queued_response *next = fake->queue->next;

        response_clear(&fake->queue->response);
        free(fake->queue->path);
        free(fake->queue);
        fake->queue = next;
    }
    for (size_t i = 0; i < fake->request_count; i++)
        request_free(fake->requests[i]);
    free(fake->requests);
    response_clear(&fake->fallback);
    pthread_cond_destroy(&fake->changed);
    pthread_mutex_destroy(&fake->lock);
    free(fake);
}
