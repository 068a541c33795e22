/*
 * Query parameters and path ids: every value is checked, and a bad one
 * gets a 400 reply that names the parameter and the expected form. An
 * empty value ("?status=") counts as absent, as HTML forms send it. A
 * parameter given twice and a value with a control character (%00,
 * %0A, ...) are rejected, because libmicrohttpd would hand on only one
 * of the values, or the value cut at the NUL. A value that is not valid
 * UTF-8 (%FF) is rejected too, because no stored text can match it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/timestamp.h"
#include "http/http_internal.h"

#include "util/banned.h"

#define QUERY_NAMES_MAX 32 /* names in one `known` list */

enum query_problem {
    QUERY_OK,
    QUERY_UNKNOWN,
    QUERY_REPEATED,
    QUERY_CONTROL,
    QUERY_NOT_UTF8,
};

struct name_check {
    const char *const *known;
    unsigned char seen[QUERY_NAMES_MAX];
    enum query_problem problem;
    const char *name; /* the parameter with the problem */
};

static int has_control(const char *value, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        unsigned char byte = (unsigned char)value[i];

        if (byte < 0x20 || byte == 0x7f)
            return 1;
    }
    return 0;
}

static int is_utf8(const char *value, size_t size)
{
    const utf8proc_uint8_t *bytes = (const utf8proc_uint8_t *)value;
    utf8proc_int32_t code_point;

    while (size > 0) {
        utf8proc_ssize_t used =
            utf8proc_iterate(bytes, (utf8proc_ssize_t)size, &code_point);

        if (used < 0)
            return 0;
        bytes += used;
        size -= (size_t)used;
    }
    return 1;
}

static enum MHD_Result check_name(void *cls, enum MHD_ValueKind kind,
                                  const char *key, size_t key_size,
                                  const char *value, size_t value_size)
{
    struct name_check *check = cls;
    size_t index = 0;

    (void)kind;
    check->name = key;
    while (check->known[index] != NULL &&
           (strlen(check->known[index]) != key_size ||
            strcmp(check->known[index], key) != 0))
        index++;

    if (check->known[index] == NULL || index >= QUERY_NAMES_MAX)
        check->problem = QUERY_UNKNOWN;
    else if (check->seen[index]++)
        check->problem = QUERY_REPEATED;
    else if (value != NULL && has_control(value, value_size))
        check->problem = QUERY_CONTROL;
    else if (value != NULL && !is_utf8(value, value_size))
        check->problem = QUERY_NOT_UTF8;
    return check->problem == QUERY_OK ? MHD_YES : MHD_NO;
}

static void list_names(const char *const *known, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (const char *const *name = known; *name != NULL && used < size; name++)
        used += (size_t)snprintf(out + used, size - used, "%s%s",
                                 used == 0 ? "" : ", ", *name);
}

int http_query_check_names(struct http_request *request,
                           const char *const *known, struct http_reply *reply)
{
    struct name_check check = {.known = known};
    char names[256];

    MHD_get_connection_values_n(request->connection, MHD_GET_ARGUMENT_KIND,
                                check_name, &check);
    switch (check.problem) {
    case QUERY_OK:
        return 0;
    case QUERY_REPEATED:
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, check.name,
                         "query parameter \"%s\" given more than once; "
                         "give it once",
                         check.name);
        return -1;
    case QUERY_CONTROL:
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, check.name,
                         "invalid %s: contains a control character such "
                         "as %%00 or %%0A; remove it",
                         check.name);
        return -1;
    case QUERY_NOT_UTF8:
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, check.name,
                         "invalid %s: not valid UTF-8; percent-encode the "
                         "UTF-8 bytes of the text",
                         check.name);
        return -1;
    case QUERY_UNKNOWN:
        break;
    }

    list_names(known, names, sizeof names);
    http_reply_error(reply, MHD_HTTP_BAD_REQUEST, check.name,
                     "unknown query parameter \"%.60s\"; the parameters "
                     "are %s",
                     check.name, names[0] != '\0' ? names : "none");
    return -1;
}

const char *http_query_get(struct http_request *request, const char *name)
{
    const char *value = MHD_lookup_connection_value(
        request->connection, MHD_GET_ARGUMENT_KIND, name);

    return value != NULL && value[0] != '\0' ? value : NULL;
}

/* Parses a decimal integer from min to INT64_MAX; returns 0 or -1. */
static int parse_integer(const char *text, int64_t min, int64_t *out)
{
    char *end;
    long long value;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min)
        return -1;
    *out = (int64_t)value;
    return 0;
}

int http_query_id(struct http_request *request, const char *name, int64_t *out,
                  struct http_reply *reply)
{
    const char *text = http_query_get(request, name);

    if (text == NULL)
        return 0;
    if (parse_integer(text, 1, out) == 0)
        return 0;

    http_reply_error(reply, MHD_HTTP_BAD_REQUEST, name,
                     "invalid %s \"%.60s\"; use a positive whole number", name,
                     text);
    return -1;
}

int http_query_limit(struct http_request *request, size_t *out,
                     struct http_reply *reply)
{
    const char *text = http_query_get(request, "limit");
    int64_t value;

    if (text == NULL)
        return 0;
    if (parse_integer(text, 1, &value) == 0 && value <= HTTP_LIST_LIMIT_MAX) {
        *out = (size_t)value;
        return 0;
    }

    http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "limit",
                     "invalid limit \"%.60s\"; use a whole number from 1 "
                     "to %d",
                     text, HTTP_LIST_LIMIT_MAX);
    return -1;
}

int http_query_time(struct http_request *request, const char *name,
                    int64_t *out, struct http_reply *reply)
{
    const char *text = http_query_get(request, name);
    char why[256];

    if (text == NULL)
        return 0;
    if (timestamp_parse(text, request->server->default_zone, out, why,
                        sizeof why) == 0)
        return 0;

    http_reply_error(reply, MHD_HTTP_BAD_REQUEST, name, "invalid %s: %s", name,
                     why);
    return -1;
}

int http_query_text(struct http_request *request, const char *name, size_t max,
                    const char **out, struct http_reply *reply)
{
    const char *text = http_query_get(request, name);

    if (text == NULL)
        return 0;
    if (strlen(text) < max) {
        *out = text;
        return 0;
    }

    http_reply_error(reply, MHD_HTTP_BAD_REQUEST, name,
                     "invalid %s: longer than %zu bytes; shorten it", name,
                     max - 1);
    return -1;
}

int http_path_id(struct http_request *request, size_t index, const char *what,
                 int64_t *id, struct http_reply *reply)
{
    const char *text = request->params[index];

    if (parse_integer(text, 1, id) == 0)
        return 0;

    http_reply_error(reply, MHD_HTTP_NOT_FOUND, NULL,
                     "%s not found: \"%.60s\" is not an id; ids are "
                     "positive whole numbers",
                     what, text);
    return -1;
}
