/* A growing NUL-terminated text, for JSON and SQL written by hand. */
#ifndef PUBQ_TEXT_BUFFER_H
#define PUBQ_TEXT_BUFFER_H

#include <stddef.h>

struct text_buffer {
    char *text; /* NULL until the first append */
    size_t used;
    size_t size;
    /* Set when an allocation failed, or by the caller for invalid
     * input; later appends then do nothing. */
    int failed;
};

/* Appends len bytes; on out of memory sets failed instead. */
void text_buffer_append(struct text_buffer *buffer, const char *bytes,
                        size_t len);
void text_buffer_append_str(struct text_buffer *buffer, const char *text);

#endif
