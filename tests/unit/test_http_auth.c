/*
 * The API token comparison: right answers for equal, different and
 * differently long tokens, and a running time that does not depend on
 * where the first difference is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_internal.h"

/* Long enough that an early-exit comparison is measurably faster when
 * the first byte differs than when the last one does. */
#define TIMING_BYTES (4 * 1024 * 1024)
#define TIMING_ROUNDS 41

static void token_equal(void **state)
{
    (void)state;
    assert_int_equal(http_auth_token_equals("s3cret", 6, "s3cret"), 1);
}

static void token_differs_first_byte(void **state)
{
    (void)state;
    assert_int_equal(http_auth_token_equals("x3cret", 6, "s3cret"), 0);
}

static void token_differs_last_byte(void **state)
{
    (void)state;
    assert_int_equal(http_auth_token_equals("s3crex", 6, "s3cret"), 0);
}

static void token_prefix_rejected(void **state)
{
    (void)state;
    assert_int_equal(http_auth_token_equals("s3cre", 5, "s3cret"), 0);
    assert_int_equal(http_auth_token_equals("s3cret!", 7, "s3cret"), 0);
    assert_int_equal(http_auth_token_equals("", 0, "s3cret"), 0);
}

/* The length given is compared, not a NUL inside the bytes. */
static void token_embedded_nul_rejected(void **state)
{
    (void)state;
    assert_int_equal(http_auth_token_equals("s3c\0et", 6, "s3cret"), 0);
}

static int64_t elapsed_ns(const char *given, const char *token, size_t length)
{
    struct timespec start;
    struct timespec end;

    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(http_auth_token_equals(given, length, token), 0);
    clock_gettime(CLOCK_MONOTONIC, &end);
    return (int64_t)(end.tv_sec - start.tv_sec) * 1000000000 +
           (end.tv_nsec - start.tv_nsec);
}

static int compare_ns(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/*
 * Medians of interleaved runs, so that a busy machine slows both cases
 * alike. memcmp stops at the first difference: there the early case
 * takes well under a hundredth of the late one.
 */
static void token_time_independent_of_position(void **state)
{
    char *token = malloc(TIMING_BYTES + 1);
    char *early = malloc(TIMING_BYTES + 1);
    char *late = malloc(TIMING_BYTES + 1);
    int64_t early_ns[TIMING_ROUNDS];
    int64_t late_ns[TIMING_ROUNDS];
    double ratio;

    (void)state;
    assert_non_null(token);
    assert_non_null(early);
    assert_non_null(late);
    memset(token, 'a', TIMING_BYTES);
    token[TIMING_BYTES] = '\0';
    memcpy(early, token, TIMING_BYTES + 1);
    memcpy(late, token, TIMING_BYTES + 1);
    early[0] = 'b';
    late[TIMING_BYTES - 1] = 'b';

    for (int i = 0; i < TIMING_ROUNDS; i++) {
        early_ns[i] = elapsed_ns(early, token, TIMING_BYTES);
        late_ns[i] = elapsed_ns(late, token, TIMING_BYTES);
    }
    qsort(early_ns, TIMING_ROUNDS, sizeof early_ns[0], compare_ns);
    qsort(late_ns, TIMING_ROUNDS, sizeof late_ns[0], compare_ns);

    ratio = (double)early_ns[TIMING_ROUNDS / 2] /
            (double)late_ns[TIMING_ROUNDS / 2];
    print_message("median early/late time ratio %.3f\n", ratio);
    assert_true(ratio > 0.5);
    assert_true(ratio < 2.0);

    free(token);
    free(early);
    free(late);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_equal),
        cmocka_unit_test(token_differs_first_byte),
        cmocka_unit_test(token_differs_last_byte),
        cmocka_unit_test(token_prefix_rejected),
        cmocka_unit_test(token_embedded_nul_rejected),
        cmocka_unit_test(token_time_independent_of_position),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
