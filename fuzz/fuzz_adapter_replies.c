/*
 * Fuzzes each HTTP adapter's handling of platform replies. The input is
 *
 *   PLATFORM[ unknown]\n
 *   raw HTTP reply to the first request
 *   \n%%\n
 *   raw HTTP reply to the second request ...
 *
 * PLATFORM names a platform of the fixed configuration (mastodon,
 * bluesky, discord, telegram, slack, webhook, wordpress), and "unknown"
 * marks the previous attempt's outcome as unknown, so the adapter
 * reconciles first. The adapter is created fresh for every input and
 * driven as the engine drives it: start(), then on_response() after each
 * transfer, until it is done. A request beyond the last reply gets an
 * empty reply (the connection closes with no answer).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_reply.h"
#include "fuzz_support.h"
#include "publish/adapter.h"

#include "util/banned.h"

#define MAX_REPLIES 16
#define SEPARATOR "\n%%\n"
#define PLATFORM_NAME_MAX 32

/* An adapter that still wants to send after this many replies loops:
 * the engine has no step limit of its own. */
#define MAX_STEPS 24

struct reply {
    const char *bytes;
    size_t len;
};

struct script {
    char platform[PLATFORM_NAME_MAX];
    int previous_unknown;
    struct reply replies[MAX_REPLIES];
    size_t count;
    size_t next;
};

static json_t *content;

/* PUBQ_FUZZ_VERBOSE set: print each attempt's result, to check seeds. */
static int verbose;

/* PUBQ_FUZZ_NO_SECRET_CHECK set: skip the secret check, so a run can
 * look for memory errors while a known leak is still open. */
static int skip_secret_check;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_config();
    verbose = getenv("PUBQ_FUZZ_VERBOSE") != NULL;
    skip_secret_check = getenv("PUBQ_FUZZ_NO_SECRET_CHECK") != NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    content =
        json_pack("{s:s, s:s, s:s, s:[s], s:{s:[s]}}", "text",
                  "Release 2.0 is out #pubq https://example.com/r/2 "
                  "thanks @alice.test",
                  "title", "Release 2.0", "link", "https://example.com/r/2",
                  "tags", "release", "meta", "langs", "en");
    if (content == NULL)
        fuzz_fail("cannot build the content object");
    return 0;
}

static const char *find_separator(const char *from, const char *end)
{
    size_t length = sizeof SEPARATOR - 1;

    for (const char *p = from; (size_t)(end - p) >= length; p++) {
        if (memcmp(p, SEPARATOR, length) == 0)
            return p;
    }
    return NULL;
}

/* Splits the input; returns -1 when the first line names no platform. */
static int script_parse(const uint8_t *data, size_t size, struct script *script)
{
    const char *text = (const char *)data;
    const char *end = text + size;
    const char *line_end = memchr(text, '\n', size);
    size_t line_length = line_end ? (size_t)(line_end - text) : 0;
    const char *p;

    memset(script, 0, sizeof *script);
    if (line_end == NULL || line_length >= PLATFORM_NAME_MAX)
        return -1;
    memcpy(script->platform, text, line_length);
    if (line_length > 8 &&
        strcmp(script->platform + line_length - 8, " unknown") == 0) {
        script->previous_unknown = 1;
        script->platform[line_length - 8] = '\0';
    }

    p = line_end + 1;
    while (p <= end && script->count < MAX_REPLIES) {
        const char *separator = find_separator(p, end);
        const char *stop = separator ? separator : end;

        script->replies[script->count].bytes = p;
        script->replies[script->count].len = (size_t)(stop - p);
        script->count++;
        if (separator == NULL)
            break;
        p = separator + sizeof SEPARATOR - 1;
    }
    return 0;
}

static CURLcode script_perform(struct script *script, CURL *easy)
{
    struct reply empty = {"", 0};
    struct reply *reply =
        script->next < script->count ? &script->replies[script->next] : &empty;

    script->next++;
    return fake_reply_perform(easy, reply->bytes, reply->len);
}

/* The environment variable holding each platform's secret. */
static const char *const secret_variables[][2] = {
    {"mastodon", "PUBQ_FUZZ_MASTODON_TOKEN"},
    {"bluesky", "PUBQ_FUZZ_BLUESKY_PASSWORD"},
    {"discord", "PUBQ_FUZZ_DISCORD_HOOK"},
    {"telegram", "PUBQ_FUZZ_TELEGRAM_TOKEN"},
    {"slack", "PUBQ_FUZZ_SLACK_HOOK"},
    {"webhook", "PUBQ_FUZZ_WEBHOOK_SECRET"},
    {"wordpress", "PUBQ_FUZZ_WORDPRESS_PASSWORD"},
};

static const char *platform_secret(const char *platform)
{
    for (size_t i = 0; i < sizeof secret_variables / sizeof secret_variables[0];
         i++) {
        if (strcmp(secret_variables[i][0], platform) == 0)
            return getenv(secret_variables[i][1]);
    }
    return NULL;
}

/*
 * Checks that a result string is terminated and holds neither the
 * platform's secret nor, for a webhook URL, its last path segment (the
 * token). Only the platform's own secret counts: an adapter cannot
 * redact what it was never given.
 */
static void check_text(const char *platform, const char *what, const char *text,
                       size_t size)
{
    const char *secret = skip_secret_check ? NULL : platform_secret(platform);
    const char *token = secret ? strrchr(secret, '/') : NULL;

    if (memchr(text, '\0', size) == NULL)
        fuzz_fail("result %s is not NUL-terminated", what);
    if (secret != NULL && strstr(text, secret) != NULL)
        fuzz_fail("%s result %s contains the platform's secret: %s", platform,
                  what, text);
    if (token != NULL && strlen(token + 1) >= 8 &&
        strstr(text, token + 1) != NULL)
        fuzz_fail("%s result %s contains the webhook token: %s", platform, what,
                  text);
}

static void check_result(const char *platform,
                         const struct adapter_result *result)
{
    if ((unsigned)result->outcome >= OUTCOME_COUNT)
        fuzz_fail("invalid outcome %d", (int)result->outcome);
    check_text(platform, "error", result->error, sizeof result->error);
    check_text(platform, "post_id", result->post_id, sizeof result->post_id);
    check_text(platform, "post_url", result->post_url, sizeof result->post_url);
    check_text(platform, "pause_reason", result->pause_reason,
               sizeof result->pause_reason);
    if (result->outcome != OUTCOME_SUCCESS && result->error[0] == '\0')
        fuzz_fail("outcome %s without an error message",
                  outcome_name(result->outcome));
    if (result->rate_limited && result->hint_ms < -1)
        fuzz_fail("negative rate-limit hint %lld", (long long)result->hint_ms);
}

static void run_attempt(const struct adapter_ops *ops, void *state,
                        struct script *script)
{
    struct entry entry = {.id = 42, .job_id = 7, .attempt_count = 1};
    struct publish_attempt attempt = {
        .entry = &entry,
        .content = content,
        .now = FUZZ_NOW_MS,
        .previous_unknown = script->previous_unknown,
    };
    CURL *easy = NULL;
    enum adapter_step step;
    int steps = 0;

    snprintf(entry.content_id, sizeof entry.content_id, "post-1");
    snprintf(entry.platform, sizeof entry.platform, "%s", script->platform);
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key,
             "pubq-42-7f3a");
    entry.scheduled_at = FUZZ_NOW_MS;
    if (script->previous_unknown)
        entry.attempt_count = 2;

    attempt.result.hint_ms = -1;
    step = adapter_start(ops, state, &attempt, &easy);
    while (step == ADAPTER_HTTP && steps < MAX_STEPS) {
        CURL *next = NULL;
        CURLcode code;

        if (easy == NULL)
            fuzz_fail("%s asked for a transfer without a handle",
                      script->platform);
        code = script_perform(script, easy);
        steps++;
        step = adapter_on_response(ops, state, &attempt, easy, code, &next);
        easy = next;
    }
    if (step != ADAPTER_DONE)
        fuzz_fail("%s did not finish after %d replies (step %d)",
                  script->platform, steps, (int)step);
    check_result(script->platform, &attempt.result);
    if (verbose)
        fprintf(stderr, "%s: %d replies, %s, HTTP %d, hint %lld ms: %s%s\n",
                script->platform, steps, outcome_name(attempt.result.outcome),
                attempt.result.http_status, (long long)attempt.result.hint_ms,
                attempt.result.error, attempt.result.post_url);
    if (ops->end != NULL)
        ops->end(state, &attempt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct platform_config *platform;
    const struct adapter_ops *ops;
    struct script script;
    char err[ADAPTER_ERR_MAX];
    void *state = NULL;

    if (script_parse(data, size, &script) != 0)
        return 0;
    platform = config_find_platform(fuzz_config(), script.platform);
    if (platform == NULL || strcmp(platform->type, "file") == 0)
        return 0;
    ops = adapter_find(platform->type);
    if (ops == NULL)
        fuzz_fail("no adapter for type %s", platform->type);
    if (ops->create(platform, &state, err, sizeof err) != 0)
        fuzz_fail("%s create() failed: %s", platform->name, err);

    run_attempt(ops, state, &script);
    ops->destroy(state);
    return 0;
}
