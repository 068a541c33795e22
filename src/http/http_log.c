/*
 * libmicrohttpd's own messages. Most are about one connection (a
 * request cut short, a header value it rejects), so a client that opens
 * hundreds of connections would flood the log. At most one warning a
 * second is written, and the next one counts what was dropped. A client
 * that hangs up, as a browser does when it leaves the page and closes
 * its event stream, is routine and logged at debug level.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/http_internal.h"
#include "util/log.h"

#include "util/banned.h"

#define HTTP_LOG_INTERVAL_MS 1000

static int64_t monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * Returns 1 when a line may be written now and sets *dropped to the
 * messages suppressed since the last line; returns 0 to suppress.
 */
static int take_slot(struct http_server *server, size_t *dropped)
{
    int64_t now = monotonic_ms();
    int64_t last = __atomic_load_n(&server->log_last_ms, __ATOMIC_ACQUIRE);

    /* Of threads logging at once, the one whose exchange succeeds writes. */
    if ((last == 0 || now - last >= HTTP_LOG_INTERVAL_MS) &&
        __atomic_compare_exchange_n(&server->log_last_ms, &last, now, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        *dropped =
            __atomic_exchange_n(&server->log_suppressed, 0, __ATOMIC_ACQ_REL);
        return 1;
    }
    __atomic_add_fetch(&server->log_suppressed, 1, __ATOMIC_ACQ_REL);
    return 0;
}

/*
 * Returns 1 for a message that only reports that the client closed its
 * side. The texts are those of libmicrohttpd 0.9.75 and of strerror.
 */
static int is_client_gone(const char *message)
{
    static const char *const texts[] = {
        "socket is no longer available", "forcibly closed by remote peer",
        "Connection reset by peer", "Broken pipe"};

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (strstr(message, texts[i]) != NULL)
            return 1;
    }
    return 0;
}

void http_log_mhd(void *cls, const char *fmt, va_list args)
{
    struct http_server *server = cls;
    char message[512];
    size_t dropped = 0;

    vsnprintf(message, sizeof message, fmt, args);
    message[strcspn(message, "\n")] = '\0';
    if (is_client_gone(message)) {
        log_debug("http", "libmicrohttpd: %s", message);
        return;
    }

    if (!log_enabled(LOG_WARN) || !take_slot(server, &dropped))
        return;
    if (dropped > 0)
        log_warn("http",
                 "libmicrohttpd: %s (%zu earlier messages suppressed)",
                 message, dropped);
    else
        log_warn("http", "libmicrohttpd: %s", message);
}

void http_log_flush(struct http_server *server)
{
    size_t dropped =
        __atomic_exchange_n(&server->log_suppressed, 0, __ATOMIC_ACQ_REL);

    if (dropped > 0)
        log_warn("http", "libmicrohttpd: %zu more messages suppressed",
                 dropped);
}
