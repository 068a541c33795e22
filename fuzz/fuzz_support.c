#include "fuzz_support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#include "util/banned.h"

#define MAX_TEMP_FILES 8

/*
 * Every platform points at port 9 on loopback, which no target connects
 * to: fuzz_adapter_replies sends curl to a Unix socket instead.
 */
static const char config_text[] =
    "[server]\n"
    "listen = 127.0.0.1:8080\n"
    "max_body_bytes = 1MiB\n"
    "[database]\n"
    "url = pubq-fuzz.db\n"
    "[platform outbox]\n"
    "type = file\n"
    "path = outbox.jsonl\n"
    "[platform mastodon]\n"
    "type = mastodon\n"
    "instance = http://127.0.0.1:9\n"
    "access_token_env = PUBQ_FUZZ_MASTODON_TOKEN\n"
    "[platform bluesky]\n"
    "type = bluesky\n"
    "service = http://127.0.0.1:9\n"
    "handle = alice.test\n"
    "app_password_env = PUBQ_FUZZ_BLUESKY_PASSWORD\n"
    "[platform discord]\n"
    "type = discord\n"
    "webhook_url_env = PUBQ_FUZZ_DISCORD_HOOK\n"
    "[platform telegram]\n"
    "type = telegram\n"
    "api_base = http://127.0.0.1:9\n"
    "bot_token_env = PUBQ_FUZZ_TELEGRAM_TOKEN\n"
    "chat_id = -1001234\n"
    "max_retries = 5\n"
    "[platform slack]\n"
    "type = slack\n"
    "webhook_url_env = PUBQ_FUZZ_SLACK_HOOK\n"
    "[platform webhook]\n"
    "type = webhook\n"
    "url = http://127.0.0.1:9/hook\n"
    "secret_env = PUBQ_FUZZ_WEBHOOK_SECRET\n"
    "[platform wordpress]\n"
    "type = wordpress\n"
    "site = http://127.0.0.1:9\n"
    "username = editor\n"
    "app_password_env = PUBQ_FUZZ_WORDPRESS_PASSWORD\n";

/* Fake credentials: long enough for the adapters' redaction to apply. */
static const char *const secrets[][2] = {
    {"PUBQ_FUZZ_MASTODON_TOKEN", "mastodon-token-0123456789"},
    {"PUBQ_FUZZ_BLUESKY_PASSWORD", "abcd-efgh-ijkl-mnop"},
    {"PUBQ_FUZZ_DISCORD_HOOK",
     "http://127.0.0.1:9/api/webhooks/1180000000000000042/hT0k3n-9f8e7d6c"},
    {"PUBQ_FUZZ_TELEGRAM_TOKEN", "123456:TEST-secret_token"},
    {"PUBQ_FUZZ_SLACK_HOOK",
     "http://127.0.0.1:9/services/T0000/B0000/XXXXXXXXXXXXXXXX"},
    {"PUBQ_FUZZ_WEBHOOK_SECRET", "webhook-secret-0123456789"},
    {"PUBQ_FUZZ_WORDPRESS_PASSWORD", "abcd EFGH 1234 ijkl"},
};

static char temp_dir[64];
static char *temp_files[MAX_TEMP_FILES];
static size_t temp_file_count;

void fuzz_fail(const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    abort();
}

char *fuzz_string(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    if (text == NULL)
        fuzz_fail("out of memory copying %zu bytes", size);
    if (size > 0)
        memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

static void temp_remove_all(void)
{
    for (size_t i = 0; i < temp_file_count; i++) {
        unlink(temp_files[i]);
        free(temp_files[i]);
    }
    temp_file_count = 0;
    if (temp_dir[0] != '\0')
        rmdir(temp_dir);
}

static void temp_dir_create(void)
{
    const char *base = getenv("TMPDIR");

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if ((size_t)snprintf(temp_dir, sizeof temp_dir, "%s/pubq-fuzz-XXXXXX",
                         base) >= sizeof temp_dir)
        fuzz_fail("TMPDIR %s is too long", base);
    if (mkdtemp(temp_dir) == NULL)
        fuzz_fail("cannot create a directory in %s", base);
    atexit(temp_remove_all);
}

const char *fuzz_temp_path(const char *file_name)
{
    char path[256];
    char *copy;

    if (temp_dir[0] == '\0')
        temp_dir_create();
    if (temp_file_count == MAX_TEMP_FILES)
        fuzz_fail("more than %d temporary files", MAX_TEMP_FILES);

    snprintf(path, sizeof path, "%s/%s", temp_dir, file_name);
    copy = strdup(path);
    if (copy == NULL)
        fuzz_fail("out of memory");
    temp_files[temp_file_count++] = copy;
    return copy;
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *file = fopen(path, "wb");

    if (file == NULL)
        fuzz_fail("cannot open %s", path);
    if ((size > 0 && fwrite(data, 1, size, file) != size) || fclose(file) != 0)
        fuzz_fail("cannot write %s", path);
}

const struct pubq_config *fuzz_config(void)
{
    static struct pubq_config config;
    static int loaded;
    char err[CONFIG_ERR_MAX];
    const char *path;

    if (loaded)
        return &config;

    /* Millions of inputs would each log a line, so the log is off unless
     * PUBQ_FUZZ_VERBOSE asks for it while looking at one input. */
    if (getenv("PUBQ_FUZZ_VERBOSE") == NULL)
        log_set_level(LOG_OFF);

    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        setenv(secrets[i][0], secrets[i][1], 1);
    unsetenv("PUBQ_DATABASE");

    path = fuzz_temp_path("fixed.conf");
    fuzz_write_file(path, (const uint8_t *)config_text, sizeof config_text - 1);
    if (config_load(path, &config, err, sizeof err) != 0)
        fuzz_fail("the built-in fuzz configuration is invalid: %s", err);
    loaded = 1;
    return &config;
}

struct zone *fuzz_berlin(void)
{
    static struct zone *berlin;
    char err[512];

    if (berlin == NULL) {
        berlin = zone_load("Europe/Berlin", err, sizeof err);
        if (berlin == NULL)
            fuzz_fail("%s", err);
    }
    return berlin;
}
