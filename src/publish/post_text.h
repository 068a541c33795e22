/*
 * The text that the chat and microblog adapters (mastodon, discord,
 * slack) publish for a content item: its `text`, then a blank line and
 * its `link` when the text does not already contain that link. The
 * title, tags and media are not part of it. Adapters count this text
 * against their limits at intake, so what is checked is what is sent.
 */
#ifndef PUBQ_POST_TEXT_H
#define PUBQ_POST_TEXT_H

#include <jansson.h>
#include <stddef.h>

/*
 * Builds the post text of a content object. Returns a string the caller
 * frees with free() and sets *length (the text may be "" when the content
 * has neither text nor link), or NULL when out of memory.
 */
char *post_text_compose(const json_t *content, size_t *length);

/*
 * Escapes text for a Slack message: &, < and > become &amp;, &lt; and
 * &gt;, the only characters that Slack requires clients to escape. Returns a
 * string the caller frees and sets *length, or NULL when out of memory.
 */
char *post_text_slack_escape(const char *text, size_t length,
                             size_t *escaped_length);

#endif
