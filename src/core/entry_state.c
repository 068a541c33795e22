#include "core/entry_state.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define STATUS_BIT(status) (1u << (status))

static const char *const status_names[ENTRY_STATUS_COUNT] = {
    [ENTRY_PENDING] = "pending",     [ENTRY_PUBLISHING] = "publishing",
    [ENTRY_PUBLISHED] = "published", [ENTRY_RETRYING] = "retrying",
    [ENTRY_FAILED] = "failed",       [ENTRY_CANCELLED] = "cancelled",
};

/* Every event leads to one status, from a set of allowed statuses. */
struct event_rule {
    const char *name;
    /* Completes "cannot ... an entry that is <status>". */
    const char *verb;
    /* Completes "only <statuses> entries ...". */
    const char *allowed_phrase;
    /* STATUS_BIT(status) for each status the event may start from. */
    unsigned sources;
    enum entry_status target;
};

static const struct event_rule event_rules[ENTRY_EVENT_COUNT] = {
    [ENTRY_EV_CLAIM] = {"claim", "claim", "can be claimed",
                        STATUS_BIT(ENTRY_PENDING) | STATUS_BIT(ENTRY_RETRYING),
                        ENTRY_PUBLISHING},
    [ENTRY_EV_SUCCEED] = {"succeed", "record success for", "can succeed",
                          STATUS_BIT(ENTRY_PUBLISHING), ENTRY_PUBLISHED},
    [ENTRY_EV_RETRY_LATER] = {"retry_later", "schedule a retry of",
                              "can be scheduled for a retry",
                              STATUS_BIT(ENTRY_PUBLISHING), ENTRY_RETRYING},
    [ENTRY_EV_FAIL] = {"fail", "fail", "can fail",
                       STATUS_BIT(ENTRY_PENDING) |
                           STATUS_BIT(ENTRY_PUBLISHING) |
                           STATUS_BIT(ENTRY_RETRYING),
                       ENTRY_FAILED},
    [ENTRY_EV_RECOVER] = {"recover", "recover", "can be recovered",
                          STATUS_BIT(ENTRY_PUBLISHING), ENTRY_RETRYING},
    [ENTRY_EV_REQUEUE] = {"requeue", "re-queue", "can be re-queued",
                          STATUS_BIT(ENTRY_FAILED), ENTRY_PENDING},
    [ENTRY_EV_CANCEL] = {"cancel", "cancel", "can be cancelled",
                         STATUS_BIT(ENTRY_PENDING) |
                             STATUS_BIT(ENTRY_RETRYING) |
                             STATUS_BIT(ENTRY_FAILED),
                         ENTRY_CANCELLED},
    [ENTRY_EV_RESCHEDULE] = {"reschedule", "reschedule", "can be rescheduled",
                             STATUS_BIT(ENTRY_PENDING) |
                                 STATUS_BIT(ENTRY_RETRYING),
                             ENTRY_PENDING},
    [ENTRY_EV_MARK_PUBLISHED] = {"mark_published", "mark published",
                                 "can be marked published",
                                 STATUS_BIT(ENTRY_FAILED), ENTRY_PUBLISHED},
};

static int status_valid(enum entry_status status)
{
    return (int)status >= 0 && (int)status < ENTRY_STATUS_COUNT;
}

static int event_valid(enum entry_event event)
{
    return (int)event >= 0 && (int)event < ENTRY_EVENT_COUNT;
}

const char *entry_status_name(enum entry_status status)
{
    if (!status_valid(status))
        return "invalid";
    return status_names[status];
}

int entry_status_parse(const char *name, enum entry_status *out)
{
    if (name == NULL)
        return -1;

    for (int i = 0; i < ENTRY_STATUS_COUNT; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum entry_status)i;
            return 0;
        }
    }
    return -1;
}

const char *entry_event_name(enum entry_event event)
{
    if (!event_valid(event))
        return "invalid";
    return event_rules[event].name;
}

/* Writes the statuses that allow the event, e.g. "pending or failed". */
static void format_allowed(const struct event_rule *rule, char *buf,
                           size_t buflen)
{
    int allowed[ENTRY_STATUS_COUNT];
    int count = 0;
    size_t used = 0;

    for (int i = 0; i < ENTRY_STATUS_COUNT; i++) {
        if (rule->sources & STATUS_BIT(i))
            allowed[count++] = i;
    }

    buf[0] = '\0';
    for (int i = 0; i < count && used < buflen; i++) {
        const char *sep = "";

        if (i > 0)
            sep = i == count - 1 ? " or " : ", ";
        int n = snprintf(buf + used, buflen - used, "%s%s", sep,
                         status_names[allowed[i]]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void write_error(char *err, size_t errlen, enum entry_status from,
                        enum entry_event event)
{
    char allowed[128];

    if (err == NULL || errlen == 0)
        return;

    if (!status_valid(from)) {
        snprintf(err, errlen, "invalid entry status %d", (int)from);
        return;
    }
    if (!event_valid(event)) {
        snprintf(err, errlen, "invalid entry event %d", (int)event);
        return;
    }

    const struct event_rule *rule = &event_rules[event];

    format_allowed(rule, allowed, sizeof(allowed));
    snprintf(err, errlen, "cannot %s an entry that is %s; only %s entries %s",
             rule->verb, status_names[from], allowed, rule->allowed_phrase);
}

int entry_transition(enum entry_status from, enum entry_event event,
                     enum entry_status *to, char *err, size_t errlen)
{
    if (!status_valid(from) || !event_valid(event) ||
        !(event_rules[event].sources & STATUS_BIT(from))) {
        write_error(err, errlen, from, event);
        return -1;
    }

    *to = event_rules[event].target;
    return 0;
}

int entry_store_decides(enum entry_status from, enum entry_event event)
{
    return from == ENTRY_PUBLISHING && event == ENTRY_EV_CANCEL;
}
