/* Statement parameters and result columns of the PostgreSQL store. */
#include "store/pg_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "util/banned.h"

void pg_params_init(struct pg_params *p)
{
    memset(p, 0, sizeof *p);
}

void pg_params_clear(struct pg_params *p)
{
    for (int i = 0; i < PG_PARAMS_MAX; i++)
        free(p->owned[i]);
    pg_params_init(p);
}

/* Returns the next slot, or -1 (and marks the set failed) when full. */
static int next_slot(struct pg_params *p)
{
    if (p->count >= PG_PARAMS_MAX) {
        p->failed = 1;
        return -1;
    }
    return p->count++;
}

void pg_param_int(struct pg_params *p, int64_t value)
{
    int i = next_slot(p);

    if (i < 0)
        return;
    snprintf(p->numbers[i], sizeof p->numbers[i], "%" PRId64, value);
    p->values[i] = p->numbers[i];
}

void pg_param_bool(struct pg_params *p, int value)
{
    int i = next_slot(p);

    if (i >= 0)
        p->values[i] = value ? "true" : "false";
}

void pg_param_text(struct pg_params *p, const char *text)
{
    int i = next_slot(p);

    if (i >= 0)
        p->values[i] = text;
}

void pg_param_owned(struct pg_params *p, char *text)
{
    int i = next_slot(p);

    if (i < 0 || text == NULL) {
        p->failed = 1;
        free(text);
        return;
    }
    p->owned[i] = text;
    p->values[i] = text;
}

/*
 * PostgreSQL rejects text that is not valid UTF-8 (SQLite stores any
 * bytes), and error texts come from remote servers, so bytes that do not
 * decode become '?' instead of failing the whole write.
 */
char *pg_text_clean(const char *text, size_t max)
{
    const utf8proc_uint8_t *in = (const utf8proc_uint8_t *)text;
    size_t len = text != NULL ? strlen(text) : 0;
    size_t out_len = 0;
    char *out = malloc(len < max ? len + 1 : max);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t codepoint;
        utf8proc_ssize_t n =
            utf8proc_iterate(in + i, (utf8proc_ssize_t)(len - i), &codepoint);
        size_t step = n > 0 ? (size_t)n : 1;

        if (out_len + step > max - 1)
            break;
        if (n > 0)
            memcpy(out + out_len, text + i, step);
        else
            out[out_len] = '?';
        out_len += step;
        i += step;
    }
    out[out_len] = '\0';
    return out;
}

void pg_param_text_max(struct pg_params *p, const char *text, size_t max)
{
    char *clean = pg_text_clean(text, max);

    if (clean == NULL) {
        p->failed = 1;
        return;
    }
    pg_param_owned(p, clean);
}

json_t *pg_json_text_max(const char *text, size_t max)
{
    char *clean;
    json_t *value;

    if (text == NULL)
        return json_null();
    clean = pg_text_clean(text, max);
    if (clean == NULL)
        return NULL;
    /* pg_text_clean leaves valid UTF-8 only. */
    value = json_string_nocheck(clean);
    free(clean);
    return value;
}

int64_t pg_get_int(const PGresult *res, int row, int col)
{
    const char *text = PQgetvalue(res, row, col);
    char *end = NULL;
    long long value;

    if (PQgetisnull(res, row, col) || text[0] == '\0')
        return 0;
    errno = 0;
    value = strtoll(text, &end, 10);
    /* The server sends bigint columns, so this only guards against a
     * schema drift; a value that does not parse reads as 0. */
    if (errno != 0 || end == text || *end != '\0')
        return 0;
    return (int64_t)value;
}

int pg_get_bool(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

void pg_get_text(const PGresult *res, int row, int col, char *dst, size_t size)
{
    snprintf(dst, size, "%s", PQgetvalue(res, row, col));
}

void pg_read_entry(const PGresult *res, int row, int col, struct entry *e)
{
    char status[STORE_NAME_MAX];

    memset(e, 0, sizeof *e);
    e->id = pg_get_int(res, row, col + 0);
    e->job_id = pg_get_int(res, row, col + 1);
    pg_get_text(res, row, col + 2, e->content_id, sizeof e->content_id);
    pg_get_text(res, row, col + 3, e->platform, sizeof e->platform);
    pg_get_text(res, row, col + 4, status, sizeof status);
    /* The CHECK constraint on entries.status keeps the parse total. */
    entry_status_parse(status, &e->status);
    e->retry_count = (uint32_t)pg_get_int(res, row, col + 5);
    e->max_retries = (uint32_t)pg_get_int(res, row, col + 6);
    e->attempt_count = (uint32_t)pg_get_int(res, row, col + 7);
    e->scheduled_at = pg_get_int(res, row, col + 8);
    e->due_at = pg_get_int(res, row, col + 9);
    e->rate_limit_waited_ms = pg_get_int(res, row, col + 10);
    pg_get_text(res, row, col + 11, e->idempotency_key,
                sizeof e->idempotency_key);
    pg_get_text(res, row, col + 12, e->lease_node, sizeof e->lease_node);
    e->lease_expires_at = pg_get_int(res, row, col + 13);
    e->published_at = pg_get_int(res, row, col + 14);
    pg_get_text(res, row, col + 15, e->post_id, sizeof e->post_id);
    pg_get_text(res, row, col + 16, e->post_url, sizeof e->post_url);
    pg_get_text(res, row, col + 17, e->last_error, sizeof e->last_error);
    pg_get_text(res, row, col + 18, e->fail_reason, sizeof e->fail_reason);
    e->created_at = pg_get_int(res, row, col + 19);
    e->updated_at = pg_get_int(res, row, col + 20);
}

int pg_read_entries(struct pg_store *s, const PGresult *res,
                    struct entry_list *list)
{
    int rows = PQntuples(res);

    entry_list_free(list);
    if (rows == 0)
        return STORE_OK;
    list->items = calloc((size_t)rows, sizeof *list->items);
    if (list->items == NULL)
        return pg_error(s, STORE_ERROR, "out of memory reading %d entries",
                        rows);
    for (int i = 0; i < rows; i++)
        pg_read_entry(res, i, 0, &list->items[i]);
    list->count = (size_t)rows;
    return STORE_OK;
}
