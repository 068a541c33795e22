/*
 * Fuzzes every server wait hint: Retry-After, the three HTTP-date forms
 * and each rate-limit header and body form. A hint that is accepted must
 * be a wait of zero or more milliseconds. A rejected one must leave the
 * output unchanged and fill the error message.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_date.h"
#include "core/rate_limit_hint.h"
#include "fuzz_support.h"

#include "util/banned.h"

#define UNTOUCHED INT64_C(-7777777)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Checks the result of one parser that fills a delay and an error. */
static void check_delay(const char *parser, const char *text, int status,
                        int64_t delay_ms, const char *err)
{
    if (status == 0 && delay_ms < 0)
        fuzz_fail("%s(\"%s\") returned a negative delay %lld", parser, text,
                  (long long)delay_ms);
    if (status != 0 && (delay_ms != UNTOUCHED || err[0] == '\0'))
        fuzz_fail("%s(\"%s\") failed but changed its output or gave no "
                  "message",
                  parser, text);
}

static void check_header_forms(const char *text, int64_t now_ms)
{
    char err[256];
    int64_t delay;
    int status;

    err[0] = '\0';
    delay = UNTOUCHED;
    status = retry_after_parse(text, now_ms, &delay, err, sizeof err);
    check_delay("retry_after_parse", text, status, delay, err);

    err[0] = '\0';
    delay = UNTOUCHED;
    status =
        rate_limit_parse_epoch_seconds(text, now_ms, &delay, err, sizeof err);
    check_delay("rate_limit_parse_epoch_seconds", text, status, delay, err);

    err[0] = '\0';
    delay = UNTOUCHED;
    status = rate_limit_parse_float_seconds(text, &delay, err, sizeof err);
    check_delay("rate_limit_parse_float_seconds", text, status, delay, err);

    err[0] = '\0';
    delay = UNTOUCHED;
    status = rate_limit_parse_iso8601(text, now_ms, &delay, err, sizeof err);
    check_delay("rate_limit_parse_iso8601", text, status, delay, err);
}

static void check_http_date(const char *text)
{
    int64_t seconds = UNTOUCHED;

    if (http_date_parse(text, &seconds) != 0 && seconds != UNTOUCHED)
        fuzz_fail("http_date_parse(\"%s\") failed but changed its output",
                  text);
    seconds = UNTOUCHED;
    if (http_date_parse_at(text, FUZZ_NOW_MS / 1000, &seconds) != 0 &&
        seconds != UNTOUCHED)
        fuzz_fail("http_date_parse_at(\"%s\") failed but changed its "
                  "output",
                  text);
}

/* A JSON retry_after number arrives as a double: try the raw bytes as
 * one, and the text as a number. */
static void check_double(const uint8_t *data, size_t size, const char *text)
{
    double values[2] = {0.0, strtod(text, NULL)};
    char err[256];

    if (size >= sizeof values[0])
        memcpy(&values[0], data, sizeof values[0]);
    for (size_t i = 0; i < 2; i++) {
        int64_t delay = UNTOUCHED;
        int status;

        err[0] = '\0';
        status = rate_limit_from_seconds(values[i], &delay, err, sizeof err);
        if (status == 0 && (delay < 0 || isnan(values[i])))
            fuzz_fail("rate_limit_from_seconds(%g) accepted a bad value "
                      "as %lld ms",
                      values[i], (long long)delay);
        if (status != 0 && (delay != UNTOUCHED || err[0] == '\0'))
            fuzz_fail("rate_limit_from_seconds(%g) failed but changed its "
                      "output or gave no message",
                      values[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);

    check_header_forms(text, FUZZ_NOW_MS);
    check_header_forms(text, 0);
    check_http_date(text);
    check_double(data, size, text);
    free(text);
    return 0;
}
