/*
 * Aligned text tables for people: column widths come from the widest
 * cell, measured in terminal columns (UTF-8 aware), and cells longer than
 * a column's maximum are cut with "...". Control characters in cells
 * (newlines, tabs) are shown as spaces so one row stays one line.
 *
 *   struct table table;
 *   const char *headers[] = {"ID", "STATUS"};
 *
 *   table_init(&table, headers, 2);
 *   table_set_max_width(&table, 1, 40);
 *   table_add_row(&table, (const char *[]){"7", "pending"});
 *   table_print(&table, stdout);
 *   table_free(&table);
 */
#ifndef PUBQ_CLI_TABLE_H
#define PUBQ_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_COLUMNS_MAX 16

struct table {
    size_t columns;
    const char *headers[TABLE_COLUMNS_MAX]; /* borrowed */
    size_t max_width[TABLE_COLUMNS_MAX];    /* 0: no limit */
    char **cells; /* rows * columns cleaned copies, row by row */
    size_t rows;
    size_t capacity; /* rows allocated */
};

/*
 * Starts an empty table with `columns` (1 to TABLE_COLUMNS_MAX) headers,
 * which must outlive the table. Returns 0, or -1 for a bad count.
 */
int table_init(struct table *table, const char *const *headers, size_t columns);

/* Cuts cells of `column` to `width` terminal columns; 0 removes the cap. */
void table_set_max_width(struct table *table, size_t column, size_t width);

/*
 * Appends a row of `columns` cells (NULL prints as "-"); copies them.
 * Returns 0, or -1 when out of memory (the table is unchanged).
 */
int table_add_row(struct table *table, const char *const *cells);

/* Writes the header line and every row, columns separated by two spaces. */
void table_print(const struct table *table, FILE *out);

void table_free(struct table *table);

/*
 * Copies `text` into `out` (of `size` bytes), with control characters as
 * spaces and, when it is wider than `max_width` terminal columns (0: no
 * limit), cut to fit with "..." at the end. Never splits a UTF-8
 * character; invalid bytes are shown as "?".
 */
void table_clean_text(const char *text, size_t max_width, char *out,
                      size_t size);

/* Returns the width of UTF-8 text in terminal columns. */
size_t table_text_width(const char *text);

#endif
