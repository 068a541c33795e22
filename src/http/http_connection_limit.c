/*
 * The [server] max_connections limit. libmicrohttpd 0.9.75 enforces its
 * own MHD_OPTION_CONNECTION_LIMIT by no longer polling the listening
 * socket once the limit is reached, so a connection over it waits in the
 * kernel's backlog until a slot frees, possibly idle_timeout later. To
 * close such a connection at once instead, pubq counts its connections
 * itself and rejects the one over the limit in the accept policy
 * callback, which makes libmicrohttpd close the socket it just accepted.
 * libmicrohttpd's own limit is set above pubq's (http_server.c) so that
 * it keeps accepting.
 */
#include "http/http_internal.h"

/*
 * Both callbacks for a new connection run on libmicrohttpd's listening
 * thread, the accept policy first, so two connections are never let in
 * on the same free slot. Closed connections are counted down on their
 * own threads, which can only make the count smaller.
 */
enum MHD_Result http_connection_accept(void *cls, const struct sockaddr *addr,
                                       socklen_t addrlen)
{
    struct http_server *server = cls;
    unsigned int open =
        __atomic_load_n(&server->open_connections, __ATOMIC_ACQUIRE);

    (void)addr;
    (void)addrlen;
    return open < server->connection_limit ? MHD_YES : MHD_NO;
}

void http_connection_notify(void *cls, struct MHD_Connection *connection,
                            void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
    struct http_server *server = cls;

    (void)connection;
    (void)socket_context;
    /* NOTE: when libmicrohttpd fails to start a connection's thread
     * after STARTED, this relies on it still sending CLOSED; a missed
     * one would keep a slot taken until the server restarts. */
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        __atomic_add_fetch(&server->open_connections, 1, __ATOMIC_ACQ_REL);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        __atomic_sub_fetch(&server->open_connections, 1, __ATOMIC_ACQ_REL);
}
