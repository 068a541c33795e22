/*
 * The CLI's client of the daemon's HTTP API, used when --url or
 * $PUBQ_URL is given: one request per call with libcurl, and the
 * conversion of API objects back into the store's structs, so that the
 * commands print exactly what they print when reading the database.
 */
#ifndef PUBQ_CLI_HTTP_CLIENT_H
#define PUBQ_CLI_HTTP_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#include "cli/cli.h"
#include "intake/intake.h"
#include "store/store.h"

/* One finished request: the HTTP status and the parsed JSON reply. */
struct cli_http_reply {
    long status;
    json_t *json; /* NULL when the reply was not JSON */
};

/*
 * Sends METHOD to cli->url + path, with `body` as JSON when not NULL and
 * the API token when one is set (the variable named by api_token_env in
 * the configuration, else $PUBQ_API_TOKEN). Returns 0 with *reply
 * filled (any status), or -1 after printing why the daemon could not be
 * reached. cli_http_reply_clear frees the reply.
 */
int cli_http_request(struct cli *cli, const char *method, const char *path,
                     const char *body, struct cli_http_reply *reply);

void cli_http_reply_clear(struct cli_http_reply *reply);

/* Returns the error message of an error reply, or a generic text. */
const char *cli_http_error_message(const struct cli_http_reply *reply);

/* Returns the error field of an error reply, or "". */
const char *cli_http_error_field(const struct cli_http_reply *reply);

/*
 * Converters from the API's JSON: each returns 0, or -1 when a field is
 * missing or of the wrong type. entry and attempt have no heap parts;
 * job->content_json and audit metadata_json are heap strings that
 * job_clear and audit_list_free free.
 */
int cli_http_entry(const json_t *object, struct entry *entry);
int cli_http_entry_list(const json_t *array, struct entry_list *list);
int cli_http_attempt_list(const json_t *array, struct attempt_list *list);
int cli_http_job(const json_t *object, struct job *job);
int cli_http_audit_list(const json_t *array, struct audit_list *list);

/*
 * Builds a publishing.scheduled event for a validated job, with the
 * content as JSON and the time as RFC 3339. Returns a new reference or
 * NULL when out of memory.
 */
json_t *cli_http_event_of_job(const struct intake_job *job);

/*
 * Fills `config` with the daemon's platforms (name, type, max_retries)
 * from GET /v1/platforms, so that rows can be checked locally by the
 * same intake as on the daemon. Returns 0, or -1 after printing why.
 * config_free releases it.
 */
int cli_http_platforms(struct cli *cli, struct pubq_config *config);

#endif
