/*
 * The set of platforms a node serves, as claim_due and next_due_at
 * receive it, in the form both back ends bind as one query parameter.
 */
#ifndef PUBQ_STORE_PLATFORM_SET_H
#define PUBQ_STORE_PLATFORM_SET_H

#include <stddef.h>

#include "store/store.h"

/*
 * Encodes `count` platform names as a JSON array of strings, for
 * json_each (SQLite) or jsonb_array_elements_text (PostgreSQL), so no
 * value is ever written into SQL text. Sets *json to a heap string the
 * caller frees with free(). Returns STORE_OK, or STORE_INVALID (NULL
 * list with a count, a name empty, too long or not UTF-8) or
 * STORE_ERROR (out of memory) with a message in store->errmsg and
 * *json NULL.
 */
int store_platform_set_json(struct store *store,
                            const char *const *platforms, size_t count,
                            char **json);

#endif
