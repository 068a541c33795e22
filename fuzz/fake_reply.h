/*
 * Runs a curl transfer against a canned server reply, with no network.
 * curl connects to a Unix socket that this process listens on, in place
 * of the URL's host. Just before curl sends the request, the accepted
 * end receives the reply bytes followed by end of file. The request
 * itself is discarded. Everything after the connection, from curl's HTTP
 * parser through the exchange's header and body callbacks to the
 * adapter, runs as in production.
 */
#ifndef PUBQ_FAKE_REPLY_H
#define PUBQ_FAKE_REPLY_H

#include <curl/curl.h>
#include <stddef.h>

/* Replies are cut to this size, so a reply always fits in the socket
 * buffer (about 200 KiB on Linux) before curl starts reading. */
#define FAKE_REPLY_MAX (64 * 1024)

/*
 * Performs the transfer of `easy` with `reply` (raw HTTP/1.x bytes, cut
 * to FAKE_REPLY_MAX) as the server's reply. Sets the Unix socket path,
 * a 2 s timeout and no connection reuse on the handle. Returns curl's
 * result.
 */
CURLcode fake_reply_perform(CURL *easy, const char *reply, size_t len);

#endif
