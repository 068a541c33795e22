/*
 * The publishing page's files, embedded at build time (page_assets.h).
 * The page loads nothing from elsewhere, so the policy allows only this
 * origin, and inline scripts and styles are refused.
 */
#include <string.h>

#include "http/http_internal.h"
#include "http/page_assets.h"

#include "util/banned.h"

static const struct page_asset *find_asset(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";

    for (const struct page_asset *asset = page_assets; asset->path != NULL;
         asset++) {
        if (strcmp(asset->path, path) == 0)
            return asset;
    }
    return NULL;
}

void http_handle_page(struct http_request *request, struct http_reply *reply)
{
    const struct page_asset *asset = find_asset(request->path);

    if (asset == NULL) {
        http_reply_error(reply, MHD_HTTP_NOT_FOUND, NULL,
                         "not found: %s; see docs/api.md for the endpoints",
                         request->path);
        return;
    }

    http_reply_clear(reply);
    reply->status = MHD_HTTP_OK;
    reply->static_body = asset->data;
    reply->size = asset->size;
    reply->content_type = asset->content_type;
    http_reply_header(reply, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    http_reply_header(reply, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY,
                      "default-src 'self'; style-src 'self'; "
                      "script-src 'self'; connect-src 'self'");
    http_reply_header(reply, "Referrer-Policy", "no-referrer");
}
