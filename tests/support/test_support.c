#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAVED 256

/* Every path handed out, freed at exit so LeakSanitizer stays quiet. */
static char *saved[MAX_SAVED];
static size_t saved_count;

static void free_saved(void)
{
    for (size_t i = 0; i < saved_count; i++)
        free(saved[i]);
}

static const char *save(char *text)
{
    if (text == NULL || saved_count == MAX_SAVED) {
        fprintf(stderr, "test_support: out of memory or paths\n");
        abort();
    }
    if (saved_count == 0)
        atexit(free_saved);
    saved[saved_count++] = text;
    return text;
}

const char *test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char template[512];

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(template, sizeof template, "%s/pubq-test-XXXXXX", base);
    if (mkdtemp(template) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return save(strdup(template));
}

const char *test_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);

    if (path != NULL)
        snprintf(path, len, "%s/%s", dir, name);
    return save(path);
}

void test_write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");

    if (file == NULL || fputs(text, file) == EOF || fclose(file) != 0) {
        perror(path);
        abort();
    }
}

char *test_read_file(const char *path)
{
    FILE *file = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    size_t cap = 0;
    size_t n;

    if (file == NULL) {
        perror(path);
        abort();
    }
    do {
        if (cap - len < 4096) {
            cap = cap * 2 + 4096;
            text = realloc(text, cap + 1);
            if (text == NULL)
                abort();
        }
        n = fread(text + len, 1, cap - len, file);
        len += n;
    } while (n > 0);
    if (ferror(file)) {
        perror(path);
        abort();
    }
    fclose(file);
    text[len] = '\0';
    return text;
}
