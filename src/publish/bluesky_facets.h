/*
 * Link facets of a Bluesky post (app.bsky.richtext.facet#link): every
 * http or https URL in the text, located by UTF-8 byte offsets as the
 * facet's byteSlice requires (start inclusive, end exclusive;
 * https://docs.bsky.app/docs/advanced-guides/post-richtext).
 */
#ifndef PUBQ_BLUESKY_FACETS_H
#define PUBQ_BLUESKY_FACETS_H

#include <jansson.h>
#include <stddef.h>

/*
 * Finds the URLs in text the way Bluesky's own client does. A URL starts
 * with http:// or https:// at the start of the text or after white space
 * or "(", and runs to the next white space. Then one trailing ".", ",",
 * ";", ":", "!" or "?" is cut, and a trailing ")" when it has no "(".
 * Returns a new JSON array of facet objects (empty when there is no
 * URL), which the caller releases with json_decref, or NULL when the
 * text is not valid UTF-8 or memory runs out.
 */
json_t *bluesky_link_facets(const char *text, size_t length);

#endif
