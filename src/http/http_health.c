/* GET /healthz: 200 when the database answers a trivial read, else 503. */
#include "http/http_internal.h"

#include "util/banned.h"

void http_handle_healthz(struct http_request *request, struct http_reply *reply)
{
    struct platform_state_list states = {0};
    struct store *store = http_request_store(request, reply);
    int result;

    if (store == NULL)
        return;

    result = store_check_health(store);
    if (result == STORE_OK)
        result = store->ops->list_platform_states(store, &states);
    if (result != STORE_OK) {
        http_reply_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                         "database check failed: %s", store_errmsg(store));
        return;
    }
    platform_state_list_free(&states);
    http_reply_json(reply, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
}
