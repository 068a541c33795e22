#include "config/config_parse.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config_value.h"
#include "core/cron.h"
#include "core/timestamp.h"
#include "core/zone.h"
#include "util/log.h"
#include "util/banned.h"

#define SECOND_MS 1000LL
#define HOUR_MS (3600 * SECOND_MS)
#define DAY_MS (24 * HOUR_MS)
#define MIN_BODY_BYTES 1024
#define MAX_BODY_BYTES (1024 * 1024 * 1024)
#define MAX_RETRIES_LIMIT 1000

enum value_kind {
    VALUE_STRING,
    VALUE_LISTEN,
    VALUE_ENV_NAME,
    VALUE_BYTES, /* size_t */
    VALUE_NODE_ID,
    VALUE_DURATION, /* int64_t milliseconds */
    VALUE_COUNT,    /* uint32_t */
    VALUE_FRACTION, /* double */
    VALUE_CRON,
    VALUE_ZONE,
    VALUE_LOG_LEVEL,
    VALUE_HOST_LIST,
};

/* A key of a fixed section and the field of struct pubq_config it sets. */
struct fixed_key {
    enum config_section section;
    const char *name;
    enum value_kind kind;
    size_t offset;
    int64_t min; /* durations and counts only */
    int64_t max;
};

#define FIELD(member) offsetof(struct pubq_config, member)

static const struct fixed_key fixed_keys[] = {
    {SECTION_SERVER, "listen", VALUE_LISTEN, FIELD(listen), 0, 0},
    {SECTION_SERVER, "api_token_env", VALUE_ENV_NAME, FIELD(api_token_env), 0,
     0},
    {SECTION_SERVER, "max_body_bytes", VALUE_BYTES, FIELD(max_body_bytes),
     MIN_BODY_BYTES, MAX_BODY_BYTES},
    {SECTION_SERVER, "allowed_hosts", VALUE_HOST_LIST, FIELD(allowed_hosts),
     0, 0},
    {SECTION_SERVER, "max_connections", VALUE_COUNT, FIELD(max_connections),
     1, 65536},
    {SECTION_SERVER, "idle_timeout", VALUE_DURATION, FIELD(idle_timeout_ms),
     SECOND_MS, HOUR_MS},
    {SECTION_DATABASE, "url", VALUE_STRING, FIELD(database), 0, 0},
    {SECTION_DATABASE, "node_id", VALUE_NODE_ID, FIELD(node_id), 0, 0},
    {SECTION_DATABASE, "lease", VALUE_DURATION, FIELD(lease_ms), SECOND_MS,
     DAY_MS},
    {SECTION_DATABASE, "claim_batch", VALUE_COUNT, FIELD(claim_batch), 1,
     10000},
    {SECTION_RETRY, "base_delay", VALUE_DURATION, FIELD(retry.base_ms), 1,
     DAY_MS},
    {SECTION_RETRY, "max_delay", VALUE_DURATION, FIELD(retry.max_delay_ms), 1,
     30 * DAY_MS},
    {SECTION_RETRY, "max_retries", VALUE_COUNT, FIELD(retry.max_retries), 0,
     MAX_RETRIES_LIMIT},
    {SECTION_RETRY, "jitter", VALUE_FRACTION, FIELD(retry.jitter), 0, 0},
    {SECTION_RETRY, "max_hint", VALUE_DURATION, FIELD(retry.max_hint_ms), 0,
     30 * DAY_MS},
    {SECTION_RETRY, "max_rate_limit_wait", VALUE_DURATION,
     FIELD(retry.max_rate_limit_wait_ms), 0, 30 * DAY_MS},
    {SECTION_ENGINE, "max_in_flight", VALUE_COUNT, FIELD(max_in_flight), 1,
     65536},
    {SECTION_ENGINE, "claim_ahead", VALUE_DURATION, FIELD(claim_ahead_ms), 0,
     60 * SECOND_MS},
    {SECTION_ENGINE, "shutdown_grace", VALUE_DURATION, FIELD(shutdown_grace_ms),
     0, HOUR_MS},
    {SECTION_SWEEPER, "cron", VALUE_CRON, FIELD(sweeper_cron), 0, 0},
    {SECTION_SWEEPER, "zone", VALUE_ZONE, FIELD(sweeper_zone), 0, 0},
    {SECTION_TIME, "default_zone", VALUE_ZONE, FIELD(default_zone), 0, 0},
    {SECTION_LOG, "level", VALUE_LOG_LEVEL, FIELD(log_level), 0, 0},
};

#define FIXED_KEY_COUNT (sizeof fixed_keys / sizeof fixed_keys[0])

_Static_assert(FIXED_KEY_COUNT <= CONFIG_KEY_SLOTS,
               "CONFIG_KEY_SLOTS is too small for the key table");

/* The keys every platform section takes; adapter options come on top. */
static const char *const platform_keys[] = {
    "type", "max_retries", "max_lateness", "on_unknown", "concurrency"};

_Static_assert(sizeof platform_keys / sizeof platform_keys[0] ==
                   sizeof(struct platform_key_lines) / sizeof(int),
               "platform_keys must name every field of platform_key_lines");

static const char *const platform_types[] = {
    "file",    "webhook", "command",  "mastodon",  "bluesky",
    "discord", "slack",   "telegram", "wordpress", "smtp"};

#define PLATFORM_TYPE_LIST                                                     \
    "file, webhook, command, mastodon, bluesky, discord, slack, telegram, "    \
    "wordpress or smtp"

static const struct fixed_key *find_fixed_key(enum config_section section,
                                              const char *name)
{
    for (size_t i = 0; i < FIXED_KEY_COUNT; i++) {
        if (fixed_keys[i].section == section &&
            strcmp(fixed_keys[i].name, name) == 0)
            return &fixed_keys[i];
    }
    return NULL;
}

const char *config_keys_fixed(size_t index, enum config_section *section)
{
    if (index >= FIXED_KEY_COUNT)
        return NULL;
    *section = fixed_keys[index].section;
    return fixed_keys[index].name;
}

const char *config_keys_platform(size_t index)
{
    if (index >= sizeof platform_keys / sizeof platform_keys[0])
        return NULL;
    return platform_keys[index];
}

enum config_section config_keys_section_of(const char *key)
{
    for (size_t i = 0; i < FIXED_KEY_COUNT; i++) {
        if (strcmp(fixed_keys[i].name, key) == 0)
            return fixed_keys[i].section;
    }
    return SECTION_NONE;
}

static int set_string(struct config_parser *parser, char **field,
                      const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return config_parser_fail(parser, parser->line, NULL, NULL,
                                  "out of memory");
    free(*field);
    *field = copy;
    return 0;
}

/*
 * Writes up to three example durations from [min, max] to out, in
 * ascending order, as "2s, 10s or 30s", so that a hint never suggests a
 * value the key rejects.
 */
static void format_duration_examples(int64_t min, int64_t max, char *out,
                                     size_t size)
{
    /* Most familiar first; the first three in range are shown. */
    static const int64_t candidates[] = {
        30 * 1000,   5 * 60 * 1000, 3600 * 1000, 10 * 1000, 2 * 1000,
        500,         DAY_MS,        7 * DAY_MS,  100,       1};
    int64_t chosen[3];
    size_t count = 0;
    char text[3][32];

    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] &&
                       count < sizeof chosen / sizeof chosen[0];
         i++) {
        if (candidates[i] >= min && candidates[i] <= max)
            chosen[count++] = candidates[i];
    }

    /* Insertion sort: at most three values. */
    for (size_t i = 1; i < count; i++) {
        for (size_t j = i; j > 0 && chosen[j - 1] > chosen[j]; j--) {
            int64_t swap = chosen[j];

            chosen[j] = chosen[j - 1];
            chosen[j - 1] = swap;
        }
    }

    for (size_t i = 0; i < count; i++)
        config_format_duration(chosen[i], text[i], sizeof text[i]);
    if (count == 3)
        snprintf(out, size, "%s, %s or %s", text[0], text[1], text[2]);
    else if (count == 2)
        snprintf(out, size, "%s or %s", text[0], text[1]);
    else if (count == 1)
        snprintf(out, size, "%s", text[0]);
    else
        config_format_duration(max, out, size);
}

static int parse_duration(struct config_parser *parser, const char *key,
                          const char *value, int64_t min, int64_t max,
                          int64_t *out)
{
    char detail[256];
    char examples[128];
    char low[32];
    char high[32];
    int64_t ms;

    config_format_duration(min, low, sizeof low);
    config_format_duration(max, high, sizeof high);
    if (timestamp_parse_duration(value, &ms, detail, sizeof detail) != 0) {
        format_duration_examples(min, max, examples, sizeof examples);
        return config_parser_fail(parser, parser->line, key, value,
                                  "invalid duration; use a number with a "
                                  "unit from %s to %s, such as %s",
                                  low, high, examples);
    }

    if (ms < min || ms > max) {
        return config_parser_fail(parser, parser->line, key, value,
                                  "duration out of range; use a value from "
                                  "%s to %s",
                                  low, high);
    }
    *out = ms;
    return 0;
}

static int parse_count(struct config_parser *parser, const char *key,
                       const char *value, int64_t min, int64_t max,
                       uint32_t *out)
{
    uint64_t number;

    if (config_parse_unsigned(value, (uint64_t)min, (uint64_t)max, &number) !=
        0)
        return config_parser_fail(parser, parser->line, key, value,
                                  "invalid number; use a whole number from "
                                  "%lld to %lld",
                                  (long long)min, (long long)max);
    *out = (uint32_t)number;
    return 0;
}

static int check_zone(struct config_parser *parser, const char *key,
                      const char *value)
{
    char detail[256];
    struct zone *zone = zone_load(value, detail, sizeof detail);

    if (zone == NULL)
        return config_parser_fail(parser, parser->line, key, value, "%s",
                                  detail);
    zone_free(zone);
    return 0;
}

static int check_cron(struct config_parser *parser, const char *key,
                      const char *value)
{
    char detail[256];
    struct cron_expr expr;

    if (cron_parse(value, &expr, detail, sizeof detail) != 0)
        return config_parser_fail(parser, parser->line, key, value, "%s",
                                  detail);
    return 0;
}

/* Checks a text value of the given kind; 0 when it may be stored. */
/*
 * Returns 1 for a non-empty comma-separated list of host names or IPv4
 * addresses (letters, digits, '.', '-') or bracketed IPv6 addresses.
 */
static int is_host_list(const char *value)
{
    static const char name_chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
    static const char v6_chars[] = "0123456789abcdefABCDEF:.";
    int names = 0;

    while (*value != '\0') {
        size_t length;

        value += strspn(value, " \t");
        if (value[0] == '[') {
            length = strspn(value + 1, v6_chars);
            if (length == 0 || value[length + 1] != ']')
                return 0;
            length += 2;
        } else {
            length = strspn(value, name_chars);
        }
        if (length == 0 || length > 253)
            return 0;
        value += length;
        value += strspn(value, " \t");
        if (*value != '\0' && *value++ != ',')
            return 0;
        names++;
    }
    return names > 0;
}

static int check_text(struct config_parser *parser, const char *key,
                      enum value_kind kind, const char *value)
{
    enum log_level level;
    int ok = 1;
    const char *fix = "";

    switch (kind) {
    case VALUE_LISTEN:
        ok = config_check_listen(value) == 0;
        fix = "invalid address; use HOST:PORT such as 127.0.0.1:8080";
        break;
    case VALUE_ENV_NAME:
        ok = config_is_env_name(value);
        fix = "invalid environment variable name; use letters, digits and "
              "_, not starting with a digit";
        break;
    case VALUE_NODE_ID:
        ok = config_is_node_id(value);
        fix = "invalid node id; use 1 to 63 characters from A-Z, a-z, 0-9, "
              "., _ and -";
        break;
    case VALUE_CRON:
        return check_cron(parser, key, value);
    case VALUE_ZONE:
        return check_zone(parser, key, value);
    case VALUE_LOG_LEVEL:
        ok = log_level_parse(value, &level) == 0;
        fix = "unknown log level; use debug, info, warn, error or off";
        break;
    case VALUE_HOST_LIST:
        ok = is_host_list(value);
        fix = "invalid host list; use host names without ports, separated "
              "by commas, such as pubq.example.org, 10.0.0.5";
        break;
    default:
        break;
    }
    if (!ok)
        return config_parser_fail(parser, parser->line, key, value, "%s", fix);
    return 0;
}

static int set_fixed_value(struct config_parser *parser,
                           const struct fixed_key *entry, const char *value)
{
    char *field = (char *)parser->config + entry->offset;
    uint64_t bytes;

    switch (entry->kind) {
    case VALUE_DURATION:
        return parse_duration(parser, entry->name, value, entry->min,
                              entry->max, (int64_t *)(void *)field);
    case VALUE_COUNT:
        return parse_count(parser, entry->name, value, entry->min, entry->max,
                           (uint32_t *)(void *)field);
    case VALUE_FRACTION:
        if (config_parse_fraction(value, (double *)(void *)field) != 0)
            return config_parser_fail(parser, parser->line, entry->name, value,
                                      "invalid fraction; use a number from "
                                      "0 to 1 such as 0.2");
        return 0;
    case VALUE_BYTES:
        if (config_parse_bytes(value, &bytes) != 0 ||
            bytes < (uint64_t)entry->min || bytes > (uint64_t)entry->max)
            return config_parser_fail(
                parser, parser->line, entry->name, value,
                "invalid size; use a whole number of bytes from 1024 to "
                "1073741824, optionally with the unit KiB or MiB");
        *(size_t *)(void *)field = (size_t)bytes;
        return 0;
    default:
        if (check_text(parser, entry->name, entry->kind, value) != 0)
            return -1;
        return set_string(parser, (char **)(void *)field, value);
    }
}

static int fail_unknown_key(struct config_parser *parser, const char *key,
                            const char *value)
{
    enum config_section home = config_keys_section_of(key);
    char keys[512] = "";
    size_t used = 0;

    if (home != SECTION_NONE)
        return config_parser_fail(parser, parser->line, key, value,
                                  "unknown key in this section; it belongs "
                                  "in [%s]",
                                  config_section_name(home));

    for (size_t i = 0; i < FIXED_KEY_COUNT; i++) {
        if (fixed_keys[i].section != parser->section)
            continue;
        used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s",
                                 used == 0 ? "" : ", ", fixed_keys[i].name);
        if (used >= sizeof keys)
            break;
    }
    return config_parser_fail(parser, parser->line, key, value,
                              "unknown key; check the spelling (the keys "
                              "of [%s] are %s)",
                              parser->section_label, keys);
}

static int set_fixed_key(struct config_parser *parser, const char *key,
                         const char *value)
{
    const struct fixed_key *entry = find_fixed_key(parser->section, key);
    size_t index;

    if (entry == NULL)
        return fail_unknown_key(parser, key, value);

    index = (size_t)(entry - fixed_keys);
    if (parser->key_lines[index] != 0)
        return config_parser_fail(parser, parser->line, key, value,
                                  "duplicate key, first set on line %d; "
                                  "keep one of the two",
                                  parser->key_lines[index]);
    parser->key_lines[index] = parser->line;
    return set_fixed_value(parser, entry, value);
}

static int set_platform_type(struct config_parser *parser,
                             struct platform_config *platform,
                             const char *value)
{
    for (size_t i = 0; i < sizeof platform_types / sizeof platform_types[0];
         i++) {
        if (strcmp(value, platform_types[i]) == 0)
            return set_string(parser, &platform->type, value);
    }
    return config_parser_fail(parser, parser->line, "type", value,
                              "unknown platform type; use " PLATFORM_TYPE_LIST);
}

static int set_on_unknown(struct config_parser *parser,
                          struct platform_config *platform, const char *value)
{
    if (strcmp(value, "hold") == 0)
        platform->on_unknown = ON_UNKNOWN_HOLD;
    else if (strcmp(value, "retry") == 0)
        platform->on_unknown = ON_UNKNOWN_RETRY;
    else
        return config_parser_fail(parser, parser->line, "on_unknown", value,
                                  "invalid value; use hold or retry");
    return 0;
}

static int add_option(struct config_parser *parser,
                      struct platform_config *platform, const char *key,
                      const char *value)
{
    struct config_option *options;
    struct config_option *option;

    if (platform_config_option(platform, key) != NULL)
        return config_parser_fail(parser, parser->line, key, value,
                                  "duplicate key; keep one of the two");

    if (config_is_env_key(key) &&
        check_text(parser, key, VALUE_ENV_NAME, value) != 0)
        return -1;

    options = realloc(platform->options,
                      (platform->option_count + 1) * sizeof *options);
    if (options == NULL)
        return config_parser_fail(parser, parser->line, NULL, NULL,
                                  "out of memory");
    platform->options = options;

    option = &options[platform->option_count];
    option->key = strdup(key);
    option->value = strdup(value);
    option->line = parser->line;
    if (option->key == NULL || option->value == NULL) {
        free(option->key);
        free(option->value);
        return config_parser_fail(parser, parser->line, NULL, NULL,
                                  "out of memory");
    }
    platform->option_count++;
    return 0;
}

/* Returns the line slot of a known platform key, or NULL for an option. */
static int *platform_key_line(struct platform_key_lines *lines, const char *key)
{
    if (strcmp(key, "type") == 0)
        return &lines->type;
    if (strcmp(key, "max_retries") == 0)
        return &lines->max_retries;
    if (strcmp(key, "max_lateness") == 0)
        return &lines->max_lateness;
    if (strcmp(key, "on_unknown") == 0)
        return &lines->on_unknown;
    if (strcmp(key, "concurrency") == 0)
        return &lines->concurrency;
    return NULL;
}

static int set_platform_key(struct config_parser *parser, const char *key,
                            const char *value)
{
    struct platform_config *platform =
        &parser->config->platforms[parser->platform_index];
    int *line =
        platform_key_line(&parser->platform_lines[parser->platform_index], key);

    if (line == NULL)
        return add_option(parser, platform, key, value);

    if (*line != 0)
        return config_parser_fail(parser, parser->line, key, value,
                                  "duplicate key, first set on line %d; "
                                  "keep one of the two",
                                  *line);
    *line = parser->line;

    if (strcmp(key, "type") == 0)
        return set_platform_type(parser, platform, value);
    if (strcmp(key, "max_retries") == 0)
        return parse_count(parser, key, value, 0, MAX_RETRIES_LIMIT,
                           &platform->max_retries);
    if (strcmp(key, "max_lateness") == 0)
        return parse_duration(parser, key, value, 0, 365 * DAY_MS,
                              &platform->max_lateness_ms);
    if (strcmp(key, "on_unknown") == 0)
        return set_on_unknown(parser, platform, value);
    return parse_count(parser, key, value, 1, 1024, &platform->concurrency);
}

int config_keys_set(struct config_parser *parser, const char *key,
                    const char *value)
{
    enum config_section home;

    if (config_is_secret_key(key))
        return config_parser_fail(
            parser, parser->line, key, NULL,
            "secrets do not belong in the configuration file; put the "
            "secret in an environment variable and name it with "
            "%s_env = VARNAME",
            key);

    if (parser->section == SECTION_NONE) {
        home = config_keys_section_of(key);
        if (home != SECTION_NONE)
            return config_parser_fail(parser, parser->line, key, value,
                                      "key outside any section; put it "
                                      "under [%s]",
                                      config_section_name(home));
        return config_parser_fail(parser, parser->line, key, value,
                                  "unknown key outside any section; put "
                                  "keys under a section such as [server]");
    }

    if (value[0] == '\0')
        return config_parser_fail(parser, parser->line, key, NULL,
                                  "missing value; write %s = VALUE or "
                                  "delete the line",
                                  key);

    if (parser->section == SECTION_PLATFORM)
        return set_platform_key(parser, key, value);
    return set_fixed_key(parser, key, value);
}

static int finish_platforms(struct config_parser *parser)
{
    struct pubq_config *config = parser->config;

    for (size_t i = 0; i < config->platform_count; i++) {
        struct platform_config *platform = &config->platforms[i];

        if (platform->type == NULL) {
            parser->section = SECTION_PLATFORM;
            snprintf(parser->section_label, sizeof parser->section_label,
                     "platform %s", platform->name);
            return config_parser_fail(parser, platform->line, NULL, NULL,
                                      "missing type; add type = "
                                      "file (or another of webhook, "
                                      "command, mastodon, bluesky, "
                                      "discord, slack, telegram, "
                                      "wordpress, smtp)");
        }
        if (parser->platform_lines[i].max_retries == 0)
            platform->max_retries = config->retry.max_retries;
    }
    return 0;
}

static int finish_retry(struct config_parser *parser)
{
    const struct retry_policy *retry = &parser->config->retry;
    const struct fixed_key *max_delay =
        find_fixed_key(SECTION_RETRY, "max_delay");
    int line = parser->key_lines[max_delay - fixed_keys];
    char base[32];
    char cap[32];
    char detail[256];

    parser->section = SECTION_RETRY;
    snprintf(parser->section_label, sizeof parser->section_label, "retry");
    if (line == 0)
        line = parser->section_lines[SECTION_RETRY];

    if (retry->max_delay_ms < retry->base_ms) {
        config_format_duration(retry->base_ms, base, sizeof base);
        config_format_duration(retry->max_delay_ms, cap, sizeof cap);
        return config_parser_fail(parser, line, "max_delay", cap,
                                  "max_delay is below base_delay %s; raise "
                                  "max_delay or lower base_delay",
                                  base);
    }

    if (retry_policy_check(retry, detail, sizeof detail) != 0)
        return config_parser_fail(parser, line, NULL, NULL, "%s", detail);
    return 0;
}

/*
 * Rejects a cron expression that parses but never fires, such as
 * "0 0 31 2 *", because the sweeper would never run. The check waits
 * until the end of the file because [sweeper] zone may follow cron.
 */
static int finish_sweeper(struct config_parser *parser)
{
    const struct pubq_config *config = parser->config;
    const struct fixed_key *cron = find_fixed_key(SECTION_SWEEPER, "cron");
    char detail[256];
    struct cron_expr expr;
    struct zone *zone;
    int64_t next;
    int found;

    parser->section = SECTION_SWEEPER;
    snprintf(parser->section_label, sizeof parser->section_label, "sweeper");

    /* Each line was checked when read; these fail only without memory. */
    zone = zone_load(config->sweeper_zone, detail, sizeof detail);
    if (zone == NULL ||
        cron_parse(config->sweeper_cron, &expr, detail, sizeof detail) != 0) {
        zone_free(zone);
        return config_parser_fail(parser, 0, NULL, NULL, "%s", detail);
    }
    found = cron_next(&expr, zone, (int64_t)time(NULL), &next) == 0;
    zone_free(zone);
    if (found)
        return 0;

    return config_parser_fail(parser, parser->key_lines[cron - fixed_keys],
                              "cron", config->sweeper_cron,
                              "the expression never matches in zone %s "
                              "within %d years; pick a day that exists in "
                              "the month, such as 0 0 28 2 *",
                              config->sweeper_zone, CRON_SEARCH_YEARS);
}

int config_keys_finish(struct config_parser *parser)
{
    if (finish_platforms(parser) != 0 || finish_retry(parser) != 0)
        return -1;
    return finish_sweeper(parser);
}
