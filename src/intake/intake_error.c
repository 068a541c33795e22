/*
 * Renaming the field of an intake error for a front end whose input has
 * other names than the fields of the event's data object.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "intake/intake.h"

#include "util/banned.h"

static int is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/*
 * Returns the first occurrence of word at or after cursor that is a
 * whole word. In "invalid id" that is the second "id", not the end of
 * "invalid".
 */
static const char *find_word(const char *text, const char *cursor,
                             const char *word)
{
    size_t length = strlen(word);

    for (const char *match = strstr(cursor, word); match != NULL;
         match = strstr(match + 1, word)) {
        int starts = match == text || !is_word_char(match[-1]);
        int ends = !is_word_char(match[length]);

        if (starts && ends)
            return match;
    }
    return NULL;
}

int intake_error_rename(struct intake_error *error, const char *name)
{
    char old[sizeof error->field];
    char message[sizeof error->message];
    const char *cursor = error->message;
    size_t old_length;
    size_t used = 0;
    int replaced = 0;

    snprintf(old, sizeof old, "%s", error->field);
    snprintf(error->field, sizeof error->field, "%s", name);
    old_length = strlen(old);
    if (old_length == 0)
        return 0;

    while (used + 1 < sizeof message) {
        const char *match = find_word(error->message, cursor, old);
        size_t before =
            match != NULL ? (size_t)(match - cursor) : strlen(cursor);

        used += (size_t)snprintf(message + used, sizeof message - used, "%.*s",
                                 (int)before, cursor);
        if (match == NULL || used + 1 >= sizeof message)
            break;
        used +=
            (size_t)snprintf(message + used, sizeof message - used, "%s", name);
        cursor = match + old_length;
        replaced = 1;
    }
    snprintf(error->message, sizeof error->message, "%s", message);
    return replaced;
}
