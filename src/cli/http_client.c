/* The CLI's HTTP client: requests with libcurl easy, JSON to structs. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/http_client.h"
#include "core/timestamp.h"

#include "util/banned.h"

#define REPLY_MAX (64 * 1024 * 1024)
#define REQUEST_TIMEOUT_S 60L

struct buffer {
    char *data;
    size_t size;
};

static size_t on_data(char *data, size_t size, size_t count, void *arg)
{
    struct buffer *buffer = arg;
    size_t length = size * count;
    char *grown;

    if (buffer->size + length > REPLY_MAX)
        return 0;
    grown = realloc(buffer->data, buffer->size + length + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + buffer->size, data, length);
    buffer->data = grown;
    buffer->size += length;
    buffer->data[buffer->size] = '\0';
    return length;
}

static const char *api_token(const struct cli *cli)
{
    const char *name = cli->config_loaded ? cli->config.api_token_env : NULL;
    const char *token = name != NULL ? getenv(name) : NULL;

    if (token == NULL || token[0] == '\0')
        token = getenv("PUBQ_API_TOKEN");
    return token != NULL && token[0] != '\0' ? token : NULL;
}

/* The daemon rejects a POST without the JSON type, even with no body. */
static struct curl_slist *request_headers(const struct cli *cli,
                                          const char *method, const char *body)
{
    struct curl_slist *headers = NULL;
    const char *token = api_token(cli);
    char line[1024];

    headers = curl_slist_append(headers, "Accept: application/json");
    if (body != NULL || strcmp(method, "POST") == 0)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    if (token != NULL) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, line);
    }
    return headers;
}

static CURLcode perform(struct cli *cli, CURL *curl, const char *method,
                        const char *path, const char *body,
                        struct buffer *buffer)
{
    size_t length = strlen(cli->url);
    char *url = malloc(length + strlen(path) + 1);
    struct curl_slist *headers = request_headers(cli, method, body);
    CURLcode rc;

    if (url == NULL)
        return CURLE_OUT_OF_MEMORY;
    /* "http://host:8080/" and "http://host:8080" name the same daemon. */
    while (length > 0 && cli->url[length - 1] == '/')
        length--;
    memcpy(url, cli->url, length);
    memcpy(url + length, path, strlen(path) + 1);

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, buffer);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)strlen(body));
    }

    rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    free(url);
    return rc;
}

int cli_http_request(struct cli *cli, const char *method, const char *path,
                     const char *body, struct cli_http_reply *reply)
{
    CURL *curl = curl_easy_init();
    struct buffer buffer = {0};
    CURLcode rc;

    memset(reply, 0, sizeof *reply);
    if (curl == NULL) {
        cli_error("cannot reach %s: libcurl failed to start", cli->shown_url);
        return -1;
    }

    rc = perform(cli, curl, method, path, body, &buffer);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        cli_error("cannot reach %s: %s; check --url and that pubq serve "
                  "is running",
                  cli->shown_url, curl_easy_strerror(rc));
        free(buffer.data);
        return -1;
    }

    if (buffer.data != NULL)
        reply->json = json_loads(buffer.data, 0, NULL);
    free(buffer.data);
    return 0;
}

void cli_http_reply_clear(struct cli_http_reply *reply)
{
    json_decref(reply->json);
    memset(reply, 0, sizeof *reply);
}

const char *cli_http_error_message(const struct cli_http_reply *reply)
{
    const char *message = json_string_value(
        json_object_get(json_object_get(reply->json, "error"), "message"));

    return message != NULL ? message : "unexpected reply from the daemon";
}

const char *cli_http_error_field(const struct cli_http_reply *reply)
{
    const char *field = json_string_value(
        json_object_get(json_object_get(reply->json, "error"), "field"));

    return field != NULL ? field : "";
}

/* Reads an RFC 3339 time or null (0). Returns 0 or -1. */
static int read_time(const json_t *object, const char *key, int64_t *ms)
{
    const json_t *value = json_object_get(object, key);
    char err[128];

    *ms = 0;
    if (value == NULL || json_is_null(value))
        return 0;
    if (!json_is_string(value))
        return -1;
    return timestamp_parse(json_string_value(value), NULL, ms, err, sizeof err);
}

/* Copies a string or null ("") into dst. */
static void read_text(const json_t *object, const char *key, char *dst,
                      size_t size)
{
    const char *text = json_string_value(json_object_get(object, key));

    snprintf(dst, size, "%s", text != NULL ? text : "");
}

static int64_t read_int(const json_t *object, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(object, key));
}

static int read_entry_times(const json_t *object, struct entry *entry)
{
    return read_time(object, "scheduledAt", &entry->scheduled_at) |
           read_time(object, "dueAt", &entry->due_at) |
           read_time(object, "leaseExpiresAt", &entry->lease_expires_at) |
           read_time(object, "publishedAt", &entry->published_at) |
           read_time(object, "createdAt", &entry->created_at) |
           read_time(object, "updatedAt", &entry->updated_at);
}

int cli_http_entry(const json_t *object, struct entry *entry)
{
    memset(entry, 0, sizeof *entry);
    if (!json_is_object(object) ||
        entry_status_parse(json_string_value(json_object_get(object, "status")),
                           &entry->status) != 0)
        return -1;

    entry->id = read_int(object, "id");
    entry->job_id = read_int(object, "jobId");
    read_text(object, "contentId", entry->content_id, sizeof entry->content_id);
    read_text(object, "platform", entry->platform, sizeof entry->platform);
    entry->retry_count = (uint32_t)read_int(object, "retryCount");
    entry->max_retries = (uint32_t)read_int(object, "maxRetries");
    entry->attempt_count = (uint32_t)read_int(object, "attemptCount");
    entry->rate_limit_waited_ms = read_int(object, "rateLimitWaitedMs");
    read_text(object, "idempotencyKey", entry->idempotency_key,
              sizeof entry->idempotency_key);
    read_text(object, "leaseNode", entry->lease_node, sizeof entry->lease_node);
    read_text(object, "postId", entry->post_id, sizeof entry->post_id);
    read_text(object, "postUrl", entry->post_url, sizeof entry->post_url);
    read_text(object, "lastError", entry->last_error, sizeof entry->last_error);
    read_text(object, "failReason", entry->fail_reason,
              sizeof entry->fail_reason);
    return read_entry_times(object, entry) == 0 ? 0 : -1;
}

int cli_http_entry_list(const json_t *array, struct entry_list *list)
{
    size_t count = json_array_size(array);

    list->count = 0;
    list->items = calloc(count + 1, sizeof *list->items);
    if (!json_is_array(array) || list->items == NULL)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (cli_http_entry(json_array_get(array, i), &list->items[i]) != 0)
            return -1;
        list->count = i + 1;
    }
    return 0;
}

static int read_attempt(const json_t *object, struct attempt *attempt)
{
    const char *outcome = json_string_value(json_object_get(object, "outcome"));

    memset(attempt, 0, sizeof *attempt);
    if (!json_is_object(object))
        return -1;
    attempt->id = read_int(object, "id");
    attempt->number = (uint32_t)read_int(object, "number");
    attempt->finished = json_is_true(json_object_get(object, "finished"));
    attempt->outcome = OUTCOME_UNKNOWN;
    if (outcome != NULL && outcome_parse(outcome, &attempt->outcome) != 0)
        return -1;
    attempt->http_status = (int)read_int(object, "httpStatus");
    attempt->latency_ms = read_int(object, "latencyMs");
    read_text(object, "node", attempt->node, sizeof attempt->node);
    read_text(object, "error", attempt->error, sizeof attempt->error);
    return read_time(object, "startedAt", &attempt->started_at) |
           read_time(object, "endedAt", &attempt->ended_at);
}

int cli_http_attempt_list(const json_t *array, struct attempt_list *list)
{
    size_t count = json_array_size(array);

    list->count = 0;
    list->items = calloc(count + 1, sizeof *list->items);
    if (!json_is_array(array) || list->items == NULL)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (read_attempt(json_array_get(array, i), &list->items[i]) != 0)
            return -1;
        list->count = i + 1;
    }
    return 0;
}

int cli_http_job(const json_t *object, struct job *job)
{
    memset(job, 0, sizeof *job);
    if (!json_is_object(object))
        return -1;
    job->id = read_int(object, "id");
    read_text(object, "contentId", job->content_id, sizeof job->content_id);
    read_text(object, "eventId", job->event_id, sizeof job->event_id);
    /* Intake stores content with sorted keys; the same flags give it back. */
    job->content_json = json_dumps(json_object_get(object, "content"),
                                   JSON_COMPACT | JSON_SORT_KEYS);
    if (job->content_json == NULL)
        return -1;
    return read_time(object, "scheduledAt", &job->scheduled_at) |
           read_time(object, "createdAt", &job->created_at);
}

static int read_audit(const json_t *object, struct audit_record *record)
{
    const json_t *metadata = json_object_get(object, "metadata");

    memset(record, 0, sizeof *record);
    if (!json_is_object(object))
        return -1;
    record->id = read_int(object, "id");
    record->entry_id = read_int(object, "entryId");
    read_text(object, "agentName", record->agent_name,
              sizeof record->agent_name);
    read_text(object, "action", record->action, sizeof record->action);
    read_text(object, "jobId", record->job_id, sizeof record->job_id);
    read_text(object, "platform", record->platform, sizeof record->platform);
    read_text(object, "status", record->status, sizeof record->status);
    /* The store writes metadata compact, keys in insertion order. */
    if (metadata != NULL && !json_is_null(metadata))
        record->metadata_json =
            json_dumps(metadata, JSON_COMPACT | JSON_ENCODE_ANY);
    return read_time(object, "at", &record->at);
}

int cli_http_audit_list(const json_t *array, struct audit_list *list)
{
    size_t count = json_array_size(array);

    list->count = 0;
    list->items = calloc(count + 1, sizeof *list->items);
    if (!json_is_array(array) || list->items == NULL)
        return -1;
    for (size_t i = 0; i < count; i++) {
        list->count = i + 1;
        if (read_audit(json_array_get(array, i), &list->items[i]) != 0)
            return -1;
    }
    return 0;
}

json_t *cli_http_event_of_job(const struct intake_job *job)
{
    char at[TIMESTAMP_MAX];
    json_t *platforms = json_array();
    json_t *content = json_loads(job->content_json, 0, NULL);

    for (size_t i = 0; platforms != NULL && i < job->platform_count; i++)
        json_array_append_new(platforms, json_string(job->platforms[i]));
    if (timestamp_format(job->scheduled_at, at, sizeof at) != 0)
        at[0] = '\0';

    return json_pack(
        "{s:s, s:o, s:{s:s, s:o, s:s, s:o}}", "name", "publishing.scheduled",
        "id", job->event_id != NULL ? json_string(job->event_id) : json_null(),
        "data", "contentItemId", job->content_id, "platforms", platforms,
        "scheduledAt", at, "content", content);
}

static int add_platform(struct pubq_config *config, const json_t *item)
{
    struct platform_config *platform =
        &config->platforms[config->platform_count];
    const char *name = json_string_value(json_object_get(item, "name"));
    const char *type = json_string_value(json_object_get(item, "type"));

    if (name == NULL || type == NULL)
        return -1;
    memset(platform, 0, sizeof *platform);
    platform->name = strdup(name);
    platform->type = strdup(type);
    platform->max_retries = (uint32_t)read_int(item, "maxRetries");
    platform->concurrency = (uint32_t)read_int(item, "concurrency");
    config->platform_count++;
    return platform->name != NULL && platform->type != NULL ? 0 : -1;
}

int cli_http_platforms(struct cli *cli, struct pubq_config *config)
{
    struct cli_http_reply reply;
    const json_t *list;
    size_t index;
    const json_t *item;
    int status = -1;

    if (config_init_defaults(config) != 0) {
        cli_error("cannot read the platforms: out of memory");
        return -1;
    }
    if (cli_http_request(cli, "GET", "/v1/platforms", NULL, &reply) != 0)
        return -1;

    list = json_object_get(reply.json, "platforms");
    config->platforms =
        calloc(json_array_size(list) + 1, sizeof *config->platforms);
    if (reply.status != 200 || config->platforms == NULL) {
        cli_error("cannot read the platforms from %s: %s", cli->shown_url,
                  cli_http_error_message(&reply));
        goto done;
    }
    json_array_foreach(list, index, item)
    {
        if (add_platform(config, item) != 0) {
            cli_error("cannot read the platforms from %s: unexpected "
                      "reply",
                      cli->shown_url);
            goto done;
        }
    }
    status = 0;
done:
    cli_http_reply_clear(&reply);
    return status;
}
