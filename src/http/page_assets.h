/*
 * The publishing page's files (src/http/page/), compiled into the
 * binary by cmake/embed_assets.cmake so the daemon serves them with no
 * file on disk and no network.
 */
#ifndef PUBQ_PAGE_ASSETS_H
#define PUBQ_PAGE_ASSETS_H

#include <stddef.h>

struct page_asset {
    const char *path;         /* "/index.html" */
    const char *content_type; /* "text/html; charset=utf-8" */
    const unsigned char *data;
    size_t size;
};

/* Every asset, ended by an entry whose path is NULL. */
extern const struct page_asset page_assets[];

#endif
