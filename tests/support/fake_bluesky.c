#include "fake_bluesky.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "publish/atproto_tid.h"

#define FAKE_BODY_MAX (1024 * 1024)
#define FAKE_NSID_COUNT 4
#define FAKE_COLLECTION "app.bsky.feed.post"

static const char *const fake_nsids[FAKE_NSID_COUNT] = {
    "com.atproto.server.createSession",
    "com.atproto.server.refreshSession",
    "com.atproto.repo.createRecord",
    "com.atproto.repo.getRecord",
};

enum { NSID_LOGIN, NSID_REFRESH, NSID_CREATE, NSID_GET };

struct fake_failure {
    int status; /* 0: none pending */
    char *headers;
    char *body;
};

struct fake_bluesky {
    struct MHD_Daemon *daemon;
    char url[64];
    char *handle;
    char *did;
    char *password;
    int access_uses;

    pthread_mutex_t lock;
    unsigned token_serial;
    char access[64];  /* the only valid access token, "" when none */
    char refresh[64]; /* the only valid refresh token, "" when none */
    int access_used;
    int duplicate_status;
    int drop_next_create;
    struct fake_failure failures[FAKE_NSID_COUNT];
    size_t calls[FAKE_NSID_COUNT];
    json_t *records; /* rkey -> record value */
    char *last_create_body;
    size_t protocol_errors;
    char protocol_error[256];
};

/* One request being received. */
struct fake_call {
    char *body;
    size_t body_len;
};

/* A response decided under the lock and sent after it. */
struct fake_reply {
    int status; /* 0: close the connection without a response */
    char *headers;
    char *body;
};

static void reply_set(struct fake_reply *reply, int status, json_t *body)
{
    reply->status = status;
    reply->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
}

static void reply_error(struct fake_reply *reply, int status, const char *name,
                        const char *message)
{
    reply_set(reply, status,
              json_pack("{s:s,s:s}", "error", name, "message", message));
}

/* Records a request that breaks the documented shape; lock held. */
static void protocol_error(struct fake_bluesky *fake, struct fake_reply *reply,
                           const char *what)
{
    fake->protocol_errors++;
    snprintf(fake->protocol_error, sizeof fake->protocol_error, "%s", what);
    reply_error(reply, 400, "InvalidRequest", what);
}

static void issue_tokens(struct fake_bluesky *fake)
{
    fake->token_serial++;
    snprintf(fake->access, sizeof fake->access, "access-%u",
             fake->token_serial);
    snprintf(fake->refresh, sizeof fake->refresh, "refresh-%u",
             fake->token_serial);
    fake->access_used = 0;
}

static json_t *session_json(const struct fake_bluesky *fake)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:b}", "did", fake->did, "handle",
                     fake->handle, "accessJwt", fake->access, "refreshJwt",
                     fake->refresh, "active", 1);
}

/* Returns the Bearer token of the request, or NULL. */
static const char *bearer(struct MHD_Connection *connection)
{
    const char *value = MHD_lookup_connection_value(
        connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (value == NULL || strncmp(value, "Bearer ", 7) != 0)
        return NULL;
    return value + 7;
}

static int is_json_post(struct MHD_Connection *connection, const char *method)
{
    const char *type = MHD_lookup_connection_value(
        connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

    return strcmp(method, "POST") == 0 && type != NULL &&
           strncmp(type, "application/json", 16) == 0;
}

static void handle_login(struct fake_bluesky *fake,
                         struct MHD_Connection *connection, const char *method,
                         json_t *body, struct fake_reply *reply)
{
    const char *identifier =
        json_string_value(json_object_get(body, "identifier"));
    const char *password = json_string_value(json_object_get(body, "password"));

    if (!is_json_post(connection, method) || identifier == NULL ||
        password == NULL) {
        protocol_error(fake, reply,
                       "createSession needs a JSON POST with identifier and "
                       "password");
        return;
    }
    if ((strcmp(identifier, fake->handle) != 0 &&
         strcmp(identifier, fake->did) != 0) ||
        strcmp(password, fake->password) != 0) {
        reply_error(reply, 401, "AuthenticationRequired",
                    "Invalid identifier or password");
        return;
    }
    issue_tokens(fake);
    reply_set(reply, 200, session_json(fake));
}

static void handle_refresh(struct fake_bluesky *fake,
                           struct MHD_Connection *connection,
                           const char *method, const struct fake_call *call,
                           struct fake_reply *reply)
{
    const char *token = bearer(connection);
    const char *type = MHD_lookup_connection_value(
        connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

    if (strcmp(method, "POST") != 0 || call->body_len != 0 || token == NULL ||
        (type != NULL && strncmp(type, "application/json", 16) != 0)) {
        protocol_error(fake, reply,
                       "refreshSession needs a POST without a body and a "
                       "Bearer refresh token");
        return;
    }
    if (fake->refresh[0] == '\0' || strcmp(token, fake->refresh) != 0) {
        reply_error(reply, 400, "ExpiredToken", "Token has been revoked");
        return;
    }
    issue_tokens(fake);
    reply_set(reply, 200, session_json(fake));
}

/* Checks the createRecord input; returns a description or NULL. */
static const char *create_shape_error(const struct fake_bluesky *fake,
                                      json_t *body)
{
    json_t *record = json_object_get(body, "record");
    const char *repo = json_string_value(json_object_get(body, "repo"));
    const char *collection =
        json_string_value(json_object_get(body, "collection"));
    const char *type = json_string_value(json_object_get(record, "$type"));

    if (repo == NULL || strcmp(repo, fake->did) != 0)
        return "createRecord repo is not the account's DID";
    if (collection == NULL || strcmp(collection, FAKE_COLLECTION) != 0)
        return "createRecord collection is not app.bsky.feed.post";
    if (!atproto_tid_is_valid(json_string_value(json_object_get(body, "rkey"))))
        return "createRecord rkey is not a TID";
    if (type == NULL || strcmp(type, FAKE_COLLECTION) != 0 ||
        !json_is_string(json_object_get(record, "text")) ||
        !json_is_string(json_object_get(record, "createdAt")))
        return "createRecord record lacks $type, text or createdAt";
    return NULL;
}

static json_t *record_reply(const struct fake_bluesky *fake, const char *rkey)
{
    char uri[512];

    snprintf(uri, sizeof uri, "at://%s/%s/%s", fake->did, FAKE_COLLECTION,
             rkey);
    return json_pack("{s:s,s:s}", "uri", uri, "cid",
                     "bafyreifakecidfakecidfakecidfakecidfakecidfake");
}

static void handle_create(struct fake_bluesky *fake,
                          struct MHD_Connection *connection, const char *method,
                          json_t *body, struct fake_reply *reply)
{
    const char *token = bearer(connection);
    const char *shape = create_shape_error(fake, body);
    const char *rkey;
    json_t *result;

    if (!is_json_post(connection, method) || shape != NULL) {
        protocol_error(fake, reply,
                       shape ? shape : "createRecord is a JSON POST");
        return;
    }
    if (token == NULL || fake->access[0] == '\0' ||
        strcmp(token, fake->access) != 0) {
        reply_error(reply, 401, "InvalidToken", "Bad token");
        return;
    }
    if (fake->access_uses > 0 && fake->access_used >= fake->access_uses) {
        reply_error(reply, 400, "ExpiredToken", "Token has expired");
        return;
    }
    fake->access_used++;

    rkey = json_string_value(json_object_get(body, "rkey"));
    if (json_object_get(fake->records, rkey) != NULL) {
        if (fake->duplicate_status == 409)
            reply_error(reply, 409, "RecordAlreadyExists",
                        "Record already exists");
        else
            reply_error(reply, 500, "InternalServerError",
                        "Internal Server Error");
        return;
    }
    json_object_set(fake->records, rkey, json_object_get(body, "record"));

    result = record_reply(fake, rkey);
    json_object_set_new(result, "validationStatus", json_string("valid"));
    reply_set(reply, 200, result);
    if (fake->drop_next_create) {
        fake->drop_next_create = 0;
        reply->status = 0;
    }
}

static void handle_get(struct fake_bluesky *fake,
                       struct MHD_Connection *connection, const char *method,
                       struct fake_reply *reply)
{
    const char *repo =
        MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "repo");
    const char *collection = MHD_lookup_connection_value(
        connection, MHD_GET_ARGUMENT_KIND, "collection");
    const char *rkey =
        MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "rkey");
    json_t *value;
    json_t *result;

    if (strcmp(method, "GET") != 0 || repo == NULL || collection == NULL ||
        rkey == NULL || strcmp(collection, FAKE_COLLECTION) != 0 ||
        (strcmp(repo, fake->did) != 0 && strcmp(repo, fake->handle) != 0)) {
        protocol_error(fake, reply,
                       "getRecord needs a GET with this account's repo, "
                       "collection and rkey");
        return;
    }
    value = json_object_get(fake->records, rkey);
    if (value == NULL) {
        reply_error(reply, 400, "RecordNotFound", "Could not locate record");
        return;
    }
    result = record_reply(fake, rkey);
    json_object_set(result, "value", value);
    reply_set(reply, 200, result);
}

static int nsid_index(const char *path)
{
    if (strncmp(path, "/xrpc/", 6) != 0)
        return -1;
    for (int i = 0; i < FAKE_NSID_COUNT; i++) {
        if (strcmp(path + 6, fake_nsids[i]) == 0)
            return i;
    }
    return -1;
}

/* Decides the reply to a complete request; takes the lock. */
static void decide(struct fake_bluesky *fake, struct MHD_Connection *connection,
                   const char *path, const char *method,
                   const struct fake_call *call, struct fake_reply *reply)
{
    int index = nsid_index(path);
    json_t *body = json_loadb(call->body, call->body_len, 0, NULL);
    struct fake_failure *failure;

    pthread_mutex_lock(&fake->lock);
    if (index < 0) {
        reply_error(reply, 404, "MethodNotImplemented", "no such method");
        goto done;
    }
    fake->calls[index]++;
    failure = &fake->failures[index];
    if (failure->status != 0) {
        reply->status = failure->status;
        reply->headers = failure->headers;
        reply->body = failure->body;
        memset(failure, 0, sizeof *failure);
        goto done;
    }
    if (index == NSID_CREATE) {
        free(fake->last_create_body);
        fake->last_create_body = strdup(call->body);
    }

    if (index == NSID_LOGIN)
        handle_login(fake, connection, method, body, reply);
    else if (index == NSID_REFRESH)
        handle_refresh(fake, connection, method, call, reply);
    else if (index == NSID_CREATE)
        handle_create(fake, connection, method, body, reply);
    else
        handle_get(fake, connection, method, reply);

done:
    pthread_mutex_unlock(&fake->lock);
    json_decref(body);
}

static void add_headers(struct MHD_Response *response, char *headers)
{
    char *rest = headers;
    char *line;

    while (rest != NULL && (line = strsep(&rest, "\n")) != NULL) {
        char *colon = strchr(line, ':');

        if (colon == NULL)
            continue;
        *colon = '\0';
        MHD_add_response_header(response, line, colon + 1 + (colon[1] == ' '));
    }
}

static enum MHD_Result send_reply(struct MHD_Connection *connection,
                                  struct fake_reply *reply)
{
    const char *body = reply->body != NULL ? reply->body : "";
    struct MHD_Response *response;
    enum MHD_Result result = MHD_NO;

    if (reply->status == 0)
        goto done;
    response = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                               MHD_RESPMEM_MUST_COPY);
    if (response == NULL)
        goto done;
    MHD_add_response_header(response, "Content-Type", "application/json");
    add_headers(response, reply->headers);
    result = MHD_queue_response(connection, (unsigned)reply->status, response);
    MHD_destroy_response(response);

done:
    free(reply->headers);
    free(reply->body);
    return result;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection,
                              const char *path, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **state)
{
    struct fake_bluesky *fake = cls;
    struct fake_call *call = *state;
    struct fake_reply reply = {0};

    (void)version;
    if (call == NULL) {
        call = calloc(1, sizeof *call);
        *state = call;
        return call != NULL && (call->body = strdup("")) != NULL ? MHD_YES
                                                                 : MHD_NO;
    }
    if (*upload_data_size > 0) {
        size_t len = *upload_data_size;
        char *grown = call->body_len + len <= FAKE_BODY_MAX
                          ? realloc(call->body, call->body_len + len + 1)
                          : NULL;

        if (grown == NULL)
            return MHD_NO;
        memcpy(grown + call->body_len, upload_data, len);
        call->body_len += len;
        grown[call->body_len] = '\0';
        call->body = grown;
        *upload_data_size = 0;
        return MHD_YES;
    }

    decide(fake, connection, path, method, call, &reply);
    return send_reply(connection, &reply);
}

static void call_completed(void *cls, struct MHD_Connection *connection,
                           void **state, enum MHD_RequestTerminationCode code)
{
    struct fake_call *call = *state;

    (void)cls;
    (void)connection;
    (void)code;
    if (call != NULL) {
        free(call->body);
        free(call);
    }
    *state = NULL;
}

static int daemon_start(struct fake_bluesky *fake)
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
        MHD_OPTION_NOTIFY_COMPLETED, call_completed, fake, MHD_OPTION_END);
    if (fake->daemon == NULL)
        return -1;
    info = MHD_get_daemon_info(fake->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0)
        return -1;
    snprintf(fake->url, sizeof fake->url, "http://127.0.0.1:%u",
             (unsigned)info->port);
    return 0;
}

struct fake_bluesky *fake_bluesky_start(const char *handle, const char *did,
                                        const char *password, int access_uses)
{
    struct fake_bluesky *fake = calloc(1, sizeof *fake);

    if (fake == NULL)
        return NULL;
    pthread_mutex_init(&fake->lock, NULL);
    fake->handle = strdup(handle);
    fake->did = strdup(did);
    fake->password = strdup(password);
    fake->access_uses = access_uses;
    fake->duplicate_status = 500;
    fake->records = json_object();
    if (fake->handle == NULL || fake->did == NULL || fake->password == NULL ||
        fake->records == NULL || daemon_start(fake) != 0) {
        fprintf(stderr, "fake_bluesky: cannot start the server on "
                        "127.0.0.1\n");
        fake_bluesky_stop(fake);
        return NULL;
    }
    return fake;
}

const char *fake_bluesky_url(const struct fake_bluesky *fake)
{
    return fake->url;
}

void fake_bluesky_revoke_refresh(struct fake_bluesky *fake)
{
    pthread_mutex_lock(&fake->lock);
    fake->refresh[0] = '\0';
    pthread_mutex_unlock(&fake->lock);
}

void fake_bluesky_set_duplicate_status(struct fake_bluesky *fake, int status)
{
    pthread_mutex_lock(&fake->lock);
    fake->duplicate_status = status;
    pthread_mutex_unlock(&fake->lock);
}

void fake_bluesky_fail_next(struct fake_bluesky *fake, const char *nsid,
                            int status, const char *headers, const char *body)
{
    char path[128];
    int index;

    snprintf(path, sizeof path, "/xrpc/%s", nsid);
    index = nsid_index(path);
    if (index < 0)
        return;
    pthread_mutex_lock(&fake->lock);
    free(fake->failures[index].headers);
    free(fake->failures[index].body);
    fake->failures[index].status = status;
    fake->failures[index].headers = strdup(headers != NULL ? headers : "");
    fake->failures[index].body = strdup(body != NULL ? body : "");
    pthread_mutex_unlock(&fake->lock);
}

void fake_bluesky_drop_next_create(struct fake_bluesky *fake)
{
    pthread_mutex_lock(&fake->lock);
    fake->drop_next_create = 1;
    pthread_mutex_unlock(&fake->lock);
}

size_t fake_bluesky_calls(struct fake_bluesky *fake, const char *nsid)
{
    char path[128];
    int index;
    size_t count = 0;

    snprintf(path, sizeof path, "/xrpc/%s", nsid);
    index = nsid_index(path);
    pthread_mutex_lock(&fake->lock);
    if (index >= 0)
        count = fake->calls[index];
    pthread_mutex_unlock(&fake->lock);
    return count;
}

size_t fake_bluesky_record_count(struct fake_bluesky *fake)
{
    size_t count;

    pthread_mutex_lock(&fake->lock);
    count = json_object_size(fake->records);
    pthread_mutex_unlock(&fake->lock);
    return count;
}

char *fake_bluesky_record(struct fake_bluesky *fake, const char *rkey)
{
    char *text = NULL;
    json_t *value;

    pthread_mutex_lock(&fake->lock);
    value = json_object_get(fake->records, rkey);
    if (value != NULL)
        text = json_dumps(value, JSON_COMPACT);
    pthread_mutex_unlock(&fake->lock);
    return text;
}

char *fake_bluesky_last_create_body(struct fake_bluesky *fake)
{
    char *text = NULL;

    pthread_mutex_lock(&fake->lock);
    if (fake->last_create_body != NULL)
        text = strdup(fake->last_create_body);
    pthread_mutex_unlock(&fake->lock);
    return text;
}

size_t fake_bluesky_protocol_errors(struct fake_bluesky *fake)
{
    size_t count;

    pthread_mutex_lock(&fake->lock);
    count = fake->protocol_errors;
    pthread_mutex_unlock(&fake->lock);
    return count;
}

const char *fake_bluesky_last_protocol_error(struct fake_bluesky *fake)
{
    return fake->protocol_error;
}

void fake_bluesky_stop(struct fake_bluesky *fake)
{
    if (fake == NULL)
        return;
    if (fake->daemon != NULL)
        MHD_stop_daemon(fake->daemon);
    for (int i = 0; i < FAKE_NSID_COUNT; i++) {
        free(fake->failures[i].headers);
        free(fake->failures[i].body);
    }
    json_decref(fake->records);
    free(fake->last_create_body);
    free(fake->handle);
    free(fake->did);
    free(fake->password);
    pthread_mutex_destroy(&fake->lock);
    free(fake);
}
