/*
 * The parts of the event intake that follow the Inngest event API as the
 * Inngest SDK uses it (the `inngest` npm package, read in 4.24.0): the
 * error shape of POST /e/{event-key} and the retry seed header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_events.h"

#include "util/banned.h"

#define SEED_MAX_BYTES 100

int http_inngest_path(const char *path)
{
    return strncmp(path, "/e/", 3) == 0;
}

/* "field: message", or the message alone when the field is null. */
static json_t *error_text(const json_t *error)
{
    const char *field = json_string_value(json_object_get(error, "field"));
    const char *message = json_string_value(json_object_get(error, "message"));
    char text[1400];

    if (message == NULL)
        message = "unknown error";
    if (field == NULL)
        return json_string(message);
    snprintf(text, sizeof text, "%s: %s", field, message);
    return json_string(text);
}

/*
 * The SDK reads only "ids", "status" and a string "error" from a reply.
 * For any other body it shows a fixed text per status code, such as
 * "Cannot process event payload" for 400.
 */
void http_reply_inngest_error(struct http_reply *reply)
{
    struct http_header headers[HTTP_HEADER_MAX];
    size_t header_count = reply->header_count;
    unsigned int status = reply->status;
    const char *body =
        reply->body != NULL ? reply->body : (const char *)reply->static_body;
    json_t *root;
    json_t *error;

    if (status < 400 || reply->response != NULL || body == NULL)
        return;
    root = json_loadb(body, reply->size, 0, NULL);
    error = json_object_get(root, "error");
    if (!json_is_object(error)) {
        json_decref(root);
        return;
    }

    memcpy(headers, reply->headers, sizeof headers);
    http_reply_json(reply, status,
                    json_pack("{s:[], s:i, s:o}", "ids", "status", (int)status,
                              "error", error_text(error)));
    json_decref(root);
    memcpy(reply->headers, headers, sizeof headers);
    reply->header_count = header_count;
}

/* Visible ASCII only, so the seed is safe in ids, logs and the page. */
static int seed_is_valid(const char *seed)
{
    size_t length = strlen(seed);

    if (length == 0 || length > SEED_MAX_BYTES)
        return 0;
    for (size_t i = 0; i < length; i++) {
        if (seed[i] < 0x21 || seed[i] > 0x7e)
            return 0;
    }
    return 1;
}

int http_inngest_seed(struct http_request *request, const char **seed,
                      struct http_reply *reply)
{
    const char *value = MHD_lookup_connection_value(
        request->connection, MHD_HEADER_KIND, HTTP_INNGEST_SEED_HEADER);

    *seed = NULL;
    if (value == NULL)
        return 0;
    if (!seed_is_valid(value)) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, HTTP_INNGEST_SEED_HEADER,
                         "invalid %s \"%.120s\": use 1 to %d visible ASCII "
                         "characters, such as the "
                         "\"MILLISECONDS,BASE64\" the Inngest SDK sends, "
                         "or leave the header out",
                         HTTP_INNGEST_SEED_HEADER, value, SEED_MAX_BYTES);
        return -1;
    }
    *seed = value;
    return 0;
}

char *http_inngest_seed_id(const char *seed, size_t index)
{
    size_t size = strlen(seed) + 48;
    char *id = malloc(size);

    if (id != NULL)
        snprintf(id, size, "inngest-seed:%s:%zu", seed, index);
    return id;
}
