/* The commands' reads and writes over the daemon's HTTP API. */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/http_client.h"
#include "cli/remote.h"
#include "core/timestamp.h"

#include "util/banned.h"

#define PATH_MAX_BYTES 2048

const struct pubq_config *remote_intake_config(struct cli *cli)
{
    if (cli->url == NULL)
        return &cli->config;
    if (!cli->remote_config_loaded) {
        if (cli_http_platforms(cli, &cli->remote_config) != 0) {
            config_free(&cli->remote_config);
            return NULL;
        }
        cli->remote_config_loaded = 1;
    }
    return &cli->remote_config;
}

/* Appends "&name=value" (value URL-encoded) to path when value is set. */
static void add_text(char *path, const char *name, const char *value)
{
    size_t used = strlen(path);
    char *escaped;

    if (value == NULL)
        return;
    escaped = curl_easy_escape(NULL, value, 0);
    if (escaped == NULL)
        return;
    snprintf(path + used, PATH_MAX_BYTES - used, "%s%s=%s",
             strchr(path, '?') != NULL ? "&" : "?", name, escaped);
    curl_free(escaped);
}

static void add_number(char *path, const char *name, int64_t value)
{
    char text[24];

    if (value == 0)
        return;
    snprintf(text, sizeof text, "%" PRId64, value);
    add_text(path, name, text);
}

static void add_time(char *path, const char *name, int64_t ms)
{
    char text[TIMESTAMP_MAX];

    if (ms != 0 && timestamp_format(ms, text, sizeof text) == 0)
        add_text(path, name, text);
}

/* GETs path and checks for 200 and a JSON reply; prints `what` else. */
static int get_json(struct cli *cli, const char *path, const char *what,
                    struct cli_http_reply *reply)
{
    if (cli_http_request(cli, "GET", path, NULL, reply) != 0)
        return -1;
    if (reply->status == 200 && reply->json != NULL)
        return 0;

    cli_error("%s: %s", what, cli_http_error_message(reply));
    cli_http_reply_clear(reply);
    return -1;
}

int remote_list_entries(struct cli *cli, const struct entry_filter *filter,
                        struct entry_list *list)
{
    char path[PATH_MAX_BYTES] = "/v1/entries";
    struct cli_http_reply reply;
    int status;

    if (filter->has_status)
        add_text(path, "status", entry_status_name(filter->status));
    add_text(path, "platform", filter->platform);
    add_text(path, "contentId", filter->content_id);
    add_number(path, "jobId", filter->job_id);
    add_number(path, "before", filter->before_id);
    add_number(path, "limit", (int64_t)filter->limit);
    if (get_json(cli, path, "cannot list entries", &reply) != 0)
        return -1;

    status = cli_http_entry_list(json_object_get(reply.json, "entries"), list);
    cli_http_reply_clear(&reply);
    if (status != 0) {
        entry_list_free(list);
        cli_error("cannot list entries: unexpected reply from %s",
                  cli->shown_url);
    }
    return status;
}

static int not_found(int64_t id)
{
    cli_error("entry not found: %" PRId64 "; find ids with pubq list", id);
    return -1;
}

int remote_entry_detail(struct cli *cli, int64_t id, struct entry *entry,
                        struct attempt_list *attempts, struct job *job)
{
    char path[64];
    char what[64];
    struct cli_http_reply reply;
    int status;

    snprintf(path, sizeof path, "/v1/entries/%" PRId64, id);
    snprintf(what, sizeof what, "cannot read entry %" PRId64, id);
    if (cli_http_request(cli, "GET", path, NULL, &reply) != 0)
        return -1;
    if (reply.status == 404) {
        cli_http_reply_clear(&reply);
        return not_found(id);
    }
    if (reply.status != 200) {
        cli_error("%s: %s", what, cli_http_error_message(&reply));
        cli_http_reply_clear(&reply);
        return -1;
    }

    status = cli_http_entry(json_object_get(reply.json, "entry"), entry) |
             cli_http_attempt_list(json_object_get(reply.json, "attempts"),
                                   attempts) |
             cli_http_job(json_object_get(reply.json, "job"), job);
    cli_http_reply_clear(&reply);
    if (status != 0) {
        attempt_list_free(attempts);
        job_clear(job);
        cli_error("%s: unexpected reply from %s", what, cli->shown_url);
        return -1;
    }
    return 0;
}

int remote_entry_action(struct cli *cli, const char *action, const char *verb,
                        int64_t id, struct entry *entry)
{
    char path[96];
    struct cli_http_reply reply;
    int status = -1;

    snprintf(path, sizeof path, "/v1/entries/%" PRId64 "/%s", id, action);
    if (cli_http_request(cli, "POST", path, NULL, &reply) != 0)
        return -1;

    if (reply.status == 404)
        not_found(id);
    else if (reply.status == 409)
        cli_error("%s", cli_http_error_message(&reply));
    else if (reply.status != 200)
        cli_error("cannot %s entry %" PRId64 ": %s", verb, id,
                  cli_http_error_message(&reply));
    else if (cli_http_entry(json_object_get(reply.json, "entry"), entry) != 0)
        cli_error("cannot %s entry %" PRId64 ": unexpected reply from %s", verb,
                  id, cli->shown_url);
    else
        status = 0;
    cli_http_reply_clear(&reply);
    return status;
}

int remote_list_audit(struct cli *cli, const struct audit_filter *filter,
                      struct audit_list *list)
{
    char path[PATH_MAX_BYTES] = "/v1/audit";
    struct cli_http_reply reply;
    int status;

    add_text(path, "job", filter->job_id);
    add_text(path, "action", filter->action);
    add_text(path, "platform", filter->platform);
    add_time(path, "from", filter->from);
    add_time(path, "to", filter->to);
    add_number(path, "before", filter->before_id);
    add_number(path, "limit", (int64_t)filter->limit);
    if (get_json(cli, path, "cannot read the audit log", &reply) != 0)
        return -1;

    status = cli_http_audit_list(json_object_get(reply.json, "records"), list);
    cli_http_reply_clear(&reply);
    if (status != 0) {
        audit_list_free(list);
        cli_error("cannot read the audit log: unexpected reply from %s",
                  cli->shown_url);
    }
    return status;
}

static char *events_body(const struct intake_job *jobs, size_t count)
{
    json_t *events = json_array();
    char *body;

    for (size_t i = 0; events != NULL && i < count; i++)
        json_array_append_new(events, cli_http_event_of_job(&jobs[i]));
    body = events != NULL ? json_dumps(events, JSON_COMPACT) : NULL;
    json_decref(events);
    return body;
}

static int64_t read_job_id(const json_t *event)
{
    return (int64_t)json_integer_value(json_object_get(event, "jobId"));
}

static int read_results(const json_t *events, size_t count,
                        struct submit_result *results)
{
    if (json_array_size(events) != count)
        return -1;
    for (size_t i = 0; i < count; i++) {
        const json_t *event = json_array_get(events, i);

        results[i].job_id = read_job_id(event);
        results[i].duplicate =
            json_is_true(json_object_get(event, "duplicate"));
        if (results[i].job_id <= 0 && !results[i].duplicate)
            return -1;
    }
    return 0;
}

int remote_submit_jobs(struct cli *cli, const struct intake_job *jobs,
                       size_t count, struct submit_result *results, char *err,
                       size_t errlen)
{
    char *body = events_body(jobs, count);
    struct cli_http_reply reply;
    int status = -1;

    if (body == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cli_http_request(cli, "POST", "/v1/events", body, &reply) != 0) {
        free(body);
        snprintf(err, errlen, "the daemon at %s could not be reached",
                 cli->shown_url);
        return -1;
    }
    free(body);

    if (reply.status != 200)
        snprintf(err, errlen, "%s%s%s", cli_http_error_field(&reply),
                 cli_http_error_field(&reply)[0] != '\0' ? ": " : "",
                 cli_http_error_message(&reply));
    else if (read_results(json_object_get(reply.json, "events"), count,
                          results) != 0)
        snprintf(err, errlen, "unexpected reply from %s", cli->shown_url);
    else
        status = 0;
    cli_http_reply_clear(&reply);
    return status;
}

int remote_job_entries(struct cli *cli, int64_t job_id, struct entry_list *list)
{
    char path[64];
    struct cli_http_reply reply;
    int status;

    snprintf(path, sizeof path, "/v1/jobs/%" PRId64, job_id);
    if (get_json(cli, path, "cannot read the job", &reply) != 0)
        return -1;
    status = cli_http_entry_list(json_object_get(reply.json, "entries"), list);
    cli_http_reply_clear(&reply);
    if (status != 0)
        entry_list_free(list);
    return status;
}
