#include "publish/bluesky_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static void free_secret(char **text)
{
    if (*text != NULL) {
        explicit_bzero(*text, strlen(*text));
        free(*text);
        *text = NULL;
    }
}

void bluesky_session_clear(struct bluesky_session *session)
{
    free(session->did);
    free(session->handle);
    session->did = NULL;
    session->handle = NULL;
    free_secret(&session->access_jwt);
    free_secret(&session->refresh_jwt);
    session->generation++;
}

static char *copy_field(const json_t *object, const char *key)
{
    const char *value = json_string_value(json_object_get(object, key));

    return value != NULL && value[0] != '\0' ? strdup(value) : NULL;
}

/* Takes the fields of a reply or of the stored JSON, which share names. */
static int set_from_json(struct bluesky_session *session, const json_t *json)
{
    struct bluesky_session next = {.generation = session->generation + 1};

    next.did = copy_field(json, "did");
    next.handle = copy_field(json, "handle");
    next.access_jwt = copy_field(json, "accessJwt");
    next.refresh_jwt = copy_field(json, "refreshJwt");
    if (next.did == NULL || next.access_jwt == NULL ||
        next.refresh_jwt == NULL) {
        bluesky_session_clear(&next);
        return -1;
    }

    bluesky_session_clear(session);
    *session = next;
    return 0;
}

int bluesky_session_set_from_reply(struct bluesky_session *session,
                                   const json_t *reply, char *err,
                                   size_t errlen)
{
    if (!json_is_object(reply) || set_from_json(session, reply) != 0) {
        snprintf(err, errlen,
                 "session reply lacks accessJwt, refreshJwt or did");
        return -1;
    }
    return 0;
}

int bluesky_session_load(struct bluesky_session *session, struct store *store,
                         const char *platform, char *err, size_t errlen)
{
    char *text = NULL;
    json_t *json;
    int result = store->ops->get_platform_data(store, platform, &text);

    if (result == STORE_NOT_FOUND)
        return 0;
    if (result != STORE_OK) {
        snprintf(err, errlen, "cannot read the stored session: %s",
                 store_errmsg(store));
        return -1;
    }

    json = json_loads(text, 0, NULL);
    explicit_bzero(text, strlen(text));
    free(text);
    if (json_is_object(json) && json_object_size(json) == 0) {
        json_decref(json);
        return 0;
    }
    result = json_is_object(json) ? set_from_json(session, json) : -1;
    json_decref(json);
    if (result != 0) {
        snprintf(err, errlen,
                 "stored data of platform \"%s\" is not a bluesky session; "
                 "it is ignored and replaced at the next login",
                 platform);
        return -1;
    }
    return 1;
}

int bluesky_session_save(const struct bluesky_session *session,
                         struct store *store, const char *platform, int64_t now,
                         char *err, size_t errlen)
{
    json_t *json;
    char *text = NULL;
    int result = -1;

    if (session->did != NULL && session->access_jwt != NULL &&
        session->refresh_jwt != NULL)
        json = json_pack("{s:s,s:s?,s:s,s:s}", "did", session->did, "handle",
                         session->handle, "accessJwt", session->access_jwt,
                         "refreshJwt", session->refresh_jwt);
    else
        json = json_object();
    if (json != NULL)
        text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory saving the session");
        return -1;
    }

    if (store->ops->set_platform_data(store, platform, text, now) == STORE_OK)
        result = 0;
    else
        snprintf(err, errlen, "cannot store the session: %s",
                 store_errmsg(store));
    explicit_bzero(text, strlen(text));
    free(text);
    return result;
}
