/*
 * The JSON document that the webhook and command adapters send for one
 * attempt:
 *
 *   {"entry_id": 42, "content_id": "post-1", "platform": "hook",
 *    "attempt": 1, "idempotency_key": "...", "content": {...}}
 */
#ifndef PUBQ_ADAPTER_PAYLOAD_H
#define PUBQ_ADAPTER_PAYLOAD_H

#include <stddef.h>

#include "publish/adapter.h"

/*
 * Serialises the payload of an attempt as compact JSON on one line.
 * Returns a string the caller frees with free() and sets *len, or NULL
 * when the attempt has no content object or memory runs out.
 */
char *adapter_payload_dump(const struct publish_attempt *attempt, size_t *len);

#endif
