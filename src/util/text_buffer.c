#include "util/text_buffer.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* The first allocation; each later one doubles. */
#define TEXT_BUFFER_FIRST_SIZE 256

void text_buffer_append(struct text_buffer *buffer, const char *bytes,
                        size_t len)
{
    size_t size;
    char *grown;

    if (buffer->failed)
        return;
    if (buffer->used + len + 1 > buffer->size) {
        size = buffer->size == 0 ? TEXT_BUFFER_FIRST_SIZE : buffer->size;
        while (buffer->used + len + 1 > size)
            size *= 2;
        grown = realloc(buffer->text, size);
        if (grown == NULL) {
            buffer->failed = 1;
            return;
        }
        buffer->text = grown;
        buffer->size = size;
    }

    memcpy(buffer->text + buffer->used, bytes, len);
    buffer->used += len;
    buffer->text[buffer->used] = '\0';
}

void text_buffer_append_str(struct text_buffer *buffer, const char *text)
{
    text_buffer_append(buffer, text, strlen(text));
}
