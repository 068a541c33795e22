/*
 * Fuzzes the TZif reader: the input is a zone file. A zone that parses
 * is then queried the way pubq uses zones: offsets, the chain of next
 * transitions, local times resolved to instants, naive timestamps and
 * cron fire times.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "core/timestamp.h"
#include "core/zone.h"
#include "fuzz_support.h"

#include "util/banned.h"

/* Transitions followed per instant: bounded so one input stays fast. */
#define MAX_TRANSITIONS 8

/* The reader rejects types beyond 26 hours either way (RFC 8536 advises
 * less), so a larger offset means a check was bypassed. */
#define MAX_OFFSET (26 * 3600)

/* 1901, 1970, 2025-12-05, 2038-01-19 (the 32-bit limit) and 2100. */
static const int64_t instants[] = {-2147483648LL, 0, FUZZ_NOW_MS / 1000,
                                   2147483648LL, 4102444800LL};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void follow_transitions(const struct zone *zone, int64_t after)
{
    for (int i = 0; i < MAX_TRANSITIONS; i++) {
        int64_t next;
        int32_t offset;

        if (zone_next_transition(zone, after, &next) != 0 || next == INT64_MAX)
            return;
        if (next <= after)
            fuzz_fail("next transition %lld is not after %lld", (long long)next,
                      (long long)after);
        if (zone_offset_at(zone, next, &offset) == 0 &&
            (offset > MAX_OFFSET || offset < -MAX_OFFSET))
            fuzz_fail("offset %d at %lld is beyond a day", (int)offset,
                      (long long)next);
        after = next;
    }
}

static void resolve(const struct zone *zone, int64_t local)
{
    enum zone_resolution how;
    int64_t epoch;
    int32_t offset;

    if (zone_resolve_local(zone, local, &epoch, &how) != 0 || how == ZONE_GAP ||
        zone_offset_at(zone, epoch, &offset) != 0)
        return;
    if (epoch + offset != local)
        fuzz_fail("local time %lld resolved to %lld, where the offset %d "
                  "gives local time %lld",
                  (long long)local, (long long)epoch, (int)offset,
                  (long long)(epoch + offset));
}

static void use_zone(const struct zone *zone)
{
    struct cron_expr expr;
    char err[256];
    int64_t epoch;
    int64_t next;

    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        follow_transitions(zone, instants[i]);
        resolve(zone, instants[i]);
    }
    timestamp_parse("2026-03-29T02:30:00", zone, &epoch, err, sizeof err);
    timestamp_parse("2026-10-25T02:30:00", zone, &epoch, err, sizeof err);
    if (cron_parse("30 2 * * *", &expr, err, sizeof err) != 0)
        fuzz_fail("cron_parse: %s", err);
    cron_next(&expr, zone, FUZZ_NOW_MS / 1000, &next);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    struct zone *zone =
        zone_parse_tzif(data, size, "Fuzz/Zone", err, sizeof err);

    if (zone == NULL) {
        if (err[0] == '\0')
            fuzz_fail("zone_parse_tzif failed without a message");
        return 0;
    }
    use_zone(zone);
    zone_free(zone);
    return 0;
}
