/*
 * Fuzzes the content calendar import. Bit 0 of the first input byte picks
 * CSV (0) or JSON Lines (1), and bit 1 reads naive times in
 * Europe/Berlin. The remaining bytes are the file.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "intake/import.h"

#include "util/banned.h"

static const char *csv_path;
static const char *jsonl_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_config();
    fuzz_berlin();
    csv_path = fuzz_temp_path("calendar.csv");
    jsonl_path = fuzz_temp_path("calendar.jsonl");
    return 0;
}

static void check_jobs(const struct intake_job *jobs, size_t count)
{
    if (jobs == NULL || count == 0)
        fuzz_fail("import succeeded with no jobs");
    for (size_t i = 0; i < count; i++) {
        if (jobs[i].platform_count == 0 || jobs[i].content_id == NULL)
            fuzz_fail("import row %zu has no platforms or content id", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path;
    const struct zone *zone;
    struct intake_job *jobs = NULL;
    size_t count = 0;
    struct intake_error error;

    if (size == 0)
        return 0;
    path = (data[0] & 1) ? jsonl_path : csv_path;
    zone = (data[0] & 2) ? fuzz_berlin() : NULL;
    fuzz_write_file(path, data + 1, size - 1);

    memset(&error, 0, sizeof error);
    if (import_read_file(path, fuzz_config(), zone, FUZZ_NOW_MS, &jobs, &count,
                         &error) != 0) {
        if (jobs != NULL || count != 0 || error.message[0] == '\0')
            fuzz_fail("import failed but returned jobs or no message");
        return 0;
    }
    check_jobs(jobs, count);
    import_jobs_free(jobs, count);
    return 0;
}
