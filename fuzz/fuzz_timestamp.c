/*
 * Fuzzes RFC 3339 timestamps (without a default zone and in
 * Europe/Berlin) and durations, checking that failures leave the output
 * alone and that an accepted instant survives a format and parse round
 * trip.
 */
#include <stdlib.h>
#include <string.h>

#include "core/timestamp.h"
#include "fuzz_support.h"

#include "util/banned.h"

#define UNTOUCHED INT64_C(-7777777)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_berlin();
    return 0;
}

static int parse(const char *text, const struct zone *zone, int64_t *ms)
{
    char err[256] = "";
    int status;

    *ms = UNTOUCHED;
    status = timestamp_parse(text, zone, ms, err, sizeof err);
    if (status != 0 && (*ms != UNTOUCHED || err[0] == '\0'))
        fuzz_fail("timestamp_parse(\"%s\") failed but changed its output "
                  "or gave no message",
                  text);
    return status;
}

static void check_round_trip(const char *text, int64_t ms)
{
    char formatted[TIMESTAMP_MAX];
    int64_t again;

    /* An offset can move a year-0000 or year-9999 instant out of range. */
    if (timestamp_format(ms, formatted, sizeof formatted) != 0)
        return;
    if (parse(formatted, NULL, &again) != 0 || again != ms)
        fuzz_fail("\"%s\" parsed as %lld, formatted as \"%s\", which does "
                  "not parse back to the same instant",
                  text, (long long)ms, formatted);
}

static void check_timestamp(const char *text)
{
    int64_t plain;
    int64_t zoned;
    int plain_status = parse(text, NULL, &plain);
    int zoned_status = parse(text, fuzz_berlin(), &zoned);

    if (plain_status == 0) {
        if (zoned_status != 0 || zoned != plain)
            fuzz_fail("\"%s\" has an offset but a default zone changed it",
                      text);
        check_round_trip(text, plain);
    }
    if (zoned_status == 0)
        check_round_trip(text, zoned);
}

static void check_duration(const char *text)
{
    char err[256] = "";
    int64_t ms = UNTOUCHED;

    if (timestamp_parse_duration(text, &ms, err, sizeof err) == 0) {
        if (ms < 0)
            fuzz_fail("duration \"%s\" parsed as negative %lld", text,
                      (long long)ms);
    } else if (ms != UNTOUCHED || err[0] == '\0') {
        fuzz_fail("duration \"%s\" failed but changed its output or gave "
                  "no message",
                  text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);

    check_timestamp(text);
    check_duration(text);
    free(text);
    return 0;
}
