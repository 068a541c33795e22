/*
 * The text length limits of each platform type, counted the way the
 * platform counts them:
 *
 *   mastodon   500 grapheme clusters after Mastodon's rewrite: each http
 *              or https URL counts as 23 and a mention @user@domain as
 *              @user (Mastodon's StatusLengthValidator; the URL detection
 *              here is simpler than Mastodon's, see url_length)
 *   bluesky    300 grapheme clusters and 3000 bytes of UTF-8
 *              (app.bsky.feed.post text: maxGraphemes, maxLength)
 *   discord    2000 Unicode code points
 *   telegram   4096 UTF-16 code units, the unit of Telegram's message
 *              length and entity offsets
 *   slack      40000 Unicode code points
 *
 * Other types (file, webhook, command, wordpress, smtp) have no limit.
 */
#ifndef PUBQ_CONTENT_LIMITS_H
#define PUBQ_CONTENT_LIMITS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Checks the `text` of a content object against the limits of a platform
 * type. Returns 0 when it fits (or the type has no limit, or there is no
 * text), or -1 with a message in msg naming the type, the count and the
 * limit, e.g. "text is 501 characters as mastodon counts them (...),
 * over the mastodon limit of 500; shorten the text". The text must be
 * valid UTF-8; invalid text returns -1 with a message saying so.
 */
int content_check_limits(const char *platform_type, const json_t *content,
                         char *msg, size_t msglen);

/*
 * Counts text as Mastodon does for its 500-character limit. Returns the
 * count, or -1 when the text is not valid UTF-8.
 */
int64_t content_mastodon_length(const char *text, size_t length);

/* Counts grapheme clusters. Returns the count, or -1 for invalid UTF-8. */
int64_t content_grapheme_count(const char *text, size_t length);

/*
 * Counts Unicode code points, the unit of the Discord and Slack limits.
 * Returns the count, or -1 for invalid UTF-8.
 */
int64_t content_code_point_count(const char *text, size_t length);

#endif
