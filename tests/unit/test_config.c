#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/config_parse.h"
#include "publish/adapter.h"
#include "test_support.h"

static const char *example_path(void)
{
    const char *source = getenv("PUBQ_SOURCE_DIR");
    static char path[4096];

    if (source != NULL && source[0] != '\0') {
        snprintf(path, sizeof path, "%s/pubq.example.conf", source);
        return path;
    }

    /* Run by hand: find the repository from this file's path. */
    snprintf(path, sizeof path, "%.*s/pubq.example.conf",
             (int)(strlen(__FILE__) - strlen("/tests/unit/test_config.c")),
             __FILE__);
    return path;
}

/* Writes text to a fresh pubq.conf and loads it. */
static int load_text(const char *text, struct pubq_config *config, char *err,
                     size_t errlen)
{
    const char *path = test_path(test_tmpdir(), "pubq.conf");

    test_write_file(path, text);
    return config_load(path, config, err, errlen);
}

static void config_example_loads(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const struct platform_config *outbox;

    (void)state;
    unsetenv("PUBQ_DATABASE");
    assert_int_equal(config_load(example_path(), &config, err, sizeof err), 0);
    assert_string_equal(err, "");

    assert_string_equal(config.database, "pubq.db");
    assert_int_equal(config.platform_count, 1);
    outbox = config_find_platform(&config, "outbox");
    assert_non_null(outbox);
    assert_string_equal(outbox->type, "file");
    assert_string_equal(platform_config_option(outbox, "path"), "outbox.jsonl");
    assert_int_equal(outbox->max_retries, 3);
    assert_int_equal(outbox->max_lateness_ms, 24LL * 3600 * 1000);
    assert_int_equal(outbox->on_unknown, ON_UNKNOWN_HOLD);
    assert_int_equal(outbox->concurrency, 1);
    assert_null(config_find_platform(&config, "blog"));
    config_free(&config);
}

/* A `key = value` line of the example, live or commented out. */
struct listed_key {
    char section[64]; /* "server", ..., or "platform" */
    char type[32];    /* the platform section's type; "" elsewhere */
    char key[64];
};

/* Characters of a key in the example: header_X-Team has more than a-z. */
#define KEY_CHARS                                                        \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

struct listed_keys {
    struct listed_key items[256];
    size_t count;
};

/*
 * Returns the line without one leading "# " when what follows is a
 * section header, a `key = value` line or another comment, so that the
 * options the example shows commented out can be parsed too.
 */
static const char *uncomment(const char *line)
{
    const char *rest;
    size_t word;

    if (strncmp(line, "# ", 2) != 0)
        return line;
    rest = line + 2;
    if (rest[0] == '[' || rest[0] == '#')
        return rest;
    word = strspn(rest, KEY_CHARS);
    if (word > 0 && strncmp(rest + word, " = ", 3) == 0)
        return rest;
    return line;
}

/* Uncomments the example's options and records every key with its section. */
static char *uncomment_example(const char *text, struct listed_keys *keys)
{
    char *out = calloc(1, strlen(text) + 1);
    char section[64] = "";
    char type[32] = "";
    const char *line = text;

    assert_non_null(out);
    while (*line != '\0') {
        size_t length = strcspn(line, "\n");
        char copy[512];
        const char *live;
        size_t word;

        assert_true(length < sizeof copy);
        memcpy(copy, line, length);
        copy[length] = '\0';
        live = uncomment(copy);
        strcat(out, live);
        strcat(out, "\n");

        word = strspn(live, KEY_CHARS);
        if (live[0] == '[') {
            sscanf(live, "[%63[a-z]", section);
            type[0] = '\0';
        } else if (word > 0 && strncmp(live + word, " = ", 3) == 0 &&
                   keys->count < sizeof keys->items / sizeof keys->items[0]) {
            struct listed_key *item = &keys->items[keys->count++];

            if (strncmp(live, "type = ", 7) == 0)
                snprintf(type, sizeof type, "%s", live + 7);
            snprintf(item->section, sizeof item->section, "%s", section);
            snprintf(item->type, sizeof item->type, "%s", type);
            snprintf(item->key, sizeof item->key, "%.*s", (int)word, live);
        }
        line += length + (line[length] == '\n');
    }
    return out;
}

static int is_listed(const struct listed_keys *keys, const char *section,
                     const char *key)
{
    for (size_t i = 0; i < keys->count; i++) {
        if (strcmp(keys->items[i].section, section) == 0 &&
            strcmp(keys->items[i].key, key) == 0)
            return 1;
    }
    return 0;
}

/*
 * Returns 1 when a platform section of `type` in the example sets
 * `option`. For an option ending in '*' (header_*), one key that starts
 * with the text before the '*' is enough.
 */
static int is_listed_for_type(const struct listed_keys *keys,
                              const char *type, const char *option)
{
    size_t length = strlen(option);
    int prefix = length > 0 && option[length - 1] == '*';

    for (size_t i = 0; i < keys->count; i++) {
        const struct listed_key *item = &keys->items[i];

        if (strcmp(item->section, "platform") != 0 ||
            strcmp(item->type, type) != 0)
            continue;
        if (prefix && strncmp(item->key, option, length - 1) == 0 &&
            item->key[length - 1] != '\0')
            return 1;
        if (!prefix && strcmp(item->key, option) == 0)
            return 1;
    }
    return 0;
}

/*
 * Every key the parser accepts is in the example, in its own section.
 * Every adapter's options (from its ops->options) are in a platform
 * section of its type. The example still loads with every commented-out
 * option turned on, so the parser accepts every value it lists.
 */
static void config_example_lists_every_key(void **state)
{
    char *text = test_read_file(example_path());
    struct listed_keys keys = {.count = 0};
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    enum config_section section;
    const struct adapter_ops *adapter;
    const char *key;
    char *live;

    (void)state;
    unsetenv("PUBQ_DATABASE");
    assert_non_null(text);
    live = uncomment_example(text, &keys);

    for (size_t i = 0; (key = config_keys_fixed(i, &section)) != NULL; i++) {
        if (!is_listed(&keys, config_section_name(section), key))
            fail_msg("pubq.example.conf does not list [%s] %s",
                     config_section_name(section), key);
    }
    for (size_t i = 0; (key = config_keys_platform(i)) != NULL; i++) {
        if (!is_listed(&keys, "platform", key))
            fail_msg("pubq.example.conf does not list platform key %s", key);
    }
    for (size_t i = 0; (adapter = adapter_at(i)) != NULL; i++) {
        if (!is_listed_for_type(&keys, adapter->type, "type"))
            fail_msg("pubq.example.conf has no [platform NAME] section "
                     "with type = %s",
                     adapter->type);
        for (size_t k = 0; adapter->options[k] != NULL; k++) {
            if (!is_listed_for_type(&keys, adapter->type, adapter->options[k]))
                fail_msg("pubq.example.conf does not list option %s of "
                         "type %s",
                         adapter->options[k], adapter->type);
        }
    }

    assert_int_equal(load_text(live, &config, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(
        adapter_check_all_option_names(&config, err, sizeof err), 0);
    assert_string_equal(err, "");
    config_free(&config);
    free(live);
    free(text);
}

/* Each value the example sets equals the built-in default. */
static void config_example_sets_defaults(void **state)
{
    struct pubq_config example;
    struct pubq_config none;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    unsetenv("PUBQ_DATABASE");
    assert_int_equal(config_load(example_path(), &example, err, sizeof err),
                     0);
    assert_int_equal(load_text("# nothing set\n", &none, err, sizeof err), 0);

    assert_string_equal(example.listen, none.listen);
    assert_null(example.api_token_env);
    assert_null(example.allowed_hosts);
    assert_int_equal(example.max_connections, none.max_connections);
    assert_int_equal(example.idle_timeout_ms, none.idle_timeout_ms);
    assert_int_equal(example.max_body_bytes, none.max_body_bytes);
    assert_string_equal(example.database, none.database);
    assert_null(example.node_id);
    assert_int_equal(example.lease_ms, none.lease_ms);
    assert_int_equal(example.claim_batch, none.claim_batch);
    assert_int_equal(example.retry.base_ms, none.retry.base_ms);
    assert_int_equal(example.retry.max_delay_ms, none.retry.max_delay_ms);
    assert_int_equal(example.retry.max_retries, none.retry.max_retries);
    assert_true(example.retry.jitter == none.retry.jitter);
    assert_int_equal(example.retry.max_hint_ms, none.retry.max_hint_ms);
    assert_int_equal(example.retry.max_rate_limit_wait_ms,
                     none.retry.max_rate_limit_wait_ms);
    assert_int_equal(example.max_in_flight, none.max_in_flight);
    assert_int_equal(example.claim_ahead_ms, none.claim_ahead_ms);
    assert_int_equal(example.shutdown_grace_ms, none.shutdown_grace_ms);
    assert_string_equal(example.sweeper_cron, none.sweeper_cron);
    assert_string_equal(example.sweeper_zone, none.sweeper_zone);
    assert_null(example.default_zone);
    assert_string_equal(example.log_level, none.log_level);
    config_free(&example);
    config_free(&none);
}

static void config_defaults(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    unsetenv("PUBQ_DATABASE");
    assert_int_equal(load_text("# nothing set\n", &config, err, sizeof err), 0);

    assert_string_equal(config.listen, "127.0.0.1:8080");
    assert_string_equal(config.database, "pubq.db");
    assert_null(config.node_id);
    assert_null(config.default_zone);
    assert_null(config.api_token_env);
    assert_string_equal(config.log_level, "info");
    assert_string_equal(config.sweeper_cron, "0 * * * *");
    assert_string_equal(config.sweeper_zone, "UTC");
    assert_int_equal(config.lease_ms, 5 * 60 * 1000);
    assert_int_equal(config.shutdown_grace_ms, 10 * 1000);
    assert_int_equal(config.claim_batch, 64);
    assert_int_equal(config.max_in_flight, 256);
    assert_int_equal(config.max_body_bytes, 1024 * 1024);
    assert_int_equal(config.retry.base_ms, 30 * 1000);
    assert_int_equal(config.retry.max_delay_ms, 3600 * 1000);
    assert_int_equal(config.retry.max_retries, 3);
    assert_int_equal(config.platform_count, 0);
    assert_non_null(strstr(config.path, "pubq.conf"));
    config_free(&config);
}

static void config_values_parsed(void **state)
{
    static const char text[] = "[platform mastodon-main]\n"
                               "  type = mastodon\n"
                               "  instance = https://mastodon.example\n"
                               "  access_token_env = MASTODON_TOKEN\n"
                               "  on_unknown = retry\n"
                               "  max_lateness = 0\n"
                               "  concurrency = 4\n"
                               "[retry]\n"
                               "base_delay = 500ms\n"
                               "max_delay = 2h\n"
                               "max_retries = 7\n"
                               "jitter = 0.25\n"
                               "[server]\n"
                               "listen = [::1]:9000 ; inline comment\n"
                               "max_body_bytes = 64KiB\n"
                               "api_token_env = PUBQ_API_TOKEN\n"
                               "[time]\n"
                               "default_zone = Europe/Berlin\n"
                               "[database]\n"
                               "url = postgres://pubq@127.0.0.1/pubq\n"
                               "node_id = node-a\n";
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const struct platform_config *mastodon;

    (void)state;
    unsetenv("PUBQ_DATABASE");
    assert_int_equal(load_text(text, &config, err, sizeof err), 0);

    mastodon = config_find_platform(&config, "mastodon-main");
    assert_non_null(mastodon);
    assert_int_equal(mastodon->line, 1);
    assert_int_equal(mastodon->max_retries, 7);
    assert_int_equal(mastodon->on_unknown, ON_UNKNOWN_RETRY);
    assert_int_equal(mastodon->max_lateness_ms, 0);
    assert_int_equal(mastodon->concurrency, 4);
    assert_int_equal(mastodon->option_count, 2);
    assert_string_equal(mastodon->options[0].key, "instance");
    assert_int_equal(mastodon->options[0].line, 3);
    assert_string_equal(platform_config_option(mastodon, "access_token_env"),
                        "MASTODON_TOKEN");

    assert_int_equal(config.retry.base_ms, 500);
    assert_int_equal(config.retry.max_delay_ms, 2 * 3600 * 1000);
    assert_true(config.retry.jitter == 0.25);
    assert_string_equal(config.listen, "[::1]:9000");
    assert_int_equal(config.max_body_bytes, 64 * 1024);
    assert_string_equal(config.api_token_env, "PUBQ_API_TOKEN");
    assert_string_equal(config.default_zone, "Europe/Berlin");
    assert_string_equal(config.database, "postgres://pubq@127.0.0.1/pubq");
    assert_string_equal(config.node_id, "node-a");
    config_free(&config);
}

static void config_long_platform_name(void **state)
{
    char name[64];
    char text[256];
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    memset(name, 'a', 63);
    name[63] = '\0';
    snprintf(text, sizeof text, "[platform %s]\ntype = file\n", name);

    assert_int_equal(load_text(text, &config, err, sizeof err), 0);
    assert_non_null(config_find_platform(&config, name));
    config_free(&config);
}

/* A list of variable names is an adapter option, not one *_env name. */
static void config_pass_environment_list(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    assert_int_equal(load_text("[platform hook]\ntype = command\n"
                               "program = /bin/true\n"
                               "pass_environment = FORUM_TOKEN, HTTPS_PROXY\n",
                               &config, err, sizeof err),
                     0);
    assert_string_equal(platform_config_option(
                            config_find_platform(&config, "hook"),
                            "pass_environment"),
                        "FORUM_TOKEN, HTTPS_PROXY");
    config_free(&config);
}

struct error_case {
    const char *text;
    const char *where; /* "pubq.conf:LINE: [SECTION] KEY" */
    const char *fix;   /* part of the problem or fix */
};

static const struct error_case error_cases[] = {
    {"[retry]\nbase_delay = 1s\nmax_delay = 1 hour\n",
     "pubq.conf:3: [retry] max_delay = \"1 hour\"",
     "invalid duration; use a number with a unit from 1ms to 30d, such as "
     "30s, 5m or 1h"},
    /* Each hint suggests only values inside the key's range. */
    {"[engine]\nclaim_ahead = 2\n", "pubq.conf:2: [engine] claim_ahead",
     "use a number with a unit from 0 to 1m, such as 2s, 10s or 30s"},
    {"[server]\nidle_timeout = 10\n", "pubq.conf:2: [server] idle_timeout",
     "from 1s to 1h, such as 30s, 5m or 1h"},
    {"[engine]\nshutdown_grace = ten\n",
     "pubq.conf:2: [engine] shutdown_grace",
     "from 0 to 1h, such as 30s, 5m or 1h"},
    {"[platform out]\ntype = file\nmax_lateness = 1\n",
     "pubq.conf:3: [platform out] max_lateness",
     "from 0 to 365d, such as 30s, 5m or 1h"},
    /* A key ending in _key is a secret only after a credential's word. */
    {"[server]\nbogus_key = 1\n", "pubq.conf:2: [server] bogus_key",
     "unknown key; check the spelling"},
    {"[retry]\nmax_retries = -1\n", "pubq.conf:2: [retry] max_retries",
     "use a whole number from 0 to 1000"},
    {"[retry]\njitter = 1.5\n", "pubq.conf:2: [retry] jitter",
     "use a number from 0 to 1"},
    {"[retry]\nbase_delay = 1m\nmax_delay = 10s\n",
     "pubq.conf:3: [retry] max_delay", "below base_delay 1m"},
    {"[server]\nlisten = 8080\n", "pubq.conf:2: [server] listen",
     "use HOST:PORT"},
    {"[server]\nlisten = 127.0.0.1:70000\n", "pubq.conf:2: [server] listen",
     "use HOST:PORT"},
    {"[server]\nmax_body_bytes = 10\n", "pubq.conf:2: [server] max_body_bytes",
     "invalid size"},
    {"[server]\napi_token_env = 1TOKEN\n",
     "pubq.conf:2: [server] api_token_env",
     "invalid environment variable name"},
    {"[server]\nlistn = 127.0.0.1:1\n", "pubq.conf:2: [server] listn",
     "unknown key; check the spelling"},
    {"[server]\nlevel = debug\n", "pubq.conf:2: [server] level",
     "it belongs in [log]"},
    {"[server]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n",
     "pubq.conf:3: [server] listen", "first set on line 2"},
    {"\n[servr]\nlisten = 127.0.0.1:1\n",
     "pubq.conf:2:", "unknown section [servr]"},
    {"[log]\n[log]\n", "pubq.conf:2: [log]", "duplicate section"},
    {"listen = 127.0.0.1:1\n", "pubq.conf:1: listen", "put it under [server]"},
    {"[log]\nlevel = loud\n", "pubq.conf:2: [log] level",
     "use debug, info, warn, error or off"},
    {"[log]\nlevel =\n", "pubq.conf:2: [log] level", "missing value"},
    {"[database]\nlease = 0\n", "pubq.conf:2: [database] lease",
     "use a value from 1s to 1d"},
    {"[database]\nclaim_batch = 0\n", "pubq.conf:2: [database] claim_batch",
     "from 1 to 10000"},
    {"[database]\nnode_id = node a\n", "pubq.conf:2: [database] node_id",
     "invalid node id"},
    {"[sweeper]\ncron = 0 * * *\n", "pubq.conf:2: [sweeper] cron",
     "expected 5 fields"},
    {"[sweeper]\ncron = 0 25 * * *\n", "pubq.conf:2: [sweeper] cron", "hour"},
    {"[sweeper]\ncron = 0 0 31 2 *\n",
     "pubq.conf:2: [sweeper] cron = \"0 0 31 2 *\"",
     "never matches in zone UTC"},
    {"[sweeper]\nzone = Europe/Berlin\ncron = 0 0 30 2 *\n",
     "pubq.conf:3: [sweeper] cron = \"0 0 30 2 *\"",
     "never matches in zone Europe/Berlin"},
    {"[platform hook]\ntype = webhook\nheader_X-A:B = v\n",
     "pubq.conf:3: [platform hook]",
     "invalid line \"header_X-A:B = v\": ':' in a key"},
    {"[log]\nlevel: debug\n", "pubq.conf:2: [log]", "write key = value"},
    {"[time]\ndefault_zone = Mars/Olympus\n",
     "pubq.conf:2: [time] default_zone", "Mars/Olympus"},
    {"[log]\nlevel info\n", "pubq.conf:2:", "invalid line"},
    {"[log\nlevel = info\n", "pubq.conf:1:", "invalid section header"},
    {"[platform blog]\ntype = file\n[platform blog]\ntype = file\n",
     "pubq.conf:3: [platform blog]", "first defined on line 1"},
    {"[platform Blog]\ntype = file\n", "pubq.conf:1: [platform Blog]",
     "invalid platform name"},
    {"[platform]\ntype = file\n", "pubq.conf:1: [platform]",
     "missing platform name"},
    {"[platform blog]\npath = x\n", "pubq.conf:1: [platform blog]",
     "missing type; add type = file"},
    {"[platform blog]\ntype = myspace\n", "pubq.conf:2: [platform blog] type",
     "unknown platform type"},
    {"[platform blog]\ntype = file\non_unknown = skip\n",
     "pubq.conf:3: [platform blog] on_unknown", "use hold or retry"},
    {"[platform blog]\ntype = file\nmax_lateness = 1 day\n",
     "pubq.conf:3: [platform blog] max_lateness", "invalid duration"},
    {"[platform blog]\ntype = file\nconcurrency = 0\n",
     "pubq.conf:3: [platform blog] concurrency", "from 1 to 1024"},
    {"[platform blog]\ntype = file\ntype = file\n",
     "pubq.conf:3: [platform blog] type", "first set on line 2"},
    {"[platform blog]\ntype = file\npath = a\npath = b\n",
     "pubq.conf:4: [platform blog] path", "duplicate key"},
    {"[platform blog]\ntype = file\n"
     "a_very_long_option_name_that_libinih_would_cut_short = 1\n",
     "pubq.conf:3: [platform blog]", "longer than 49 characters"},
    {"[platform blog]\ntype = wordpress\nuser_env = my-user\n",
     "pubq.conf:3: [platform blog] user_env",
     "invalid environment variable name"},
};

static void config_errors_name_line_and_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const struct error_case *c = &error_cases[i];
        struct pubq_config config;
        char err[CONFIG_ERR_MAX] = "";

        print_message("case %zu: %s\n", i, c->where);
        assert_int_equal(load_text(c->text, &config, err, sizeof err), -1);
        print_message("  -> %s\n", err);
        assert_non_null(strstr(err, c->where));
        assert_non_null(strstr(err, c->fix));
        assert_null(config.platforms);
        assert_null(config.path);
    }
}

static void config_secrets_rejected(void **state)
{
    static const char *const keys[] = {
        "token",        "password",     "api_key",     "access_token",
        "secret",       "apikey",       "app_password", "signing_key",
        "key",          "private_key",  "webhook_url", "bot_token"};

    (void)state;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char text[256];
        char where[128];
        char fix[128];
        struct pubq_config config;
        char err[CONFIG_ERR_MAX] = "";

        snprintf(text, sizeof text,
                 "[platform m]\ntype = mastodon\n%s = hunter2\n", keys[i]);
        snprintf(where, sizeof where, "pubq.conf:3: [platform m] %s", keys[i]);
        snprintf(fix, sizeof fix, "name it with %s_env = VARNAME", keys[i]);

        assert_int_equal(load_text(text, &config, err, sizeof err), -1);
        assert_non_null(strstr(err, where));
        assert_non_null(strstr(err, "put the secret in an environment "
                                    "variable"));
        assert_non_null(strstr(err, fix));
        assert_null(strstr(err, "hunter2"));
    }
}

/* Terminal escape sequences in the file reach messages as \x1b text. */
static void config_escapes_control_chars(void **state)
{
    static const struct {
        const char *text;
        const char *expected;
    } cases[] = {
        {"[log]\nlevel = \x1b[31mred\n",
         "pubq.conf:2: [log] level = \"\\x1b[31mred\": unknown log level"},
        {"[se\x1bver]\n", "unknown section [se\\x1bver]"},
        {"[log]\nlev\177\001el info\n",
         "invalid line \"lev\\x7f\\x01el info\""},
        {"[log]\nlevel = \302\23331m\n", "level = \"\\u009b31m\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pubq_config config;
        char err[CONFIG_ERR_MAX] = "";

        assert_int_equal(load_text(cases[i].text, &config, err, sizeof err),
                         -1);
        print_message("  -> %s\n", err);
        assert_non_null(strstr(err, cases[i].expected));
        assert_null(strchr(err, 0x1b));
        assert_null(strchr(err, 0x7f));
        assert_null(strchr(err, 0x01));
        assert_null(strstr(err, "\xc2\x9b"));
    }
}

static void config_skips_byte_order_mark(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    assert_int_equal(load_text("\xEF\xBB\xBF[log]\nlevel = debug\n", &config,
                               err, sizeof err),
                     0);
    assert_string_equal(err, "");
    assert_string_equal(config.log_level, "debug");
    config_free(&config);

    /* Only at the very start: elsewhere it is text like any other. */
    assert_int_equal(load_text("[log]\n\xEF\xBB\xBFlevel = debug\n", &config,
                               err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "pubq.conf:2: [log]"));
}

static void config_directory_named(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const char *dir = test_tmpdir();

    (void)state;
    assert_int_equal(config_load(dir, &config, err, sizeof err), -1);
    print_message("  -> %s\n", err);
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "is a directory; name the configuration "
                                "file"));
    assert_null(config.path);
}

static void config_missing_file(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";
    const char *path = test_path(test_tmpdir(), "absent.conf");

    (void)state;
    assert_int_equal(config_load(path, &config, err, sizeof err), -1);
    assert_non_null(strstr(err, "absent.conf: failed to open"));
}

static void config_database_env_override(void **state)
{
    struct pubq_config config;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    setenv("PUBQ_DATABASE", "sqlite:/var/lib/pubq/queue.db", 1);
    assert_int_equal(
        load_text("[database]\nurl = other.db\n", &config, err, sizeof err), 0);
    assert_string_equal(config.database, "sqlite:/var/lib/pubq/queue.db");
    config_free(&config);

    setenv("PUBQ_DATABASE", "", 1);
    assert_int_equal(
        load_text("[database]\nurl = other.db\n", &config, err, sizeof err), 0);
    assert_string_equal(config.database, "other.db");
    config_free(&config);
    unsetenv("PUBQ_DATABASE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_example_loads),
        cmocka_unit_test(config_example_lists_every_key),
        cmocka_unit_test(config_example_sets_defaults),
        cmocka_unit_test(config_defaults),
        cmocka_unit_test(config_values_parsed),
        cmocka_unit_test(config_long_platform_name),
        cmocka_unit_test(config_pass_environment_list),
        cmocka_unit_test(config_errors_name_line_and_key),
        cmocka_unit_test(config_secrets_rejected),
        cmocka_unit_test(config_escapes_control_chars),
        cmocka_unit_test(config_skips_byte_order_mark),
        cmocka_unit_test(config_directory_named),
        cmocka_unit_test(config_missing_file),
        cmocka_unit_test(config_database_env_override),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
