/*
 * The daemon's HTTP server: the event intake, the JSON API, the
 * publishing page, /healthz, /metrics and the live event stream, served
 * with libmicrohttpd. docs/api.md documents every endpoint.
 *
 *   struct http_server_hooks hooks = {engine_wake_hook, engine, node_id};
 *   struct http_server *server =
 *       http_server_start(&config, &hooks, err, sizeof err);
 *   ... until shutdown ...
 *   http_server_stop(server);
 */
#ifndef PUBQ_HTTP_SERVER_H
#define PUBQ_HTTP_SERVER_H

#include <stddef.h>

#include "config/config.h"

#define HTTP_SERVER_ERR_MAX 512

/* Calls from the server into the rest of the daemon. */
struct http_server_hooks {
    /* Called after new or moved work was stored; may be NULL. */
    void (*wake)(void *arg);
    void *arg;
    /* This node's id, for the logs; may be NULL. */
    const char *node_id;
};

struct http_server;

/*
 * Checks what http_server_start would reject in `config` (the listen
 * address, a port in use, a non-loopback address without a token, an
 * unset token variable) without opening the database: the port is
 * bound and released at once. Returns 0, or -1 with a message in err.
 */
int http_server_check(const struct pubq_config *config, char *err,
                      size_t errlen);

/*
 * Starts serving config->listen ("127.0.0.1:8080", "[::1]:8080",
 * "0.0.0.0:80"; port 0 picks a free port, see http_server_port).
 * Rejects an address other than 127.0.0.0/8 and ::1 unless an API token
 * is configured: config->api_token_env names the variable, and fails
 * when that variable is unset or empty. On a loopback address only
 * loopback names and config->allowed_hosts are accepted in the Host
 * header. Opens its own store handles on
 * config->database, so the database must already be migrated. `config`
 * and `hooks` are borrowed and must outlive the server. Returns the
 * server, or NULL with a message in err.
 */
struct http_server *http_server_start(const struct pubq_config *config,
                                      const struct http_server_hooks *hooks,
                                      char *err, size_t errlen);

/* Returns the TCP port the server listens on. */
int http_server_port(const struct http_server *server);

/*
 * Ends open event streams, stops accepting, waits for requests in
 * progress and frees the server. NULL is allowed.
 */
void http_server_stop(struct http_server *server);

#endif
