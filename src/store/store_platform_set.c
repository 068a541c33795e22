/* Encoding the platform set of claim_due and next_due_at. */
#include "store/store_platform_set.h"

#include <string.h>

#include <jansson.h>

#include "store/store_check.h"
#include "util/banned.h"

static int append_name(struct store *store, json_t *array, const char *name)
{
    json_t *value;

    if (name == NULL || name[0] == '\0' || strlen(name) >= STORE_NAME_MAX)
        return store_fail(store, STORE_INVALID,
                          "invalid platform set: each name must be 1 to "
                          "%d bytes",
                          STORE_NAME_MAX - 1);

    /* json_string rejects text that is not UTF-8. */
    value = json_string(name);
    if (value == NULL)
        return store_fail(store, STORE_INVALID,
                          "invalid platform set: name \"%.40s\" is not "
                          "UTF-8",
                          name);
    if (json_array_append_new(array, value) != 0)
        return store_fail(store, STORE_ERROR,
                          "out of memory encoding the platform set");
    return STORE_OK;
}

int store_platform_set_json(struct store *store,
                            const char *const *platforms, size_t count,
                            char **json)
{
    json_t *array;
    int result = STORE_OK;

    *json = NULL;
    if (platforms == NULL && count > 0)
        return store_fail(store, STORE_INVALID,
                          "invalid platform set: NULL list of %zu names",
                          count);
    array = json_array();
    if (array == NULL)
        return store_fail(store, STORE_ERROR,
                          "out of memory encoding the platform set");

    for (size_t i = 0; result == STORE_OK && i < count; i++)
        result = append_name(store, array, platforms[i]);
    if (result == STORE_OK) {
        *json = json_dumps(array, JSON_COMPACT);
        if (*json == NULL)
            result = store_fail(store, STORE_ERROR,
                                "out of memory encoding the platform set");
    }
    json_decref(array);
    return result;
}
