/*
 * GET /v1/stream: Server-Sent Events for the live page. Changes can come
 * from the engine in this process, the CLI writing the same database or
 * other nodes, so they are read from the store. One poller thread reads
 * the entries whose updated_at moved, every STREAM_POLL_MS while at
 * least one client is connected, and puts each change into a ring of
 * numbered events. Each client's content callback runs in its own
 * connection thread (see http_server.c) and sleeps on a condition
 * variable until the next event or its heartbeat is due.
 *
 * Events: "entry" (the entry JSON), "counts" (as GET /v1/counts, sent on
 * connect and whenever it changes) and "reset" (the client fell more
 * than STREAM_RING events behind and should reload).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_internal.h"
#include "util/log.h"

#include "util/banned.h"

#define STREAM_CLIENTS_MAX 64
#define STREAM_POLL_MS 500
#define STREAM_HEARTBEAT_MS 15000
#define STREAM_RETRY_MS 2000
#define STREAM_RING 1024
#define STREAM_PAGE 200     /* entries read per store call */
#define STREAM_PAGES_MAX 10 /* store calls per poll, so a burst ends */
/* The stream's connection timeout; a heartbeat is sent well within it. */
#define STREAM_TIMEOUT_S (2 * STREAM_HEARTBEAT_MS / 1000)

struct http_stream_hub {
    struct http_server *server;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* new events, a new client, or stopping */
    pthread_t poller;
    int poller_started;
    int stopping;
    size_t clients;

    uint64_t next_seq;       /* number of the next event */
    char *ring[STREAM_RING]; /* event `seq` is ring[seq % STREAM_RING] */
    char *counts;            /* the last counts event, for new clients */
    uint64_t counts_seq;     /* its number */
    char *counts_json;       /* its data, to tell whether counts moved */

    /* Used by the poller thread only. */
    struct store *store;
    int64_t cursor_updated_at;
    int64_t cursor_id;
    int counts_due; /* entries changed since the counts were last read */
};

struct stream_client {
    struct http_stream_hub *hub;
    uint64_t seq; /* the next event to send */
    int greeted;
    char *pending; /* text being sent */
    size_t pending_size;
    size_t pending_sent;
};

static int64_t now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void deadline_after(int64_t ms, struct timespec *deadline)
{
    clock_gettime(CLOCK_REALTIME, deadline);
    deadline->tv_sec += (time_t)(ms / 1000);
    deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

/* Formats one SSE event; returns a heap string or NULL. */
static char *format_event(const char *name, uint64_t seq, json_t *data)
{
    char *json = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
    char *text = NULL;
    size_t size;

    json_decref(data);
    if (json == NULL)
        return NULL;
    size = strlen(json) + strlen(name) + 64;
    text = malloc(size);
    if (text != NULL)
        snprintf(text, size, "event: %s\nid: %" PRIu64 "\ndata: %s\n\n", name,
                 seq, json);
    free(json);
    return text;
}

/* Appends an event to the ring; the caller holds the lock. */
static void publish_locked(struct http_stream_hub *hub, const char *name,
                           json_t *data)
{
    char *text = format_event(name, hub->next_seq, data);
    size_t slot = (size_t)(hub->next_seq % STREAM_RING);

    if (text == NULL)
        return;
    free(hub->ring[slot]);
    hub->ring[slot] = text;
    hub->next_seq++;
    pthread_cond_broadcast(&hub->changed);
}

static void forget_counts_locked(struct http_stream_hub *hub)
{
    free(hub->counts);
    hub->counts = NULL;
    free(hub->counts_json);
    hub->counts_json = NULL;
}

/*
 * Reads the counts and publishes them when they differ from the last
 * counts event. Returns 0, or -1 when they could not be read, so the
 * next poll tries again.
 */
static int publish_counts(struct http_stream_hub *hub)
{
    json_t *counts = NULL;
    char *text;

    if (http_counts_build(hub->store, hub->server->config, &counts) !=
        STORE_OK) {
        log_warn("http", "stream: cannot count entries: %s",
                 store_errmsg(hub->store));
        return -1;
    }
    text = json_dumps(counts, JSON_COMPACT);
    if (text == NULL) {
        json_decref(counts);
        return -1;
    }

    pthread_mutex_lock(&hub->lock);
    if (hub->counts_json == NULL || strcmp(hub->counts_json, text) != 0) {
        uint64_t seq = hub->next_seq;

        publish_locked(hub, "counts", counts);
        counts = NULL;
        forget_counts_locked(hub);
        if (hub->next_seq != seq) {
            hub->counts = strdup(hub->ring[seq % STREAM_RING]);
            hub->counts_seq = seq;
            hub->counts_json = text;
            text = NULL;
        }
    }
    pthread_mutex_unlock(&hub->lock);
    json_decref(counts);
    free(text);
    return 0;
}

/* Reads one page of changes; returns how many entries it published. */
static int poll_page(struct http_stream_hub *hub)
{
    struct entry_filter filter = {.updated_since = hub->cursor_updated_at,
                                  .updated_after_id = hub->cursor_id,
                                  .limit = STREAM_PAGE};
    struct entry_list list = {0};
    int64_t now = now_ms();

    if (hub->store->ops->list_entries(hub->store, &filter, &list) != STORE_OK) {
        log_warn("http", "stream: cannot read changed entries: %s",
                 store_errmsg(hub->store));
        return -1;
    }

    pthread_mutex_lock(&hub->lock);
    for (size_t i = 0; i < list.count; i++)
        publish_locked(hub, "entry", http_entry_json(&list.items[i], now));
    pthread_mutex_unlock(&hub->lock);

    /* entry_list_free zeroes the count, so it is read first. */
    size_t count = list.count;
    if (count > 0) {
        hub->cursor_updated_at = list.items[count - 1].updated_at;
        hub->cursor_id = list.items[count - 1].id;
    }
    entry_list_free(&list);
    return (int)count;
}

/*
 * Reads the changed entries, then the counts whenever an entry changed,
 * so the counts that follow an entry event include its change.
 */
static void poll_once(struct http_stream_hub *hub)
{
    int missing;

    for (int page = 0; page < STREAM_PAGES_MAX; page++) {
        int count = poll_page(hub);

        if (count <= 0)
            break;
        hub->counts_due = 1;
        if (count < STREAM_PAGE)
            break;
    }

    pthread_mutex_lock(&hub->lock);
    missing = hub->counts == NULL;
    pthread_mutex_unlock(&hub->lock);
    if ((hub->counts_due || missing) && publish_counts(hub) == 0)
        hub->counts_due = 0;
}

/*
 * After a time with no client, changes from before the first client
 * connected are not sent: the cursor starts at the current time.
 */
static void restart_cursor(struct http_stream_hub *hub)
{
    hub->cursor_updated_at = now_ms() - 1;
    hub->cursor_id = INT64_MAX;
    forget_counts_locked(hub);
}

static void *run_poller(void *arg)
{
    struct http_stream_hub *hub = arg;
    struct timespec deadline;
    int idle = 1;

    pthread_mutex_lock(&hub->lock);
    while (!hub->stopping) {
        if (hub->clients == 0) {
            idle = 1;
            pthread_cond_wait(&hub->changed, &hub->lock);
            continue;
        }
        if (idle)
            restart_cursor(hub);
        idle = 0;

        pthread_mutex_unlock(&hub->lock);
        poll_once(hub);
        pthread_mutex_lock(&hub->lock);

        deadline_after(STREAM_POLL_MS, &deadline);
        while (!hub->stopping &&
               pthread_cond_timedwait(&hub->changed, &hub->lock, &deadline) !=
                   ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&hub->lock);
    return NULL;
}

struct http_stream_hub *http_stream_hub_new(struct http_server *server,
                                            char *err, size_t errlen)
{
    struct http_stream_hub *hub = calloc(1, sizeof *hub);
    char why[STORE_ERR_MAX];

    if (hub == NULL) {
        snprintf(err, errlen, "cannot start the event stream: out of memory");
        return NULL;
    }
    hub->server = server;
    pthread_mutex_init(&hub->lock, NULL);
    pthread_cond_init(&hub->changed, NULL);

    if (http_open_store(server, &hub->store, why, sizeof why) != STORE_OK) {
        snprintf(err, errlen,
                 "cannot open the database for the event "
                 "stream: %s",
                 why);
        hub->store = NULL;
        http_stream_hub_free(hub);
        return NULL;
    }
    if (pthread_create(&hub->poller, NULL, run_poller, hub) != 0) {
        snprintf(err, errlen, "cannot start the event stream thread: %s",
                 strerror(errno));
        http_stream_hub_free(hub);
        return NULL;
    }
    hub->poller_started = 1;
    return hub;
}

void http_stream_hub_shutdown(struct http_stream_hub *hub)
{
    if (hub == NULL)
        return;

    pthread_mutex_lock(&hub->lock);
    hub->stopping = 1;
    pthread_cond_broadcast(&hub->changed);
    pthread_mutex_unlock(&hub->lock);

    if (hub->poller_started)
        pthread_join(hub->poller, NULL);
    hub->poller_started = 0;
}

void http_stream_hub_free(struct http_stream_hub *hub)
{
    if (hub == NULL)
        return;

    http_stream_hub_shutdown(hub);
    for (size_t i = 0; i < STREAM_RING; i++)
        free(hub->ring[i]);
    free(hub->counts);
    free(hub->counts_json);
    store_close(hub->store);
    pthread_cond_destroy(&hub->changed);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

static void set_pending(struct stream_client *client, char *text)
{
    free(client->pending);
    client->pending = text;
    client->pending_size = text != NULL ? strlen(text) : 0;
    client->pending_sent = 0;
}

/*
 * The first text of a stream: the reconnect delay and the last counts
 * event, unless the client gets that event from the ring anyway.
 */
static char *greeting_locked(const struct http_stream_hub *hub,
                             const struct stream_client *client)
{
    const char *counts =
        hub->counts != NULL && hub->counts_seq < client->seq ? hub->counts : "";
    size_t size = strlen(counts) + 32;
    char *text = malloc(size);

    if (text != NULL)
        snprintf(text, size, "retry: %d\n\n%s", STREAM_RETRY_MS, counts);
    return text;
}

/*
 * Waits for the client's next text: an event, a reset, or a heartbeat
 * after STREAM_HEARTBEAT_MS of silence. Returns 0, or -1 when the
 * stream ends. Runs in the client's connection thread.
 */
static int next_text(struct stream_client *client)
{
    struct http_stream_hub *hub = client->hub;
    struct timespec deadline;
    char *text = NULL;
    int result = 0;

    deadline_after(STREAM_HEARTBEAT_MS, &deadline);
    pthread_mutex_lock(&hub->lock);
    while (!hub->stopping && text == NULL) {
        if (!client->greeted) {
            text = greeting_locked(hub, client);
            client->greeted = 1;
        } else if (hub->next_seq - client->seq > STREAM_RING) {
            client->seq = hub->next_seq;
            text = strdup("event: reset\ndata: {}\n\n");
        } else if (client->seq < hub->next_seq) {
            text = strdup(hub->ring[client->seq++ % STREAM_RING]);
        } else if (pthread_cond_timedwait(&hub->changed, &hub->lock,
                                          &deadline) == ETIMEDOUT) {
            text = strdup(": heartbeat\n\n");
        }
    }
    if (hub->stopping)
        result = -1;
    pthread_mutex_unlock(&hub->lock);

    set_pending(client, text);
    return result == 0 && text != NULL ? 0 : -1;
}

static ssize_t read_stream(void *cls, uint64_t position, char *buffer,
                           size_t max)
{
    struct stream_client *client = cls;
    size_t count;

    (void)position;
    if (client->pending_sent == client->pending_size && next_text(client) != 0)
        return MHD_CONTENT_READER_END_OF_STREAM;

    count = client->pending_size - client->pending_sent;
    if (count > max)
        count = max;
    memcpy(buffer, client->pending + client->pending_sent, count);
    client->pending_sent += count;
    return (ssize_t)count;
}

static void free_stream(void *cls)
{
    struct stream_client *client = cls;
    struct http_stream_hub *hub = client->hub;

    pthread_mutex_lock(&hub->lock);
    hub->clients--;
    pthread_mutex_unlock(&hub->lock);
    free(client->pending);
    free(client);
}

/* Counts a new client; returns 0, or -1 when the limit is reached. */
static int add_client(struct http_stream_hub *hub, struct stream_client *client)
{
    int result = -1;

    pthread_mutex_lock(&hub->lock);
    if (hub->clients < STREAM_CLIENTS_MAX && !hub->stopping) {
        /* With no client the poller has not counted since the last one
         * left; the first client waits for fresh counts instead. */
        if (hub->clients == 0)
            forget_counts_locked(hub);
        hub->clients++;
        client->seq = hub->next_seq;
        pthread_cond_broadcast(&hub->changed);
        result = 0;
    }
    pthread_mutex_unlock(&hub->lock);
    return result;
}

/* Sets the status and headers of a stream; a HEAD reply has no body. */
static void set_stream_headers(struct http_reply *reply)
{
    reply->status = MHD_HTTP_OK;
    reply->content_type = "text/event-stream";
    http_reply_header(reply, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    http_reply_header(reply, "X-Accel-Buffering", "no");
}

void http_handle_stream(struct http_request *request, struct http_reply *reply)
{
    static const char *const known[] = {NULL};
    struct http_stream_hub *hub = request->server->hub;
    struct stream_client *client;

    if (http_query_check_names(request, known, reply) != 0)
        return;
    if (strcmp(request->method, "HEAD") == 0) {
        set_stream_headers(reply);
        return;
    }
    client = calloc(1, sizeof *client);
    if (client == NULL || add_client(hub, client) != 0) {
        free(client);
        http_reply_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                         "too many event stream clients (%d); close another "
                         "page or try again later",
                         STREAM_CLIENTS_MAX);
        http_reply_header(reply, "Retry-After", "5");
        return;
    }
    client->hub = hub;

    http_reply_clear(reply);
    reply->response = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, read_stream, client, free_stream);
    if (reply->response == NULL) {
        free_stream(client);
        http_reply_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                         "cannot start the event stream: out of memory");
        return;
    }
    set_stream_headers(reply);

    /* The server's idle timeout is shorter than the heartbeat period. */
    MHD_set_connection_option(request->connection,
                              MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned int)STREAM_TIMEOUT_S);
}
