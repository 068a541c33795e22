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

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
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

static void write_config(const char *dir, const char *path)
{
    char text[2048];

    snprintf(text, sizeof text,
             "[server]\n"
             "listen = 127.0.0.1:8080\n"
             "[database]\n"
             "url = %s/pubq.db\n"
             "[platform blog]\n"
             "type = file\n"
             "path = %s/blog.jsonl\n"
             "[platform notes]\n"
             "type = file\n"
             "path = %s/notes.jsonl\n"
             "[platform masto]\n"
             "type = mastodon\n",
             dir, dir, dir);
    test_write_file(path, text);
}

static void load_config(struct fixture *fx)
{
    const char *path = test_path(fx->dir, "pubq.conf");
    char err[CONFIG_ERR_MAX];

    write_config(fx->dir, path);
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
    unsetenv(TOKEN_VARIABLE);
    load_config(fx);
    open_store(fx);
    start_server(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

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
    const char *type; /* Content-Type, or NULL for application/json */
    const char *body; /* NULL: no body */
    size_t size;      /* 0: strlen(body) */
    const char *auth; /* Authorization header, or NULL */
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

    if (call->body != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s",
                 call->type != NULL ? call->type : "application/json");
        headers = curl_slist_append(headers, line);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(
            curl, CURLOPT_POSTFIELDSIZE_LARGE,
            (curl_off_t)(call->size != 0 ? call->size : strlen(call->body)));
    }
    if (call->auth != NULL) {
        snprintf(line, sizeof line, "Authorization: %s", call->auth);
        headers = curl_slist_append(headers, line);
    }
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
    struct call call = {"GET", path, NULL, NULL, 0, NULL};

    perform(fx, &call, out);
}

static void post(struct fixture *fx, const char *path, const char *body,
                 struct response *out)
{
    struct call call = {"POST", path, NULL, body, 0, NULL};

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
        struct call call = {"POST", "/v1/events", c->type, c->body, 0, NULL};
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

static void test_events_too_large(void **state)
{
    struct fixture *fx = *state;
    size_t size = 10 * 1024 * 1024;
    char *body = malloc(size);
    struct call call = {"POST", "/v1/events", NULL, body, size, NULL};
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

static void test_events_cancel_reschedule(void **state)
{
    struct fixture *fx = *state;
    struct response response;
    struct entry_list list = {0};
    struct entry_filter filter = {.content_id = "post-9"};

    schedule(fx, "post-9", "\"blog\",\"notes\"");
    post(fx, "/v1/events",
         "{\"name\":\"publishing.rescheduled\",\"data\":{\"contentItemId\":"
         "\"post-9\",\"scheduledAt\":\"2099-01-01T00:00:00Z\"}}",
         &response);
    assert_int_equal(response.status, 200);
    response_clear(&response);

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
    struct entry_list claimed = {0};
    int64_t now = now_ms();

    assert_int_equal(
        fx->store->ops->claim_due(fx->store, NODE, now, 60000, 100, &claimed),
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

static void test_auth_token(void **state)
{
    struct fixture *fx = *state;
    char *body = scheduled_event(NULL, "post-1", "\"blog\"");
    struct call call = {"POST", "/v1/events", NULL, body, 0, NULL};
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
    int connected; /* the greeting arrived */
    int found;     /* an entry event for post-live arrived */
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
    if (strstr(reader->text, "event: entry\n") != NULL &&
        strstr(reader->text, "\"contentId\":\"post-live\"") != NULL) {
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

static void test_stream_entry(void **state)
{
    struct fixture *fx = *state;
    struct stream_reader *reader = calloc(1, sizeof *reader);
    pthread_t thread;

    assert_non_null(reader);
    reader->fx = fx;
    assert_int_equal(pthread_create(&thread, NULL, read_stream, reader), 0);
    for (int i = 0;
         i < 100 && !__atomic_load_n(&reader->connected, __ATOMIC_SEQ_CST); i++)
        usleep(50000);
    assert_true(reader->connected);

    schedule(fx, "post-live", "\"blog\"");
    pthread_join(thread, NULL);
    assert_int_equal(reader->status, 200);
    assert_true(reader->found);
    assert_non_null(strstr(reader->text, "retry: 2000\n"));
    free(reader);
}

#define HTTP_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        HTTP_TEST(test_events_reject),
        HTTP_TEST(test_events_error_details),
        HTTP_TEST(test_events_too_large),
        HTTP_TEST(test_events_store),
        HTTP_TEST(test_events_idempotent),
        HTTP_TEST(test_inngest_reply),
        HTTP_TEST(test_events_cancel_reschedule),
        HTTP_TEST(test_entries_pages),
        HTTP_TEST(test_entries_bad_query),
        HTTP_TEST(test_entry_detail),
        HTTP_TEST(test_entry_actions),
        HTTP_TEST(test_mark_published),
        HTTP_TEST(test_platforms_pause),
        HTTP_TEST(test_audit_query),
        HTTP_TEST(test_auth_token),
        HTTP_TEST(test_listen_refused),
        HTTP_TEST(test_healthz),
        HTTP_TEST(test_metrics_format),
        HTTP_TEST(test_page_headers),
        HTTP_TEST(test_stream_entry),
    };
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
