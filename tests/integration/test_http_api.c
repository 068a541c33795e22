/*
 * The HTTP API over real loopback HTTP. Each test starts the server on
 * 127.0.0.1 with a free port, a configuration file with three platforms
 * (two of type file, one mastodon for its text limit) and a fresh SQLite
 * file. It sends requests with libcurl and checks the database through
 * its own store handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/timestamp.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "http/http_server.h"
#include "store/store.h"
#include "test_support.h"

#define TOKEN_VARIABLE "PUBQ_TEST_HTTP_TOKEN"
#define TOKEN "test-token-5f1c"
#define NODE "test-node"

struct fixture {
    const char *dir;
    struct pubq_config config;
    struct store *store;
    struct http_server *server;
    int wakes;
    char base[64];
    int saved_stderr; /* stderr while a test captures it, else -1 */
};

struct response {
    long status;
    char *body;
    size_t size;
    char headers[4096];
    size_t header_size;
    json_t *json;
};

static int64_t now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void count_wake(void *arg)
{
    struct fixture *fx = arg;

    __atomic_add_fetch(&fx->wakes, 1, __ATOMIC_SEQ_CST);
}

/* `server` is more lines of [server], or "". */
static void write_config(const char *dir, const char *path,
                         const char *server)
{
    char text[2048];

    snprintf(text, sizeof text,
             "[server]\n"
             "listen = 127.0.0.1:8080\n"
             "%s"
             "[database]\n"
             "url = %s/pubq.db\n"
             "[platform blog]\n"
             "type = file\n"
             "path = %s/blog.jsonl\n"
             "[platform notes]\n"
             "type = file\n"
             "path = %s/notes.jsonl\n"
             "max_retries = 1\n"
             "[platform masto]\n"
             "type = mastodon\n",
             server, dir, dir, dir);
    test_write_file(path, text);
}

static void load_config(struct fixture *fx, const char *server)
{
    const char *path = test_path(fx->dir, "pubq.conf");
    char err[CONFIG_ERR_MAX];

    write_config(fx->dir, path, server);
    if (config_load(path, &fx->config, err, sizeof err) != 0)
        fail_msg("config_load: %s", err);

    /* The file format requires a port from 1; port 0 picks a free one. */
    free(fx->config.listen);
    fx->config.listen = strdup("127.0.0.1:0");
    assert_non_null(fx->config.listen);
}

static void open_store(struct fixture *fx)
{
    char err[STORE_ERR_MAX];

    if (store_open(fx->config.database, &fx->store, err, sizeof err) !=
        STORE_OK)
        fail_msg("store_open: %s", err);
    if (store_migrate(fx->store) != STORE_OK)
        fail_msg("migrate: %s", store_errmsg(fx->store));
}

static void start_server(struct fixture *fx)
{
    struct http_server_hooks hooks = {count_wake, fx, NODE};
    char err[HTTP_SERVER_ERR_MAX];

    fx->server = http_server_start(&fx->config, &hooks, err, sizeof err);
    if (fx->server == NULL)
        fail_msg("http_server_start: %s", err);
    snprintf(fx->base, sizeof fx->base, "http://127.0.0.1:%d",
             http_server_port(fx->server));
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);

    assert_non_null(fx);
    fx->dir = test_tmpdir();
    fx->saved_stderr = -1;
    unsetenv(TOKEN_VARIABLE);
    load_config(fx, "");
    open_store(fx);
    start_server(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    /* A failed check leaves a capture running; the next test logs again. */
    if (fx->saved_stderr >= 0) {
        fflush(stderr);
        dup2(fx->saved_stderr, STDERR_FILENO);
        close(fx->saved_stderr);
    }
    http_server_stop(fx->server);
    store_close(fx->store);
    config_free(&fx->config);
    free(fx);
    unsetenv(TOKEN_VARIABLE);
    return 0;
}

static void restart_with_token(struct fixture *fx)
{
    http_server_stop(fx->server);
    setenv(TOKEN_VARIABLE, TOKEN, 1);
    free(fx->config.api_token_env);
    fx->config.api_token_env = strdup(TOKEN_VARIABLE);
    start_server(fx);
}

/* Restarts the server with more [server] lines in its configuration. */
static void restart_with_server(struct fixture *fx, const char *server)
{
    http_server_stop(fx->server);
    config_free(&fx->config);
    load_config(fx, server);
    start_server(fx);
}

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    struct response *response = arg;
    size_t length = size * count;
    char *grown = realloc(response->body, response->size + length + 1);

    if (grown == NULL)
        return 0;
    memcpy(grown + response->size, data, length);
    response->body = grown;
    response->size += length;
    response->body[response->size] = '\0';
    return length;
}

static size_t on_header(char *data, size_t size, size_t count, void *arg)
{
    struct response *response = arg;
    size_t length = size * count;
    size_t room = sizeof response->headers - response->header_size - 1;

    if (length > room)
        length = room;
    memcpy(response->headers + response->header_size, data, length);
    response->header_size += length;
    response->headers[response->header_size] = '\0';
    return size * count;
}

struct call {
    const char *method;
    const char *path;
    /* Content-Type of a POST or a body: NULL for application/json, ""
     * for none. */
    const char *type;
    const char *body;  /* NULL: no body */
    size_t size;       /* 0: strlen(body) */
    const char *auth;  /* Authorization header, or NULL */
    const char *extra; /* one more header line, or NULL */
};

static void perform(struct fixture *fx, const struct call *call,
                    struct response *response)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    char url[1024];
    char line[256];

    memset(response, 0, sizeof *response);
    assert_non_null(curl);
    snprintf(url, sizeof url, "%s%s", fx->base, call->path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call->method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);

    if (strcmp(call->method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if ((call->body != NULL || strcmp(call->method, "POST") == 0) &&
        (call->type == NULL || call->type[0] != '\0')) {
        snprintf(line, sizeof line, "Content-Type: %s",
                 call->type != NULL ? call->type : "application/json");
        headers = curl_slist_append(headers, line);
    }
    if (call->body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(
            curl, CURLOPT_POSTFIELDSIZE_LARGE,
            (curl_off_t)(call->size != 0 ? call->size : strlen(call->body)));
    }
    if (call->auth != NULL) {
        snprintf(line, sizeof line, "Authorization: %s", call->auth);
        headers = curl_slist_append(headers, line);
    }
    if (call->extra != NULL)
        headers = curl_slist_append(headers, call->extra);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", call->method, call->path, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);

    if (response->body != NULL)
        response->json = json_loads(response->body, 0, NULL);
}

static void response_clear(struct response *response)
{
    free(response->body);
    json_decref(response->json);
    memset(response, 0, sizeof *response);
}

static void get(struct fixture *fx, const char *path, struct response *out)
{
    struct call call = {"GET", path, NULL, NULL, 0, NULL, NULL};

    perform(fx, &call, out);
}

static void post(struct fixture *fx, const char *path, const char *body,
                 struct response *out)
{
    struct call call = {"POST", path, NULL, body, 0, NULL, NULL};

    perform(fx, &call, out);
}

/* The error field of an error reply, or "(null)" when it is null. */
static const char *error_field(const struct response *response)
{
    const json_t *field =
        json_object_get(json_object_get(response->json, "error"), "field");

    return json_is_string(field) ? json_string_value(field) : "(null)";
}

static const char *error_message(const struct response *response)
{
    const char *message = json_string_value(
        json_object_get(json_object_get(response->json, "error"), "message"));

    return message != NULL ? message : "";
}

static size_t count_entries(struct fixture *fx)
{
    struct entry_filter filter = {.limit = 1000};
    struct entry_list list = {0};
    size_t count;

    assert_int_equal(fx->store->ops->list_entries(fx->store, &filter, &list),
                     STORE_OK);
    count = list.count;
    entry_list_free(&list);
    return count;
}

static char *scheduled_event(const char *id, const char *content_id,
                             const char *platforms)
{
    char *text = malloc(1024);

    assert_non_null(text);
    snprintf(text, 1024,
             "{\"name\":\"publishing.scheduled\",%s%s%s"
             "\"data\":{\"contentItemId\":\"%s\",\"platforms\":[%s],"
             "\"content\":{\"text\":\"hello from %s\"}}}",
             id != NULL ? "\"id\":\"" : "", id != NULL ? id : "",
             id != NULL ? "\"," : "", content_id, platforms, content_id);
    return text;
}

/* Posts one scheduled event and returns its job id. */
static int64_t schedule(struct fixture *fx, const char *content_id,
                        const char *platforms)
{
    char *body = scheduled_event(NULL, content_id, platforms);
    struct response response;
    int64_t job_id;

    post(fx, "/v1/events", body, &response);
    free(body);
    assert_int_equal(response.status, 200);
    job_id = json_integer_value(json_object_get(
        json_array_get(json_object_get(response.json, "events"), 0), "jobId"));
    assert_true(job_id > 0);
    response_clear(&response);
    return job_id;
}

struct bad_case {
    const char *name;
    const char *type;
    const char *body;
    long status;
    const char *field;
};

static const char long_text_event[] =
    "{\"name\":\"publishing.scheduled\",\"data\":{\"contentItemId\":\"c1\","
    "\"platforms\":[\"masto\"],\"content\":{\"text\":\""
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789\"}}}";

#define EVENT_START                                                            \
    "{\"name\":\"publishing.scheduled\",\"data\":{\"contentItemId\":\"c1\","
#define TEXT ",\"content\":{\"text\":\"hi\"}"

static const struct bad_case bad_cases[] = {
    {"malformed JSON", NULL, "{\"name\": \"publishing.scheduled\",, }", 400,
     "body"},
    {"truncated body", NULL, EVENT_START "\"platforms\":[\"blog\"", 400,
     "body"},
    {"invalid UTF-8", NULL,
     EVENT_START "\"platforms\":[\"blog\"],\"content\":{\"text\":\"caf\xc3("
                 "\"}}}",
     400, "body"},
    {"unknown platform", NULL, EVENT_START "\"platforms\":[\"nope\"]" TEXT "}}",
     400, "data.platforms[0]"},
    {"empty platforms", NULL, EVENT_START "\"platforms\":[]" TEXT "}}", 400,
     "data.platforms"},
    {"duplicate platform", NULL,
     EVENT_START "\"platforms\":[\"blog\",\"blog\"]" TEXT "}}", 400,
     "data.platforms[1]"},
    {"naive scheduledAt", NULL,
     EVENT_START "\"platforms\":[\"blog\"],"
                 "\"scheduledAt\":\"2026-12-05T09:00:00\"" TEXT "}}",
     400, "data.scheduledAt"},
    {"impossible date", NULL,
     EVENT_START "\"platforms\":[\"blog\"],"
                 "\"scheduledAt\":\"2026-02-30T10:00:00Z\"" TEXT "}}",
     400, "data.scheduledAt"},
    {"text over limit", NULL, long_text_event, 400, "data.content.text"},
    {"empty text", NULL,
     EVENT_START "\"platforms\":[\"blog\"],\"content\":{\"text\":\"\"}}}",
     400, "data.content.text"},
    {"whitespace-only text", NULL,
     EVENT_START "\"platforms\":[\"blog\"],"
                 "\"content\":{\"text\":\"  \\n\\t\\u00a0\"}}}",
     400, "data.content.text"},
    {"unknown event name", NULL,
     "{\"name\":\"publishing.deleted\",\"data\":{}}", 400, "name"},
    {"one bad event in array", NULL,
     "[" EVENT_START "\"platforms\":[\"blog\"]" TEXT "}}," EVENT_START
     "\"platforms\":[\"notes\"]" TEXT "}}," EVENT_START
     "\"platforms\":[\"nope\"]" TEXT "}}]",
     400, "[2].data.platforms[0]"},
    {"wrong content type", "text/plain",
     EVENT_START "\"platforms\":[\"blog\"]" TEXT "}}", 415, "Content-Type"},
    {"latin1 charset", "application/json; charset=latin1",
     EVENT_START "\"platforms\":[\"blog\"]" TEXT "}}", 415, "Content-Type"},
    {"empty body", NULL, "", 400, "body"},
};

static void test_events_reject(void **state)
{
    struct fixture *fx = *state;

    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct call call = {.method = "POST",
                            .path = "/v1/events",
                            .type = c->type,
                            .body = c->body};
        struct response response;

        perform(fx, &call, &response);
        if (response.status != c->status ||
            strcmp(error_field(&response), c->field) != 0)
            fail_msg("%s: got %ld field %s (%s), expected %ld field %s",
                     c->name, response.status, error_field(&response),
                     response.body != NULL ? response.body : "", c->status,
                     c->field);
        assert_int_equal(count_entries(fx), 0);
        response_clear(&response);
    }
}

static void test_events_error_details(void **state)
{
    struct fixture *fx = *state;
    struct response response;

    post(fx, "/v1/events", bad_cases[1].body, &response);
    assert_non_null(strstr(error_message(&response), "line 1, column"));
    response_clear(&response);

    post(fx, "/v1/events", bad_cases[2].body, &response);
    assert_non_null(strstr(error_message(&response), "invalid UTF-8"));
    response_clear(&response);

    post(fx, "/v1/events", bad_cases[8].body, &response);
    assert_non_null(strstr(error_message(&response), "masto"));
    response_clear(&response);
}

static void test_events_nul_character(void **state)
{
    struct fixture *fx = *state;
    struct response response;

    post(fx, "/v1/events",
         EVENT_START "\"platforms\":[\"blog\"],"
                     "\"content\":{\"text\":\"a\\u0000b\"}}}",
         &response);
    assert_int_equal(response.status, 400);
    assert_string_equal(error_field(&response), "body");
    assert_non_null(strstr(error_message(&response),
                           "NUL characters are not allowed in text"));
    assert_null(strstr(error_message(&response), "JSON_ALLOW_NUL"));
    assert_int_equal(count_entries(fx), 0);
    response_clear(&response);
}

static void test_events_too_large(void **state)
{
    struct fixture *fx = *state;
    size_t size = 10 * 1024 * 1024;
    char *body = malloc(size);
    struct call call = {"POST", "/v1/events", NULL, body, size, NULL, NULL};
    struct response response;

    assert_non_null(body);
    memset(body, ' ', size);
    body[0] = '[';
    body[size - 1] = ']';
    perform(fx, &call, &response);
    assert_int_equal(response.status, 413);
    assert_non_null(strstr(error_message(&response), "max_body_bytes"));
    assert_int_equal(count_entries(fx), 0);
    response_clear(&response);
    free(body);
}

static void test_events_store(void **state)
{
    struct fixture *fx = *state;
    char *body = scheduled_event(NULL, "post-1", "\"blog\",\"notes\"");
    struct response response;
    json_t *event;

    post(fx, "/v1/events", body, &response);
    free(body);
    assert_int_equal(response.status, 200);
    event = json_array_get(json_object_get(response.json, "events"), 0);
    assert_true(json_integer_value(json_object_get(event, "jobId")) > 0);
    assert_true(json_is_false(json_object_get(event, "duplicate")));
    assert_int_equal(json_array_size(json_object_get(event, "entryIds")), 2);
    assert_int_equal(count_entries(fx), 2);
    assert_true(__atomic_load_n(&fx->wakes, __ATOMIC_SEQ_CST) > 0);
    response_clear(&response);
}

static void test_events_idempotent(void **state)
{
    struct fixture *fx = *state;
    char *body = scheduled_event("evt-1", "post-1", "\"blog\"");
    struct response first;
    struct response second;
    json_t *a;
    json_t *b;

    post(fx, "/v1/events", body, &first);
    post(fx, "/v1/events", body, &second);
    free(body);
    assert_int_equal(first.status, 200);
    assert_int_equal(second.status, 200);

    a = json_array_get(json_object_get(first.json, "events"), 0);
    b = json_array_get(json_object_get(second.json, "events"), 0);
    assert_int_equal(json_integer_value(json_object_get(a, "jobId")),
                     json_integer_value(json_object_get(b, "jobId")));
    assert_true(json_is_true(json_object_get(b, "duplicate")));
    assert_int_equal(count_entries(fx), 1);
    response_clear(&first);
    response_clear(&second);
}

/* Runs an SQL statement on a raw connection to the server's database
 * and returns the first column of its first row as an integer. */
static long long query_number(struct fixture *fx, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long value = -1;

    if (sqlite3_open(fx->config.database, &db) != SQLITE_OK)
        fail_msg("open %s: %s", fx->config.database, sqlite3_errmsg(db));
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static void exec_sql(struct fixture *fx, const char *sql)
{
    sqlite3 *db = NULL;

    if (sqlite3_open(fx->config.database, &db) != SQLITE_OK)
        fail_msg("open %s: %s", fx->config.database, sqlite3_errmsg(db));
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* Counts the rows of `table` whose column `column` equals `value`. */
static long long count_rows(struct fixture *fx, const char *table,
                            const char *column, const char *value)
{
    char sql[256];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s = '%s'",
             table, column, value);
    return query_number(fx, sql);
}

#define BURST_VALID 40
#define BURST_PAIRS 4
#define BURST_BAD 2
#define BURST_SIZE (BURST_VALID + 2 * BURST_PAIRS + BURST_BAD + 1)
#define BURST_CONNECTIONS 16

enum burst_kind { BURST_ONE, BURST_PAIR, BURST_INVALID, BURST_FAILING };

struct burst_request {
    enum burst_kind kind;
    char content_id[32];
    char *body;
    struct response response;
    CURL *curl;
};

/* Fills the burst: valid events (every other one with an id), pairs of
 * events that share an event id, events naming an unknown platform,
 * and one event whose job INSERT the test's trigger aborts. */
static void burst_fill(struct burst_request *burst)
{
    size_t n = 0;
    char id[32];

    for (int i = 0; i < BURST_VALID; i++) {
        struct burst_request *r = &burst[n++];

        r->kind = BURST_ONE;
        snprintf(r->content_id, sizeof r->content_id, "burst-%d", i);
        snprintf(id, sizeof id, "burst-event-%d", i);
        r->body = scheduled_event(i % 2 == 0 ? id : NULL, r->content_id,
                                  "\"blog\"");
        if (i == BURST_VALID / 2) {
            for (int k = 0; k < BURST_BAD; k++) {
                struct burst_request *bad = &burst[n++];

                bad->kind = BURST_INVALID;
                snprintf(bad->content_id, sizeof bad->content_id, "bad-%d", k);
                bad->body =
                    scheduled_event(NULL, bad->content_id, "\"nowhere\"");
            }
            burst[n].kind = BURST_FAILING;
            snprintf(burst[n].content_id, sizeof burst[n].content_id,
                     "explode");
            burst[n].body = scheduled_event(NULL, "explode", "\"blog\"");
            n++;
        }
    }
    for (int k = 0; k < BURST_PAIRS; k++) {
        snprintf(id, sizeof id, "pair-event-%d", k);
        for (int side = 0; side < 2; side++) {
            struct burst_request *r = &burst[n++];

            r->kind = BURST_PAIR;
            snprintf(r->content_id, sizeof r->content_id, "pair-%d-%c", k,
                     side == 0 ? 'a' : 'b');
            r->body = scheduled_event(id, r->content_id, "\"blog\"");
        }
    }
    assert_int_equal(n, BURST_SIZE);
}

static void burst_add(struct fixture *fx, CURLM *multi,
                      struct burst_request *r, struct curl_slist *headers)
{
    char url[128];

    memset(&r->response, 0, sizeof r->response);
    r->curl = curl_easy_init();
    assert_non_null(r->curl);
    snprintf(url, sizeof url, "%s/v1/events", fx->base);
    curl_easy_setopt(r->curl, CURLOPT_URL, url);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &r->response);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, 30L);
    assert_int_equal(curl_multi_add_handle(multi, r->curl), CURLM_OK);
}

/* Sends every request of the burst at once, BURST_CONNECTIONS at a time
 * over their own connections, and waits for every reply. */
static void burst_send(struct fixture *fx, struct burst_request *burst)
{
    CURLM *multi = curl_multi_init();
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/json");
    int running = 1;

    assert_non_null(multi);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)BURST_CONNECTIONS);
    for (size_t i = 0; i < BURST_SIZE; i++)
        burst_add(fx, multi, &burst[i], headers);

    /* Ends because every transfer has a 30 s timeout. */
    while (running > 0) {
        assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
        if (running > 0)
            assert_int_equal(curl_multi_poll(multi, NULL, 0, 1000, NULL),
                             CURLM_OK);
    }

    for (size_t i = 0; i < BURST_SIZE; i++) {
        struct burst_request *r = &burst[i];

        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE,
                          &r->response.status);
        if (r->response.body != NULL)
            r->response.json = json_loads(r->response.body, 0, NULL);
        curl_multi_remove_handle(multi, r->curl);
        curl_easy_cleanup(r->curl);
    }
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
}

static json_t *burst_event(const struct burst_request *r)
{
    return json_array_get(json_object_get(r->response.json, "events"), 0);
}

/* Each accepted event is stored once, with its entry and its record. */
static void check_burst_one(struct fixture *fx, const struct burst_request *r)
{
    json_t *event = burst_event(r);

    assert_int_equal(r->response.status, 200);
    assert_true(json_integer_value(json_object_get(event, "jobId")) > 0);
    assert_true(json_is_false(json_object_get(event, "duplicate")));
    assert_int_equal(json_array_size(json_object_get(event, "entryIds")), 1);
    assert_int_equal(count_rows(fx, "jobs", "content_id", r->content_id), 1);
    assert_int_equal(count_rows(fx, "entries", "content_id", r->content_id),
                     1);
    assert_int_equal(count_rows(fx, "audit", "job_id", r->content_id), 1);
}

/* Two requests with one event id: one job, the other reply a duplicate
 * of it. */
static void check_burst_pair(struct fixture *fx, const struct burst_request *a,
                             const struct burst_request *b)
{
    json_t *first = burst_event(a);
    json_t *second = burst_event(b);
    int duplicates = json_is_true(json_object_get(first, "duplicate")) +
                     json_is_true(json_object_get(second, "duplicate"));

    assert_int_equal(a->response.status, 200);
    assert_int_equal(b->response.status, 200);
    assert_int_equal(duplicates, 1);
    assert_true(json_integer_value(json_object_get(first, "jobId")) > 0);
    assert_int_equal(json_integer_value(json_object_get(first, "jobId")),
                     json_integer_value(json_object_get(second, "jobId")));
    assert_int_equal(count_rows(fx, "jobs", "content_id", a->content_id) +
                         count_rows(fx, "jobs", "content_id", b->content_id),
                     1);
    assert_int_equal(count_rows(fx, "audit", "job_id", a->content_id) +
                         count_rows(fx, "audit", "job_id", b->content_id),
                     1);
}

/* A rejected request gets its own error and leaves nothing behind. */
static void check_burst_rejected(struct fixture *fx,
                                 const struct burst_request *r)
{
    assert_int_equal(r->response.status, 400);
    if (r->kind == BURST_INVALID)
        assert_non_null(strstr(error_field(&r->response), "platforms"));
    else
        assert_non_null(strstr(error_message(&r->response), "test failure"));
    assert_int_equal(count_rows(fx, "jobs", "content_id", r->content_id), 0);
    assert_int_equal(count_rows(fx, "content_items", "id", r->content_id), 0);
    assert_int_equal(count_rows(fx, "audit", "job_id", r->content_id), 0);
}

/*
 * Concurrent single-event requests, which the server may store in one
 * transaction, keep the guarantees of one request alone.
 */
static void test_events_burst(void **state)
{
    struct fixture *fx = *state;
    struct burst_request burst[BURST_SIZE];

    memset(burst, 0, sizeof burst);
    exec_sql(fx, "CREATE TRIGGER explode BEFORE INSERT ON jobs"
                 " WHEN NEW.content_id = 'explode' BEGIN"
                 " SELECT RAISE(ABORT, 'test failure'); END");
    burst_fill(burst);
    burst_send(fx, burst);

    for (size_t i = 0; i < BURST_SIZE; i++) {
        if (burst[i].kind == BURST_ONE)
            check_burst_one(fx, &burst[i]);
        else if (burst[i].kind == BURST_PAIR && burst[i - 1].kind != BURST_PAIR)
            check_burst_pair(fx, &burst[i], &burst[i + 1]);
        else if (burst[i].kind == BURST_INVALID ||
                 burst[i].kind == BURST_FAILING)
            check_burst_rejected(fx, &burst[i]);
    }
    assert_int_equal(query_number(fx, "SELECT count(*) FROM jobs"),
                     BURST_VALID + BURST_PAIRS);
    assert_int_equal(query_number(fx, "SELECT count(*) FROM audit"
                                      " WHERE action = 'accepted'"),
                     BURST_VALID + BURST_PAIRS);

    /* The engine is woken once per transaction, so at least once and at
     * most once per request. */
    assert_true(__atomic_load_n(&fx->wakes, __ATOMIC_SEQ_CST) > 0);
    assert_true(__atomic_load_n(&fx->wakes, __ATOMIC_SEQ_CST) <= BURST_SIZE);

    for (size_t i = 0; i < BURST_SIZE; i++) {
        free(burst[i].body);
        response_clear(&burst[i].response);
    }
}

static void test_inngest_reply(void **state)
{
    struct fixture *fx = *state;
    char *one = scheduled_event("evt-a", "post-a", "\"blog\"");
    char *two = scheduled_event(NULL, "post-b", "\"notes\"");
    char body[2200];
    struct response response;
    json_t *ids;

    snprintf(body, sizeof body, "[%s,%s]", one, two);
    free(one);
    free(two);
    post(fx, "/e/any-event-key", body, &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(
        json_integer_value(json_object_get(response.json, "status")), 200);
    ids = json_object_get(response.json, "ids");
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), "evt-a");
    assert_true(json_is_string(json_array_get(ids, 1)));
    assert_int_equal(count_entries(fx), 2);
    response_clear(&response);
}

/* Checks the Inngest error reply {"ids": [], "status": N, "error": "..."}. */
static void assert_inngest_error(const struct response *response, long status,
                                 const char *error_start)
{
    const char *error =
        json_string_value(json_object_get(response->json, "error"));

    assert_int_equal(response->status, status);
    assert_true(json_is_array(json_object_get(response->json, "ids")));
    assert_int_equal(json_array_size(json_object_get(response->json, "ids")),
                     0);
    assert_int_equal(
        json_integer_value(json_object_get(response->json, "status")), status);
    assert_non_null(error);
    if (strncmp(error, error_start, strlen(error_start)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", error, error_start);
}

static void test_inngest_errors(void **state)
{
    struct fixture *fx = *state;
    char *bad = scheduled_event(NULL, "post-bad", "\"blog\",\"nope\"");
    char body[1200];
    struct call call = {"POST", "/e/wrong-key", NULL, body, 0, NULL, NULL};
    struct response response;

    snprintf(body, sizeof body, "[%s]", bad);
    free(bad);
    post(fx, "/e/any-event-key", body, &response);
    assert_inngest_error(&response, 400,
                         "[0].data.platforms[1]: unknown platform \"nope\"");
    response_clear(&response);

    post(fx, "/v1/events", body, &response);
    assert_int_equal(response.status, 400);
    assert_string_equal(error_field(&response), "[0].data.platforms[1]");
    response_clear(&response);

    post(fx, "/e/any-event-key", "[{\"name\":\"publishing.scheduled\",,}]",
         &response);
    assert_inngest_error(&response, 400, "body: ");
    response_clear(&response);

    call.path = "/e/any-event-key";
    call.type = "text/plain";
    perform(fx, &call, &response);
    assert_inngest_error(&response, 415, "Content-Type: unsupported");
    response_clear(&response);
    call.path = "/e/wrong-key";
    call.type = NULL;

    restart_with_token(fx);
    perform(fx, &call, &response);
    assert_inngest_error(&response, 401, "Authorization: missing or wrong");
    response_clear(&response);
    assert_int_equal(count_entries(fx), 0);
}

static void test_inngest_meta(void **state)
{
    struct fixture *fx = *state;
    const char *event = "{\"name\":\"publishing.scheduled\","
                        "\"meta\":{\"sessions\":{\"user\":\"u1\"}},"
                        "\"data\":{\"contentItemId\":\"post-m\","
                        "\"platforms\":[\"blog\"],"
                        "\"content\":{\"text\":\"hi\"}}}";
    struct response response;

    post(fx, "/e/any-event-key", event, &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    post(fx, "/v1/events", event, &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    assert_int_equal(count_entries(fx), 2);

    post(fx, "/v1/events",
         "{\"name\":\"publishing.scheduled\",\"meta\":7,"
         "\"data\":{\"contentItemId\":\"post-m\",\"platforms\":[\"blog\"],"
         "\"content\":{\"text\":\"hi\"}}}",
         &response);
    assert_int_equal(response.status, 400);
    assert_string_equal(error_field(&response), "meta");
    response_clear(&response);
}

#define SEED_HEADER "x-inngest-event-id-seed: 1764867000000,AAECAwQFBgcICQ=="

/* The ids of an Inngest reply as one string, "a|b|". */
static void reply_ids(const struct response *response, char *out, size_t size)
{
    const json_t *ids = json_object_get(response->json, "ids");
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(ids) && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s|",
                                 json_string_value(json_array_get(ids, i)));
}

static void test_inngest_seed(void **state)
{
    struct fixture *fx = *state;
    char *one = scheduled_event(NULL, "post-s1", "\"blog\"");
    char *two = scheduled_event(NULL, "post-s2", "\"blog\"");
    char body[2200];
    char first_ids[512];
    char second_ids[512];
    struct call call = {"POST", "/e/any-event-key", NULL, body, 0,
                        NULL,   SEED_HEADER};
    struct response response;

    snprintf(body, sizeof body, "[%s,%s]", one, two);
    free(one);
    free(two);

    /* A retry of the SDK sends the same body with the same seed. */
    perform(fx, &call, &response);
    assert_int_equal(response.status, 200);
    reply_ids(&response, first_ids, sizeof first_ids);
    response_clear(&response);
    perform(fx, &call, &response);
    assert_int_equal(response.status, 200);
    reply_ids(&response, second_ids, sizeof second_ids);
    response_clear(&response);

    assert_string_equal(first_ids, second_ids);
    assert_int_equal(count_entries(fx), 2);

    /* Another send() call has another seed and is stored again. */
    call.extra = "x-inngest-event-id-seed: 1764867000001,CQgHBgUEAwIBAA==";
    perform(fx, &call, &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    assert_int_equal(count_entries(fx), 4);

    call.extra = "x-inngest-event-id-seed: bad seed";
    perform(fx, &call, &response);
    assert_inngest_error(&response, 400, "x-inngest-event-id-seed: ");
    response_clear(&response);
    assert_int_equal(count_entries(fx), 4);
}

static void test_events_cancel_reschedule(void **state)
{
    struct fixture *fx = *state;
    struct response response;
    struct entry_list list = {0};
    struct entry_filter filter = {.content_id = "post-9"};
    int wakes;

    schedule(fx, "post-9", "\"blog\",\"notes\"");
    wakes = __atomic_load_n(&fx->wakes, __ATOMIC_SEQ_CST);
    post(fx, "/v1/events",
         "{\"name\":\"publishing.rescheduled\",\"data\":{\"contentItemId\":"
         "\"post-9\",\"scheduledAt\":\"2099-01-01T00:00:00Z\"}}",
         &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);

    /* A new due time can be earlier than the engine's next look. */
    assert_true(__atomic_load_n(&fx->wakes, __ATOMIC_SEQ_CST) > wakes);

    post(fx, "/v1/events",
         "{\"name\":\"publishing.cancelled\",\"data\":{\"contentItemId\":"
         "\"post-9\",\"platforms\":[\"notes\"]}}",
         &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_array_get(json_object_get(response.json, "events"), 0),
            "changed")),
        1);
    response_clear(&response);

    assert_int_equal(fx->store->ops->list_entries(fx->store, &filter, &list),
                     STORE_OK);
    assert_int_equal(list.count, 2);
    for (size_t i = 0; i < list.count; i++) {
        if (strcmp(list.items[i].platform, "notes") == 0)
            assert_int_equal(list.items[i].status, ENTRY_CANCELLED);
        else
            assert_int_equal(list.items[i].due_at, INT64_C(4070908800000));
    }
    entry_list_free(&list);
}

static char *reschedule_event(const char *id, const char *at)
{
    char *text = malloc(512);

    assert_non_null(text);
    snprintf(text, 512,
             "{\"name\":\"publishing.rescheduled\",\"id\":\"%s\","
             "\"data\":{\"contentItemId\":\"post-r\","
             "\"scheduledAt\":\"%s\"}}",
             id, at);
    return text;
}

static void test_events_replay_reschedule(void **state)
{
    struct fixture *fx = *state;
    char *first = reschedule_event("move-1", "2099-01-01T00:00:00Z");
    char *second = reschedule_event("move-2", "2098-01-01T00:00:00Z");
    struct entry_filter filter = {.content_id = "post-r"};
    struct entry_list list = {0};
    struct response response;
    json_t *result;

    schedule(fx, "post-r", "\"blog\"");
    post(fx, "/v1/events", first, &response);
    response_clear(&response);
    post(fx, "/v1/events", second, &response);
    response_clear(&response);

    post(fx, "/v1/events", first, &response);
    assert_int_equal(response.status, 200);
    result = json_array_get(json_object_get(response.json, "events"), 0);
    assert_true(json_is_true(json_object_get(result, "duplicate")));
    assert_int_equal(json_integer_value(json_object_get(result, "changed")), 0);
    response_clear(&response);
    free(first);
    free(second);

    assert_int_equal(fx->store->ops->list_entries(fx->store, &filter, &list),
                     STORE_OK);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.items[0].due_at, INT64_C(4039372800000));
    entry_list_free(&list);
}

static void test_events_platform_retries(void **state)
{
    struct fixture *fx = *state;
    int64_t job_id = schedule(fx, "post-mr", "\"blog\",\"notes\"");
    struct entry_filter filter = {.job_id = job_id};
    struct entry_list list = {0};

    assert_int_equal(fx->store->ops->list_entries(fx->store, &filter, &list),
                     STORE_OK);
    assert_int_equal(list.count, 2);
    for (size_t i = 0; i < list.count; i++) {
        const char *platform = list.items[i].platform;

        if (strcmp(platform, "notes") == 0)
            assert_int_equal(list.items[i].max_retries, 1);
        else
            assert_int_equal(list.items[i].max_retries, 3);
    }
    entry_list_free(&list);
}

/* Reads every page of `query` and returns how many entries it listed. */
static size_t read_pages(struct fixture *fx, const char *query, size_t *pages)
{
    char path[512];
    char before[32] = "";
    int64_t last = INT64_MAX;
    size_t total = 0;

    *pages = 0;
    for (int round = 0; round < 50; round++) {
        struct response response;
        json_t *entries;
        json_t *next;
        size_t index;
        json_t *item;

        snprintf(path, sizeof path, "/v1/entries?%s%s%s", query,
                 before[0] != '\0' ? "&before=" : "", before);
        get(fx, path, &response);
        assert_int_equal(response.status, 200);
        entries = json_object_get(response.json, "entries");
        json_array_foreach(entries, index, item)
        {
            int64_t id = json_integer_value(json_object_get(item, "id"));

            assert_true(id < last);
            last = id;
            total++;
        }
        (*pages)++;
        next = json_object_get(response.json, "next");
        if (json_is_null(next)) {
            response_clear(&response);
            return total;
        }
        snprintf(before, sizeof before, "%s", json_string_value(next));
        response_clear(&response);
    }
    fail_msg("pagination did not end");
    return 0;
}

static void test_entries_pages(void **state)
{
    struct fixture *fx = *state;
    size_t pages;
    char content_id[32];

    for (int i = 0; i < 5; i++) {
        snprintf(content_id, sizeof content_id, "post-%d", i);
        schedule(fx, content_id, "\"blog\",\"notes\"");
    }

    assert_int_equal(read_pages(fx, "limit=3", &pages), 10);
    assert_int_equal(pages, 4);
    assert_int_equal(read_pages(fx, "limit=5", &pages), 10);
    assert_int_equal(pages, 2);
    assert_int_equal(read_pages(fx, "platform=blog&limit=2", &pages), 5);
    assert_int_equal(read_pages(fx, "status=pending", &pages), 10);
    assert_int_equal(read_pages(fx, "status=published", &pages), 0);
    assert_int_equal(read_pages(fx, "contentId=post-3", &pages), 2);
    assert_int_equal(read_pages(fx, "from=2000-01-01T00:00:00Z", &pages), 10);
    assert_int_equal(read_pages(fx, "to=2000-01-01T00:00:00Z", &pages), 0);
}

static void test_entries_bad_query(void **state)
{
    static const struct {
        const char *path;
        const char *field;
    } cases[] = {
        {"/v1/entries?status=done", "status"},
        {"/v1/entries?limit=0", "limit"},
        {"/v1/entries?limit=1001", "limit"},
        {"/v1/entries?limit=ten", "limit"},
        {"/v1/entries?from=yesterday", "from"},
        {"/v1/entries?to=2026-02-30T00:00:00Z", "to"},
        {"/v1/entries?before=-4", "before"},
        {"/v1/entries?jobId=x", "jobId"},
        {"/v1/entries?sort=id", "sort"},
        {"/v1/audit?limit=0", "limit"},
        {"/v1/audit?from=2026-01-01", "from"},
        {"/v1/entries?status=pending&status=failed", "status"},
        {"/v1/audit?job=a&job=b", "job"},
        {"/v1/entries?contentId=%00", "contentId"},
        {"/v1/entries?contentId=a%00b", "contentId"},
        {"/v1/entries?platform=blog%0A", "platform"},
        {"/v1/audit?job=a%7Fb", "job"},
        {"/v1/audit?action=nosuch", "action"},
        {"/v1/audit?action=Accepted", "action"},
        {"/v1/entries?contentId=%ff%fe", "contentId"},
        {"/v1/entries?platform=blog%c3", "platform"},
        {"/v1/entries?contentId=%ed%a0%80", "contentId"},
        {"/v1/audit?job=%ff", "job"},
        {"/v1/audit?platform=%c0%af", "platform"},
    };
    struct fixture *fx = *state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct response response;

        get(fx, cases[i].path, &response);
        if (response.status != 400 ||
            strcmp(error_field(&response), cases[i].field) != 0)
            fail_msg("%s: got %ld field %s", cases[i].path, response.status,
                     error_field(&response));
        response_clear(&response);
    }
}

/* Returns the id of the first entry of the job. */
static int64_t first_entry(struct fixture *fx, int64_t job_id)
{
    struct entry_filter filter = {.job_id = job_id};
    struct entry_list list = {0};
    int64_t id;

    assert_int_equal(fx->store->ops->list_entries(fx->store, &filter, &list),
                     STORE_OK);
    assert_true(list.count > 0);
    id = list.items[list.count - 1].id;
    entry_list_free(&list);
    return id;
}

static void test_entry_detail(void **state)
{
    struct fixture *fx = *state;
    int64_t job_id = schedule(fx, "post-7", "\"blog\",\"notes\"");
    int64_t id = first_entry(fx, job_id);
    struct response response;
    char path[64];
    json_t *entry;

    snprintf(path, sizeof path, "/v1/entries/%" PRId64, id);
    get(fx, path, &response);
    assert_int_equal(response.status, 200);
    entry = json_object_get(response.json, "entry");
    assert_int_equal(json_integer_value(json_object_get(entry, "id")), id);
    assert_string_equal(json_string_value(json_object_get(entry, "status")),
                        "pending");
    assert_true(json_is_string(json_object_get(entry, "nextAttemptAt")));
    assert_true(json_is_string(json_object_get(entry, "dueAt")));
    assert_int_equal(
        json_array_size(json_object_get(response.json, "attempts")), 0);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(response.json, "job"), "content"),
            "text")),
        "hello from post-7");
    response_clear(&response);

    snprintf(path, sizeof path, "/v1/jobs/%" PRId64, job_id);
    get(fx, path, &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(json_array_size(json_object_get(response.json, "entries")),
                     2);
    response_clear(&response);

    get(fx, "/v1/entries/999999", &response);
    assert_int_equal(response.status, 404);
    response_clear(&response);
    get(fx, "/v1/jobs/abc", &response);
    assert_int_equal(response.status, 404);
    response_clear(&response);
}

/* Claims every due entry and fails it permanently, as the engine would. */
static void fail_due_entries(struct fixture *fx)
{
    static const char *const platforms[] = {"blog", "notes", "masto"};
    struct entry_list claimed = {0};
    int64_t now = now_ms();

    assert_int_equal(fx->store->ops->claim_due(fx->store, NODE, platforms, 3,
                                               now, 60000, 100, &claimed),
                     STORE_OK);
    for (size_t i = 0; i < claimed.count; i++) {
        struct attempt_completion done = {
            .entry_id = claimed.items[i].id,
            .attempt_number = claimed.items[i].attempt_count,
            .node = NODE,
            .next_status = ENTRY_FAILED,
            .outcome = OUTCOME_PERMANENT,
            .http_status = 403,
            .ended_at = now + 120,
            .latency_ms = 120,
            .error = "HTTP 403: forbidden",
        };
        int applied = 0;

        assert_int_equal(
            fx->store->ops->complete_attempts(fx->store, &done, 1, &applied),
            STORE_OK);
        assert_int_equal(applied, 1);
    }
    entry_list_free(&claimed);
}

static void post_action(struct fixture *fx, int64_t id, const char *action,
                        struct response *response)
{
    char path[96];

    snprintf(path, sizeof path, "/v1/entries/%" PRId64 "/%s", id, action);
    post(fx, path, NULL, response);
}

/*
 * An entry claimed ahead of its due time is publishing, but its attempt
 * has not started, so a cancel through the API still wins. Once an
 * attempt has started, the cancel gets 409.
 */
static void test_cancel_claimed_ahead(void **state)
{
    static const char *const platforms[] = {"blog", "notes", "masto"};
    struct fixture *fx = *state;
    int64_t now = now_ms();
    char at[TIMESTAMP_MAX];
    char body[512];
    struct response response;
    struct entry_list list = {0};
    int64_t ahead;
    int64_t started;

    if (fx->store->ops->claim_ahead == NULL)
        skip();
    assert_int_equal(timestamp_format(now + 30000, at, sizeof at), 0);
    snprintf(body, sizeof body,
             "{\"name\":\"publishing.scheduled\",\"data\":{"
             "\"contentItemId\":\"ahead-1\",\"platforms\":[\"blog\"],"
             "\"scheduledAt\":\"%s\",\"content\":{\"text\":\"soon\"}}}",
             at);
    post(fx, "/v1/events", body, &response);
    assert_int_equal(response.status, 200);
    ahead = first_entry(
        fx, json_integer_value(json_object_get(
                json_array_get(json_object_get(response.json, "events"), 0),
                "jobId")));
    response_clear(&response);
    assert_int_equal(fx->store->ops->claim_ahead(fx->store, NODE, platforms,
                                                 3, now, now + 60000, 60000,
                                                 10, &list),
                     STORE_OK);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.items[0].id, ahead);
    assert_int_equal(list.items[0].status, ENTRY_PUBLISHING);
    entry_list_free(&list);

    post_action(fx, ahead, "cancel", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(response.json, "entry"), "status")),
                        "cancelled");
    response_clear(&response);

    started = first_entry(fx, schedule(fx, "started-1", "\"blog\""));
    assert_int_equal(fx->store->ops->claim_due(fx->store, NODE, platforms, 3,
                                               now_ms(), 60000, 10, &list),
                     STORE_OK);
    assert_int_equal(list.count, 1);
    entry_list_free(&list);
    post_action(fx, started, "cancel", &response);
    assert_int_equal(response.status, 409);
    assert_non_null(strstr(error_message(&response), "it is publishing"));
    response_clear(&response);
}

static void test_entry_actions(void **state)
{
    struct fixture *fx = *state;
    int64_t id = first_entry(fx, schedule(fx, "post-8", "\"blog\""));
    struct response response;
    char expected[160];

    post_action(fx, id, "retry", &response);
    assert_int_equal(response.status, 409);
    snprintf(expected, sizeof expected,
             "cannot retry entry %" PRId64 ": it is pending; only failed "
             "entries can be retried",
             id);
    assert_string_equal(error_message(&response), expected);
    response_clear(&response);

    fail_due_entries(fx);
    post_action(fx, id, "retry", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(response.json, "entry"), "status")),
                        "pending");
    response_clear(&response);

    post_action(fx, id, "cancel", &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    post_action(fx, id, "cancel", &response);
    assert_int_equal(response.status, 409);
    assert_non_null(strstr(error_message(&response), "it is cancelled"));
    response_clear(&response);

    post_action(fx, 987654, "cancel", &response);
    assert_int_equal(response.status, 404);
    response_clear(&response);
    post_action(fx, id, "mark-published", &response);
    assert_int_equal(response.status, 409);
    response_clear(&response);
}

static void test_mark_published(void **state)
{
    struct fixture *fx = *state;
    int64_t id = first_entry(fx, schedule(fx, "post-5", "\"blog\""));
    struct response response;

    fail_due_entries(fx);
    post_action(fx, id, "mark-published", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(response.json, "entry"), "status")),
                        "published");
    /* The error of the failed attempt is no longer the entry's. */
    assert_true(json_is_null(json_object_get(
        json_object_get(response.json, "entry"), "lastError")));
    response_clear(&response);
}

static int platform_paused(struct fixture *fx, const char *name)
{
    struct response response;
    size_t index;
    json_t *item;
    int paused = -1;

    get(fx, "/v1/platforms", &response);
    assert_int_equal(response.status, 200);
    json_array_foreach(json_object_get(response.json, "platforms"), index, item)
    {
        /* Adapter options such as the file path stay private. */
        assert_null(json_object_get(item, "path"));
        if (strcmp(json_string_value(json_object_get(item, "name")), name) == 0)
            paused = json_is_true(json_object_get(item, "paused"));
    }
    response_clear(&response);
    return paused;
}

static void test_platforms_pause(void **state)
{
    struct fixture *fx = *state;
    struct response response;

    assert_int_equal(platform_paused(fx, "blog"), 0);
    post(fx, "/v1/platforms/blog/pause", "{\"reason\":\"token rotation\"}",
         &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    assert_int_equal(platform_paused(fx, "blog"), 1);
    assert_int_equal(platform_paused(fx, "notes"), 0);

    post(fx, "/v1/platforms/blog/resume", NULL, &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    assert_int_equal(platform_paused(fx, "blog"), 0);

    post(fx, "/v1/platforms/nope/pause", "{\"reason\":\"x\"}", &response);
    assert_int_equal(response.status, 404);
    response_clear(&response);
    post(fx, "/v1/platforms/blog/pause", "{}", &response);
    assert_int_equal(response.status, 400);
    assert_string_equal(error_field(&response), "reason");
    response_clear(&response);
    post(fx, "/v1/platforms/blog/pause",
         "{\"reason\":\"x\",\"until\":\"2001-01-01T00:00:00Z\"}", &response);
    assert_int_equal(response.status, 400);
    assert_string_equal(error_field(&response), "until");
    response_clear(&response);
}

static void test_audit_query(void **state)
{
    struct fixture *fx = *state;
    struct response response;

    schedule(fx, "post-a", "\"blog\"");
    schedule(fx, "post-b", "\"blog\"");
    get(fx, "/v1/audit?action=accepted&limit=1", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(json_array_size(json_object_get(response.json, "records")),
                     1);
    assert_true(json_is_string(json_object_get(response.json, "next")));
    response_clear(&response);

    get(fx, "/v1/audit?job=post-a", &response);
    assert_int_equal(json_array_size(json_object_get(response.json, "records")),
                     1);
    assert_true(json_is_null(json_object_get(response.json, "next")));
    response_clear(&response);
}

static void test_audit_unknown_action(void **state)
{
    struct fixture *fx = *state;
    struct response response;

    get(fx, "/v1/audit?action=nosuch", &response);
    assert_int_equal(response.status, 400);
    assert_non_null(strstr(error_message(&response), "\"nosuch\""));
    assert_non_null(strstr(error_message(&response), "accepted, publish"));
    assert_non_null(strstr(error_message(&response), "mark_published"));
    response_clear(&response);

    /* A known action that no record carries yet is an empty page. */
    get(fx, "/v1/audit?action=platform_resumed", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(json_array_size(json_object_get(response.json, "records")),
                     0);
    response_clear(&response);
}

static void test_query_not_utf8(void **state)
{
    struct fixture *fx = *state;
    struct response response;

    get(fx, "/v1/entries?contentId=%ff%fe", &response);
    assert_int_equal(response.status, 400);
    assert_non_null(strstr(error_message(&response), "contentId"));
    assert_non_null(strstr(error_message(&response), "not valid UTF-8"));
    response_clear(&response);

    /* Valid UTF-8 still reaches the filter. */
    get(fx, "/v1/entries?contentId=caf%C3%A9", &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
}

static void test_auth_token(void **state)
{
    struct fixture *fx = *state;
    char *body = scheduled_event(NULL, "post-1", "\"blog\"");
    struct call call = {"POST", "/v1/events", NULL, body, 0, NULL, NULL};
    struct response response;

    restart_with_token(fx);

    perform(fx, &call, &response);
    assert_int_equal(response.status, 401);
    assert_non_null(strstr(response.headers, "WWW-Authenticate: Bearer"));
    response_clear(&response);

    call.auth = "Bearer wrong-token-5f1c";
    perform(fx, &call, &response);
    assert_int_equal(response.status, 401);
    response_clear(&response);
    assert_int_equal(count_entries(fx), 0);

    call.auth = "Bearer " TOKEN;
    perform(fx, &call, &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);

    call.auth = NULL;
    call.path = "/e/" TOKEN;
    perform(fx, &call, &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    assert_int_equal(count_entries(fx), 2);

    get(fx, "/v1/entries", &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    free(body);
}

static void test_listen_refused(void **state)
{
    struct fixture *fx = *state;
    struct http_server *server;
    char err[HTTP_SERVER_ERR_MAX] = "";

    free(fx->config.listen);
    fx->config.listen = strdup("0.0.0.0:0");
    server = http_server_start(&fx->config, NULL, err, sizeof err);
    assert_null(server);
    assert_non_null(strstr(err, "token"));

    setenv(TOKEN_VARIABLE, TOKEN, 1);
    free(fx->config.api_token_env);
    fx->config.api_token_env = strdup(TOKEN_VARIABLE);
    server = http_server_start(&fx->config, NULL, err, sizeof err);
    assert_non_null(server);
    http_server_stop(server);
}

static void test_healthz(void **state)
{
    struct fixture *fx = *state;
    struct response response;

    get(fx, "/healthz", &response);
    assert_int_equal(response.status, 200);
    assert_string_equal(
        json_string_value(json_object_get(response.json, "status")), "ok");
    response_clear(&response);

    get(fx, "/nowhere/at/all", &response);
    assert_int_equal(response.status, 404);
    response_clear(&response);
    post(fx, "/healthz", "{}", &response);
    assert_int_equal(response.status, 405);
    assert_non_null(strstr(response.headers, "Allow: GET"));
    response_clear(&response);
}

/* Checks that a sample line is NAME{LABELS} VALUE with a number. */
static void check_sample(const char *line)
{
    const char *space = strrchr(line, ' ');
    char *end;

    assert_non_null(space);
    strtod(space + 1, &end);
    if (*end != '\0' || end == space + 1)
        fail_msg("bad sample value: %s", line);
    assert_true(strncmp(line, "pubq_", 5) == 0);
}

static void test_metrics_format(void **state)
{
    struct fixture *fx = *state;
    struct response response;
    char *line;
    char *save = NULL;
    int families = 0;

    schedule(fx, "post-m", "\"blog\"");
    fail_due_entries(fx);
    get(fx, "/metrics", &response);
    assert_int_equal(response.status, 200);
    assert_non_null(strstr(response.headers, "text/plain; version=0.0.4"));
    assert_non_null(strstr(response.body, "pubq_entries{status=\"failed\","
                                          "platform=\"blog\"} 1\n"));
    assert_non_null(strstr(response.body,
                           "pubq_attempts_total{platform=\"blog\","
                           "outcome=\"permanent\"} 1\n"));
    assert_non_null(strstr(response.body,
                           "pubq_publish_latency_seconds_bucket{platform="
                           "\"blog\",le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(response.body,
                           "pubq_publish_latency_seconds_bucket{platform="
                           "\"blog\",le=\"0.1\"} 0\n"));
    assert_non_null(strstr(response.body,
                           "pubq_publish_latency_seconds_bucket{platform="
                           "\"blog\",le=\"0.25\"} 1\n"));
    assert_non_null(
        strstr(response.body, "pubq_platform_paused{platform=\"notes\"} 0\n"));

    for (line = strtok_r(response.body, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# TYPE ", 7) == 0)
            families++;
        else if (line[0] != '#')
            check_sample(line);
    }
    assert_int_equal(families, 5);
    response_clear(&response);
}

static void test_page_headers(void **state)
{
    struct fixture *fx = *state;
    struct response response;

    get(fx, "/", &response);
    assert_int_equal(response.status, 200);
    assert_non_null(strstr(response.headers, "Content-Type: text/html"));
    assert_non_null(strstr(response.headers,
                           "Content-Security-Policy: default-src 'self'"));
    assert_non_null(strstr(response.headers, "X-Content-Type-Options: "
                                             "nosniff"));
    assert_non_null(strstr(response.headers, "Referrer-Policy: no-referrer"));
    assert_non_null(strstr(response.headers, "Cache-Control: no-cache"));
    response_clear(&response);

    get(fx, "/missing.js", &response);
    assert_int_equal(response.status, 404);
    response_clear(&response);
}

struct stream_reader {
    struct fixture *fx;
    char text[65536];
    size_t size;
    const char *until[2]; /* the transfer ends once both texts arrived */
    int connected;        /* the greeting arrived */
    int found;            /* both `until` texts arrived */
    long status;
};

static size_t on_stream(char *data, size_t size, size_t count, void *arg)
{
    struct stream_reader *reader = arg;
    size_t length = size * count;
    size_t room = sizeof reader->text - reader->size - 1;

    memcpy(reader->text + reader->size, data, length < room ? length : room);
    reader->size += length < room ? length : room;
    reader->text[reader->size] = '\0';

    if (strstr(reader->text, "retry: ") != NULL)
        __atomic_store_n(&reader->connected, 1, __ATOMIC_SEQ_CST);
    if (strstr(reader->text, reader->until[0]) != NULL &&
        strstr(reader->text, reader->until[1]) != NULL) {
        __atomic_store_n(&reader->found, 1, __ATOMIC_SEQ_CST);
        return 0; /* ends the transfer */
    }
    return length;
}

static void *read_stream(void *arg)
{
    struct stream_reader *reader = arg;
    CURL *curl = curl_easy_init();
    char url[128];

    snprintf(url, sizeof url, "%s/v1/stream", reader->fx->base);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reader);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reader->status);
    curl_easy_cleanup(curl);
    return NULL;
}

/* Starts a stream reader thread and waits for its greeting. */
static struct stream_reader *stream_open(struct fixture *fx, const char *one,
                                         const char *two, pthread_t *thread)
{
    struct stream_reader *reader = calloc(1, sizeof *reader);

    assert_non_null(reader);
    reader->fx = fx;
    reader->until[0] = one;
    reader->until[1] = two;
    assert_int_equal(pthread_create(thread, NULL, read_stream, reader), 0);
    for (int i = 0;
         i < 100 && !__atomic_load_n(&reader->connected, __ATOMIC_SEQ_CST); i++)
        usleep(50000);
    assert_true(reader->connected);
    return reader;
}

/* The "all" total of the first counts event in a stream's text, or -1. */
static json_int_t first_counts_total(const char *text)
{
    const char *event = strstr(text, "event: counts\n");
    const char *data = event != NULL ? strstr(event, "data: ") : NULL;
    json_t *counts;
    json_int_t total;

    if (data == NULL)
        return -1;
    counts = json_loadb(data + 6, strcspn(data + 6, "\n"), 0, NULL);
    total = json_integer_value(
        json_object_get(json_object_get(counts, "all"), "total"));
    json_decref(counts);
    return counts != NULL ? total : -1;
}

static void test_stream_entry(void **state)
{
    struct fixture *fx = *state;
    pthread_t thread;
    struct stream_reader *reader = stream_open(
        fx, "event: entry\n", "\"contentId\":\"post-live\"", &thread);

    schedule(fx, "post-live", "\"blog\"");
    pthread_join(thread, NULL);
    assert_int_equal(reader->status, 200);
    assert_true(reader->found);
    assert_non_null(strstr(reader->text, "retry: 2000\n"));
    free(reader);
}

/* The "all" object ends with its total; "platforms" follows it. */
#define ALL_TOTAL_ONE "\"total\":1},\"platforms\""
/* Only counts data nests objects two deep, so only it ends like this. */
#define COUNTS_END "}}}\n\n"

static void test_stream_counts(void **state)
{
    struct fixture *fx = *state;
    pthread_t thread;
    struct stream_reader *reader =
        stream_open(fx, "event: counts\n", ALL_TOTAL_ONE, &thread);
    struct stream_reader *fresh;

    schedule(fx, "post-count", "\"blog\"");
    pthread_join(thread, NULL);
    assert_true(reader->found);
    assert_int_equal(first_counts_total(reader->text), 0);
    free(reader);

    /* A client connecting later starts from the current counts. */
    fresh = stream_open(fx, "event: counts\n", COUNTS_END, &thread);
    pthread_join(thread, NULL);
    assert_true(fresh->found);
    assert_int_equal(first_counts_total(fresh->text), 1);
    free(fresh);
}

/* Replaces stderr with a file, so a test can read what was logged. */
struct log_capture {
    struct fixture *fx;
    const char *path;
};

static void capture_start(struct fixture *fx, struct log_capture *capture)
{
    int fd;

    capture->fx = fx;
    capture->path = test_path(fx->dir, "stderr.log");
    fflush(stderr);
    fx->saved_stderr = dup(STDERR_FILENO);
    assert_true(fx->saved_stderr >= 0);
    fd = open(capture->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
}

/* Restores stderr and returns what was logged; the caller frees it. */
static char *capture_stop(struct log_capture *capture)
{
    FILE *file;
    char *text = calloc(1, 65536);
    size_t size;

    fflush(stderr);
    dup2(capture->fx->saved_stderr, STDERR_FILENO);
    close(capture->fx->saved_stderr);
    capture->fx->saved_stderr = -1;
    assert_non_null(text);
    file = fopen(capture->path, "r");
    assert_non_null(file);
    size = fread(text, 1, 65535, file);
    text[size] = '\0';
    fclose(file);
    fputs(text, stderr);
    return text;
}

static size_t count_text(const char *text, const char *needle)
{
    size_t count = 0;

    for (const char *at = strstr(text, needle); at != NULL;
         at = strstr(at + 1, needle))
        count++;
    return count;
}

static const char *entry_status(struct fixture *fx, int64_t id, char *out,
                                size_t size)
{
    struct response response;
    char path[64];

    snprintf(path, sizeof path, "/v1/entries/%" PRId64, id);
    get(fx, path, &response);
    assert_int_equal(response.status, 200);
    snprintf(out, size, "%s",
             json_string_value(json_object_get(
                 json_object_get(response.json, "entry"), "status")));
    response_clear(&response);
    return out;
}

static void test_post_needs_json(void **state)
{
    struct fixture *fx = *state;
    int64_t id = first_entry(fx, schedule(fx, "post-form", "\"blog\""));
    char path[96];
    char status[32];
    struct call call = {.method = "POST", .path = path, .type = ""};
    struct response response;

    /* An action without a body still needs the JSON type. */
    snprintf(path, sizeof path, "/v1/entries/%" PRId64 "/cancel", id);
    perform(fx, &call, &response);
    assert_int_equal(response.status, 415);
    assert_string_equal(error_field(&response), "Content-Type");
    response_clear(&response);

    /* What a cross-site HTML form sends. */
    call.type = "application/x-www-form-urlencoded";
    call.body = "confirm=1";
    perform(fx, &call, &response);
    assert_int_equal(response.status, 415);
    assert_string_equal(error_field(&response), "Content-Type");
    response_clear(&response);
    assert_string_equal(entry_status(fx, id, status, sizeof status),
                        "pending");

    call.path = "/v1/platforms/blog/resume";
    call.type = "text/plain";
    call.body = NULL;
    perform(fx, &call, &response);
    assert_int_equal(response.status, 415);
    response_clear(&response);

    post(fx, path, NULL, &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    assert_string_equal(entry_status(fx, id, status, sizeof status),
                        "cancelled");
}

/* Sends GET path with the Host header `host`; returns the status. */
static long status_with_host(struct fixture *fx, const char *path,
                             const char *host)
{
    char line[160];
    struct call call = {.method = "GET", .path = path, .extra = line};
    struct response response;
    long status;

    snprintf(line, sizeof line, "Host: %s", host);
    perform(fx, &call, &response);
    status = response.status;
    if (status == 421)
        assert_string_equal(error_field(&response), "Host");
    response_clear(&response);
    return status;
}

static void test_host_checked(void **state)
{
    struct fixture *fx = *state;
    int port = http_server_port(fx->server);
    char host[96];
    char line[160];
    char *body = scheduled_event(NULL, "post-rebind", "\"blog\"");
    struct call call = {.method = "POST", .path = "/v1/events", .body = body,
                        .extra = line};
    struct response response;
    static const char *const good[] = {"localhost", "LOCALHOST", "127.0.0.1",
                                       "[::1]"};

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(host, sizeof host, "%s:%d", good[i], port);
        if (status_with_host(fx, "/v1/entries", host) != 200)
            fail_msg("Host %s was rejected", host);
    }

    /* A DNS rebinding page sends its own name. */
    snprintf(host, sizeof host, "rebind.example.org:%d", port);
    assert_int_equal(status_with_host(fx, "/v1/entries", host), 421);
    assert_int_equal(status_with_host(fx, "/", host), 421);
    assert_int_equal(status_with_host(fx, "/v1/entries", "localhost:1"), 421);
    assert_int_equal(status_with_host(fx, "/v1/entries", "localhost"), 421);
    assert_int_equal(status_with_host(fx, "/v1/entries", "127.0.0.1:"), 421);

    snprintf(line, sizeof line, "Host: %s", host);
    perform(fx, &call, &response);
    assert_int_equal(response.status, 421);
    response_clear(&response);
    assert_int_equal(count_entries(fx), 0);
    free(body);

    restart_with_server(fx, "allowed_hosts = pubq.example.org, "
                            "Queue.Example.org\n");
    port = http_server_port(fx->server);
    assert_int_equal(status_with_host(fx, "/healthz", "pubq.example.org"),
                     200);
    assert_int_equal(
        status_with_host(fx, "/healthz", "queue.example.org:8443"), 200);
    assert_int_equal(status_with_host(fx, "/healthz", "example.org"), 421);
    snprintf(host, sizeof host, "localhost:%d", port);
    assert_int_equal(status_with_host(fx, "/healthz", host), 200);
}

/* Posts to path with one more header line; returns the status. */
static long post_with_header(struct fixture *fx, const char *path,
                             const char *line, const char *field)
{
    struct call call = {.method = "POST", .path = path, .extra = line};
    struct response response;
    long status;

    perform(fx, &call, &response);
    status = response.status;
    if (status == 403)
        assert_string_equal(error_field(&response), field);
    response_clear(&response);
    return status;
}

static void test_cross_site_post(void **state)
{
    struct fixture *fx = *state;
    int64_t id = first_entry(fx, schedule(fx, "post-xsite", "\"blog\""));
    char path[96];
    char origin[96];
    char status[32];
    struct response response;

    snprintf(path, sizeof path, "/v1/entries/%" PRId64 "/cancel", id);
    assert_int_equal(post_with_header(fx, path, "Sec-Fetch-Site: cross-site",
                                      "Sec-Fetch-Site"),
                     403);
    assert_int_equal(post_with_header(fx, path, "Sec-Fetch-Site: same-site",
                                      "Sec-Fetch-Site"),
                     403);
    assert_int_equal(
        post_with_header(fx, path, "Origin: http://evil.example.org", "Origin"),
        403);
    assert_int_equal(post_with_header(fx, path, "Origin: null", "Origin"),
                     403);
    snprintf(origin, sizeof origin, "Origin: http://localhost:%d",
             http_server_port(fx->server));
    assert_int_equal(post_with_header(fx, path, origin, "Origin"), 403);
    assert_string_equal(entry_status(fx, id, status, sizeof status),
                        "pending");

    /* Reading stays open, and the page's own requests pass. */
    get(fx, "/v1/counts", &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);
    assert_int_equal(post_with_header(fx, "/v1/platforms/blog/resume",
                                      "Sec-Fetch-Site: same-origin", NULL),
                     200);
    assert_int_equal(post_with_header(fx, "/v1/platforms/blog/resume",
                                      "Sec-Fetch-Site: none", NULL),
                     200);
    snprintf(origin, sizeof origin, "Origin: %s", fx->base);
    assert_int_equal(post_with_header(fx, path, origin, NULL), 200);
    assert_string_equal(entry_status(fx, id, status, sizeof status),
                        "cancelled");
}

static void test_token_env_unset(void **state)
{
    struct fixture *fx = *state;
    struct http_server *server;
    char err[HTTP_SERVER_ERR_MAX] = "";

    free(fx->config.api_token_env);
    fx->config.api_token_env = strdup(TOKEN_VARIABLE);
    server = http_server_start(&fx->config, NULL, err, sizeof err);
    assert_null(server);
    assert_non_null(strstr(err, TOKEN_VARIABLE " is unset"));
    assert_non_null(strstr(err, "export " TOKEN_VARIABLE "="));
    assert_non_null(strstr(err, "remove api_token_env"));

    setenv(TOKEN_VARIABLE, "", 1);
    server = http_server_start(&fx->config, NULL, err, sizeof err);
    assert_null(server);
    assert_non_null(strstr(err, TOKEN_VARIABLE " is empty"));

    unsetenv(TOKEN_VARIABLE);
    free(fx->config.listen);
    fx->config.listen = strdup("0.0.0.0:0");
    server = http_server_start(&fx->config, NULL, err, sizeof err);
    assert_null(server);
    assert_non_null(strstr(err, TOKEN_VARIABLE " is unset"));
    assert_null(strstr(err, "set api_token_env"));
}

static size_t discard_body(char *data, size_t size, size_t count, void *arg)
{
    (void)data;
    (void)arg;
    return size * count;
}

/* Returns 1 when GET /healthz returns 200 within a second. */
static int healthz_answers(struct fixture *fx)
{
    CURL *curl = curl_easy_init();
    char url[128];
    long status = 0;

    assert_non_null(curl);
    snprintf(url, sizeof url, "%s/healthz", fx->base);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    return status == 200;
}

/* Connects to the server over loopback; returns the socket. */
static int connect_loopback(struct fixture *fx)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    address.sin_port = htons((uint16_t)http_server_port(fx->server));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(
        connect(fd, (struct sockaddr *)&address, sizeof address), 0);
    return fd;
}

/* Connects and sends the start of a request that never ends. */
static int open_idle_connection(struct fixture *fx)
{
    static const char partial[] = "GET /healthz HTTP/1.1\r\nHost: 127";
    int fd = connect_loopback(fx);

    assert_int_equal(send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof partial - 1));
    return fd;
}

#define IDLE_CONNECTIONS 50

/* Sends raw request text; returns the first line of the reply. */
static void raw_exchange(struct fixture *fx, const char *text, char *reply,
                         size_t size)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval timeout = {.tv_sec = 5};
    ssize_t got;

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    address.sin_port = htons((uint16_t)http_server_port(fx->server));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(
        connect(fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL),
                     (ssize_t)strlen(text));
    got = recv(fd, reply, size - 1, 0);
    reply[got > 0 ? got : 0] = '\0';
    close(fd);
}

static void test_idle_connections(void **state)
{
    struct fixture *fx = *state;
    int fds[IDLE_CONNECTIONS];
    struct log_capture capture;
    int64_t start;
    int answered = 0;
    char request[256];
    char reply[1024];
    char *logged;

    restart_with_server(fx, "max_connections = 20\nidle_timeout = 2s\n");
    capture_start(fx, &capture);
    for (size_t i = 0; i < IDLE_CONNECTIONS; i++)
        fds[i] = open_idle_connection(fx);
    usleep(200000);

    /* Every connection slot is taken by an idle request. */
    start = now_ms();
    assert_false(healthz_answers(fx));
    for (int i = 0; i < 60 && !answered; i++) {
        answered = healthz_answers(fx);
        if (!answered)
            usleep(100000);
    }
    assert_true(answered);
    assert_true(now_ms() - start < 6000);

    for (size_t i = 0; i < IDLE_CONNECTIONS; i++)
        close(fds[i]);

    /*
     * Connections over the limit are closed without a message, so a
     * burst of requests that libmicrohttpd always reports checks that
     * its messages are rate-limited.
     */
    snprintf(request, sizeof request,
             "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Content-Length: 99999999999999999999999\r\n\r\n",
             http_server_port(fx->server));
    for (int i = 0; i < 10; i++)
        raw_exchange(fx, request, reply, sizeof reply);
    http_server_stop(fx->server);
    fx->server = NULL;
    logged = capture_stop(&capture);
    assert_true(count_text(logged, "WARN  http: libmicrohttpd") <= 3);
    assert_non_null(strstr(logged, "suppressed"));
    free(logged);
}

/*
 * Sends GET /healthz on fd, a connection to fx's server, and reads
 * for at most 3 s. Returns the bytes read (0 when the server closed the
 * connection first) or -1 on an error such as a reset, and sets
 * *elapsed_ms.
 */
static ssize_t get_healthz_on(struct fixture *fx, int fd, char *reply,
                              size_t size, int64_t *elapsed_ms)
{
    char request[128];
    struct timeval wait = {.tv_sec = 3};
    int64_t start = now_ms();
    int length;
    ssize_t got;

    length = snprintf(request, sizeof request,
                      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                      http_server_port(fx->server));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    if (send(fd, request, (size_t)length, MSG_NOSIGNAL) < 0)
        got = -1;
    else
        got = recv(fd, reply, size - 1, 0);
    reply[got > 0 ? got : 0] = '\0';
    *elapsed_ms = now_ms() - start;
    return got;
}

/*
 * With max_connections keep-alive connections open, one more is closed
 * at once instead of waiting in the backlog for an idle slot to time out.
 */
static void test_connection_over_limit(void **state)
{
    struct fixture *fx = *state;
    int kept[2];
    int over;
    char reply[512];
    int64_t elapsed;
    int answered = 0;
    int64_t start;

    restart_with_server(fx, "max_connections = 2\nidle_timeout = 10s\n");
    for (size_t i = 0; i < 2; i++) {
        kept[i] = connect_loopback(fx);
        assert_true(get_healthz_on(fx, kept[i], reply, sizeof reply, &elapsed) >
                    0);
        if (strstr(reply, "HTTP/1.1 200") == NULL)
            fail_msg("keep-alive connection %zu got: %.200s", i, reply);
    }

    over = connect_loopback(fx);
    assert_true(get_healthz_on(fx, over, reply, sizeof reply, &elapsed) <= 0);
    assert_null(strstr(reply, "HTTP/1.1 200"));
    assert_true(elapsed < 1000);
    close(over);

    /* A slot freed by a client is taken by the next connection at once. */
    close(kept[0]);
    start = now_ms();
    for (int i = 0; i < 20 && !answered; i++) {
        answered = healthz_answers(fx);
        if (!answered)
            usleep(100000);
    }
    assert_true(answered);
    assert_true(now_ms() - start < 3000);
    close(kept[1]);
}

static void test_stream_outlives_idle(void **state)
{
    struct fixture *fx = *state;
    pthread_t thread;
    struct stream_reader *reader;
    struct log_capture capture;
    char *logged;

    restart_with_server(fx, "idle_timeout = 1s\n");
    capture_start(fx, &capture);
    reader = stream_open(fx, "event: entry\n", "\"contentId\":\"post-idle\"",
                         &thread);
    sleep(3);
    schedule(fx, "post-idle", "\"blog\"");
    pthread_join(thread, NULL);
    assert_true(reader->found);
    free(reader);

    /* The client closed its stream: the server notices at its next send. */
    schedule(fx, "post-after", "\"blog\"");
    usleep(1500000);
    http_server_stop(fx->server);
    fx->server = NULL;
    logged = capture_stop(&capture);
    assert_null(strstr(logged, "WARN"));
    free(logged);
}

static void test_head_routes(void **state)
{
    static const char *const paths[] = {"/healthz", "/v1/entries",
                                        "/v1/counts", "/", "/app.js",
                                        "/v1/stream"};
    struct fixture *fx = *state;
    struct call call = {.method = "HEAD"};
    struct response response;

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        call.path = paths[i];
        perform(fx, &call, &response);
        if (response.status != 200)
            fail_msg("HEAD %s: got %ld", paths[i], response.status);
        assert_int_equal(response.size, 0);
        response_clear(&response);
    }

    call.path = "/v1/events";
    perform(fx, &call, &response);
    assert_int_equal(response.status, 405);
    response_clear(&response);
    post(fx, "/v1/counts", "{}", &response);
    assert_int_equal(response.status, 405);
    assert_non_null(strstr(response.headers, "Allow: GET, HEAD\r\n"));
    response_clear(&response);
}

/*
 * libmicrohttpd replies to these itself, with an HTML body that pubq
 * cannot replace (docs/api.md, "Connections"). So only the status codes
 * are checked.
 */
static void test_bad_content_length(void **state)
{
    static const char *const lengths[] = {"99999999999999999999999", "-1",
                                          "ten"};
    static const char *const expected[] = {"HTTP/1.1 413 ", "HTTP/1.1 400 ",
                                           "HTTP/1.1 400 "};
    struct fixture *fx = *state;
    char request[512];
    char reply[4096];

    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        snprintf(request, sizeof request,
                 "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %s\r\n\r\n{}",
                 http_server_port(fx->server), lengths[i]);
        raw_exchange(fx, request, reply, sizeof reply);
        if (strncmp(reply, expected[i], strlen(expected[i])) != 0)
            fail_msg("Content-Length %s: got %.60s", lengths[i], reply);
    }
    assert_int_equal(count_entries(fx), 0);
}

static void test_pause_audit_until(void **state)
{
    struct fixture *fx = *state;
    struct response response;
    json_t *metadata;

    post(fx, "/v1/platforms/blog/pause", "{\"reason\":\"rotation\"}",
         &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);

    get(fx, "/v1/audit?action=platform_paused", &response);
    assert_int_equal(response.status, 200);
    metadata = json_object_get(
        json_array_get(json_object_get(response.json, "records"), 0),
        "metadata");
    assert_non_null(metadata);
    assert_true(json_is_null(json_object_get(metadata, "until")));
    response_clear(&response);
}

#define HTTP_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        HTTP_TEST(test_events_reject),
        HTTP_TEST(test_events_error_details),
        HTTP_TEST(test_events_nul_character),
        HTTP_TEST(test_events_too_large),
        HTTP_TEST(test_events_store),
        HTTP_TEST(test_events_idempotent),
        HTTP_TEST(test_events_burst),
        HTTP_TEST(test_inngest_reply),
        HTTP_TEST(test_inngest_errors),
        HTTP_TEST(test_inngest_meta),
        HTTP_TEST(test_inngest_seed),
        HTTP_TEST(test_events_cancel_reschedule),
        HTTP_TEST(test_cancel_claimed_ahead),
        HTTP_TEST(test_events_replay_reschedule),
        HTTP_TEST(test_events_platform_retries),
        HTTP_TEST(test_entries_pages),
        HTTP_TEST(test_entries_bad_query),
        HTTP_TEST(test_entry_detail),
        HTTP_TEST(test_entry_actions),
        HTTP_TEST(test_mark_published),
        HTTP_TEST(test_platforms_pause),
        HTTP_TEST(test_audit_query),
        HTTP_TEST(test_audit_unknown_action),
        HTTP_TEST(test_query_not_utf8),
        HTTP_TEST(test_auth_token),
        HTTP_TEST(test_listen_refused),
        HTTP_TEST(test_healthz),
        HTTP_TEST(test_metrics_format),
        HTTP_TEST(test_page_headers),
        HTTP_TEST(test_stream_entry),
        HTTP_TEST(test_stream_counts),
        HTTP_TEST(test_post_needs_json),
        HTTP_TEST(test_host_checked),
        HTTP_TEST(test_cross_site_post),
        HTTP_TEST(test_token_env_unset),
        HTTP_TEST(test_idle_connections),
        HTTP_TEST(test_connection_over_limit),
        HTTP_TEST(test_stream_outlives_idle),
        HTTP_TEST(test_head_routes),
        HTTP_TEST(test_bad_content_length),
        HTTP_TEST(test_pause_audit_until),
    };
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
