/*
 * Ceiling of libcurl for pubq's webhook requests: COUNT small JSON
 * POSTs to URL, INFLIGHT at once, on handles that keep their options
 * and a URL parsed once, as pubq's handle pool sets them. Under
 * callgrind or `strace -c -f` it shows what libcurl itself costs per
 * request, with either way of driving it:
 *
 *   curl_loop MODE URL INFLIGHT COUNT
 *
 * MODE is "poll" (curl_multi_poll, then curl_multi_perform, as the
 * engine runs) or "epoll" (epoll_wait, then curl_multi_socket_action
 * on each ready socket). URL must be on 127.0.0.1, localhost or [::1].
 * The program stops after COUNT responses or after a minute without
 * one. Built by hand, outside make, as bench/findings.md shows.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define IDLE_LIMIT_S 60

struct loop {
    CURLM *multi;
    CURLU *url;
    struct curl_slist *headers;
    int epoll_fd; /* -1 in poll mode */
    long timeout_ms;
    long started;
    long finished;
    long failed;
    long count;
};

static char request_body[] =
    "{\"entry_id\":1,\"content_id\":\"c1\",\"platform\":\"sink\","
    "\"attempt\":1,\"content\":{\"text\":\"hello 1\"}}";

static size_t discard(char *data, size_t size, size_t count, void *user)
{
    (void)data;
    (void)user;
    return size * count;
}

static int is_loopback(const char *url)
{
    static const char *const prefixes[] = {
        "http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:",
        "http://localhost/", "http://[::1]:",     "http://[::1]/",
    };

    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(url, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    }
    return 0;
}

static CURL *new_handle(struct loop *loop)
{
    CURL *easy = curl_easy_init();

    if (easy == NULL)
        return NULL;
    curl_easy_setopt(easy, CURLOPT_CURLU, loop->url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "pubq/0.1");
    return easy;
}

static void start_request(struct loop *loop, CURL *easy)
{
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE,
                     (long)(sizeof request_body - 1));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request_body);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, loop->headers);
    curl_multi_add_handle(loop->multi, easy);
    loop->started++;
}

/* Takes finished transfers off and starts the next request on each. */
static int reap(struct loop *loop)
{
    CURLMsg *message;
    int queued;
    int reaped = 0;

    while ((message = curl_multi_info_read(loop->multi, &queued))) {
        CURL *easy = message->easy_handle;

        if (message->msg != CURLMSG_DONE)
            continue;
        if (message->data.result != CURLE_OK)
            loop->failed++;
        curl_multi_remove_handle(loop->multi, easy);
        loop->finished++;
        reaped++;
        if (loop->started < loop->count)
            start_request(loop, easy);
        else
            curl_easy_cleanup(easy);
    }
    return reaped;
}

static int on_socket(CURL *easy, curl_socket_t socket, int what, void *user,
                     void *socket_data)
{
    struct loop *loop = user;
    struct epoll_event event = {.data.fd = socket};

    (void)easy;
    (void)socket_data;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, socket, NULL);
        return 0;
    }
    event.events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
                   (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, socket, &event) != 0)
        epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, socket, &event);
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *user)
{
    struct loop *loop = user;

    (void)multi;
    loop->timeout_ms = timeout_ms;
    return 0;
}

static void run_poll_step(struct loop *loop)
{
    int running = 0;

    curl_multi_poll(loop->multi, NULL, 0, 1000, NULL);
    curl_multi_perform(loop->multi, &running);
}

static void run_epoll_step(struct loop *loop)
{
    struct epoll_event events[512];
    int wait_ms = loop->timeout_ms < 0 || loop->timeout_ms > 1000
                      ? 1000
                      : (int)loop->timeout_ms;
    int ready = epoll_wait(loop->epoll_fd, events, 512, wait_ms);
    int running = 0;

    if (ready <= 0)
        curl_multi_socket_action(loop->multi, CURL_SOCKET_TIMEOUT, 0,
                                 &running);
    for (int i = 0; i < ready; i++) {
        uint32_t got = events[i].events;
        int mask = (got & EPOLLIN ? CURL_CSELECT_IN : 0) |
                   (got & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                   (got & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

        curl_multi_socket_action(loop->multi, events[i].data.fd, mask,
                                 &running);
    }
}

static int set_up(struct loop *loop, const char *mode, const char *url,
                  long inflight)
{
    loop->url = curl_url();
    if (loop->url == NULL ||
        curl_url_set(loop->url, CURLUPART_URL, url, 0) != CURLUE_OK)
        return -1;
    loop->headers =
        curl_slist_append(NULL, "Content-Type: application/json");
    loop->headers = curl_slist_append(
        loop->headers, "Idempotency-Key: sink:c1:0123456789abcdef");
    loop->multi = curl_multi_init();
    loop->epoll_fd = -1;
    loop->timeout_ms = -1;
    curl_multi_setopt(loop->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, inflight);
    if (strcmp(mode, "epoll") == 0) {
        loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (loop->epoll_fd < 0)
            return -1;
        curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
        curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
    } else if (strcmp(mode, "poll") != 0) {
        return -1;
    }
    for (long i = 0; i < inflight && loop->started < loop->count; i++) {
        CURL *easy = new_handle(loop);

        if (easy == NULL)
            return -1;
        start_request(loop, easy);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct loop loop = {0};
    time_t last_progress = time(NULL);

    if (argc != 5 || !is_loopback(argv[2]) || atol(argv[3]) <= 0 ||
        atol(argv[4]) <= 0) {
        fprintf(stderr, "usage: curl_loop poll|epoll URL INFLIGHT COUNT "
                        "(URL on 127.0.0.1, localhost or [::1])\n");
        return 2;
    }
    loop.count = atol(argv[4]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (set_up(&loop, argv[1], argv[2], atol(argv[3])) != 0) {
        fprintf(stderr, "curl_loop: set-up failed for mode %s\n", argv[1]);
        return 1;
    }

    while (loop.finished < loop.count &&
           time(NULL) - last_progress < IDLE_LIMIT_S) {
        if (loop.epoll_fd >= 0)
            run_epoll_step(&loop);
        else
            run_poll_step(&loop);
        if (reap(&loop) > 0)
            last_progress = time(NULL);
    }
    printf("%ld finished, %ld failed\n", loop.finished, loop.failed);
    return loop.finished == loop.count && loop.failed == 0 ? 0 : 1;
}
