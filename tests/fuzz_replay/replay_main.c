/*
 * Replays fuzz inputs without libFuzzer: links with one fuzz target and
 * calls its LLVMFuzzerTestOneInput once per file, so the seed corpus and
 * every saved crash run as an ordinary test under ASan and UBSan.
 *
 *   replay_fuzz_cron DIR_OR_FILE...
 *
 * Files in a directory run in name order; a missing directory counts as
 * empty, so a target with no saved crash needs no placeholder. Exits 0
 * when every input ran, 1 when an input could not be read, and aborts
 * through the sanitizer or the target's check on a bug (the last
 * "replaying" line names the input).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_support.h"

#include "util/banned.h"

/* Inputs larger than this are not fuzz inputs: libFuzzer keeps its
 * corpus far smaller. */
#define REPLAY_MAX_INPUT (16 * 1024 * 1024)

static int replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    unsigned char *data = NULL;
    long size;
    int status = -1;

    if (file == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size = fseek(file, 0, SEEK_END) == 0 ? ftell(file) : -1;
    if (size < 0 || size > REPLAY_MAX_INPUT || fseek(file, 0, SEEK_SET) != 0) {
        fprintf(stderr,
                "cannot read %s: not a regular file of at most %d "
                "bytes\n",
                path, REPLAY_MAX_INPUT);
        goto done;
    }
    /* One spare byte so an empty input still has a valid pointer. */
    data = malloc((size_t)size + 1);
    if (data == NULL || fread(data, 1, (size_t)size, file) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", path);
        goto done;
    }

    fprintf(stderr, "replaying %s\n", path);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    status = 0;

done:
    free(data);
    fclose(file);
    return status;
}

static int skip_entry(const struct dirent *entry)
{
    return entry->d_name[0] == '.';
}

static int replay_directory(const char *dir, size_t *count)
{
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, NULL, alphasort);
    int status = 0;
    char path[4096];

    if (n < 0)
        return errno == ENOENT ? 0 : -1;
    for (int i = 0; i < n; i++) {
        if (!skip_entry(entries[i])) {
            snprintf(path, sizeof path, "%s/%s", dir, entries[i]->d_name);
            if (replay_file(path) != 0)
                status = -1;
            else
                (*count)++;
        }
        free(entries[i]);
    }
    free(entries);
    return status;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int status = 0;
    struct stat info;

    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &info) == 0 && S_ISREG(info.st_mode)) {
            if (replay_file(argv[i]) != 0)
                status = 1;
            else
                count++;
        } else if (replay_directory(argv[i], &count) != 0) {
            fprintf(stderr, "cannot read directory %s\n", argv[i]);
            status = 1;
        }
    }
    printf("%s: %zu inputs replayed\n", argv[0], count);
    return status;
}
