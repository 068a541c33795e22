/*
 * A Bluesky (atproto) login session: the account's DID and handle and
 * the access and refresh tokens that com.atproto.server.createSession
 * and refreshSession return. The adapter keeps one per platform in
 * memory and a copy in the store's platform data, so that a restart
 * reuses it instead of logging in again: the Bluesky PDS allows only 30
 * createSession calls per 5 minutes per account
 * (https://docs.bsky.app/docs/advanced-guides/rate-limits).
 *
 * The stored JSON is {"did", "handle", "accessJwt", "refreshJwt"}; "{}"
 * means "no session". It contains credentials, so it goes nowhere but
 * the store.
 */
#ifndef PUBQ_BLUESKY_SESSION_H
#define PUBQ_BLUESKY_SESSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct bluesky_session {
    char *did;           /* NULL when there is no session */
    char *handle;        /* may be NULL */
    char *access_jwt;    /* NULL once known to be rejected */
    char *refresh_jwt;   /* NULL once known to be rejected */
    uint64_t generation; /* increases with every change of the tokens */
};

/* Frees the strings and empties the session; keeps the generation. */
void bluesky_session_clear(struct bluesky_session *session);

/*
 * Replaces the session with the tokens of a createSession or
 * refreshSession reply. Returns 0, or -1 with a message when a required
 * field (accessJwt, refreshJwt, did) is missing; the session is then
 * unchanged.
 */
int bluesky_session_set_from_reply(struct bluesky_session *session,
                                   const json_t *reply, char *err,
                                   size_t errlen);

/*
 * Reads the stored session of `platform`. Returns 1 when one was found
 * and loaded, 0 when the store has none (or "{}"), or -1 with a
 * message when the store fails or the data is not a session; the
 * session is unchanged unless 1 is returned.
 */
int bluesky_session_load(struct bluesky_session *session, struct store *store,
                         const char *platform, char *err, size_t errlen);

/*
 * Writes the session (or "{}" when it has no tokens) as the platform's
 * data. Returns 0, or -1 with a message; the session in memory stays
 * usable either way.
 */
int bluesky_session_save(const struct bluesky_session *session,
                         struct store *store, const char *platform, int64_t now,
                         char *err, size_t errlen);

#endif
