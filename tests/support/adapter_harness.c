#include "adapter_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define HARNESS_MAX_STEPS 8

void harness_platform_init(struct harness_platform *platform, const char *name,
                           const char *type)
{
    memset(platform, 0, sizeof *platform);
    snprintf(platform->text[0][0], sizeof platform->text[0][0], "%s", name);
    snprintf(platform->text[0][1], sizeof platform->text[0][1], "%s", type);
    platform->config.name = platform->text[0][0];
    platform->config.type = platform->text[0][1];
    platform->config.options = platform->options;
}

void harness_platform_set(struct harness_platform *platform, const char *key,
                          const char *value)
{
    /* Slot 0 of text contains the name and type. */
    size_t i = platform->config.option_count++;

    assert_true(i + 1 < HARNESS_MAX_OPTIONS);
    snprintf(platform->text[i + 1][0], sizeof platform->text[i + 1][0], "%s",
             key);
    snprintf(platform->text[i + 1][1], sizeof platform->text[i + 1][1], "%s",
             value);
    platform->options[i].key = platform->text[i + 1][0];
    platform->options[i].value = platform->text[i + 1][1];
}

struct entry harness_entry(uint32_t attempt)
{
    struct entry entry = {.id = 42, .job_id = 7, .attempt_count = attempt};

    snprintf(entry.content_id, sizeof entry.content_id, "post-1");
    snprintf(entry.platform, sizeof entry.platform, "main");
    snprintf(entry.idempotency_key, sizeof entry.idempotency_key, "%s",
             HARNESS_KEY);
    return entry;
}

int harness_run(const struct adapter_ops *ops, void *state,
                const struct entry *entry, const json_t *content,
                int previous_unknown, int64_t now,
                struct adapter_result *result)
{
    struct publish_attempt attempt = {
        .entry = entry,
        .content = content,
        .now = now,
        .previous_unknown = previous_unknown,
    };
    CURL *easy = NULL;
    enum adapter_step step;
    int requests = 0;

    attempt.result.hint_ms = -1;
    step = adapter_start(ops, state, &attempt, &easy);
    while (step == ADAPTER_HTTP && requests < HARNESS_MAX_STEPS) {
        CURL *next = NULL;
        CURLcode code;

        assert_non_null(easy);
        code = curl_easy_perform(easy);
        requests++;
        step = adapter_on_response(ops, state, &attempt, easy, code, &next);
        easy = next;
    }
    assert_int_equal(step, ADAPTER_DONE);
    if (ops->end != NULL)
        ops->end(state, &attempt);

    *result = attempt.result;
    return requests;
}
