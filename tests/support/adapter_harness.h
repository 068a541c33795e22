/*
 * Drives a platform adapter the way the engine does, for adapter tests:
 * a [platform] section built in memory, a claimed entry, and one attempt
 * run step by step with curl_easy_perform until the adapter is done.
 *
 *   struct harness_platform platform;
 *   harness_platform_init(&platform, "main", "mastodon");
 *   harness_platform_set(&platform, "instance", url);
 *   ... ops->create(&platform.config, &state, err, sizeof err) ...
 *   struct entry entry = harness_entry(1);
 *   harness_run(ops, state, &entry, content, 0, now, &result);
 */
#ifndef PUBQ_ADAPTER_HARNESS_H
#define PUBQ_ADAPTER_HARNESS_H

#include <stdint.h>

#include <jansson.h>

#include "publish/adapter.h"

#define HARNESS_MAX_OPTIONS 12
#define HARNESS_KEY "pubq-42-7f3a"

/* A platform section as config_load would produce it. */
struct harness_platform {
    struct platform_config config;
    struct config_option options[HARNESS_MAX_OPTIONS];
    char text[HARNESS_MAX_OPTIONS][2][512];
};

/* Empties the section and sets its name and type. */
void harness_platform_init(struct harness_platform *platform, const char *name,
                           const char *type);

/* Appends `key = value`; both are copied. Fails the test when full. */
void harness_platform_set(struct harness_platform *platform, const char *key,
                          const char *value);

/*
 * Returns entry 42 of content item "post-1" at attempt number `attempt`,
 * with the idempotency key HARNESS_KEY.
 */
struct entry harness_entry(uint32_t attempt);

/*
 * Runs one attempt: start(), then for each HTTP step curl_easy_perform()
 * and on_response(), at most 8 steps, then end(). Copies the final result
 * into *result and returns the number of HTTP requests made.
 */
int harness_run(const struct adapter_ops *ops, void *state,
                const struct entry *entry, const json_t *content,
                int previous_unknown, int64_t now,
                struct adapter_result *result);

#endif
