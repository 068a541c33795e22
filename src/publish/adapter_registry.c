#include "publish/adapter.h"
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
