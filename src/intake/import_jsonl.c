#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "intake/import_internal.h"
#include "util/banned.h"

static int is_blank(const char *text)
{
    return text[strspn(text, " \t\r\n")] == '\0';
}

/*
 * Splits the optional event id off a row: `id` is not a field of the
 * intake data, so the row is checked without it.
 */
static int add_line(struct import_context *ctx, int line, json_t *row)
{
    json_t *id = json_object_get(row, "id");
    char *event_id = NULL;
    int result;

    if (id != NULL && !json_is_string(id))
        return import_fail(ctx->error, line, "id",
                           "id must be a string, the event id that makes a "
                           "second import of the row create nothing");

    if (id != NULL) {
        event_id = strdup(json_string_value(id));
        if (event_id == NULL)
            return import_fail(ctx->error, line, NULL, "out of memory");
        json_object_del(row, "id");
    }

    result = import_add_row(ctx, line, row, event_id);
    free(event_id);
    return result;
}

int import_read_jsonl(struct import_line_reader *reader,
                      struct import_context *ctx)
{
    int status;

    while ((status = import_next_line(reader, ctx->error)) == 1) {
        json_error_t json_error;
        json_t *row;
        int result;

        if (is_blank(reader->buffer))
            continue;

        row = json_loadb(reader->buffer, reader->length, 0, &json_error);
        if (row == NULL &&
            json_error_code(&json_error) == json_error_null_character)
            return import_fail(ctx->error, reader->line, NULL,
                               "NUL character (\\u0000) at column %d; NUL "
                               "characters are not allowed in text, so "
                               "remove them",
                               json_error.column);
        if (row == NULL)
            return import_fail(ctx->error, reader->line, NULL,
                               "invalid JSON at column %d: %s; write one "
                               "JSON object per line",
                               json_error.column, json_error.text);

        if (!json_is_object(row))
            result = import_fail(ctx->error, reader->line, NULL,
                                 "the line is not a JSON object; write one "
                                 "data object per line");
        else
            result = add_line(ctx, reader->line, row);
        json_decref(row);
        if (result != 0)
            return -1;
    }
    return status;
}
