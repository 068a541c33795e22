#include "publish/adapter_payload.h"

#include <string.h>

#include "util/banned.h"

char *adapter_payload_dump(const struct publish_attempt *attempt, size_t *len)
{
    const struct entry *entry = attempt->entry;
    json_t *payload;
    char *text;

    if (attempt->content == NULL || !json_is_object(attempt->content))
        return NULL;

    /* "o" steals a reference, so it gets a copy of the const content. */
    /* clang-format off */
    payload = json_pack("{s:I, s:s, s:s, s:I, s:s, s:o}",
                        "entry_id", (json_int_t)entry->id,
                        "content_id", entry->content_id,
                        "platform", entry->platform,
                        "attempt", (json_int_t)entry->attempt_count,
                        "idempotency_key", entry->idempotency_key,
                        "content", json_deep_copy(attempt->content));
    /* clang-format on */
    if (payload == NULL)
        return NULL;

    text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (text != NULL)
        *len = strlen(text);
    return text;
}
