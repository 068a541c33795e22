/*
 * Storage helper of the benchmarks, working through the store interface
 * the daemon uses.
 *
 *   bench_store fill DB PLATFORM WAITING DUE
 *       creates the database DB with WAITING entries due in one day and
 *       DUE entries due one second ago, all on PLATFORM, in
 *       transactions of 500 jobs
 *   bench_store claim DB COUNT BATCH [PLATFORM]
 *       claims COUNT due entries of PLATFORM (default "sink") in DB,
 *       BATCH per claim, and times it
 *   bench_store publish DB COUNT BATCH [PLATFORM]
 *       claims COUNT due entries as claim does and completes each claim
 *       as published in one call, the daemon's store work per batch
 *
 * Writes one line of JSON on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#include "util/banned.h"

#define SUBMIT_BATCH 500
#define DAY_MS 86400000

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct store *open_store(const char *path)
{
    char err[STORE_ERR_MAX];
    struct store *store;

    if (store_open(path, &store, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "bench_store: cannot open %s: %s\n", path, err);
        exit(1);
    }
    if (store_migrate(store) != STORE_OK) {
        fprintf(stderr, "bench_store: cannot migrate %s: %s\n", path,
                store_errmsg(store));
        exit(1);
    }
    return store;
}

/* Submits `count` jobs due at `due`, SUBMIT_BATCH per transaction, with
 * content ids PREFIX0, PREFIX1, ... */
static void submit_jobs(struct store *store, const char *platform,
                        const char *prefix, long count, int64_t due)
{
    const char *platforms[] = {platform};
    struct job_request reqs[SUBMIT_BATCH];
    struct submit_result results[SUBMIT_BATCH];
    char ids[SUBMIT_BATCH][32];

    for (long done = 0; done < count; done += SUBMIT_BATCH) {
        long n = count - done < SUBMIT_BATCH ? count - done : SUBMIT_BATCH;

        for (long i = 0; i < n; i++) {
            snprintf(ids[i], sizeof ids[i], "%s%ld", prefix, done + i);
            reqs[i] = (struct job_request){
                .content_id = ids[i],
                .content_json = "{\"text\":\"hello\"}",
                .scheduled_at = due,
                .platforms = platforms,
                .platform_count = 1,
                .max_retries = 3,
                .source = "bench",
            };
        }
        if (store->ops->submit_jobs(store, reqs, (size_t)n, wall_ms(),
                                    results) != STORE_OK) {
            fprintf(stderr, "bench_store: submit: %s\n",
                    store_errmsg(store));
            exit(1);
        }
    }
}

static void fill(const char *path, const char *platform, long waiting,
                 long due)
{
    struct store *store;
    double start = now_seconds();
    double elapsed;

    remove(path);
    store = open_store(path);
    submit_jobs(store, platform, "w", waiting, wall_ms() + DAY_MS);
    submit_jobs(store, platform, "d", due, wall_ms() - 1000);
    store_close(store);
    elapsed = now_seconds() - start;
    printf("{\"bench\":\"fill\",\"waiting\":%ld,\"due\":%ld,"
           "\"seconds\":%.3f,\"jobs_per_second\":%.0f}\n",
           waiting, due, elapsed, (double)(waiting + due) / elapsed);
}

static void claim(const char *path, const char *platform, long count,
                  long batch)
{
    const char *platforms[] = {platform};
    struct store *store = open_store(path);
    double start = now_seconds();
    double elapsed;
    long claimed = 0;
    long claims = 0;

    /* Bounded by count: each round claims at least one entry or stops. */
    while (claimed < count) {
        struct entry_list list = {0};
        size_t got;

        if (store->ops->claim_due(store, "bench", platforms, 1, wall_ms(),
                                  60000, (size_t)batch,
                                  &list) != STORE_OK) {
            fprintf(stderr, "bench_store: claim: %s\n",
                    store_errmsg(store));
            exit(1);
        }
        got = list.count;
        entry_list_free(&list);
        claimed += (long)got;
        claims++;
        if (got == 0)
            break;
    }
    elapsed = now_seconds() - start;
    store_close(store);

    printf("{\"bench\":\"claim\",\"claimed\":%ld,\"batch\":%ld,"
           "\"seconds\":%.3f,\"entries_per_second\":%.0f,"
           "\"ms_per_claim\":%.3f}\n",
           claimed, batch, elapsed, (double)claimed / elapsed,
           elapsed * 1000 / (double)claims);
}

/* Completes every entry of a claim as published, in one transaction. */
static void complete_all(struct store *store, const struct entry_list *list)
{
    struct attempt_completion *done = calloc(list->count + 1, sizeof *done);
    int *applied = calloc(list->count + 1, sizeof *applied);
    int64_t now = wall_ms();

    if (done == NULL || applied == NULL) {
        fprintf(stderr, "bench_store: out of memory\n");
        exit(1);
    }

    for (size_t i = 0; i < list->count; i++) {
        done[i] = (struct attempt_completion){
            .entry_id = list->items[i].id,
            .attempt_number = list->items[i].attempt_count,
            .node = "bench",
            .next_status = ENTRY_PUBLISHED,
            .retry_count = list->items[i].retry_count,
            .outcome = OUTCOME_SUCCESS,
            .http_status = 200,
            .ended_at = now,
            .latency_ms = 1,
            .post_id = "1",
        };
    }
    if (store->ops->complete_attempts(store, done, list->count, applied) !=
        STORE_OK) {
        fprintf(stderr, "bench_store: complete: %s\n", store_errmsg(store));
        exit(1);
    }
    free(done);
    free(applied);
}

static void publish(const char *path, const char *platform, long count,
                    long batch)
{
    const char *platforms[] = {platform};
    struct store *store = open_store(path);
    double start = now_seconds();
    double elapsed;
    long published = 0;

    /* Bounded by count: each round publishes at least one entry or stops. */
    while (published < count) {
        struct entry_list list = {0};
        size_t got;

        if (store->ops->claim_due(store, "bench", platforms, 1, wall_ms(),
                                  60000, (size_t)batch,
                                  &list) != STORE_OK) {
            fprintf(stderr, "bench_store: claim: %s\n",
                    store_errmsg(store));
            exit(1);
        }
        complete_all(store, &list);
        got = list.count;
        entry_list_free(&list);
        published += (long)got;
        if (got == 0)
            break;
    }
    elapsed = now_seconds() - start;
    store_close(store);

    printf("{\"bench\":\"publish\",\"published\":%ld,\"batch\":%ld,"
           "\"seconds\":%.3f,\"entries_per_second\":%.0f}\n",
           published, batch, elapsed, (double)published / elapsed);
}

static long parse_count(const char *text)
{
    char *end;
    long value = strtol(text, &end, 10);

    if (*text == '\0' || *end != '\0' || value < 0) {
        fprintf(stderr, "bench_store: invalid count \"%s\": use a whole "
                        "number from 0\n", text);
        exit(2);
    }
    return value;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_store fill DB PLATFORM WAITING DUE\n"
                    "       bench_store claim DB COUNT BATCH "
                    "[PLATFORM]\n"
                    "       bench_store publish DB COUNT BATCH "
                    "[PLATFORM]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "fill") == 0) {
        fill(argv[2], argv[3], parse_count(argv[4]), parse_count(argv[5]));
        return 0;
    }
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "claim") == 0) {
        long batch = parse_count(argv[4]);

        if (batch < 1)
            return usage();
        claim(argv[2], argc == 6 ? argv[5] : "sink", parse_count(argv[3]),
              batch);
        return 0;
    }
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "publish") == 0) {
        long batch = parse_count(argv[4]);

        if (batch < 1)
            return usage();
        publish(argv[2], argc == 6 ? argv[5] : "sink", parse_count(argv[3]),
                batch);
        return 0;
    }
    return usage();
}
