#include "cli/table.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util/banned.h"

#define ELLIPSIS "..."
#define ELLIPSIS_WIDTH 3

/* One character as it will be printed: its bytes and terminal width. */
struct shown_char {
    char bytes[4];
    size_t length;
    size_t width;
};

/*
 * Reads the character at *text (before `end`) and advances past it.
 * utf8proc decodes UTF-8 and gives the width of East Asian wide
 * characters (2) and combining marks (0), which byte counts would get
 * wrong.
 */
static void read_char(const char **text, const char *end,
                      struct shown_char *out)
{
    utf8proc_int32_t codepoint;
    utf8proc_ssize_t length = utf8proc_iterate((const utf8proc_uint8_t *)*text,
                                               end - *text, &codepoint);
    int width;

    if (length <= 0) {
        *text += 1;
        memcpy(out->bytes, "?", 1);
        out->length = 1;
        out->width = 1;
        return;
    }
    *text += length;

    if (codepoint < 0x20 || (codepoint >= 0x7f && codepoint < 0xa0)) {
        memcpy(out->bytes, " ", 1);
        out->length = 1;
        out->width = 1;
        return;
    }

    memcpy(out->bytes, *text - length, (size_t)length);
    out->length = (size_t)length;
    width = utf8proc_charwidth(codepoint);
    out->width = width > 0 ? (size_t)width : 0;
}

size_t table_text_width(const char *text)
{
    const char *end = text + strlen(text);
    struct shown_char shown;
    size_t width = 0;

    while (text < end) {
        read_char(&text, end, &shown);
        width += shown.width;
    }
    return width;
}

void table_clean_text(const char *text, size_t max_width, char *out,
                      size_t size)
{
    const char *end = text + strlen(text);
    int cut = max_width > 0 && table_text_width(text) > max_width;
    size_t budget = max_width;
    size_t used = 0;
    struct shown_char shown;

    if (size == 0)
        return;
    if (cut)
        budget = max_width > ELLIPSIS_WIDTH ? max_width - ELLIPSIS_WIDTH : 0;

    while (text < end) {
        read_char(&text, end, &shown);
        if ((cut && shown.width > budget) || used + shown.length >= size)
            break;
        memcpy(out + used, shown.bytes, shown.length);
        used += shown.length;
        if (cut)
            budget -= shown.width;
    }

    if (cut && used + ELLIPSIS_WIDTH < size) {
        memcpy(out + used, ELLIPSIS, ELLIPSIS_WIDTH);
        used += ELLIPSIS_WIDTH;
    }
    out[used] = '\0';
}

int table_init(struct table *table, const char *const *headers, size_t columns)
{
    memset(table, 0, sizeof *table);
    if (columns == 0 || columns > TABLE_COLUMNS_MAX)
        return -1;

    table->columns = columns;
    for (size_t i = 0; i < columns; i++)
        table->headers[i] = headers[i];
    return 0;
}

void table_set_max_width(struct table *table, size_t column, size_t width)
{
    if (column < table->columns)
        table->max_width[column] = width;
}

static int grow(struct table *table)
{
    size_t capacity = table->capacity == 0 ? 16 : table->capacity * 2;
    char **cells;

    cells = realloc(table->cells, capacity * table->columns * sizeof *cells);
    if (cells == NULL)
        return -1;

    table->cells = cells;
    table->capacity = capacity;
    return 0;
}

int table_add_row(struct table *table, const char *const *cells)
{
    char **row;

    if (table->rows == table->capacity && grow(table) != 0)
        return -1;

    row = table->cells + table->rows * table->columns;
    for (size_t i = 0; i < table->columns; i++) {
        const char *text = cells[i] != NULL ? cells[i] : "-";
        size_t size = strlen(text) + ELLIPSIS_WIDTH + 1;

        row[i] = malloc(size);
        if (row[i] == NULL) {
            while (i > 0)
                free(row[--i]);
            return -1;
        }
        table_clean_text(text, table->max_width[i], row[i], size);
    }
    table->rows++;
    return 0;
}

static void print_cell(FILE *out, const char *text, size_t width, int last)
{
    fputs(text, out);
    if (last)
        return;

    for (size_t pad = table_text_width(text); pad < width + 2; pad++)
        fputc(' ', out);
}

void table_print(const struct table *table, FILE *out)
{
    size_t widths[TABLE_COLUMNS_MAX];
    size_t last = table->columns - 1;

    for (size_t c = 0; c < table->columns; c++) {
        widths[c] = table_text_width(table->headers[c]);
        for (size_t r = 0; r < table->rows; r++) {
            size_t width =
                table_text_width(table->cells[r * table->columns + c]);
            if (width > widths[c])
                widths[c] = width;
        }
    }

    for (size_t c = 0; c < table->columns; c++)
        print_cell(out, table->headers[c], widths[c], c == last);
    fputc('\n', out);

    for (size_t r = 0; r < table->rows; r++) {
        for (size_t c = 0; c < table->columns; c++)
            print_cell(out, table->cells[r * table->columns + c], widths[c],
                       c == last);
        fputc('\n', out);
    }
}

void table_free(struct table *table)
{
    for (size_t i = 0; i < table->rows * table->columns; i++)
        free(table->cells[i]);
    free(table->cells);
    memset(table, 0, sizeof *table);
}
