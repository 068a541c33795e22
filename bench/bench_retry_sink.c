/*
 * Retry-storm sink for the benchmarks: an HTTP server on 127.0.0.1 that
 * replies 503 to the first POST of each Idempotency-Key and 200
 * {"id":"1"} to every later one, and counts requests per wall-clock
 * second.
 *
 *   bench_retry_sink PORT
 *
 * GET /stats returns {"keys":K,"seconds":[[UNIX_SECOND,REQUESTS,503S],
 * ...]} for every second that saw a request. SIGTERM or SIGINT stops it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/banned.h"

/* Keys held by the POSIX hash table; hsearch cannot grow its table. */
#define SINK_MAX_KEYS 200000
#define SINK_MAX_SECONDS 3600

struct second_count {
    long second;
    long requests;
    long unavailable;
};

static struct second_count seconds[SINK_MAX_SECONDS];
static size_t second_count_used;
static long key_count;
static volatile sig_atomic_t stop_requested;

static void on_stop(int signo)
{
    (void)signo;
    stop_requested = 1;
}

/* The daemon runs one polling thread, so the counters need no lock. */
static void count_request(int unavailable)
{
    long now = (long)time(NULL);
    struct second_count *last = NULL;

    if (second_count_used > 0)
        last = &seconds[second_count_used - 1];
    if (last == NULL || last->second != now) {
        if (second_count_used == SINK_MAX_SECONDS)
            return;
        last = &seconds[second_count_used++];
        last->second = now;
    }
    last->requests++;
    last->unavailable += unavailable;
}

/* Returns 1 when key was seen before, 0 when it is new (and stores it),
 * -1 when the table is full or out of memory. */
static int key_seen(const char *key)
{
    ENTRY item = {.key = (char *)key, .data = NULL};
    ENTRY *found = hsearch(item, FIND);

    if (found != NULL)
        return 1;
    if (key_count >= SINK_MAX_KEYS)
        return -1;
    item.key = strdup(key);
    if (item.key == NULL || hsearch(item, ENTER) == NULL)
        return -1;
    key_count++;
    return 0;
}

static enum MHD_Result reply(struct MHD_Connection *connection,
                             unsigned int status, const char *body)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result result;

    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, "Content-Type", "application/json");
    result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result reply_stats(struct MHD_Connection *connection)
{
    size_t size = 64 + second_count_used * 64;
    char *body = malloc(size);
    size_t used;
    enum MHD_Result result;

    if (body == NULL)
        return MHD_NO;
    used = (size_t)snprintf(body, size, "{\"keys\":%ld,\"seconds\":[",
                            key_count);
    for (size_t i = 0; i < second_count_used; i++)
        used += (size_t)snprintf(body + used, size - used,
                                 "%s[%ld,%ld,%ld]", i ? "," : "",
                                 seconds[i].second, seconds[i].requests,
                                 seconds[i].unavailable);
    snprintf(body + used, size - used, "]}");
    result = reply(connection, MHD_HTTP_OK, body);
    free(body);
    return result;
}

static enum MHD_Result reply_post(struct MHD_Connection *connection)
{
    const char *key = MHD_lookup_connection_value(
        connection, MHD_HEADER_KIND, "Idempotency-Key");
    int seen;

    if (key == NULL) {
        count_request(0);
        return reply(connection, MHD_HTTP_BAD_REQUEST,
                     "{\"error\":\"missing Idempotency-Key\"}");
    }
    seen = key_seen(key);
    if (seen < 0)
        return reply(connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
                     "{\"error\":\"key table full\"}");
    count_request(!seen);
    if (!seen)
        return reply(connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                     "{\"error\":\"try again\"}");
    return reply(connection, MHD_HTTP_OK, "{\"id\":\"1\"}");
}

/* libmicrohttpd calls this once with the headers, then once per piece
 * of the body, then once more with no data: reply on the last call. */
static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *connection,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **state)
{
    static int started;

    (void)cls;
    (void)version;
    (void)upload_data;
    if (*state == NULL) {
        *state = &started;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/stats") == 0)
        return reply_stats(connection);
    if (strcmp(method, "POST") == 0)
        return reply_post(connection);
    return reply(connection, MHD_HTTP_NOT_FOUND,
                 "{\"error\":\"POST anything, or GET /stats\"}");
}

static int parse_port(const char *text)
{
    char *end;
    long port;

    errno = 0;
    port = strtol(text, &end, 10);
    if (errno != 0 || *text == '\0' || *end != '\0' || port < 1 ||
        port > 65535)
        return -1;
    return (int)port;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *daemon;
    struct sockaddr_in address = {.sin_family = AF_INET};
    int port;

    if (argc != 2 || (port = parse_port(argv[1])) < 0) {
        fprintf(stderr, "usage: bench_retry_sink PORT (1 to 65535)\n");
        return 2;
    }
    if (hcreate(SINK_MAX_KEYS * 2) == 0) {
        fprintf(stderr, "bench_retry_sink: cannot allocate key table\n");
        return 1;
    }
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /*
     * poll(), not epoll. With MHD_USE_EPOLL (libmicrohttpd 0.9.75) the
     * first burst of 256 requests went unanswered until pubq's 10 s
     * timeout in four of five retry-storm runs, so 256 or more of 10,000
     * entries failed as "outcome unknown". With poll() three runs of
     * three published every entry. The cause inside libmicrohttpd was
     * not traced.
     */
    daemon = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD, (uint16_t)port,
        NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &address,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "bench_retry_sink: cannot listen on "
                        "127.0.0.1:%d\n", port);
        return 1;
    }
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    while (!stop_requested)
        pause();
    MHD_stop_daemon(daemon);
    return 0;
}
