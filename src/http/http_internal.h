/*
 * Private declarations shared by the files of the HTTP server: the
 * server state, one request, the reply a handler fills, the route table
 * and the reply helpers. Only the files of src/http include it.
 *
 * A handler runs once the whole request body is read. It receives the
 * request with its path parameters and fills the reply; the server turns
 * the reply into an HTTP response and frees it.
 */
#ifndef PUBQ_HTTP_INTERNAL_H
#define PUBQ_HTTP_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/zone.h"
#include "http/http_server.h"
#include "store/store.h"

#define HTTP_PARAM_MAX 2     /* path parameters per route */
#define HTTP_PARAM_BYTES 256 /* one path parameter, with its NUL */
#define HTTP_HEADER_MAX 4    /* extra response headers per reply */
#define HTTP_POOL_MAX 16     /* store handles open at once for requests */
#define HTTP_LIST_LIMIT_MAX 1000

struct http_stream_hub;

/* One request's jobs waiting in the submit queue (http_submit_queue.c). */
struct http_submit_waiter {
    struct submit_group group;
    int64_t now;
    int done;   /* group.result is set */
    sem_t wake; /* posted once: when done, or when this one leads */
    struct http_submit_waiter *next;
};

/*
 * Requests whose jobs wait to be stored. One request at a time, the
 * leader, stores every waiting request's jobs in one transaction, so
 * that one commit serves all of them.
 */
struct http_submit_queue {
    const char *database; /* URL of the writer handle */
    struct store *writer; /* used by the leader only; NULL until opened */
    void (*committed)(void *arg); /* called after each group, or NULL */
    void *committed_arg;
    pthread_mutex_t lock;
    struct http_submit_waiter *head;
    struct http_submit_waiter *tail;
    int leader_active;
};

struct http_server {
    const struct pubq_config *config;
    struct http_server_hooks hooks;
    struct MHD_Daemon *daemon;
    int port;
    char listen_host[256]; /* host part of config->listen, "[::1]" */
    int any_host;          /* every Host is accepted: token, no loopback */
    char *token;           /* NULL when no token is configured */
    struct zone *default_zone;
    struct http_stream_hub *hub;
    struct http_submit_queue submit_queue;

    /* Idle store handles; a request takes one and gives it back. */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_ready; /* a handle was given back or closed */
    struct store *pool[HTTP_POOL_MAX];
    size_t pool_count;
    size_t store_count; /* handles open, idle or in use */

    /* libmicrohttpd's messages, at most one line a second (http_log.c);
     * both are read and written with atomic builtins. */
    int64_t log_last_ms;
    size_t log_suppressed;

    /* Connections open now, read and written with atomic builtins, and
     * [server] max_connections (http_connection_limit.c). */
    unsigned int open_connections;
    unsigned int connection_limit;
};

/*
 * libmicrohttpd's accept policy callback: rejects a new connection, so
 * that libmicrohttpd closes it at once, while connection_limit
 * connections are open.
 */
enum MHD_Result http_connection_accept(void *cls, const struct sockaddr *addr,
                                       socklen_t addrlen);

/* libmicrohttpd's connection notification: counts open connections. */
void http_connection_notify(void *cls, struct MHD_Connection *connection,
                            void **socket_context,
                            enum MHD_ConnectionNotificationCode code);

struct http_header {
    const char *name;
    char value[128];
};

/* A handler's reply, from which the server builds the MHD response. */
struct http_reply {
    unsigned int status;
    char *body; /* heap, freed by the server; or NULL */
    size_t size;
    const void *static_body; /* body that outlives the server, or NULL */
    const char *content_type;
    struct http_header headers[HTTP_HEADER_MAX];
    size_t header_count;
    struct MHD_Response *response; /* a ready response (event stream) */
};

struct http_route;

struct http_request {
    struct http_server *server;
    struct MHD_Connection *connection;
    const char *method;
    const char *path;
    const struct http_route *route;
    char params[HTTP_PARAM_MAX][HTTP_PARAM_BYTES];
    size_t param_count;

    char *body; /* NUL-terminated, at most max_body_bytes */
    size_t body_size;
    int body_too_large;

    struct store *store;     /* taken from the pool on first use */
    int64_t now;             /* ms since the epoch when the request began */
    struct http_reply early; /* reply decided before the body was read */
    int has_early;
};

typedef void (*http_handler)(struct http_request *request,
                             struct http_reply *reply);

enum http_route_flags {
    HTTP_ROUTE_EVENT_KEY = 1, /* the first parameter may carry the token */
};

struct http_route {
    const char *method;
    const char *pattern; /* "/v1/entries/{id}/retry" */
    http_handler handler;
    int flags;
};

/* Route lookup results. */
enum http_route_match {
    HTTP_ROUTE_FOUND,
    HTTP_ROUTE_NO_PATH,   /* 404 */
    HTTP_ROUTE_NO_METHOD, /* 405; `allow` lists the methods */
    HTTP_ROUTE_BAD_PARAM, /* a path parameter is longer than allowed */
};

/*
 * Finds the route for method and path and copies its parameters into
 * request->params; HEAD finds the GET route. On HTTP_ROUTE_NO_METHOD,
 * fills `allow` with the methods the path takes ("GET, HEAD, POST").
 */
enum http_route_match http_route_find(struct http_request *request, char *allow,
                                      size_t allow_size);

/*
 * Returns 1 when the request may call its route: no token is
 * configured, the route does not change anything (GET), or the request
 * carries the token. Fills the 401 reply and returns 0 otherwise.
 */
int http_auth_check(struct http_request *request, struct http_reply *reply);

/*
 * Returns 1 when the `length` bytes at `given` equal the NUL-terminated
 * `token`, else 0. Takes time that depends only on the lengths, never on
 * where the first difference is, so a client cannot find the token byte
 * by byte.
 */
int http_auth_token_equals(const char *given, size_t length,
                           const char *token);

/*
 * Request checks against web pages (http_guard.c). Each returns 1 when
 * the request may go on, or fills the reply and returns 0.
 *
 * http_guard_host accepts a request without Host, any Host when
 * server->any_host is set, localhost, 127.0.0.1, [::1] or the listen
 * host with the server's port, and a name of allowed_hosts with any
 * port; otherwise it replies 421.
 *
 * http_guard_cross_site replies 403 to a POST whose Sec-Fetch-Site is
 * cross-site or same-site, or whose Origin is present and is not
 * http:// or https:// followed by the Host header.
 */
int http_guard_host(struct http_request *request, struct http_reply *reply);
int http_guard_cross_site(struct http_request *request,
                          struct http_reply *reply);

/*
 * Writes a libmicrohttpd message as a warning, at most one line a
 * second; the next line written counts the messages dropped in between.
 * `cls` is the struct http_server (http_log.c).
 */
void http_log_mhd(void *cls, const char *fmt, va_list args);

/* Writes how many messages were suppressed since the last line, if any. */
void http_log_flush(struct http_server *server);

/* Reply helpers (http_json.c). Each replaces what the reply held. */

/* Replies with `document` as compact JSON; takes the reference. */
void http_reply_json(struct http_reply *reply, unsigned int status,
                     json_t *document);

/*
 * Replies {"error": {"field": FIELD, "message": MESSAGE}}; field NULL
 * writes null.
 */
void http_reply_error(struct http_reply *reply, unsigned int status,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Replies with the failure of a store operation: 404 for
 * STORE_NOT_FOUND, 409 for STORE_CONFLICT, 400 for STORE_INVALID, 503
 * with Retry-After for STORE_BUSY and STORE_FULL (disk full or database
 * read-only), else 500. `what` names the operation
 * ("cannot list entries").
 */
void http_reply_store_error(struct http_reply *reply, struct store *store,
                            int result, const char *what);

/* The same reply, for a failure whose message is `errmsg`. */
void http_reply_store_failure(struct http_reply *reply, int result,
                              const char *errmsg, const char *what);

/*
 * Parses the request body as JSON (duplicate keys rejected). Returns 0
 * with a new reference in *root, or -1 with a 400 reply whose message
 * gives the line and column and names invalid UTF-8 as the cause.
 */
int http_request_json(const struct http_request *request, json_t **root,
                      struct http_reply *reply);

/* Adds a response header; the name must be a static string. */
void http_reply_header(struct http_reply *reply, const char *name,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Frees the body and response of a reply and empties it. */
void http_reply_clear(struct http_reply *reply);

/*
 * The store handle pool (http_pool.c). http_pool_init and
 * http_pool_free bracket the server's life; http_pool_add puts a handle
 * the caller opened into the pool, which then owns it.
 */
void http_pool_init(struct http_server *server);
void http_pool_add(struct http_server *server, struct store *store);
void http_pool_free(struct http_server *server);

/*
 * Opens a store handle of the server's database with a small page
 * cache, so the server's memory stays bounded however its handles are
 * used. Returns store_open's result, with the reason in err.
 */
int http_open_store(const struct http_server *server, struct store **store,
                    char *err, size_t errlen);

/*
 * The submit queue (http_submit_queue.c). http_submit_queue_init and
 * http_submit_queue_free bracket the server's life.
 *
 * http_submit_queue_run stores waiter->group through store_submit_groups
 * together with the groups of the requests that wait meanwhile, and
 * returns once waiter->group.result and its results are set. The
 * leader writes through the queue's own handle, whose page cache stays
 * valid from one group to the next. `store`, the calling request's
 * handle, writes instead when that handle cannot be opened, and for a
 * back end without submit_groups, which stores the request's group at
 * once without queueing it. After each store_submit_groups call the
 * queue calls `committed` (the engine's wake-up) once, so a burst of
 * requests wakes the engine once per transaction, not once per request.
 */
void http_submit_queue_init(struct http_submit_queue *queue,
                            const char *database, void (*committed)(void *arg),
                            void *arg);
void http_submit_queue_free(struct http_submit_queue *queue);
void http_submit_queue_run(struct http_submit_queue *queue,
                           struct store *store,
                           struct http_submit_waiter *waiter);

/*
 * Returns the request's store handle, taking an idle one, opening one,
 * or waiting up to 5 s while HTTP_POOL_MAX are in use. On failure
 * fills a 503 reply with Retry-After and returns NULL.
 */
struct store *http_request_store(struct http_request *request,
                                 struct http_reply *reply);

/*
 * Gives the request's handle back to the pool; with `failed` set (the
 * reply was a server error) closes it and every idle handle instead.
 * Does nothing when the request has none.
 */
void http_request_release_store(struct http_request *request, int failed);

/* JSON builders (http_json.c); each returns a new reference or NULL. */
json_t *http_time_json(int64_t ms);
json_t *http_text_json(const char *text);
/* `now` (ms) measures how late a waiting entry is (lateMs). */
json_t *http_entry_json(const struct entry *entry, int64_t now);
json_t *http_attempt_json(const struct attempt *attempt);
json_t *http_job_json(const struct job *job);
json_t *http_audit_json(const struct audit_record *record);
json_t *http_counts_json(const struct status_counts *counts);

/*
 * Query parameters (http_query.c). Each checks one parameter and on a
 * bad value fills a 400 reply naming it and returns -1; an absent
 * parameter leaves *out unchanged and returns 0.
 */

/* Rejects a parameter not in `known` (NULL-terminated). */
int http_query_check_names(struct http_request *request,
                           const char *const *known, struct http_reply *reply);
const char *http_query_get(struct http_request *request, const char *name);
int http_query_id(struct http_request *request, const char *name, int64_t *out,
                  struct http_reply *reply);
int http_query_limit(struct http_request *request, size_t *out,
                     struct http_reply *reply);
int http_query_time(struct http_request *request, const char *name,
                    int64_t *out, struct http_reply *reply);
int http_query_text(struct http_request *request, const char *name, size_t max,
                    const char **out, struct http_reply *reply);

/*
 * Parses a path parameter as an id from 1 to INT64_MAX. On failure
 * fills a 404 reply (no such id can exist) and returns -1.
 */
int http_path_id(struct http_request *request, size_t index, const char *what,
                 int64_t *id, struct http_reply *reply);

/*
 * Builds {"all": {...}, "platforms": {"NAME": {...}}}: entries counted
 * by status, with a total, overall and per configured platform. Returns
 * a store result; *out is a new reference on STORE_OK.
 */
int http_counts_build(struct store *store, const struct pubq_config *config,
                      json_t **out);

/* Handlers, one group per file. */
void http_handle_events(struct http_request *request, struct http_reply *reply);
void http_handle_inngest(struct http_request *request,
                         struct http_reply *reply);
void http_handle_entry_list(struct http_request *request,
                            struct http_reply *reply);
void http_handle_entry_get(struct http_request *request,
                           struct http_reply *reply);
void http_handle_job_get(struct http_request *request,
                         struct http_reply *reply);
void http_handle_counts(struct http_request *request, struct http_reply *reply);
void http_handle_entry_retry(struct http_request *request,
                             struct http_reply *reply);
void http_handle_entry_cancel(struct http_request *request,
                              struct http_reply *reply);
void http_handle_entry_mark_published(struct http_request *request,
                                      struct http_reply *reply);
void http_handle_platform_list(struct http_request *request,
                               struct http_reply *reply);
void http_handle_platform_pause(struct http_request *request,
                                struct http_reply *reply);
void http_handle_platform_resume(struct http_request *request,
                                 struct http_reply *reply);
void http_handle_audit(struct http_request *request, struct http_reply *reply);
void http_handle_healthz(struct http_request *request,
                         struct http_reply *reply);
void http_handle_metrics(struct http_request *request,
                         struct http_reply *reply);
void http_handle_stream(struct http_request *request, struct http_reply *reply);
void http_handle_page(struct http_request *request, struct http_reply *reply);

/*
 * The event stream hub (http_stream.c): one poller thread that reads
 * entry changes from the store while clients are connected.
 * http_stream_hub_new returns NULL with a message in err.
 * http_stream_hub_shutdown wakes every client so its stream ends; call
 * it before MHD_stop_daemon, and http_stream_hub_free after.
 */
struct http_stream_hub *http_stream_hub_new(struct http_server *server,
                                            char *err, size_t errlen);
void http_stream_hub_shutdown(struct http_stream_hub *hub);
void http_stream_hub_free(struct http_stream_hub *hub);

/* Returns 1 for a path of the Inngest event API, /e/{event-key}. */
int http_inngest_path(const char *path);

/*
 * Rewrites an error reply {"error": {"field", "message"}} into the shape
 * the Inngest SDK reads: {"ids": [], "status": STATUS, "error": "FIELD:
 * MESSAGE"}. Keeps the status and headers; leaves other replies as they
 * are.
 */
void http_reply_inngest_error(struct http_reply *reply);

/* Calls the wake hook, when there is one. */
void http_server_wake(struct http_server *server);

#endif
