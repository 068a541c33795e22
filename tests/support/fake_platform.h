/*
 * A scriptable fake HTTP platform for tests, served by libmicrohttpd on
 * 127.0.0.1 with a port the kernel picks. Tests queue canned responses
 * per path, run the code under test against fake_platform_url(), then
 * inspect every request it received.
 *
 *   struct fake_platform *fake = fake_platform_start();
 *   fake_platform_push_response(fake, "/hook", &(struct fake_response){
 *       .status = 429, .headers = "Retry-After: 120\n", .body = "{}"});
 *   ... requests to fake_platform_url(fake) + "/hook" ...
 *   assert_int_equal(fake_platform_requests_with_key(fake, "k1"), 1);
 *   fake_platform_stop(fake);
 *
 * Each connection runs on its own thread, so a delayed response does not
 * hold up others; every function here is thread-safe.
 */
#ifndef PUBQ_FAKE_PLATFORM_H
#define PUBQ_FAKE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* A canned response. Strings are copied when it is queued. */
struct fake_response {
    int status;          /* 0 means 200 */
    const char *headers; /* "Name: value" lines separated by \n, or NULL */
    const char *body;    /* NULL means empty */
    size_t body_len;     /* 0 means strlen(body) */
    int delay_ms;        /* delay before the response is sent */
    int drop;            /* after the delay, close the connection without
                            sending any response */
};

/* A name and value of a request header or query argument. */
struct fake_pair {
    char *name;
    char *value;
};

/* One request as the fake received it. */
struct fake_request {
    char *method;
    char *path; /* without the query string */
    struct fake_pair *headers;
    size_t header_count;
    struct fake_pair *query; /* decoded query arguments */
    size_t query_count;
    char *body; /* NUL-terminated; may contain other NULs */
    size_t body_len;
    int64_t received_at_ms; /* wall clock (CLOCK_REALTIME) when its
                               headers arrived, ms since the epoch */
};

struct fake_platform;

/*
 * Starts the server on 127.0.0.1 and a free port. The default response,
 * for paths with an empty queue, is 200 with body {}. Returns NULL (and
 * prints why on stderr) when the server cannot start.
 */
struct fake_platform *fake_platform_start(void);

/* Returns "http://127.0.0.1:PORT", valid until fake_platform_stop. */
const char *fake_platform_url(const struct fake_platform *fake);

unsigned short fake_platform_port(const struct fake_platform *fake);

/*
 * Queues a response for requests to `path`; queued responses are used
 * once each, in order. Returns 0, or -1 when out of memory.
 */
int fake_platform_push_response(struct fake_platform *fake, const char *path,
                                const struct fake_response *response);

/* Replaces the response used when a path's queue is empty. */
int fake_platform_set_default(struct fake_platform *fake,
                              const struct fake_response *response);

/* Returns how many requests arrived so far. */
size_t fake_platform_request_count(struct fake_platform *fake);

/*
 * Returns request number `index` (0 = first), or NULL past the end. The
 * request stays valid until fake_platform_stop.
 */
const struct fake_request *fake_platform_request(struct fake_platform *fake,
                                                 size_t index);

/* Returns how many requests carried "Idempotency-Key: key". */
size_t fake_platform_requests_with_key(struct fake_platform *fake,
                                       const char *key);

/* Returns how many distinct Idempotency-Key values arrived. */
size_t fake_platform_distinct_keys(struct fake_platform *fake);

/* Returns how many requests arrived for `path`. */
size_t fake_platform_requests_to(struct fake_platform *fake, const char *path);

/*
 * Waits until at least `count` requests have arrived or timeout_ms has
 * passed. Returns the number of requests received.
 */
size_t fake_platform_wait_requests(struct fake_platform *fake, size_t count,
                                   int timeout_ms);

/* Returns a request header's value (any case), or NULL. */
const char *fake_request_header(const struct fake_request *request,
                                const char *name);

/* Returns a query argument's value, or NULL. */
const char *fake_request_query(const struct fake_request *request,
                               const char *name);

/*
 * Stops the server, ending pending delays at once, and frees everything.
 * Accepts NULL.
 */
void fake_platform_stop(struct fake_platform *fake);

#endif
