/* GET /v1/audit: the audit log, newest first, with cursor pagination. */
#include <inttypes.h>
#include <stdio.h>

#include "core/audit_action.h"
#include "http/http_internal.h"

#include "util/banned.h"

#define AUDIT_DEFAULT_LIMIT 100

static int parse_audit_filter(struct http_request *request,
                              struct audit_filter *filter,
                              struct http_reply *reply)
{
    static const char *const known[] = {"job", "action", "platform", "from",
                                        "to",  "before", "limit",    NULL};

    filter->limit = AUDIT_DEFAULT_LIMIT;
    if (http_query_check_names(request, known, reply) != 0 ||
        http_query_text(request, "job", STORE_ID_MAX, &filter->job_id, reply) !=
            0 ||
        http_query_text(request, "action", STORE_NAME_MAX, &filter->action,
                        reply) != 0 ||
        http_query_text(request, "platform", STORE_NAME_MAX, &filter->platform,
                        reply) != 0 ||
        http_query_time(request, "from", &filter->from, reply) != 0 ||
        http_query_time(request, "to", &filter->to, reply) != 0 ||
        http_query_id(request, "before", &filter->before_id, reply) != 0 ||
        http_query_limit(request, &filter->limit, reply) != 0)
        return -1;

    if (filter->action != NULL && !audit_action_known(filter->action)) {
        char names[512];

        audit_action_list(names, sizeof names);
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "action",
                         "invalid action \"%.60s\"; use one of %s",
                         filter->action, names);
        return -1;
    }
    if (filter->from != 0 && filter->to != 0 && filter->to <= filter->from) {
        http_reply_error(reply, MHD_HTTP_BAD_REQUEST, "to",
                         "invalid to: it is not after from; swap the two "
                         "times");
        return -1;
    }
    return 0;
}

static json_t *next_cursor(const struct audit_list *list, size_t limit)
{
    char text[24];

    if (list->count <= limit)
        return json_null();
    snprintf(text, sizeof text, "%" PRId64, list->items[limit - 1].id);
    return json_string(text);
}

void http_handle_audit(struct http_request *request, struct http_reply *reply)
{
    struct audit_filter filter = {0};
    struct audit_list list = {0};
    struct store *store;
    json_t *records;
    size_t limit;
    int result;

    if (parse_audit_filter(request, &filter, reply) != 0)
        return;
    store = http_request_store(request, reply);
    if (store == NULL)
        return;

    limit = filter.limit;
    filter.limit = limit + 1;
    result = store->ops->list_audit(store, &filter, &list);
    if (result != STORE_OK) {
        http_reply_store_error(reply, store, result,
                               "cannot read the audit log");
        return;
    }

    records = json_array();
    for (size_t i = 0; records != NULL && i < list.count && i < limit; i++)
        json_array_append_new(records, http_audit_json(&list.items[i]));
    http_reply_json(reply, MHD_HTTP_OK,
                    json_pack("{s:o, s:o}", "records", records, "next",
                              next_cursor(&list, limit)));
    audit_list_free(&list);
}
