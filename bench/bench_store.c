/*
 * Storage benchmark: how fast the store accepts jobs (one per transaction
 * and in batches) and claims due entries, and whether the claim slows
 * down as entries that are not yet due pile up.
 *
 *   bench_store DIR JOBS WAITING
 *
 * Writes one line of JSON per measurement on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#include "util/banned.h"

#define BATCH_SIZE 500
#define CLAIM_BATCH 64

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

static struct store *open_fresh(const char *dir, const char *name)
{
    char path[1024];
    char err[STORE_ERR_MAX];
    struct store *store;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
    if (store_open(path, &store, err, sizeof err) != STORE_OK ||
        store_migrate(store) != STORE_OK) {
        fprintf(stderr, "bench_store: cannot open %s: %s\n", path, err);
        exit(1);
    }
    return store;
}

/* Submits `count` jobs due at `due`, `batch` per transaction. */
static void submit_jobs(struct store *store, long count, long batch,
                        int64_t due)
{
    static const char *const platforms[] = {"sink"};
    struct job_request reqs[BATCH_SIZE];
    struct submit_result results[BATCH_SIZE];
    char ids[BATCH_SIZE][32];

    for (long done = 0; done < count; done += batch) {
        long n = count - done < batch ? count - done : batch;

        for (long i = 0; i < n; i++) {
            snprintf(ids[i], sizeof ids[i], "c%ld", done + i);
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

static void bench_submit(const char *dir, long jobs, long batch)
{
    struct store *store = open_fresh(dir, "submit.db");
    double start = now_seconds();
    double elapsed;

    submit_jobs(store, jobs, batch, wall_ms());
    elapsed = now_seconds() - start;
    printf("{\"bench\":\"submit\",\"batch\":%ld,\"jobs\":%ld,"
           "\"seconds\":%.3f,\"jobs_per_second\":%.0f}\n",
           batch, jobs, elapsed, (double)jobs / elapsed);
    store_close(store);
}

/* Claims `due` entries in batches while `waiting` entries are not due. */
static void bench_claim(const char *dir, long due, long waiting)
{
    struct store *store = open_fresh(dir, "claim.db");
    int64_t future = wall_ms() + 86400000;
    double start;
    double elapsed;
    long claimed = 0;
    long claims = 0;

    submit_jobs(store, waiting, BATCH_SIZE, future);
    submit_jobs(store, due, BATCH_SIZE, wall_ms() - 1000);

    start = now_seconds();
    for (;;) {
        struct entry_list list = {0};

        if (store->ops->claim_due(store, "bench", wall_ms(), 60000,
                                  CLAIM_BATCH, &list) != STORE_OK) {
            fprintf(stderr, "bench_store: claim: %s\n",
                    store_errmsg(store));
            exit(1);
        }
        claimed += (long)list.count;
        claims++;
        entry_list_free(&list);
        if (claimed >= due)
            break;
    }
    elapsed = now_seconds() - start;

    printf("{\"bench\":\"claim\",\"waiting\":%ld,\"claimed\":%ld,"
           "\"seconds\":%.3f,\"entries_per_second\":%.0f,"
           "\"ms_per_claim\":%.3f}\n",
           waiting, claimed, elapsed, (double)claimed / elapsed,
           elapsed * 1000 / (double)claims);
    store_close(store);
}

static long parse_count(const char *text)
{
    char *end;
    long value = strtol(text, &end, 10);

    if (*text == '\0' || *end != '\0' || value < 0) {
        fprintf(stderr, "bench_store: invalid count \"%s\"\n", text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv)
{
    long jobs;
    long waiting;

    if (argc != 4) {
        fprintf(stderr, "usage: bench_store DIR JOBS WAITING\n");
        return 2;
    }
    jobs = parse_count(argv[2]);
    waiting = parse_count(argv[3]);

    bench_submit(argv[1], jobs / 10, 1);
    bench_submit(argv[1], jobs, BATCH_SIZE);
    bench_claim(argv[1], jobs, waiting);
    return 0;
}
