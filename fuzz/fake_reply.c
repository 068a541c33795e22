#include "fake_reply.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_support.h"

#include "util/banned.h"

#define FAKE_REPLY_TIMEOUT_MS 2000L

/* The reply of one transfer and the server end of its connection. */
struct fake_transfer {
    const char *reply;
    size_t len;
    int server_fd;
};

static int listener = -1;
static const char *listener_path;

static void listen_once(void)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};

    if (listener >= 0)
        return;
    listener_path = fuzz_temp_path("reply.sock");
    if (strlen(listener_path) >= sizeof address.sun_path)
        fuzz_fail("socket path %s is too long; set a shorter TMPDIR",
                  listener_path);
    memcpy(address.sun_path, listener_path, strlen(listener_path) + 1);

    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listener < 0 ||
        bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(listener, 16) != 0)
        fuzz_fail("cannot listen on %s", listener_path);
}

/* Writes what fits without blocking, then signals end of file. */
static void write_reply(int fd, const char *reply, size_t len)
{
    size_t done = 0;

    if (len > FAKE_REPLY_MAX)
        len = FAKE_REPLY_MAX;
    while (done < len) {
        ssize_t written = write(fd, reply + done, len - done);

        if (written <= 0)
            break;
        done += (size_t)written;
    }
    shutdown(fd, SHUT_WR);
}

/*
 * curl calls this once connected, right before it sends the request.
 * Connections that an earlier, aborted transfer left in the backlog come
 * first, so the newest one is curl's.
 */
static int on_connected(void *data, char *primary_ip, char *local_ip,
                        int primary_port, int local_port)
{
    struct fake_transfer *transfer = data;
    int fd;

    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    if (transfer->server_fd >= 0)
        return CURL_PREREQFUNC_OK;
    while ((fd = accept(listener, NULL, NULL)) >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        if (transfer->server_fd >= 0)
            close(transfer->server_fd);
        transfer->server_fd = fd;
    }
    if (transfer->server_fd < 0)
        return CURL_PREREQFUNC_ABORT;
    write_reply(transfer->server_fd, transfer->reply, transfer->len);
    return CURL_PREREQFUNC_OK;
}

static int set_options(CURL *easy, struct fake_transfer *transfer)
{
    int failed = 0;

    failed |= curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, listener_path) !=
              CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_connected) !=
              CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_PREREQDATA, transfer) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
    failed |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                               FAKE_REPLY_TIMEOUT_MS) != CURLE_OK;
    return failed ? -1 : 0;
}

CURLcode fake_reply_perform(CURL *easy, const char *reply, size_t len)
{
    struct fake_transfer transfer = {reply, len, -1};
    CURLcode code;

    listen_once();
    if (set_options(easy, &transfer) != 0)
        return CURLE_FAILED_INIT;
    code = curl_easy_perform(easy);

    /* The handle may outlive this call: leave no pointer to the stack. */
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, NULL);
    if (transfer.server_fd >= 0)
        close(transfer.server_fd);
    return code;
}
