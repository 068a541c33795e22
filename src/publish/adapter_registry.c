#include "publish/adapter.h"
#include "publish/adapter_options.h"
#include "publish/http_exchange.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* Each adapter file defines one of these. */
extern const struct adapter_ops adapter_file_ops;
extern const struct adapter_ops adapter_webhook_ops;
extern const struct adapter_ops adapter_command_ops;
extern const struct adapter_ops adapter_mastodon_ops;
extern const struct adapter_ops adapter_bluesky_ops;
extern const struct adapter_ops adapter_discord_ops;
extern const struct adapter_ops adapter_slack_ops;
extern const struct adapter_ops adapter_telegram_ops;
extern const struct adapter_ops adapter_wordpress_ops;
extern const struct adapter_ops adapter_smtp_ops;

static const struct adapter_ops *const adapters[] = {
    &adapter_file_ops,     &adapter_webhook_ops,   &adapter_command_ops,
    &adapter_mastodon_ops, &adapter_bluesky_ops,   &adapter_discord_ops,
    &adapter_slack_ops,    &adapter_telegram_ops,  &adapter_wordpress_ops,
    &adapter_smtp_ops,
};

const struct adapter_ops *adapter_find(const char *type)
{
    if (type == NULL)
        return NULL;

    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0]; i++) {
        if (strcmp(adapters[i]->type, type) == 0)
            return adapters[i];
    }
    return NULL;
}

const struct adapter_ops *adapter_at(size_t index)
{
    if (index >= sizeof adapters / sizeof adapters[0])
        return NULL;
    return adapters[index];
}

int adapter_check_option_names(const struct platform_config *platform,
                               const char *config_path, char *err,
                               size_t errlen)
{
    const char *path = config_path != NULL ? config_path : "the configuration";
    const struct adapter_ops *ops = adapter_find(platform->type);
    char names[256];

    if (ops == NULL) {
        snprintf(err, errlen,
                 "%s:%d: platform \"%s\": unknown type \"%s\"; see "
                 "docs/adapters.md for the types this build supports",
                 path, platform->line, platform->name, platform->type);
        return -1;
    }

    for (size_t i = 0; i < platform->option_count; i++) {
        const struct config_option *option = &platform->options[i];

        if (adapter_options_is_known(ops->options, option->key))
            continue;

        adapter_options_format_list(ops->options, names, sizeof names);
        snprintf(err, errlen,
                 "%s:%d: platform \"%s\": unknown option \"%s\" for %s "
                 "platform; the options are %s",
                 path, option->line, platform->name, option->key, ops->type,
                 names);
        return -1;
    }
    return 0;
}

int adapter_check_all_option_names(const struct pubq_config *config,
                                   char *err, size_t errlen)
{
    for (size_t i = 0; i < config->platform_count; i++) {
        if (adapter_check_option_names(&config->platforms[i], config->path,
                                       err, errlen) != 0)
            return -1;
    }
    return 0;
}

int adapter_create_platform(const struct platform_config *platform,
                            const char *config_path,
                            const struct adapter_ops **ops, void **state,
                            char *err, size_t errlen)
{
    char reason[ADAPTER_ERR_MAX];
    const char *path = config_path != NULL ? config_path : "the configuration";

    *ops = adapter_find(platform->type);
    *state = NULL;
    if (adapter_check_option_names(platform, config_path, err, errlen) != 0)
        return -1;
    if ((*ops)->create(platform, state, reason, sizeof reason) != 0) {
        snprintf(err, errlen, "%s:%d: platform \"%s\": %s", path,
                 platform->line, platform->name, reason);
        *state = NULL;
        return -1;
    }
    return 0;
}

int adapter_check_platforms(const struct pubq_config *config, char *err,
                            size_t errlen)
{
    for (size_t i = 0; i < config->platform_count; i++) {
        const struct adapter_ops *ops;
        void *state;

        if (adapter_create_platform(&config->platforms[i], config->path, &ops,
                                    &state, err, errlen) != 0)
            return -1;
        ops->destroy(state);
    }
    return 0;
}

enum adapter_step adapter_start(const struct adapter_ops *ops, void *state,
                                struct publish_attempt *attempt, CURL **easy)
{
    enum adapter_step step = ops->start(state, attempt, easy);

    if (ops->redact != NULL)
        ops->redact(state, &attempt->result);
    return step;
}

enum adapter_step adapter_on_response(const struct adapter_ops *ops,
                                      void *state,
                                      struct publish_attempt *attempt,
                                      CURL *easy, CURLcode code, CURL **next)
{
    enum adapter_step step =
        ops->on_response(state, attempt, easy, code, next);

    if (ops->redact != NULL)
        ops->redact(state, &attempt->result);
    return step;
}

void adapter_result_fail(struct adapter_result *result, enum outcome outcome,
                         const char *fmt, ...)
{
    va_list args;

    result->outcome = outcome;
    va_start(args, fmt);
    vsnprintf(result->error, sizeof result->error, fmt, args);
    va_end(args);
}

void adapter_end_exchange(void *state, struct publish_attempt *attempt)
{
    (void)state;
    http_exchange_free(attempt->step_state);
    attempt->step_state = NULL;
}
