/*
 * The manual actions on one entry: POST /v1/entries/{id}/retry, /cancel
 * and /mark-published. The state machine decides what is allowed, and
 * a refusal reads like the CLI's: "cannot retry entry 7: it is
 * published; only failed entries can be retried".
 */
#include <inttypes.h>

#include "http/http_internal.h"
#include "util/log.h"

#include "util/banned.h"

#define HTTP_AGENT "api"

struct entry_action {
    const char *verb;    /* "retry" */
    const char *allowed; /* the rule, for the 409 message */
    enum entry_event event;
    int (*apply)(struct store *store, int64_t id, int64_t now,
                 const char *agent);
};

static int apply_retry(struct store *store, int64_t id, int64_t now,
                       const char *agent)
{
    return store->ops->retry_entry(store, id, now, agent);
}

static int apply_cancel(struct store *store, int64_t id, int64_t now,
                        const char *agent)
{
    return store->ops->cancel_entry(store, id, now, agent);
}

static int apply_mark_published(struct store *store, int64_t id, int64_t now,
                                const char *agent)
{
    return store->ops->mark_published(store, id, now, agent);
}

static const struct entry_action retry_action = {
    "retry", "only failed entries can be retried", ENTRY_EV_REQUEUE,
    apply_retry};

static const struct entry_action cancel_action = {
    "cancel", "only pending, retrying or failed entries can be cancelled",
    ENTRY_EV_CANCEL, apply_cancel};

static const struct entry_action mark_published_action = {
    "mark published", "only failed entries can be marked published",
    ENTRY_EV_MARK_PUBLISHED, apply_mark_published};

static int read_entry(struct store *store, int64_t id, struct entry *entry,
                      struct http_reply *reply)
{
    int result = store->ops->get_entry(store, id, entry);

    if (result == STORE_NOT_FOUND)
        http_reply_error(
            reply, MHD_HTTP_NOT_FOUND, NULL,
            "entry not found: %" PRId64 "; find ids with GET /v1/entries", id);
    else if (result != STORE_OK)
        http_reply_store_error(reply, store, result, "cannot read the entry");
    return result == STORE_OK ? 0 : -1;
}

/* Replies 409 when the entry's status does not allow the action. */
static int check_allowed(const struct entry_action *action,
                         const struct entry *entry, struct http_reply *reply)
{
    enum entry_status next;

    if (entry_transition(entry->status, action->event, &next, NULL, 0) == 0)
        return 0;
    http_reply_error(reply, MHD_HTTP_CONFLICT, "status",
                     "cannot %s entry %" PRId64 ": it is %s; %s", action->verb,
                     entry->id, entry_status_name(entry->status),
                     action->allowed);
    return -1;
}

/* After a lost race, tells whether the entry moved out of reach. */
static void reply_lost_race(struct store *store,
                            const struct entry_action *action, int64_t id,
                            struct http_reply *reply)
{
    struct entry entry;

    if (read_entry(store, id, &entry, reply) != 0 ||
        check_allowed(action, &entry, reply) != 0)
        return;
    http_reply_error(reply, MHD_HTTP_CONFLICT, "status",
                     "cannot %s entry %" PRId64 ": it changed meanwhile "
                     "and is now %s; send the request again",
                     action->verb, id, entry_status_name(entry.status));
}

static void run_action(struct http_request *request,
                       const struct entry_action *action,
                       struct http_reply *reply)
{
    struct store *store;
    struct entry entry;
    int64_t id;
    int result;

    if (http_path_id(request, 0, "entry", &id, reply) != 0)
        return;
    store = http_request_store(request, reply);
    if (store == NULL || read_entry(store, id, &entry, reply) != 0)
        return;
    if (!entry_store_decides(entry.status, action->event) &&
        check_allowed(action, &entry, reply) != 0)
        return;

    result = action->apply(store, id, request->now, HTTP_AGENT);
    if (result == STORE_CONFLICT || result == STORE_INVALID) {
        reply_lost_race(store, action, id, reply);
        return;
    }
    if (result != STORE_OK) {
        http_reply_store_error(reply, store, result, "cannot change the entry");
        return;
    }
    log_info("http", "entry=%" PRId64 " %s by api", id, action->verb);

    http_server_wake(request->server);
    if (read_entry(store, id, &entry, reply) == 0)
        http_reply_json(
            reply, MHD_HTTP_OK,
            json_pack("{s:o}", "entry", http_entry_json(&entry, request->now)));
}

void http_handle_entry_retry(struct http_request *request,
                             struct http_reply *reply)
{
    run_action(request, &retry_action, reply);
}

void http_handle_entry_cancel(struct http_request *request,
                              struct http_reply *reply)
{
    run_action(request, &cancel_action, reply);
}

void http_handle_entry_mark_published(struct http_request *request,
                                      struct http_reply *reply)
{
    run_action(request, &mark_published_action, reply);
}
