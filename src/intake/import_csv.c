/*
 * CSV calendars, read with libcsv (RFC 4180: quoted fields may contain
 * commas, newlines and doubled quotes). The first record is the header.
 */
#include <csv.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "intake/import_internal.h"
#include "util/banned.h"

enum csv_column {
    COLUMN_ID,
    COLUMN_TEXT,
    COLUMN_PLATFORMS,
    COLUMN_AT,
    COLUMN_TITLE,
    COLUMN_LINK,
    COLUMN_EVENT_ID,
    COLUMN_COUNT,
};

static const char *const column_names[COLUMN_COUNT] = {
    "id", "text", "platforms", "at", "title", "link", "event_id"};

#define CSV_BUFFER_STEP (64 * 1024)

#define COLUMN_LIST "id, text, platforms, at, title, link and event_id"

struct csv_field {
    char *text; /* heap, NUL-terminated */
    size_t length;
};

struct csv_state {
    struct import_context *ctx;
    int header_done;
    int columns[COLUMN_COUNT]; /* header position of each, or -1 */
    size_t header_count;

    struct csv_field fields[COLUMN_COUNT];
    size_t field_count; /* fields in this record, also those not kept */
    size_t record_bytes;
    int record_line; /* where the record began; 0 between records */
    int failed;
};

static void clear_fields(struct csv_state *state)
{
    for (size_t i = 0; i < COLUMN_COUNT; i++) {
        free(state->fields[i].text);
        state->fields[i].text = NULL;
        state->fields[i].length = 0;
    }
    state->field_count = 0;
    state->record_bytes = 0;
}

static void on_field(void *data, size_t length, void *user)
{
    struct csv_state *state = user;
    size_t index = state->field_count++;
    char *copy;

    if (state->failed || index >= COLUMN_COUNT)
        return;

    copy = malloc(length + 1);
    if (copy == NULL) {
        state->failed = 1;
        import_fail(state->ctx->error, state->record_line, NULL,
                    "out of memory");
        return;
    }
    if (length > 0)
        memcpy(copy, data, length);
    copy[length] = '\0';
    state->fields[index].text = copy;
    state->fields[index].length = length;
}

static char *trim(char *text)
{
    size_t length;

    text += strspn(text, " \t");
    length = strlen(text);
    while (length > 0 && (text[length - 1] == ' ' || text[length - 1] == '\t'))
        text[--length] = '\0';
    return text;
}

static int read_header(struct csv_state *state)
{
    struct intake_error *error = state->ctx->error;
    int line = state->record_line;

    if (state->field_count > COLUMN_COUNT)
        return import_fail(
            error, line, NULL,
            "%zu columns in the header; the columns are " COLUMN_LIST,
            state->field_count);

    for (size_t i = 0; i < state->field_count; i++) {
        char *name = trim(state->fields[i].text);
        size_t column = 0;

        while (column < COLUMN_COUNT &&
               strcasecmp(name, column_names[column]) != 0)
            column++;
        if (column == COLUMN_COUNT)
            return import_fail(
                error, line, NULL,
                "unknown column \"%.60s\"; the columns are " COLUMN_LIST, name);
        if (state->columns[column] >= 0)
            return import_fail(error, line, NULL,
                               "column \"%s\" appears twice; keep one",
                               column_names[column]);
        state->columns[column] = (int)i;
    }

    for (size_t column = COLUMN_ID; column <= COLUMN_PLATFORMS; column++) {
        if (state->columns[column] < 0)
            return import_fail(error, line, NULL,
                               "missing column \"%s\"; the header needs at "
                               "least id, text and platforms",
                               column_names[column]);
    }
    state->header_count = state->field_count;
    state->header_done = 1;
    return 0;
}

/* Returns the field of a column in this record, or NULL when absent. */
static const struct csv_field *column_field(const struct csv_state *state,
                                            enum csv_column column)
{
    if (state->columns[column] < 0)
        return NULL;
    return &state->fields[state->columns[column]];
}

/* A JSON string of field bytes; invalid UTF-8 is left for intake. */
static json_t *field_string(const struct csv_field *field)
{
    json_t *value = json_stringn(field->text, field->length);

    return value != NULL ? value
                         : json_stringn_nocheck(field->text, field->length);
}

/*
 * Returns the text with each CRLF turned into LF, because a line break
 * inside a quoted field keeps the file's CRLF.
 */
static json_t *field_text(const struct csv_field *field)
{
    size_t out = 0;

    for (size_t in = 0; in < field->length; in++) {
        if (field->text[in] == '\r' && in + 1 < field->length &&
            field->text[in + 1] == '\n')
            continue;
        field->text[out++] = field->text[in];
    }
    field->text[out] = '\0';
    return json_stringn_nocheck(field->text, out);
}

static json_t *split_platforms(const struct csv_field *field)
{
    json_t *list = json_array();
    char *cursor = field->text;

    while (list != NULL && *cursor != '\0') {
        size_t length;

        cursor += strspn(cursor, " \t;");
        length = strcspn(cursor, " \t;");
        if (length > 0 &&
            json_array_append_new(list, json_stringn_nocheck(cursor, length)) !=
                0) {
            json_decref(list);
            return NULL;
        }
        cursor += length;
    }
    return list;
}

static int set_optional(json_t *object, const char *key,
                        const struct csv_field *field)
{
    if (field == NULL || field->length == 0)
        return 0;
    return json_object_set_new(object, key, field_string(field));
}

static json_t *build_data(const struct csv_state *state)
{
    const struct csv_field *at = column_field(state, COLUMN_AT);
    json_t *content = json_object();
    json_t *data = json_object();
    int failed = content == NULL || data == NULL;

    failed =
        failed ||
        json_object_set_new(content, "text",
                            field_text(column_field(state, COLUMN_TEXT))) !=
            0 ||
        set_optional(content, "title", column_field(state, COLUMN_TITLE)) !=
            0 ||
        set_optional(content, "link", column_field(state, COLUMN_LINK)) != 0;
    failed = failed ||
             json_object_set_new(
                 data, "contentItemId",
                 field_string(column_field(state, COLUMN_ID))) != 0 ||
             json_object_set_new(
                 data, "platforms",
                 split_platforms(column_field(state, COLUMN_PLATFORMS))) != 0 ||
             set_optional(data, "scheduledAt", at) != 0 ||
             json_object_set(data, "content", content) != 0;

    json_decref(content);
    if (failed) {
        json_decref(data);
        return NULL;
    }
    return data;
}

/* Spreadsheets export empty rows as ",,,"; they count as blank lines. */
static int is_empty_record(const struct csv_state *state)
{
    for (size_t i = 0; i < state->field_count && i < COLUMN_COUNT; i++) {
        if (state->fields[i].length > 0)
            return 0;
    }
    return state->field_count <= COLUMN_COUNT;
}

static int read_row(struct csv_state *state)
{
    const struct csv_field *event = column_field(state, COLUMN_EVENT_ID);
    json_t *data;
    int result;

    if (is_empty_record(state))
        return 0;

    if (state->field_count != state->header_count)
        return import_fail(state->ctx->error, state->record_line, NULL,
                           "%zu fields, but the header has %zu; quote "
                           "fields that contain commas",
                           state->field_count, state->header_count);

    /* Intake would suggest attaching media, which CSV has no column
     * for. */
    if (intake_text_is_blank(column_field(state, COLUMN_TEXT)->text,
                             column_field(state, COLUMN_TEXT)->length))
        return import_fail(state->ctx->error, state->record_line, "text",
                           "empty text; write the text to publish in the "
                           "text column");

    data = build_data(state);
    if (data == NULL)
        return import_fail(state->ctx->error, state->record_line, NULL,
                           "out of memory");

    result =
        import_add_row(state->ctx, state->record_line, data,
                       event != NULL && event->length > 0 ? event->text : NULL);
    json_decref(data);
    return result;
}

static void on_record(int terminator, void *user)
{
    struct csv_state *state = user;

    (void)terminator;
    if (state->failed)
        return;

    if (state->record_bytes > IMPORT_MAX_ROW_BYTES) {
        import_fail(state->ctx->error, state->record_line, NULL,
                    "row larger than %d bytes; shorten it",
                    IMPORT_MAX_ROW_BYTES);
        state->failed = 1;
    } else if (!state->header_done) {
        state->failed = read_header(state) != 0;
    } else {
        state->failed = read_row(state) != 0;
    }
    clear_fields(state);
    state->record_line = 0;
}

static int is_blank_line(const char *text)
{
    return text[strspn(text, "\r\n")] == '\0';
}

/* Feeds one physical line; a quoted field may continue on the next. */
static int feed_line(struct csv_parser *parser, struct csv_state *state,
                     const struct import_line_reader *reader)
{
    if (state->record_line == 0 && !is_blank_line(reader->buffer))
        state->record_line = reader->line;
    if (state->record_line != 0)
        state->record_bytes += reader->length;

    if (csv_parse(parser, reader->buffer, reader->length, on_field, on_record,
                  state) != reader->length &&
        !state->failed) {
        state->failed = 1;
        return import_fail(state->ctx->error, reader->line, NULL,
                           "invalid CSV: %s; double a quote inside a "
                           "quoted field (\"\") and quote fields that "
                           "contain quotes",
                           csv_strerror(csv_error(parser)));
    }
    if (!state->failed && state->record_bytes > IMPORT_MAX_ROW_BYTES) {
        state->failed = 1;
        return import_fail(state->ctx->error, state->record_line, NULL,
                           "row larger than %d bytes; shorten it",
                           IMPORT_MAX_ROW_BYTES);
    }
    return state->failed ? -1 : 0;
}

static int finish(struct csv_parser *parser, struct csv_state *state, int line)
{
    if (csv_fini(parser, on_field, on_record, state) != 0 && !state->failed) {
        state->failed = 1;
        return import_fail(state->ctx->error, state->record_line, NULL,
                           "unterminated quoted field that began on line "
                           "%d, still open at line %d; close it with \"",
                           state->record_line, line);
    }
    return state->failed ? -1 : 0;
}

/* Returns the CSV column of an intake field, such as "at" for
 * "data.scheduledAt", or NULL for a field no column fills. */
static const char *column_for_field(const char *field)
{
    /* Longer prefixes first. */
    static const struct {
        const char *prefix;
        enum csv_column column;
    } fields[] = {
        {"data.contentItemId", COLUMN_ID},
        {"data.platforms", COLUMN_PLATFORMS},
        {"data.scheduledAt", COLUMN_AT},
        {"data.content.title", COLUMN_TITLE},
        {"data.content.link", COLUMN_LINK},
        {"data.content", COLUMN_TEXT},
    };

    if (strcmp(field, "id") == 0)
        return column_names[COLUMN_EVENT_ID];
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strncmp(field, fields[i].prefix, strlen(fields[i].prefix)) == 0)
            return column_names[fields[i].column];
    return NULL;
}

int import_read_csv(struct import_line_reader *reader,
                    struct import_context *ctx)
{
    struct csv_parser parser;
    struct csv_state state;
    int status;

    memset(&state, 0, sizeof state);
    state.ctx = ctx;
    ctx->name_for_field = column_for_field;
    for (size_t i = 0; i < COLUMN_COUNT; i++)
        state.columns[i] = -1;

    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return import_fail(ctx->error, 1, NULL, "out of memory");

    /* libcsv grows its field buffer by this step, 128 bytes by default,
     * which makes a long field quadratic to read. */
    csv_set_blk_size(&parser, CSV_BUFFER_STEP);

    while ((status = import_next_line(reader, ctx->error)) == 1) {
        if (feed_line(&parser, &state, reader) != 0) {
            status = -1;
            break;
        }
    }
    if (status == 0)
        status = finish(&parser, &state, reader->line);

    clear_fields(&state);
    csv_free(&parser);
    return status;
}
