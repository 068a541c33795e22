/*
 * A fake atproto PDS for tests, served by libmicrohttpd on 127.0.0.1 with
 * a port the kernel picks. Unlike fake_platform's canned responses it keeps
 * state, so a test can post many times and watch the session rules:
 *
 *   com.atproto.server.createSession   checks identifier and password,
 *                                      returns a new token pair
 *   com.atproto.server.refreshSession  takes the latest refresh token
 *                                      (Bearer), returns a new pair
 *   com.atproto.repo.createRecord      needs the latest access token;
 *                                      after `access_uses` uses it returns
 *                                      400 ExpiredToken; stores the record
 *                                      under its rkey and refuses a taken
 *                                      rkey (500 InternalServerError, as
 *                                      the reference PDS does, or 409
 *                                      RecordAlreadyExists)
 *   com.atproto.repo.getRecord         returns a stored record, or 400
 *                                      RecordNotFound
 *
 * Every request is checked against the documented shape (method,
 * Content-Type, Authorization, body fields, TID record key); a request
 * that breaks it is answered 400 InvalidRequest and counted, so a test
 * asserts fake_bluesky_protocol_errors() == 0. All functions are
 * thread-safe.
 */
#ifndef PUBQ_FAKE_BLUESKY_H
#define PUBQ_FAKE_BLUESKY_H

#include <stddef.h>

struct fake_bluesky;

/*
 * Starts a PDS with one account. access_uses is how many createRecord
 * calls an access token allows before it expires (0: never). Returns
 * NULL (and prints why on stderr) when the server cannot start.
 */
struct fake_bluesky *fake_bluesky_start(const char *handle, const char *did,
                                        const char *password, int access_uses);

/* Returns "http://127.0.0.1:PORT", valid until fake_bluesky_stop. */
const char *fake_bluesky_url(const struct fake_bluesky *fake);

/* Makes every refresh token issued so far invalid (400 ExpiredToken). */
void fake_bluesky_revoke_refresh(struct fake_bluesky *fake);

/* Status for a taken rkey: 500 (the default) or 409. */
void fake_bluesky_set_duplicate_status(struct fake_bluesky *fake, int status);

/*
 * Makes the next call of the method `nsid` (e.g.
 * "com.atproto.repo.createRecord") fail with this status, extra header
 * lines ("Name: value\n...") and body, without any other effect.
 */
void fake_bluesky_fail_next(struct fake_bluesky *fake, const char *nsid,
                            int status, const char *headers, const char *body);

/*
 * Makes the next createRecord store its record and then close the
 * connection without a response, as when a response is lost.
 */
void fake_bluesky_drop_next_create(struct fake_bluesky *fake);

/* Returns how many calls of `nsid` arrived so far. */
size_t fake_bluesky_calls(struct fake_bluesky *fake, const char *nsid);

/* Returns how many records are stored. */
size_t fake_bluesky_record_count(struct fake_bluesky *fake);

/*
 * Returns the stored record under rkey as compact JSON, which the caller
 * frees, or NULL when there is none.
 */
char *fake_bluesky_record(struct fake_bluesky *fake, const char *rkey);

/* Returns the body of the last createRecord request (caller frees). */
char *fake_bluesky_last_create_body(struct fake_bluesky *fake);

/* Returns the number of requests that broke the documented shape. */
size_t fake_bluesky_protocol_errors(struct fake_bluesky *fake);

/* Returns the description of the last such request, or "". */
const char *fake_bluesky_last_protocol_error(struct fake_bluesky *fake);

/* Stops the server and frees everything. Accepts NULL. */
void fake_bluesky_stop(struct fake_bluesky *fake);

#endif
