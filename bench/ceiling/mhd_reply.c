/*
 * Ceiling of the HTTP layer: a libmicrohttpd server that reads each
 * request body and replies 202 at once, storing nothing, so that wrk
 * against it shows what libmicrohttpd can serve on this machine at all.
 *
 *   mhd_reply PORT MODE SECONDS
 *
 * MODE is "thread" (a thread per connection and an internal polling
 * thread, as pubq serve runs it) or "epoll" (one internal epoll
 * thread). The server listens on 127.0.0.1 only and stops by itself
 * after SECONDS. Built by hand, outside make, as bench/findings.md
 * shows.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char reply_body[] = "{\"events\":[]}";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **state)
{
    static int started;
    struct MHD_Response *response;
    enum MHD_Result result;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*state == NULL) {
        *state = &started;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }

    response = MHD_create_response_from_buffer(
        sizeof reply_body - 1, reply_body, MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    result = MHD_queue_response(connection, MHD_HTTP_ACCEPTED, response);
    MHD_destroy_response(response);
    return result;
}

int main(int argc, char **argv)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    struct MHD_Daemon *daemon;
    unsigned int flags;
    long port;
    long seconds;

    if (argc != 4 ||
        (strcmp(argv[2], "thread") != 0 && strcmp(argv[2], "epoll") != 0)) {
        fprintf(stderr, "usage: mhd_reply PORT thread|epoll SECONDS\n");
        return 2;
    }
    port = strtol(argv[1], NULL, 10);
    seconds = strtol(argv[3], NULL, 10);
    if (port <= 0 || port > 65535 || seconds <= 0) {
        fprintf(stderr,
                "mhd_reply: invalid port \"%s\" or duration \"%s\"; use "
                "a port from 1 to 65535 and a positive number of seconds\n",
                argv[1], argv[3]);
        return 2;
    }

    flags = strcmp(argv[2], "epoll") == 0 ? MHD_USE_EPOLL_INTERNAL_THREAD
                                          : MHD_USE_THREAD_PER_CONNECTION |
                                                MHD_USE_INTERNAL_POLLING_THREAD;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon =
        MHD_start_daemon(flags | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
                         on_request, NULL, MHD_OPTION_SOCK_ADDR, &address,
                         MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "mhd_reply: cannot start on port %ld\n", port);
        return 1;
    }
    sleep((unsigned int)seconds);
    MHD_stop_daemon(daemon);
    return 0;
}
