/*
 * Fuzzes the sweeper's cron expression: cron_parse, then a bounded run of
 * cron_next in UTC and in Europe/Berlin from instants that include both
 * daylight saving time changes of 2026. Every fire time must lie after
 * the previous one.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "fuzz_support.h"

#include "util/banned.h"

/* Fire times followed from each start: enough to cross a DST change
 * for an hourly expression without making one input slow. */
#define MAX_FIRES 4

static struct zone *utc;

/* 2025-12-05T02:00:00Z, 2026-03-29T00:00:00Z (spring forward in
 * Berlin at 01:00Z) and 2026-10-25T00:00:00Z (fall back at 01:00Z). */
static const int64_t starts[] = {FUZZ_NOW_MS / 1000, 1774742400, 1792886400};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc;
    (void)argv;
    utc = zone_load("UTC", err, sizeof err);
    if (utc == NULL)
        fuzz_fail("%s", err);
    fuzz_berlin();
    return 0;
}

static void follow(const char *text, const struct cron_expr *expr,
                   const struct zone *zone, int64_t start)
{
    int64_t after = start;

    for (int i = 0; i < MAX_FIRES; i++) {
        int64_t next = INT64_MIN;

        if (cron_next(expr, zone, after, &next) != 0)
            return;
        if (next <= after)
            fuzz_fail("cron \"%s\" in %s: next fire %lld is not after %lld",
                      text, zone_name(zone), (long long)next, (long long)after);
        after = next;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    struct cron_expr expr;
    struct cron_expr untouched;
    char err[256] = "";

    memset(&expr, 0xA5, sizeof expr);
    untouched = expr;
    if (cron_parse(text, &expr, err, sizeof err) != 0) {
        if (memcmp(&expr, &untouched, sizeof expr) != 0 || err[0] == '\0')
            fuzz_fail("cron_parse(\"%s\") failed but changed its output or "
                      "gave no message",
                      text);
        free(text);
        return 0;
    }

    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        follow(text, &expr, utc, starts[i]);
        follow(text, &expr, fuzz_berlin(), starts[i]);
    }
    free(text);
    return 0;
}
